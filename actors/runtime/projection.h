/*
 * projection.h - Redis projections: building a hash from an event and
 * applying it with a version check, one event or a whole replay.
 *
 * Every write goes through one Lua script: when the stored hash has a
 * version >= the event's, nothing happens; else the whole hash is replaced
 * (and given an expiry when the projection asks for one). The inline
 * projection of a command actor, the projector and gauctl replay all use
 * it, so applying an event twice, late or out of order is harmless.
 */
#ifndef GAU_ACTORS_PROJECTION_H
#define GAU_ACTORS_PROJECTION_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

struct svc_def;
struct gau_msg_info;

#define PROJ_FIELDS_MAX 16
#define PROJ_VALUE_MAX 1024

/* One projected hash. */
struct proj_hash {
    char key[160];
    int64_t version;
    int64_t expire_s; /* 0: no expiry */
    int n;
    char name[PROJ_FIELDS_MAX][32];
    char value[PROJ_FIELDS_MAX][PROJ_VALUE_MAX];
};

/* Empties h. */
void proj_hash_init(struct proj_hash *h);
/* Sets the key (printf format). */
void proj_hash_key(struct proj_hash *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a field; past PROJ_FIELDS_MAX it is dropped and logged. */
void proj_hash_str(struct proj_hash *h, const char *name, const char *value);
void proj_hash_i64(struct proj_hash *h, const char *name, int64_t value);

/*
 * Connects to url ("redis://[:password@]host[:port][/db]", default
 * GAU_REDIS_URL) and loads the apply script. Returns 0 with *out set
 * (redisFree it), or GAU_EUNAVAIL / GAU_EINVAL (bad url), logged.
 */
int projection_connect(const char *url, redisContext **out);

/* The Redis url for service svc (GAU_REDIS_URL[_<SVC>]); borrowed. */
const char *projection_url(const char *svc);

/*
 * Applies one decoded event struct of type info. Returns 1 when the hash
 * was written, 0 when it was already as new (or the event projects to
 * nothing), GAU_EUNAVAIL when Redis failed (reconnect before retrying).
 */
int projection_apply(redisContext *rd, const struct svc_def *def,
                     const struct gau_msg_info *info, const void *event);

/*
 * The same from an event envelope body. GAU_EPROTO when the body is not a
 * known valid event (logged).
 */
int projection_apply_body(redisContext *rd, const struct svc_def *def,
                          const void *body, size_t len);

struct proj_stats {
    uint64_t read;    /* events read from PostgreSQL */
    uint64_t applied; /* hashes written */
    uint64_t skipped; /* already current, or nothing to project */
    uint64_t bad;     /* undecodable events */
    int64_t ms;
};

/* Called every 10,000 events during a rebuild; may be NULL. */
typedef void (*proj_progress_fn)(const struct proj_stats *st, void *arg);

/*
 * Replays every event of the service from pg (in seq order, 1000 a
 * batch, pipelined), then sets gau:<svc>:ready. Returns 0, GAU_EUNAVAIL
 * (PostgreSQL or Redis failed; *st tells how far it got).
 */
int projection_rebuild(PGconn *pg, redisContext *rd, const struct svc_def *def,
                       struct proj_stats *st, proj_progress_fn progress,
                       void *arg);

/*
 * Deletes every key gau:<svc>:*, the ready marker included (SCAN +
 * UNLINK). *deleted counts them. 0 or GAU_EUNAVAIL.
 */
int projection_clear(redisContext *rd, const char *svc, uint64_t *deleted);

/* 1 when gau:<svc>:ready is set, 0 when not, GAU_EUNAVAIL. */
int projection_is_ready(redisContext *rd, const char *svc);

/* Sets gau:<svc>:ready to "1". 0 or GAU_EUNAVAIL. */
int projection_set_ready(redisContext *rd, const char *svc);

#endif
