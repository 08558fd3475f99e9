#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/runtime/pgx.h"
#include "actors/runtime/projection.h"
#include "actors/runtime/svc.h"
#include "bus/envelope.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "gau_schema.h"

/*
 * KEYS[1] the hash; ARGV[1] the event's version, ARGV[2] the expiry in
 * seconds (0 none), then field/value pairs (version among them). The
 * version check and the replace happen in one step, so two writers can
 * never leave an older state behind a newer one.
 */
static const char proj_script[] =
    "local cur = redis.call('HGET', KEYS[1], 'version')\n"
    "if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
    "if tonumber(ARGV[2]) > 0 then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 1\n";

static char proj_sha[48];

#define PROJ_BATCH 1000
#define PROJ_PROGRESS_EVERY 10000

void proj_hash_init(struct proj_hash *h)
{
    h->key[0] = '\0';
    h->version = 0;
    h->expire_s = 0;
    h->n = 0;
}

void proj_hash_key(struct proj_hash *h, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h->key, sizeof(h->key), fmt, ap);
    va_end(ap);
}

void proj_hash_str(struct proj_hash *h, const char *name, const char *value)
{
    if (h->n >= PROJ_FIELDS_MAX) {
        log_error("cannot project field '%s' of %s: too many fields", name,
                  h->key);
        return;
    }
    snprintf(h->name[h->n], sizeof(h->name[0]), "%s", name);
    snprintf(h->value[h->n], sizeof(h->value[0]), "%s", value);
    h->n++;
}

void proj_hash_i64(struct proj_hash *h, const char *name, int64_t value)
{
    char v[24];

    snprintf(v, sizeof(v), "%lld", (long long)value);
    proj_hash_str(h, name, v);
}

const char *projection_url(const char *svc)
{
    return gau_env_svc("GAU_REDIS_URL", svc, "redis://127.0.0.1:6379/0");
}

static int proj_parse_url(const char *url, char *host, size_t hsize,
                          int *port, char *pass, size_t psize, int *db)
{
    const char *p = url, *at, *slash, *colon;

    *port = 6379;
    *db = 0;
    pass[0] = '\0';
    if (strncmp(p, "redis://", 8) != 0)
        return GAU_EINVAL;
    p += 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        colon = memchr(p, ':', (size_t)(at - p));
        if (colon)
            snprintf(pass, psize, "%.*s", (int)(at - colon - 1), colon + 1);
        p = at + 1;
    }
    colon = strchr(p, ':');
    if (colon && (!slash || colon < slash)) {
        snprintf(host, hsize, "%.*s", (int)(colon - p), p);
        *port = atoi(colon + 1);
    } else {
        snprintf(host, hsize, "%.*s",
                 (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
    }
    if (slash && slash[1])
        *db = atoi(slash + 1);
    return host[0] && *port > 0 ? 0 : GAU_EINVAL;
}

/* Runs one command and checks the reply is not an error. */
static int proj_simple(redisContext *rd, int argc, const char **argv,
                       const size_t *lens, long long *integer)
{
    redisReply *r = redisCommandArgv(rd, argc, argv, lens);
    int rc = 0;

    if (!r) {
        log_error("redis %s failed: %s", argv[0], rd->errstr);
        return GAU_EUNAVAIL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("redis %s failed: %s", argv[0], r->str);
        rc = GAU_EUNAVAIL;
    } else if (integer) {
        *integer = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    }
    freeReplyObject(r);
    return rc;
}

static int proj_load_script(redisContext *rd)
{
    const char *argv[] = { "SCRIPT", "LOAD", proj_script };
    redisReply *r = redisCommandArgv(rd, 3, argv, NULL);
    int rc = 0;

    if (!r)
        return GAU_EUNAVAIL;
    if (r->type == REDIS_REPLY_STRING)
        snprintf(proj_sha, sizeof(proj_sha), "%s", r->str);
    else
        rc = GAU_EUNAVAIL;
    freeReplyObject(r);
    if (rc < 0)
        log_error("cannot load the projection script into redis");
    return rc;
}

int projection_connect(const char *url, redisContext **out)
{
    struct timeval tv = { 2, 0 };
    char host[256], pass[128], dbs[16];
    redisContext *rd;
    int port, db, rc;

    *out = NULL;
    if (proj_parse_url(url, host, sizeof(host), &port, pass, sizeof(pass),
                       &db) < 0) {
        log_error("invalid GAU_REDIS_URL: want redis://host:port/db");
        return GAU_EINVAL;
    }
    rd = redisConnectWithTimeout(host, port, tv);
    if (!rd || rd->err) {
        log_error("cannot connect to redis at %s:%d: %s", host, port,
                  rd ? rd->errstr : "out of memory");
        redisFree(rd);
        return GAU_EUNAVAIL;
    }
    redisSetTimeout(rd, tv);
    rc = 0;
    if (pass[0]) {
        const char *argv[] = { "AUTH", pass };
        rc = proj_simple(rd, 2, argv, NULL, NULL);
    }
    if (rc == 0 && db) {
        const char *argv[] = { "SELECT", dbs };
        snprintf(dbs, sizeof(dbs), "%d", db);
        rc = proj_simple(rd, 2, argv, NULL, NULL);
    }
    if (rc == 0)
        rc = proj_load_script(rd);
    if (rc < 0) {
        redisFree(rd);
        return rc;
    }
    *out = rd;
    return 0;
}

/* argv of EVALSHA for h; the arrays hold 5 + 2 * PROJ_FIELDS_MAX. */
static int proj_argv(const struct proj_hash *h, const char **argv,
                     size_t *lens, char *ver, char *exp)
{
    int argc = 0, i;

    snprintf(ver, 24, "%lld", (long long)h->version);
    snprintf(exp, 24, "%lld", (long long)h->expire_s);
    argv[argc++] = "EVALSHA";
    argv[argc++] = proj_sha;
    argv[argc++] = "1";
    argv[argc++] = h->key;
    argv[argc++] = ver;
    argv[argc++] = exp;
    for (i = 0; i < h->n; i++) {
        argv[argc++] = h->name[i];
        argv[argc++] = h->value[i];
    }
    for (i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return argc;
}

/* 1 written, 0 not, GAU_EUNAVAIL; -100 for NOSCRIPT (reload and redo). */
static int proj_reply(redisReply *r)
{
    int rc;

    if (r->type == REDIS_REPLY_INTEGER)
        rc = r->integer ? 1 : 0;
    else if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8))
        rc = -100;
    else {
        log_error("redis projection script failed: %s",
                  r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
        rc = GAU_EUNAVAIL;
    }
    return rc;
}

static int proj_write(redisContext *rd, const struct proj_hash *h)
{
    const char *argv[6 + 2 * PROJ_FIELDS_MAX];
    size_t lens[6 + 2 * PROJ_FIELDS_MAX];
    char ver[24], exp[24];
    redisReply *r;
    int argc, rc, tries;

    for (tries = 0; tries < 2; tries++) {
        argc = proj_argv(h, argv, lens, ver, exp);
        r = redisCommandArgv(rd, argc, argv, lens);
        if (!r) {
            log_error("cannot apply projection: redis: %s", rd->errstr);
            return GAU_EUNAVAIL;
        }
        rc = proj_reply(r);
        freeReplyObject(r);
        if (rc != -100)
            return rc;
        if (proj_load_script(rd) < 0)
            return GAU_EUNAVAIL;
    }
    return GAU_EUNAVAIL;
}

/* Builds the hash of an event: 0, GAU_ENOTFOUND (nothing to project). */
static int proj_build(const struct svc_def *def,
                      const struct gau_msg_info *info, const void *event,
                      struct proj_hash *h)
{
    const struct svc_projection *p = svc_find_projection(def, info->name);

    proj_hash_init(h);
    if (!p)
        return GAU_ENOTFOUND;
    return p->fn(event, h);
}

int projection_apply(redisContext *rd, const struct svc_def *def,
                     const struct gau_msg_info *info, const void *event)
{
    struct proj_hash *h = xmalloc(sizeof(*h));
    int rc;

    rc = proj_build(def, info, event, h);
    if (rc == 0)
        rc = proj_write(rd, h);
    else if (rc == GAU_ENOTFOUND)
        rc = 0;
    free(h);
    return rc;
}

/*
 * Decodes an event body into a fresh struct (*out, caller frees). Returns
 * 0 or GAU_EPROTO (logged).
 */
static int proj_decode(const void *body, size_t len,
                       const struct gau_msg_info **info, void **out)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    struct gau_envelope env;
    char why[160];
    void *ev = NULL;
    int rc;

    *out = NULL;
    rc = gau_envelope_decode(&env, body, len, GAU_ENV_BODY_MAX, why,
                             sizeof(why));
    if (rc < 0) {
        log_error("cannot project event: malformed: %s", why);
        return GAU_EPROTO;
    }
    *info = gau_msg_find(env.hdr.type);
    if (!*info || (*info)->kind != GAU_MSG_EVENT ||
        (*info)->version != env.hdr.version) {
        log_error("cannot project event: unknown type %s v%d", env.hdr.type,
                  env.hdr.version);
        rc = GAU_EPROTO;
        goto out;
    }
    ev = xcalloc(1, (*info)->size);
    if ((*info)->decode(env.payload, ev, &fe) < 0) {
        log_error("cannot project event %s %s: invalid: %s: %s",
                  env.hdr.type, env.hdr.id, fe.count ? fe.e[0].field : "",
                  fe.count ? fe.e[0].reason : "");
        free(ev);
        ev = NULL;
        rc = GAU_EPROTO;
    }
out:
    gau_envelope_release(&env);
    *out = ev;
    return rc;
}

int projection_apply_body(redisContext *rd, const struct svc_def *def,
                          const void *body, size_t len)
{
    const struct gau_msg_info *info = NULL;
    void *ev = NULL;
    int rc;

    rc = proj_decode(body, len, &info, &ev);
    if (rc == 0)
        rc = projection_apply(rd, def, info, ev);
    free(ev);
    return rc;
}

/* Appends the EVALSHA of one event body; 1 queued, 0 nothing, <0 bad. */
static int proj_queue(redisContext *rd, const struct svc_def *def,
                      const void *body, size_t len, struct proj_hash *h)
{
    const char *argv[6 + 2 * PROJ_FIELDS_MAX];
    size_t lens[6 + 2 * PROJ_FIELDS_MAX];
    const struct gau_msg_info *info = NULL;
    char ver[24], exp[24];
    void *ev = NULL;
    int rc, argc;

    rc = proj_decode(body, len, &info, &ev);
    if (rc < 0)
        return rc;
    rc = proj_build(def, info, ev, h);
    free(ev);
    if (rc == GAU_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    argc = proj_argv(h, argv, lens, ver, exp);
    redisAppendCommandArgv(rd, argc, argv, lens);
    return 1;
}

/*
 * Queues one page of event bodies and sends them to Redis without waiting
 * for the replies; *queued says how many proj_collect() is to read.
 */
static int proj_send(redisContext *rd, const struct svc_def *def,
                     PGresult *res, struct proj_stats *st,
                     proj_progress_fn progress, void *arg, int *queued)
{
    struct proj_hash *h = xmalloc(sizeof(*h));
    int rows = PQntuples(res), i, q, done = 0;

    *queued = 0;
    for (i = 0; i < rows; i++) {
        /* Binary results: the body is the bytea's bytes as they are. */
        q = PQgetisnull(res, i, 1)
                ? GAU_EPROTO
                : proj_queue(rd, def, PQgetvalue(res, i, 1),
                             (size_t)PQgetlength(res, i, 1), h);
        st->read++;
        if (q > 0)
            (*queued)++;
        else if (q == 0)
            st->skipped++;
        else
            st->bad++;
        if (progress && st->read % PROJ_PROGRESS_EVERY == 0)
            progress(st, arg);
    }
    free(h);
    while (!done) {
        if (redisBufferWrite(rd, &done) != REDIS_OK) {
            log_error("cannot apply projections: redis: %s", rd->errstr);
            return GAU_EUNAVAIL;
        }
    }
    return 0;
}

/* A bigint column of a binary result: 8 bytes, most significant first. */
static int64_t proj_be64(const char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return (int64_t)v;
}

/* Reads the replies of the queued commands of one page. */
static int proj_collect(redisContext *rd, int queued, struct proj_stats *st)
{
    redisReply *r;
    int i, q, rc = 0;

    for (i = 0; i < queued; i++) {
        if (redisGetReply(rd, (void **)&r) != REDIS_OK) {
            log_error("cannot apply projections: redis: %s", rd->errstr);
            rc = GAU_EUNAVAIL;
            break;
        }
        q = proj_reply(r);
        freeReplyObject(r);
        if (q == 1)
            st->applied++;
        else if (q == 0)
            st->skipped++;
        else
            rc = GAU_EUNAVAIL;
    }
    return rc;
}

int projection_rebuild(PGconn *pg, redisContext *rd, const struct svc_def *def,
                       struct proj_stats *st, proj_progress_fn progress,
                       void *arg)
{
    static const char sql[] =
        "SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT 1000";
    int64_t start = gau_mono_ms(), last = 0;
    char lastbuf[24];
    const char *vals[1] = { lastbuf };
    PGresult *res = NULL;
    int rc = 0, qrc, rows, queued, pending = 0;

    memset(st, 0, sizeof(*st));
    if (proj_load_script(rd) < 0)
        return GAU_EUNAVAIL;
    /*
     * Redis applies one page while the next is read from PostgreSQL and
     * sent: the replies of a page are read only after the next page went
     * out, so neither server waits for the other.
     */
    for (;;) {
        snprintf(lastbuf, sizeof(lastbuf), "%lld", (long long)last);
        /*
         * Results in binary: PostgreSQL need not write every body as hex
         * text, nor this process decode it again.
         */
        res = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 1);
        if (PQresultStatus(res) != PGRES_TUPLES_OK ||
            (PQntuples(res) > 0 && PQgetlength(res, 0, 0) != 8)) {
            log_error("cannot read events: sqlstate=%s",
                      PQresultErrorField(res, PG_DIAG_SQLSTATE)
                          ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                          : "none");
            PQclear(res);
            rc = GAU_EUNAVAIL;
            break;
        }
        rows = PQntuples(res);
        if (rows > 0)
            last = proj_be64(PQgetvalue(res, rows - 1, 0));
        rc = proj_send(rd, def, res, st, progress, arg, &queued);
        PQclear(res);
        if (rc == 0) {
            rc = proj_collect(rd, pending, st);
            pending = queued;
        }
        if (rc < 0 || rows < PROJ_BATCH)
            break;
    }
    /*
     * What was sent is read back even after a failure while the
     * connection lives: the projector keeps it, and a stale reply would
     * answer its next command.
     */
    if (pending > 0 && !rd->err) {
        qrc = proj_collect(rd, pending, st);
        if (rc == 0)
            rc = qrc;
    }
    if (rc == 0)
        rc = projection_set_ready(rd, def->name);
    st->ms = gau_mono_ms() - start;
    return rc < 0 ? GAU_EUNAVAIL : 0;
}

int projection_clear(redisContext *rd, const char *svc, uint64_t *deleted)
{
    char pattern[96], cursor[32] = "0";
    const char *scan[] = { "SCAN", cursor, "MATCH", pattern, "COUNT",
                           "1000" };
    const char *argv[1 + 1000];
    redisReply *r, *keys;
    size_t i, n;
    int rc = 0;

    *deleted = 0;
    snprintf(pattern, sizeof(pattern), "gau:%s:*", svc);
    do {
        r = redisCommandArgv(rd, 6, scan, NULL);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            log_error("cannot scan redis keys %s", pattern);
            freeReplyObject(r);
            return GAU_EUNAVAIL;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        keys = r->element[1];
        argv[0] = "UNLINK";
        /* COUNT is a hint: a reply may hold more keys than one UNLINK. */
        for (i = 0, n = 0; i < keys->elements && rc == 0; i++) {
            argv[++n] = keys->element[i]->str;
            if (n == 1000 || i + 1 == keys->elements) {
                rc = proj_simple(rd, (int)n + 1, argv, NULL, NULL);
                *deleted += n;
                n = 0;
            }
        }
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    return rc;
}

int projection_is_ready(redisContext *rd, const char *svc)
{
    char key[96];
    const char *argv[] = { "EXISTS", key };
    long long n = 0;
    int rc;

    snprintf(key, sizeof(key), "gau:%s:ready", svc);
    rc = proj_simple(rd, 2, argv, NULL, &n);
    return rc < 0 ? rc : n > 0;
}

int projection_set_ready(redisContext *rd, const char *svc)
{
    char key[96];
    const char *argv[] = { "SET", key, "1" };

    snprintf(key, sizeof(key), "gau:%s:ready", svc);
    return proj_simple(rd, 3, argv, NULL, NULL);
}
