/*
 * topology.c - declaring the exchanges and a service's queues, from
 * tables. Declarations run on a channel of their own (BUS_CH_DECLARE):
 * a refusal closes it, and nothing that carries state dies with it.
 */
#include <stdio.h>
#include <string.h>

#include "bus/conn_internal.h"
#include "core/err.h"
#include "core/log.h"

#define TOPO_DELIVERY_LIMIT 5
#define TOPO_NAME_MAX 256
#define TOPO_ARGS_MAX 6

struct exchange_spec {
    const char *name;
    const char *type;
};

static const struct exchange_spec topo_exchanges[] = {
    { GAU_EXCHANGE_COMMANDS, "topic" },
    { GAU_EXCHANGE_EVENTS, "topic" },
    { GAU_EXCHANGE_DEAD, "direct" },
};

enum dead_letter {
    DL_NONE,  /* nothing is dead-lettered */
    DL_DEAD,  /* to gau.dead with routing key <service> */
    DL_RETRY  /* expired messages go back to <service>.commands */
};

/*
 * One queue of a service: its name is "<service>.<suffix>", and when
 * exchange is set it is bound there with "<service><key_suffix>".
 */
struct queue_spec {
    const char *suffix;
    const char *exchange;
    const char *key_suffix;
    enum dead_letter dl;
    int ttl_ms;
};

static const struct queue_spec topo_queues[] = {
    { "commands", GAU_EXCHANGE_COMMANDS, ".*", DL_DEAD, 0 },
    { "projector", GAU_EXCHANGE_EVENTS, ".#", DL_DEAD, 0 },
    { "dead", GAU_EXCHANGE_DEAD, "", DL_NONE, 0 },
    { "retry.1", NULL, NULL, DL_RETRY, 1000 },
    { "retry.2", NULL, NULL, DL_RETRY, 5000 },
    { "retry.3", NULL, NULL, DL_RETRY, 25000 },
};

_Static_assert(sizeof(topo_queues) / sizeof(topo_queues[0]) ==
                   3 + GAU_BUS_RETRY_LEVELS,
               "one retry queue per retry level");

struct args {
    amqp_table_entry_t e[TOPO_ARGS_MAX];
    amqp_table_t t;
    char dl_key[TOPO_NAME_MAX];
};

static void arg_str(struct args *a, const char *key, const char *value)
{
    amqp_table_entry_t *e = &a->e[a->t.num_entries++];

    e->key = amqp_cstring_bytes(key);
    e->value.kind = AMQP_FIELD_KIND_UTF8;
    e->value.value.bytes = amqp_cstring_bytes(value);
}

static void arg_int(struct args *a, const char *key, int64_t value)
{
    amqp_table_entry_t *e = &a->e[a->t.num_entries++];

    e->key = amqp_cstring_bytes(key);
    e->value.kind = AMQP_FIELD_KIND_I64;
    e->value.value.i64 = value;
}

static void queue_args(struct args *a, const struct queue_spec *q,
                       const char *service)
{
    a->t.entries = a->e;
    a->t.num_entries = 0;
    arg_str(a, "x-queue-type", "quorum");

    if (q->dl == DL_DEAD) {
        /* TODO: what the broker dead-letters past the delivery limit
         * keeps its body, secrets included (no actor sees it to redact);
         * the dead queues' policy bounds how long it stays. */
        arg_int(a, "x-delivery-limit", TOPO_DELIVERY_LIMIT);
        arg_str(a, "x-dead-letter-exchange", GAU_EXCHANGE_DEAD);
        arg_str(a, "x-dead-letter-routing-key", service);
    } else if (q->dl == DL_RETRY) {
        snprintf(a->dl_key, sizeof(a->dl_key), "%s.commands", service);
        arg_int(a, "x-message-ttl", q->ttl_ms);
        arg_str(a, "x-dead-letter-exchange", "");
        arg_str(a, "x-dead-letter-routing-key", a->dl_key);
    }
}

static int declare_exchange(struct bus_conn *c, const struct exchange_spec *x)
{
    amqp_exchange_declare(c->amqp, BUS_CH_DECLARE, amqp_cstring_bytes(x->name),
                          amqp_cstring_bytes(x->type), 0, 1, 0, 0,
                          amqp_empty_table);
    return bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_DECLARE,
                         "declare exchange", x->name);
}

static int declare_queue(struct bus_conn *c, const struct queue_spec *q,
                         const char *service)
{
    char name[TOPO_NAME_MAX], key[TOPO_NAME_MAX];
    struct args a;
    int rc;

    snprintf(name, sizeof(name), "%s.%s", service, q->suffix);
    queue_args(&a, q, service);
    amqp_queue_declare(c->amqp, BUS_CH_DECLARE, amqp_cstring_bytes(name), 0, 1,
                       0, 0, a.t);
    rc = bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_DECLARE,
                       "declare queue", name);
    if (rc < 0 || !q->exchange)
        return rc;

    snprintf(key, sizeof(key), "%s%s", service, q->key_suffix);
    amqp_queue_bind(c->amqp, BUS_CH_DECLARE, amqp_cstring_bytes(name),
                    amqp_cstring_bytes(q->exchange), amqp_cstring_bytes(key),
                    amqp_empty_table);
    return bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_DECLARE,
                         "bind queue", name);
}

static int declare_all(struct bus_conn *c, const char *service)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(topo_exchanges) /
                                   sizeof(topo_exchanges[0]); i++)
        rc = declare_exchange(c, &topo_exchanges[i]);
    for (i = 0; rc == 0 && service &&
                i < sizeof(topo_queues) / sizeof(topo_queues[0]); i++)
        rc = declare_queue(c, &topo_queues[i], service);
    return rc;
}

int bus_declare_topology(struct bus_conn *c, const char *service)
{
    amqp_rpc_reply_t r;
    int rc;

    if (!c->open)
        return GAU_EUNAVAIL;
    if (service && (!service[0] || strlen(service) > 64))
        return GAU_EINVAL;

    amqp_channel_open(c->amqp, BUS_CH_DECLARE);
    rc = bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_DECLARE,
                       "open the declaration channel of", c->name);
    if (rc < 0)
        return rc;

    rc = declare_all(c, service);
    /* After a refusal the broker has closed the channel already. */
    if (rc == 0) {
        r = amqp_channel_close(c->amqp, BUS_CH_DECLARE, AMQP_REPLY_SUCCESS);
        rc = bus__reply_rc(c, r, BUS_CH_DECLARE,
                           "close the declaration channel of", c->name);
    }
    if (rc == 0)
        log_info("declared the topology%s%s", service ? " of " : "",
                 service ? service : "");
    return rc;
}
