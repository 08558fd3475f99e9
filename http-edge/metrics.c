#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "http-edge/metrics.h"

#define CLASSES 5 /* 1xx..5xx */
#define OUTCOMES 4

static const char *const rpc_types[] = {
    "account.register",           "account.login",
    "account.profile_update",     "authorization.session_open",
    "authorization.session_revoke", "authorization.token_refresh",
};

#define NTYPES (sizeof(rpc_types) / sizeof(rpc_types[0]))

static const char *const outcome_names[OUTCOMES] = {
    "ok", "timeout", "unavailable", "stopped"
};

/* Upper bounds of the latency buckets, in milliseconds. */
static const int64_t bucket_ms[] = { 5, 10, 25, 50, 100, 250, 500, 1000,
                                     2500, 5000, 10000 };

#define NBUCKETS (sizeof(bucket_ms) / sizeof(bucket_ms[0]))

/* Index EDGE_ROUTE_COUNT holds the unmatched requests. */
static atomic_uint_fast64_t requests[EDGE_ROUTE_COUNT + 1][CLASSES];
static atomic_uint_fast64_t rpc_bucket[NTYPES][NBUCKETS];
static atomic_uint_fast64_t rpc_count[NTYPES];
static atomic_uint_fast64_t rpc_sum_ms[NTYPES];
static atomic_uint_fast64_t rpc_outcome[NTYPES][OUTCOMES];

static void inc(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void edge_metrics_request(const struct edge_route *route, int status)
{
    int cls = status / 100 - 1;
    int r = route ? (int)route->id : EDGE_ROUTE_COUNT;

    if (cls < 0 || cls >= CLASSES)
        cls = CLASSES - 1;
    inc(&requests[r][cls], 1);
}

static int type_index(const char *type)
{
    size_t i;

    for (i = 0; i < NTYPES; i++)
        if (strcmp(rpc_types[i], type) == 0)
            return (int)i;
    return -1;
}

static int outcome_index(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case GAU_ETIMEOUT:
        return 1;
    case GAU_ESTOPPED:
        return 3;
    default:
        return 2;
    }
}

void edge_metrics_rpc(const char *type, int rc, int64_t ms)
{
    int t = type_index(type);
    size_t b;

    if (t < 0)
        return;
    if (ms < 0)
        ms = 0;
    inc(&rpc_outcome[t][outcome_index(rc)], 1);
    if (rc != 0)
        return;
    /*
     * The count goes up before the (cumulative) buckets and a scrape reads
     * the buckets before the count, so no bucket is ever seen above +Inf.
     */
    inc(&rpc_count[t], 1);
    inc(&rpc_sum_ms[t], (uint64_t)ms);
    for (b = 0; b < NBUCKETS; b++)
        if (ms <= bucket_ms[b])
            inc(&rpc_bucket[t][b], 1);
}

static void emit(struct gau_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void emit(struct gau_buf *b, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        gau_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n
                                                         : sizeof(line) - 1);
}

static void render_requests(struct gau_buf *b)
{
    int r, c;

    emit(b, "# HELP gau_edge_requests_total HTTP requests answered.\n"
            "# TYPE gau_edge_requests_total counter\n");
    for (r = 0; r <= EDGE_ROUTE_COUNT; r++) {
        const char *name = r < EDGE_ROUTE_COUNT
                               ? edge_route_get((enum edge_route_id)r)->name
                               : "unmatched";

        for (c = 0; c < CLASSES; c++)
            emit(b, "gau_edge_requests_total{route=\"%s\",status=\"%dxx\"}"
                    " %llu\n",
                 name, c + 1, (unsigned long long)get(&requests[r][c]));
    }
}

static void render_rpc(struct gau_buf *b)
{
    size_t t, i;

    emit(b, "# HELP gau_edge_rpc_total Commands sent, by outcome.\n"
            "# TYPE gau_edge_rpc_total counter\n");
    for (t = 0; t < NTYPES; t++)
        for (i = 0; i < OUTCOMES; i++)
            emit(b, "gau_edge_rpc_total{type=\"%s\",outcome=\"%s\"} %llu\n",
                 rpc_types[t], outcome_names[i],
                 (unsigned long long)get(&rpc_outcome[t][i]));
    emit(b, "# HELP gau_edge_rpc_duration_seconds Time from sending a "
            "command to its reply.\n"
            "# TYPE gau_edge_rpc_duration_seconds histogram\n");
    for (t = 0; t < NTYPES; t++) {
        uint64_t count;

        for (i = 0; i < NBUCKETS; i++)
            emit(b, "gau_edge_rpc_duration_seconds_bucket{type=\"%s\","
                    "le=\"%g\"} %llu\n",
                 rpc_types[t], (double)bucket_ms[i] / 1000.0,
                 (unsigned long long)get(&rpc_bucket[t][i]));
        count = get(&rpc_count[t]);
        emit(b, "gau_edge_rpc_duration_seconds_bucket{type=\"%s\","
                "le=\"+Inf\"} %llu\n",
             rpc_types[t], (unsigned long long)count);
        emit(b, "gau_edge_rpc_duration_seconds_sum{type=\"%s\"} %.3f\n",
             rpc_types[t], (double)get(&rpc_sum_ms[t]) / 1000.0);
        emit(b, "gau_edge_rpc_duration_seconds_count{type=\"%s\"} %llu\n",
             rpc_types[t], (unsigned long long)count);
    }
}

char *edge_metrics_render(void)
{
    struct gau_buf b;

    gau_buf_init(&b, 1024 * 1024);
    render_requests(&b);
    render_rpc(&b);
    return gau_buf_detach(&b, NULL);
}
