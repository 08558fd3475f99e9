#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "actors/runtime/pgx.h"
#include "actors/runtime/relay.h"
#include "actors/runtime/svc.h"
#include "bus/bus.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#define RELAY_BATCH 100

struct relay {
    const struct svc_def *def;
    struct bus_conn *bus;
    PGconn *pg;
    char pg_url[512];
    volatile int *stop;
};

static int relay_pg(struct relay *r)
{
    if (r->pg && PQstatus(r->pg) == CONNECTION_OK)
        return 0;
    if (pgx_ensure(&r->pg, r->pg_url) < 0)
        return GAU_EUNAVAIL;
    if (pgx_cmd(r->pg, "LISTEN gau_outbox") < 0) {
        PQfinish(r->pg);
        r->pg = NULL;
        return GAU_EUNAVAIL;
    }
    return 0;
}

static int relay_bus(struct relay *r)
{
    int rc;

    if (bus_conn_is_open(r->bus))
        return 0;
    rc = bus_conn_open_retry(r->bus, r->stop, 0);
    if (rc == 0)
        rc = bus_declare_topology(r->bus, r->def->name);
    if (rc < 0)
        bus_conn_close(r->bus);
    return rc;
}

/* Publishes the rows of res; *done counts those the broker took. */
static int relay_publish(struct relay *r, PGresult *res, int *done)
{
    struct bus_props p;
    unsigned char *body;
    size_t len;
    int i, rc = 0;

    *done = 0;
    for (i = 0; i < PQntuples(res); i++) {
        memset(&p, 0, sizeof(p));
        p.message_id = pgx_str(res, i, 1);
        p.type = pgx_str(res, i, 2);
        p.correlation_id = pgx_str(res, i, 4);
        body = pgx_bytea(res, i, 3, &len);
        rc = bus_publish(r->bus, GAU_EXCHANGE_EVENTS, p.type, &p,
                         body ? (const void *)body : "", len);
        PQfreemem(body);
        /* Unroutable means nobody subscribes: nothing to deliver. */
        if (rc == GAU_ENOTFOUND) {
            log_warn("event %s had no queue to go to", p.type);
            rc = 0;
        }
        if (rc < 0) {
            log_warn("cannot publish event %s: %s", p.type,
                     gau_strerror(rc));
            break;
        }
        (*done)++;
    }
    return rc;
}

/* Marks the first n rows of res published. */
static int relay_mark(struct relay *r, PGresult *res, int n)
{
    static const char sql[] =
        "UPDATE events SET published_at = now() "
        "WHERE seq = ANY($1::bigint[])";
    size_t cap = (size_t)n * 21 + 3, len = 0;
    char *arr = xmalloc(cap);
    const char *vals[1] = { arr };
    int i, rc;

    arr[len++] = '{';
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(arr + len, cap - len, "%s%s", i ? "," : "",
                                PQgetvalue(res, i, 0));
    snprintf(arr + len, cap - len, "}");
    rc = pgx_exec(r->pg, sql, 1, vals, NULL, NULL, NULL, NULL, 0);
    free(arr);
    return rc;
}

/* One batch; returns the number of rows taken, or a gau_err. */
static int relay_batch(struct relay *r)
{
    static const char sql[] =
        "SELECT seq, event_id, type, body, correlation_id FROM events "
        "WHERE published_at IS NULL ORDER BY seq LIMIT 100 "
        "FOR UPDATE SKIP LOCKED";
    PGresult *res = NULL;
    int rc, prc, done = 0, rows;

    rc = pgx_cmd(r->pg, "BEGIN");
    if (rc == 0)
        rc = pgx_exec(r->pg, sql, 0, NULL, NULL, NULL, &res, NULL, 0);
    if (rc < 0)
        goto fail;
    rows = PQntuples(res);
    prc = rows ? relay_publish(r, res, &done) : 0;
    if (done > 0)
        rc = relay_mark(r, res, done);
    if (rc == 0)
        rc = pgx_cmd(r->pg, "COMMIT");
    PQclear(res);
    if (rc < 0)
        goto fail;
    if (done)
        log_debug("published %d events", done);
    return prc < 0 ? prc : rows;
fail:
    if (r->pg && PQstatus(r->pg) == CONNECTION_OK)
        pgx_cmd(r->pg, "ROLLBACK");
    return rc;
}

/* Waits for a NOTIFY, at most timeout_ms. */
static void relay_wait(struct relay *r, int timeout_ms)
{
    struct pollfd pfd = { PQsocket(r->pg), POLLIN, 0 };
    PGnotify *n;
    int pending = 0;

    /*
     * A notification that arrived with the last batch's query results is
     * already in libpq's queue, not on the socket: poll() would sleep the
     * whole timeout over it while its event waits.
     */
    while ((n = PQnotifies(r->pg)) != NULL) {
        PQfreemem(n);
        pending = 1;
    }
    if (pending)
        return;
    if (pfd.fd >= 0)
        poll(&pfd, 1, timeout_ms);
    else
        poll(NULL, 0, timeout_ms);
    if (PQconsumeInput(r->pg) == 0)
        return;
    while ((n = PQnotifies(r->pg)) != NULL)
        PQfreemem(n);
}

int relay_run(const struct svc_def *def, volatile int *stop)
{
    struct relay r = { 0 };
    const char *url;
    int rc;

    r.def = def;
    r.stop = stop;
    pgx_url(def->name, r.pg_url, sizeof(r.pg_url));
    url = gau_env_svc("GAU_AMQP_URL", def->name,
                      "amqp://guest:guest@127.0.0.1:5672/");
    r.bus = bus_conn_new(url, "relay");
    while (!*stop) {
        if (relay_bus(&r) < 0 || relay_pg(&r) < 0) {
            if (!*stop)
                poll(NULL, 0, 1000);
            continue;
        }
        rc = relay_batch(&r);
        if (rc == RELAY_BATCH)
            continue;
        if (rc < 0) {
            if (rc == GAU_EUNAVAIL || rc == GAU_ETIMEOUT || rc == GAU_EIO)
                bus_conn_close(r.bus);
            poll(NULL, 0, 500);
            continue;
        }
        relay_wait(&r, 1000);
    }
    bus_conn_free(r.bus);
    PQfinish(r.pg);
    return 0;
}
