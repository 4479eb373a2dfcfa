/*
 * http.h — one HTTP request as a FastCGI worker sees it, and every way of
 * answering it.
 *
 * http_read() fills struct request from the FastCGI params and body under
 * hard caps. Every answer leaves through http_respond_raw(): JSON bodies via
 * http_respond_json(), errors via http_problem() as RFC 9457
 * application/problem+json with a stable snake_case code.
 */
#ifndef ZS_HTTP_H
#define ZS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "config.h"
#include "jwt.h"
#include "metrics.h"

#define HTTP_MAX_PATH_PARAMS 4
#define HTTP_IDEMPOTENCY_KEY_MAX 255

struct request {
    FCGX_Request *fcgi;
    const struct zs_config *cfg;

    char method[8];
    char path[512];
    char query[1024];
    char request_id[64];
    char content_type[128];
    const char *authorization; /* lent from the FastCGI params */
    char idempotency_key[HTTP_IDEMPOTENCY_KEY_MAX + 1];
    int has_idempotency_key;

    char *body; /* malloc'd, NUL-terminated, body_len bytes */
    size_t body_len;
    struct json_object *json; /* parsed body (owned) or NULL */

    char path_params[HTTP_MAX_PATH_PARAMS][64];
    int npath_params;

    struct jwt_claims caller;
    int authenticated;

    enum metrics_endpoint endpoint;
    int attempts; /* transaction attempts used by this request */
    int status;   /* 0 until answered */
    struct timespec start;
};

/*
 * Read method, path, query, request id and selected headers from the
 * FastCGI params, and the body (at most cfg->body_max bytes). On a cap or
 * framing violation it answers the request itself (413, 431, 400) and
 * returns -1; otherwise 0.
 */
int http_read(struct request *r, FCGX_Request *fcgi, const struct zs_config *cfg);

/*
 * Parse an Idempotency-Key header value into out (NUL-terminated): an RFC
 * 8941 sf-string ("…": printable ASCII, the escapes \" and \\ only, nothing
 * after the closing quote) or, for older clients, a bare key of printable
 * ASCII without spaces, not starting with a quote. Both forms of one key give the same out:
 * "abc" and abc are one key. 0, or -1 when malformed, empty or longer than
 * HTTP_IDEMPOTENCY_KEY_MAX once decoded.
 */
int http_idempotency_key_parse(const char *value, char out[HTTP_IDEMPOTENCY_KEY_MAX + 1]);

/* Release what http_read() and the handler allocated. */
void http_request_free(struct request *r);

/*
 * Require `Content-Type: application/json` and parse the body as one JSON
 * object (strict, UTF-8 validated, depth-capped, no trailing bytes, no
 * string — member name or value — holding U+0000: 400 invalid_string). On
 * failure answers 415 or 400 and returns -1.
 */
int http_parse_json_body(struct request *r);

/*
 * Refuse a body with a member not in allowed (NULL-terminated): answers 422
 * unknown_field naming it and returns -1; 0 when every member is allowed.
 */
int http_json_refuse_unknown(struct request *r, const char *const *allowed);

/*
 * Write status line, headers and body. extra_headers: "" or "Name: v\r\n"...;
 * `Cache-Control: no-store` is added unless extra_headers has a Cache-Control
 * of its own. A HEAD request gets everything but the body.
 */
void http_respond_raw(struct request *r, int status, const char *content_type, const char *body,
                      size_t len, const char *extra_headers);

/* Serialise body (taking ownership of it) and answer with it. */
void http_respond_json(struct request *r, int status, struct json_object *body,
                       const char *extra_headers);

/* Answer with application/problem+json {type,title,status,code,detail}. */
void http_problem(struct request *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Same, with extra headers (e.g. "Allow: GET\r\n", "Retry-After: 1\r\n"). */
void http_problem_h(struct request *r, int status, const char *code, const char *headers,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The problem+json object problem() would send (owned by the caller). */
struct json_object *http_problem_object(const struct request *r, int status, const char *code,
                                        const char *detail);

/* Reason phrase for a status code ("Not Found"). */
const char *http_reason(int status);

/*
 * 0 if no percent-escape in query decodes to NUL, else -1. http_read()
 * refuses such a query (400 invalid_string) before any handler reads it,
 * with the same decoder http_query_param() uses.
 */
int http_query_check(const char *query);

/* Value of query parameter name (decoded into out), 1 if present, 0 if not, -1 if malformed. */
int http_query_param(const struct request *r, const char *name, char *out, size_t outlen);

#endif
