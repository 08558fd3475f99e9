/*
 * request.h - the parts of answering an HTTP request that need no server:
 * status mapping, error bodies, JSON body checks, header checks,
 * idempotency ids, cookies, and the profile read from its Redis hash.
 *
 * Error bodies always have the same shape, and "fields" is always there
 * (an empty object when no single field is to blame), so a client can
 * read it without checking that it exists:
 *
 *   {"error":{"code":"invalid","message":"...","fields":{"email":"..."}}}
 */
#ifndef GAU_EDGE_REQUEST_H
#define GAU_EDGE_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "core/fielderr.h"
#include "core/util.h"

/* Deepest nesting of arrays and objects accepted in a JSON body. */
#define EDGE_JSON_DEPTH_MAX 32
/* Longest X-Request-ID and X-Device-ID accepted. */
#define EDGE_ID_HEADER_MAX 64
/* Longest Idempotency-Key accepted. */
#define EDGE_IDEM_KEY_MAX 255

/* The HTTP status for a gau error code (0 gives 200). */
int edge_http_status(int rc);

/*
 * The JSON error body for rc with message; fields may be NULL. The code is
 * gau_err_code(rc). Returns a string the caller frees.
 */
char *edge_error_json(int rc, const char *message,
                      const struct gau_field_errors *fields);

/*
 * The same, with the code given as text (as an error reply carries it).
 */
char *edge_error_json_code(const char *code, const char *message,
                           const struct gau_field_errors *fields);

/*
 * 1 when no array or object in the len bytes of JSON text is nested deeper
 * than max (brackets inside strings do not count), else 0.
 */
int edge_json_depth_ok(const char *data, size_t len, int max);

/*
 * Parses a request body: at most EDGE_JSON_DEPTH_MAX deep, valid UTF-8,
 * no duplicate keys, numbers that fit (a huge integer or a real that
 * overflows is an error), and an object at the top. On success *out is a
 * new reference the caller releases with json_decref. Returns 0 or
 * GAU_EPROTO with a reason for the client in why.
 */
int edge_json_body(const char *data, size_t len, json_t **out, char *why,
                   size_t why_len);

/*
 * 1 when s is 1..max characters of visible ASCII (0x21..0x7e) other than
 * '"' and '\\', so that it can be echoed and logged as it is; else 0.
 */
int edge_id_header_ok(const char *s, size_t max);

/*
 * Derives the command id for an Idempotency-Key:
 *   gau_uuid_derive("idem" NUL user NUL "METHOD PATH" NUL key)
 * with user "anon" when NULL. The key must be 1..255 characters of
 * printable ASCII (0x20..0x7e). Returns 0 or GAU_EINVAL.
 */
int edge_idem_id(const char *key, const char *user, const char *method,
                 const char *path, char out[GAU_UUID_LEN + 1]);

/*
 * Finds the token in an Authorization header value "Bearer <token>" (the
 * scheme is case-insensitive). Returns 0 with *token pointing into value,
 * GAU_EUNAUTH when the header is absent, not Bearer or empty, GAU_ETOOBIG
 * when the token is longer than GAU_JWT_MAX.
 */
int edge_bearer(const char *value, const char **token);

/*
 * A Set-Cookie value: name=value; HttpOnly; Secure; SameSite=Strict;
 * Path=/api/v2; Max-Age=max_age. Caller frees.
 */
char *edge_cookie(const char *name, const char *value, long max_age);

/*
 * A new object with only the listed keys of obj (NULL-terminated list;
 * keys obj lacks are skipped). Caller releases it.
 */
json_t *edge_json_pick(const json_t *obj, const char *const *keys);

/*
 * Builds the JSON profile from the n fields and values of a
 * gau:account:user:<id> hash: they are packed as an account.profile
 * payload (created_at, updated_at and version as integers, a missing
 * fullname as ""; fields the profile does not know are ignored), decoded
 * and validated by the generated decoder, and rendered by its to_json, so
 * that GET and PATCH answer the same shape. On success *out is a new
 * reference. Returns 0, or GAU_EPROTO when the hash does not hold a valid
 * profile.
 */
int edge_profile_json(const char *const *fields, const char *const *values,
                      size_t n, json_t **out);

#endif
