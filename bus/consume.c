/*
 * consume.c - consuming on channel 2 with manual acks, and the reply
 * queue of the rpc client.
 */
#include <stdlib.h>
#include <string.h>

#include "bus/conn_internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

int bus__consume(struct bus_conn *c, const char *queue, int prefetch,
                 size_t max_body, bool no_ack)
{
    amqp_basic_consume_ok_t *ok;
    int rc;

    if (!c->open)
        return GAU_EUNAVAIL;
    if (c->consuming)
        return GAU_EINTERNAL;
    if (!no_ack) {
        amqp_basic_qos(c->amqp, BUS_CH_CONSUME, 0,
                       prefetch > 0 && prefetch <= 65535 ? prefetch : 1, 0);
        rc = bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_CONSUME,
                           "set the prefetch for queue", queue);
        if (rc < 0)
            return rc;
    }

    ok = amqp_basic_consume(c->amqp, BUS_CH_CONSUME, amqp_cstring_bytes(queue),
                            amqp_empty_bytes, 0, no_ack, 0, amqp_empty_table);
    rc = bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_CONSUME,
                       "consume from queue", queue);
    if (rc < 0)
        return rc;
    bus__copy_bytes(c->ctag, sizeof(c->ctag), ok->consumer_tag);
    c->max_body = max_body;
    c->consuming = true;
    log_debug("consuming from queue '%s'", queue);
    return 0;
}

int bus_consume(struct bus_conn *c, const char *queue, int prefetch,
                size_t max_body)
{
    return bus__consume(c, queue, prefetch, max_body, false);
}

int bus_cancel(struct bus_conn *c)
{
    if (!c->open)
        return GAU_EUNAVAIL;
    if (!c->consuming)
        return 0;
    /* Deliveries that arrive before cancel-ok are queued by librabbitmq
     * and later by the pump, so bus_next() still hands them out. */
    amqp_basic_cancel(c->amqp, BUS_CH_CONSUME, amqp_cstring_bytes(c->ctag));
    c->consuming = false;
    return bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_CONSUME,
                         "cancel consumer", c->ctag);
}

int bus_next(struct bus_conn *c, struct bus_delivery *d, int timeout_ms)
{
    int64_t deadline = gau_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int rc;

    memset(d, 0, sizeof(*d));
    for (;;) {
        if (bus__pop(c, d))
            return 0;
        /* Every turn calls into librabbitmq, which is where it sends and
         * checks heartbeats, so an idle consumer stays alive. */
        rc = bus__pump_one(c, deadline);
        if (rc < 0)
            return rc;
        if (!c->head && gau_mono_ms() > deadline)
            return GAU_ETIMEOUT;
    }
}

void bus_delivery_release(struct bus_delivery *d)
{
    if (!d)
        return;
    free(d->body);
    d->body = NULL;
    d->len = 0;
}

int bus_ack(struct bus_conn *c, uint64_t tag)
{
    int st;

    if (!c->open)
        return GAU_EUNAVAIL;
    st = amqp_basic_ack(c->amqp, BUS_CH_CONSUME, tag, 0);
    if (st != AMQP_STATUS_OK)
        return bus__lost(c, amqp_error_string2(st));
    return 0;
}

int bus_nack(struct bus_conn *c, uint64_t tag, bool requeue)
{
    int st;

    if (!c->open)
        return GAU_EUNAVAIL;
    st = amqp_basic_nack(c->amqp, BUS_CH_CONSUME, tag, 0, requeue);
    if (st != AMQP_STATUS_OK)
        return bus__lost(c, amqp_error_string2(st));
    return 0;
}

int bus_declare_reply_queue(struct bus_conn *c, char *name, size_t size)
{
    amqp_queue_declare_ok_t *ok;
    int rc;

    if (!c->open)
        return GAU_EUNAVAIL;
    ok = amqp_queue_declare(c->amqp, BUS_CH_CONSUME, amqp_empty_bytes, 0, 0,
                            1, 1, amqp_empty_table);
    rc = bus__reply_rc(c, amqp_get_rpc_reply(c->amqp), BUS_CH_CONSUME,
                       "declare queue", "(reply queue)");
    if (rc < 0)
        return rc;
    if (ok->queue.len >= size) {
        log_error("cannot declare queue '(reply queue)': name too long");
        return GAU_ETOOBIG;
    }
    bus__copy_bytes(name, size, ok->queue);
    return 0;
}
