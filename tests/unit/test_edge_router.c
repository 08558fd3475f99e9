/*
 * test_edge_router.c - every route, 404 against 405 and its Allow value,
 * trailing slashes and query strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http-edge/router.h"

static void expect_route(const char *method, const char *url,
                         enum edge_route_id id)
{
    struct edge_match m;

    edge_route_match(method, url, &m);
    assert_int_equal(m.status, 0);
    assert_non_null(m.route);
    assert_int_equal(m.route->id, id);
    assert_string_equal(m.allow, "");
}

static void expect_status(const char *method, const char *url, int status,
                          const char *allow)
{
    struct edge_match m;

    edge_route_match(method, url, &m);
    assert_int_equal(m.status, status);
    assert_null(m.route);
    assert_string_equal(m.allow, allow);
}

static void test_every_route(void **state)
{
    expect_route("POST", "/api/v2/account/register", EDGE_ROUTE_REGISTER);
    expect_route("POST", "/api/v2/account/login", EDGE_ROUTE_LOGIN);
    expect_route("GET", "/api/v2/account/profile", EDGE_ROUTE_PROFILE_GET);
    expect_route("PATCH", "/api/v2/account/profile",
                 EDGE_ROUTE_PROFILE_PATCH);
    expect_route("POST", "/api/v2/account/logout", EDGE_ROUTE_LOGOUT);
    expect_route("POST", "/api/v2/authorization/token/refresh",
                 EDGE_ROUTE_REFRESH);
    expect_route("GET", "/api/v2/authorization/.well-known/jwks.json",
                 EDGE_ROUTE_JWKS);
    expect_route("GET", "/healthz", EDGE_ROUTE_HEALTHZ);
    expect_route("GET", "/readyz", EDGE_ROUTE_READYZ);
    expect_route("GET", "/metrics", EDGE_ROUTE_METRICS);
}

static void test_table_ids_and_commands(void **state)
{
    int i;

    for (i = 0; i < EDGE_ROUTE_COUNT; i++)
        assert_int_equal(edge_route_get((enum edge_route_id)i)->id, i);
    assert_string_equal(edge_route_get(EDGE_ROUTE_LOGOUT)->command,
                        "authorization.session_revoke");
    assert_string_equal(edge_route_get(EDGE_ROUTE_PROFILE_PATCH)->command,
                        "account.profile_update");
    assert_null(edge_route_get(EDGE_ROUTE_PROFILE_GET)->command);
    assert_int_equal(edge_route_get(EDGE_ROUTE_REGISTER)->status, 201);
    assert_int_equal(edge_route_get(EDGE_ROUTE_LOGOUT)->status, 204);
    assert_int_equal(edge_route_get(EDGE_ROUTE_LOGIN)->status, 200);
    assert_true(edge_route_get(EDGE_ROUTE_PROFILE_GET)->flags & EDGE_AUTH);
    assert_false(edge_route_get(EDGE_ROUTE_REFRESH)->flags & EDGE_AUTH);
    assert_true(edge_route_get(EDGE_ROUTE_LOGOUT)->flags &
                EDGE_BODY_OPTIONAL);
}

static void test_unknown_paths(void **state)
{
    expect_status("GET", "/", 404, "");
    expect_status("GET", "/api/v2/account", 404, "");
    expect_status("POST", "/api/v2/account/registerx", 404, "");
    expect_status("POST", "/api/v2/account/registe", 404, "");
    expect_status("GET", "/HEALTHZ", 404, "");
    expect_status("GET", "", 404, "");
}

static void test_wrong_method(void **state)
{
    expect_status("GET", "/api/v2/account/register", 405, "POST");
    expect_status("PUT", "/api/v2/account/login", 405, "POST");
    expect_status("DELETE", "/api/v2/account/profile", 405,
                  "GET, HEAD, PATCH");
    expect_status("POST", "/api/v2/account/profile", 405,
                  "GET, HEAD, PATCH");
    expect_status("GET", "/api/v2/account/logout", 405, "POST");
    expect_status("GET", "/api/v2/authorization/token/refresh", 405,
                  "POST");
    expect_status("POST", "/api/v2/authorization/.well-known/jwks.json",
                  405, "GET, HEAD");
    expect_status("POST", "/healthz", 405, "GET, HEAD");
    expect_status("PATCH", "/metrics", 405, "GET, HEAD");
    /* Methods are case-sensitive (RFC 9110). */
    expect_status("get", "/healthz", 405, "GET, HEAD");
}

/* HEAD goes wherever GET does (RFC 9110), and nowhere else. */
static void test_head_follows_get(void **state)
{
    expect_route("HEAD", "/readyz", EDGE_ROUTE_READYZ);
    expect_route("HEAD", "/api/v2/account/profile", EDGE_ROUTE_PROFILE_GET);
    expect_route("HEAD", "/api/v2/authorization/.well-known/jwks.json",
                 EDGE_ROUTE_JWKS);
    expect_status("HEAD", "/api/v2/account/register", 405, "POST");
}

/* Routing sees the path as sent: an escaped character is no match. */
static void test_escaped_paths_match_nothing(void **state)
{
    expect_status("GET", "/api/v2/account%2Fprofile", 404, "");
    expect_status("GET", "/api/v2/account/%70rofile", 404, "");
    expect_status("GET", "/api/v2/account/profile%00", 404, "");
}

static void test_trailing_slash_is_another_path(void **state)
{
    expect_status("GET", "/healthz/", 404, "");
    expect_status("POST", "/api/v2/account/register/", 404, "");
    expect_status("GET", "/api/v2/account/profile//", 404, "");
}

static void test_query_string_ignored(void **state)
{
    expect_route("GET", "/healthz?verbose=1", EDGE_ROUTE_HEALTHZ);
    expect_route("GET", "/api/v2/account/profile?", EDGE_ROUTE_PROFILE_GET);
    expect_status("DELETE", "/api/v2/account/profile?x=/y", 405,
                  "GET, HEAD, PATCH");
    expect_status("GET", "/healthz/?x", 404, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route),
        cmocka_unit_test(test_table_ids_and_commands),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_head_follows_get),
        cmocka_unit_test(test_escaped_paths_match_nothing),
        cmocka_unit_test(test_trailing_slash_is_another_path),
        cmocka_unit_test(test_query_string_ignored),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
