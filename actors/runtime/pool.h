/*
 * pool.h - the supervisor of a service's worker pool (gau-worker).
 *
 * The supervisor forks GAU_ACTORS (default 4) command actors, one outbox
 * relay and one projector, each a single-threaded child with its own
 * connections, and restarts any child that exits, for whatever reason,
 * after a backoff: 100 ms doubling to 10 s, back to 100 ms once a child
 * stayed up 30 s. SIGTERM or SIGINT: SIGTERM to every child, up to 15 s for
 * them to finish the message in hand, then SIGKILL; the supervisor then
 * returns 0. Children die with the supervisor (PR_SET_PDEATHSIG).
 */
#ifndef GAU_ACTORS_POOL_H
#define GAU_ACTORS_POOL_H

#include <stdint.h>

struct svc_def;

#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 10000
#define POOL_STABLE_MS 30000
#define POOL_DRAIN_MS 15000

/*
 * Set in a child when it is asked to stop (SIGTERM); the child's loops
 * check it between messages.
 */
extern volatile int pool_stop;

/*
 * Runs the pool of def until SIGTERM/SIGINT. Returns 0 after a clean
 * shutdown, GAU_EINVAL for bad configuration, GAU_EIO when signals cannot
 * be set up. In a child it never returns (the child exits).
 */
int pool_run(const struct svc_def *def);

/*
 * The delay before restarting a child that ran for up_ms and whose
 * previous delay was prev_ms (0 at first): POOL_BACKOFF_MIN_MS after a
 * stable run or at first, else prev_ms doubled up to POOL_BACKOFF_MAX_MS.
 */
int64_t pool_backoff_ms(int64_t prev_ms, int64_t up_ms);

#endif
