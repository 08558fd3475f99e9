/*
 * test_edge_metrics.c - request counts by route and status class, and the
 * rpc latency histogram.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "http-edge/metrics.h"
#include "http-edge/router.h"

static void expect_line(const char *text, const char *line)
{
    const char *p = strstr(text, line);

    assert_non_null(p);
    /* A whole line, not the prefix of another. */
    assert_true(p == text || p[-1] == '\n');
    assert_int_equal(p[strlen(line)], '\n');
}

static void test_requests(void **state)
{
    char *s;

    edge_metrics_request(edge_route_get(EDGE_ROUTE_REGISTER), 201);
    edge_metrics_request(edge_route_get(EDGE_ROUTE_REGISTER), 409);
    edge_metrics_request(edge_route_get(EDGE_ROUTE_REGISTER), 400);
    edge_metrics_request(NULL, 404);
    s = edge_metrics_render();
    expect_line(s, "gau_edge_requests_total{route=\"account.register\","
                   "status=\"2xx\"} 1");
    expect_line(s, "gau_edge_requests_total{route=\"account.register\","
                   "status=\"4xx\"} 2");
    expect_line(s, "gau_edge_requests_total{route=\"account.register\","
                   "status=\"5xx\"} 0");
    expect_line(s, "gau_edge_requests_total{route=\"unmatched\","
                   "status=\"4xx\"} 1");
    expect_line(s, "# TYPE gau_edge_requests_total counter");
    free(s);
}

static void test_rpc_histogram(void **state)
{
    char *s;

    edge_metrics_rpc("account.login", 0, 3);
    edge_metrics_rpc("account.login", 0, 40);
    edge_metrics_rpc("account.login", 0, 20000);
    edge_metrics_rpc("account.login", GAU_ETIMEOUT, 5000);
    edge_metrics_rpc("no.such.type", 0, 1);
    s = edge_metrics_render();
    expect_line(s, "gau_edge_rpc_duration_seconds_bucket{type=\"account."
                   "login\",le=\"0.005\"} 1");
    expect_line(s, "gau_edge_rpc_duration_seconds_bucket{type=\"account."
                   "login\",le=\"0.025\"} 1");
    expect_line(s, "gau_edge_rpc_duration_seconds_bucket{type=\"account."
                   "login\",le=\"0.05\"} 2");
    expect_line(s, "gau_edge_rpc_duration_seconds_bucket{type=\"account."
                   "login\",le=\"10\"} 2");
    expect_line(s, "gau_edge_rpc_duration_seconds_bucket{type=\"account."
                   "login\",le=\"+Inf\"} 3");
    expect_line(s, "gau_edge_rpc_duration_seconds_sum{type=\"account."
                   "login\"} 20.043");
    expect_line(s, "gau_edge_rpc_duration_seconds_count{type=\"account."
                   "login\"} 3");
    expect_line(s, "gau_edge_rpc_total{type=\"account.login\","
                   "outcome=\"ok\"} 3");
    expect_line(s, "gau_edge_rpc_total{type=\"account.login\","
                   "outcome=\"timeout\"} 1");
    expect_line(s, "gau_edge_rpc_duration_seconds_count{type=\"account."
                   "register\"} 0");
    assert_null(strstr(s, "no.such.type"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_rpc_histogram),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
