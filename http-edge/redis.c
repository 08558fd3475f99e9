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
 * Runs one command given as argv. A pooled connection that fails is
 * dropped and the command is run once more on a fresh one; a fresh one
 * that fails gives up. Returns the reply (caller frees with
 * freeReplyObject) or NULL, logged, when Redis cannot be reached or
 * answers with an error.
 */
static redisReply *command(struct edge_redis *r, int argc,
                           const char **argv)
{
    redisReply *rep = NULL;
    redisContext *c;
    int attempt;

    for (attempt = 0; attempt < 2 && !rep; attempt++) {
        int pooled;

        c = attempt == 0 ? conn_take(r) : NULL;
        pooled = c != NULL;
        if (!c)
            c = conn_open(r);
        if (!c)
            return NULL;
        rep = redisCommandArgv(c, argc, argv, NULL);
        if (!rep)
            log_warn("redis %s failed: %s", argv[0], c->errstr);
        conn_give(r, c);
        if (!rep && !pooled)
            return NULL;
    }
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        log_warn("redis %s failed: %s", argv[0], rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

int edge_redis_ping(struct edge_redis *r)
{
    const char *argv[] = { "PING" };
    redisReply *rep = command(r, 1, argv);
    int ok = rep && rep->type == REDIS_REPLY_STATUS;

    freeReplyObject(rep);
    return ok ? 0 : GAU_EUNAVAIL;
}

/* 0 when key exists, GAU_ENOTFOUND when not, GAU_EUNAVAIL on failure. */
static int key_exists(struct edge_redis *r, const char *key)
{
    const char *argv[] = { "EXISTS", key };
    redisReply *rep = command(r, 2, argv);
    int rc = GAU_EUNAVAIL;

    if (rep && rep->type == REDIS_REPLY_INTEGER)
        rc = rep->integer > 0 ? 0 : GAU_ENOTFOUND;
    freeReplyObject(rep);
    return rc;
}

/* What a missing projection means: gone (rc_missing) or not built yet. */
static int missing(struct edge_redis *r, const char *marker, int rc_missing)
{
    int rc = key_exists(r, marker);

    if (rc == 0)
        return rc_missing;
    if (rc == GAU_ENOTFOUND)
        log_warn("redis marker %s is missing: projections not built",
                 marker);
    return GAU_EUNAVAIL;
}

static int str_is(const redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && strlen(s) == e->len &&
           memcmp(e->str, s, e->len) == 0;
}

int edge_redis_session_check(struct edge_redis *r, const char *sid,
                             const char *sub)
{
    char *key = xasprintf("gau:authorization:session:%s", sid);
    const char *argv[] = { "HMGET", key, "status", "user_id" };
    redisReply *rep = command(r, 4, argv);
    int rc = GAU_EUNAVAIL;

    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        goto out;
    if (rep->element[0]->type == REDIS_REPLY_NIL) {
        rc = missing(r, "gau:authorization:ready", GAU_EUNAUTH);
        goto out;
    }
    if (str_is(rep->element[0], "active") && str_is(rep->element[1], sub))
        rc = 0;
    else
        rc = GAU_EUNAUTH;
out:
    freeReplyObject(rep);
    free(key);
    return rc;
}

int edge_redis_profile(struct edge_redis *r, const char *user_id,
                       json_t **out)
{
    char *key = xasprintf("gau:account:user:%s", user_id);
    const char *argv[] = { "HGETALL", key };
    redisReply *rep = command(r, 2, argv);
    const char **fields = NULL;
    const char **values = NULL;
    size_t i, n;
    int rc = GAU_EUNAVAIL;

    *out = NULL;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements % 2)
        goto out;
    if (rep->elements == 0) {
        rc = missing(r, "gau:account:ready", GAU_ENOTFOUND);
        goto out;
    }
    n = rep->elements / 2;
    fields = xcalloc(n, sizeof(*fields));
    values = xcalloc(n, sizeof(*values));
    for (i = 0; i < n; i++) {
        if (rep->element[2 * i]->type != REDIS_REPLY_STRING ||
            rep->element[2 * i + 1]->type != REDIS_REPLY_STRING) {
            rc = GAU_EPROTO;
            goto out;
        }
        fields[i] = rep->element[2 * i]->str;
        values[i] = rep->element[2 * i + 1]->str;
    }
    rc = edge_profile_json(fields, values, n, out);
    if (rc < 0)
        log_error("cannot read profile from redis hash: not a valid "
                  "account.profile");
out:
    free(fields);
    free(values);
    freeReplyObject(rep);
    free(key);
    return rc;
}
