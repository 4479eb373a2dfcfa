/*
 * httpc.h — a small HTTP/1.1 client for the background processes: the
 * event publisher (nchan's publisher location, over a unix socket) and
 * webhook deliveries (http:// and https:// URLs; TLS by OpenSSL with the
 * peer verified against the system CA store and its host name checked).
 * httpc_request() opens one connection per request (Connection: close);
 * httpc_keep_request() keeps a plain (non-TLS) connection alive between
 * requests to the same peer. Every step is bounded by one deadline, so a
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
};

void httpc_keep_init(struct httpc_keep *k);

/*
 * httpc_request() over k's connection, opened to u first when k has none
 * (or the one it has was closed by the peer while idle, or has unread
 * bytes). Plain connections only: a TLS URL is refused (-1). The
 * connection stays open after an answer whose end its framing shows
 * (Content-Length, or a chunked body's last chunk) unless the peer said
 * Connection: close; after any failure it is closed. A request is never
 * sent twice: when the kept connection fails, the caller sees -1 and
 * decides (the next call opens a new one).
 */
int httpc_keep_request(struct httpc_keep *k, const struct httpc_url *u, const char *method,
                       const char *headers, const char *body, size_t len, int timeout_ms,
                       struct httpc_resp *out, char *err, size_t errlen);

/* Close k's connection, if open. */
void httpc_keep_close(struct httpc_keep *k);

#endif
