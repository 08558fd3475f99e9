/*
 * server.h - the HTTP edge: libmicrohttpd in front of the bus and the
 * Redis projections.
 *
 * Threads: MHD runs a pool of epoll threads (GAU_HTTP_THREADS, 3 by
 * default: more than one so that a thread waiting on Redis does not stall
 * every connection, and a third because it measured about 15% more
 * profile reads on 2 cores). Reads are answered on the MHD thread from
 * Redis; a command is sent with bus_rpc_call and its connection suspended
 * until the rpc thread hands the reply back and resumes it.
 *
 * Shutdown is in steps, so that no callback ever meets a freed
 * connection: edge_server_quiesce() (stop accepting; requests on open
 * connections get 503 and Connection: close), wait for
 * edge_server_inflight() to drop, edge_server_detach_rpc() (no further
 * calls), bus_rpc_free() (pending calls complete and resume their
 * connections), wait again, then edge_server_free().
 */
#ifndef GAU_EDGE_SERVER_H
#define GAU_EDGE_SERVER_H

#include <stdint.h>

#include "core/jwt.h"

struct bus_rpc;
struct edge_redis;

struct edge_config {
    const char *addr;       /* GAU_HTTP_ADDR */
    int port;               /* GAU_HTTP_PORT */
    unsigned max_conns;     /* GAU_HTTP_MAX_CONNECTIONS */
    unsigned threads;       /* GAU_HTTP_THREADS */
    unsigned timeout_s;     /* GAU_HTTP_TIMEOUT_S: idle, and whole request */
    size_t body_max;        /* GAU_BODY_MAX */
    int64_t rpc_timeout_ms; /* GAU_RPC_TIMEOUT_MS */
    int64_t refresh_ttl_s;  /* GAU_REFRESH_TTL_S, the refresh cookie */
    struct gau_jwt_config jwt;
};

struct edge_server;

/*
 * A server for cfg (copied; its strings must outlive the server) using ks,
 * redis and rpc, all borrowed until edge_server_free (rpc until
 * edge_server_detach_rpc). Nothing listens yet.
 */
struct edge_server *edge_server_new(const struct edge_config *cfg,
                                    const struct gau_keyset *ks,
                                    struct edge_redis *redis,
                                    struct bus_rpc *rpc);

/* Binds and starts the threads. Returns 0 or GAU_EIO (logged). */
int edge_server_start(struct edge_server *s);

/* Stops accepting connections and refuses new requests with 503. */
void edge_server_quiesce(struct edge_server *s);

/* The number of requests begun and not yet completed. */
int edge_server_inflight(struct edge_server *s);

/* After this no request calls the rpc any more; it may be freed. */
void edge_server_detach_rpc(struct edge_server *s);

/* Stops the daemon (closing what is left) and frees s. NULL ok. */
void edge_server_free(struct edge_server *s);

#endif
