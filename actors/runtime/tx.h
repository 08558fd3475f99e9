/*
 * tx.h - one command, one PostgreSQL transaction: the idempotency record,
 * the service's change and its events (the transactional outbox).
 *
 *   BEGIN
 *   INSERT INTO processed_commands ... ON CONFLICT (command_id) DO NOTHING
 *       (a placeholder; a second actor with the same id waits here until
 *       the first commits, then finds the row and answers from it)
 *   the handler's SQL, tx_append_event() for each event
 *   UPDATE processed_commands SET reply = <reply envelope, maybe sealed>
 *   SELECT pg_notify('gau_outbox', '')
 *   COMMIT
 *
 * A failed COMMIT on a lost connection is ambiguous: the caller never
 * re-sends it but reconnects and runs the whole command again, which the
 * idempotency record makes safe.
 */
#ifndef GAU_ACTORS_TX_H
#define GAU_ACTORS_TX_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>
#include <msgpack.h>

#include "actors/runtime/svc.h"

#define TX_EVENTS_MAX 8
#define TX_HASH_LEN 32
/* The conflict message for a command id reused with another request. */
#define TX_REUSED "idempotency key reused with a different request"

struct tx_event {
    const struct gau_msg_info *info;
    void *event; /* owned copy of the event struct */
};

/* The transaction a handler runs in; an open value type. */
struct tx {
    PGconn *pg;
    const struct cmd *cmd;
    int nevents;
    struct tx_event events[TX_EVENTS_MAX];
    /* The answer came from the idempotency record: no new events. */
    bool replayed;
};

/*
 * Appends an event of type info (the struct at event, copied) for
 * aggregate aggregate_id at aggregate_version: builds its envelope (cause
 * = the command id, corr = the command's corr) and inserts it into events.
 * Returns 0, GAU_ECONFLICT (that version of the aggregate already exists),
 * GAU_EUNAVAIL, GAU_EINTERNAL (also past TX_EVENTS_MAX).
 */
int tx_append_event(struct tx *tx, const char *aggregate_id,
                    int aggregate_version, const struct gau_msg_info *info,
                    const void *event);

/*
 * Runs command cmd with handler h of service def in one transaction on pg.
 * On 0, *reply (initialised by the caller) holds the reply body to send:
 * the new reply, the stored one of an earlier run of the same id, or an
 * error reply for a business failure; tx->events holds the events that
 * were committed (project them, then tx_release()). Returns GAU_EUNAVAIL
 * when the whole command should be tried again later (PostgreSQL lost, a
 * serialization failure or deadlock); nothing else.
 */
int tx_command(PGconn *pg, const struct svc_def *def, void *ctx,
               const struct svc_handler *h, const struct cmd *cmd,
               struct tx *tx, msgpack_sbuffer *reply);

/* Frees the event copies of tx. NULL ok. */
void tx_release(struct tx *tx);

/*
 * The request hash: SHA-256(type NUL user NUL payload), where payload is
 * the payload struct packed again by the generated packer (fields in
 * schema order, so two encodings of the same request hash the same) after
 * the handler's redact hook cleared its secrets. user is "" without a
 * principal.
 */
void tx_request_hash(const char *type, const char *user, const void *payload,
                     size_t len, unsigned char out[TX_HASH_LEN]);

#endif
