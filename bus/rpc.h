/*
 * rpc.h - request/reply over the bus, for the edge.
 *
 * A struct bus_rpc runs one thread that owns its own connection: it
 * publishes commands (persistent, confirmed) to gau.commands with reply_to
 * set to its exclusive reply queue and a fresh correlation id per call, and
 * hands each reply to the callback of the call it answers. Calls may be
 * made from any thread.
 */
#ifndef GAU_BUS_RPC_H
#define GAU_BUS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus_rpc;

/*
 * Called once per call, on the rpc thread, with rc 0 and the reply body
 * (borrowed for the duration of the callback), or rc GAU_ETIMEOUT (no reply
 * by the deadline), GAU_EUNAVAIL (broker unreachable, publish not
 * confirmed, or no queue bound for the routing key), GAU_EINTERNAL (the
 * reply was over GAU_ENV_BODY_MAX), GAU_ESTOPPED (shutting down) and no
 * body. Must not block; it may call bus_rpc_call() again.
 */
typedef void (*bus_rpc_cb)(void *arg, int rc, const void *body, size_t len);

/* A handle for url; name is for logs. Nothing starts yet. */
struct bus_rpc *bus_rpc_new(const char *url, const char *name);

/* Starts the thread; it connects (and reconnects) by itself. 0 or EIO. */
int bus_rpc_start(struct bus_rpc *r);

/*
 * true while connected with the reply queue consuming, and the broker
 * answering: false while a publish has waited more than 2 s with no
 * confirm arriving in that time (a frozen or overloaded broker, which the
 * 30 s heartbeat would take a minute to notice), true again with the next
 * confirm. With no command in flight there is nothing to wait for and an
 * unanswering broker stays unseen until the heartbeat fails.
 */
bool bus_rpc_ready(struct bus_rpc *r);

/*
 * Queues a command; the body is copied. When this returns 0, cb is
 * called exactly once later; when it returns an error, never.
 * Returns 0, GAU_EUNAVAIL when not connected, or GAU_ESTOPPED.
 */
int bus_rpc_call(struct bus_rpc *r, const char *routing_key,
                 const char *message_id, const char *type, const void *body,
                 size_t len, int64_t deadline_mono_ms, bus_rpc_cb cb,
                 void *arg);

/* Stops the thread; pending calls complete with GAU_ESTOPPED. NULL ok. */
void bus_rpc_free(struct bus_rpc *r);

#endif
