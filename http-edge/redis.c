#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "http-edge/redis.h"
#include "http-edge/request.h"

#define REDIS_CONNECT_TIMEOUT_MS 200
#define REDIS_COMMAND_TIMEOUT_MS 500
#define REDIS_HOST_MAX 255

struct edge_redis {
    char host[REDIS_HOST_MAX + 1];
    int port;
    int db;
    char *password;
    pthread_mutex_t lock;
    redisContext **idle;
    int nidle;
    int idle_max;
};

static int url_parse(struct edge_redis *r, const char *url)
{
    const char *p = url + strlen("redis://");
    const char *at, *end;
    size_t hlen;
    char *tail;

    if (strncmp(url, "redis://", 8) != 0)
        return GAU_EINVAL;
    at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));

        if (colon && at > colon + 1)
            r->password = xstrndup(colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    end = p + strcspn(p, ":/");
    hlen = (size_t)(end - p);
    if (hlen == 0 || hlen > REDIS_HOST_MAX)
        return GAU_EINVAL;
    memcpy(r->host, p, hlen);
    r->host[hlen] = '\0';
    r->port = 6379;
    if (*end == ':') {
        r->port = (int)strtol(end + 1, &tail, 10);
        if (tail == end + 1 || r->port <= 0 || r->port > 65535)
            return GAU_EINVAL;
        end = tail;
    }
    if (*end == '/' && end[1]) {
        r->db = (int)strtol(end + 1, &tail, 10);
        if (*tail || r->db < 0)
            return GAU_EINVAL;
    } else if (*end && strcmp(end, "/") != 0) {
        return GAU_EINVAL;
    }
    return 0;
}

struct edge_redis *edge_redis_new(const char *url, int idle_max)
{
    struct edge_redis *r = xcalloc(1, sizeof(*r));

    if (url_parse(r, url) < 0) {
        log_error("invalid GAU_REDIS_URL: want redis://host:port/db");
        free(r->password);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->idle_max = idle_max > 0 ? idle_max : 1;
    r->idle = xcalloc((size_t)r->idle_max, sizeof(*r->idle));
    return r;
}

void edge_redis_free(struct edge_redis *r)
{
    int i;

    if (!r)
        return;
    for (i = 0; i < r->nidle; i++)
        redisFree(r->idle[i]);
    pthread_mutex_destroy(&r->lock);
    free(r->idle);
    free(r->password);
    free(r);
}

static struct timeval ms_tv(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    return tv;
}

/* Runs a setup command on a fresh connection; 0 when it answered OK. */
static int setup_command(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *rep = redisCommand(c, fmt, arg);
    int ok = rep && rep->type == REDIS_REPLY_STATUS;

    freeReplyObject(rep);
    return ok ? 0 : GAU_EUNAVAIL;
}

static redisContext *conn_open(struct edge_redis *r)
{
    redisContext *c;
    char db[16];

    c = redisConnectWithTimeout(r->host, r->port,
                                ms_tv(REDIS_CONNECT_TIMEOUT_MS));
    if (!c || c->err) {
        log_warn("cannot connect to redis %s:%d: %s", r->host, r->port,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, ms_tv(REDIS_COMMAND_TIMEOUT_MS));
    snprintf(db, sizeof(db), "%d", r->db);
    if ((r->password && setup_command(c, "AUTH %s", r->password) < 0) ||
        (r->db && setup_command(c, "SELECT %s", db) < 0)) {
        log_warn("cannot set up redis connection to %s:%d", r->host,
                 r->port);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* An idle connection, or NULL when there is none. */
static redisContext *conn_take(struct edge_redis *r)
{
    redisContext *c = NULL;

    pthread_mutex_lock(&r->lock);
    if (r->nidle > 0)
        c = r->idle[--r->nidle];
    pthread_mutex_unlock(&r->lock);
    return c;
}

static void conn_give(struct edge_redis *r, redisContext *c)
{
    pthread_mutex_lock(&r->lock);
    if (c->err == 0 && r->nidle < r->idle_max) {
        r->idle[r->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    redisFree(c);
}

/*
 * Runs n commands (argc[i], argv[i]) as one pipeline: all are written,
 * then all replies read, so the whole costs one round trip. A pooled
 * connection that fails is dropped and the whole pipeline is run once
 * more on a fresh one; a fresh one that fails gives up. Returns 0 with
 * rep[0..n-1] filled (caller frees each with freeReplyObject; a reply
 * may be a Redis error, which the caller interprets) or GAU_EUNAVAIL,
 * logged, with every rep[i] NULL.
 */
static int pipeline(struct edge_redis *r, size_t n, const int *argc,
                    const char **const *argv, redisReply **rep)
{
    redisContext *c;
    size_t i, got;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        int pooled, ok = 1;

        c = attempt == 0 ? conn_take(r) : NULL;
        pooled = c != NULL;
        if (!c)
            c = conn_open(r);
        if (!c)
            break;
        for (i = 0; i < n && ok; i++)
            ok = redisAppendCommandArgv(c, argc[i], argv[i], NULL) ==
                 REDIS_OK;
        for (got = 0; got < n && ok; got++) {
            void *p = NULL;

            ok = redisGetReply(c, &p) == REDIS_OK && p;
            rep[got] = p;
        }
        if (ok) {
            conn_give(r, c);
            return 0;
        }
        log_warn("redis %s failed: %s", argv[0][0],
                 c->err ? c->errstr : "no reply");
        /* A broken context has err set: conn_give closes it. */
        if (!c->err)
            c->err = REDIS_ERR_OTHER;
        conn_give(r, c);
        for (i = 0; i < got; i++) {
            freeReplyObject(rep[i]);
            rep[i] = NULL;
        }
        if (!pooled)
            break;
    }
    return GAU_EUNAVAIL;
}

static void replies_free(redisReply **rep, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        freeReplyObject(rep[i]);
}

/* 1, logged, when rep is a Redis error reply; 0 otherwise. */
static int reply_error(const redisReply *rep, const char *what)
{
    if (rep->type != REDIS_REPLY_ERROR)
        return 0;
    log_warn("redis %s failed: %s", what, rep->str);
    return 1;
}

int edge_redis_ping(struct edge_redis *r)
{
    const char *argv[] = { "PING" };
    const char **argvs[] = { argv };
    int argc[] = { 1 };
    redisReply *rep[1] = { NULL };
    int rc = pipeline(r, 1, argc, argvs, rep);

    if (rc == 0 && rep[0]->type != REDIS_REPLY_STATUS) {
        reply_error(rep[0], "PING");
        rc = GAU_EUNAVAIL;
    }
    replies_free(rep, 1);
    return rc;
}

/*
 * What a missing projection means, from the EXISTS reply of its ready
 * marker: gone (rc_missing) when the marker is set, not built yet
 * (GAU_EUNAVAIL) when it is not or cannot be read.
 */
static int missing(const redisReply *rep, const char *marker, int rc_missing)
{
    if (reply_error(rep, "EXISTS") || rep->type != REDIS_REPLY_INTEGER)
        return GAU_EUNAVAIL;
    if (rep->integer > 0)
        return rc_missing;
    log_warn("redis marker %s is missing: projections not built", marker);
    return GAU_EUNAVAIL;
}

static int str_is(const redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && strlen(s) == e->len &&
           memcmp(e->str, s, e->len) == 0;
}

#define SESSION_MARKER "gau:authorization:ready"
#define ACCOUNT_MARKER "gau:account:ready"

/* The session check from the HMGET reply and its marker's EXISTS reply. */
static int session_rc(const redisReply *hmget, const redisReply *marker,
                      const char *sub)
{
    if (reply_error(hmget, "HMGET") || hmget->type != REDIS_REPLY_ARRAY ||
        hmget->elements != 2)
        return GAU_EUNAVAIL;
    if (hmget->element[0]->type == REDIS_REPLY_NIL)
        return missing(marker, SESSION_MARKER, GAU_EUNAUTH);
    if (str_is(hmget->element[0], "active") &&
        str_is(hmget->element[1], sub))
        return 0;
    return GAU_EUNAUTH;
}

/* The profile from the HGETALL reply and its marker's EXISTS reply. */
static int profile_rc(const redisReply *hgetall, const redisReply *marker,
                      json_t **out)
{
    const char **fields = NULL;
    const char **values = NULL;
    size_t i, n;
    int rc = GAU_EUNAVAIL;

    if (reply_error(hgetall, "HGETALL") ||
        hgetall->type != REDIS_REPLY_ARRAY || hgetall->elements % 2)
        goto out;
    if (hgetall->elements == 0) {
        rc = missing(marker, ACCOUNT_MARKER, GAU_ENOTFOUND);
        goto out;
    }
    n = hgetall->elements / 2;
    fields = xcalloc(n, sizeof(*fields));
    values = xcalloc(n, sizeof(*values));
    for (i = 0; i < n; i++) {
        if (hgetall->element[2 * i]->type != REDIS_REPLY_STRING ||
            hgetall->element[2 * i + 1]->type != REDIS_REPLY_STRING) {
            rc = GAU_EPROTO;
            goto out;
        }
        fields[i] = hgetall->element[2 * i]->str;
        values[i] = hgetall->element[2 * i + 1]->str;
    }
    rc = edge_profile_json(fields, values, n, out);
    if (rc < 0)
        log_error("cannot read profile from redis hash: not a valid "
                  "account.profile");
out:
    free(fields);
    free(values);
    return rc;
}

/*
 * The marker is asked for with every check although it matters only
 * when the session is missing: in the same pipeline it costs Redis a
 * lookup, while asking afterwards would cost a second round trip.
 */
int edge_redis_session_check(struct edge_redis *r, const char *sid,
                             const char *sub)
{
    char *key = xasprintf("gau:authorization:session:%s", sid);
    const char *hmget[] = { "HMGET", key, "status", "user_id" };
    const char *exists[] = { "EXISTS", SESSION_MARKER };
    const char **argvs[] = { hmget, exists };
    int argc[] = { 4, 2 };
    redisReply *rep[2] = { NULL, NULL };
    int rc = pipeline(r, 2, argc, argvs, rep);

    if (rc == 0)
        rc = session_rc(rep[0], rep[1], sub);
    replies_free(rep, 2);
    free(key);
    return rc;
}

/*
 * The profile is read in the same round trip as the session, before the
 * session is known to be active: the hash is the token's own user's, and
 * it is thrown away unless the session passes.
 */
int edge_redis_profile(struct edge_redis *r, const char *sid,
                       const char *sub, int *session, json_t **out)
{
    char *skey = xasprintf("gau:authorization:session:%s", sid);
    char *ukey = xasprintf("gau:account:user:%s", sub);
    const char *hmget[] = { "HMGET", skey, "status", "user_id" };
    const char *sready[] = { "EXISTS", SESSION_MARKER };
    const char *hgetall[] = { "HGETALL", ukey };
    const char *uready[] = { "EXISTS", ACCOUNT_MARKER };
    const char **argvs[] = { hmget, sready, hgetall, uready };
    int argc[] = { 4, 2, 2, 2 };
    redisReply *rep[4] = { NULL, NULL, NULL, NULL };
    int rc = pipeline(r, 4, argc, argvs, rep);

    *out = NULL;
    *session = rc;
    if (rc == 0)
        *session = session_rc(rep[0], rep[1], sub);
    if (*session == 0)
        rc = profile_rc(rep[2], rep[3], out);
    else
        rc = *session;
    replies_free(rep, 4);
    free(skey);
    free(ukey);
    return rc;
}
