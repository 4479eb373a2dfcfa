/*
 * sse_main.c — build/zerosum-subscribe: the sse-fanout scenario's subscribers.
 *
 *   zerosum-subscribe --host IPV4 --port PORT --path PATH --n N
 *                     [--auth 'Bearer …'] [--deadline-s S]
 *
 * Opens N EventSource streams on PATH (GET over HTTP/1.0, Accept:
 * text/event-stream, Cache-Control: no-cache; at most 50 heads awaited at
 * once), then prints "ready SUBSCRIBED REFUSED" on stdout and reads every
 * stream from one epoll loop (sse.h). It stops when stdin closes, on
 * SIGTERM/SIGINT, at the deadline (default 3600 s), or after a line
 * "finish LAST WAIT_S" on stdin once every accepted stream has an event with
 * id >= LAST or WAIT_S seconds have passed. Then one JSON object on stdout:
 * client, subscribed, refused, closed_early, bytes, cpu_user_s and cpu_sys_s
 * (its own CPU seconds), subs (per accepted
 * stream [count, hash, out-of-order messages, last id, closed early]) and
 * hist (the 0.1 ms latency bins that are not empty, {"bin": count}).
 * Exit 0 with the report, 2 (a message on stderr) when it could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "burst.h"
#include "sse.h"

#define CONNECT_WAVE 50
#define READ_SIZE 262144

struct client {
    struct sse_sub *subs;
    int *fds;
    int *closed; /* 1: closed early, 2: refused */
    size_t n;
    int ep;
    struct sse_cache *cache;
    uint64_t *hist;
    unsigned long long bytes;
    char *rbuf;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

static double wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Streams whose heads are still awaited. */
static size_t awaiting(const struct client *c, size_t upto)
{
    size_t k = 0;

    for (size_t i = 0; i < upto; i++)
        k += !c->subs[i].head_done && !c->closed[i];
    return k;
}

/* Read what stream i has; drop it when it ends or is refused. */
static void read_stream(struct client *c, size_t i)
{
    /* one read per readiness: the epoll is level-triggered, so what is left
     * is read next round (no second recv just to see EAGAIN) */
    ssize_t got = recv(c->fds[i], c->rbuf, READ_SIZE, 0);
    int rc;

    if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (got <= 0) {
        c->closed[i] = 1;
    } else {
        c->bytes += (unsigned long long)got;
        rc = sse_feed(&c->subs[i], c->cache, c->rbuf, (size_t)got, wall_s(), c->hist);
        if (rc < 0) {
            fprintf(stderr, "zerosum-subscribe: out of memory\n");
            exit(2);
        }
        if (rc == 0)
            return;
        c->closed[i] = 2;
    }
    epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fds[i], NULL);
    close(c->fds[i]);
    c->fds[i] = -1;
}

/* One round of the loop (timeout_ms at most); 1 when stdin has a line or closed. */
static int pump(struct client *c, int timeout_ms)
{
    struct epoll_event evs[256];
    int k = epoll_wait(c->ep, evs, 256, timeout_ms), in = 0;

    for (int j = 0; j < k; j++) {
        if (evs[j].data.u64 == UINT64_MAX)
            in = 1;
        else if (c->fds[evs[j].data.u64] >= 0)
            read_stream(c, (size_t)evs[j].data.u64);
    }
    return in;
}

/* Open the n streams, CONNECT_WAVE heads at most in flight; -1 with errno. */
static int subscribe(struct client *c, const struct sockaddr_in *sa, const char *req, size_t rlen)
{
    for (size_t i = 0; i < c->n; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0
            || send(fd, req, rlen, MSG_NOSIGNAL) != (ssize_t)rlen)
            return -1;
        c->fds[i] = fd;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            return -1;
        while (awaiting(c, i + 1) >= CONNECT_WAVE && !stop)
            pump(c, 500);
    }
    return 0;
}

/* Whether every accepted stream still open has reached id last. */
static int all_reached(const struct client *c, int64_t last)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->subs[i].status == 200 && !c->closed[i] && c->subs[i].last < last)
            return 0;
    return 1;
}

/* Until a finish line or the end of stdin (or a signal, or the deadline): then the drain. */
static void run(struct client *c, double deadline)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
    char line[128];
    size_t ll = 0;
    long long last = -1;
    double until = deadline;

    epoll_ctl(c->ep, EPOLL_CTL_ADD, 0, &ev);
    while (!stop && wall_s() < deadline && last < 0) {
        ssize_t got;

        if (!pump(c, 50))
            continue;
        got = read(0, line + ll, sizeof(line) - 1 - ll);
        if (got <= 0) {
            if (got < 0 && errno == EINTR)
                continue;
            return; /* stdin closed: stop now */
        }
        ll += (size_t)got;
        line[ll] = '\0';
        if (strchr(line, '\n')) {
            double wait_s = 0;

            if (sscanf(line, "finish %lld %lf", &last, &wait_s) != 2 || last < 0) {
                fprintf(stderr, "zerosum-subscribe: not a finish line: %s", line);
                exit(2);
            }
            until = wall_s() + wait_s < deadline ? wall_s() + wait_s : deadline;
        } else if (ll == sizeof(line) - 1) {
            ll = 0;
        }
    }
    epoll_ctl(c->ep, EPOLL_CTL_DEL, 0, NULL);
    while (last >= 0 && !stop && wall_s() < until && !all_reached(c, last))
        pump(c, 50);
}

/* The report (sse_main.c's header says its members). */
static void report(const struct client *c, size_t ok, size_t refused)
{
    size_t early = 0, k = 0;

    struct rusage ru;
    double user = 0, sys = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    for (size_t i = 0; i < c->n; i++)
        early += c->closed[i] == 1;
    printf("{\"client\":\"c\",\"subscribed\":%zu,\"refused\":%zu,\"closed_early\":%zu,"
           "\"bytes\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"subs\":[",
           ok, refused, early, c->bytes, user, sys);
    for (size_t i = 0; i < c->n; i++) {
        const struct sse_sub *s = &c->subs[i];

        if (s->status != 200 || c->closed[i] == 2)
            continue;
        printf("%s[%llu,%llu,%llu,%lld,%s]", k++ ? "," : "", (unsigned long long)s->count,
               (unsigned long long)s->hash, (unsigned long long)s->disorder, (long long)s->last,
               c->closed[i] == 1 ? "true" : "false");
    }
    fputs("],\"hist\":", stdout);
    sse_write_hist(stdout, c->hist);
    fputs("}\n", stdout);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: zerosum-subscribe --host IPV4 --port PORT --path PATH --n N "
            "[--auth VALUE] [--deadline-s S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = NULL, *auth = NULL;
    int port = 0;
    long n = 0;
    double deadline_s = 3600, t_head;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct client c = { 0 };
    char req[2048], authz[1100] = "";
    size_t ok = 0, refused = 0;
    int rlen;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return usage();
        if (!strcmp(argv[i], "--host"))
            host = argv[++i];
        else if (!strcmp(argv[i], "--port"))
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--path"))
            path = argv[++i];
        else if (!strcmp(argv[i], "--n"))
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--auth"))
            auth = argv[++i];
        else if (!strcmp(argv[i], "--deadline-s"))
            deadline_s = atof(argv[++i]);
        else
            return usage();
    }
    if (!path || port <= 0 || port > 65535 || n <= 0 || deadline_s <= 0
        || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (auth && strlen(auth) > 1024))
        return usage();
    sa.sin_port = htons((uint16_t)port);
    if (auth)
        snprintf(authz, sizeof(authz), "Authorization: %s\r\n", auth);
    rlen = snprintf(req, sizeof(req),
                    "GET %s HTTP/1.0\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
                    "Cache-Control: no-cache\r\n%s\r\n",
                    path, host, port, authz);
    if (rlen <= 0 || rlen >= (int)sizeof(req))
        return usage();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    burst_fit_fd_limit((size_t)n);
    c.n = (size_t)n;
    c.subs = calloc(c.n, sizeof(*c.subs));
    c.fds = calloc(c.n, sizeof(*c.fds));
    c.closed = calloc(c.n, sizeof(*c.closed));
    c.hist = calloc(SSE_HIST_BINS, sizeof(*c.hist));
    c.rbuf = malloc(READ_SIZE);
    c.cache = sse_cache_new();
    c.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c.subs || !c.fds || !c.closed || !c.hist || !c.rbuf || !c.cache || c.ep < 0) {
        fprintf(stderr, "zerosum-subscribe: cannot start: %s\n", strerror(errno));
        return 2;
    }
    for (size_t i = 0; i < c.n; i++)
        c.fds[i] = -1;
    if (subscribe(&c, &sa, req, (size_t)rlen) < 0) {
        fprintf(stderr, "zerosum-subscribe: subscribing: %s\n", strerror(errno));
        return 2;
    }
    for (t_head = wall_s() + 60; awaiting(&c, c.n) && wall_s() < t_head && !stop;)
        pump(&c, 200);
    for (size_t i = 0; i < c.n; i++) {
        ok += c.subs[i].status == 200 && c.closed[i] != 2;
        refused += c.closed[i] == 2;
    }
    printf("ready %zu %zu\n", ok, refused);
    fflush(stdout);
    run(&c, wall_s() + deadline_s);
    report(&c, ok, refused);
    return fflush(stdout) == 0 ? 0 : 2;
}
