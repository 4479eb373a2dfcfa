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

/* Whether buf (got bytes, NUL-terminated) holds a whole answer with a Content-Length. */
static int complete(const char *buf, size_t got)
{
    const char *end = strstr(buf, "\r\n\r\n"), *cl;

    if (!end)
        return 0;
    cl = strcasestr(buf, "\r\ncontent-length:");
    return cl && cl < end && got >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
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
        if (in + n > len)
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

int httpc_request(const struct httpc_url *u, const char *method, const char *headers,
                  const char *body, size_t len, int timeout_ms, struct httpc_resp *out, char *err,
                  size_t errlen)
{
    struct conn c = { .fd = -1 };
    char head[2048], *buf = NULL;
    size_t got = 0, cap = 4096 + HTTPC_BODY_MAX;
    int hl, rc = -1;
    ssize_t n;

    memset(out, 0, sizeof(out[0]));
    clock_gettime(CLOCK_MONOTONIC, &c.deadline);
    c.deadline.tv_sec += timeout_ms / 1000;
    c.deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (c.deadline.tv_nsec >= 1000000000L) {
        c.deadline.tv_sec++;
        c.deadline.tv_nsec -= 1000000000L;
    }
    hl = snprintf(head, sizeof(head),
                  "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: zerosum\r\n"
                  "Content-Length: %zu\r\n%s\r\n",
                  method, u->path, u->host, len, headers ? headers : "");
    if (hl < 0 || (size_t)hl >= sizeof(head)) {
        snprintf(err, errlen, "request head too long");
        return -1;
    }
    if (open_conn(&c, u, err, errlen) < 0 || (u->tls && start_tls(&c, u, err, errlen) < 0))
        goto out;
    if (send_all(&c, head, (size_t)hl) < 0 || (len && send_all(&c, body, len) < 0)) {
        snprintf(err, errlen, "send failed or timed out");
        goto out;
    }
    if (!(buf = malloc(cap + 1))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* Read to the end (Connection: close), keeping at most cap bytes. */
    while ((n = recv_some(&c, buf + got, cap - got)) > 0) {
        got += (size_t)n;
        buf[got] = '\0';
        if (got == cap || complete(buf, got))
            break;
    }
    if (n < 0 && got == 0) {
        snprintf(err, errlen, "no answer (%s)", left_ms(&c) ? "connection failed" : "timed out");
        goto out;
    }
    buf[got] = '\0';
    if (parse_answer(buf, got, out) < 0) {
        snprintf(err, errlen, "malformed answer");
        goto out;
    }
    rc = 0;
out:
    free(buf);
    if (c.ssl) {
        SSL_free(c.ssl);
    }
    if (c.ctx)
        SSL_CTX_free(c.ctx);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}

void httpc_free(struct httpc_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
