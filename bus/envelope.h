/*
 * envelope.h - the msgpack envelope every command, event and reply travels
 * in.
 *
 * On the wire a message body is one msgpack map:
 *
 *   id        str   message id; for a command, its idempotency key (<= 64)
 *   type      str   "account.register", "account.register.reply", "error"
 *   v         int   schema version of the payload
 *   corr      str   correlation id of the request chain (<= 64)
 *   cause     str   id of the message that caused this one, or nil
 *   time      int   milliseconds since the epoch when it was created
 *   deadline  int   optional: ms since the epoch after which it is useless
 *   principal map   optional: { "user_id": str, "session_id": str }
 *   payload   map   the message itself, as the schema of `type` says
 *
 * Keys may come in any order; unknown keys are rejected.
 */
#ifndef GAU_BUS_ENVELOPE_H
#define GAU_BUS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "core/fielderr.h"

#define GAU_ENV_ID_MAX 64
#define GAU_ENV_TYPE_MAX 63
/* The largest message body a consumer accepts (bytes). */
#define GAU_ENV_BODY_MAX (256 * 1024)
/* The deepest msgpack nesting accepted anywhere in a body. */
#define GAU_ENV_DEPTH_MAX 16

struct gau_msg_info; /* generated, gau_schema.h */

struct gau_principal {
    char user_id[37];
    char session_id[37];
};

/* Everything but the payload; an open value type. */
struct gau_env_hdr {
    char id[GAU_ENV_ID_MAX + 1];
    char type[GAU_ENV_TYPE_MAX + 1];
    int version;
    char corr[GAU_ENV_ID_MAX + 1];
    char cause[GAU_ENV_ID_MAX + 1]; /* "" when absent */
    int64_t time_ms;
    int64_t deadline_ms; /* 0 when absent */
    bool has_principal;
    struct gau_principal principal;
};

struct gau_envelope {
    struct gau_env_hdr hdr;
    /* Borrowed from `unpacked`; valid until gau_envelope_release(). */
    const msgpack_object *payload;
    msgpack_unpacked unpacked;
};

/*
 * Checks that data is one well-formed msgpack value no deeper than
 * max_depth whose every declared length fits in the bytes that remain, so
 * that unpacking it can neither read past the end nor allocate more than a
 * small multiple of len. Returns 0 or GAU_EPROTO with a reason in why.
 */
int gau_msgpack_check(const void *data, size_t len, int max_depth,
                      char *why, size_t why_len);

/*
 * Decodes a message body of at most max bytes into env. On success the
 * caller releases env with gau_envelope_release(). Returns 0, GAU_ETOOBIG
 * when len > max, GAU_EPROTO when the body is not a valid envelope (why
 * names the field and the reason); on failure env holds nothing to release
 * but is safe to release.
 */
int gau_envelope_decode(struct gau_envelope *env, const void *data,
                        size_t len, size_t max, char *why, size_t why_len);

void gau_envelope_release(struct gau_envelope *env);

/*
 * Encodes hdr and a payload into out (a fresh msgpack_sbuffer the caller
 * initialised and later destroys). info->pack writes the payload struct.
 */
void gau_envelope_pack(msgpack_sbuffer *out, const struct gau_env_hdr *hdr,
                       const struct gau_msg_info *info, const void *payload);

/*
 * Encodes an error reply: type "error", payload
 * { "code": gau_err_code(rc), "message": message, "fields": {name: reason} }.
 */
void gau_envelope_pack_error(msgpack_sbuffer *out,
                             const struct gau_env_hdr *hdr, int rc,
                             const char *message,
                             const struct gau_field_errors *fields);

/* A decoded error reply. */
struct gau_error_reply {
    int rc; /* from gau_err_from_code(code) */
    char code[32];
    char message[160];
    struct gau_field_errors fields;
};

/* Decodes the payload of a type "error" envelope. 0 or GAU_EPROTO. */
int gau_error_reply_decode(const msgpack_object *payload,
                           struct gau_error_reply *out);

/* Fills hdr with a new id, the time, and corr/cause (NULL: none). */
void gau_env_hdr_init(struct gau_env_hdr *hdr, const char *type,
                      int version, const char *corr, const char *cause);

#endif
