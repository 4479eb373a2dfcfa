/*
 * httpc.c — a small HTTP/1.1 client (see httpc.h).
 */
#include "httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* What one answer may take in the read buffer: its head and a body of HTTPC_BODY_MAX. */
#define HTTPC_READ_CAP (4096 + HTTPC_BODY_MAX)

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    struct timespec deadline;
};

int httpc_url_parse(const char *url, struct httpc_url *u)
{
    const char *p, *host, *end, *colon;
    size_t hl;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        u->tls = 1;
    } else {
        return -1;
    }
    host = p;
    end = host + strcspn(host, "/?#");
    if (memchr(host, '@', (size_t)(end - host)) || strchr(url, ' ') || strchr(url, '\r')
        || strchr(url, '\n'))
        return -1; /* no credentials in URLs, nothing that could split a header */
    colon = NULL;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (!rb)
            return -1;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        hl = (size_t)(rb - host - 1);
        host++;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        hl = (size_t)((colon ? colon : end) - host);
    }
    if (hl == 0 || hl >= sizeof(u->host))
        return -1;
    memcpy(u->host, host, hl);
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= sizeof(u->port) || strspn(colon + 1, "0123456789") < pl)
            return -1;
        memcpy(u->port, colon + 1, pl);
    } else {
        snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
    }
    if (*end == '#' || !*end)
        snprintf(u->path, sizeof(u->path), "/");
    else if (snprintf(u->path, sizeof(u->path), "%s%.*s", *end == '?' ? "/" : "",
                      (int)strcspn(end, "#"), end)
             >= (int)sizeof(u->path))
        return -1;
    return 0;
}

/* Milliseconds left before c->deadline (0 when passed). */
static int left_ms(const struct conn *c)
{
    struct timespec now;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (c->deadline.tv_sec - now.tv_sec) * 1000 + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int)ms : 0;
}

/* Wait until fd is ready for events (POLLIN/POLLOUT). 0, or -1 on timeout. */
static int wait_fd(const struct conn *c, short events)
{
    struct pollfd p = { c->fd, events, 0 };
    int ms = left_ms(c), rc;

    if (ms <= 0)
        return -1;
    do
        rc = poll(&p, 1, ms);
    while (rc < 0 && errno == EINTR);
    return rc > 0 ? 0 : -1;
}

/* A non-blocking connect to one address, within the deadline. fd or -1. */
static int connect_one(struct conn *c, int family, const struct sockaddr *sa, socklen_t len)
{
    int err = 0;
    socklen_t el = sizeof(err);

    c->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, sa, len) == 0
        || (errno == EINPROGRESS && wait_fd(c, POLLOUT) == 0
            && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0))
        return c->fd;
    close(c->fd);
    c->fd = -1;
    return -1;
}

static int open_conn(struct conn *c, const struct httpc_url *u, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc;

    if (u->unix_path[0]) {
        struct sockaddr_un sun;
        if (strlen(u->unix_path) >= sizeof(sun.sun_path)) {
            snprintf(err, errlen, "unix socket path too long");
            return -1;
        }
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, u->unix_path, strlen(u->unix_path) + 1);
        if (connect_one(c, AF_UNIX, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            snprintf(err, errlen, "connect %s: %s", u->unix_path, strerror(errno));
            return -1;
        }
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next)
        if (connect_one(c, ai->ai_family, ai->ai_addr, ai->ai_addrlen) >= 0)
            break;
    freeaddrinfo(res);
    if (c->fd < 0) {
        snprintf(err, errlen, "connect %s:%s: %s", u->host, u->port,
                 left_ms(c) ? "refused or unreachable" : "timed out");
        return -1;
    }
    return 0;
}

/* TLS over c->fd, the peer's chain and host name verified. 0, or -1. */
static int start_tls(struct conn *c, const struct httpc_url *u, char *err, size_t errlen)
{
    int rc;

    if (!(c->ctx = SSL_CTX_new(TLS_client_method()))
        || SSL_CTX_set_default_verify_paths(c->ctx) != 1 || !(c->ssl = SSL_new(c->ctx))) {
        snprintf(err, errlen, "TLS setup failed");
        return -1;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
    SSL_set_tlsext_host_name(c->ssl, u->host);
    SSL_set1_host(c->ssl, u->host);
    SSL_set_fd(c->ssl, c->fd);
    while ((rc = SSL_connect(c->ssl)) != 1) {
        int e = SSL_get_error(c->ssl, rc);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            || wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0) {
            snprintf(err, errlen, "TLS handshake with %s failed", u->host);
            return -1;
        }
    }
    return 0;
}

/* Write all of buf. 0, or -1. */
static int send_all(struct conn *c, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (c->ssl) {
            int rc = SSL_write(c->ssl, buf, (int)len);
            int e = rc > 0 ? 0 : SSL_get_error(c->ssl, rc);
            n = rc;
            if (rc <= 0 && (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)) {
                if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0)
                    return -1;
                continue;
            }
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(c, POLLOUT) < 0)
                    return -1;
                continue;
            }
        }
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read some bytes: n > 0, 0 at the end of the stream, -1 on error or timeout. */
static ssize_t recv_some(struct conn *c, char *buf, size_t len)
{
    for (;;) {
        ssize_t n;
        if (c->ssl) {
            int rc = SSL_read(c->ssl, buf, (int)len);
            int e = rc > 0 ? 0 : SSL_get_error(c->ssl, rc);
            if (rc > 0)
                return rc;
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return -1;
            if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0)
                return -1;
            continue;
        }
        n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if ((errno != EAGAIN && errno != EINTR) || wait_fd(c, POLLIN) < 0)
            return -1;
    }
}

/* Where chunked body b (got bytes, NUL-terminated) ends (no trailers), or 0. */
static size_t chunked_end(const char *b, size_t got)
{
    size_t at = 0;

    for (;;) {
        char *e;
        unsigned long n = strtoul(b + at, &e, 16);
        const char *crlf = strstr(b + at, "\r\n");
        if (!crlf || e == b + at)
            return 0;
        at = (size_t)(crlf - b) + 2;
        if (n == 0)
            return at + 2 <= got && b[at] == '\r' && b[at + 1] == '\n' ? at + 2 : 0;
        if (n > got - at || got - at - n < 2)
            return 0; /* incomplete; a size beyond what is held never wraps `at` */
        at += n + 2;
    }
}

/*
 * How many bytes of buf (got bytes, NUL-terminated) the answer takes when
 * they hold it whole by its framing: a Content-Length, or a chunked body
 * ending in its last chunk (204 and 304: the header alone). 0 while
 * incomplete or unframed.
 */
static size_t complete(const char *buf, size_t got)
{
    const char *end = strstr(buf, "\r\n\r\n"), *cl, *te;
    size_t hl, body;

    if (!end)
        return 0;
    hl = (size_t)(end + 4 - buf);
    if (strncmp(buf, "HTTP/1.1 204", 12) == 0 || strncmp(buf, "HTTP/1.1 304", 12) == 0)
        return hl; /* never a body */
    te = strcasestr(buf, "\r\ntransfer-encoding:");
    if (te && te < end)
        return (body = chunked_end(end + 4, got - hl)) ? hl + body : 0;
    cl = strcasestr(buf, "\r\ncontent-length:");
    if (!cl || cl > end)
        return 0;
    body = strtoul(cl + 17, NULL, 10);
    return body <= got - hl ? hl + body : 0;
}

/* Decode a chunked body in place. Its new length, or -1 when malformed/incomplete. */
static long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;

    for (;;) {
        char *end;
        unsigned long n = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || end == b + in)
            return -1;
        in = (size_t)(crlf - b) + 2;
        if (n == 0)
            return (long)out;
        if (n > len - in)
            return -1;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
        if (in > len)
            return -1;
    }
}

/* Parse the answer in buf (len bytes, NUL-terminated) into out. 0, or -1. */
static int parse_answer(char *buf, size_t len, struct httpc_resp *out)
{
    char *hdr_end = strstr(buf, "\r\n\r\n"), *body, *line;
    long clen = -1, n;
    int chunked = 0;

    if (!hdr_end || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1)
        return -1;
    *hdr_end = '\0';
    if (!(out->head = strdup(buf)))
        return -1;
    body = hdr_end + 4;
    for (line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "content-length:", 15) == 0)
            clen = strtol(line + 17, NULL, 10);
        else if (strncasecmp(line + 2, "transfer-encoding:", 18) == 0
                 && strcasestr(line + 20, "chunked"))
            chunked = 1;
    }
    n = (long)(len - (size_t)(body - buf));
    if (chunked && (n = dechunk(body, (size_t)n)) < 0)
        return -1;
    if (!chunked && clen >= 0 && clen < n)
        n = clen;
    out->body = malloc((size_t)n + 1);
    if (!out->body)
        return -1;
    memcpy(out->body, body, (size_t)n);
    out->body[n] = '\0';
    out->len = (size_t)n;
    return 0;
}

/* Start c's deadline timeout_ms from now. */
static void set_deadline(struct conn *c, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, &c->deadline);
    c->deadline.tv_sec += timeout_ms / 1000;
    c->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (c->deadline.tv_nsec >= 1000000000L) {
        c->deadline.tv_sec++;
        c->deadline.tv_nsec -= 1000000000L;
    }
}

/* Send one request on the open connection c; keep asks for keep-alive. 0, or -1. */
static int send_request(struct conn *c, const struct httpc_url *u, const char *method,
                        const char *headers, const char *body, size_t len, int keep, char *err,
                        size_t errlen)
{
    char head[2048];
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\nUser-Agent: zerosum\r\n"
                      "Content-Length: %zu\r\n%s\r\n",
                      method, u->path, u->host, keep ? "keep-alive" : "close", len,
                      headers ? headers : "");

    if (hl < 0 || (size_t)hl >= sizeof(head)) {
        snprintf(err, errlen, "request head too long");
        return -1;
    }
    if (send_all(c, head, (size_t)hl) < 0 || (len && send_all(c, body, len) < 0)) {
        snprintf(err, errlen, "send failed or timed out");
        return -1;
    }
    return 0;
}

/*
 * Read the next answer on c into out. *bufp and *gotp: the read buffer (made
 * when NULL, HTTPC_READ_CAP bytes) and the bytes in it, which may already
 * hold the answer and, after it, the next ones (pipelining): they stay in
 * it. keep: *reusable then says whether the connection may carry more
 * requests (the answer framed, HTTP/1.1, no Connection: close). 0, or -1.
 */
static int read_answer(struct conn *c, char **bufp, size_t *gotp, int keep, struct httpc_resp *out,
                       int *reusable, char *err, size_t errlen)
{
    char *buf = *bufp, v[16], saved;
    size_t got = *gotp, whole;
    ssize_t n;
    int framed;

    *reusable = 0;
    if (!buf && !(buf = *bufp = malloc(HTTPC_READ_CAP + 1))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    buf[got] = '\0';
    /* Read to the answer's end (its framing, or the peer closing), keeping at most the cap. */
    while (!(whole = complete(buf, got)) && got < HTTPC_READ_CAP
           && (n = recv_some(c, buf + got, HTTPC_READ_CAP - got)) > 0) {
        got += (size_t)n;
        buf[got] = '\0';
    }
    if (got == 0) {
        snprintf(err, errlen, "no answer (%s)", left_ms(c) ? "connection failed" : "timed out");
        return -1;
    }
    if (!(framed = whole > 0))
        whole = got; /* unframed: what came before the close (or the cap) */
    saved = buf[whole];
    buf[whole] = '\0';
    if (parse_answer(buf, whole, out) < 0) {
        snprintf(err, errlen, "malformed answer");
        httpc_free(out);
        *gotp = 0;
        return -1;
    }
    buf[whole] = saved;
    if (keep && framed && strncmp(buf, "HTTP/1.1", 8) == 0)
        *reusable =
            httpc_header(out, "Connection", v, sizeof(v)) < 0 || strcasecmp(v, "close") != 0;
    memmove(buf, buf + whole, got - whole);
    *gotp = got - whole;
    return 0;
}

static void close_conn(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
}

int httpc_request(const struct httpc_url *u, const char *method, const char *headers,
                  const char *body, size_t len, int timeout_ms, struct httpc_resp *out, char *err,
                  size_t errlen)
{
    struct conn c = { .fd = -1 };
    char *buf = NULL;
    size_t got = 0;
    int rc = -1, reusable;

    memset(out, 0, sizeof(out[0]));
    set_deadline(&c, timeout_ms);
    if (open_conn(&c, u, err, errlen) == 0 && (!u->tls || start_tls(&c, u, err, errlen) == 0)
        && send_request(&c, u, method, headers, body, len, 0, err, errlen) == 0)
        rc = read_answer(&c, &buf, &got, 0, out, &reusable, err, errlen);
    free(buf);
    close_conn(&c);
    return rc;
}

void httpc_keep_init(struct httpc_keep *k)
{
    memset(k, 0, sizeof(*k));
    k->fd = -1;
}

void httpc_keep_close(struct httpc_keep *k)
{
    if (k->fd >= 0)
        close(k->fd);
    free(k->buf);
    httpc_keep_init(k);
}

/* Whether an idle kept connection is still usable: nothing to read (no EOF, no stray bytes). */
static int idle_ok(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    int rc;

    do
        rc = poll(&p, 1, 0);
    while (rc < 0 && errno == EINTR);
    return rc == 0;
}

int httpc_keep_send(struct httpc_keep *k, const struct httpc_url *u, const char *method,
                    const char *headers, const char *body, size_t len, int timeout_ms, char *err,
                    size_t errlen)
{
    struct conn c = { .fd = k->fd };

    if (u->tls) {
        snprintf(err, errlen, "kept connections are plain only");
        return -1;
    }
    if (k->lost > 0) {
        snprintf(err, errlen, "requests in flight were lost with the connection");
        return -1;
    }
    set_deadline(&c, timeout_ms);
    if (c.fd >= 0 && k->inflight == 0 && (k->got > 0 || !idle_ok(c.fd)))
        httpc_keep_close(k); /* closed by the peer while idle, or out of step */
    if (k->fd < 0 && open_conn(&c, u, err, errlen) < 0)
        return -1;
    k->fd = c.fd;
    if (send_request(&c, u, method, headers, body, len, 1, err, errlen) < 0) {
        httpc_keep_close(k);
        return -1;
    }
    k->inflight++;
    return 0;
}

int httpc_keep_recv(struct httpc_keep *k, int timeout_ms, struct httpc_resp *out, char *err,
                    size_t errlen)
{
    struct conn c = { .fd = k->fd };
    int reusable = 0;

    memset(out, 0, sizeof(out[0]));
    if (k->lost > 0) {
        k->lost--;
        snprintf(err, errlen, "the peer closed the connection before answering");
        return -1;
    }
    if (k->fd < 0 || k->inflight == 0) {
        snprintf(err, errlen, "no request awaits an answer");
        return -1;
    }
    set_deadline(&c, timeout_ms);
    if (read_answer(&c, &k->buf, &k->got, 1, out, &reusable, err, errlen) < 0) {
        httpc_keep_close(k);
        return -1;
    }
    k->inflight--;
    if (!reusable) {
        /* the peer stops here: each request behind this one fails, and no
         * new one goes out before the caller has seen them fail */
        int lost = k->inflight;
        httpc_keep_close(k);
        k->lost = lost;
    }
    return 0;
}

int httpc_keep_request(struct httpc_keep *k, const struct httpc_url *u, const char *method,
                       const char *headers, const char *body, size_t len, int timeout_ms,
                       struct httpc_resp *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(out[0]));
    if (k->inflight > 0) {
        snprintf(err, errlen, "answers still awaited on the kept connection");
        return -1;
    }
    if (httpc_keep_send(k, u, method, headers, body, len, timeout_ms, err, errlen) < 0)
        return -1;
    return httpc_keep_recv(k, timeout_ms, out, err, errlen);
}

int httpc_header(const struct httpc_resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);

    for (const char *l = r->head ? strstr(r->head, "\r\n") : NULL; l; l = strstr(l + 2, "\r\n")) {
        const char *v = l + 2 + nl, *e;
        size_t vl;
        if (strncasecmp(l + 2, name, nl) != 0 || *v != ':')
            continue;
        v += strspn(v + 1, " \t") + 1;
        e = v + strcspn(v, "\r\n");
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        vl = (size_t)(e - v);
        if (vl >= n)
            return -1;
        memcpy(out, v, vl);
        out[vl] = '\0';
        return 0;
    }
    return -1;
}

void httpc_free(struct httpc_resp *r)
{
    free(r->body);
    free(r->head);
    r->body = NULL;
    r->head = NULL;
    r->len = 0;
}
