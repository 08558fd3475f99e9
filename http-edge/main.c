/*
 * gau-edge: the HTTP edge. Reads its configuration and keys, connects the
 * bus rpc, serves HTTP until SIGTERM or SIGINT, then drains and exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bus/rpc.h"
#include "core/config.h"
#include "core/err.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "http-edge/redis.h"
#include "http-edge/server.h"

#define DRAIN_MS 10000
#define DRAIN_STOPPED_MS 2000

static int load_config(struct edge_config *cfg)
{
    long port, conns, threads, body, timeout, ttl, refresh, http_timeout;
    int rc = 0;

    rc |= gau_env_long("GAU_HTTP_PORT", 8080, 1, 65535, &port);
    rc |= gau_env_long("GAU_HTTP_MAX_CONNECTIONS", 20000, 1, 1000000,
                       &conns);
    /*
     * 3 on 2 cores: a thread waiting for Redis leaves its core to the
     * third (make bench: about 15% more reads than with 2).
     */
    rc |= gau_env_long("GAU_HTTP_THREADS", 3, 1, 64, &threads);
    rc |= gau_env_long("GAU_HTTP_TIMEOUT_S", 30, 1, 3600, &http_timeout);
    rc |= gau_env_long("GAU_BODY_MAX", 1048576, 1, 64L * 1024 * 1024, &body);
    rc |= gau_env_long("GAU_RPC_TIMEOUT_MS", 5000, 1, 600000, &timeout);
    rc |= gau_env_long("GAU_ACCESS_TTL_S", 900, 1, 86400, &ttl);
    rc |= gau_env_long("GAU_REFRESH_TTL_S", 2592000, 1, 31622400, &refresh);
    if (rc)
        return GAU_EINVAL;
    cfg->addr = gau_env("GAU_HTTP_ADDR", "127.0.0.1");
    cfg->port = (int)port;
    cfg->max_conns = (unsigned)conns;
    cfg->threads = (unsigned)threads;
    cfg->timeout_s = (unsigned)http_timeout;
    cfg->body_max = (size_t)body;
    cfg->rpc_timeout_ms = timeout;
    cfg->refresh_ttl_s = refresh;
    cfg->jwt.issuer = gau_env("GAU_JWT_ISSUER", "gau");
    cfg->jwt.audience = gau_env("GAU_JWT_AUDIENCE", "gau-api");
    cfg->jwt.ttl_s = ttl;
    cfg->jwt.leeway_s = 30;
    return 0;
}

/*
 * The edge only verifies. A private key within its reach would let anyone
 * who takes the edge over mint tokens, so a file holding one is refused
 * rather than used for its public half.
 */
static int check_public_only(const char *path)
{
    char *pem = NULL;
    int rc;

    rc = gau_file_read(path, 64 * 1024, &pem, NULL);
    if (rc < 0)
        return rc;
    if (strstr(pem, "PRIVATE KEY-----")) {
        log_error("cannot load JWT key '%s': it holds a private key; give "
                  "the edge public keys only", path);
        rc = GAU_EFORBIDDEN;
    }
    free(pem);
    return rc;
}

/* Loads every file of GAU_JWT_PUBLIC_KEY_FILES; at least one is needed. */
static struct gau_keyset *load_keys(void)
{
    const char *files = gau_env("GAU_JWT_PUBLIC_KEY_FILES", NULL);
    struct gau_keyset *ks;
    char *list, *path, *save = NULL;
    int rc = 0;

    if (!files) {
        log_error("cannot verify tokens: GAU_JWT_PUBLIC_KEY_FILES is not "
                  "set");
        return NULL;
    }
    ks = gau_keyset_new();
    list = xstrdup(files);
    for (path = strtok_r(list, ",", &save); path && rc == 0;
         path = strtok_r(NULL, ",", &save)) {
        rc = check_public_only(path);
        if (rc == GAU_EFORBIDDEN)
            break;
        if (rc == 0)
            rc = gau_keyset_add_pem_file(ks, path, 0);
        if (rc < 0)
            log_error("cannot load JWT key '%s': %s", path,
                      gau_strerror(rc));
    }
    free(list);
    if (rc == 0 && gau_keyset_count(ks) == 0) {
        log_error("cannot verify tokens: GAU_JWT_PUBLIC_KEY_FILES names no "
                  "key");
        rc = GAU_EINVAL;
    }
    if (rc < 0) {
        gau_keyset_free(ks);
        return NULL;
    }
    return ks;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Waits up to ms for the requests in flight to finish; 1 when they did. */
static int wait_idle(struct edge_server *srv, long ms)
{
    int64_t until = gau_mono_ms() + ms;

    while (edge_server_inflight(srv) > 0 && gau_mono_ms() < until)
        sleep_ms(20);
    return edge_server_inflight(srv) == 0;
}

/*
 * Stops in the order server.h gives: no new work, let calls finish, stop
 * the rpc (which resumes every connection still waiting), then MHD.
 */
static void drain(struct edge_server *srv, struct bus_rpc *rpc)
{
    edge_server_quiesce(srv);
    if (!wait_idle(srv, DRAIN_MS))
        log_warn("stopping with %d requests still in flight",
                 edge_server_inflight(srv));
    edge_server_detach_rpc(srv);
    bus_rpc_free(rpc);
    wait_idle(srv, DRAIN_STOPPED_MS);
}

static int wait_signal(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigwait(&set, &sig) != 0)
        return -1;
    return sig;
}

static void block_signals(void)
{
    sigset_t set;

    /* Blocked before any thread starts, so every thread inherits it. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(void)
{
    struct edge_config cfg;
    struct gau_keyset *ks = NULL;
    struct edge_redis *redis = NULL;
    struct bus_rpc *rpc = NULL;
    struct edge_server *srv = NULL;
    int rc = 1;

    gau_log_init("edge");
    json_set_alloc_funcs(xmalloc, free);
    block_signals();
    if (load_config(&cfg) < 0)
        goto out;
    ks = load_keys();
    if (!ks)
        goto out;
    redis = edge_redis_new(gau_env_svc("GAU_REDIS_URL", "edge",
                                       "redis://127.0.0.1:6379/0"),
                           (int)cfg.threads * 2);
    if (!redis)
        goto out;

    rpc = bus_rpc_new(gau_env_svc("GAU_AMQP_URL", "edge",
                                  "amqp://guest:guest@127.0.0.1:5672/"),
                      "edge");
    if (bus_rpc_start(rpc) < 0) {
        log_error("cannot start the bus rpc thread");
        goto out;
    }
    srv = edge_server_new(&cfg, ks, redis, rpc);
    if (edge_server_start(srv) < 0)
        goto out;

    log_info("stopping on signal %d", wait_signal());
    drain(srv, rpc);
    rpc = NULL;
    rc = 0;
out:
    if (srv)
        edge_server_detach_rpc(srv);
    bus_rpc_free(rpc);
    edge_server_free(srv);
    edge_redis_free(redis);
    gau_keyset_free(ks);
    log_info("stopped");
    return rc;
}
