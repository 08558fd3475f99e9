/*
 * metrics.h - request and rpc counters of the edge, in Prometheus text.
 *
 * Every counter is a relaxed atomic, so any thread may count without a
 * lock; a scrape reads each one once and may see a request counted in one
 * series and not yet in another, which Prometheus tolerates.
 *
 *   gau_edge_requests_total{route="account.register",status="2xx"}
 *   gau_edge_rpc_duration_seconds_bucket{type="account.login",le="0.05"}
 *   gau_edge_rpc_total{type="account.login",outcome="timeout"}
 */
#ifndef GAU_EDGE_METRICS_H
#define GAU_EDGE_METRICS_H

#include <stdint.h>

#include "http-edge/router.h"

/* Counts one answered request; route NULL for an unmatched path. */
void edge_metrics_request(const struct edge_route *route, int status);

/*
 * Counts one rpc call of command type that ended with rc (0, or the error
 * bus_rpc reported) after ms milliseconds. Unknown types are not counted.
 */
void edge_metrics_rpc(const char *type, int rc, int64_t ms);

/* The text exposition of every series; caller frees. */
char *edge_metrics_render(void);

#endif
