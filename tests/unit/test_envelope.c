/*
 * test_envelope.c - the msgpack envelope: round trips, every field missing
 * or of the wrong type, truncation at every length, hostile headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/envelope.h"
#include "core/err.h"
#include "core/util.h"
#include "gau_schema.h"

#define USER "0b6f1c7e-5d1a-4c1e-9a8e-2f1d3c4b5a69"
#define SESSION "9c2d9a44-7f0b-4c55-8a1e-6b2e0e5d7f10"

/* The keys of an envelope as make_env() writes them. */
enum {
    E_ID, E_TYPE, E_V, E_CORR, E_CAUSE, E_TIME, E_DEADLINE, E_PRINCIPAL,
    E_PAYLOAD, E_COUNT
};

static const char *const names[E_COUNT] = {
    "id", "type", "v", "corr", "cause", "time", "deadline", "principal",
    "payload"
};

static void str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/*
 * Packs an envelope of account.login with every key, leaving out the keys
 * in omit and writing a value of the wrong type for the key `bad` (-1:
 * none); `extra` adds an unknown key.
 */
static void make_env(msgpack_sbuffer *sb, unsigned omit, int bad,
                     const char *extra)
{
    msgpack_packer pk;
    int i, n = 0;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (i = 0; i < E_COUNT; i++)
        n += !(omit & (1u << i));
    msgpack_pack_map(&pk, n + (extra != NULL));
    for (i = 0; i < E_COUNT; i++) {
        if (omit & (1u << i))
            continue;
        str(&pk, names[i]);
        if (i == bad) {
            /* A string where a number or map belongs, else a number. */
            if (i == E_V || i == E_TIME || i == E_DEADLINE ||
                i == E_PRINCIPAL || i == E_PAYLOAD)
                str(&pk, "x");
            else
                msgpack_pack_int(&pk, 7);
            continue;
        }
        switch (i) {
        case E_ID: str(&pk, "cmd-1"); break;
        case E_TYPE: str(&pk, "account.login"); break;
        case E_V: msgpack_pack_int(&pk, 1); break;
        case E_CORR: str(&pk, "corr-1"); break;
        case E_CAUSE: msgpack_pack_nil(&pk); break;
        case E_TIME: msgpack_pack_int64(&pk, 1796288022123LL); break;
        case E_DEADLINE: msgpack_pack_int64(&pk, 1796288027123LL); break;
        case E_PRINCIPAL:
            msgpack_pack_map(&pk, 2);
            str(&pk, "user_id");
            str(&pk, USER);
            str(&pk, "session_id");
            str(&pk, SESSION);
            break;
        default:
            msgpack_pack_map(&pk, 2);
            str(&pk, "login");
            str(&pk, "bob");
            str(&pk, "password");
            str(&pk, "secret123");
        }
    }
    if (extra) {
        str(&pk, extra);
        msgpack_pack_int(&pk, 1);
    }
}

static int decode(msgpack_sbuffer *sb, struct gau_envelope *env, char *why,
                  size_t why_len)
{
    return gau_envelope_decode(env, sb->data, sb->size, GAU_ENV_BODY_MAX,
                               why, why_len);
}

static void test_decode_full(void **state)
{
    struct gau_envelope env;
    struct gau_account_login login;
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    msgpack_sbuffer sb;
    char why[128];

    make_env(&sb, 0, -1, NULL);
    assert_int_equal(decode(&sb, &env, why, sizeof(why)), 0);
    assert_string_equal(env.hdr.id, "cmd-1");
    assert_string_equal(env.hdr.type, "account.login");
    assert_int_equal(env.hdr.version, 1);
    assert_string_equal(env.hdr.corr, "corr-1");
    assert_string_equal(env.hdr.cause, "");
    assert_true(env.hdr.time_ms == 1796288022123LL);
    assert_true(env.hdr.deadline_ms == 1796288027123LL);
    assert_true(env.hdr.has_principal);
    assert_string_equal(env.hdr.principal.user_id, USER);
    assert_string_equal(env.hdr.principal.session_id, SESSION);
    assert_int_equal(gau_account_login_decode(env.payload, &login, &errs), 0);
    assert_string_equal(login.login, "bob");
    assert_string_equal(login.password, "secret123");
    assert_false(login.has_device_id);
    gau_envelope_release(&env);
    gau_envelope_release(&env);
    gau_envelope_release(NULL);
    msgpack_sbuffer_destroy(&sb);
}

static void test_decode_optional_absent(void **state)
{
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128];

    make_env(&sb, 1u << E_CORR | 1u << E_CAUSE | 1u << E_DEADLINE |
             1u << E_PRINCIPAL, -1, NULL);
    assert_int_equal(decode(&sb, &env, why, sizeof(why)), 0);
    assert_string_equal(env.hdr.corr, "cmd-1");
    assert_string_equal(env.hdr.cause, "");
    assert_true(env.hdr.deadline_ms == 0);
    assert_false(env.hdr.has_principal);
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);
}

static void test_round_trip(void **state)
{
    struct gau_account_register reg, back;
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    struct gau_env_hdr hdr;
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128];

    memset(&reg, 0, sizeof(reg));
    gau_env_hdr_init(&hdr, "account.register", 1, NULL, "cause-9");
    hdr.deadline_ms = hdr.time_ms + 5000;
    hdr.has_principal = true;
    strcpy(hdr.principal.user_id, USER);
    strcpy(hdr.principal.session_id, SESSION);
    strcpy(reg.username, "bob");
    reg.has_username = true;
    strcpy(reg.password, "pässwörd-1");
    strcpy(reg.gender, "other");
    reg.has_gender = true;

    msgpack_sbuffer_init(&sb);
    gau_envelope_pack(&sb, &hdr, &gau_account_register_info, &reg);
    assert_int_equal(decode(&sb, &env, why, sizeof(why)), 0);
    assert_memory_equal(&env.hdr, &hdr, sizeof(hdr));
    assert_string_equal(env.hdr.corr, hdr.id);
    assert_string_equal(env.hdr.cause, "cause-9");
    assert_int_equal(gau_account_register_decode(env.payload, &back, &errs),
                     0);
    assert_memory_equal(&back, &reg, sizeof(reg));
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);
}

static void test_hdr_init(void **state)
{
    struct gau_env_hdr hdr;

    gau_env_hdr_init(&hdr, "account.user_registered", 1, "corr-7", NULL);
    assert_int_equal(strlen(hdr.id), 36);
    assert_true(gau_uuid_valid(hdr.id));
    assert_string_equal(hdr.type, "account.user_registered");
    assert_int_equal(hdr.version, 1);
    assert_string_equal(hdr.corr, "corr-7");
    assert_string_equal(hdr.cause, "");
    assert_true(hdr.time_ms > 1700000000000LL);
    assert_true(hdr.deadline_ms == 0);
    assert_false(hdr.has_principal);
}

static void test_required_missing(void **state)
{
    static const int required[] = { E_ID, E_TYPE, E_V, E_TIME, E_PAYLOAD };
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128], want[128];
    size_t i;

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        make_env(&sb, 1u << required[i], -1, NULL);
        assert_int_equal(decode(&sb, &env, why, sizeof(why)), GAU_EPROTO);
        snprintf(want, sizeof(want), "envelope field '%s': is required",
                 names[required[i]]);
        assert_string_equal(why, want);
        gau_envelope_release(&env);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_wrong_types(void **state)
{
    static const char *const reason[E_COUNT] = {
        "must be a string", "must be a string", "must be an integer",
        "must be a string", "must be a string", "must be an integer",
        "must be an integer", "must be a map", "must be a map"
    };
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128], want[128];
    int i;

    for (i = 0; i < E_COUNT; i++) {
        make_env(&sb, 0, i, NULL);
        assert_int_equal(decode(&sb, &env, why, sizeof(why)), GAU_EPROTO);
        snprintf(want, sizeof(want), "envelope field '%s': %s", names[i],
                 reason[i]);
        assert_string_equal(why, want);
        gau_envelope_release(&env);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_unknown_field(void **state)
{
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128];

    make_env(&sb, 0, -1, "x");
    assert_int_equal(decode(&sb, &env, why, sizeof(why)), GAU_EPROTO);
    assert_string_equal(why, "unknown envelope field 'x'");
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);
}

/* Packs a map of one key and one str value. */
static void one_key(msgpack_sbuffer *sb, const char *key, const char *val)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    str(&pk, key);
    str(&pk, val);
}

static void expect_why(msgpack_sbuffer *sb, const char *want)
{
    struct gau_envelope env;
    char why[128];

    assert_int_equal(decode(sb, &env, why, sizeof(why)), GAU_EPROTO);
    assert_string_equal(why, want);
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(sb);
}

static void test_bad_values(void **state)
{
    msgpack_sbuffer sb;
    char longid[GAU_ENV_ID_MAX + 2];

    one_key(&sb, "id", "");
    expect_why(&sb, "envelope field 'id': must not be empty");
    one_key(&sb, "id", "a b");
    expect_why(&sb, "envelope field 'id': contains a character that is not "
                    "allowed");
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    one_key(&sb, "id", longid);
    expect_why(&sb, "envelope field 'id': is too long");
    one_key(&sb, "type", "Account.Register");
    expect_why(&sb, "envelope field 'type': contains a character that is "
                    "not allowed");
    one_key(&sb, "cause", "\x01");
    expect_why(&sb, "envelope field 'cause': contains a character that is "
                    "not allowed");
}

static void test_bad_version_and_principal(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    str(&pk, "v");
    msgpack_pack_int(&pk, 0);
    expect_why(&sb, "envelope field 'v': is out of range");

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    str(&pk, "principal");
    msgpack_pack_map(&pk, 2);
    str(&pk, "user_id");
    str(&pk, "not-a-uuid");
    str(&pk, "session_id");
    str(&pk, SESSION);
    expect_why(&sb, "envelope field 'principal': user_id must be a UUID");

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    str(&pk, "principal");
    msgpack_pack_map(&pk, 1);
    str(&pk, "user_id");
    str(&pk, USER);
    expect_why(&sb, "envelope field 'principal': session_id is required");

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    str(&pk, "id");
    str(&pk, "a");
    str(&pk, "id");
    str(&pk, "b");
    expect_why(&sb, "envelope field 'id': duplicate");

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 0);
    expect_why(&sb, "envelope field 'body': must be a map");
}

static void test_truncated_every_length(void **state)
{
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128];
    size_t n;

    make_env(&sb, 0, -1, NULL);
    for (n = 0; n < sb.size; n++) {
        assert_int_equal(gau_envelope_decode(&env, sb.data, n,
                                             GAU_ENV_BODY_MAX, why,
                                             sizeof(why)), GAU_EPROTO);
        assert_true(why[0] != '\0');
        gau_envelope_release(&env);
    }
    assert_int_equal(gau_envelope_decode(&env, sb.data, n, GAU_ENV_BODY_MAX,
                                         why, sizeof(why)), 0);
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);
}

static void check_fails(const void *data, size_t len, const char *want)
{
    char why[128] = "";

    assert_int_equal(gau_msgpack_check(data, len, GAU_ENV_DEPTH_MAX, why,
                                       sizeof(why)), GAU_EPROTO);
    assert_string_equal(why, want);
}

static void test_hostile(void **state)
{
    static const unsigned char str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff };
    static const unsigned char arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    static const unsigned char map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
    static const unsigned char bin32[] = { 0xc6, 0x7f, 0xff, 0xff, 0xff };
    static const unsigned char ext32[] = { 0xc9, 0xff, 0xff, 0xff, 0xff };
    static const unsigned char map3[] = { 0x83, 0xa1, 'a', 0x01, 0xc0 };
    static const unsigned char map2[] = { 0x82, 0xa1, 'a', 0x01, 0xc0 };
    static const unsigned char u16[] = { 0xcd, 0x01 };
    static const unsigned char c1[] = { 0xc1 };
    static const unsigned char trail[] = { 0xc0, 0xc0, 0xc0 };
    size_t deep_len = 100000;
    unsigned char *deep = malloc(deep_len + 1);
    struct gau_envelope env;
    char why[128];

    check_fails(str32, sizeof(str32), "str of 4294967295 bytes in 5 bytes");
    check_fails(arr32, sizeof(arr32),
                 "array of 4294967295 elements in 5 bytes");
    check_fails(map32, sizeof(map32),
                 "map of 4294967295 entries in 5 bytes");
    check_fails(bin32, sizeof(bin32), "bin of 2147483647 bytes in 5 bytes");
    check_fails(ext32, sizeof(ext32), "ext of 4294967296 bytes in 5 bytes");
    check_fails(map3, sizeof(map3), "map of 3 entries in 5 bytes");
    check_fails(map2, sizeof(map2), "truncated at byte 5");
    check_fails(u16, sizeof(u16), "truncated at byte 2");
    check_fails(c1, sizeof(c1), "invalid type byte 0xc1 at byte 0");
    check_fails(trail, sizeof(trail), "2 trailing bytes after byte 1");
    check_fails("", 0, "empty");

    memset(deep, 0x91, deep_len);
    deep[deep_len] = 0xc0;
    check_fails(deep, deep_len + 1, "nested deeper than 16");
    assert_int_equal(gau_envelope_decode(&env, deep, deep_len + 1,
                                         deep_len + 1, why, sizeof(why)),
                     GAU_EPROTO);
    assert_string_equal(why, "nested deeper than 16");
    gau_envelope_release(&env);
    /* Exactly 16 levels is fine. */
    assert_int_equal(gau_msgpack_check(deep + deep_len - 16, 17, 16, why,
                                       sizeof(why)), 0);
    assert_int_equal(gau_msgpack_check(deep + deep_len - 17, 18, 16, why,
                                       sizeof(why)), GAU_EPROTO);
    free(deep);

    assert_int_equal(gau_envelope_decode(&env, str32, sizeof(str32), 64,
                                         why, sizeof(why)), GAU_EPROTO);
    assert_string_equal(why, "str of 4294967295 bytes in 5 bytes");
    gau_envelope_release(&env);
}

static void test_check_accepts_every_type(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char why[128];

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 20);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_int(&pk, -3);
    msgpack_pack_int(&pk, -300);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_uint8(&pk, 200);
    msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_uint32(&pk, 4000000000u);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    msgpack_pack_ext(&pk, 4, 1);
    msgpack_pack_ext_body(&pk, "abcd", 4);
    msgpack_pack_ext(&pk, 5, 1);
    msgpack_pack_ext_body(&pk, "abcde", 5);
    msgpack_pack_str(&pk, 300);
    for (int i = 0; i < 30; i++)
        msgpack_pack_str_body(&pk, "0123456789", 10);
    msgpack_pack_array(&pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_int(&pk, i);
    msgpack_pack_map(&pk, 20);
    for (int i = 0; i < 20; i++) {
        msgpack_pack_int(&pk, i);
        msgpack_pack_nil(&pk);
    }
    msgpack_pack_map(&pk, 0);
    msgpack_pack_array(&pk, 0);
    assert_int_equal(gau_msgpack_check(sb.data, sb.size, 16, why,
                                       sizeof(why)), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_too_big(void **state)
{
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128];

    make_env(&sb, 0, -1, NULL);
    assert_int_equal(gau_envelope_decode(&env, sb.data, sb.size,
                                         sb.size - 1, why, sizeof(why)),
                     GAU_ETOOBIG);
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);
}

static void test_error_reply(void **state)
{
    struct gau_field_errors fields = GAU_FIELD_ERRORS_INIT;
    struct gau_error_reply reply;
    struct gau_env_hdr hdr;
    struct gau_envelope env;
    msgpack_sbuffer sb;
    char why[128];

    gau_env_hdr_init(&hdr, "account.register", 1, "corr-1", "cmd-1");
    gau_field_errors_add(&fields, "password", "must be at least 8 "
                         "characters");
    gau_field_errors_add(&fields, "email", "must be an email address");
    msgpack_sbuffer_init(&sb);
    gau_envelope_pack_error(&sb, &hdr, GAU_EINVAL, "invalid input",
                            &fields);
    assert_int_equal(decode(&sb, &env, why, sizeof(why)), 0);
    assert_string_equal(env.hdr.type, "error");
    assert_int_equal(env.hdr.version, 1);
    assert_string_equal(env.hdr.corr, "corr-1");
    assert_string_equal(env.hdr.cause, "cmd-1");
    assert_int_equal(gau_error_reply_decode(env.payload, &reply), 0);
    assert_int_equal(reply.rc, GAU_EINVAL);
    assert_string_equal(reply.code, "invalid");
    assert_string_equal(reply.message, "invalid input");
    assert_int_equal(reply.fields.count, 2);
    assert_string_equal(reply.fields.e[0].field, "password");
    assert_string_equal(reply.fields.e[0].reason,
                        "must be at least 8 characters");
    assert_string_equal(reply.fields.e[1].field, "email");
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);

    msgpack_sbuffer_init(&sb);
    gau_envelope_pack_error(&sb, &hdr, GAU_ECONFLICT, NULL, NULL);
    assert_int_equal(decode(&sb, &env, why, sizeof(why)), 0);
    assert_int_equal(gau_error_reply_decode(env.payload, &reply), 0);
    assert_int_equal(reply.rc, GAU_ECONFLICT);
    assert_string_equal(reply.code, "conflict");
    assert_string_equal(reply.message, "conflict");
    assert_int_equal(reply.fields.count, 0);
    gau_envelope_release(&env);
    msgpack_sbuffer_destroy(&sb);
}

static void test_error_reply_bad(void **state)
{
    struct gau_error_reply reply;
    msgpack_unpacked u;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    str(&pk, "code");
    str(&pk, "invalid");
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(gau_error_reply_decode(&u.data, &reply), GAU_EPROTO);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    str(&pk, "code");
    msgpack_pack_int(&pk, 3);
    str(&pk, "message");
    str(&pk, "m");
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(gau_error_reply_decode(&u.data, &reply), GAU_EPROTO);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_full),
        cmocka_unit_test(test_decode_optional_absent),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hdr_init),
        cmocka_unit_test(test_required_missing),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_version_and_principal),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_check_accepts_every_type),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_error_reply_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
