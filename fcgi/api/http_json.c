/*
 * http_json.c — the request body as JSON: json-c in strict mode, then the
 * checks it leaves to us, so that only RFC 8259 JSON whose strings hold no
 * U+0000 reaches a handler (http_parse_json_body, http.h).
 */
#include "api/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* The value of the \uXXXX escape at s (s[0] == '\\'), or -1. */
static long u_escape(const char *s, size_t left)
{
    char hex[5];

    if (left < 6 || s[0] != '\\' || s[1] != 'u')
        return -1;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)s[2 + i]))
            return -1;
        hex[i] = s[2 + i];
    }
    hex[4] = '\0';
    return strtol(hex, NULL, 16);
}

/*
 * Why a body json-c parsed is still not RFC 8259 JSON, or NULL. json-c
 * 0.16's strict mode takes NaN, [-]Infinity and single-quoted names
 * (outside strings JSON never uses the bytes ', N or I), raw control
 * characters inside strings, \u escapes that leave a surrogate unpaired
 * (it stores U+FFFD instead: neither refused nor kept verbatim), and UTF-8
 * that is overlong, encodes a surrogate or exceeds U+10FFFF (it checks
 * only the byte pattern, and PostgreSQL then refuses the text), and a
 * fraction point without digits after it ("1.", "1.e5").
 *
 * *nul is set when a string (a member name or a value) holds the escape
 * \u0000: the text is JSON, but no string the API reads may contain
 * U+0000. json-c keeps a value's full length but cuts member names at the
 * NUL, so the text, not the tree, is where every such string is seen.
 */
static const char *json_nonstandard(const char *s, size_t len, int *nul)
{
    int in_string = 0;

    *nul = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);

        if (n == 0)
            return "the body is not valid UTF-8";
        if (n > 1) {
            i += n - 1;
            continue;
        }
        if (in_string) {
            if (c < 0x20)
                return "a control character must be escaped inside a string";
            if (c == '\\') {
                long v = u_escape(s + i, len - i);
                if (v == 0)
                    *nul = 1;
                if (v >= 0xdc00 && v <= 0xdfff)
                    return "an unpaired surrogate escape";
                if (v >= 0xd800 && v <= 0xdbff) {
                    long w = u_escape(s + i + 6, len - i - 6);
                    if (w < 0xdc00 || w > 0xdfff)
                        return "an unpaired surrogate escape";
                    i += 6;
                }
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '.' && (i + 1 == len || !isdigit((unsigned char)s[i + 1]))) {
            return "a number has no digits after its decimal point";
        } else if (c == '\'' || c == 'N' || c == 'I') {
            return "NaN, Infinity and single quotes are not JSON";
        }
    }
    return NULL;
}

int http_parse_json_body(struct request *r)
{
    struct json_tokener *tok;
    enum json_tokener_error jerr;
    struct json_object *obj;
    const char *ct = r->content_type, *why;
    size_t n = strlen("application/json");
    int nul = 0;

    if (strncasecmp(ct, "application/json", n) != 0 || (ct[n] != '\0' && ct[n] != ';')) {
        http_problem(r, 415, "unsupported_media_type", "Content-Type must be application/json");
        return -1;
    }
    if (r->body_len == 0) {
        http_problem(r, 400, "malformed_json", "the body is empty; a JSON object is expected");
        return -1;
    }
    if (memchr(r->body, '\0', r->body_len)) {
        http_problem(r, 400, "malformed_json", "the body contains a NUL byte");
        return -1;
    }
    tok = json_tokener_new_ex(r->cfg->json_max_depth);
    if (!tok) {
        http_problem(r, 500, "internal_error", "out of memory");
        return -1;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* + 1: the NUL http_read() put after the body ends a bare scalar ("42",
     * "null"), which json-c would otherwise report as json_tokener_continue. */
    obj = json_tokener_parse_ex(tok, r->body, (int)r->body_len + 1);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_success) {
        /* Anything after the value but whitespace is an error. */
        size_t end = json_tokener_get_parse_end(tok);
        while (end < r->body_len && isspace((unsigned char)r->body[end]))
            end++;
        if (end != r->body_len) {
            json_object_put(obj);
            json_tokener_free(tok);
            http_problem(r, 400, "malformed_json", "unexpected bytes after the JSON value");
            return -1;
        }
        why = json_nonstandard(r->body, r->body_len, &nul);
        if (why) {
            json_object_put(obj);
            json_tokener_free(tok);
            http_problem(r, 400, "malformed_json", "the body is not valid JSON: %s", why);
            return -1;
        }
        if (nul) {
            json_object_put(obj);
            json_tokener_free(tok);
            http_problem(r, 400, "invalid_string",
                         "a string in the body contains U+0000 (\\u0000), which no field accepts");
            return -1;
        }
    }
    json_tokener_free(tok);
    if (jerr == json_tokener_error_depth) {
        http_problem(r, 400, "json_too_deep", "JSON nesting exceeds %d levels",
                     r->cfg->json_max_depth);
        return -1;
    }
    if (jerr != json_tokener_success) {
        if (obj)
            json_object_put(obj);
        http_problem(r, 400, "malformed_json", "the body is not valid JSON: %s",
                     json_tokener_error_desc(jerr));
        return -1;
    }
    if (util_json_has_duplicate_keys(r->body, r->body_len, obj)) {
        json_object_put(obj);
        http_problem(r, 400, "duplicate_key", "a member name appears twice in one object");
        return -1;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        http_problem(r, 400, "body_not_object", "the body must be a JSON object");
        return -1;
    }
    r->json = obj;
    return 0;
}

int http_json_refuse_unknown(struct request *r, const char *const *allowed)
{
    const char *unknown = util_json_unknown_member(r->json, allowed);

    if (!unknown)
        return 0;
    http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
    return -1;
}
