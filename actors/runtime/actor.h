/*
 * actor.h - the command actor: takes commands of one service from its
 * queue, checks them, runs them in one transaction each, projects the new
 * events inline, acks and replies.
 *
 * What happens to a delivery:
 *   too big, undecodable, routing key other than the type, unknown type,
 *   wrong version, invalid payload
 *       -> published to gau.dead (routing key <svc>) with the reason, acked;
 *          an error reply when reply_to is set
 *   principal refused -> error reply unauthorized / forbidden, acked
 *   deadline passed   -> acked and dropped with a log line
 *   transient failure -> <svc>.retry.<attempt + 1> (x-gau-attempt), acked;
 *          after GAU_BUS_RETRY_LEVELS -> dead "retries exhausted: ..."
 *   otherwise         -> the handler's reply, or its error
 */
#ifndef GAU_ACTORS_ACTOR_H
#define GAU_ACTORS_ACTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "core/fielderr.h"

struct svc_def;

/*
 * Runs actor number index of service def until *stop becomes non-zero.
 * Returns 0 after a clean stop, or a gau_err when it cannot start (bad
 * configuration; logged).
 */
int actor_run(const struct svc_def *def, int index, volatile int *stop);

/*
 * The queue a message that failed transiently for the attempt-th time
 * (0 for the first delivery) goes to: "<svc>.retry.<attempt + 1>" into
 * buf. Returns 0, or GAU_ENOTFOUND when the retries are exhausted.
 */
int actor_retry_queue(const char *svc, int attempt, char *buf, size_t size);

/* "invalid: field: reason; field: reason" into buf. */
void actor_reason_invalid(const struct gau_field_errors *fe, char *buf,
                          size_t size);

/* 1 when user is in the comma-separated list, else 0. */
int actor_user_in(const char *list, const char *user);

struct bus_delivery;

/*
 * The routing key a command was sent with: the delivery's own for one
 * that came through gau.commands, else the one the retry or dead-letter
 * path kept in its x-gau-routing-key header ("" when it has none).
 * Borrowed from d.
 */
const char *actor_routed_key(const struct bus_delivery *d);

/*
 * Checks that command type arrived under its own routing key, so that the
 * broker's routing (and any permission on routing keys) saw the command
 * that runs. Returns 0, or GAU_EPROTO with "routing key 'x' does not match
 * type 'y'" in why.
 */
int actor_check_route(const struct bus_delivery *d, const char *type,
                      char *why, size_t size);

struct gau_msg_info;

/*
 * Packs envelope env (a decoded msgpack map) into out (initialised by the
 * caller) with the value of every payload field info marks secret
 * replaced by nil, for the dead queue. Returns how many were replaced;
 * with 0, out may hold a copy or nothing and the original should be kept.
 */
int actor_redact_secrets(const msgpack_object *env,
                         const struct gau_msg_info *info,
                         msgpack_sbuffer *out);

/*
 * Prefetch of a command actor: GAU_PREFETCH, default 1. An actor has one
 * thread and handles one message at a time, so more only parks messages
 * other actors could be taking, and a crash redelivers all of them (which
 * counts against their x-delivery-limit although they did nothing wrong).
 */
#define ACTOR_PREFETCH_DEFAULT 1

#endif
