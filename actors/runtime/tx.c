#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "actors/runtime/pgx.h"
#include "actors/runtime/tx.h"
#include "bus/envelope.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/token.h"
#include "gau_schema.h"

#define TX_REPLY_MAX (256 * 1024)

void tx_request_hash(const char *type, const char *user, const void *payload,
                     size_t len, unsigned char out[TX_HASH_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = TX_HASH_LEN;

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, type, strlen(type) + 1);
    EVP_DigestUpdate(md, user, strlen(user) + 1);
    EVP_DigestUpdate(md, payload, len);
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
}

static void tx_hash_cmd(const struct svc_handler *h, const struct cmd *cmd,
                        unsigned char out[TX_HASH_LEN])
{
    void *copy = xmalloc(cmd->info->size);
    msgpack_sbuffer sb;
    msgpack_packer pk;

    memcpy(copy, cmd->payload, cmd->info->size);
    if (h->redact)
        h->redact(copy);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    cmd->info->pack(&pk, copy);
    tx_request_hash(cmd->info->name,
                    cmd->principal ? cmd->principal->user_id : "", sb.data,
                    sb.size, out);
    msgpack_sbuffer_destroy(&sb);
    /* The copy may hold a password: clear it before it goes back. */
    memset(copy, 0, cmd->info->size);
    free(copy);
}

int tx_append_event(struct tx *tx, const char *aggregate_id,
                    int aggregate_version, const struct gau_msg_info *info,
                    const void *event)
{
    static const char sql[] =
        "INSERT INTO events (event_id, aggregate_id, aggregate_version, "
        "type, schema_version, body, correlation_id, causation_id, "
        "occurred_at) VALUES ($1::uuid, $2::uuid, $3::int, $4, $5::int, $6, "
        "$7, $8, to_timestamp($9::double precision / 1000))";
    char ver[16], sver[16], at[24];
    const char *vals[9];
    int lens[9] = { 0 }, fmts[9] = { 0 };
    struct gau_env_hdr hdr;
    msgpack_sbuffer sb;
    int rc;

    if (tx->nevents >= TX_EVENTS_MAX) {
        log_error("cannot append event %s: too many in one command",
                  info->name);
        return GAU_EINTERNAL;
    }
    gau_env_hdr_init(&hdr, info->name, info->version, tx->cmd->hdr->corr,
                     tx->cmd->hdr->id);
    msgpack_sbuffer_init(&sb);
    gau_envelope_pack(&sb, &hdr, info, event);
    snprintf(ver, sizeof(ver), "%d", aggregate_version);
    snprintf(sver, sizeof(sver), "%d", info->version);
    snprintf(at, sizeof(at), "%lld", (long long)hdr.time_ms);
    vals[0] = hdr.id;
    vals[1] = aggregate_id;
    vals[2] = ver;
    vals[3] = info->name;
    vals[4] = sver;
    vals[5] = sb.data;
    lens[5] = (int)sb.size;
    fmts[5] = 1;
    vals[6] = hdr.corr;
    vals[7] = hdr.cause;
    vals[8] = at;
    rc = pgx_exec(tx->pg, sql, 9, vals, lens, fmts, NULL, NULL, 0);
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0)
        return rc == GAU_EUNAVAIL ? rc
               : rc == GAU_ECONFLICT ? GAU_ECONFLICT : GAU_EINTERNAL;
    tx->events[tx->nevents].info = info;
    tx->events[tx->nevents].event = xmalloc(info->size);
    memcpy(tx->events[tx->nevents].event, event, info->size);
    tx->nevents++;
    return 0;
}

void tx_release(struct tx *tx)
{
    int i;

    if (!tx)
        return;
    for (i = 0; i < tx->nevents; i++)
        free(tx->events[i].event);
    tx->nevents = 0;
}

static void tx_reply_hdr(const struct cmd *cmd, const char *type, int version,
                         struct gau_env_hdr *hdr)
{
    gau_env_hdr_init(hdr, type, version, cmd->hdr->corr, cmd->hdr->id);
}

static void tx_error_reply(const struct cmd *cmd, int rc, const char *msg,
                           const struct gau_field_errors *fields,
                           msgpack_sbuffer *reply)
{
    struct gau_env_hdr hdr;

    tx_reply_hdr(cmd, "error", 1, &hdr);
    gau_envelope_pack_error(reply, &hdr, rc, msg[0] ? msg : gau_strerror(rc),
                            fields && fields->count ? fields : NULL);
}

static void tx_rollback(struct tx *tx)
{
    if (tx->pg && PQstatus(tx->pg) == CONNECTION_OK)
        pgx_cmd(tx->pg, "ROLLBACK");
    tx_release(tx);
}

/*
 * Puts the stored reply (plain bytes) into *reply, or the error the
 * handler's replay_check gives instead. Returns 0 or GAU_EUNAVAIL.
 */
static int tx_replay(struct tx *tx, void *ctx, const struct svc_handler *h,
                     const unsigned char *stored, size_t len,
                     msgpack_sbuffer *reply)
{
    const struct gau_msg_info *rinfo = gau_msg_find(tx->cmd->info->reply);
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    struct gau_envelope env;
    struct svc_result res;
    void *rep = NULL;
    char why[160];
    int rc = 0;

    memset(&env, 0, sizeof(env));
    memset(&res, 0, sizeof(res));
    if (!h->replay_check || !rinfo) {
        msgpack_sbuffer_write(reply, (const char *)stored, len);
        return 0;
    }
    rep = xcalloc(1, rinfo->size);
    if (gau_envelope_decode(&env, stored, len, TX_REPLY_MAX, why,
                            sizeof(why)) < 0 ||
        rinfo->decode(env.payload, rep, &fe) < 0) {
        log_error("cannot decode the stored reply of %s", h->type);
        rc = GAU_EINTERNAL;
    } else {
        rc = h->replay_check(ctx, tx, tx->cmd, rep, &res);
    }
    if (rc == 0)
        msgpack_sbuffer_write(reply, (const char *)stored, len);
    else if (rc != GAU_EUNAVAIL)
        tx_error_reply(tx->cmd, rc, res.message, &res.fields, reply);
    gau_envelope_release(&env);
    memset(rep, 0, rinfo->size);
    free(rep);
    return rc == GAU_EUNAVAIL ? rc : 0;
}

/*
 * Claims the command id. Returns 1 when this run owns it, 0 when an earlier
 * run finished (the answer is then in *reply), or a gau_err.
 */
static int tx_claim(struct tx *tx, const struct svc_def *def, void *ctx,
                    const struct svc_handler *h, const unsigned char *hash,
                    msgpack_sbuffer *reply)
{
    static const char ins[] =
        "INSERT INTO processed_commands (command_id, type, request_hash, "
        "reply) VALUES ($1, $2, $3, ''::bytea) "
        "ON CONFLICT (command_id) DO NOTHING";
    static const char sel[] =
        "SELECT request_hash, reply, sealed FROM processed_commands "
        "WHERE command_id = $1";
    const struct cmd *cmd = tx->cmd;
    const char *vals[3] = { cmd->hdr->id, cmd->info->name,
                            (const char *)hash };
    int lens[3] = { 0, 0, TX_HASH_LEN }, fmts[3] = { 0, 0, 1 };
    unsigned char *stored_hash = NULL, *body = NULL, *plain = NULL;
    size_t hlen = 0, blen = 0, plen = 0;
    PGresult *res = NULL;
    int rc;

    rc = pgx_exec(tx->pg, ins, 3, vals, lens, fmts, &res, NULL, 0);
    if (rc < 0)
        return rc;
    rc = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (rc == 1)
        return 1;
    rc = pgx_exec(tx->pg, sel, 1, vals, NULL, NULL, &res, NULL, 0);
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return GAU_EUNAVAIL;
    }
    stored_hash = pgx_bytea(res, 0, 0, &hlen);
    body = pgx_bytea(res, 0, 1, &blen);
    if (hlen != TX_HASH_LEN || memcmp(stored_hash, hash, hlen) != 0) {
        log_info("command id reused with a different request type=%s",
                 cmd->info->name);
        tx_error_reply(cmd, GAU_ECONFLICT, TX_REUSED, NULL, reply);
    } else if (strcmp(pgx_str(res, 0, 2), "t") == 0) {
        const unsigned char *key = def->seal_key ? def->seal_key(ctx) : NULL;

        if (!key || gau_unseal(key, body, blen, &plain, &plen) < 0) {
            log_error("cannot unseal the stored reply of a command");
            tx_error_reply(cmd, GAU_EINTERNAL, "", NULL, reply);
        } else {
            rc = tx_replay(tx, ctx, h, plain, plen, reply);
            memset(plain, 0, plen);
            free(plain);
        }
    } else {
        rc = tx_replay(tx, ctx, h, body, blen, reply);
    }
    if (rc == 0) {
        tx->replayed = true;
        log_info("duplicate command answered from the store type=%s",
                 cmd->info->name);
    }
    PQfreemem(stored_hash);
    PQfreemem(body);
    PQclear(res);
    return rc;
}

/* Stores the reply of a successful run. */
static int tx_store(struct tx *tx, const struct svc_def *def, void *ctx,
                    const struct svc_handler *h, const msgpack_sbuffer *rep)
{
    static const char sql[] =
        "UPDATE processed_commands SET reply = $2, sealed = $3 "
        "WHERE command_id = $1";
    const unsigned char *key = NULL;
    unsigned char *sealed = NULL;
    size_t slen = 0;
    const char *vals[3];
    int lens[3] = { 0, 0, 0 }, fmts[3] = { 0, 1, 0 };
    int rc;

    if (h->sealed) {
        key = def->seal_key ? def->seal_key(ctx) : NULL;
        if (!key) {
            log_error("cannot store reply of %s: no seal key", h->type);
            return GAU_EINTERNAL;
        }
        gau_seal(key, rep->data, rep->size, &sealed, &slen);
    }
    vals[0] = tx->cmd->hdr->id;
    vals[1] = sealed ? (const char *)sealed : rep->data;
    lens[1] = (int)(sealed ? slen : rep->size);
    vals[2] = sealed ? "true" : "false";
    rc = pgx_exec(tx->pg, sql, 3, vals, lens, fmts, NULL, NULL, 0);
    free(sealed);
    return rc;
}

static int tx_finish(struct tx *tx, bool forget)
{
    static const char del[] =
        "DELETE FROM processed_commands WHERE command_id = $1";
    const char *vals[1] = { tx->cmd->hdr->id };
    int rc = 0;

    if (forget)
        rc = pgx_exec(tx->pg, del, 1, vals, NULL, NULL, NULL, NULL, 0);
    if (rc == 0 && tx->nevents > 0)
        rc = pgx_cmd(tx->pg, "SELECT pg_notify('gau_outbox', '')");
    if (rc == 0)
        rc = pgx_cmd(tx->pg, "COMMIT");
    return rc;
}

/* Handler failed: roll back, or commit its events when it asks to. */
static int tx_failed(struct tx *tx, const struct svc_handler *h, int hrc,
                     struct svc_result *res, msgpack_sbuffer *reply)
{
    int rc;

    if (hrc == GAU_EUNAVAIL) {
        tx_rollback(tx);
        return GAU_EUNAVAIL;
    }
    if (res->commit_on_error) {
        rc = tx_finish(tx, !h->readonly);
        if (rc < 0) {
            tx_rollback(tx);
            return GAU_EUNAVAIL;
        }
    } else {
        tx_rollback(tx);
    }
    if (hrc == GAU_EINTERNAL)
        log_error("command failed: %s type=%s", gau_strerror(hrc), h->type);
    tx_error_reply(tx->cmd, hrc, res->message, &res->fields, reply);
    return 0;
}

int tx_command(PGconn *pg, const struct svc_def *def, void *ctx,
               const struct svc_handler *h, const struct cmd *cmd,
               struct tx *tx, msgpack_sbuffer *reply)
{
    const struct gau_msg_info *rinfo = gau_msg_find(cmd->info->reply);
    struct svc_result res;
    unsigned char hash[TX_HASH_LEN];
    struct gau_env_hdr hdr;
    void *rep = NULL;
    int rc, hrc;

    memset(tx, 0, sizeof(*tx));
    memset(&res, 0, sizeof(res));
    tx->pg = pg;
    tx->cmd = cmd;
    if (!rinfo) {
        log_error("no reply type %s for %s", cmd->info->reply, h->type);
        tx_error_reply(cmd, GAU_EINTERNAL, "", NULL, reply);
        return 0;
    }
    rc = pgx_cmd(pg, "BEGIN");
    if (rc < 0)
        return GAU_EUNAVAIL;
    if (!h->readonly) {
        tx_hash_cmd(h, cmd, hash);
        rc = tx_claim(tx, def, ctx, h, hash, reply);
        if (rc <= 0) {
            tx_rollback(tx);
            return rc < 0 ? GAU_EUNAVAIL : 0;
        }
    }

    rep = xcalloc(1, rinfo->size);
    hrc = h->fn(ctx, tx, cmd, rep, &res);
    if (hrc < 0) {
        rc = tx_failed(tx, h, hrc, &res, reply);
        goto out;
    }

    tx_reply_hdr(cmd, rinfo->name, rinfo->version, &hdr);
    gau_envelope_pack(reply, &hdr, rinfo, rep);
    rc = h->readonly ? 0 : tx_store(tx, def, ctx, h, reply);
    if (rc == 0)
        rc = tx_finish(tx, false);
    if (rc < 0) {
        /* The reply is not sent: the retry computes it again. */
        tx_rollback(tx);
        rc = GAU_EUNAVAIL;
    }
out:
    if (rep)
        memset(rep, 0, rinfo->size);
    free(rep);
    return rc;
}
