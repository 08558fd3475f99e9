/*
 * idleconns PORT N PID - the edge-memory figure of make bench.
 *
 * Opens N keep-alive connections to 127.0.0.1:PORT, sends one
 * GET /healthz on each and reads its answer, then holds them all idle and
 * reads VmRSS of process PID (the edge) from /proc. Prints one line:
 * "open=<answered connections> rss_kib=<VmRSS> still_open=<after 2 s>".
 * The process's fd limit must allow N sockets (the bench script raises
 * it). Connects are kept at most IC_PENDING at a time, so the listen
 * backlog never overflows; gives up after IC_LIMIT_S seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define IC_PENDING 256
#define IC_LIMIT_S 25
#define IC_REQ "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

enum ic_state { IC_CONNECTING, IC_READING, IC_IDLE, IC_CLOSED };

struct ic_conn {
    int fd;
    enum ic_state st;
    size_t got;
};

static double ic_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long ic_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int ic_open(int ep, struct sockaddr_in *sa, struct ic_conn *c)
{
    struct epoll_event ev;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    c->st = IC_CONNECTING;
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void ic_close(struct ic_conn *c)
{
    close(c->fd);
    c->st = IC_CLOSED;
}

/*
 * Reads what the connection has; the answer of /healthz is small, so it
 * is complete once the bytes after the header end match Content-Length.
 */
static int ic_read(struct ic_conn *c)
{
    char buf[4096], *end, *cl;
    ssize_t n = read(c->fd, buf, sizeof(buf) - 1);
    long len = 0;

    if (n <= 0)
        return n == 0 || errno != EAGAIN ? -1 : 0;
    buf[n] = 0;
    end = strstr(buf, "\r\n\r\n");
    cl = strcasestr(buf, "content-length:");
    if (end && cl)
        len = atol(cl + 15);
    if (end && (size_t)(n - (end + 4 - buf)) >= (size_t)len)
        return 1;
    return 0;
}

static void ic_event(int ep, struct ic_conn *c, uint32_t events, int *open)
{
    struct epoll_event ev;
    int rc;

    if (c->st == IC_CONNECTING && (events & EPOLLOUT)) {
        if (write(c->fd, IC_REQ, strlen(IC_REQ)) < 0) {
            ic_close(c);
            return;
        }
        c->st = IC_READING;
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
    }
    if (c->st == IC_READING && (events & EPOLLIN)) {
        rc = ic_read(c);
        if (rc < 0) {
            ic_close(c);
        } else if (rc == 1) {
            c->st = IC_IDLE;
            (*open)++;
        }
        return;
    }
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (c->st == IC_IDLE)
            (*open)--;
        ic_close(c);
    }
}

int main(int argc, char **argv)
{
    struct epoll_event evs[512];
    struct sockaddr_in sa;
    struct ic_conn *cs;
    int port, n, pid, ep, started = 0, open = 0, answered, done, i, k;
    double t0;
    long rss;

    if (argc != 4) {
        fprintf(stderr, "usage: idleconns PORT N PID\n");
        return 2;
    }
    port = atoi(argv[1]);
    n = atoi(argv[2]);
    pid = atoi(argv[3]);
    cs = calloc((size_t)n, sizeof(*cs));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ep = epoll_create1(0);
    t0 = ic_now();
    for (;;) {
        done = 0;
        for (i = 0; i < n; i++)
            if (cs[i].st == IC_IDLE || cs[i].st == IC_CLOSED)
                done++;
        if ((done == n && started == n) || ic_now() - t0 > IC_LIMIT_S)
            break;
        while (started < n && started - done < IC_PENDING) {
            if (ic_open(ep, &sa, &cs[started]) < 0) {
                fprintf(stderr, "idleconns: cannot open connection %d: "
                                "%s\n", started, strerror(errno));
                cs[started].st = IC_CLOSED;
            }
            started++;
        }
        k = epoll_wait(ep, evs, 512, 100);
        for (i = 0; i < k; i++)
            ic_event(ep, evs[i].data.ptr, evs[i].events, &open);
    }
    answered = open;
    /* Let the edge settle before reading its memory. */
    sleep(1);
    rss = ic_rss_kib(pid);
    sleep(1);
    k = epoll_wait(ep, evs, 512, 0);
    for (i = 0; i < k; i++)
        ic_event(ep, evs[i].data.ptr, evs[i].events, &open);
    printf("open=%d rss_kib=%ld still_open=%d secs=%.1f\n", answered,
           rss, open, ic_now() - t0);
    for (i = 0; i < n; i++)
        if (cs[i].st != IC_CLOSED)
            close(cs[i].fd);
    free(cs);
    close(ep);
    return answered == n ? 0 : 1;
}
