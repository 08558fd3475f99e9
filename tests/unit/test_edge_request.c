/*
 * test_edge_request.c - status mapping, error bodies, JSON body checks,
 * header checks, idempotency ids, cookies and the profile hash mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/jwt.h"
#include "core/util.h"
#include "http-edge/request.h"

#define UID "11111111-2222-4333-8444-555555555555"

static void test_status_for_every_code(void **state)
{
    assert_int_equal(edge_http_status(GAU_OK), 200);
    assert_int_equal(edge_http_status(GAU_EINVAL), 400);
    assert_int_equal(edge_http_status(GAU_EPROTO), 400);
    assert_int_equal(edge_http_status(GAU_EUNAUTH), 401);
    assert_int_equal(edge_http_status(GAU_EFORBIDDEN), 403);
    assert_int_equal(edge_http_status(GAU_ENOTFOUND), 404);
    assert_int_equal(edge_http_status(GAU_ECONFLICT), 409);
    assert_int_equal(edge_http_status(GAU_ETOOBIG), 413);
    assert_int_equal(edge_http_status(GAU_EUNAVAIL), 503);
    assert_int_equal(edge_http_status(GAU_ESTOPPED), 503);
    assert_int_equal(edge_http_status(GAU_ETIMEOUT), 504);
    assert_int_equal(edge_http_status(GAU_EINTERNAL), 500);
    assert_int_equal(edge_http_status(GAU_EIO), 500);
    assert_int_equal(edge_http_status(-999), 500);
}

/* The code names of the contract, through gau_err_from_code. */
static void test_status_for_every_reply_code(void **state)
{
    static const struct {
        const char *code;
        int status;
    } t[] = {
        { "invalid", 400 },      { "malformed", 400 }, { "unauthorized", 401 },
        { "forbidden", 403 },    { "not_found", 404 }, { "conflict", 409 },
        { "too_large", 413 },    { "unavailable", 503 }, { "timeout", 504 },
        { "internal", 500 },     { "no_such_code", 500 },
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(edge_http_status(gau_err_from_code(t[i].code)),
                         t[i].status);
}

static void test_error_body_shape(void **state)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    char *s;

    s = edge_error_json(GAU_ENOTFOUND, "no such route", NULL);
    assert_string_equal(s, "{\"error\":{\"code\":\"not_found\",\"message\":"
                           "\"no such route\",\"fields\":{}}}");
    free(s);

    gau_field_errors_add(&fe, "email", "must be an email address");
    gau_field_errors_add(&fe, "password", "is required");
    s = edge_error_json(GAU_EINVAL, "invalid request", &fe);
    assert_string_equal(s, "{\"error\":{\"code\":\"invalid\",\"message\":"
                           "\"invalid request\",\"fields\":{\"email\":"
                           "\"must be an email address\",\"password\":"
                           "\"is required\"}}}");
    free(s);

    s = edge_error_json_code("conflict", "say \"no\"", NULL);
    assert_string_equal(s, "{\"error\":{\"code\":\"conflict\",\"message\":"
                           "\"say \\\"no\\\"\",\"fields\":{}}}");
    free(s);
}

static int body_rc(const char *text, size_t len)
{
    char why[200];
    json_t *v = NULL;
    int rc = edge_json_body(text, len, &v, why, sizeof(why));

    if (rc == 0)
        assert_non_null(v);
    else
        assert_null(v);
    json_decref(v);
    return rc;
}

#define BODY(s) body_rc((s), sizeof(s) - 1)

/* n nested arrays inside an object. */
static char *nested(int n)
{
    char *s = malloc((size_t)n * 2 + 16);
    size_t k = 0;
    int i;

    k += (size_t)sprintf(s, "{\"a\":");
    for (i = 0; i < n; i++)
        s[k++] = '[';
    for (i = 0; i < n; i++)
        s[k++] = ']';
    s[k++] = '}';
    s[k] = '\0';
    return s;
}

static void test_json_depth(void **state)
{
    char *ok = nested(EDGE_JSON_DEPTH_MAX - 1);
    char *deep = nested(EDGE_JSON_DEPTH_MAX);

    assert_int_equal(body_rc(ok, strlen(ok)), 0);
    assert_int_equal(body_rc(deep, strlen(deep)), GAU_EPROTO);
    assert_int_equal(edge_json_depth_ok(ok, strlen(ok), 32), 1);
    assert_int_equal(edge_json_depth_ok(deep, strlen(deep), 32), 0);
    free(ok);
    free(deep);

    /* Brackets in strings, escaped quotes included, do not count. */
    assert_int_equal(edge_json_depth_ok("{\"a\":\"[[[[\\\"[[[[\"}", 18, 2),
                     1);
    assert_int_equal(edge_json_depth_ok("[[[", 3, 2), 0);
    assert_int_equal(edge_json_depth_ok("[[]]", 4, 2), 1);
}

static void test_json_rejects(void **state)
{
    char why[200];
    json_t *v;

    assert_int_equal(BODY("{\"a\":1}"), 0);
    assert_int_equal(BODY("{\"a\":1,\"a\":2}"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":\"\xc3\x28\"}"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":\"\xed\xa0\x80\"}"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":\"\\u0000\"}"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":123456789012345678901234567890}"),
                     GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":1e999}"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":-1e999}"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":9223372036854775807}"), 0);
    assert_int_equal(BODY("[1]"), GAU_EPROTO);
    assert_int_equal(BODY("\"s\""), GAU_EPROTO);
    assert_int_equal(BODY("3"), GAU_EPROTO);
    assert_int_equal(BODY("null"), GAU_EPROTO);
    assert_int_equal(BODY(""), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":1} x"), GAU_EPROTO);
    assert_int_equal(BODY("{\"a\":1"), GAU_EPROTO);

    assert_int_equal(edge_json_body("[1]", 3, &v, why, sizeof(why)),
                     GAU_EPROTO);
    assert_string_equal(why, "the body must be a JSON object");
    /* A NUL byte in the middle is not JSON either. */
    assert_int_equal(edge_json_body("{}\0{}", 5, &v, why, sizeof(why)),
                     GAU_EPROTO);
}

static void test_id_headers(void **state)
{
    char s65[66];

    assert_int_equal(edge_id_header_ok("abc-123_x.y:z", 64), 1);
    assert_int_equal(edge_id_header_ok("", 64), 0);
    assert_int_equal(edge_id_header_ok(NULL, 64), 0);
    assert_int_equal(edge_id_header_ok("a b", 64), 0);
    assert_int_equal(edge_id_header_ok("a\"b", 64), 0);
    assert_int_equal(edge_id_header_ok("a\\b", 64), 0);
    assert_int_equal(edge_id_header_ok("a\tb", 64), 0);
    assert_int_equal(edge_id_header_ok("\xc3\xa9", 64), 0);
    memset(s65, 'x', 65);
    s65[64] = '\0';
    assert_int_equal(edge_id_header_ok(s65, 64), 1);
    s65[64] = 'x';
    s65[65] = '\0';
    assert_int_equal(edge_id_header_ok(s65, 64), 0);
}

static void test_idem_id_derivation(void **state)
{
    static const char raw[] = "idem\0anon\0POST /api/v2/account/register\0k1";
    char want[GAU_UUID_LEN + 1], a[GAU_UUID_LEN + 1], b[GAU_UUID_LEN + 1];

    gau_uuid_derive(raw, sizeof(raw) - 1, want);
    assert_int_equal(edge_idem_id("k1", NULL, "POST",
                                  "/api/v2/account/register", a), 0);
    assert_string_equal(a, want);
    assert_int_equal(gau_uuid_valid(a), 1);
    assert_int_equal(edge_idem_id("k1", "anon", "POST",
                                  "/api/v2/account/register", b), 0);
    assert_string_equal(a, b);

    /* Same key, user and route: same id; another user or route: not. */
    assert_int_equal(edge_idem_id("k1", UID, "PATCH",
                                  "/api/v2/account/profile", a), 0);
    assert_int_equal(edge_idem_id("k1", UID, "PATCH",
                                  "/api/v2/account/profile", b), 0);
    assert_string_equal(a, b);
    assert_int_equal(edge_idem_id("k1", "22222222-2222-4333-8444-555555555555",
                                  "PATCH", "/api/v2/account/profile", b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(edge_idem_id("k1", UID, "POST",
                                  "/api/v2/account/logout", b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(edge_idem_id("k2", UID, "PATCH",
                                  "/api/v2/account/profile", b), 0);
    assert_string_not_equal(a, b);
}

static void test_idem_keys_refused(void **state)
{
    char id[GAU_UUID_LEN + 1];
    char k[257];

    assert_int_equal(edge_idem_id("", NULL, "POST", "/p", id), GAU_EINVAL);
    assert_int_equal(edge_idem_id(NULL, NULL, "POST", "/p", id), GAU_EINVAL);
    assert_int_equal(edge_idem_id("a\x01", NULL, "POST", "/p", id),
                     GAU_EINVAL);
    assert_int_equal(edge_idem_id("a\x7f", NULL, "POST", "/p", id),
                     GAU_EINVAL);
    assert_int_equal(edge_idem_id("\xc3\xa9", NULL, "POST", "/p", id),
                     GAU_EINVAL);
    assert_int_equal(edge_idem_id("with space ~", NULL, "POST", "/p", id),
                     0);
    memset(k, 'k', 255);
    k[255] = '\0';
    assert_int_equal(edge_idem_id(k, NULL, "POST", "/p", id), 0);
    k[255] = 'k';
    k[256] = '\0';
    assert_int_equal(edge_idem_id(k, NULL, "POST", "/p", id), GAU_EINVAL);
}

static void test_bearer(void **state)
{
    const char *t;
    char *big;

    assert_int_equal(edge_bearer("Bearer abc.def", &t), 0);
    assert_string_equal(t, "abc.def");
    assert_int_equal(edge_bearer("bearer  xyz", &t), 0);
    assert_string_equal(t, "xyz");
    assert_int_equal(edge_bearer(NULL, &t), GAU_EUNAUTH);
    assert_null(t);
    assert_int_equal(edge_bearer("Basic abc", &t), GAU_EUNAUTH);
    assert_int_equal(edge_bearer("Bearer ", &t), GAU_EUNAUTH);
    assert_int_equal(edge_bearer("Bearer", &t), GAU_EUNAUTH);
    big = malloc(7 + GAU_JWT_MAX + 2);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', GAU_JWT_MAX);
    big[7 + GAU_JWT_MAX] = '\0';
    assert_int_equal(edge_bearer(big, &t), 0);
    big[7 + GAU_JWT_MAX] = 'a';
    big[8 + GAU_JWT_MAX] = '\0';
    assert_int_equal(edge_bearer(big, &t), GAU_ETOOBIG);
    free(big);
}

static void test_cookie(void **state)
{
    char *c = edge_cookie("access_token", "tok", 900);

    assert_string_equal(c, "access_token=tok; HttpOnly; Secure; "
                           "SameSite=Strict; Path=/api/v2; Max-Age=900");
    free(c);
}

static void test_pick(void **state)
{
    static const char *const keys[] = { "a", "c", "missing", NULL };
    json_t *in = json_pack("{s:i,s:i,s:s}", "a", 1, "b", 2, "c", "x");
    json_t *out = edge_json_pick(in, keys);
    char *s = json_dumps(out, JSON_COMPACT);

    assert_string_equal(s, "{\"a\":1,\"c\":\"x\"}");
    free(s);
    json_decref(out);
    json_decref(in);
}

static char *profile_text(const char *const *f, const char *const *v,
                          size_t n, int *rc)
{
    json_t *j = NULL;
    char *s = NULL;

    *rc = edge_profile_json(f, v, n, &j);
    if (*rc == 0)
        s = json_dumps(j, JSON_COMPACT);
    else
        assert_null(j);
    json_decref(j);
    return s;
}

static void test_profile_full(void **state)
{
    static const char *const f[] = { "user_id", "username", "email",
                                     "fullname", "date_of_birth", "gender",
                                     "created_at", "updated_at", "version" };
    static const char *const v[] = { UID, "alice", "alice@example.com",
                                     "Alice A", "1990-02-28", "female",
                                     "1764750000123", "1764750000456", "3" };
    int rc;
    char *s = profile_text(f, v, 9, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(s, "{\"user_id\":\"" UID "\",\"username\":\"alice\","
                           "\"email\":\"alice@example.com\",\"fullname\":"
                           "\"Alice A\",\"date_of_birth\":\"1990-02-28\","
                           "\"gender\":\"female\",\"created_at\":"
                           "\"2025-12-03T08:20:00.123Z\",\"updated_at\":"
                           "\"2025-12-03T08:20:00.456Z\",\"version\":3}");
    free(s);
}

/* Optional fields absent from the hash are absent from the JSON. */
static void test_profile_minimal(void **state)
{
    static const char *const f[] = { "version", "created_at", "user_id",
                                     "updated_at", "email", "extra" };
    static const char *const v[] = { "1", "0", UID, "1000", "a@b.co",
                                     "ignored" };
    int rc;
    char *s = profile_text(f, v, 6, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(s, "{\"user_id\":\"" UID "\",\"email\":\"a@b.co\","
                           "\"fullname\":\"\",\"created_at\":"
                           "\"1970-01-01T00:00:00.000Z\",\"updated_at\":"
                           "\"1970-01-01T00:00:01.000Z\",\"version\":1}");
    free(s);
}

static void test_profile_invalid(void **state)
{
    static const char *const f[] = { "user_id", "created_at", "updated_at",
                                     "version" };
    static const char *const bad_int[] = { UID, "12x", "1", "1" };
    static const char *const bad_uuid[] = { "nope", "1", "1", "1" };
    static const char *const huge[] = { UID, "1", "1",
                                        "99999999999999999999999" };
    int rc;

    assert_null(profile_text(f, bad_int, 4, &rc));
    assert_int_equal(rc, GAU_EPROTO);
    assert_null(profile_text(f, bad_uuid, 4, &rc));
    assert_int_equal(rc, GAU_EPROTO);
    assert_null(profile_text(f, huge, 4, &rc));
    assert_int_equal(rc, GAU_EPROTO);
    /* Without created_at the profile is incomplete. */
    assert_null(profile_text(f, bad_int, 1, &rc));
    assert_int_equal(rc, GAU_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_for_every_code),
        cmocka_unit_test(test_status_for_every_reply_code),
        cmocka_unit_test(test_error_body_shape),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_id_headers),
        cmocka_unit_test(test_idem_id_derivation),
        cmocka_unit_test(test_idem_keys_refused),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_profile_full),
        cmocka_unit_test(test_profile_minimal),
        cmocka_unit_test(test_profile_invalid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
