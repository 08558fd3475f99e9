/*
 * svc.h - what a service plugs into the actor runtime: its command
 * handlers, its projections, and its own setup.
 *
 * A service is one static struct svc_def (account_svc, authorization_svc).
 * The runtime decodes and checks every command before a handler sees it:
 * the handler gets the typed payload struct, runs its SQL on the command's
 * transaction (tx.h), appends events with tx_append_event() and fills the
 * reply struct. It returns 0 for success or a negative gau_err for a
 * business result (conflict, not found, unauthorized), with a message for
 * the client in res->message.
 */
#ifndef GAU_ACTORS_SVC_H
#define GAU_ACTORS_SVC_H

#include <stdbool.h>
#include <stddef.h>

#include "bus/envelope.h"
#include "core/fielderr.h"

struct tx;
struct gau_msg_info;
struct proj_hash;

/* A command as a handler sees it; everything is borrowed. */
struct cmd {
    const struct gau_env_hdr *hdr;
    const struct gau_msg_info *info;
    const void *payload;
    /* The principal, only when the publisher is trusted; else NULL. */
    const struct gau_principal *principal;
    bool trusted;
    int64_t now_ms; /* one clock reading per command */
};

/* The outcome of a handler beyond its return code. */
struct svc_result {
    char message[160];
    struct gau_field_errors fields;
    /*
     * Commit the transaction although the handler failed (its events are
     * kept, the reply is the error and nothing is stored for the command
     * id). Refresh token reuse revokes the session this way.
     */
    bool commit_on_error;
};

typedef int (*svc_handler_fn)(void *ctx, struct tx *tx, const struct cmd *cmd,
                              void *reply, struct svc_result *res);

/*
 * Decides whether the stored reply of an earlier run with the same command
 * id and request hash may answer cmd again. stored_reply is that reply
 * decoded into its typed struct (borrowed; unsealed when it was sealed).
 * Runs on the command's transaction, which changes nothing. Returns 0 to
 * send the stored reply, GAU_EUNAVAIL to try the whole command again
 * later, or another negative gau_err (with res->message) to answer with
 * that error instead: the request hash cannot see what redact() cleared,
 * and a stored reply can outlive what it grants.
 */
typedef int (*svc_replay_fn)(void *ctx, struct tx *tx, const struct cmd *cmd,
                             const void *stored_reply,
                             struct svc_result *res);

struct svc_handler {
    const char *type; /* command type, "account.register" */
    svc_handler_fn fn;
    /*
     * Changes no state: no idempotency record and no transaction beyond
     * the handler's reads (account.login).
     */
    bool readonly;
    /* The reply carries secrets: stored sealed with the service's key. */
    bool sealed;
    /*
     * Clears secret fields of a copy of the payload before the request
     * hash is computed, so that no fast hash of a password is ever stored.
     * NULL when the payload holds none worth hiding.
     */
    void (*redact)(void *payload_copy);
    /* Checks a stored reply before it is sent again; NULL: always sent. */
    svc_replay_fn replay_check;
};

/*
 * Builds the projection of one event: fills out (key, version, fields,
 * expiry). Returns 0, or GAU_ENOTFOUND when the event changes no
 * projection.
 */
typedef int (*svc_project_fn)(const void *event, struct proj_hash *out);

struct svc_projection {
    const char *type; /* event type */
    svc_project_fn fn;
};

struct svc_def {
    const char *name; /* "account" */
    const struct svc_handler *handlers;
    size_t nhandlers;
    const struct svc_projection *projections;
    size_t nprojections;
    /*
     * Reads the service's configuration (keys, TTLs) into *ctx, the value
     * handed to every handler. Returns 0 or a gau_err (logged); NULL when
     * the service needs none.
     */
    int (*init)(void **ctx);
    void (*fini)(void *ctx);
    /*
     * The 32-byte key sealing stored replies, borrowed from ctx; NULL when
     * the service stores none sealed.
     */
    const unsigned char *(*seal_key)(void *ctx);
};

/* The handler for type, or NULL. */
const struct svc_handler *svc_find_handler(const struct svc_def *def,
                                           const char *type);

/* The projection for event type, or NULL. */
const struct svc_projection *svc_find_projection(const struct svc_def *def,
                                                 const char *type);

/* Sets res->message (printf format); returns rc so handlers can return it. */
int svc_fail(struct svc_result *res, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
