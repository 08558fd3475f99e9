/*
 * projector.h - the projector actor: applies a service's events from
 * <svc>.projector to Redis, and rebuilds the projections when the ready
 * marker gau:<svc>:ready is missing (at start and checked every second).
 *
 * A delivery is acked only once Redis applied it; while Redis is down the
 * projector holds the delivery and tries again every second.
 */
#ifndef GAU_ACTORS_PROJECTOR_H
#define GAU_ACTORS_PROJECTOR_H

struct svc_def;

/* Prefetch of the projector: applying an event twice is harmless. */
#define PROJECTOR_PREFETCH 32

/* Runs until *stop; returns 0. */
int projector_run(const struct svc_def *def, volatile int *stop);

#endif
