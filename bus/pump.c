/*
 * pump.c - reads frames of every channel and sorts them out; see
 * conn_internal.h for what goes where and why.
 */
#include <stdlib.h>
#include <string.h>

#include "bus/conn_internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

static int protocol_error(struct bus_conn *c, const char *what)
{
    log_error("cannot read from the broker: %s", what);
    return bus__lost(c, "protocol error");
}

/* ---- channel 2: deliveries ---- */

static void push_delivery(struct bus_conn *c)
{
    struct bus_msg *m = xcalloc(1, sizeof(*m));

    m->d = c->in;
    m->d.len = c->in.too_big ? 0 : c->in_got;
    memset(&c->in, 0, sizeof(c->in));
    c->in_state = BUS_CONTENT_NONE;
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
}

static int on_deliver(struct bus_conn *c, const amqp_basic_deliver_t *m)
{
    if (c->in_state != BUS_CONTENT_NONE)
        return protocol_error(c, "delivery inside a delivery");
    memset(&c->in, 0, sizeof(c->in));
    c->in.tag = m->delivery_tag;
    c->in.redelivered = m->redelivered;
    bus__copy_bytes(c->in.exchange, sizeof(c->in.exchange), m->exchange);
    bus__copy_bytes(c->in.routing_key, sizeof(c->in.routing_key),
                    m->routing_key);
    c->in_state = BUS_CONTENT_HEADER;
    return 0;
}

static int on_deliver_header(struct bus_conn *c, const amqp_frame_t *f)
{
    uint64_t size = f->payload.properties.body_size;

    if (c->in_state != BUS_CONTENT_HEADER)
        return protocol_error(c, "content header without a delivery");
    bus__delivery_props(&c->in, f->payload.properties.decoded);
    c->in.declared_len = size;
    c->in_left = size;
    c->in_got = 0;
    /* A body over the limit is read and dropped frame by frame, so the
     * consumer can dead-letter it without ever holding it. */
    if (size > c->max_body)
        c->in.too_big = true;
    else
        c->in.body = xmalloc(size ? size : 1);

    if (size == 0)
        push_delivery(c);
    else
        c->in_state = BUS_CONTENT_BODY;
    return 0;
}

static int on_deliver_body(struct bus_conn *c, amqp_bytes_t frag)
{
    if (c->in_state != BUS_CONTENT_BODY || frag.len > c->in_left)
        return protocol_error(c, "unexpected body frame");
    if (!c->in.too_big)
        memcpy((char *)c->in.body + c->in_got, frag.bytes, frag.len);
    c->in_got += frag.len;
    c->in_left -= frag.len;
    if (c->in_left == 0)
        push_delivery(c);
    return 0;
}

/* ---- channel 1: confirms and returns ---- */

static bool covers(uint64_t tag, bool multiple, uint64_t seq)
{
    if (multiple)
        return tag == 0 || seq <= tag;
    return seq == tag;
}

static void on_confirm(struct bus_conn *c, uint64_t tag, bool multiple,
                       bool ack)
{
    if (c->wait_seq && c->wait_rc == 1 && covers(tag, multiple, c->wait_seq))
        c->wait_rc = !ack ? GAU_EIO : c->returned ? GAU_ENOTFOUND : 0;
    if (c->hooks.confirm)
        c->hooks.confirm(c->hooks.arg, tag, multiple, ack);
}

static void finish_return(struct bus_conn *c)
{
    log_debug("broker returned a message: %d %s", c->ret_code, c->ret_text);
    c->ret_state = BUS_CONTENT_NONE;
    /* The return of a mandatory message comes before its ack, and
     * bus_publish has one message in flight, so it is that one. */
    if (c->wait_seq && c->wait_rc == 1)
        c->returned = true;
    if (c->hooks.returned)
        c->hooks.returned(c->hooks.arg, c->ret_corr, c->ret_code,
                          c->ret_text);
}

static int on_return(struct bus_conn *c, const amqp_basic_return_t *m)
{
    if (c->ret_state != BUS_CONTENT_NONE)
        return protocol_error(c, "return inside a return");
    c->ret_code = m->reply_code;
    bus__copy_bytes(c->ret_text, sizeof(c->ret_text), m->reply_text);
    c->ret_corr[0] = '\0';
    c->ret_state = BUS_CONTENT_HEADER;
    return 0;
}

static int on_return_header(struct bus_conn *c, const amqp_frame_t *f)
{
    const amqp_basic_properties_t *p = f->payload.properties.decoded;

    if (c->ret_state != BUS_CONTENT_HEADER)
        return protocol_error(c, "content header without a return");
    if (p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)
        bus__copy_bytes(c->ret_corr, sizeof(c->ret_corr), p->correlation_id);
    c->ret_left = f->payload.properties.body_size;
    if (c->ret_left == 0)
        finish_return(c);
    else
        c->ret_state = BUS_CONTENT_BODY;
    return 0;
}

static int on_return_body(struct bus_conn *c, amqp_bytes_t frag)
{
    if (c->ret_state != BUS_CONTENT_BODY || frag.len > c->ret_left)
        return protocol_error(c, "unexpected body frame on channel 1");
    c->ret_left -= frag.len;
    if (c->ret_left == 0)
        finish_return(c);
    return 0;
}

/* ---- closes from the broker ---- */

static int on_connection_close(struct bus_conn *c,
                               const amqp_connection_close_t *m)
{
    amqp_connection_close_ok_t ok = { 0 };

    log_error("broker closed connection '%s': %.*s", c->name,
              (int)m->reply_text.len, (char *)m->reply_text.bytes);
    amqp_send_method(c->amqp, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    return bus__lost(c, "closed by the broker");
}

static int on_channel_close(struct bus_conn *c, int ch,
                            const amqp_channel_close_t *m)
{
    amqp_channel_close_ok_t ok = { 0 };
    int rc = bus__code_rc(m->reply_code);

    /* For a publish, anything but a missing exchange or a refused write
     * is the broker refusing the message. */
    if (rc != GAU_ENOTFOUND && rc != GAU_EFORBIDDEN)
        rc = GAU_EIO;

    log_error("broker closed channel %d of connection '%s': %.*s", ch,
              c->name, (int)m->reply_text.len, (char *)m->reply_text.bytes);
    if (amqp_send_method(c->amqp, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
        AMQP_STATUS_OK)
        return bus__lost(c, "cannot acknowledge a channel close");
    if (ch != BUS_CH_PUB)
        /* The consumer is gone; the caller reconnects and consumes again,
         * which is the one recovery path every consumer already has. */
        return bus__lost(c, "consumer channel closed");

    /* A publish the broker refused (no such exchange, a user_id that is
     * not ours) closes channel 1: its waiter learns why. */
    if (c->wait_seq && c->wait_rc == 1)
        c->wait_rc = rc;
    c->ret_state = BUS_CONTENT_NONE;
    return bus__channel_reopen(c, BUS_CH_PUB) < 0 ? GAU_EUNAVAIL : 0;
}

/* ---- dispatch ---- */

static int on_method(struct bus_conn *c, int ch, const amqp_method_t *m)
{
    switch (m->id) {
    case AMQP_CONNECTION_CLOSE_METHOD:
        return on_connection_close(c, m->decoded);
    case AMQP_CONNECTION_BLOCKED_METHOD:
        log_warn("broker blocked connection '%s' (resource alarm)", c->name);
        return 0;
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
        log_info("broker unblocked connection '%s'", c->name);
        return 0;
    case AMQP_CHANNEL_CLOSE_METHOD:
        return on_channel_close(c, ch, m->decoded);
    }
    if (ch == BUS_CH_PUB) {
        const amqp_basic_ack_t *a = m->decoded;
        const amqp_basic_nack_t *n = m->decoded;

        switch (m->id) {
        case AMQP_BASIC_ACK_METHOD:
            on_confirm(c, a->delivery_tag, a->multiple, true);
            return 0;
        case AMQP_BASIC_NACK_METHOD:
            on_confirm(c, n->delivery_tag, n->multiple, false);
            return 0;
        case AMQP_BASIC_RETURN_METHOD:
            return on_return(c, m->decoded);
        }
    }
    if (ch == BUS_CH_CONSUME && m->id == AMQP_BASIC_DELIVER_METHOD)
        return on_deliver(c, m->decoded);
    if (ch == BUS_CH_CONSUME && m->id == AMQP_BASIC_CANCEL_METHOD) {
        log_warn("broker cancelled the consumer of connection '%s'",
                 c->name);
        return bus__lost(c, "consumer cancelled by the broker");
    }
    log_debug("ignoring method 0x%08x on channel %d", (unsigned)m->id, ch);
    return 0;
}

static int dispatch(struct bus_conn *c, const amqp_frame_t *f)
{
    switch (f->frame_type) {
    case AMQP_FRAME_METHOD:
        return on_method(c, f->channel, &f->payload.method);
    case AMQP_FRAME_HEADER:
        if (f->channel == BUS_CH_CONSUME)
            return on_deliver_header(c, f);
        if (f->channel == BUS_CH_PUB)
            return on_return_header(c, f);
        return protocol_error(c, "content header on an idle channel");
    case AMQP_FRAME_BODY:
        if (f->channel == BUS_CH_CONSUME)
            return on_deliver_body(c, f->payload.body_fragment);
        if (f->channel == BUS_CH_PUB)
            return on_return_body(c, f->payload.body_fragment);
        return protocol_error(c, "body frame on an idle channel");
    default:
        return 0;
    }
}

int bus__pump_one(struct bus_conn *c, int64_t deadline_mono_ms)
{
    int64_t left = deadline_mono_ms - gau_mono_ms();
    struct timeval tv;
    amqp_frame_t f;
    int st, rc;

    if (!c->open)
        return GAU_EUNAVAIL;
    if (left < 0)
        left = 0;
    tv.tv_sec = left / 1000;
    tv.tv_usec = (left % 1000) * 1000;

    st = amqp_simple_wait_frame_noblock(c->amqp, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT)
        return GAU_ETIMEOUT;
    if (st != AMQP_STATUS_OK)
        return bus__lost(c, amqp_error_string2(st));

    rc = dispatch(c, &f);
    /* Everything needed was copied out, so the pools can go. */
    if (c->amqp)
        amqp_maybe_release_buffers(c->amqp);
    return rc;
}

bool bus__buffered(const struct bus_conn *c)
{
    if (!c->open)
        return false;
    return amqp_frames_enqueued(c->amqp) || amqp_data_in_buffer(c->amqp);
}

bool bus__pop(struct bus_conn *c, struct bus_delivery *d)
{
    struct bus_msg *m = c->head;

    if (!m)
        return false;
    c->head = m->next;
    if (!c->head)
        c->tail = NULL;
    *d = m->d;
    free(m);
    return true;
}

void bus__drop_queue(struct bus_conn *c)
{
    struct bus_delivery d;

    while (bus__pop(c, &d))
        bus_delivery_release(&d);
    bus_delivery_release(&c->in);
    memset(&c->in, 0, sizeof(c->in));
    c->in_state = BUS_CONTENT_NONE;
}
