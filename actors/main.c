/*
 * gau-worker <service>: the worker pool of one service.
 */
#include <stdio.h>
#include <string.h>

#include "actors/account/account.h"
#include "actors/authorization/authorization.h"
#include "actors/runtime/pool.h"
#include "core/log.h"

static const struct svc_def *const worker_services[] = {
    &account_svc,
    &authorization_svc,
};

/*
 * TODO: workers expose no metrics or health endpoint yet; the supervisor
 * restarts what dies and the queues' depth shows a stuck pool. Prometheus
 * metrics and a liveness probe come with the Kubernetes manifests.
 */
int main(int argc, char **argv)
{
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: gau-worker <service>\n");
        return 2;
    }
    for (i = 0; i < sizeof(worker_services) / sizeof(worker_services[0]);
         i++) {
        if (strcmp(worker_services[i]->name, argv[1]) == 0) {
            gau_log_init(argv[1]);
            return pool_run(worker_services[i]) == 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "gau-worker: unknown service '%s'\n", argv[1]);
    return 2;
}
