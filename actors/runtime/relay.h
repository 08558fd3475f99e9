/*
 * relay.h - the outbox relay: publishes a service's committed events to
 * gau.events, in seq order, with confirms.
 *
 * It LISTENs on gau_outbox and, on each NOTIFY and at least every second,
 * takes up to 100 unpublished events FOR UPDATE SKIP LOCKED, publishes
 * each (routing key and type = the event type, message_id = the event id,
 * persistent) and marks them published in the same transaction. A crash
 * between a confirm and the COMMIT publishes an event twice, which the
 * projections' version check makes harmless.
 */
#ifndef GAU_ACTORS_RELAY_H
#define GAU_ACTORS_RELAY_H

struct svc_def;

/* Runs until *stop; returns 0. */
int relay_run(const struct svc_def *def, volatile int *stop);

#endif
