#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <msgpack.h>

#include "actors/runtime/actor.h"
#include "actors/runtime/pgx.h"
#include "actors/runtime/projection.h"
#include "actors/runtime/svc.h"
#include "actors/runtime/tx.h"
#include "bus/bus.h"
#include "bus/envelope.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "gau_schema.h"

struct actor {
    const struct svc_def *def;
    void *ctx;
    char name[48];
    struct bus_conn *bus;
    PGconn *pg;
    char pg_url[512];
    redisContext *rd;
    const char *trusted;
    long prefetch;
    /*
     * GAU_PROJECT_INLINE=0 leaves every projection to the projector; the
     * benchmark uses it to time the asynchronous path on its own.
     */
    long project_inline;
    volatile int *stop;
};

/* One delivery being handled. */
struct actor_msg {
    struct bus_delivery *d;
    struct gau_envelope env;
    bool decoded;
    const struct gau_msg_info *info;
    const struct svc_handler *h;
    void *payload;
    bool trusted;
};

int actor_retry_queue(const char *svc, int attempt, char *buf, size_t size)
{
    if (attempt < 0)
        attempt = 0;
    if (attempt >= GAU_BUS_RETRY_LEVELS)
        return GAU_ENOTFOUND;
    snprintf(buf, size, "%s.retry.%d", svc, attempt + 1);
    return 0;
}

void actor_reason_invalid(const struct gau_field_errors *fe, char *buf,
                          size_t size)
{
    size_t n;
    int i;

    n = (size_t)snprintf(buf, size, "invalid:");
    for (i = 0; i < fe->count && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s %s: %s",
                              i ? ";" : "", fe->e[i].field, fe->e[i].reason);
    if (fe->count == 0 && n < size)
        snprintf(buf + n, size - n, " payload rejected");
}

int actor_user_in(const char *list, const char *user)
{
    size_t ulen = strlen(user);
    const char *p = list, *end;

    if (!ulen)
        return 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        if ((size_t)(end - p) == ulen && strncmp(p, user, ulen) == 0)
            return 1;
        p = end;
    }
    return 0;
}

const char *actor_routed_key(const struct bus_delivery *d)
{
    if (strcmp(d->exchange, GAU_EXCHANGE_COMMANDS) == 0)
        return d->routing_key;
    return d->origin;
}

int actor_check_route(const struct bus_delivery *d, const char *type,
                      char *why, size_t size)
{
    const char *key = actor_routed_key(d);

    if (strcmp(key, type) == 0)
        return 0;
    /* Both come from the publisher: cut them to fit a log line. */
    snprintf(why, size, "routing key '%.64s' does not match type '%.64s'",
             key, type);
    return GAU_EPROTO;
}

static void actor_props(const struct bus_delivery *d, struct bus_props *p)
{
    memset(p, 0, sizeof(*p));
    p->message_id = d->message_id[0] ? d->message_id : NULL;
    p->correlation_id = d->correlation_id[0] ? d->correlation_id : NULL;
    p->reply_to = d->reply_to[0] ? d->reply_to : NULL;
    p->type = d->type[0] ? d->type : NULL;
}

/* Sends body to the reply queue of d, when it has one. */
static void actor_reply(struct actor *a, const struct bus_delivery *d,
                        const void *body, size_t len, const char *type)
{
    struct bus_props p;
    int rc;

    if (!d->reply_to[0])
        return;
    memset(&p, 0, sizeof(p));
    p.correlation_id = d->correlation_id[0] ? d->correlation_id : NULL;
    p.type = type;
    p.transient = true;
    rc = bus_publish(a->bus, "", d->reply_to, &p, body, len);
    if (rc < 0)
        log_warn("cannot send reply to '%s': %s", d->reply_to,
                 gau_strerror(rc));
}

static void actor_reply_error(struct actor *a, struct actor_msg *m, int code,
                              const char *message,
                              const struct gau_field_errors *fe)
{
    struct gau_env_hdr hdr;
    msgpack_sbuffer sb;

    if (!m->d->reply_to[0])
        return;
    gau_env_hdr_init(&hdr, "error", 1, m->decoded ? m->env.hdr.corr : NULL,
                     m->decoded ? m->env.hdr.id : NULL);
    msgpack_sbuffer_init(&sb);
    gau_envelope_pack_error(&sb, &hdr, code, message,
                            fe && fe->count ? fe : NULL);
    actor_reply(a, m->d, sb.data, sb.size, "error");
    msgpack_sbuffer_destroy(&sb);
}

static bool actor_is_secret(const struct gau_msg_info *info,
                            const msgpack_object *key)
{
    size_t i, n;

    if (key->type != MSGPACK_OBJECT_STR)
        return false;
    n = key->via.str.size;
    for (i = 0; i < info->fields_count; i++)
        if (info->fields[i].secret && strlen(info->fields[i].name) == n &&
            memcmp(info->fields[i].name, key->via.str.ptr, n) == 0)
            return true;
    return false;
}

/* The payload map with every secret field's value packed as nil. */
static int actor_pack_redacted(msgpack_packer *pk,
                               const struct gau_msg_info *info,
                               const msgpack_object *payload)
{
    const msgpack_object_map *m = &payload->via.map;
    int n = 0;
    uint32_t i;

    msgpack_pack_map(pk, m->size);
    for (i = 0; i < m->size; i++) {
        msgpack_pack_object(pk, m->ptr[i].key);
        if (actor_is_secret(info, &m->ptr[i].key)) {
            msgpack_pack_nil(pk);
            n++;
        } else {
            msgpack_pack_object(pk, m->ptr[i].val);
        }
    }
    return n;
}

int actor_redact_secrets(const msgpack_object *env,
                         const struct gau_msg_info *info,
                         msgpack_sbuffer *out)
{
    msgpack_packer pk;
    const msgpack_object_kv *kv;
    int n = 0;
    uint32_t i;

    if (env->type != MSGPACK_OBJECT_MAP)
        return 0;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, env->via.map.size);
    for (i = 0; i < env->via.map.size; i++) {
        kv = &env->via.map.ptr[i];
        msgpack_pack_object(&pk, kv->key);
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 7 &&
            memcmp(kv->key.via.str.ptr, "payload", 7) == 0 &&
            kv->val.type == MSGPACK_OBJECT_MAP)
            n += actor_pack_redacted(&pk, info, &kv->val);
        else
            msgpack_pack_object(&pk, kv->val);
    }
    return n;
}

/*
 * Moves the delivery to the dead queue with reason, then acks it. Returns
 * 0, or GAU_EUNAVAIL when the dead letter was not confirmed or the ack
 * failed: the delivery is then not acked, and the broker delivers it
 * again (past the queue's delivery limit it dead-letters it itself).
 */
static int actor_dead(struct actor *a, struct actor_msg *m, int code,
                      const char *reason,
                      const struct gau_field_errors *fe)
{
    struct bus_delivery *d = m->d;
    const struct gau_msg_info *info = NULL;
    const void *body = d->body ? d->body : "";
    size_t len = d->body ? d->len : 0;
    struct bus_props p;
    msgpack_sbuffer sb;
    int rc;

    log_warn("message dead-lettered: %s routing_key=%s message_id=%s",
             reason, d->routing_key, d->message_id);
    actor_props(d, &p);
    p.reason = reason;
    p.origin = actor_routed_key(d)[0] ? actor_routed_key(d) : d->routing_key;
    p.attempt = d->attempt;
    /*
     * The dead queue is durable and read by people: no password or token
     * may rest there.
     * TODO: a body that does not decode, or names an unknown type, is kept
     * as it came, since nothing says where a secret would be in it; safe
     * for now because the edge only sends envelopes it built itself.
     */
    msgpack_sbuffer_init(&sb);
    if (m->decoded)
        info = gau_msg_find(m->env.hdr.type);
    if (info && actor_redact_secrets(&m->env.unpacked.data, info, &sb) > 0) {
        body = sb.data;
        len = sb.size;
        p.redacted = true;
    }
    rc = bus_publish(a->bus, GAU_EXCHANGE_DEAD, a->def->name, &p, body, len);
    msgpack_sbuffer_destroy(&sb);
    /*
     * An ack now would lose the message: unroutable, nacked, refused or
     * unconfirmed, it is in no dead queue. Reconnecting declares the
     * topology again, which mends a missing binding.
     */
    if (rc < 0) {
        if (rc != GAU_EUNAVAIL)
            log_error("cannot dead-letter message: %s", gau_strerror(rc));
        return GAU_EUNAVAIL;
    }
    rc = bus_ack(a->bus, d->tag);
    actor_reply_error(a, m, code, reason, fe);
    return rc;
}

/*
 * Republishes the command to the next retry queue, with the principal only
 * when it was trusted: the retried message comes back from this service's
 * own user, which is trusted.
 *
 * TODO: a retried command waits in its retry queue with its payload as it
 * came, a password included, for up to 25 s: it is needed to run the
 * command again. The queue is durable, so the secret can reach the
 * broker's disk; sealing secret fields would need a key the bus shares.
 */
static int actor_retry(struct actor *a, struct actor_msg *m, const char *why)
{
    struct bus_delivery *d = m->d;
    struct gau_env_hdr hdr = m->env.hdr;
    char queue[96], reason[200];
    struct bus_props p;
    msgpack_sbuffer sb;
    int rc;

    if (actor_retry_queue(a->def->name, d->attempt, queue, sizeof(queue))) {
        snprintf(reason, sizeof(reason), "retries exhausted: %s", why);
        return actor_dead(a, m, GAU_EUNAVAIL, reason, NULL);
    }
    if (!m->trusted)
        hdr.has_principal = false;
    msgpack_sbuffer_init(&sb);
    gau_envelope_pack(&sb, &hdr, m->info, m->payload);
    actor_props(d, &p);
    /* The check of the routing key compares against this on return. */
    p.origin = actor_routed_key(d);
    p.attempt = d->attempt + 1;
    p.user_id = bus_conn_user(a->bus);
    rc = bus_publish(a->bus, "", queue, &p, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rc == GAU_EUNAVAIL)
        return rc;
    if (rc < 0) {
        log_error("cannot republish to '%s': %s", queue, gau_strerror(rc));
        snprintf(reason, sizeof(reason), "cannot retry: %s", why);
        return actor_dead(a, m, GAU_EUNAVAIL, reason, NULL);
    }
    log_warn("command will be retried: %s queue=%s", why, queue);
    return bus_ack(a->bus, d->tag);
}

/* A live Redis connection, connecting when there is none. 0 or EUNAVAIL. */
static int actor_redis(struct actor *a)
{
    if (a->rd)
        return 0;
    return projection_connect(projection_url(a->def->name), &a->rd);
}

static void actor_redis_drop(struct actor *a)
{
    redisFree(a->rd);
    a->rd = NULL;
}

/*
 * Re-applies the events a command stored when it first ran: a client
 * retrying after an answer it never got, or after a 503 for a write that
 * was saved but not shown, must find its write in its next read.
 */
static int actor_project_stored(struct actor *a, const char *command_id)
{
    static const char sql[] =
        "SELECT body FROM events WHERE causation_id = $1 ORDER BY seq";
    const char *vals[1] = { command_id };
    PGresult *res = NULL;
    unsigned char *body;
    size_t len;
    int i, rc;

    rc = pgx_exec(a->pg, sql, 1, vals, NULL, NULL, &res, NULL, 0);
    if (rc < 0)
        return GAU_EUNAVAIL;
    for (i = 0; rc == 0 && i < PQntuples(res); i++) {
        body = pgx_bytea(res, i, 0, &len);
        if (body && projection_apply_body(a->rd, a->def, body, len) ==
                        GAU_EUNAVAIL)
            rc = GAU_EUNAVAIL;
        PQfreemem(body);
    }
    PQclear(res);
    return rc;
}

/*
 * Makes the command's events readable before it is answered
 * (read-your-writes). Returns 0, or GAU_EUNAVAIL when Redis cannot be
 * written: the write is saved, and the projector shows it later.
 */
static int actor_project(struct actor *a, const struct tx *tx)
{
    int i, rc;

    if (!tx->nevents && !tx->replayed)
        return 0;
    rc = actor_redis(a);
    for (i = 0; rc == 0 && i < tx->nevents; i++)
        rc = projection_apply(a->rd, a->def, tx->events[i].info,
                              tx->events[i].event) < 0 ? GAU_EUNAVAIL : 0;
    if (rc == 0 && tx->replayed)
        rc = actor_project_stored(a, tx->cmd->hdr->id);
    if (rc < 0) {
        log_warn("cannot project %s inline; the projector will",
                 tx->cmd->info->name);
        actor_redis_drop(a);
    }
    return rc;
}

/* Decodes and checks; 1 when the command is to run, 0 handled, <0 bus. */
static int actor_check(struct actor *a, struct actor_msg *m)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    struct bus_delivery *d = m->d;
    char why[200], reason[320];
    size_t plen = strlen(a->def->name);

    if (d->too_big) {
        snprintf(reason, sizeof(reason),
                 "too big: body of %llu bytes, the limit is %d",
                 (unsigned long long)d->declared_len, GAU_ENV_BODY_MAX);
        return actor_dead(a, m, GAU_ETOOBIG, reason, NULL);
    }
    if (gau_envelope_decode(&m->env, d->body, d->len, GAU_ENV_BODY_MAX, why,
                            sizeof(why)) < 0) {
        snprintf(reason, sizeof(reason), "malformed: %s", why);
        return actor_dead(a, m, GAU_EPROTO, reason, NULL);
    }
    m->decoded = true;
    gau_log_set_corr(m->env.hdr.corr);
    if (actor_check_route(d, m->env.hdr.type, why, sizeof(why)) < 0) {
        snprintf(reason, sizeof(reason), "malformed: %s", why);
        return actor_dead(a, m, GAU_EPROTO, reason, NULL);
    }
    m->info = gau_msg_find(m->env.hdr.type);
    if (m->info && m->info->kind == GAU_MSG_COMMAND &&
        strncmp(m->info->name, a->def->name, plen) == 0 &&
        m->info->name[plen] == '.')
        m->h = svc_find_handler(a->def, m->info->name);
    if (!m->h) {
        snprintf(reason, sizeof(reason), "unknown type: %s",
                 m->env.hdr.type);
        return actor_dead(a, m, GAU_EPROTO, reason, NULL);
    }
    if (m->env.hdr.version != m->info->version) {
        snprintf(reason, sizeof(reason),
                 "unsupported version: %d of %s (want %d)",
                 m->env.hdr.version, m->info->name, m->info->version);
        return actor_dead(a, m, GAU_EPROTO, reason, NULL);
    }
    m->payload = xcalloc(1, m->info->size);
    if (m->info->decode(m->env.payload, m->payload, &fe) < 0) {
        actor_reason_invalid(&fe, reason, sizeof(reason));
        return actor_dead(a, m, GAU_EINVAL, reason, &fe);
    }
    return 1;
}

/* Principal and deadline; 1 to run, else handled (acked). */
static int actor_admit(struct actor *a, struct actor_msg *m)
{
    const struct gau_msg_info *info = m->info;
    int code = 0;
    const char *msg = NULL;

    m->trusted = actor_user_in(a->trusted, m->d->user_id) ||
                 strcmp(m->d->user_id, bus_conn_user(a->bus)) == 0;
    if (info->trusted_only && !m->trusted) {
        code = GAU_EFORBIDDEN;
        msg = "only a trusted publisher may send this command";
    } else if (info->principal_required &&
               !(m->trusted && m->env.hdr.has_principal)) {
        code = GAU_EUNAUTH;
        msg = "authentication required";
    }
    if (code) {
        log_info("command refused: %s type=%s user=%s", msg, info->name,
                 m->d->user_id);
        actor_reply_error(a, m, code, msg, NULL);
        return bus_ack(a->bus, m->d->tag) < 0 ? GAU_EUNAVAIL : 0;
    }
    if (m->env.hdr.deadline_ms && m->env.hdr.deadline_ms < gau_now_ms()) {
        log_info("command dropped: deadline passed type=%s", info->name);
        return bus_ack(a->bus, m->d->tag) < 0 ? GAU_EUNAVAIL : 0;
    }
    return 1;
}

/* Runs the command, with one immediate retry after a reconnect. */
static int actor_execute(struct actor *a, struct actor_msg *m)
{
    struct cmd cmd = { 0 };
    struct tx tx;
    msgpack_sbuffer reply;
    int rc = GAU_EUNAVAIL, tries, proj;

    cmd.hdr = &m->env.hdr;
    cmd.info = m->info;
    cmd.payload = m->payload;
    cmd.trusted = m->trusted;
    cmd.principal = m->trusted && m->env.hdr.has_principal
                        ? &m->env.hdr.principal : NULL;
    cmd.now_ms = gau_now_ms();
    msgpack_sbuffer_init(&reply);
    for (tries = 0; tries < 2 && rc == GAU_EUNAVAIL; tries++) {
        msgpack_sbuffer_clear(&reply);
        if (pgx_ensure(&a->pg, a->pg_url) < 0)
            break;
        rc = tx_command(a->pg, a->def, a->ctx, m->h, &cmd, &tx, &reply);
        if (rc == GAU_EUNAVAIL && PQstatus(a->pg) == CONNECTION_OK)
            break; /* a serialization failure: give it time */
    }
    if (rc == GAU_EUNAVAIL) {
        rc = actor_retry(a, m, "postgresql unavailable");
        goto out;
    }
    proj = a->project_inline ? actor_project(a, &tx) : 0;
    tx_release(&tx);
    rc = bus_ack(a->bus, m->d->tag);
    if (rc == 0 && proj < 0)
        actor_reply_error(a, m, GAU_EUNAVAIL,
                          "saved, but not readable yet; retry with the "
                          "same Idempotency-Key", NULL);
    else if (rc == 0)
        actor_reply(a, m->d, reply.data, reply.size, NULL);
    log_info("command handled type=%s", m->info->name);
out:
    msgpack_sbuffer_destroy(&reply);
    return rc;
}

static int actor_handle(struct actor *a, struct bus_delivery *d)
{
    struct actor_msg m;
    int rc;

    memset(&m, 0, sizeof(m));
    m.d = d;
    rc = actor_check(a, &m);
    if (rc == 1)
        rc = actor_admit(a, &m);
    if (rc == 1)
        rc = actor_execute(a, &m);
    if (m.payload) {
        /* Payloads may hold passwords and tokens. */
        memset(m.payload, 0, m.info->size);
        free(m.payload);
    }
    gau_envelope_release(&m.env);
    gau_log_set_corr(NULL);
    return rc;
}

static int actor_connect(struct actor *a)
{
    char queue[96];
    int rc;

    rc = bus_conn_open_retry(a->bus, a->stop, 0);
    if (rc < 0)
        return rc;
    rc = bus_declare_topology(a->bus, a->def->name);
    snprintf(queue, sizeof(queue), "%s.commands", a->def->name);
    if (rc == 0)
        rc = bus_consume(a->bus, queue, (int)a->prefetch, GAU_ENV_BODY_MAX);
    if (rc < 0) {
        log_error("cannot consume '%s': %s", queue, gau_strerror(rc));
        bus_conn_close(a->bus);
    } else {
        log_info("consuming '%s' prefetch=%ld", queue, a->prefetch);
    }
    return rc;
}

static int actor_setup(struct actor *a, const struct svc_def *def, int index,
                       volatile int *stop)
{
    const char *url;
    int rc;

    memset(a, 0, sizeof(*a));
    a->def = def;
    a->stop = stop;
    snprintf(a->name, sizeof(a->name), "%s.actor.%d", def->name, index);
    rc = gau_env_long("GAU_PREFETCH", ACTOR_PREFETCH_DEFAULT, 1, 1000,
                      &a->prefetch);
    if (rc == 0)
        rc = gau_env_long("GAU_PROJECT_INLINE", 1, 0, 1, &a->project_inline);
    if (rc == 0 && def->init)
        rc = def->init(&a->ctx);
    if (rc < 0)
        return rc;
    a->trusted = gau_env("GAU_TRUSTED_PUBLISHERS", "gau-edge");
    pgx_url(def->name, a->pg_url, sizeof(a->pg_url));
    url = gau_env_svc("GAU_AMQP_URL", def->name,
                      "amqp://guest:guest@127.0.0.1:5672/");
    a->bus = bus_conn_new(url, a->name);
    if (pgx_connect(a->pg_url, &a->pg) < 0)
        log_warn("starting without postgresql; will reconnect per command");
    return 0;
}

int actor_run(const struct svc_def *def, int index, volatile int *stop)
{
    struct actor a;
    struct bus_delivery d;
    int rc;

    rc = actor_setup(&a, def, index, stop);
    if (rc < 0)
        goto out;
    while (!*stop) {
        if (!bus_conn_is_open(a.bus) && actor_connect(&a) < 0) {
            if (!*stop)
                poll(NULL, 0, 1000);
            continue;
        }
        rc = bus_next(a.bus, &d, 500);
        if (rc == GAU_ETIMEOUT)
            continue;
        if (rc < 0) {
            log_warn("lost the broker connection; reconnecting");
            bus_conn_close(a.bus);
            continue;
        }
        if (actor_handle(&a, &d) == GAU_EUNAVAIL) {
            log_warn("lost the broker connection; reconnecting");
            bus_conn_close(a.bus);
        }
        bus_delivery_release(&d);
    }
    if (bus_conn_is_open(a.bus))
        bus_cancel(a.bus);
    rc = 0;
out:
    bus_conn_free(a.bus);
    PQfinish(a.pg);
    redisFree(a.rd);
    if (def->fini)
        def->fini(a.ctx);
    return rc;
}
