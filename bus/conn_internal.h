/*
 * conn_internal.h - what the files of the bus layer share: the connection
 * object, the frame pump and the small pure helpers around librabbitmq
 * types. Nothing outside bus/ includes this.
 *
 * The frame pump is the heart of the layer. librabbitmq hands out the
 * frames of every channel through one call, so whoever waits for a frame
 * (bus_publish waiting for its confirm, bus_next waiting for a delivery,
 * the rpc thread waiting for anything) may receive frames meant for
 * someone else. Every frame therefore goes through bus__pump_one(), which
 * copies what matters out of librabbitmq's pools at once:
 *   channel 0: connection.close, connection.blocked/unblocked;
 *   channel 1: basic.ack / basic.nack (confirms), basic.return with its
 *              content header and body frames, channel.close;
 *   channel 2: basic.deliver with its content header and body frames,
 *              assembled into a struct bus_delivery and appended to a
 *              FIFO that bus_next() empties first; basic.cancel and
 *              channel.close end the connection.
 * Because nothing is left pointing into the pools, the pump can release
 * librabbitmq's buffers after every frame.
 */
#ifndef GAU_BUS_CONN_INTERNAL_H
#define GAU_BUS_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "bus/bus.h"

#define BUS_CH_PUB 1
#define BUS_CH_CONSUME 2
/* A short-lived channel for declarations, so a refusal closes nothing
 * that carries state (confirm numbering, the consumer). */
#define BUS_CH_DECLARE 3

#define BUS_HEARTBEAT_S 30
#define BUS_FRAME_MAX 131072
#define BUS_CONNECT_TIMEOUT_MS 5000
#define BUS_RPC_TIMEOUT_MS 10000
#define BUS_CONFIRM_TIMEOUT_MS 5000

/*
 * Confirm events for a publisher that does not wait for each confirm (the
 * rpc thread). confirm: the broker acked (ack true) or nacked every
 * message up to seq (multiple) or just seq; returned: a mandatory message
 * could not be routed (it is acked right after), identified by the
 * correlation id it carried. Called from inside the pump.
 */
struct bus_hooks {
    void (*confirm)(void *arg, uint64_t seq, bool multiple, bool ack);
    void (*returned)(void *arg, const char *correlation_id, int code,
                     const char *text);
    void *arg;
};

struct bus_msg {
    struct bus_msg *next;
    struct bus_delivery d;
};

enum bus_content_state {
    BUS_CONTENT_NONE = 0, /* no content expected */
    BUS_CONTENT_HEADER,   /* method seen, header frame next */
    BUS_CONTENT_BODY      /* header seen, body frames next */
};

struct bus_conn {
    char *url_buf; /* the parsed copy of the url; fields point into it */
    struct amqp_connection_info info;
    int url_rc;
    char *name;

    amqp_connection_state_t amqp; /* NULL when closed */
    bool open;

    /* Channel 1: confirm numbering and bus_publish's wait. */
    uint64_t pub_seq;  /* delivery tag of the last message published */
    uint64_t wait_seq; /* the tag bus_publish waits for, 0 = none */
    int wait_rc;       /* 1 = still waiting, else the outcome */
    bool returned;     /* a basic.return arrived for wait_seq */

    /* Channel 1: a returned message's content, read and dropped. */
    int ret_state;
    uint64_t ret_left;
    int ret_code;
    char ret_text[128];
    char ret_corr[128];

    /* Channel 2: the delivery being assembled and the ready FIFO. */
    int in_state;
    uint64_t in_left;
    size_t in_got;
    struct bus_delivery in;
    size_t max_body;
    bool consuming;
    char ctag[128];
    struct bus_msg *head;
    struct bus_msg *tail;

    struct bus_hooks hooks;
};

/*
 * Reads one frame, waiting until deadline_mono_ms at most (a deadline in
 * the past still takes what is already buffered or readable, and lets
 * librabbitmq send a due heartbeat). Returns 0 when a frame was handled,
 * GAU_ETIMEOUT when none came, GAU_EUNAVAIL when the connection is lost
 * (it is then closed).
 */
int bus__pump_one(struct bus_conn *c, int64_t deadline_mono_ms);

/* true when librabbitmq holds frames or bytes not yet handed out, so a
 * poll() on the socket could sleep while work is waiting. */
bool bus__buffered(const struct bus_conn *c);

/*
 * Turns the outcome of a synchronous librabbitmq call into a gau error,
 * logging "cannot <what> '<object>': <reason>". A channel the broker
 * closed is acknowledged (close-ok) and marked for reopening; a
 * connection error closes the connection. Returns 0 for a normal reply.
 */
int bus__reply_rc(struct bus_conn *c, amqp_rpc_reply_t r, int channel,
                  const char *what, const char *object);

/* Gives up the connection after a fatal error: frees librabbitmq's state
 * and every queued delivery. Always returns GAU_EUNAVAIL. */
int bus__lost(struct bus_conn *c, const char *why);

/* Opens channel ch again after the broker closed it; channel 1 gets
 * confirm mode and a fresh numbering (outstanding confirms are reported
 * to the hooks as nacked). 0 or GAU_EUNAVAIL. */
int bus__channel_reopen(struct bus_conn *c, int ch);

/* Publishes without waiting for the confirm; *seq gets its delivery tag.
 * 0, GAU_EUNAVAIL. */
int bus__publish_nowait(struct bus_conn *c, const char *exchange,
                        const char *routing_key,
                        const struct bus_props *props, const void *body,
                        size_t len, uint64_t *seq);

/* bus_consume() with a choice of acknowledgement mode. */
int bus__consume(struct bus_conn *c, const char *queue, int prefetch,
                 size_t max_body, bool no_ack);

void bus__set_hooks(struct bus_conn *c, const struct bus_hooks *h);

/* Hands the oldest queued delivery to *d; false when none is queued. */
bool bus__pop(struct bus_conn *c, struct bus_delivery *d);
/* Frees the queue and the delivery being assembled. */
void bus__drop_queue(struct bus_conn *c);

/* ---- pure helpers (props.c), usable without a broker ---- */

/* Copies b into dst (size bytes, NUL-terminated), truncating. */
void bus__copy_bytes(char *dst, size_t size, amqp_bytes_t b);

/* Finds key in t and reads it as an integer of any width; false when
 * missing or not an integer. */
bool bus__table_int(const amqp_table_t *t, const char *key, int64_t *out);

/* Finds key in t as a string (UTF-8 or bytes) into dst; false when
 * missing or not a string. */
bool bus__table_str(const amqp_table_t *t, const char *key, char *dst,
                    size_t size);

/* Fills the property fields of d from p (strings truncated safely,
 * attempt clamped to 0..INT_MAX). */
void bus__delivery_props(struct bus_delivery *d,
                         const amqp_basic_properties_t *p);

/*
 * Builds the AMQP properties of a publish into out, with headers in
 * entries (room for BUS_HDR_MAX). Strings borrow from props.
 */
#define BUS_HDR_MAX 4
void bus__build_props(amqp_basic_properties_t *out,
                      amqp_table_entry_t entries[BUS_HDR_MAX],
                      const struct bus_props *props);

/* Maps an AMQP reply code (403, 404, ...) to a gau error. */
int bus__code_rc(int code);

#endif
