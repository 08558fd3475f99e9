#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus/envelope.h"
#include "core/err.h"
#include "core/util.h"
#include "gau_schema.h"

/* ---- gau_msgpack_check ---------------------------------------------------
 *
 * msgpack-c's unpacker trusts every declared length and allocates the
 * element array of a container before it has seen a single element, so a
 * five-byte body can ask it for gigabytes. This walk looks at every header
 * first, without allocating, and refuses anything whose lengths cannot be
 * backed by the bytes that are actually there.
 */

struct mp_walk {
    const unsigned char *p;
    size_t len;
    size_t pos;
    int max_depth;
    char *why;
    size_t why_len;
};

static int walk_fail(struct mp_walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int walk_fail(struct mp_walk *w, const char *fmt, ...)
{
    va_list ap;

    if (w->why && w->why_len) {
        va_start(ap, fmt);
        vsnprintf(w->why, w->why_len, fmt, ap);
        va_end(ap);
    }
    return GAU_EPROTO;
}

/* Reads an n-byte big-endian length at the current position. */
static int walk_uint(struct mp_walk *w, size_t n, uint64_t *out)
{
    size_t i;

    if (w->len - w->pos < n)
        return walk_fail(w, "truncated at byte %zu", w->len);
    *out = 0;
    for (i = 0; i < n; i++)
        *out = (*out << 8) | w->p[w->pos + i];
    w->pos += n;
    return 0;
}

static int walk_skip(struct mp_walk *w, uint64_t n, const char *what,
                     size_t start)
{
    if (w->len - w->pos < n)
        return walk_fail(w, "%s of %llu bytes in %zu bytes", what,
                         (unsigned long long)n, w->len - start);
    w->pos += (size_t)n;
    return 0;
}

static int walk_value(struct mp_walk *w, int depth);

static int walk_container(struct mp_walk *w, uint64_t count, int per,
                          size_t start, int depth)
{
    uint64_t i;
    int rc;

    if (depth + 1 > w->max_depth)
        return walk_fail(w, "nested deeper than %d", w->max_depth);
    /* Every element takes at least one byte, a map entry two. */
    if (count > (w->len - w->pos) / (uint64_t)per)
        return walk_fail(w, "%s of %llu %s in %zu bytes",
                         per == 1 ? "array" : "map",
                         (unsigned long long)count,
                         per == 1 ? "elements" : "entries", w->len - start);
    for (i = 0; i < count * (uint64_t)per; i++)
        if ((rc = walk_value(w, depth + 1)) < 0)
            return rc;
    return 0;
}

/* Sizes of the fixed-width types 0xc0..0xdf after the type byte; -1 for
 * the variable ones handled in walk_value. */
static const signed char fixed_size[32] = {
    0, -1, 0, 0,        /* nil, never used, false, true */
    -1, -1, -1,         /* bin 8/16/32 */
    -1, -1, -1,         /* ext 8/16/32 */
    4, 8,               /* float 32/64 */
    1, 2, 4, 8,         /* uint 8..64 */
    1, 2, 4, 8,         /* int 8..64 */
    2, 3, 5, 9, 17,     /* fixext 1..16, with their type byte */
    -1, -1, -1,         /* str 8/16/32 */
    -1, -1, -1, -1,     /* array 16/32, map 16/32 */
};

static int walk_value(struct mp_walk *w, int depth)
{
    size_t start = w->pos;
    unsigned b;
    uint64_t n;
    int rc;

    if (w->pos >= w->len)
        return walk_fail(w, "truncated at byte %zu", w->len);
    b = w->p[w->pos++];
    if (b <= 0x7f || b >= 0xe0)
        return 0;
    if (b <= 0x8f)
        return walk_container(w, b & 0x0f, 2, start, depth);
    if (b <= 0x9f)
        return walk_container(w, b & 0x0f, 1, start, depth);
    if (b <= 0xbf)
        return walk_skip(w, b & 0x1f, "str", start);
    if (b == 0xc1)
        return walk_fail(w, "invalid type byte 0xc1 at byte %zu", start);
    if (fixed_size[b - 0xc0] >= 0) {
        if (w->len - w->pos < (size_t)fixed_size[b - 0xc0])
            return walk_fail(w, "truncated at byte %zu", w->len);
        w->pos += (size_t)fixed_size[b - 0xc0];
        return 0;
    }

    switch (b) {
    case 0xc4: case 0xc5: case 0xc6:
        if ((rc = walk_uint(w, (size_t)1 << (b - 0xc4), &n)) < 0)
            return rc;
        return walk_skip(w, n, "bin", start);
    case 0xc7: case 0xc8: case 0xc9:
        if ((rc = walk_uint(w, (size_t)1 << (b - 0xc7), &n)) < 0)
            return rc;
        return walk_skip(w, n + 1, "ext", start);
    case 0xd9: case 0xda: case 0xdb:
        if ((rc = walk_uint(w, (size_t)1 << (b - 0xd9), &n)) < 0)
            return rc;
        return walk_skip(w, n, "str", start);
    case 0xdc: case 0xdd:
        if ((rc = walk_uint(w, b == 0xdc ? 2 : 4, &n)) < 0)
            return rc;
        return walk_container(w, n, 1, start, depth);
    default: /* 0xde, 0xdf */
        if ((rc = walk_uint(w, b == 0xde ? 2 : 4, &n)) < 0)
            return rc;
        return walk_container(w, n, 2, start, depth);
    }
}

int gau_msgpack_check(const void *data, size_t len, int max_depth,
                      char *why, size_t why_len)
{
    struct mp_walk w = { data, len, 0, max_depth, why, why_len };
    int rc;

    if (len == 0)
        return walk_fail(&w, "empty");
    if ((rc = walk_value(&w, 0)) < 0)
        return rc;
    if (w.pos != len)
        return walk_fail(&w, "%zu trailing bytes after byte %zu",
                         len - w.pos, w.pos);
    return 0;
}

/* ---- gau_envelope_decode ------------------------------------------------ */

enum env_key {
    K_ID, K_TYPE, K_V, K_CORR, K_CAUSE, K_TIME, K_DEADLINE, K_PRINCIPAL,
    K_PAYLOAD, K_COUNT
};

static const char *const env_keys[K_COUNT] = {
    "id", "type", "v", "corr", "cause", "time", "deadline", "principal",
    "payload"
};

static int env_fail(char *why, size_t why_len, const char *field,
                    const char *reason)
{
    if (why && why_len)
        snprintf(why, why_len, "envelope field '%s': %s", field, reason);
    return GAU_EPROTO;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    return k->type == MSGPACK_OBJECT_STR &&
           k->via.str.size == strlen(name) &&
           memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
}

/* 1 when c may appear in an id: printable ASCII, no space. */
static int id_char(int c)
{
    return c > 0x20 && c < 0x7f;
}

static int type_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Copies a str of lo..hi bytes, every byte passing ok(), into dst. */
static const char *get_str(const msgpack_object *o, size_t lo, size_t hi,
                           int (*ok)(int), char *dst)
{
    size_t i, n;

    if (o->type != MSGPACK_OBJECT_STR)
        return "must be a string";
    n = o->via.str.size;
    if (n < lo)
        return "must not be empty";
    if (n > hi)
        return "is too long";
    for (i = 0; i < n; i++)
        if (!ok((unsigned char)o->via.str.ptr[i]))
            return "contains a character that is not allowed";
    memcpy(dst, o->via.str.ptr, n);
    dst[n] = '\0';
    return NULL;
}

static const char *get_int(const msgpack_object *o, int64_t lo, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return "is out of range";
        *out = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
    } else {
        return "must be an integer";
    }
    return *out < lo ? "is out of range" : NULL;
}

static int uuid_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F') || c == '-';
}

static const char *get_principal(const msgpack_object *o,
                                 struct gau_principal *p)
{
    bool have_user = false, have_session = false;
    uint32_t i;
    size_t k;

    if (o->type != MSGPACK_OBJECT_MAP)
        return "must be a map";
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;
        const msgpack_object *val = &o->via.map.ptr[i].val;
        bool user = key_is(key, "user_id");
        char *dst = user ? p->user_id : p->session_id;

        if (!user && !key_is(key, "session_id"))
            return "unknown key";
        if (user ? have_user : have_session)
            return "duplicate key";
        if (get_str(val, GAU_UUID_LEN, GAU_UUID_LEN, uuid_char, dst) ||
            !gau_uuid_valid(dst))
            return user ? "user_id must be a UUID"
                        : "session_id must be a UUID";
        for (k = 0; k < GAU_UUID_LEN; k++)
            if (dst[k] >= 'A' && dst[k] <= 'F')
                dst[k] = (char)(dst[k] - 'A' + 'a');
        *(user ? &have_user : &have_session) = true;
    }
    if (!have_user)
        return "user_id is required";
    if (!have_session)
        return "session_id is required";
    return NULL;
}

/* Fills one header field from its value; the reason on failure. */
static const char *env_field(struct gau_envelope *env, enum env_key k,
                             const msgpack_object *v)
{
    struct gau_env_hdr *h = &env->hdr;
    const char *r;
    int64_t n;

    switch (k) {
    case K_ID:
        return get_str(v, 1, GAU_ENV_ID_MAX, id_char, h->id);
    case K_TYPE:
        return get_str(v, 1, GAU_ENV_TYPE_MAX, type_char, h->type);
    case K_V:
        if ((r = get_int(v, 1, &n)) == NULL && n > INT_MAX)
            r = "is out of range";
        h->version = r ? 0 : (int)n;
        return r;
    case K_CORR:
        return get_str(v, 0, GAU_ENV_ID_MAX, id_char, h->corr);
    case K_CAUSE:
        if (v->type == MSGPACK_OBJECT_NIL)
            return NULL;
        return get_str(v, 0, GAU_ENV_ID_MAX, id_char, h->cause);
    case K_TIME:
        return get_int(v, 0, &h->time_ms);
    case K_DEADLINE:
        return get_int(v, 0, &h->deadline_ms);
    case K_PRINCIPAL:
        if (v->type == MSGPACK_OBJECT_NIL)
            return NULL;
        if ((r = get_principal(v, &h->principal)) == NULL)
            h->has_principal = true;
        return r;
    default:
        if (v->type != MSGPACK_OBJECT_MAP)
            return "must be a map";
        env->payload = v;
        return NULL;
    }
}

static int env_fields(struct gau_envelope *env, const msgpack_object *o,
                      char *why, size_t why_len)
{
    static const enum env_key required[] = { K_ID, K_TYPE, K_V, K_TIME,
                                             K_PAYLOAD };
    bool seen[K_COUNT] = { false };
    const char *reason;
    char name[48];
    uint32_t i;
    size_t k;

    if (o->type != MSGPACK_OBJECT_MAP)
        return env_fail(why, why_len, "body", "must be a map");
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;

        for (k = 0; k < K_COUNT && !key_is(key, env_keys[k]); k++)
            ;
        if (k == K_COUNT) {
            size_t n = key->type == MSGPACK_OBJECT_STR ? key->via.str.size
                                                       : 0;
            size_t j;

            for (j = 0; j < n && j + 1 < sizeof(name); j++)
                name[j] = id_char((unsigned char)key->via.str.ptr[j])
                              ? key->via.str.ptr[j] : '?';
            name[j] = '\0';
            if (why && why_len)
                snprintf(why, why_len, "unknown envelope field '%s'", name);
            return GAU_EPROTO;
        }
        if (seen[k])
            return env_fail(why, why_len, env_keys[k], "duplicate");
        seen[k] = true;
        reason = env_field(env, (enum env_key)k, &o->via.map.ptr[i].val);
        if (reason)
            return env_fail(why, why_len, env_keys[k], reason);
    }

    for (k = 0; k < sizeof(required) / sizeof(required[0]); k++)
        if (!seen[required[k]])
            return env_fail(why, why_len, env_keys[required[k]],
                            "is required");
    if (env->hdr.corr[0] == '\0')
        memcpy(env->hdr.corr, env->hdr.id, sizeof(env->hdr.corr));
    return 0;
}

int gau_envelope_decode(struct gau_envelope *env, const void *data,
                        size_t len, size_t max, char *why, size_t why_len)
{
    msgpack_unpack_return ur;
    size_t off = 0;
    int rc;

    memset(&env->hdr, 0, sizeof(env->hdr));
    env->payload = NULL;
    msgpack_unpacked_init(&env->unpacked);
    if (why && why_len)
        why[0] = '\0';
    if (len > max) {
        if (why && why_len)
            snprintf(why, why_len, "body of %zu bytes is over the limit of "
                     "%zu", len, max);
        return GAU_ETOOBIG;
    }
    if ((rc = gau_msgpack_check(data, len, GAU_ENV_DEPTH_MAX, why,
                                why_len)) < 0)
        return rc;

    ur = msgpack_unpack_next(&env->unpacked, data, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS) {
        rc = GAU_EPROTO;
        if (why && why_len)
            snprintf(why, why_len, "cannot unpack msgpack");
        goto out;
    }
    rc = env_fields(env, &env->unpacked.data, why, why_len);

out:
    if (rc < 0) {
        gau_envelope_release(env);
        memset(&env->hdr, 0, sizeof(env->hdr));
    }
    return rc;
}

void gau_envelope_release(struct gau_envelope *env)
{
    if (!env)
        return;
    msgpack_unpacked_destroy(&env->unpacked);
    msgpack_unpacked_init(&env->unpacked);
    env->payload = NULL;
}

/* ---- packing ------------------------------------------------------------ */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Writes the header keys of a map of header keys + 1 (the payload). */
static void pack_hdr(msgpack_packer *pk, const struct gau_env_hdr *hdr,
                     const char *type, int version)
{
    size_t n = 7 + (hdr->deadline_ms != 0) + hdr->has_principal;

    msgpack_pack_map(pk, n);
    pack_str(pk, "id");
    pack_str(pk, hdr->id);
    pack_str(pk, "type");
    pack_str(pk, type);
    pack_str(pk, "v");
    msgpack_pack_int(pk, version);
    pack_str(pk, "corr");
    pack_str(pk, hdr->corr[0] ? hdr->corr : hdr->id);
    pack_str(pk, "cause");
    if (hdr->cause[0])
        pack_str(pk, hdr->cause);
    else
        msgpack_pack_nil(pk);
    pack_str(pk, "time");
    msgpack_pack_int64(pk, hdr->time_ms);
    if (hdr->deadline_ms != 0) {
        pack_str(pk, "deadline");
        msgpack_pack_int64(pk, hdr->deadline_ms);
    }
    if (hdr->has_principal) {
        pack_str(pk, "principal");
        msgpack_pack_map(pk, 2);
        pack_str(pk, "user_id");
        pack_str(pk, hdr->principal.user_id);
        pack_str(pk, "session_id");
        pack_str(pk, hdr->principal.session_id);
    }
    pack_str(pk, "payload");
}

void gau_envelope_pack(msgpack_sbuffer *out, const struct gau_env_hdr *hdr,
                       const struct gau_msg_info *info, const void *payload)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    pack_hdr(&pk, hdr, hdr->type, hdr->version);
    if (info && payload)
        info->pack(&pk, payload);
    else
        msgpack_pack_map(&pk, 0);
}

void gau_envelope_pack_error(msgpack_sbuffer *out,
                             const struct gau_env_hdr *hdr, int rc,
                             const char *message,
                             const struct gau_field_errors *fields)
{
    int n = fields ? fields->count : 0;
    msgpack_packer pk;
    int i;

    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    pack_hdr(&pk, hdr, "error", 1);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "code");
    pack_str(&pk, gau_err_code(rc));
    pack_str(&pk, "message");
    pack_str(&pk, message ? message : gau_strerror(rc));
    pack_str(&pk, "fields");
    msgpack_pack_map(&pk, n);
    for (i = 0; i < n; i++) {
        pack_str(&pk, fields->e[i].field);
        pack_str(&pk, fields->e[i].reason);
    }
}

/* ---- error replies ------------------------------------------------------ */

/* Copies a str into dst, cut to cap - 1 bytes. -1 when o is not a str. */
static int copy_str(const msgpack_object *o, char *dst, size_t cap)
{
    size_t n;

    if (o->type != MSGPACK_OBJECT_STR)
        return -1;
    n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
    memcpy(dst, o->via.str.ptr, n);
    dst[n] = '\0';
    return 0;
}

static int error_fields(const msgpack_object *o, struct gau_field_errors *f)
{
    struct gau_field_error *e;
    uint32_t i;

    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return GAU_EPROTO;
    for (i = 0; i < o->via.map.size; i++) {
        if (f->count >= GAU_FIELD_ERRORS_MAX)
            break;
        e = &f->e[f->count];
        if (copy_str(&o->via.map.ptr[i].key, e->field, sizeof(e->field)) ||
            copy_str(&o->via.map.ptr[i].val, e->reason, sizeof(e->reason)))
            return GAU_EPROTO;
        f->count++;
    }
    return 0;
}

int gau_error_reply_decode(const msgpack_object *payload,
                           struct gau_error_reply *out)
{
    bool have_code = false, have_message = false;
    uint32_t i;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!payload || payload->type != MSGPACK_OBJECT_MAP)
        return GAU_EPROTO;
    for (i = 0; i < payload->via.map.size && rc == 0; i++) {
        const msgpack_object *k = &payload->via.map.ptr[i].key;
        const msgpack_object *v = &payload->via.map.ptr[i].val;

        if (key_is(k, "code") && !have_code) {
            rc = copy_str(v, out->code, sizeof(out->code));
            have_code = true;
        } else if (key_is(k, "message") && !have_message) {
            rc = copy_str(v, out->message, sizeof(out->message));
            have_message = true;
        } else if (key_is(k, "fields") && out->fields.count == 0) {
            rc = error_fields(v, &out->fields);
        } else {
            rc = -1;
        }
    }
    if (rc < 0 || !have_code || !have_message) {
        memset(out, 0, sizeof(*out));
        return GAU_EPROTO;
    }
    out->rc = gau_err_from_code(out->code);
    return 0;
}

void gau_env_hdr_init(struct gau_env_hdr *hdr, const char *type,
                      int version, const char *corr, const char *cause)
{
    memset(hdr, 0, sizeof(*hdr));
    gau_uuid_new(hdr->id);
    snprintf(hdr->type, sizeof(hdr->type), "%s", type ? type : "");
    hdr->version = version;
    snprintf(hdr->corr, sizeof(hdr->corr), "%s", corr ? corr : hdr->id);
    snprintf(hdr->cause, sizeof(hdr->cause), "%s", cause ? cause : "");
    hdr->time_ms = gau_now_ms();
}
