/*
 * http.c — reading a FastCGI request under caps and writing answers.
 */
#include "api/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

static const char *param(FCGX_Request *f, const char *name)
{
    return FCGX_GetParam(name, f->envp);
}

/* How many times a param is present: nginx passes a repeated header twice. */
static int param_count(FCGX_Request *f, const char *name)
{
    size_t n = strlen(name);
    int count = 0;

    for (char **e = f->envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            count++;
    return count;
}

/* Copy src into dst (cap bytes incl. NUL); -1 if it does not fit. */
static int copy_capped(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap)
        return -1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    return 0;
}

int http_idempotency_key_parse(const char *value, char out[HTTP_IDEMPOTENCY_KEY_MAX + 1])
{
    size_t n = 0;
    const char *p = value;

    out[0] = '\0';
    if (!value)
        return -1;
    if (*p != '"') {
        /* A bare key (as before sf-strings): printable ASCII without
         * spaces, taken literally. Only a leading quote makes an sf-string. */
        for (; *p; p++) {
            if (*p < 0x21 || *p > 0x7e || n == HTTP_IDEMPOTENCY_KEY_MAX)
                return -1;
            out[n++] = *p;
        }
    } else {
        /* RFC 8941 section 4.2.5: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE,
         * every character printable ASCII (0x20-0x7e), nothing after it. */
        for (p++;; p++) {
            if (*p == '\0')
                return -1; /* no closing quote */
            if (*p == '"')
                break;
            if (*p < 0x20 || *p > 0x7e)
                return -1;
            if (*p == '\\') {
                p++;
                if (*p != '"' && *p != '\\')
                    return -1;
            }
            if (n == HTTP_IDEMPOTENCY_KEY_MAX)
                return -1;
            out[n++] = *p;
        }
        if (p[1] != '\0')
            return -1; /* bytes after the closing quote */
    }
    if (n == 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#define PCT_MALFORMED -1
#define PCT_NUL -2

/*
 * The one decoder of query text: percent-decode [s, end), '+' as a space,
 * into out (outlen bytes, NUL-terminated). Returns the decoded length,
 * PCT_MALFORMED for a bad escape or no room, PCT_NUL for an escape that
 * decodes to U+0000 (refused anywhere: C strings downstream would end
 * there). With out NULL it only looks for PCT_NUL, past bad escapes too.
 */
static long pct_decode(const char *s, const char *end, char *out, size_t outlen)
{
    size_t o = 0;

    for (const char *c = s; c < end; c++) {
        int ch = (unsigned char)*c;
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            int hi = end - c >= 3 ? hexval(c[1]) : -1, lo = end - c >= 3 ? hexval(c[2]) : -1;
            if (hi < 0 || lo < 0) {
                if (out)
                    return PCT_MALFORMED;
                continue;
            }
            ch = hi * 16 + lo;
            c += 2;
        }
        if (ch == 0)
            return PCT_NUL;
        if (!out)
            continue;
        if (o + 1 >= outlen)
            return PCT_MALFORMED;
        out[o++] = (char)ch;
    }
    if (out) {
        if (o >= outlen)
            return PCT_MALFORMED; /* outlen 0: not even the NUL fits */
        out[o] = '\0';
    }
    return (long)o;
}

int http_query_check(const char *query)
{
    return pct_decode(query, query + strlen(query), NULL, 0) == PCT_NUL ? -1 : 0;
}

/* The request id, method, path and query into r. 0, or -1 after answering. */
static int read_target(struct request *r, FCGX_Request *fcgi)
{
    const char *uri, *q, *rid;
    size_t pathlen;

    rid = param(fcgi, "REQUEST_ID");
    if (!rid || copy_capped(r->request_id, sizeof(r->request_id), rid) < 0)
        snprintf(r->request_id, sizeof(r->request_id), "-");
    for (char *c = r->request_id; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-')
            *c = '_';

    /* A method too long for any route matches none: the router answers 405
     * with Allow (or 404), as for any other unknown method. */
    if (copy_capped(r->method, sizeof(r->method), param(fcgi, "REQUEST_METHOD")) < 0)
        snprintf(r->method, sizeof(r->method), "?");

    uri = param(fcgi, "DOCUMENT_URI");
    if (!uri)
        uri = param(fcgi, "SCRIPT_NAME");
    if (!uri)
        uri = "/";
    if (copy_capped(r->path, sizeof(r->path), uri) < 0) {
        snprintf(r->path, sizeof(r->path), "(too long)");
        http_problem(r, 414, "uri_too_long", "the request path is longer than %zu bytes",
                     sizeof(r->path) - 1);
        return -1;
    }
    /* nginx normalises the path; strip one trailing slash except for "/". */
    pathlen = strlen(r->path);
    if (pathlen > 1 && r->path[pathlen - 1] == '/')
        r->path[pathlen - 1] = '\0';

    q = param(fcgi, "QUERY_STRING");
    if (copy_capped(r->query, sizeof(r->query), q) < 0) {
        http_problem(r, 414, "uri_too_long", "the query string is longer than %zu bytes",
                     sizeof(r->query) - 1);
        return -1;
    }
    if (http_query_check(r->query) < 0) {
        http_problem(r, 400, "invalid_string", "the query string contains an escaped NUL (%%00)");
        return -1;
    }
    return 0;
}

/* Authorization, Content-Type and Idempotency-Key into r. 0, or -1 after answering. */
static int read_headers(struct request *r, FCGX_Request *fcgi, const struct zs_config *cfg)
{
    const char *key;

    r->authorization = param(fcgi, "HTTP_AUTHORIZATION");
    if (r->authorization && strlen(r->authorization) > (size_t)cfg->header_max) {
        http_problem(r, 431, "header_too_large", "the Authorization header exceeds %d bytes",
                     cfg->header_max);
        return -1;
    }
    /* nginx passes the first of repeated headers as CONTENT_TYPE and every
     * one as HTTP_CONTENT_TYPE: two media types are one too many. */
    if (copy_capped(r->content_type, sizeof(r->content_type), param(fcgi, "CONTENT_TYPE")) < 0
        || param_count(fcgi, "HTTP_CONTENT_TYPE") > 1) {
        http_problem(r, 415, "unsupported_media_type", "Content-Type must be application/json");
        return -1;
    }

    key = param(fcgi, "HTTP_IDEMPOTENCY_KEY");
    if (key && param_count(fcgi, "HTTP_IDEMPOTENCY_KEY") > 1) {
        http_problem(r, 400, "invalid_idempotency_key", "send exactly one Idempotency-Key header");
        return -1;
    }
    if (key) {
        int rc = http_idempotency_key_parse(key, r->idempotency_key);
        if (rc < 0) {
            http_problem(r, 400, "invalid_idempotency_key",
                         "Idempotency-Key must be an RFC 8941 string (\"...\", printable ASCII,"
                         " escapes \\\" and \\\\ only) or a bare token of printable ASCII"
                         " without spaces, 1 to %d characters",
                         HTTP_IDEMPOTENCY_KEY_MAX);
            return -1;
        }
        r->has_idempotency_key = 1;
    }
    return 0;
}

/* The body (CONTENT_LENGTH bytes, NUL-terminated) into r. 0, or -1 after answering. */
static int read_body(struct request *r, FCGX_Request *fcgi, const struct zs_config *cfg)
{
    const char *cl = param(fcgi, "CONTENT_LENGTH");
    long long len = 0;

    if (cl && *cl) {
        char *end;
        errno = 0;
        len = strtoll(cl, &end, 10);
        if (errno || *end || len < 0) {
            http_problem(r, 400, "bad_content_length", "Content-Length is not a number");
            return -1;
        }
    }
    if (len > cfg->body_max) {
        http_problem(r, 413, "body_too_large", "the body exceeds %d bytes", cfg->body_max);
        return -1;
    }
    r->body = malloc((size_t)len + 1);
    if (!r->body) {
        http_problem(r, 500, "internal_error", "out of memory");
        return -1;
    }
    if (len > 0) {
        int got = FCGX_GetStr(r->body, (int)len, fcgi->in);
        if (got != len) {
            r->body[got > 0 ? got : 0] = '\0';
            http_problem(r, 400, "truncated_body", "the body ended after %d of %lld bytes", got,
                         len);
            return -1;
        }
    }
    r->body[len] = '\0';
    r->body_len = (size_t)len;
    return 0;
}

int http_read(struct request *r, FCGX_Request *fcgi, const struct zs_config *cfg)
{
    memset(r, 0, sizeof(*r));
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->fcgi = fcgi;
    r->cfg = cfg;
    r->endpoint = EP_OTHER;
    if (read_target(r, fcgi) < 0 || read_headers(r, fcgi, cfg) < 0 || read_body(r, fcgi, cfg) < 0)
        return -1;
    return 0;
}

void http_request_free(struct request *r)
{
    if (r->json)
        json_object_put(r->json);
    free(r->body);
    r->json = NULL;
    r->body = NULL;
}

void http_respond_raw(struct request *r, int status, const char *content_type, const char *body,
                      size_t len, const char *extra_headers)
{
    if (r->status)
        return; /* answered already: first answer wins */
    r->status = status;
    if (!r->fcgi)
        return; /* a synthetic request (periodic jobs): nobody to answer */
    if (!extra_headers)
        extra_headers = "";
    /* libfcgi's own printf knows no %zu: format here, then write bytes.
     * Every answer is no-store unless the handler chose its own caching. */
    {
        char head[1024];
        int n =
            snprintf(head, sizeof(head),
                     "Status: %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "X-Request-Id: %s\r\n"
                     "%s\r\n",
                     status, http_reason(status), content_type, len,
                     strstr(extra_headers, "Cache-Control:") ? "" : "Cache-Control: no-store\r\n",
                     r->request_id, extra_headers);
        if (n < 0 || n >= (int)sizeof(head))
            n = snprintf(head, sizeof(head), "Status: 500 Internal Server Error\r\n\r\n");
        FCGX_PutStr(head, n, r->fcgi->out);
    }
    /* HEAD: the same status and headers (Content-Length included) as GET,
     * and no body (RFC 9110 §9.3.2). */
    if (len && strcmp(r->method, "HEAD") != 0)
        FCGX_PutStr(body, (int)len, r->fcgi->out);
}

void http_respond_json(struct request *r, int status, struct json_object *body,
                       const char *extra_headers)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_respond_raw(r, status, "application/json", s, len, extra_headers);
    json_object_put(body);
}

struct json_object *http_problem_object(const struct request *r, int status, const char *code,
                                        const char *detail)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "type", json_object_new_string("about:blank"));
    json_object_object_add(o, "title", json_object_new_string(http_reason(status)));
    json_object_object_add(o, "status", json_object_new_int(status));
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "detail", json_object_new_string(detail));
    json_object_object_add(o, "request_id", json_object_new_string(r->request_id));
    return o;
}

static void problem_v(struct request *r, int status, const char *code, const char *headers,
                      const char *fmt, va_list ap)
{
    char detail[512];
    struct json_object *o;
    size_t len = 0;
    const char *s;

    vsnprintf(detail, sizeof(detail), fmt, ap);
    o = http_problem_object(r, status, code, detail);
    s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_respond_raw(r, status, "application/problem+json", s, len, headers);
    json_object_put(o);
}

void http_problem(struct request *r, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    problem_v(r, status, code, "", fmt, ap);
    va_end(ap);
}

void http_problem_h(struct request *r, int status, const char *code, const char *headers,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    problem_v(r, status, code, headers, fmt, ap);
    va_end(ap);
}

int http_query_param(const struct request *r, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = r->query;

    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);

        if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            if (!out)
                return -1;
            return pct_decode(p + nlen + 1, end, out, outlen) < 0 ? -1 : 1;
        } else if ((size_t)(end - p) == nlen && strncmp(p, name, nlen) == 0) {
            if (outlen)
                out[0] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}
