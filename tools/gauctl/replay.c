/*
 * gauctl replay <service>: rebuilds the service's Redis projections from
 * its event table while live traffic continues.
 *
 * The projection keys (gau:<svc>:*, the ready marker with them) are
 * deleted, then every event is applied again in seq order and the marker
 * set. Until then the edge answers 503 for reads that need them, which is
 * better than answering from a half-built projection. Version checks make
 * the projector and the command actors writing at the same time harmless.
 *
 * TODO: rebuild into a second key space and switch over, so reads keep
 * being served during a replay; safe for now because the gap answers 503,
 * never wrong data.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "actors/account/account.h"
#include "actors/authorization/authorization.h"
#include "actors/runtime/projection.h"
#include "core/err.h"
#include "core/log.h"
#include "tools/gauctl/gauctl.h"
#include "tools/gauctl/pg.h"

static const struct svc_def *const replay_services[] = {
    &account_svc,
    &authorization_svc,
};

static const struct svc_def *replay_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(replay_services) / sizeof(replay_services[0]);
         i++)
        if (strcmp(replay_services[i]->name, name) == 0)
            return replay_services[i];
    return NULL;
}

static void replay_progress(const struct proj_stats *st, void *arg)
{
    (void)arg;
    fprintf(stderr, "\r%llu events read, %llu applied, %llu skipped",
            (unsigned long long)st->read, (unsigned long long)st->applied,
            (unsigned long long)st->skipped);
}

int ctl_replay(int argc, char **argv)
{
    const struct svc_def *def;
    struct proj_stats st;
    redisContext *rd = NULL;
    PGconn *pg = NULL;
    uint64_t deleted = 0;
    int rc = CTL_FAILED, tty = isatty(STDERR_FILENO);

    if (argc != 2)
        return CTL_USAGE;
    def = replay_find(argv[1]);
    if (!def) {
        fprintf(stderr, "gauctl replay: unknown service '%s'\n", argv[1]);
        return CTL_USAGE;
    }
    if (ctl_pg_connect(def->name, &pg) < 0 ||
        projection_connect(projection_url(def->name), &rd) < 0)
        goto out;
    if (projection_clear(rd, def->name, &deleted) < 0)
        goto out;
    if (projection_rebuild(pg, rd, def, &st, tty ? replay_progress : NULL,
                           NULL) < 0) {
        if (tty)
            fprintf(stderr, "\n");
        fprintf(stderr, "gauctl replay: stopped after %llu events\n",
                (unsigned long long)st.read);
        goto out;
    }
    if (tty && st.read >= 10000)
        fprintf(stderr, "\n");
    printf("%s: %llu keys deleted, %llu events read, %llu applied, "
           "%llu skipped, %llu bad, %lld ms (%.0f events/s)\n", def->name,
           (unsigned long long)deleted, (unsigned long long)st.read,
           (unsigned long long)st.applied, (unsigned long long)st.skipped,
           (unsigned long long)st.bad, (long long)st.ms,
           st.ms > 0 ? st.read * 1000.0 / st.ms : (double)st.read);
    rc = st.bad ? CTL_FAILED : CTL_OK;
out:
    redisFree(rd);
    PQfinish(pg);
    return rc;
}
