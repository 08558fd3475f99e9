/*
 * rpc.c - request/reply over the bus for the edge.
 *
 * One thread owns the connection. Callers hand it calls through a
 * mutex-protected queue and wake it with an eventfd; the thread publishes
 * them, tracks their confirms by delivery tag without waiting for each
 * one, matches replies by correlation id, and fails calls whose deadline
 * passed. Everything below "thread side" runs on that thread only.
 *
 * Replies are consumed with no_ack: the reply queue is exclusive and
 * auto-delete, so it dies with the connection and an ack could not save a
 * reply from anything; the caller is waiting and a reply lost with the
 * connection is answered by the deadline. Skipping the ack saves a frame
 * per call.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus/conn_internal.h"
#include "bus/envelope.h"
#include "bus/rpc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#define RPC_BACKOFF_MIN_MS 100
#define RPC_BACKOFF_MAX_MS 2000
#define RPC_IDLE_MS 1000
#define RPC_STALL_MS 2000

struct rpc_call {
    struct rpc_call *next;
    struct rpc_call *prev;
    char corr[GAU_UUID_LEN + 1];
    char *routing_key;
    char *message_id;
    char *type;
    void *body;
    size_t len;
    int64_t deadline;
    uint64_t seq; /* delivery tag of its publish, 0 before */
    bool confirmed;
    bus_rpc_cb cb;
    void *arg;
};

struct rpc_list {
    struct rpc_call *head;
    struct rpc_call *tail;
};

struct bus_rpc {
    char *url;
    char *name;
    pthread_t thread;
    bool started;
    int wake_fd;

    pthread_mutex_t lock; /* guards submitted and stopping */
    struct rpc_list submitted;
    bool stopping;
    atomic_bool ready;
    /*
     * Monotonic ms since a publish has been waiting for the broker with no
     * confirm arriving since, 0 when none waits: read by bus_rpc_ready()
     * on any thread.
     */
    _Atomic int64_t stall_since;

    /* Thread side. */
    struct bus_conn *c;
    char reply_queue[256];
    struct rpc_list inflight;
    int backoff_ms;
    uint64_t last_seq;  /* delivery tag of the latest publish */
    uint64_t acked_seq; /* highest tag the broker confirmed */
};

/* ---- lists ---- */

static void list_push(struct rpc_list *l, struct rpc_call *k)
{
    k->next = NULL;
    k->prev = l->tail;
    if (l->tail)
        l->tail->next = k;
    else
        l->head = k;
    l->tail = k;
}

static void list_unlink(struct rpc_list *l, struct rpc_call *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        l->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        l->tail = k->prev;
    k->next = k->prev = NULL;
}

static void call_free(struct rpc_call *k)
{
    free(k->routing_key);
    free(k->message_id);
    free(k->type);
    free(k->body);
    free(k);
}

/* Runs the callback once and frees the call. */
static void call_done(struct rpc_call *k, int rc, const void *body,
                      size_t len)
{
    k->cb(k->arg, rc, body, len);
    call_free(k);
}

static void list_fail(struct rpc_list *l, int rc)
{
    struct rpc_call *k;

    while ((k = l->head)) {
        list_unlink(l, k);
        call_done(k, rc, NULL, 0);
    }
}

/* ---- caller side ---- */

struct bus_rpc *bus_rpc_new(const char *url, const char *name)
{
    struct bus_rpc *r = xcalloc(1, sizeof(*r));

    r->url = xstrdup(url ? url : "");
    r->name = xstrdup(name ? name : "rpc");
    r->wake_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->ready, false);
    atomic_init(&r->stall_since, 0);
    r->backoff_ms = RPC_BACKOFF_MIN_MS;
    return r;
}

bool bus_rpc_ready(struct bus_rpc *r)
{
    int64_t since;

    if (!r || !atomic_load(&r->ready))
        return false;
    since = atomic_load(&r->stall_since);
    return !since || gau_mono_ms() - since <= RPC_STALL_MS;
}

static void wake(struct bus_rpc *r)
{
    uint64_t one = 1;

    /* A full counter still wakes the thread; nothing to do on EAGAIN. */
    if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("cannot wake the rpc thread: %s", strerror(errno));
}

int bus_rpc_call(struct bus_rpc *r, const char *routing_key,
                 const char *message_id, const char *type, const void *body,
                 size_t len, int64_t deadline_mono_ms, bus_rpc_cb cb,
                 void *arg)
{
    struct rpc_call *k = xcalloc(1, sizeof(*k));
    int rc = 0;

    gau_uuid_new(k->corr);
    k->routing_key = xstrdup(routing_key);
    k->message_id = xstrdup(message_id ? message_id : "");
    k->type = xstrdup(type ? type : routing_key);
    k->body = xmalloc(len ? len : 1);
    if (len)
        memcpy(k->body, body, len);
    k->len = len;
    k->deadline = deadline_mono_ms;
    k->cb = cb;
    k->arg = arg;

    pthread_mutex_lock(&r->lock);
    if (r->stopping)
        rc = GAU_ESTOPPED;
    else if (!atomic_load(&r->ready))
        rc = GAU_EUNAVAIL;
    else
        list_push(&r->submitted, k);
    pthread_mutex_unlock(&r->lock);

    if (rc < 0) {
        call_free(k);
        return rc;
    }
    wake(r);
    return 0;
}

/* ---- thread side: confirms, returns and replies ---- */

/*
 * TODO: replies and confirms are matched by a linear walk of the calls in
 * flight. That is cheap for the hundreds an edge has at once; tens of
 * thousands would want a hash by correlation id and delivery tag.
 */
static struct rpc_call *find_corr(struct bus_rpc *r, const char *corr)
{
    struct rpc_call *k;

    for (k = r->inflight.head; k; k = k->next)
        if (strcmp(k->corr, corr) == 0)
            return k;
    return NULL;
}

static void on_confirm(void *arg, uint64_t tag, bool multiple, bool ack)
{
    struct bus_rpc *r = arg;
    struct rpc_call *k, *next;

    /* Any confirm, ack or nack, shows that the broker is answering. */
    if (multiple && !tag)
        r->acked_seq = r->last_seq;
    else if (tag > r->acked_seq)
        r->acked_seq = tag;
    atomic_store(&r->stall_since,
                 r->acked_seq >= r->last_seq ? 0 : gau_mono_ms());

    for (k = r->inflight.head; k; k = next) {
        next = k->next;
        if (k->confirmed || !k->seq)
            continue;
        if (multiple ? tag && k->seq > tag : k->seq != tag)
            continue;
        if (ack) {
            k->confirmed = true;
            continue;
        }
        log_warn("cannot send command '%s': not confirmed by the broker",
                 k->type);
        list_unlink(&r->inflight, k);
        call_done(k, GAU_EUNAVAIL, NULL, 0);
    }
}

static void on_returned(void *arg, const char *corr, int code,
                        const char *text)
{
    struct bus_rpc *r = arg;
    struct rpc_call *k = find_corr(r, corr);

    if (!k)
        return;
    /* No queue takes this command: its service has never declared its
     * topology, which for the caller is a service that is down. */
    log_warn("cannot send command '%s': unroutable (%d %s)", k->type, code,
             text);
    list_unlink(&r->inflight, k);
    call_done(k, GAU_EUNAVAIL, NULL, 0);
}

static void on_reply(struct bus_rpc *r, const struct bus_delivery *d)
{
    struct rpc_call *k = find_corr(r, d->correlation_id);

    if (!k) {
        log_debug("dropping reply with unknown correlation id '%s'",
                  d->correlation_id);
        return;
    }
    list_unlink(&r->inflight, k);
    if (d->too_big) {
        log_error("cannot take reply to '%s': %llu bytes is over the limit",
                  k->type, (unsigned long long)d->declared_len);
        call_done(k, GAU_EINTERNAL, NULL, 0);
        return;
    }
    call_done(k, 0, d->body, d->len);
}

/* ---- thread side: the loop ---- */

static int rpc_connect(struct bus_rpc *r)
{
    struct bus_hooks hooks = { on_confirm, on_returned, r };
    int rc;

    rc = bus_conn_open(r->c);
    if (rc == 0)
        rc = bus_declare_reply_queue(r->c, r->reply_queue,
                                     sizeof(r->reply_queue));
    if (rc == 0)
        rc = bus__consume(r->c, r->reply_queue, 0, GAU_ENV_BODY_MAX, true);
    if (rc < 0) {
        bus_conn_close(r->c);
        return rc;
    }
    bus__set_hooks(r->c, &hooks);
    r->backoff_ms = RPC_BACKOFF_MIN_MS;
    /* A new channel numbers its publishes from 1 again. */
    r->last_seq = r->acked_seq = 0;
    atomic_store(&r->stall_since, 0);
    atomic_store(&r->ready, true);
    log_info("rpc '%s' ready, replies on '%s'", r->name, r->reply_queue);
    return 0;
}

/* Marks the client down first, so no call is accepted that could miss
 * the sweep, then fails every call in hand. */
static void rpc_down(struct bus_rpc *r, int rc)
{
    struct rpc_list taken;

    atomic_store(&r->ready, false);
    pthread_mutex_lock(&r->lock);
    taken = r->submitted;
    r->submitted.head = r->submitted.tail = NULL;
    pthread_mutex_unlock(&r->lock);
    list_fail(&taken, rc);
    list_fail(&r->inflight, rc);
}

static bool stopping(struct bus_rpc *r)
{
    bool s;

    pthread_mutex_lock(&r->lock);
    s = r->stopping;
    pthread_mutex_unlock(&r->lock);
    return s;
}

static void drain_wake(struct bus_rpc *r)
{
    uint64_t n;

    if (read(r->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("cannot read the rpc wake counter: %s", strerror(errno));
}

static void publish_one(struct bus_rpc *r, struct rpc_call *k)
{
    struct bus_props p = { 0 };
    uint64_t seq;

    if (k->deadline && gau_mono_ms() >= k->deadline) {
        call_done(k, GAU_ETIMEOUT, NULL, 0);
        return;
    }
    p.message_id = k->message_id[0] ? k->message_id : NULL;
    p.correlation_id = k->corr;
    p.reply_to = r->reply_queue;
    p.type = k->type;
    p.user_id = bus_conn_user(r->c);
    p.timestamp_s = gau_now_ms() / 1000;
    if (bus__publish_nowait(r->c, GAU_EXCHANGE_COMMANDS, k->routing_key, &p,
                            k->body, k->len, &seq) < 0) {
        call_done(k, GAU_EUNAVAIL, NULL, 0);
        return;
    }
    /* The body is not needed again: a lost publish is failed, never
     * repeated. */
    free(k->body);
    k->body = NULL;
    k->seq = seq;
    r->last_seq = seq;
    if (!atomic_load(&r->stall_since))
        atomic_store(&r->stall_since, gau_mono_ms());
    list_push(&r->inflight, k);
}

static void publish_submitted(struct bus_rpc *r)
{
    struct rpc_list taken;
    struct rpc_call *k;

    pthread_mutex_lock(&r->lock);
    taken = r->submitted;
    r->submitted.head = r->submitted.tail = NULL;
    pthread_mutex_unlock(&r->lock);

    while ((k = taken.head)) {
        list_unlink(&taken, k);
        publish_one(r, k);
    }
}

static void read_replies(struct bus_rpc *r)
{
    struct bus_delivery d;

    while (bus_next(r->c, &d, 0) == 0) {
        on_reply(r, &d);
        bus_delivery_release(&d);
    }
}

/* Fails expired calls; returns the ms until the next deadline, capped. */
static int expire(struct bus_rpc *r)
{
    int64_t now = gau_mono_ms(), wait = RPC_IDLE_MS;
    struct rpc_call *k, *next;

    for (k = r->inflight.head; k; k = next) {
        next = k->next;
        if (!k->deadline)
            continue;
        if (k->deadline <= now) {
            log_debug("command '%s' timed out", k->type);
            list_unlink(&r->inflight, k);
            call_done(k, GAU_ETIMEOUT, NULL, 0);
        } else if (k->deadline - now < wait) {
            wait = k->deadline - now;
        }
    }
    return (int)wait;
}

static void wait_io(struct bus_rpc *r, int timeout_ms)
{
    struct pollfd p[2] = {
        { r->wake_fd, POLLIN, 0 },
        { bus_conn_fd(r->c), POLLIN, 0 },
    };

    /* librabbitmq may hold whole frames already read from the socket; a
     * poll() would then sleep on data that is waiting. */
    if (bus__buffered(r->c))
        timeout_ms = 0;
    if (poll(p, p[1].fd < 0 ? 1 : 2, timeout_ms) > 0 && p[0].revents)
        drain_wake(r);
}

static void wait_backoff(struct bus_rpc *r)
{
    struct pollfd p = { r->wake_fd, POLLIN, 0 };

    if (poll(&p, 1, r->backoff_ms) > 0)
        drain_wake(r);
    r->backoff_ms = r->backoff_ms * 2 > RPC_BACKOFF_MAX_MS
                        ? RPC_BACKOFF_MAX_MS
                        : r->backoff_ms * 2;
}

static void *rpc_main(void *arg)
{
    struct bus_rpc *r = arg;

    gau_log_set_corr(NULL);
    while (!stopping(r)) {
        if (!bus_conn_is_open(r->c) && rpc_connect(r) < 0) {
            wait_backoff(r);
            continue;
        }
        publish_submitted(r);
        read_replies(r);
        if (!bus_conn_is_open(r->c)) {
            /* Reconnect at once; the backoff applies to failed attempts. */
            rpc_down(r, GAU_EUNAVAIL);
            continue;
        }
        wait_io(r, expire(r));
    }
    rpc_down(r, GAU_ESTOPPED);
    bus_conn_close(r->c);
    return NULL;
}

int bus_rpc_start(struct bus_rpc *r)
{
    if (r->started)
        return 0;
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        log_error("cannot create the rpc wake fd: %s", strerror(errno));
        return GAU_EIO;
    }
    r->c = bus_conn_new(r->url, r->name);
    r->started = true;
    if (pthread_create(&r->thread, NULL, rpc_main, r) != 0) {
        log_error("cannot start the rpc thread");
        r->started = false;
        return GAU_EIO;
    }
    return 0;
}

void bus_rpc_free(struct bus_rpc *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        pthread_mutex_unlock(&r->lock);
        wake(r);
        pthread_join(r->thread, NULL);
    }
    list_fail(&r->submitted, GAU_ESTOPPED);
    bus_conn_free(r->c);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    pthread_mutex_destroy(&r->lock);
    free(r->url);
    free(r->name);
    free(r);
}
