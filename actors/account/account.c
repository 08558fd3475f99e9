#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/account/account.h"
#include "actors/runtime/pgx.h"
#include "actors/runtime/projection.h"
#include "actors/runtime/tx.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/password.h"
#include "core/util.h"
#include "gau_schema.h"

struct account_ctx {
    struct gau_kdf_params kdf;
    /*
     * A hash of a password nobody knows, with the current parameters: a
     * login for an unknown user verifies against it, so that the answer
     * takes as long as for a known user with a wrong password.
     */
    char dummy[GAU_PHC_MAX];
};

#define ACCOUNT_BAD_LOGIN "invalid login or password"

/* The columns every query returning a user selects, in this order. */
#define ACCOUNT_COLS                                                         \
    "id, username, email, fullname, to_char(date_of_birth, 'YYYY-MM-DD'), " \
    "gender, round(extract(epoch from created_at) * 1000)::bigint, "         \
    "round(extract(epoch from updated_at) * 1000)::bigint, version"

/*
 * Fills a profile-shaped struct (account.profile and both events have the
 * same fields) from row 0 of res.
 */
#define ACCOUNT_FILL(dst, res)                                               \
    do {                                                                     \
        snprintf((dst)->user_id, sizeof((dst)->user_id), "%s",               \
                 pgx_str(res, 0, 0));                                        \
        (dst)->has_username = !pgx_null(res, 0, 1);                          \
        snprintf((dst)->username, sizeof((dst)->username), "%s",             \
                 pgx_str(res, 0, 1));                                        \
        (dst)->has_email = !pgx_null(res, 0, 2);                             \
        snprintf((dst)->email, sizeof((dst)->email), "%s",                   \
                 pgx_str(res, 0, 2));                                        \
        snprintf((dst)->fullname, sizeof((dst)->fullname), "%s",             \
                 pgx_str(res, 0, 3));                                        \
        (dst)->has_date_of_birth = !pgx_null(res, 0, 4);                     \
        snprintf((dst)->date_of_birth, sizeof((dst)->date_of_birth), "%s",   \
                 pgx_str(res, 0, 4));                                        \
        (dst)->has_gender = !pgx_null(res, 0, 5);                            \
        snprintf((dst)->gender, sizeof((dst)->gender), "%s",                 \
                 pgx_str(res, 0, 5));                                        \
        (dst)->created_at = pgx_i64(res, 0, 6);                              \
        (dst)->updated_at = pgx_i64(res, 0, 7);                              \
        (dst)->version = pgx_i64(res, 0, 8);                                 \
    } while (0)

/* The hash of a profile-shaped struct; absent optional fields are absent. */
#define ACCOUNT_PROJECT(ev, h)                                               \
    do {                                                                     \
        proj_hash_key(h, "gau:account:user:%s", (ev)->user_id);              \
        (h)->version = (ev)->version;                                        \
        proj_hash_str(h, "user_id", (ev)->user_id);                          \
        if ((ev)->has_username)                                              \
            proj_hash_str(h, "username", (ev)->username);                    \
        if ((ev)->has_email)                                                 \
            proj_hash_str(h, "email", (ev)->email);                          \
        proj_hash_str(h, "fullname", (ev)->fullname);                        \
        if ((ev)->has_date_of_birth)                                         \
            proj_hash_str(h, "date_of_birth", (ev)->date_of_birth);          \
        if ((ev)->has_gender)                                                \
            proj_hash_str(h, "gender", (ev)->gender);                        \
        proj_hash_i64(h, "created_at", (ev)->created_at);                    \
        proj_hash_i64(h, "updated_at", (ev)->updated_at);                    \
        proj_hash_i64(h, "version", (ev)->version);                          \
    } while (0)

int account_project_registered(const void *event, struct proj_hash *out)
{
    const struct gau_account_user_registered *ev = event;

    ACCOUNT_PROJECT(ev, out);
    return 0;
}

int account_project_updated(const void *event, struct proj_hash *out)
{
    const struct gau_account_profile_updated *ev = event;

    ACCOUNT_PROJECT(ev, out);
    return 0;
}

const char *account_conflict_message(const char *constraint,
                                     const char **field)
{
    *field = NULL;
    if (strcmp(constraint, "users_username") == 0) {
        *field = "username";
        return "username is taken";
    }
    if (strcmp(constraint, "users_email") == 0) {
        *field = "email";
        return "email is taken";
    }
    return "user already exists";
}

static const char *opt(bool has, const char *v)
{
    return has ? v : NULL;
}

static int account_insert(struct tx *tx, const struct cmd *cmd,
                          const char *id, const char *phc,
                          struct svc_result *res)
{
    static const char sql[] =
        "INSERT INTO users (id, username, email, password_hash, fullname, "
        "date_of_birth, gender, version, created_at, updated_at) "
        "VALUES ($1::uuid, $2, $3, $4, $5, $6::date, $7, 1, "
        "to_timestamp($8::double precision / 1000), "
        "to_timestamp($8::double precision / 1000)) RETURNING " ACCOUNT_COLS;
    const struct gau_account_register *in = cmd->payload;
    struct gau_account_user_registered ev;
    char now[24], cons[64] = "";
    const char *vals[8], *msg, *field;
    PGresult *r = NULL;
    int rc;

    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    vals[0] = id;
    vals[1] = opt(in->has_username, in->username);
    vals[2] = opt(in->has_email, in->email);
    vals[3] = phc;
    vals[4] = in->has_fullname ? in->fullname : "";
    vals[5] = opt(in->has_date_of_birth, in->date_of_birth);
    vals[6] = opt(in->has_gender, in->gender);
    vals[7] = now;
    rc = pgx_exec(tx->pg, sql, 8, vals, NULL, NULL, &r, cons, sizeof(cons));
    if (rc == GAU_ECONFLICT) {
        msg = account_conflict_message(cons, &field);
        if (field)
            gau_field_errors_add(&res->fields, field, "is taken");
        return svc_fail(res, rc, "%s", msg);
    }
    if (rc < 0)
        return rc;
    memset(&ev, 0, sizeof(ev));
    ACCOUNT_FILL(&ev, r);
    PQclear(r);
    return tx_append_event(tx, id, 1, &gau_account_user_registered_info, &ev);
}

static int account_register(void *vctx, struct tx *tx, const struct cmd *cmd,
                            void *reply, struct svc_result *res)
{
    struct account_ctx *ctx = vctx;
    const struct gau_account_register *in = cmd->payload;
    struct gau_account_register_reply *out = reply;
    char phc[GAU_PHC_MAX], id[GAU_UUID_LEN + 1];
    int rc;

    if (!in->has_username && !in->has_email) {
        gau_field_errors_add(&res->fields, "username",
                             "username or email is required");
        return svc_fail(res, GAU_EINVAL, "username or email is required");
    }
    rc = gau_password_hash(in->password, &ctx->kdf, phc);
    if (rc < 0)
        return svc_fail(res, GAU_EINTERNAL, "cannot hash the password");
    gau_uuid_new(id);
    rc = account_insert(tx, cmd, id, phc, res);
    memset(phc, 0, sizeof(phc));
    if (rc < 0)
        return rc;
    snprintf(out->user_id, sizeof(out->user_id), "%s", id);
    log_info("user registered user_id=%s", id);
    return 0;
}

/*
 * TODO: no attempt limit or rate limit on sign-in yet; the argon2id cost
 * (about 17 ms per try on one core) is the only brake on guessing. It
 * belongs at the edge, per account and per client address.
 */
static int account_login(void *vctx, struct tx *tx, const struct cmd *cmd,
                         void *reply, struct svc_result *res)
{
    static const char sql[] =
        "SELECT id, password_hash FROM users "
        "WHERE lower(username) = lower($1) OR lower(email) = lower($1) "
        "LIMIT 1";
    struct account_ctx *ctx = vctx;
    const struct gau_account_login *in = cmd->payload;
    struct gau_account_login_reply *out = reply;
    const char *vals[1] = { in->login };
    PGresult *r = NULL;
    int rc, found;

    rc = pgx_exec(tx->pg, sql, 1, vals, NULL, NULL, &r, NULL, 0);
    if (rc < 0)
        return rc;
    found = PQntuples(r) == 1;
    rc = gau_password_verify(found ? pgx_str(r, 0, 1) : ctx->dummy,
                             in->password);
    if (rc == GAU_EINVAL && found)
        log_error("stored password hash is not a PHC string user_id=%s",
                  pgx_str(r, 0, 0));
    if (found && rc == 0)
        snprintf(out->user_id, sizeof(out->user_id), "%s",
                 pgx_str(r, 0, 0));
    PQclear(r);
    if (!found || rc < 0) {
        log_info("login refused");
        return svc_fail(res, GAU_EUNAUTH, ACCOUNT_BAD_LOGIN);
    }
    log_info("login accepted user_id=%s", out->user_id);
    return 0;
}

static int account_update_row(struct tx *tx, const struct cmd *cmd,
                              PGresult *cur, PGresult **out)
{
    static const char sql[] =
        "UPDATE users SET fullname = $2, date_of_birth = $3::date, "
        "gender = $4, version = version + 1, "
        "updated_at = to_timestamp($5::double precision / 1000) "
        "WHERE id = $1::uuid RETURNING " ACCOUNT_COLS;
    const struct gau_account_profile_update *in = cmd->payload;
    const char *vals[5];
    char now[24];

    snprintf(now, sizeof(now), "%lld", (long long)cmd->now_ms);
    vals[0] = cmd->principal->user_id;
    vals[1] = in->has_fullname ? in->fullname : pgx_str(cur, 0, 3);
    vals[2] = in->has_date_of_birth ? in->date_of_birth
              : pgx_null(cur, 0, 4) ? NULL : pgx_str(cur, 0, 4);
    vals[3] = in->has_gender ? in->gender
              : pgx_null(cur, 0, 5) ? NULL : pgx_str(cur, 0, 5);
    vals[4] = now;
    return pgx_exec(tx->pg, sql, 5, vals, NULL, NULL, out, NULL, 0);
}

static int account_profile_update(void *vctx, struct tx *tx,
                                  const struct cmd *cmd, void *reply,
                                  struct svc_result *res)
{
    static const char sel[] =
        "SELECT " ACCOUNT_COLS " FROM users WHERE id = $1::uuid FOR UPDATE";
    struct gau_account_profile *out = reply;
    struct gau_account_profile_updated ev;
    const char *vals[1] = { cmd->principal->user_id };
    PGresult *cur = NULL, *r = NULL;
    int rc;

    rc = pgx_exec(tx->pg, sel, 1, vals, NULL, NULL, &cur, NULL, 0);
    if (rc < 0)
        return rc;
    if (PQntuples(cur) != 1) {
        PQclear(cur);
        return svc_fail(res, GAU_ENOTFOUND, "user not found");
    }
    rc = account_update_row(tx, cmd, cur, &r);
    PQclear(cur);
    if (rc < 0)
        return rc;
    memset(&ev, 0, sizeof(ev));
    ACCOUNT_FILL(&ev, r);
    ACCOUNT_FILL(out, r);
    PQclear(r);
    rc = tx_append_event(tx, ev.user_id, (int)ev.version,
                         &gau_account_profile_updated_info, &ev);
    if (rc == 0)
        log_info("profile updated user_id=%s version=%lld", ev.user_id,
                 (long long)ev.version);
    return rc;
}

/* The request hash must never be a fast hash of a password. */
static void account_redact_register(void *payload)
{
    struct gau_account_register *in = payload;

    memset(in->password, 0, sizeof(in->password));
}

/*
 * The request hash leaves the password out, so a second registration with
 * the same key and another password would match it: the stored reply is
 * sent again only when this password is the one the user was created with.
 */
static int account_replay_register(void *vctx, struct tx *tx,
                                   const struct cmd *cmd,
                                   const void *stored, struct svc_result *res)
{
    static const char sql[] =
        "SELECT password_hash FROM users WHERE id = $1::uuid";
    const struct gau_account_register *in = cmd->payload;
    const struct gau_account_register_reply *rep = stored;
    const char *vals[1] = { rep->user_id };
    PGresult *r = NULL;
    int rc;

    rc = pgx_exec(tx->pg, sql, 1, vals, NULL, NULL, &r, NULL, 0);
    if (rc < 0)
        return rc == GAU_EUNAVAIL ? rc : GAU_EINTERNAL;
    rc = PQntuples(r) == 1
             ? gau_password_verify(pgx_str(r, 0, 0), in->password)
             : GAU_ENOTFOUND;
    PQclear(r);
    if (rc == 0)
        return 0;
    if (rc == GAU_EINTERNAL)
        return svc_fail(res, rc, "cannot verify the password");
    log_info("registration replay refused user_id=%s", rep->user_id);
    return svc_fail(res, GAU_ECONFLICT, TX_REUSED);
}

static int account_init(void **out)
{
    struct account_ctx *ctx = xcalloc(1, sizeof(*ctx));
    unsigned char pw[24];
    char text[49];
    int rc;

    *out = NULL;
    rc = gau_kdf_params_from_env(&ctx->kdf);
    if (rc == 0)
        rc = gau_random(pw, sizeof(pw));
    if (rc == 0) {
        gau_hex(pw, sizeof(pw), text);
        rc = gau_password_hash(text, &ctx->kdf, ctx->dummy);
    }
    if (rc < 0) {
        log_error("cannot set up password hashing: %s", gau_strerror(rc));
        free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

static void account_fini(void *ctx)
{
    free(ctx);
}

static const struct svc_handler account_handlers[] = {
    { "account.register", account_register, false, false,
      account_redact_register, account_replay_register },
    { "account.login", account_login, true, false, NULL, NULL },
    { "account.profile_update", account_profile_update, false, false, NULL,
      NULL },
};

static const struct svc_projection account_projections[] = {
    { "account.user_registered", account_project_registered },
    { "account.profile_updated", account_project_updated },
};

const struct svc_def account_svc = {
    "account",
    account_handlers,
    sizeof(account_handlers) / sizeof(account_handlers[0]),
    account_projections,
    sizeof(account_projections) / sizeof(account_projections[0]),
    account_init,
    account_fini,
    NULL,
};
