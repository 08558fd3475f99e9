#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "actors/runtime/pgx.h"
#include "actors/runtime/projection.h"
#include "actors/runtime/projector.h"
#include "actors/runtime/svc.h"
#include "bus/bus.h"
#include "bus/envelope.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

struct projector {
    const struct svc_def *def;
    struct bus_conn *bus;
    PGconn *pg;
    char pg_url[512];
    redisContext *rd;
    int64_t next_check_ms;
    volatile int *stop;
};

static int projector_redis(struct projector *p)
{
    if (p->rd)
        return 0;
    return projection_connect(projection_url(p->def->name), &p->rd);
}

static void projector_drop_redis(struct projector *p)
{
    redisFree(p->rd);
    p->rd = NULL;
}

/* Rebuilds when the ready marker is missing. */
static void projector_check(struct projector *p)
{
    struct proj_stats st;
    int rc;

    if (gau_mono_ms() < p->next_check_ms)
        return;
    p->next_check_ms = gau_mono_ms() + 1000;
    if (projector_redis(p) < 0)
        return;
    rc = projection_is_ready(p->rd, p->def->name);
    if (rc < 0)
        projector_drop_redis(p);
    if (rc != 0)
        return;
    if (pgx_ensure(&p->pg, p->pg_url) < 0)
        return;
    log_info("projections of %s not ready; rebuilding", p->def->name);
    rc = projection_rebuild(p->pg, p->rd, p->def, &st, NULL, NULL);
    if (rc < 0) {
        log_warn("cannot rebuild projections: %s", gau_strerror(rc));
        projector_drop_redis(p);
        return;
    }
    log_info("projections rebuilt: read=%llu applied=%llu skipped=%llu "
             "bad=%llu ms=%lld", (unsigned long long)st.read,
             (unsigned long long)st.applied, (unsigned long long)st.skipped,
             (unsigned long long)st.bad, (long long)st.ms);
}

static int projector_bus(struct projector *p)
{
    char queue[96];
    int rc;

    if (bus_conn_is_open(p->bus))
        return 0;
    rc = bus_conn_open_retry(p->bus, p->stop, 0);
    if (rc < 0)
        return rc;
    snprintf(queue, sizeof(queue), "%s.projector", p->def->name);
    rc = bus_declare_topology(p->bus, p->def->name);
    if (rc == 0)
        rc = bus_consume(p->bus, queue, PROJECTOR_PREFETCH,
                         GAU_ENV_BODY_MAX);
    if (rc < 0) {
        log_error("cannot consume '%s': %s", queue, gau_strerror(rc));
        bus_conn_close(p->bus);
    }
    return rc;
}

/* Applies one delivery, holding it while Redis is down. */
static int projector_handle(struct projector *p, struct bus_delivery *d)
{
    int rc = GAU_EUNAVAIL;

    if (d->too_big) {
        log_error("event dropped: body of %llu bytes is too big",
                  (unsigned long long)d->declared_len);
        return bus_ack(p->bus, d->tag);
    }
    while (!*p->stop) {
        if (projector_redis(p) == 0) {
            rc = projection_apply_body(p->rd, p->def, d->body, d->len);
            if (rc != GAU_EUNAVAIL)
                break;
            projector_drop_redis(p);
        }
        poll(NULL, 0, 1000);
    }
    if (rc == GAU_EUNAVAIL)
        return 0; /* stopping: not acked, so it comes back */
    /* An event that cannot be decoded never will be: it was logged. */
    return bus_ack(p->bus, d->tag);
}

int projector_run(const struct svc_def *def, volatile int *stop)
{
    struct projector p;
    struct bus_delivery d;
    const char *url;
    int rc;

    memset(&p, 0, sizeof(p));
    p.def = def;
    p.stop = stop;
    pgx_url(def->name, p.pg_url, sizeof(p.pg_url));
    url = gau_env_svc("GAU_AMQP_URL", def->name,
                      "amqp://guest:guest@127.0.0.1:5672/");
    p.bus = bus_conn_new(url, "projector");
    while (!*stop) {
        projector_check(&p);
        if (projector_bus(&p) < 0) {
            if (!*stop)
                poll(NULL, 0, 1000);
            continue;
        }
        rc = bus_next(p.bus, &d, 500);
        if (rc == GAU_ETIMEOUT)
            continue;
        if (rc == 0) {
            rc = projector_handle(&p, &d);
            bus_delivery_release(&d);
        }
        if (rc < 0) {
            log_warn("lost the broker connection; reconnecting");
            bus_conn_close(p.bus);
        }
    }
    bus_conn_free(p.bus);
    PQfinish(p.pg);
    redisFree(p.rd);
    return 0;
}
