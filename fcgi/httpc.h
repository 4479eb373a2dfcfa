/*
 * httpc.h — a small HTTP/1.1 client for the background processes: the
 * event publisher (nchan's publisher location, over a unix socket) and
 * webhook deliveries (http:// and https:// URLs; TLS by OpenSSL with the
 * peer verified against the system CA store and its host name checked).
 * httpc_request() opens one connection per request (Connection: close);
 * httpc_keep_*() keep a plain (non-TLS) connection alive between requests
 * to the same peer, and may pipeline them. Every step is bounded by one deadline, so a
 * slow peer costs at most timeout_ms.
 */
#ifndef ZS_HTTPC_H
#define ZS_HTTPC_H

#include <stddef.h>

struct httpc_url {
    int tls;
    char host[256];
    char port[8];
    char path[1024];     /* with the query, "/" at least */
    char unix_path[600]; /* set: connect to this unix socket instead (host is the Host header) */
};

struct httpc_resp {
    int status;
    char *body; /* malloc'd, NUL-terminated, at most HTTPC_BODY_MAX bytes kept */
    size_t len;
    char *head; /* malloc'd: the status line and header lines, NUL-terminated */
};

#define HTTPC_BODY_MAX 65536

/* Parse an absolute http:// or https:// URL. 0, or -1 (not http(s), no host, too long). */
int httpc_url_parse(const char *url, struct httpc_url *u);

/*
 * Send method u->path with the extra header lines `headers` ("Name: value\r\n"
 * each, or NULL) and body (len bytes, may be NULL). 0 with *out filled (any
 * status), or -1 with a reason in err (connect, TLS, timeout, malformed
 * answer). The caller frees out with httpc_free().
 */
int httpc_request(const struct httpc_url *u, const char *method, const char *headers,
                  const char *body, size_t len, int timeout_ms, struct httpc_resp *out, char *err,
                  size_t errlen);

void httpc_free(struct httpc_resp *r);

/*
 * The value of response header `name` (case-insensitive, the first one,
 * surrounding blanks trimmed) copied into out. 0, or -1 when r has no such
 * header or its value does not fit in n bytes.
 */
int httpc_header(const struct httpc_resp *r, const char *name, char *out, size_t n);

/* A connection kept alive between requests (fd < 0: none open). */
struct httpc_keep {
    int fd;
    char *buf;    /* answers read and not yet taken (pipelining) */
    size_t got;   /* bytes in buf */
    int inflight; /* requests sent whose answers were not taken */
    int lost;     /* requests in flight when the peer closed: their recvs fail */
};

void httpc_keep_init(struct httpc_keep *k);

/*
 * Send a request on k's connection without waiting for its answer
 * (HTTP/1.1 pipelining: the peer answers in order; take each answer with
 * httpc_keep_recv). The connection is opened to u first when k has none,
 * or when, with nothing in flight, the one it has was closed by the peer
 * or has unread bytes. Plain connections only: a TLS URL is refused (-1).
 * A request is never sent twice: after any failure the connection is
 * closed, every request in flight on it is lost to the caller (it may or
 * may not have been carried out), and the next send opens a new one.
 * 0, or -1 with a reason in err.
 */
int httpc_keep_send(struct httpc_keep *k, const struct httpc_url *u, const char *method,
                    const char *headers, const char *body, size_t len, int timeout_ms, char *err,
                    size_t errlen);

/*
 * The answer to the oldest request in flight on k, as httpc_request()
 * fills out. The connection stays open after an answer whose end its
 * framing shows (Content-Length, chunks, or a status that has no body)
 * unless the peer said Connection: close; otherwise it is closed, and so
 * it is after any failure (with the requests still in flight). Requests
 * that were in flight behind an answer that closed the connection were
 * not answered: each of their recvs fails, and until then every send is
 * refused (none may be taken for one of theirs). httpc_keep_close()
 * forgets them. 0, or -1.
 */
int httpc_keep_recv(struct httpc_keep *k, int timeout_ms, struct httpc_resp *out, char *err,
                    size_t errlen);

/* httpc_keep_send() then httpc_keep_recv(), with nothing else in flight. 0, or -1. */
int httpc_keep_request(struct httpc_keep *k, const struct httpc_url *u, const char *method,
                       const char *headers, const char *body, size_t len, int timeout_ms,
                       struct httpc_resp *out, char *err, size_t errlen);

/* Close k's connection, if open, and forget what is in flight. */
void httpc_keep_close(struct httpc_keep *k);

#endif
