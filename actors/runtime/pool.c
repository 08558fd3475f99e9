#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/runtime/actor.h"
#include "actors/runtime/pool.h"
#include "actors/runtime/projector.h"
#include "actors/runtime/relay.h"
#include "actors/runtime/svc.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

volatile int pool_stop;

enum pool_kind { POOL_ACTOR, POOL_RELAY, POOL_PROJECTOR };

struct pool_child {
    enum pool_kind kind;
    int index;
    char name[32];
    pid_t pid;          /* 0 while waiting to be restarted */
    int64_t started_ms; /* monotonic */
    int64_t backoff_ms;
    int64_t restart_ms; /* monotonic time of the next start */
};

struct pool {
    const struct svc_def *def;
    struct pool_child *kids;
    int nkids;
    int sfd;
    pid_t self;
};

int64_t pool_backoff_ms(int64_t prev_ms, int64_t up_ms)
{
    if (prev_ms <= 0 || up_ms >= POOL_STABLE_MS)
        return POOL_BACKOFF_MIN_MS;
    if (prev_ms >= POOL_BACKOFF_MAX_MS / 2)
        return POOL_BACKOFF_MAX_MS;
    return prev_ms * 2;
}

static void pool_on_term(int sig)
{
    (void)sig;
    pool_stop = 1;
}

/* In the child: signals, parent death, name; then the child's own loop. */
static void pool_child_main(struct pool *p, struct pool_child *k)
{
    struct sigaction sa;
    sigset_t none;
    int rc;

    close(p->sfd);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pool_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != p->self)
        _exit(0);
    prctl(PR_SET_NAME, k->name);
    gau_log_init(k->name);
    if (k->kind == POOL_ACTOR)
        rc = actor_run(p->def, k->index, &pool_stop);
    else if (k->kind == POOL_RELAY)
        rc = relay_run(p->def, &pool_stop);
    else
        rc = projector_run(p->def, &pool_stop);
    free(p->kids);
    exit(rc == 0 ? 0 : 1);
}

static void pool_spawn(struct pool *p, struct pool_child *k)
{
    pid_t pid = fork();

    if (pid < 0) {
        log_error("cannot fork %s: %s", k->name, strerror(errno));
        k->backoff_ms = pool_backoff_ms(k->backoff_ms, 0);
        k->restart_ms = gau_mono_ms() + k->backoff_ms;
        return;
    }
    if (pid == 0)
        pool_child_main(p, k);
    k->pid = pid;
    k->started_ms = gau_mono_ms();
    log_info("started %s pid=%d", k->name, (int)pid);
}

static struct pool_child *pool_find(struct pool *p, pid_t pid)
{
    int i;

    for (i = 0; i < p->nkids; i++)
        if (p->kids[i].pid == pid)
            return &p->kids[i];
    return NULL;
}

static void pool_log_exit(const struct pool_child *k, int status, int64_t up)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        log_info("%s exited pid=%d status=0 up_ms=%lld", k->name,
                 (int)k->pid, (long long)up);
    else if (WIFSIGNALED(status))
        log_warn("%s exited pid=%d signal=%d (%s) up_ms=%lld", k->name,
                 (int)k->pid, WTERMSIG(status), strsignal(WTERMSIG(status)),
                 (long long)up);
    else
        log_warn("%s exited pid=%d status=%d up_ms=%lld", k->name,
                 (int)k->pid, WEXITSTATUS(status), (long long)up);
}

/* Reaps every child that exited; schedules restarts unless stopping. */
static int pool_reap(struct pool *p, int restart)
{
    struct pool_child *k;
    int status, reaped = 0;
    int64_t up;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        k = pool_find(p, pid);
        if (!k)
            continue;
        up = gau_mono_ms() - k->started_ms;
        pool_log_exit(k, status, up);
        k->pid = 0;
        reaped++;
        if (!restart)
            continue;
        k->backoff_ms = pool_backoff_ms(k->backoff_ms, up);
        k->restart_ms = gau_mono_ms() + k->backoff_ms;
        log_info("restarting %s in %lld ms", k->name,
                 (long long)k->backoff_ms);
    }
    return reaped;
}

/* Reads pending signals; returns 1 when asked to stop. */
static int pool_signals(struct pool *p)
{
    struct signalfd_siginfo si;
    int stop = 0;

    while (read(p->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            stop = 1;
    return stop;
}

static int pool_live(const struct pool *p)
{
    int i, n = 0;

    for (i = 0; i < p->nkids; i++)
        n += p->kids[i].pid > 0;
    return n;
}

static void pool_signal_all(struct pool *p, int sig)
{
    int i;

    for (i = 0; i < p->nkids; i++)
        if (p->kids[i].pid > 0)
            kill(p->kids[i].pid, sig);
}

static void pool_shutdown(struct pool *p)
{
    int64_t deadline = gau_mono_ms() + POOL_DRAIN_MS, left;
    struct pollfd pfd = { p->sfd, POLLIN, 0 };

    log_info("stopping: %d children", pool_live(p));
    pool_signal_all(p, SIGTERM);
    pool_reap(p, 0);
    while (pool_live(p) > 0 && (left = deadline - gau_mono_ms()) > 0) {
        poll(&pfd, 1, (int)(left < 200 ? left : 200));
        pool_signals(p);
        pool_reap(p, 0);
    }
    if (pool_live(p) > 0) {
        log_warn("killing %d children that did not stop in time",
                 pool_live(p));
        pool_signal_all(p, SIGKILL);
        while (pool_live(p) > 0) {
            poll(NULL, 0, 50);
            pool_reap(p, 0);
        }
    }
    log_info("stopped");
}

static int pool_timeout(const struct pool *p)
{
    int64_t now = gau_mono_ms(), t = -1, d;
    int i;

    for (i = 0; i < p->nkids; i++) {
        if (p->kids[i].pid > 0)
            continue;
        d = p->kids[i].restart_ms - now;
        if (d < 0)
            d = 0;
        if (t < 0 || d < t)
            t = d;
    }
    return t < 0 ? 1000 : (int)t;
}

static void pool_start_due(struct pool *p)
{
    int64_t now = gau_mono_ms();
    int i;

    for (i = 0; i < p->nkids; i++)
        if (p->kids[i].pid == 0 && p->kids[i].restart_ms <= now)
            pool_spawn(p, &p->kids[i]);
}

static void pool_layout(struct pool *p, long actors)
{
    struct pool_child *k;
    int i;

    p->nkids = (int)actors + 2;
    p->kids = xcalloc((size_t)p->nkids, sizeof(*p->kids));
    for (i = 0; i < p->nkids; i++) {
        k = &p->kids[i];
        k->index = i + 1;
        k->kind = i < actors ? POOL_ACTOR
                  : i == actors ? POOL_RELAY : POOL_PROJECTOR;
        if (k->kind == POOL_ACTOR)
            snprintf(k->name, sizeof(k->name), "%s.actor.%d", p->def->name,
                     k->index);
        else
            snprintf(k->name, sizeof(k->name), "%s.%s", p->def->name,
                     k->kind == POOL_RELAY ? "relay" : "projector");
    }
}

int pool_run(const struct svc_def *def)
{
    struct pool p = { 0 };
    struct pollfd pfd;
    sigset_t set;
    long actors;
    int stop = 0;

    /*
     * Four by default: with more transactions in flight PostgreSQL commits
     * them in groups, and an actor waiting on Redis or the broker leaves
     * the core to another (make bench: 536 -> 787 writes/s on 2 cores).
     */
    if (gau_env_long("GAU_ACTORS", 4, 1, 64, &actors) < 0)
        return GAU_EINVAL;
    p.def = def;
    p.self = getpid();
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    p.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (p.sfd < 0) {
        log_error("cannot create signalfd: %s", strerror(errno));
        return GAU_EIO;
    }
    pool_layout(&p, actors);
    log_info("starting pool: %ld actors, 1 relay, 1 projector", actors);
    while (!stop) {
        pool_start_due(&p);
        pfd.fd = p.sfd;
        pfd.events = POLLIN;
        poll(&pfd, 1, pool_timeout(&p));
        stop = pool_signals(&p);
        pool_reap(&p, !stop);
    }
    pool_shutdown(&p);
    close(p.sfd);
    free(p.kids);
    return 0;
}
