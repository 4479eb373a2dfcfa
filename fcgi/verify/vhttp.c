/*
 * vhttp.c — minimal HTTP/1.1 GET over TCP or TLS (see vhttp.h).
 */
#include "verify/vhttp.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_RESPONSE ((size_t)1 << 30)

static const char *cafile;

void vhttp_set_cafile(const char *path)
{
    cafile = path;
}

struct url {
    int tls;
    char host[256], port[8], prefix[512];
};

/* Write a reason into err and return -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Split http[s]://host[:port][/prefix] into u: 0, or -1. */
static int parse_url(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    else if (strncmp(s, "https://", 8) == 0) {
        s += 8;
        u->tls = 1;
    } else
        return -1;
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    const char *hp = s, *colon;
    size_t hostlen;
    if (hl > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', hl);
        if (!rb)
            return -1;
        hp = s + 1;
        hostlen = (size_t)(rb - hp);
        colon = rb + 1 < s + hl && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(s, ':', hl);
        hostlen = colon ? (size_t)(colon - s) : hl;
    }
    if (hostlen == 0 || hostlen >= sizeof u->host)
        return -1;
    memcpy(u->host, hp, hostlen);
    size_t pl = colon ? (size_t)(s + hl - colon - 1) : 0;
    if (colon && (pl == 0 || pl >= sizeof u->port))
        return -1;
    if (colon)
        memcpy(u->port, colon + 1, pl);
    else
        strcpy(u->port, u->tls ? "443" : "80");
    for (const char *p = u->port; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    if (slash) {
        size_t n = strlen(slash);
        while (n > 0 && slash[n - 1] == '/')
            n--;
        if (n >= sizeof u->prefix)
            return -1;
        memcpy(u->prefix, slash, n);
    }
    return 0;
}

/* A connected TCP socket to host:port with 30 s timeouts, or -1. */
static int dial(const struct url *u, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0)
        return fail(err, errlen, "%s: %s", u->host, gai_strerror(rc));
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = { .tv_sec = 30 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fail(err, errlen, "cannot connect to %s:%s: %s", u->host, u->port, strerror(errno));
    return fd;
}

/* A connection: the socket and, for https, its TLS session. */
struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

/* Start TLS on c->fd, verifying the peer's chain and host name: 0, or -1. */
static int tls_start(struct conn *c, const struct url *u, char *err, size_t errlen)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return fail(err, errlen, "TLS: cannot create a context");
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    int loaded = cafile ? SSL_CTX_load_verify_locations(c->ctx, cafile, NULL)
                        : SSL_CTX_set_default_verify_paths(c->ctx);
    if (loaded != 1)
        return fail(err, errlen, "TLS: cannot load the CA store%s%s", cafile ? " " : "",
                    cafile ? cafile : "");
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set1_host(c->ssl, u->host) != 1
        || SSL_set_tlsext_host_name(c->ssl, u->host) != 1)
        return fail(err, errlen, "TLS: cannot set up the session");
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        char buf[160];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        return fail(err, errlen, "TLS handshake with %s failed: %s (%s)", u->host,
                    v != X509_V_OK ? X509_verify_cert_error_string(v) : "", buf);
    }
    return 0;
}

/* Send all n bytes: 0, or -1. */
static int send_all(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
        if (w <= 0) {
            if (!c->ssl && w < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read to the end of the stream into *buf (malloc'd, NUL-terminated): length, or -1. */
static long read_all(struct conn *c, char **buf)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        if (n == cap) {
            char *nb = cap < MAX_RESPONSE ? realloc(b, cap * 2 + 1) : NULL;
            if (!nb)
                break;
            b = nb;
            cap *= 2;
        }
        ssize_t r = c->ssl ? SSL_read(c->ssl, b + n, (int)(cap - n)) : read(c->fd, b + n, cap - n);
        if (r == 0 || (c->ssl && r < 0 && SSL_get_error(c->ssl, (int)r) == SSL_ERROR_ZERO_RETURN)) {
            b[n] = 0;
            *buf = b;
            return (long)n;
        }
        if (r < 0) {
            if (!c->ssl && errno == EINTR)
                continue;
            break;
        }
        n += (size_t)r;
    }
    free(b);
    return -1;
}

/* Decode a chunked body in place (n bytes at b): the decoded length, or -1. */
static long dechunk(char *b, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= n || !isxdigit((unsigned char)b[in]))
            return -1;
        unsigned long sz = strtoul(b + in, &end, 16);
        char *eol = memchr(end, '\n', n - (size_t)(end - b));
        if (!eol)
            return -1;
        in = (size_t)(eol - b) + 1;
        if (sz == 0)
            return (long)out;
        if (sz > n - in)
            return -1;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz;
        if (in + 2 > n || b[in] != '\r' || b[in + 1] != '\n')
            return -1;
        in += 2;
    }
}

/* The value of header name in the head text (NUL-terminated), copied into val; 1 found. */
static int header(const char *head, const char *name, char *val, size_t vallen)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= vallen)
                len = vallen - 1;
            memcpy(val, v, len);
            val[len] = 0;
            return 1;
        }
    }
    return 0;
}

/* Split the raw response (n bytes at raw, owned) into out: 0, or -1. */
static int parse_response(char *raw, size_t n, struct vhttp_resp *out, char *err, size_t errlen)
{
    char *sep = strstr(raw, "\r\n\r\n");
    if (!sep || sscanf(raw, "HTTP/1.%*d %d", &out->status) != 1)
        return fail(err, errlen, "malformed HTTP response");
    sep[2] = 0;
    char *body = sep + 4;
    size_t blen = n - (size_t)(body - raw);
    char val[128];
    header(raw, "Content-Type", out->content_type, sizeof out->content_type);
    if (header(raw, "Transfer-Encoding", val, sizeof val) && strcasestr(val, "chunked")) {
        long d = dechunk(body, blen);
        if (d < 0)
            return fail(err, errlen, "malformed chunked body");
        blen = (size_t)d;
    } else if (header(raw, "Content-Length", val, sizeof val)) {
        unsigned long cl = strtoul(val, NULL, 10);
        if (cl > blen)
            return fail(err, errlen, "body shorter than its Content-Length");
        blen = cl;
    }
    out->body = malloc(blen + 1);
    if (!out->body)
        return fail(err, errlen, "out of memory");
    memcpy(out->body, body, blen);
    out->body[blen] = 0;
    out->len = blen;
    return 0;
}

int vhttp_get(const char *base_url, const char *path, struct vhttp_resp *out, char *err,
              size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct url u;
    if (parse_url(base_url, &u) < 0)
        return fail(err, errlen, "not an http:// or https:// URL: %s", base_url);
    struct conn c = { .fd = dial(&u, err, errlen) };
    if (c.fd < 0)
        return -1;
    int rc = -1;
    char *req = NULL, *raw = NULL;
    int is_default = strcmp(u.port, u.tls ? "443" : "80") == 0;
    int v6 = strchr(u.host, ':') != NULL;
    if (asprintf(&req,
                 "GET %s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: zerosum-verify/1\r\n"
                 "Accept: */*\r\nConnection: close\r\n\r\n",
                 u.prefix, path, v6 ? "[" : "", u.host, v6 ? "]" : "", is_default ? "" : ":",
                 is_default ? "" : u.port)
        < 0) {
        req = NULL;
        fail(err, errlen, "out of memory");
        goto out;
    }
    if (u.tls && tls_start(&c, &u, err, errlen) < 0)
        goto out;
    if (send_all(&c, req, strlen(req)) < 0) {
        fail(err, errlen, "cannot send the request to %s", u.host);
        goto out;
    }
    long n = read_all(&c, &raw);
    if (n < 0) {
        fail(err, errlen, "cannot read the response from %s", u.host);
        goto out;
    }
    rc = parse_response(raw, (size_t)n, out, err, errlen);
out:
    free(req);
    free(raw);
    if (c.ssl)
        SSL_free(c.ssl);
    if (c.ctx)
        SSL_CTX_free(c.ctx);
    close(c.fd);
    return rc;
}

void vhttp_free(struct vhttp_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
