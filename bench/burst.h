/*
 * burst.h — the drop-stampede's load generator (build/zerosum-burst).
 *
 * N fully formed HTTP/1.1 requests go out on N keep-alive connections
 * that are all open before the first byte is sent; then every request is
 * written at once from one epoll loop on non-blocking sockets, and every
 * answer read. Per request: its status, its latency (first byte written to
 * last byte read), when it ended relative to the release (just before the
 * first write) and its body. Nothing here knows what the requests mean:
 * bench/run builds them (scripts/zerosum_py/bench/load.py run_burst).
 */
#ifndef ZS_BURST_H
#define ZS_BURST_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* One request, raw bytes (request line, headers, body). */
struct burst_req {
    const char *data;
    size_t len;
};

/* One request's outcome. status 0 = no answer (error says why). */
struct burst_answer {
    int status;
    double ms;     /* first byte written to the answer's last byte read */
    double end_ms; /* the answer's last byte, from the release */
    char *body;    /* NUL-terminated (malloc), NULL when no answer */
    size_t body_len;
    char error[128];
};

/* A parsed response (burst_parse_response). */
struct burst_resp {
    int status;
    char *body; /* malloc'd, NUL-terminated; the caller frees it */
    size_t body_len;
};

/* The burst's figures as a whole. */
struct burst_stats {
    double connect_ms; /* the N connections' set-up, before the release */
    double send_ms;    /* release to the last request's last byte written */
    double done_ms;    /* release to the last answer's last byte */
    size_t errors;     /* requests with no answer */
};

/*
 * Split text (len bytes, read from a requests file) into requests: each one
 * is a line holding its length in decimal, then that many bytes, then "\n".
 * On success *out (malloc'd; its data point into text) and *n are set and
 * 0 returned; -1 with err (errn bytes) saying what is wrong otherwise.
 */
int burst_split_requests(const char *text, size_t len, struct burst_req **out, size_t *n, char *err,
                         size_t errn);

/*
 * Parse one HTTP/1.x response at the start of buf (len bytes; eof: the
 * peer closed after them). Returns the bytes it takes (> 0) and fills r
 * (its body, Content-Length or chunked, or up to EOF when it has neither),
 * 0 when more bytes are needed, -1 when it is not a response.
 */
ssize_t burst_parse_response(const char *buf, size_t len, int eof, struct burst_resp *r);

/*
 * Parse the head of an HTTP/1.x response at the start of buf (len bytes;
 * eof: no more will come): its length up to and with the blank line (> 0)
 * with *status set, 0 when more bytes are needed, -1 when it is not one.
 */
ssize_t burst_parse_head(const char *buf, size_t len, int eof, int *status);

/* Whether header line [p, e) is named name (case-insensitive); *val then its value. */
int burst_header_is(const char *p, const char *e, const char *name, const char **val);

/* Raise the soft limit on open files to fit n sockets, if it does not. */
void burst_fit_fd_limit(size_t n);

/*
 * Connect n sockets to host:port (an IPv4 address), then send reqs[i] on
 * socket i, all at once, and read the answers into ans[i] (zeroed by the
 * caller), waiting timeout_ms at most for the whole burst. Returns 0 (even
 * when some requests got no answer: their error says why, st->errors counts
 * them) or -1 with err set when the burst could not start at all.
 */
int burst_run(const char *host, int port, const struct burst_req *reqs, size_t n, int timeout_ms,
              struct burst_answer *ans, struct burst_stats *st, char *err, size_t errn);

/* Write s (len bytes) to f as a JSON string, quoted and escaped. */
void burst_json_string(FILE *f, const char *s, size_t len);

/* Write the burst's report (one JSON object) to f. */
void burst_write_report(FILE *f, const struct burst_answer *ans, size_t n,
                        const struct burst_stats *st);

#endif
