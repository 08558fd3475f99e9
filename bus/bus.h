/*
 * bus.h - the AMQP layer: one connection, its topology, publishing with
 * confirms and consuming with manual acks.
 *
 * A struct bus_conn belongs to one thread. It owns two channels: channel 1
 * publishes in confirm mode, channel 2 consumes. Every call that talks to
 * the broker returns GAU_EUNAVAIL once the connection is lost; the caller
 * then calls bus_conn_open() again (it backs off itself) and re-declares
 * what it consumes.
 *
 * Names (see README, "AMQP contract"):
 *   exchange gau.commands (topic)  routing key <service>.<verb>
 *   exchange gau.events   (topic)  routing key <service>.<noun>_<past>
 *   exchange gau.dead     (direct) routing key <service>
 *   queue <service>.commands   quorum, bound to gau.commands "<service>.*"
 *   queue <service>.projector  quorum, bound to gau.events "<service>.#"
 *   queue <service>.dead       quorum, bound to gau.dead "<service>"
 *   queue <service>.retry.<n>  quorum, n = 1..GAU_BUS_RETRY_LEVELS, each
 *       with a message TTL, dead-lettering back to <service>.commands
 */
#ifndef GAU_BUS_BUS_H
#define GAU_BUS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GAU_EXCHANGE_COMMANDS "gau.commands"
#define GAU_EXCHANGE_EVENTS "gau.events"
#define GAU_EXCHANGE_DEAD "gau.dead"
#define GAU_BUS_RETRY_LEVELS 3

/* Headers gau sets on messages it moves to a dead or retry queue. */
#define GAU_HDR_REASON "x-gau-reason"
#define GAU_HDR_ATTEMPT "x-gau-attempt"
#define GAU_HDR_ORIGIN "x-gau-routing-key"
/* true on a dead letter whose secret fields were replaced by nil. */
#define GAU_HDR_REDACTED "x-gau-redacted"

struct bus_conn;

/* Properties of a message; NULL strings are left out. */
struct bus_props {
    const char *message_id;
    const char *correlation_id;
    const char *reply_to;
    const char *type;
    /*
     * The publisher's AMQP user. RabbitMQ refuses a message whose user_id
     * is not the connection's user, so a consumer can trust it.
     */
    const char *user_id;
    int64_t timestamp_s;
    int attempt;        /* GAU_HDR_ATTEMPT, 0 = absent */
    const char *reason; /* GAU_HDR_REASON */
    const char *origin; /* GAU_HDR_ORIGIN */
    bool redacted;      /* GAU_HDR_REDACTED: true, false = absent */
    bool transient;     /* replies: delivery mode 1; else persistent */
};

/* A message taken from a queue. Strings are "" when absent. */
struct bus_delivery {
    uint64_t tag;
    bool redelivered;
    char exchange[128];
    char routing_key[256];
    char message_id[128];
    char correlation_id[128];
    char reply_to[256];
    char type[128];
    char user_id[64];
    int attempt;
    /* Owned; freed by bus_delivery_release(). NULL when too_big. */
    void *body;
    size_t len;
    /* The body was over the consumer's limit and was skipped unread. */
    bool too_big;
    uint64_t declared_len;
    /* GAU_HDR_REASON and GAU_HDR_ORIGIN of dead or retried messages. */
    char reason[256];
    char origin[256];
};

/*
 * Creates a handle for url ("amqp://user:pass@host:port/vhost"); name is
 * used in logs and shown as the connection name in the management UI.
 * Nothing is connected yet. Never NULL.
 */
struct bus_conn *bus_conn_new(const char *url, const char *name);

/*
 * Connects, logs in (heartbeat 30 s), opens both channels and puts
 * channel 1 in confirm mode. Returns 0, GAU_EUNAVAIL (cannot reach the
 * broker), GAU_EUNAUTH (login refused) or GAU_EINVAL (bad url).
 */
int bus_conn_open(struct bus_conn *c);

/*
 * Like bus_conn_open(), retrying with exponential backoff (100 ms doubling
 * to 5 s) until it succeeds, *stop becomes true (GAU_ESTOPPED), or
 * deadline_mono_ms passes (GAU_EUNAVAIL; 0 means no deadline).
 */
int bus_conn_open_retry(struct bus_conn *c, volatile int *stop,
                        int64_t deadline_mono_ms);

bool bus_conn_is_open(const struct bus_conn *c);
/* The user this connection logs in as; borrowed. */
const char *bus_conn_user(const struct bus_conn *c);
/* The socket, for poll(); -1 when closed. */
int bus_conn_fd(const struct bus_conn *c);
void bus_conn_close(struct bus_conn *c);
void bus_conn_free(struct bus_conn *c);

/*
 * Declares the three exchanges, idempotently. With service != NULL also
 * that service's command, projector, dead and retry queues and bindings.
 * Returns 0, GAU_EUNAVAIL, GAU_EFORBIDDEN (logged with the object), or
 * GAU_ECONFLICT (an object exists with other arguments; logged).
 */
int bus_declare_topology(struct bus_conn *c, const char *service);

/*
 * Publishes a persistent message (unless props->transient), mandatory, and
 * waits up to 5 s for the broker's confirm. Returns 0 once confirmed,
 * GAU_ENOTFOUND when no queue took it (or the exchange does not exist),
 * GAU_EIO when the broker nacked or refused it (e.g. a user_id that is not
 * the connection's), GAU_EFORBIDDEN when the user may not write to the
 * exchange, GAU_ETIMEOUT without an answer, GAU_EUNAVAIL when the
 * connection is lost.
 */
int bus_publish(struct bus_conn *c, const char *exchange,
                const char *routing_key, const struct bus_props *props,
                const void *body, size_t len);

/*
 * Starts consuming queue on channel 2 with manual acks and the given
 * prefetch; bodies over max_body are skipped (too_big set). 0 or
 * GAU_EUNAVAIL / GAU_EFORBIDDEN / GAU_ENOTFOUND (no such queue).
 */
int bus_consume(struct bus_conn *c, const char *queue, int prefetch,
                size_t max_body);

/* Stops the consumer; deliveries already received still arrive. */
int bus_cancel(struct bus_conn *c);

/*
 * Waits up to timeout_ms for the next delivery. Returns 0 with *d filled
 * (release it with bus_delivery_release()), GAU_ETIMEOUT when none came,
 * GAU_EUNAVAIL when the connection is lost.
 */
int bus_next(struct bus_conn *c, struct bus_delivery *d, int timeout_ms);
void bus_delivery_release(struct bus_delivery *d);

int bus_ack(struct bus_conn *c, uint64_t tag);
/* Returns the message to its queue (requeue) or dead-letters it. */
int bus_nack(struct bus_conn *c, uint64_t tag, bool requeue);

/* Declares a server-named exclusive auto-delete queue; name copied out. */
int bus_declare_reply_queue(struct bus_conn *c, char *name, size_t size);

#endif
