/*
 * fuzz_json_command.c - an HTTP request body on its way to a command.
 *
 * The first byte picks the message type (any type in the schema: the edge
 * maps bodies to commands, and gauctl publish maps JSON to any type); the
 * rest is the body. It goes through the edge's own checks and parser
 * (edge_json_body: depth, UTF-8, duplicate keys, number range) and then
 * the generated from_json of that type, as the edge does.
 *
 * Properties: a body the edge accepts, written out again by jansson, is
 * accepted again and equal; a mapping that succeeds validates, and
 * to_json -> from_json gives back the same message, which packs to the
 * same msgpack as the first, and that msgpack decodes to it as well.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "core/err.h"
#include "core/fielderr.h"
#include "core/mem.h"
#include "gau_schema.h"
#include "http-edge/request.h"
#include "tests/fuzz/fuzz.h"

static void pack(const struct gau_msg_info *info, const void *msg,
                 msgpack_sbuffer *sb)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    info->pack(&pk, msg);
}

static bool sbuf_equal(const msgpack_sbuffer *a, const msgpack_sbuffer *b)
{
    return a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

/* What jansson writes back must pass the same checks, unchanged. */
static void body_round_trip(const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_t *again = NULL;
    char why[200];

    FUZZ_CHECK(text != NULL);
    if (edge_json_body(text, strlen(text), &again, why, sizeof(why)) < 0)
        fprintf(stderr, "re-parse failed: %s\n", why);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(json_equal(body, again));
    json_decref(again);
    free(text);
}

/* msgpack of a mapped message decodes to the same message. */
static void msgpack_round_trip(const struct gau_msg_info *info,
                               const msgpack_sbuffer *packed)
{
    void *back = xcalloc(1, info->size);
    msgpack_unpacked up;
    msgpack_sbuffer sb;
    size_t off = 0;

    msgpack_unpacked_init(&up);
    FUZZ_CHECK(msgpack_unpack_next(&up, packed->data, packed->size, &off) ==
               MSGPACK_UNPACK_SUCCESS);
    FUZZ_CHECK(info->decode(&up.data, back, NULL) == 0);
    pack(info, back, &sb);
    FUZZ_CHECK(sbuf_equal(&sb, packed));
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    free(back);
}

static void mapped(const struct gau_msg_info *info, const void *first)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    void *second = xcalloc(1, info->size);
    msgpack_sbuffer sb1, sb2;
    json_t *js1, *js2;

    FUZZ_CHECK(info->validate(first, NULL) == 0);
    js1 = info->to_json(first);
    FUZZ_CHECK(js1 != NULL);
    if (info->from_json(js1, second, &fe) < 0)
        fprintf(stderr, "to_json output refused: %s: %s\n",
                fe.count ? fe.e[0].field : "?",
                fe.count ? fe.e[0].reason : "?");
    FUZZ_CHECK(fe.count == 0);
    js2 = info->to_json(second);
    FUZZ_CHECK(json_equal(js1, js2));

    pack(info, first, &sb1);
    pack(info, second, &sb2);
    FUZZ_CHECK(sbuf_equal(&sb1, &sb2));
    msgpack_round_trip(info, &sb1);

    msgpack_sbuffer_destroy(&sb1);
    msgpack_sbuffer_destroy(&sb2);
    json_decref(js1);
    json_decref(js2);
    free(second);
}

/*
 * A field name as the error body may show it: each byte that does not
 * start a valid UTF-8 sequence replaced by '?' (the rule of
 * http-edge/request.c, written again here as the specification).
 */
static void clean_name(const char *s, char *out, size_t cap)
{
    size_t i = 0, n = strnlen(s, cap - 1), k;
    unsigned char c;

    memcpy(out, s, n);
    out[n] = '\0';
    while (i < n) {
        c = (unsigned char)out[i];
        k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (k <= n - i && gau_schema_utf8_chars(out + i, k) == 1)
            i += k;
        else
            out[i++] = '?';
    }
}

/*
 * The error body a client gets is JSON with a code, the message and
 * every field named in fe, whatever bytes the request held.
 */
static void error_body(int rc, const char *message,
                       const struct gau_field_errors *fe)
{
    char *text = edge_error_json(rc, message, fe);
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    json_t *err = json_object_get(v, "error");
    json_t *fields = json_object_get(err, "fields");
    char name[sizeof(fe->e[0].field)];
    int i;

    FUZZ_CHECK(json_is_string(json_object_get(err, "code")));
    FUZZ_CHECK(json_is_string(json_object_get(err, "message")));
    FUZZ_CHECK(json_is_object(fields));
    for (i = 0; fe && i < fe->count; i++) {
        clean_name(fe->e[i].field, name, sizeof(name));
        FUZZ_CHECK(json_is_string(json_object_get(fields, name)));
    }
    json_decref(v);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    const struct gau_msg_info *info;
    json_t *body = NULL;
    char why[200] = "";
    void *msg;

    if (size < 1)
        return 0;
    info = gau_msgs[data[0] % gau_msgs_count];
    if (edge_json_body((const char *)data + 1, size - 1, &body, why,
                       sizeof(why)) < 0) {
        FUZZ_CHECK(body == NULL);
        FUZZ_CHECK(why[0] != '\0');
        fuzz_note("body refused: %s", why);
        error_body(GAU_EPROTO, why, NULL);
        return 0;
    }
    FUZZ_CHECK(json_is_object(body));
    body_round_trip(body);

    msg = xcalloc(1, info->size);
    if (info->from_json(body, msg, &fe) < 0) {
        FUZZ_CHECK(fe.count > 0);
        fuzz_note("%s refused: %s: %s", info->name, fe.e[0].field,
                  fe.e[0].reason);
        error_body(GAU_EINVAL, "invalid request", &fe);
    } else {
        fuzz_note("%s accepted", info->name);
        mapped(info, msg);
    }
    free(msg);
    json_decref(body);
    return 0;
}
