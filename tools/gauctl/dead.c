/*
 * gauctl dead <service> [--requeue]
 *
 * Lists the messages in <service>.dead: reason, original routing key,
 * message id, size. Listing puts them back (they are taken unacked and
 * returned when the listing ends); --requeue instead publishes each to
 * gau.commands under its original routing key and acks it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "bus/envelope.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "tools/gauctl/gauctl.h"

#define DEAD_MAX 1000

static void dead_print(const struct bus_delivery *d, int n)
{
    printf("%d. reason: %s\n   routing key: %s\n   message id: %s\n"
           "   size: %zu bytes%s\n", n, d->reason[0] ? d->reason : "-",
           d->origin[0] ? d->origin : d->routing_key,
           d->message_id[0] ? d->message_id : "-", d->len,
           d->too_big ? " (body not kept)" : "");
}

/* Sends d back to gau.commands. 0 or a gau_err. */
static int dead_requeue(struct bus_conn *c, const struct bus_delivery *d)
{
    struct bus_props p;

    memset(&p, 0, sizeof(p));
    p.message_id = d->message_id[0] ? d->message_id : NULL;
    p.correlation_id = d->correlation_id[0] ? d->correlation_id : NULL;
    p.type = d->type[0] ? d->type : NULL;
    p.user_id = bus_conn_user(c);
    if (!d->origin[0] || !d->body)
        return GAU_EINVAL;
    return bus_publish(c, GAU_EXCHANGE_COMMANDS, d->origin, &p, d->body,
                       d->len);
}

int ctl_dead(int argc, char **argv)
{
    struct bus_delivery *ds = NULL;
    struct bus_conn *c;
    char queue[128];
    int n = 0, i, rc, requeue = 0, failed = 0;

    if (argc == 3 && strcmp(argv[2], "--requeue") == 0)
        requeue = 1;
    else if (argc != 2)
        return CTL_USAGE;
    snprintf(queue, sizeof(queue), "%s.dead", argv[1]);
    c = bus_conn_new(gau_env("GAU_AMQP_URL",
                             "amqp://guest:guest@127.0.0.1:5672/"),
                     "gauctl dead");
    if (bus_conn_open(c) < 0 ||
        bus_consume(c, queue, DEAD_MAX, GAU_ENV_BODY_MAX) < 0) {
        fprintf(stderr, "gauctl dead: cannot read '%s'\n", queue);
        bus_conn_free(c);
        return CTL_FAILED;
    }
    ds = xcalloc(DEAD_MAX, sizeof(*ds));
    /* Everything the queue holds arrives at once, up to the prefetch. */
    while (n < DEAD_MAX && bus_next(c, &ds[n], 1000) == 0)
        n++;
    bus_cancel(c);
    for (i = 0; i < n; i++) {
        dead_print(&ds[i], i + 1);
        if (!requeue)
            continue;
        rc = dead_requeue(c, &ds[i]);
        if (rc == 0)
            rc = bus_ack(c, ds[i].tag);
        if (rc < 0)
            failed++;
        printf("   %s\n", rc == 0 ? "requeued" : "cannot requeue");
    }
    for (i = 0; i < n; i++) {
        if (!requeue)
            bus_nack(c, ds[i].tag, true);
        bus_delivery_release(&ds[i]);
    }
    printf("%d message%s in %s%s\n", n, n == 1 ? "" : "s", queue,
           n == DEAD_MAX ? " (listing stops here)" : "");
    free(ds);
    bus_conn_free(c);
    return failed ? CTL_FAILED : CTL_OK;
}
