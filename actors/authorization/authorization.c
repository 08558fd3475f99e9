#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/authorization/authorization.h"
#include "actors/runtime/pgx.h"
#include "actors/runtime/projection.h"
#include "actors/runtime/tx.h"
#include "core/config.h"
#include "core/err.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/token.h"
#include "core/util.h"
#include "gau_schema.h"

struct authz_ctx {
    struct gau_keyset *ks;
    struct gau_jwt_config jwt;
    char issuer[128];
    char audience[128];
    long refresh_ttl_s;
    unsigned char seal[GAU_SEAL_KEY_LEN];
};

#define AUTHZ_REUSE "refresh token reuse detected; session revoked"
#define AUTHZ_BAD_TOKEN "invalid refresh token"

/* A revoked session's hash lives as long as an access token could. */
static int64_t authz_revoked_ttl(void)
{
    long ttl = 900;

    gau_env_long("GAU_ACCESS_TTL_S", 900, 1, 86400 * 30, &ttl);
    return (int64_t)ttl + 60;
}

static void authz_hash(struct proj_hash *h, const char *sid, const char *uid,
                       const char *status, int64_t version)
{
    proj_hash_key(h, "gau:authorization:session:%s", sid);
    h->version = version;
    proj_hash_str(h, "session_id", sid);
    proj_hash_str(h, "user_id", uid);
    proj_hash_str(h, "status", status);
    proj_hash_i64(h, "version", version);
}

int authz_project_opened(const void *event, struct proj_hash *out)
{
    const struct gau_authorization_session_opened *ev = event;

    authz_hash(out, ev->session_id, ev->user_id, ev->status, ev->version);
    return 0;
}

int authz_project_rotated(const void *event, struct proj_hash *out)
{
    const struct gau_authorization_token_rotated *ev = event;

    authz_hash(out, ev->session_id, ev->user_id, ev->status, ev->version);
    return 0;
}

int authz_project_revoked(const void *event, struct proj_hash *out)
{
    const struct gau_authorization_session_revoked *ev = event;

    authz_hash(out, ev->session_id, ev->user_id, ev->status, ev->version);
    out->expire_s = authz_revoked_ttl();
    return 0;
}

static int authz_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int authz_parse_seal_key(const char *hex, unsigned char key[32])
{
    int i, hi, lo;

    if (strlen(hex) != 64)
        return GAU_EINVAL;
    for (i = 0; i < 32; i++) {
        hi = authz_hexval(hex[2 * i]);
        lo = authz_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return GAU_EINVAL;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Issues the token pair of session sid into out. */
static int authz_tokens(struct authz_ctx *ctx, const struct cmd *cmd,
                        const char *sid, const char *uid,
                        const char *refresh,
                        struct gau_authorization_tokens *out,
                        struct svc_result *res)
{
    char *jwt = NULL;
    int rc;

    rc = gau_jwt_sign(ctx->ks, &ctx->jwt, uid, sid, cmd->now_ms / 1000,
                      &jwt);
    if (rc < 0)
        return svc_fail(res, GAU_EINTERNAL, "cannot sign the access token");
    snprintf(out->access_token, sizeof(out->access_token), "%s", jwt);
    snprintf(out->refresh_token, sizeof(out->refresh_token), "%s", refresh);
    snprintf(out->token_type, sizeof(out->token_type), "Bearer");
    out->expires_in = ctx->jwt.ttl_s;
    snprintf(out->session_id, sizeof(out->session_id), "%s", sid);
    snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    memset(jwt, 0, strlen(jwt));
    free(jwt);
    return 0;
}

/* Stores a new refresh token of generation gen for session sid. */
static int authz_store_token(struct authz_ctx *ctx, struct tx *tx,
                             const struct cmd *cmd, const char *sid,
                             int gen, char token[GAU_TOKEN_LEN + 1])
{
    static const char sql[] =
        "INSERT INTO refresh_tokens (token_hash, session_id, generation, "
        "created_at, expires_at) VALUES ($1, $2::uuid, $3::int, "
        "to_timestamp($4::double precision / 1000), "
        "to_timestamp($4::double precision / 1000) + $5::int * "
        "interval '1 second')";
    unsigned char hash[GAU_TOKEN_HASH_LEN];
    char g[16], now[24], ttl[24];
    const char *vals[5] = { (const char *)hash, sid, g, now, ttl };
    int lens[5] = { GAU_TOKEN_HASH_LEN, 0, 0, 0, 0 };
    int fmts[5] = { 1, 0, 0, 0, 0 };
    int rc;

    rc = gau_token_new(token);
    if (rc < 0)
        return GAU_EINTERNAL;
    gau_token_hash(token, hash);
    snprintf(g, sizeof(g), "%d", gen);
    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    snprintf(ttl, sizeof(ttl), "%ld", ctx->refresh_ttl_s);
    return pgx_exec(tx->pg, sql, 5, vals, lens, fmts, NULL, NULL, 0);
}

static int authz_session_open(void *vctx, struct tx *tx,
                              const struct cmd *cmd, void *reply,
                              struct svc_result *res)
{
    static const char sql[] =
        "INSERT INTO sessions (id, user_id, device_id, version, created_at) "
        "VALUES ($1::uuid, $2::uuid, $3, 1, "
        "to_timestamp($4::double precision / 1000))";
    struct authz_ctx *ctx = vctx;
    const struct gau_authorization_session_open *in = cmd->payload;
    struct gau_authorization_session_opened ev;
    char sid[GAU_UUID_LEN + 1], now[24], token[GAU_TOKEN_LEN + 1];
    const char *vals[4] = { sid, in->user_id,
                            in->has_device_id ? in->device_id : "", now };
    int rc;

    gau_uuid_new(sid);
    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    rc = pgx_exec(tx->pg, sql, 4, vals, NULL, NULL, NULL, NULL, 0);
    if (rc == 0)
        rc = authz_store_token(ctx, tx, cmd, sid, 1, token);
    if (rc < 0)
        return rc;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.session_id, sizeof(ev.session_id), "%s", sid);
    snprintf(ev.user_id, sizeof(ev.user_id), "%s", in->user_id);
    ev.has_device_id = in->has_device_id;
    snprintf(ev.device_id, sizeof(ev.device_id), "%s", in->device_id);
    snprintf(ev.status, sizeof(ev.status), "active");
    ev.created_at = cmd->now_ms;
    ev.version = 1;
    rc = tx_append_event(tx, sid, 1, &gau_authorization_session_opened_info,
                         &ev);
    if (rc == 0)
        rc = authz_tokens(ctx, cmd, sid, in->user_id, token, reply, res);
    memset(token, 0, sizeof(token));
    if (rc == 0)
        log_info("session opened session_id=%s user_id=%s", sid,
                 in->user_id);
    return rc;
}

/* Revokes session sid for reason; appends authorization.session_revoked. */
static int authz_revoke(struct tx *tx, const struct cmd *cmd,
                        const char *sid, const char *uid, const char *reason)
{
    static const char sql[] =
        "UPDATE sessions SET revoked_at = "
        "to_timestamp($2::double precision / 1000), revoke_reason = $3, "
        "version = version + 1 WHERE id = $1::uuid RETURNING version";
    struct gau_authorization_session_revoked ev;
    char now[24];
    const char *vals[3] = { sid, now, reason };
    PGresult *r = NULL;
    int rc;

    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    rc = pgx_exec(tx->pg, sql, 3, vals, NULL, NULL, &r, NULL, 0);
    if (rc < 0)
        return rc;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.session_id, sizeof(ev.session_id), "%s", sid);
    snprintf(ev.user_id, sizeof(ev.user_id), "%s", uid);
    snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
    snprintf(ev.status, sizeof(ev.status), "revoked");
    ev.version = PQntuples(r) ? pgx_i64(r, 0, 0) : 0;
    PQclear(r);
    log_info("session revoked session_id=%s reason=%s", sid, reason);
    return tx_append_event(tx, sid, (int)ev.version,
                           &gau_authorization_session_revoked_info, &ev);
}

/* Spends the presented token and issues the next generation. */
static int authz_rotate(struct authz_ctx *ctx, struct tx *tx,
                        const struct cmd *cmd, PGresult *cur,
                        const unsigned char *hash, void *reply,
                        struct svc_result *res)
{
    static const char spend[] =
        "UPDATE refresh_tokens SET rotated_at = "
        "to_timestamp($2::double precision / 1000) WHERE token_hash = $1";
    static const char bump[] =
        "UPDATE sessions SET version = version + 1 WHERE id = $1::uuid "
        "RETURNING version";
    struct gau_authorization_token_rotated ev;
    char now[24], token[GAU_TOKEN_LEN + 1];
    const char *sid = pgx_str(cur, 0, 0), *uid = pgx_str(cur, 0, 4);
    const char *vals[2] = { (const char *)hash, now };
    int lens[2] = { GAU_TOKEN_HASH_LEN, 0 }, fmts[2] = { 1, 0 };
    int gen = (int)pgx_i64(cur, 0, 1) + 1, rc;
    PGresult *r = NULL;

    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    rc = pgx_exec(tx->pg, spend, 2, vals, lens, fmts, NULL, NULL, 0);
    if (rc == 0)
        rc = authz_store_token(ctx, tx, cmd, sid, gen, token);
    if (rc == 0)
        rc = pgx_exec(tx->pg, bump, 1, &sid, NULL, NULL, &r, NULL, 0);
    if (rc < 0)
        return rc;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.session_id, sizeof(ev.session_id), "%s", sid);
    snprintf(ev.user_id, sizeof(ev.user_id), "%s", uid);
    ev.generation = gen;
    snprintf(ev.status, sizeof(ev.status), "active");
    ev.version = PQntuples(r) ? pgx_i64(r, 0, 0) : 0;
    PQclear(r);
    rc = tx_append_event(tx, sid, (int)ev.version,
                         &gau_authorization_token_rotated_info, &ev);
    if (rc == 0)
        rc = authz_tokens(ctx, cmd, sid, uid, token, reply, res);
    memset(token, 0, sizeof(token));
    if (rc == 0)
        log_info("refresh token rotated session_id=%s generation=%d", sid,
                 gen);
    return rc;
}

static int authz_token_refresh(void *vctx, struct tx *tx,
                               const struct cmd *cmd, void *reply,
                               struct svc_result *res)
{
    static const char sql[] =
        "SELECT t.session_id, t.generation, t.rotated_at IS NOT NULL, "
        "t.expires_at <= to_timestamp($2::double precision / 1000), "
        "s.user_id, s.revoked_at IS NOT NULL FROM refresh_tokens t "
        "JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1 "
        "FOR UPDATE";
    const struct gau_authorization_token_refresh *in = cmd->payload;
    unsigned char hash[GAU_TOKEN_HASH_LEN];
    char now[24];
    const char *vals[2] = { (const char *)hash, now };
    int lens[2] = { GAU_TOKEN_HASH_LEN, 0 }, fmts[2] = { 1, 0 };
    PGresult *cur = NULL;
    int rc;

    gau_token_hash(in->refresh_token, hash);
    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    rc = pgx_exec(tx->pg, sql, 2, vals, lens, fmts, &cur, NULL, 0);
    if (rc < 0)
        return rc;
    if (PQntuples(cur) != 1)
        rc = svc_fail(res, GAU_EUNAUTH, AUTHZ_BAD_TOKEN);
    else if (strcmp(pgx_str(cur, 0, 5), "t") == 0)
        rc = svc_fail(res, GAU_EUNAUTH, "session revoked");
    else if (strcmp(pgx_str(cur, 0, 2), "t") == 0) {
        log_warn("refresh token reuse session_id=%s", pgx_str(cur, 0, 0));
        rc = authz_revoke(tx, cmd, pgx_str(cur, 0, 0), pgx_str(cur, 0, 4),
                          "refresh_token_reuse");
        if (rc == 0) {
            res->commit_on_error = true;
            rc = svc_fail(res, GAU_EUNAUTH, AUTHZ_REUSE);
        }
    } else if (strcmp(pgx_str(cur, 0, 3), "t") == 0)
        rc = svc_fail(res, GAU_EUNAUTH, "refresh token expired");
    else
        rc = authz_rotate(vctx, tx, cmd, cur, hash, reply, res);
    PQclear(cur);
    return rc;
}

static int authz_session_revoke(void *vctx, struct tx *tx,
                                const struct cmd *cmd, void *reply,
                                struct svc_result *res)
{
    static const char sql[] =
        "SELECT user_id, revoked_at IS NOT NULL FROM sessions "
        "WHERE id = $1::uuid FOR UPDATE";
    const struct gau_authorization_session_revoke *in = cmd->payload;
    struct gau_authorization_session_revoke_reply *out = reply;
    const char *sid = in->has_session_id ? in->session_id
                                         : cmd->principal->session_id;
    const char *vals[1] = { sid };
    PGresult *cur = NULL;
    int rc;

    if (!gau_uuid_valid(sid))
        return svc_fail(res, GAU_ENOTFOUND, "session not found");
    rc = pgx_exec(tx->pg, sql, 1, vals, NULL, NULL, &cur, NULL, 0);
    if (rc < 0)
        return rc;
    if (PQntuples(cur) != 1 ||
        strcasecmp(pgx_str(cur, 0, 0), cmd->principal->user_id) != 0)
        rc = svc_fail(res, GAU_ENOTFOUND, "session not found");
    else if (strcmp(pgx_str(cur, 0, 1), "t") != 0)
        rc = authz_revoke(tx, cmd, sid, pgx_str(cur, 0, 0), "logout");
    PQclear(cur);
    if (rc == 0)
        snprintf(out->session_id, sizeof(out->session_id), "%s", sid);
    return rc;
}

/*
 * Stored token replies outlive their session: a login or refresh repeated
 * with the same key after a logout must not hand out tokens of a session
 * that has ended.
 */
static int authz_replay_tokens(void *vctx, struct tx *tx,
                               const struct cmd *cmd, const void *stored,
                               struct svc_result *res)
{
    static const char sql[] =
        "SELECT revoked_at IS NULL FROM sessions WHERE id = $1::uuid";
    const struct gau_authorization_tokens *rep = stored;
    const char *vals[1] = { rep->session_id };
    PGresult *r = NULL;
    int rc, live;

    rc = pgx_exec(tx->pg, sql, 1, vals, NULL, NULL, &r, NULL, 0);
    if (rc < 0)
        return rc == GAU_EUNAVAIL ? rc : GAU_EINTERNAL;
    live = PQntuples(r) == 1 && strcmp(pgx_str(r, 0, 0), "t") == 0;
    PQclear(r);
    if (live)
        return 0;
    log_info("token replay refused session_id=%s", rep->session_id);
    return svc_fail(res, GAU_ECONFLICT,
                    "this Idempotency-Key belongs to a session that has "
                    "ended");
}

static int authz_load_keys(struct authz_ctx *ctx)
{
    const char *path = gau_env("GAU_JWT_PRIVATE_KEY_FILE", NULL);
    char *hex;
    int rc;

    if (!path) {
        log_error("GAU_JWT_PRIVATE_KEY_FILE is not set");
        return GAU_EINVAL;
    }
    ctx->ks = gau_keyset_new();
    rc = gau_keyset_add_pem_file(ctx->ks, path, 1);
    if (rc < 0) {
        log_error("cannot load the signing key from '%s': %s", path,
                  gau_strerror(rc));
        return rc;
    }
    hex = gau_secret("GAU_SEAL_KEY", 256);
    rc = hex ? authz_parse_seal_key(hex, ctx->seal) : GAU_EINVAL;
    if (hex) {
        memset(hex, 0, strlen(hex));
        free(hex);
    }
    if (rc < 0)
        log_error("cannot read the seal key: GAU_SEAL_KEY_FILE must name a "
                  "file of 64 hex characters");
    return rc;
}

static void authz_fini(void *vctx)
{
    struct authz_ctx *ctx = vctx;

    if (!ctx)
        return;
    gau_keyset_free(ctx->ks);
    memset(ctx, 0, sizeof(*ctx));
    free(ctx);
}

static int authz_init(void **out)
{
    struct authz_ctx *ctx = xcalloc(1, sizeof(*ctx));
    long ttl = 900;
    int rc;

    *out = NULL;
    snprintf(ctx->issuer, sizeof(ctx->issuer), "%s",
             gau_env("GAU_JWT_ISSUER", "gau"));
    snprintf(ctx->audience, sizeof(ctx->audience), "%s",
             gau_env("GAU_JWT_AUDIENCE", "gau-api"));
    ctx->jwt.issuer = ctx->issuer;
    ctx->jwt.audience = ctx->audience;
    ctx->jwt.leeway_s = 30;
    rc = gau_env_long("GAU_ACCESS_TTL_S", 900, 1, 86400 * 30, &ttl);
    ctx->jwt.ttl_s = ttl;
    if (rc == 0)
        rc = gau_env_long("GAU_REFRESH_TTL_S", 2592000, 60, 86400L * 3650,
                          &ctx->refresh_ttl_s);
    if (rc == 0)
        rc = authz_load_keys(ctx);
    if (rc < 0) {
        authz_fini(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

static const unsigned char *authz_seal_key(void *vctx)
{
    struct authz_ctx *ctx = vctx;

    return ctx ? ctx->seal : NULL;
}

static const struct svc_handler authz_handlers[] = {
    { "authorization.session_open", authz_session_open, false, true, NULL,
      authz_replay_tokens },
    { "authorization.token_refresh", authz_token_refresh, false, true, NULL,
      authz_replay_tokens },
    { "authorization.session_revoke", authz_session_revoke, false, false,
      NULL, NULL },
};

static const struct svc_projection authz_projections[] = {
    { "authorization.session_opened", authz_project_opened },
    { "authorization.token_rotated", authz_project_rotated },
    { "authorization.session_revoked", authz_project_revoked },
};

const struct svc_def authorization_svc = {
    "authorization",
    authz_handlers,
    sizeof(authz_handlers) / sizeof(authz_handlers[0]),
    authz_projections,
    sizeof(authz_projections) / sizeof(authz_projections[0]),
    authz_init,
    authz_fini,
    authz_seal_key,
};
