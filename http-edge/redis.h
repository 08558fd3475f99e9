/*
 * redis.h - the edge's reads of the projections in Redis.
 *
 * A struct edge_redis is a small pool of synchronous hiredis connections
 * shared by the HTTP threads: a thread takes one for a read and gives
 * it back, so no two threads ever use one connection at once. Connections
 * are made on demand (connect timeout 200 ms, command timeout 500 ms); one
 * that fails is closed, and the whole read is tried once more on a fresh
 * connection, since an idle pooled connection may have died with a Redis
 * restart. Every read is one pipelined round trip: its commands are all
 * written, then all their replies read. Every failure to talk to Redis is
 * GAU_EUNAVAIL, never a "no".
 */
#ifndef GAU_EDGE_REDIS_H
#define GAU_EDGE_REDIS_H

#include <jansson.h>

struct edge_redis;

/*
 * A pool for url "redis://[:password@]host[:port][/db]" keeping at most
 * idle_max idle connections. Returns NULL (logged) when the URL is not
 * one. Nothing connects yet.
 */
struct edge_redis *edge_redis_new(const char *url, int idle_max);
void edge_redis_free(struct edge_redis *r);

/* PING. Returns 0 or GAU_EUNAVAIL. */
int edge_redis_ping(struct edge_redis *r);

/*
 * Checks that session sid of user sub is active: the hash
 * gau:authorization:session:<sid> has status "active" and user_id sub.
 * Returns 0; GAU_EUNAUTH when it is revoked, belongs to someone else, or is
 * missing while gau:authorization:ready is set; GAU_EUNAVAIL when the
 * marker is missing too (projections not built) or Redis fails. The
 * session and the marker are asked for in one round trip.
 */
int edge_redis_session_check(struct edge_redis *r, const char *sid,
                             const char *sub);

/*
 * Checks session sid of user sub as edge_redis_session_check does and
 * reads gau:account:user:<sub> into a JSON profile (see
 * edge_profile_json), all in one round trip. *session gets the session
 * check's result. When it is 0, returns 0 with *out a new reference;
 * GAU_ENOTFOUND when the hash is missing and gau:account:ready is set;
 * GAU_EUNAVAIL when the marker is missing too or Redis fails; GAU_EPROTO
 * when the hash does not hold a valid profile. Otherwise returns
 * *session, and *out is NULL.
 */
int edge_redis_profile(struct edge_redis *r, const char *sid,
                       const char *sub, int *session, json_t **out);

#endif
