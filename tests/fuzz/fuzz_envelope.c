/*
 * fuzz_envelope.c - the envelope decoder and the generated payload
 * decoders on arbitrary bytes, as a consumer receives them from AMQP.
 *
 * Beyond not crashing, whatever decodes must survive a round trip: the
 * decoded header and payload are packed again, the result decoded again,
 * and packing that second decode must give the same bytes. A payload that
 * decodes must also pass its validator, reach JSON and come back from it
 * unchanged, since the edge answers clients with exactly that JSON.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "bus/envelope.h"
#include "core/err.h"
#include "core/fielderr.h"
#include "core/mem.h"
#include "gau_schema.h"
#include "tests/fuzz/fuzz.h"

static bool hdr_equal(const struct gau_env_hdr *a,
                      const struct gau_env_hdr *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->type, b->type) == 0 &&
           a->version == b->version && strcmp(a->corr, b->corr) == 0 &&
           strcmp(a->cause, b->cause) == 0 && a->time_ms == b->time_ms &&
           a->deadline_ms == b->deadline_ms &&
           a->has_principal == b->has_principal &&
           (!a->has_principal ||
            (strcmp(a->principal.user_id, b->principal.user_id) == 0 &&
             strcmp(a->principal.session_id, b->principal.session_id) ==
                 0));
}

static bool sbuf_equal(const msgpack_sbuffer *a, const msgpack_sbuffer *b)
{
    return a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

/* Decodes a body this code packed itself; it must decode. */
static void decode_ours(struct gau_envelope *env, const msgpack_sbuffer *sb)
{
    char why[200];
    int rc;

    rc = gau_envelope_decode(env, sb->data, sb->size, GAU_ENV_BODY_MAX,
                             why, sizeof(why));
    if (rc < 0)
        fprintf(stderr, "re-decode failed: %s\n", why);
    FUZZ_CHECK(rc == 0);
}

/* to_json then from_json gives back a struct that packs the same. */
static void json_round_trip(const struct gau_msg_info *info, const void *msg,
                            const msgpack_sbuffer *packed)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    void *back = xcalloc(1, info->size);
    json_t *js = info->to_json(msg);
    msgpack_sbuffer sb;
    msgpack_packer pk;

    FUZZ_CHECK(js != NULL);
    FUZZ_CHECK(info->from_json(js, back, &fe) == 0);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    info->pack(&pk, back);
    FUZZ_CHECK(sbuf_equal(&sb, packed));
    msgpack_sbuffer_destroy(&sb);
    json_decref(js);
    free(back);
}

/* A payload of a known type: decode, and if that works, round trips. */
static void known_payload(const struct gau_envelope *env,
                          const struct gau_msg_info *info)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    void *first = xcalloc(1, info->size);
    void *second = xcalloc(1, info->size);
    msgpack_sbuffer sb1, sb2, p1;
    struct gau_envelope env2;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb1);
    msgpack_sbuffer_init(&sb2);
    msgpack_sbuffer_init(&p1);
    if (info->decode(env->payload, first, &fe) < 0) {
        /* A refusal always names the field to blame. */
        FUZZ_CHECK(fe.count > 0);
        fuzz_note("%s payload refused: %s: %s", info->name, fe.e[0].field,
                  fe.e[0].reason);
        goto out;
    }
    fuzz_note("%s payload accepted", info->name);
    FUZZ_CHECK(fe.count == 0);
    FUZZ_CHECK(info->validate(first, NULL) == 0);

    gau_envelope_pack(&sb1, &env->hdr, info, first);
    decode_ours(&env2, &sb1);
    FUZZ_CHECK(hdr_equal(&env->hdr, &env2.hdr));
    FUZZ_CHECK(info->decode(env2.payload, second, NULL) == 0);
    gau_envelope_pack(&sb2, &env2.hdr, info, second);
    FUZZ_CHECK(sbuf_equal(&sb1, &sb2));
    gau_envelope_release(&env2);

    msgpack_packer_init(&pk, &p1, msgpack_sbuffer_write);
    info->pack(&pk, first);
    json_round_trip(info, first, &p1);

out:
    msgpack_sbuffer_destroy(&sb1);
    msgpack_sbuffer_destroy(&sb2);
    msgpack_sbuffer_destroy(&p1);
    free(first);
    free(second);
}

static bool fields_equal(const struct gau_field_errors *a,
                         const struct gau_field_errors *b)
{
    int i;

    if (a->count != b->count)
        return false;
    for (i = 0; i < a->count; i++)
        if (strcmp(a->e[i].field, b->e[i].field) ||
            strcmp(a->e[i].reason, b->e[i].reason))
            return false;
    return true;
}

/* An error reply: what decodes, packed again, decodes to the same. */
static void error_payload(const struct gau_envelope *env)
{
    struct gau_error_reply er, er2;
    struct gau_envelope env2;
    msgpack_sbuffer sb;

    if (gau_error_reply_decode(env->payload, &er) < 0) {
        fuzz_note("error payload refused");
        return;
    }
    fuzz_note("error payload accepted: %s", er.code);
    msgpack_sbuffer_init(&sb);
    gau_envelope_pack_error(&sb, &env->hdr, er.rc, er.message, &er.fields);
    decode_ours(&env2, &sb);
    FUZZ_CHECK(strcmp(env2.hdr.type, "error") == 0);
    FUZZ_CHECK(gau_error_reply_decode(env2.payload, &er2) == 0);
    FUZZ_CHECK(er2.rc == er.rc);
    FUZZ_CHECK(strcmp(er2.code, gau_err_code(er.rc)) == 0);
    FUZZ_CHECK(strcmp(er2.message, er.message) == 0);
    FUZZ_CHECK(fields_equal(&er.fields, &er2.fields));
    gau_envelope_release(&env2);
    msgpack_sbuffer_destroy(&sb);
}

/* An unknown type: the header alone must round-trip. */
static void unknown_payload(const struct gau_envelope *env)
{
    struct gau_envelope env2;
    msgpack_sbuffer sb;

    fuzz_note("envelope of unknown type %s", env->hdr.type);
    msgpack_sbuffer_init(&sb);
    gau_envelope_pack(&sb, &env->hdr, NULL, NULL);
    decode_ours(&env2, &sb);
    FUZZ_CHECK(hdr_equal(&env->hdr, &env2.hdr));
    gau_envelope_release(&env2);
    msgpack_sbuffer_destroy(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct gau_msg_info *info;
    struct gau_envelope env;
    char why[200];
    int rc;

    rc = gau_envelope_decode(&env, data, size, GAU_ENV_BODY_MAX, why,
                             sizeof(why));
    if (rc < 0) {
        FUZZ_CHECK(rc == GAU_EPROTO || rc == GAU_ETOOBIG);
        FUZZ_CHECK(why[0] != '\0');
        fuzz_note("envelope refused: %s", why);
        gau_envelope_release(&env);
        return 0;
    }
    FUZZ_CHECK(env.payload != NULL);
    FUZZ_CHECK(env.payload->type == MSGPACK_OBJECT_MAP);

    info = gau_msg_find(env.hdr.type);
    if (info)
        known_payload(&env, info);
    else if (strcmp(env.hdr.type, "error") == 0)
        error_payload(&env);
    else
        unknown_payload(&env);
    gau_envelope_release(&env);
    return 0;
}
