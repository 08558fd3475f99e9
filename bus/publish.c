/*
 * publish.c - publishing on channel 1, which is in confirm mode.
 */
#include "bus/conn_internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

int bus__publish_nowait(struct bus_conn *c, const char *exchange,
                        const char *routing_key,
                        const struct bus_props *props, const void *body,
                        size_t len, uint64_t *seq)
{
    amqp_basic_properties_t p;
    amqp_table_entry_t headers[BUS_HDR_MAX];
    amqp_bytes_t b = { len, (void *)body };
    int st;

    if (!c->open)
        return GAU_EUNAVAIL;
    bus__build_props(&p, headers, props);
    st = amqp_basic_publish(c->amqp, BUS_CH_PUB, amqp_cstring_bytes(exchange),
                            amqp_cstring_bytes(routing_key), 1, 0, &p, b);
    if (st != AMQP_STATUS_OK) {
        log_warn("cannot publish to exchange '%s': %s", exchange,
                 amqp_error_string2(st));
        return bus__lost(c, amqp_error_string2(st));
    }
    /* In confirm mode the broker numbers the messages of a channel 1, 2,
     * ... in the order it receives them, which is the order we send. */
    *seq = ++c->pub_seq;
    return 0;
}

static void log_outcome(int rc, bool returned, const char *exchange,
                        const char *key)
{
    /* A reply whose caller has gone (its reply queue died with it) is
     * routine; the caller of bus_publish learns it from the rc anyway. */
    if (rc == GAU_ENOTFOUND && returned && !exchange[0])
        log_debug("cannot publish a reply to '%s': no such queue", key);
    else if (rc == GAU_ENOTFOUND && returned)
        log_warn("cannot publish to exchange '%s' with routing key '%s': "
                 "no queue is bound", exchange, key);
    else if (rc == GAU_EIO)
        log_warn("cannot publish to exchange '%s' with routing key '%s': "
                 "nacked or refused by the broker", exchange, key);
    else if (rc == GAU_ETIMEOUT)
        log_warn("cannot publish to exchange '%s' with routing key '%s': "
                 "no confirm within %d ms", exchange, key,
                 BUS_CONFIRM_TIMEOUT_MS);
}

int bus_publish(struct bus_conn *c, const char *exchange,
                const char *routing_key, const struct bus_props *props,
                const void *body, size_t len)
{
    int64_t deadline = gau_mono_ms() + BUS_CONFIRM_TIMEOUT_MS;
    uint64_t seq;
    int rc;

    rc = bus__publish_nowait(c, exchange, routing_key, props, body, len,
                             &seq);
    if (rc < 0)
        return rc;

    /* Frames of other channels that arrive meanwhile (deliveries) are
     * queued by the pump for bus_next(). */
    c->wait_seq = seq;
    c->wait_rc = 1;
    c->returned = false;
    while (c->wait_rc == 1) {
        rc = bus__pump_one(c, deadline);
        if (rc < 0)
            break;
    }
    if (c->wait_rc != 1)
        rc = c->wait_rc;
    log_outcome(rc, c->returned, exchange, routing_key);
    c->wait_seq = 0;
    c->wait_rc = 0;
    c->returned = false;

    return rc;
}
