/*
 * burst.c — the burst's parts: the requests file, the response parser, the
 * epoll loop that connects, sends and reads, and the JSON report (burst.h).
 */
#include "burst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST_MAX_HEAD (64 * 1024)
#define BURST_MAX_BODY (16 * 1024 * 1024)

int burst_split_requests(const char *text, size_t len, struct burst_req **out, size_t *n, char *err,
                         size_t errn)
{
    struct burst_req *v = NULL;
    size_t cap = 0, count = 0, pos = 0;

    while (pos < len) {
        size_t size = 0, digits = 0;

        while (pos < len && text[pos] >= '0' && text[pos] <= '9' && digits < 9) {
            size = size * 10 + (size_t)(text[pos++] - '0');
            digits++;
        }
        if (!digits || pos >= len || text[pos] != '\n') {
            snprintf(err, errn, "request %zu: expected its length in decimal and a newline",
                     count + 1);
            goto fail;
        }
        pos++;
        if (size == 0 || size > len - pos || len - pos - size < 1 || text[pos + size] != '\n') {
            snprintf(err, errn, "request %zu: %zu bytes and a newline do not follow its length",
                     count + 1, size);
            goto fail;
        }
        if (count == cap) {
            struct burst_req *nv;

            cap = cap ? 2 * cap : 64;
            nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                snprintf(err, errn, "out of memory");
                goto fail;
            }
            v = nv;
        }
        v[count].data = text + pos;
        v[count++].len = size;
        pos += size + 1;
    }
    if (!count) {
        snprintf(err, errn, "no request");
        goto fail;
    }
    *out = v;
    *n = count;
    return 0;
fail:
    free(v);
    return -1;
}

int burst_header_is(const char *p, const char *e, const char *name, const char **val)
{
    size_t nl = strlen(name);

    if ((size_t)(e - p) <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return 0;
    p += nl + 1;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    *val = p;
    return 1;
}

/* The chunked body at buf[0..len): bytes taken (> 0) with *body set, 0 (more), -1 (bad). */
static ssize_t parse_chunked(const char *buf, size_t len, char **body, size_t *body_len)
{
    size_t pos = 0, blen = 0;
    char *b = NULL;

    for (;;) {
        const char *eol = memmem(buf + pos, len - pos, "\r\n", 2);
        size_t size = 0, digits = 0;
        const char *p = buf + pos;

        if (!eol)
            goto more;
        for (; p < eol && digits < 8; p++, digits++) {
            int c = *p,
                d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f'   ? c - 'a' + 10
                : c >= 'A' && c <= 'F'   ? c - 'A' + 10
                                         : -1;
            if (d < 0)
                break;
            size = size * 16 + (size_t)d;
        }
        if (!digits || (p < eol && *p != ';') || blen + size > BURST_MAX_BODY)
            goto bad;
        pos = (size_t)(eol - buf) + 2;
        if (size == 0) {
            /* trailers (none expected) up to an empty line */
            for (;;) {
                const char *t = memmem(buf + pos, len - pos, "\r\n", 2);

                if (!t)
                    goto more;
                if (t == buf + pos) {
                    char *nb = realloc(b, blen + 1);

                    if (!nb)
                        goto bad;
                    nb[blen] = '\0';
                    *body = nb;
                    *body_len = blen;
                    return (ssize_t)(pos + 2);
                }
                pos = (size_t)(t - buf) + 2;
            }
        }
        if (len - pos < size + 2)
            goto more;
        if (buf[pos + size] != '\r' || buf[pos + size + 1] != '\n')
            goto bad;
        {
            char *nb = realloc(b, blen + size + 1);

            if (!nb)
                goto bad;
            b = nb;
        }
        memcpy(b + blen, buf + pos, size);
        blen += size;
        pos += size + 2;
    }
more:
    free(b);
    return 0;
bad:
    free(b);
    return -1;
}

ssize_t burst_parse_head(const char *buf, size_t len, int eof, int *status)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    size_t head;

    if (!end)
        return len > BURST_MAX_HEAD || eof ? -1 : 0;
    head = (size_t)(end - buf) + 4;
    if (head < 16 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' || buf[9] > '5'
        || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9'
        || (buf[12] != ' ' && buf[12] != '\r'))
        return -1;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    return (ssize_t)head;
}

ssize_t burst_parse_response(const char *buf, size_t len, int eof, struct burst_resp *r)
{
    const char *end, *p, *val;
    size_t head, clen = 0;
    int has_clen = 0, chunked = 0;
    ssize_t took;

    memset(r, 0, sizeof(*r));
    took = burst_parse_head(buf, len, eof, &r->status);
    if (took <= 0)
        return took;
    head = (size_t)took;
    end = buf + head - 4;
    for (p = memmem(buf, head, "\r\n", 2) + 2; p < end;) {
        const char *e = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);

        if (burst_header_is(p, e, "Content-Length", &val)) {
            char *stop;
            unsigned long long v = strtoull(val, &stop, 10);

            if (stop == val || v > BURST_MAX_BODY)
                return -1;
            clen = (size_t)v;
            has_clen = 1;
        } else if (burst_header_is(p, e, "Transfer-Encoding", &val)) {
            chunked = memmem(val, (size_t)(e - val), "chunked", 7) != NULL;
        }
        p = e + 2;
    }
    if (r->status == 204 || r->status == 304 || r->status < 200) {
        has_clen = 1;
        clen = 0;
        chunked = 0;
    }
    if (chunked) {
        took = parse_chunked(buf + head, len - head, &r->body, &r->body_len);
        if (took <= 0)
            return took < 0 || eof ? -1 : 0;
        return (ssize_t)head + took;
    }
    if (!has_clen) {
        if (!eof)
            return 0;
        clen = len - head;
    }
    if (len - head < clen)
        return eof ? -1 : 0;
    r->body = malloc(clen + 1);
    if (!r->body)
        return -1;
    memcpy(r->body, buf + head, clen);
    r->body[clen] = '\0';
    r->body_len = clen;
    return (ssize_t)(head + clen);
}

/* One connection of the burst. */
struct conn {
    int fd;
    int done;    /* answered, or given up on */
    size_t sent; /* bytes of the request written */
    double t_sent;
    char *buf;
    size_t blen, bcap;
    int eof;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Give request i up: no answer, for the reason fmt says. */
static void give_up(struct conn *c, struct burst_answer *a, struct burst_stats *st,
                    const char *what, int e)
{
    if (c->done)
        return;
    c->done = 1;
    a->status = 0;
    if (e)
        snprintf(a->error, sizeof(a->error), "%s: %s", what, strerror(e));
    else
        snprintf(a->error, sizeof(a->error), "%s", what);
    st->errors++;
}

/* Write what is left of request i; EPOLLOUT is watched while some is left. */
static void send_some(int ep, struct conn *c, const struct burst_req *q, struct burst_answer *a,
                      struct burst_stats *st, uint32_t i)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

    while (c->sent < q->len) {
        ssize_t w = send(c->fd, q->data + c->sent, q->len - c->sent, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev.events = EPOLLIN | EPOLLOUT;
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        if (w < 0) {
            give_up(c, a, st, "send", errno);
            return;
        }
        c->sent += (size_t)w;
    }
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    st->send_ms = now_ms();
}

/* Read what request i's socket has, and take its answer when it is whole. */
static void read_some(struct conn *c, struct burst_answer *a, struct burst_stats *st)
{
    struct burst_resp r;
    ssize_t took;

    for (;;) {
        ssize_t got;

        if (c->bcap - c->blen < 4096) {
            size_t ncap = c->bcap ? 2 * c->bcap : 8192;
            char *nb = ncap > BURST_MAX_BODY + BURST_MAX_HEAD ? NULL : realloc(c->buf, ncap);

            if (!nb) {
                give_up(c, a, st, "answer too large or out of memory", 0);
                return;
            }
            c->buf = nb;
            c->bcap = ncap;
        }
        got = recv(c->fd, c->buf + c->blen, c->bcap - c->blen, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got < 0) {
            give_up(c, a, st, "recv", errno);
            return;
        }
        if (got == 0) {
            c->eof = 1;
            break;
        }
        c->blen += (size_t)got;
    }
    /* an answer without a length ends at EOF; any other one cut short by
     * EOF is a closed connection, not a malformed answer */
    took = burst_parse_response(c->buf, c->blen, 0, &r);
    if (took < 0) {
        give_up(c, a, st, "not an HTTP/1.1 answer", 0);
        return;
    }
    if (took == 0 && c->eof && c->blen)
        took = burst_parse_response(c->buf, c->blen, 1, &r);
    if (took > 0) {
        double t = now_ms();

        c->done = 1;
        a->status = r.status;
        a->body = r.body;
        a->body_len = r.body_len;
        a->ms = t - c->t_sent;
        a->end_ms = t;
    } else if (c->eof) {
        give_up(c, a, st, "the connection closed before the answer", 0);
    }
}

/* Open n non-blocking connections to sa and wait until all are up (or failed). */
static int connect_all(int ep, const struct sockaddr_in *sa, struct conn *cs,
                       struct burst_answer *ans, size_t n, double deadline, struct burst_stats *st)
{
    struct epoll_event evs[256];
    size_t pending = 0;

    for (size_t i = 0; i < n; i++) {
        int one = 1;
        struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };

        cs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (cs[i].fd < 0) {
            give_up(&cs[i], &ans[i], st, "socket", errno);
            continue;
        }
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(cs[i].fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0
            && errno != EINPROGRESS) {
            give_up(&cs[i], &ans[i], st, "connect", errno);
            continue;
        }
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
            return -1;
        pending++;
    }
    while (pending) {
        int left = (int)(deadline - now_ms()), k;

        if (left <= 0)
            break;
        k = epoll_wait(ep, evs, 256, left);
        if (k < 0 && errno != EINTR)
            return -1;
        for (int j = 0; j < k; j++) {
            struct conn *c = &cs[evs[j].data.u32];
            struct epoll_event ev = { .events = 0, .data.u32 = evs[j].data.u32 };
            int e = 0;
            socklen_t el = sizeof(e);

            if (c->done || c->sent) /* seen already (an error or a hang-up since) */
                continue;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
                e = errno;
            if (e)
                give_up(c, &ans[evs[j].data.u32], st, "connect", e);
            /* quiet until the release */
            epoll_ctl(ep, e ? EPOLL_CTL_DEL : EPOLL_CTL_MOD, c->fd, &ev);
            c->sent = e ? 0 : 1; /* 1: connected (reset before the send) */
            pending--;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!cs[i].done && !cs[i].sent)
            give_up(&cs[i], &ans[i], st, "connect: timed out", 0);
    return 0;
}

void burst_fit_fd_limit(size_t n)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 16 && rl.rlim_max >= n + 16) {
        rl.rlim_cur = n + 16;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int burst_run(const char *host, int port, const struct burst_req *reqs, size_t n, int timeout_ms,
              struct burst_answer *ans, struct burst_stats *st, char *err, size_t errn)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct epoll_event evs[256];
    struct conn *cs;
    double t0, t_rel, deadline;
    size_t pending = 0;
    int ep, rc = -1;

    memset(st, 0, sizeof(*st));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || port <= 0 || port > 65535) {
        snprintf(err, errn, "not an IPv4 address and port: %s:%d", host, port);
        return -1;
    }
    burst_fit_fd_limit(n);
    cs = calloc(n ? n : 1, sizeof(*cs));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0) {
        snprintf(err, errn, "cannot start: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        cs[i].fd = -1;
    t0 = now_ms();
    deadline = t0 + timeout_ms;
    if (connect_all(ep, &sa, cs, ans, n, deadline, st) < 0) {
        snprintf(err, errn, "epoll: %s", strerror(errno));
        goto out;
    }
    /* the release: every request written, one after the other, no wait */
    t_rel = now_ms();
    st->connect_ms = t_rel - t0;
    st->send_ms = t_rel;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].done)
            continue;
        cs[i].sent = 0;
        cs[i].t_sent = now_ms();
        send_some(ep, &cs[i], &reqs[i], &ans[i], st, (uint32_t)i);
        pending += !cs[i].done;
    }
    while (pending) {
        int left = (int)(deadline - now_ms()), k;

        if (left <= 0)
            break;
        k = epoll_wait(ep, evs, 256, left);
        if (k < 0 && errno != EINTR) {
            snprintf(err, errn, "epoll_wait: %s", strerror(errno));
            goto out;
        }
        for (int j = 0; j < k; j++) {
            uint32_t i = evs[j].data.u32;
            struct conn *c = &cs[i];

            if (c->done)
                continue;
            if ((evs[j].events & EPOLLOUT) && c->sent < reqs[i].len)
                send_some(ep, c, &reqs[i], &ans[i], st, i);
            if (!c->done && (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                read_some(c, &ans[i], st);
            if (c->done) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                pending--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!cs[i].done)
            give_up(&cs[i], &ans[i], st, "no answer in time", 0);
        if (ans[i].status) {
            ans[i].end_ms -= t_rel;
            if (ans[i].end_ms > st->done_ms)
                st->done_ms = ans[i].end_ms;
        }
    }
    st->send_ms -= t_rel;
    rc = 0;
out:
    for (size_t i = 0; cs && i < n; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].buf);
    }
    free(cs);
    if (ep >= 0)
        close(ep);
    return rc;
}

void burst_json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void burst_write_report(FILE *f, const struct burst_answer *ans, size_t n,
                        const struct burst_stats *st)
{
    fprintf(f,
            "{\"client\":\"c\",\"requests\":%zu,\"errors\":%zu,\"connect_ms\":%.3f,"
            "\"send_ms\":%.3f,\"done_ms\":%.3f,\"answers\":[",
            n, st->errors, st->connect_ms, st->send_ms, st->done_ms);
    for (size_t i = 0; i < n; i++) {
        const struct burst_answer *a = &ans[i];

        fprintf(f, "%s\n{\"status\":%d,\"ms\":%.3f,\"end_ms\":%.3f,\"body\":", i ? "," : "",
                a->status, a->ms, a->end_ms);
        if (a->body)
            burst_json_string(f, a->body, a->body_len);
        else
            fputs("null", f);
        fputs(",\"error\":", f);
        if (a->status)
            fputs("null", f);
        else
            burst_json_string(f, a->error, strlen(a->error));
        fputc('}', f);
    }
    fputs("]}\n", f);
}
