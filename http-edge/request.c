#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

#include "core/err.h"
#include "core/jwt.h"
#include "core/mem.h"
#include "gau_schema.h"
#include "http-edge/request.h"

int edge_http_status(int rc)
{
    switch (rc) {
    case GAU_OK:
        return 200;
    case GAU_EINVAL:
    case GAU_EPROTO:
        return 400;
    case GAU_EUNAUTH:
        return 401;
    case GAU_EFORBIDDEN:
        return 403;
    case GAU_ENOTFOUND:
        return 404;
    case GAU_ECONFLICT:
        return 409;
    case GAU_ETOOBIG:
        return 413;
    case GAU_EUNAVAIL:
    case GAU_ESTOPPED:
        return 503;
    case GAU_ETIMEOUT:
        return 504;
    default:
        return 500;
    }
}

/*
 * json_dumps only fails when memory runs out; treat that like any other
 * allocation failure.
 */
static char *json_text(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);

    if (!s)
        abort();
    return s;
}

/*
 * Field names and messages may quote the client's bytes, cut to fit a
 * fixed buffer, possibly inside a character. jansson refuses a string
 * that is not UTF-8 (json_string gives NULL, json_object_set_new drops
 * the member), which would silently take it out of the error body, so
 * every byte that does not start a valid UTF-8 sequence becomes '?'.
 * Returns a string the caller frees.
 */
static char *utf8_clean(const char *s)
{
    char *out = xstrdup(s ? s : "");
    size_t i = 0, n = strlen(out), k;
    unsigned char c;

    while (i < n) {
        c = (unsigned char)out[i];
        k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (k <= n - i && gau_schema_utf8_chars(out + i, k) == 1) {
            i += k;
        } else {
            out[i] = '?';
            i++;
        }
    }
    return out;
}

/* Sets obj[key] = value, both made valid UTF-8 first. */
static void set_clean(json_t *obj, const char *key, const char *value)
{
    char *k = utf8_clean(key), *v = utf8_clean(value);

    json_object_set_new(obj, k, json_string(v));
    free(k);
    free(v);
}

char *edge_error_json_code(const char *code, const char *message,
                           const struct gau_field_errors *fields)
{
    json_t *root = json_object();
    json_t *err = json_object();
    json_t *fo = json_object();
    char *s;
    int i;

    for (i = 0; fields && i < fields->count; i++)
        set_clean(fo, fields->e[i].field, fields->e[i].reason);
    set_clean(err, "code", code);
    set_clean(err, "message", message);
    json_object_set_new(err, "fields", fo);
    json_object_set_new(root, "error", err);
    s = json_text(root);
    json_decref(root);
    return s;
}

char *edge_error_json(int rc, const char *message,
                      const struct gau_field_errors *fields)
{
    return edge_error_json_code(gau_err_code(rc), message, fields);
}

int edge_json_depth_ok(const char *data, size_t len, int max)
{
    int depth = 0;
    int in_str = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = data[i];

        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

int edge_json_body(const char *data, size_t len, json_t **out, char *why,
                   size_t why_len)
{
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    if (!edge_json_depth_ok(data, len, EDGE_JSON_DEPTH_MAX)) {
        snprintf(why, why_len, "JSON nested deeper than %d",
                 EDGE_JSON_DEPTH_MAX);
        return GAU_EPROTO;
    }
    /*
     * jansson rejects invalid UTF-8, NUL in strings (without
     * JSON_ALLOW_NUL), integers past int64 ("too big integer") and reals
     * that overflow a double, so all of those arrive here as errors.
     */
    v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        snprintf(why, why_len, "invalid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        return GAU_EPROTO;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(why, why_len, "the body must be a JSON object");
        return GAU_EPROTO;
    }
    *out = v;
    return 0;
}

int edge_id_header_ok(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return 0;
    for (n = 0; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];

        if (n >= max || c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return n > 0;
}

static int idem_key_ok(const char *key)
{
    size_t n;

    for (n = 0; key[n]; n++) {
        unsigned char c = (unsigned char)key[n];

        if (n >= EDGE_IDEM_KEY_MAX || c < 0x20 || c > 0x7e)
            return 0;
    }
    return n > 0;
}

int edge_idem_id(const char *key, const char *user, const char *method,
                 const char *path, char out[GAU_UUID_LEN + 1])
{
    char *data;
    char *p;
    size_t n;

    if (!key || !idem_key_ok(key))
        return GAU_EINVAL;
    if (!user)
        user = "anon";
    n = 5 + strlen(user) + 1 + strlen(method) + 1 + strlen(path) + 1 +
        strlen(key);
    data = xmalloc(n);

    /* "idem" NUL user NUL "METHOD PATH" NUL key, without a final NUL. */
    p = mempcpy(data, "idem", 5);
    p = mempcpy(p, user, strlen(user) + 1);
    p = mempcpy(p, method, strlen(method));
    *p++ = ' ';
    p = mempcpy(p, path, strlen(path) + 1);
    memcpy(p, key, strlen(key));

    gau_uuid_derive(data, n, out);
    free(data);
    return 0;
}

int edge_bearer(const char *value, const char **token)
{
    const char *t;

    *token = NULL;
    if (!value || strncasecmp(value, "Bearer ", 7) != 0)
        return GAU_EUNAUTH;
    t = value + 7;
    while (*t == ' ')
        t++;
    if (!*t)
        return GAU_EUNAUTH;
    if (strlen(t) > GAU_JWT_MAX)
        return GAU_ETOOBIG;
    *token = t;
    return 0;
}

char *edge_cookie(const char *name, const char *value, long max_age)
{
    return xasprintf("%s=%s; HttpOnly; Secure; SameSite=Strict; "
                     "Path=/api/v2; Max-Age=%ld",
                     name, value, max_age);
}

json_t *edge_json_pick(const json_t *obj, const char *const *keys)
{
    json_t *out = json_object();

    for (; *keys; keys++) {
        json_t *v = json_object_get(obj, *keys);

        if (v)
            json_object_set(out, *keys, v);
    }
    return out;
}

/* The fields of account.profile and whether each is an integer. */
static const struct {
    const char *name;
    int integer;
} profile_fields[] = {
    { "user_id", 0 },     { "username", 0 },   { "email", 0 },
    { "fullname", 0 },    { "date_of_birth", 0 }, { "gender", 0 },
    { "created_at", 1 },  { "updated_at", 1 }, { "version", 1 },
};

#define PROFILE_NFIELDS (sizeof(profile_fields) / sizeof(profile_fields[0]))

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return GAU_EPROTO;
    *out = v;
    return 0;
}

static const char *hash_get(const char *const *fields,
                            const char *const *values, size_t n,
                            const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0)
            return values[i];
    return NULL;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Packs the known fields of the hash as an account.profile map. */
static int profile_pack(msgpack_packer *pk, const char *const *fields,
                        const char *const *values, size_t n)
{
    const char *v[PROFILE_NFIELDS];
    size_t count = 0;
    size_t i;
    int64_t num;

    for (i = 0; i < PROFILE_NFIELDS; i++) {
        v[i] = hash_get(fields, values, n, profile_fields[i].name);
        if (!v[i] && strcmp(profile_fields[i].name, "fullname") == 0)
            v[i] = "";
        if (v[i])
            count++;
    }
    msgpack_pack_map(pk, count);
    for (i = 0; i < PROFILE_NFIELDS; i++) {
        if (!v[i])
            continue;
        pack_str(pk, profile_fields[i].name);
        if (!profile_fields[i].integer) {
            pack_str(pk, v[i]);
            continue;
        }
        if (parse_int(v[i], &num) < 0)
            return GAU_EPROTO;
        msgpack_pack_int64(pk, num);
    }
    return 0;
}

int edge_profile_json(const char *const *fields, const char *const *values,
                      size_t n, json_t **out)
{
    const struct gau_msg_info *info = gau_msg_find("account.profile");
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    void *st = NULL;
    int rc;

    *out = NULL;
    msgpack_sbuffer_init(&sb);
    msgpack_unpacked_init(&up);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = profile_pack(&pk, fields, values, n);
    if (rc < 0)
        goto out;
    if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) !=
        MSGPACK_UNPACK_SUCCESS) {
        rc = GAU_EINTERNAL;
        goto out;
    }
    st = xcalloc(1, info->size);
    rc = info->decode(&up.data, st, &fe);
    if (rc < 0) {
        rc = GAU_EPROTO;
        goto out;
    }
    *out = info->to_json(st);
out:
    free(st);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
