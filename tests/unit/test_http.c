/*
 * test_http.c — unit tests for the parts of fcgi/api/http.c that need no
 * FastCGI stream: query parameters (decoding, malformed escapes, caps),
 * reason phrases, the problem+json object, and the JSON body checks of
 * http_parse_json_body() on synthetic requests (r->fcgi NULL: the answer is
 * recorded in r->status and not written anywhere).
 */
#include "tap.h"

#include "api/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct request req;

static int qp(const char *query, const char *name, char *out, size_t outlen)
{
    memset(&req, 0, sizeof(req));
    snprintf(req.query, sizeof(req.query), "%s", query);
    memset(out, '#', outlen);
    return http_query_param(&req, name, out, outlen);
}

static void test_query_param(void)
{
    char out[64], tiny[4];

    is_int(qp("a=1&b=hello+world&c=%41%62", "a", out, sizeof(out)), 1, "a present");
    is_str(out, "1", "a = 1");
    is_int(qp("a=1&b=hello+world&c=%41%62", "b", out, sizeof(out)), 1, "b present");
    is_str(out, "hello world", "+ decodes to a space");
    is_int(qp("a=1&b=hello+world&c=%41%62", "c", out, sizeof(out)), 1, "c present");
    is_str(out, "Ab", "%41%62 decodes to Ab (upper- and lowercase hex)");
    is_int(qp("a=1&b=2", "d", out, sizeof(out)), 0, "absent parameter → 0");
    is_int(qp("", "a", out, sizeof(out)), 0, "empty query → 0");
    is_int(qp("ab=1", "a", out, sizeof(out)), 0, "a name's prefix does not match");
    is_int(qp("xa=1", "a", out, sizeof(out)), 0, "a name's suffix does not match");
    is_int(qp("ab=1&a=2", "a", out, sizeof(out)), 1, "found after a longer name");
    is_str(out, "2", "…with its own value");
    is_int(qp("a=1&a=2", "a", out, sizeof(out)), 1, "repeated name");
    is_str(out, "1", "the first occurrence wins");
    is_int(qp("a=", "a", out, sizeof(out)), 1, "empty value present");
    is_str(out, "", "empty value");
    is_int(qp("x=1&flag&y=2", "flag", out, sizeof(out)), 1, "bare name present");
    is_str(out, "", "bare name → empty value");
    is_int(qp("&&a=5&", "a", out, sizeof(out)), 1, "empty pairs skipped");
    is_str(out, "5", "value after empty pairs");
    is_int(qp("s=%2Fx%2fy%25", "s", out, sizeof(out)), 1, "escaped slash and percent");
    is_str(out, "/x/y%", "%2F %2f %25 decoded");
    is_int(qp("n=caf%C3%A9", "n", out, sizeof(out)), 1, "UTF-8 escapes");
    is_str(out, "caf\xc3\xa9", "decoded to UTF-8 bytes");
    is_int(qp("e=a%3Db%26c", "e", out, sizeof(out)), 1, "escaped = and &");
    is_str(out, "a=b&c", "= and & inside a value");
    is_int(qp("p=%2B", "p", out, sizeof(out)), 1, "escaped plus");
    is_str(out, "+", "%2B is a literal +");

    is_int(qp("a=%zz", "a", out, sizeof(out)), -1, "%zz is malformed");
    is_int(qp("a=%4", "a", out, sizeof(out)), -1, "%4 at the end is malformed");
    is_int(qp("a=%4&b=1", "a", out, sizeof(out)), -1, "%4 before & is malformed");
    is_int(qp("a=%", "a", out, sizeof(out)), -1, "% alone is malformed");
    is_int(qp("a=x%g1", "a", out, sizeof(out)), -1, "%g1 is malformed");
    is_int(qp("a=%00", "a", out, sizeof(out)), -1, "%00 (NUL) is refused");
    is_int(qp("a=%zz&b=1", "b", out, sizeof(out)), 1, "a malformed other parameter is not ours");
    is_str(out, "1", "b still read");

    is_int(qp("a=abc", "a", tiny, sizeof(tiny)), 1, "3 bytes fit a 4-byte buffer");
    is_str(tiny, "abc", "exact fit");
    is_int(qp("a=abcd", "a", tiny, sizeof(tiny)), -1, "4 bytes do not fit: refused, not truncated");
    is_int(qp("a=%41%41%41%41", "a", tiny, sizeof(tiny)), -1, "decoded length counts");
}

/* http_query_check(): the whole query, before any handler reads a parameter. */
static void test_query_check(void)
{
    is_int(http_query_check(""), 0, "empty query passes");
    is_int(http_query_check("limit=10&after=x%41+y"), 0, "ordinary escapes pass");
    is_int(http_query_check("a=%zz&b=%4"), 0, "malformed escapes are left to the reader");
    is_int(http_query_check("a=%0"), 0, "%0 at the end is malformed, not NUL");
    is_int(http_query_check("a=%00"), -1, "%00 in a value refused");
    is_int(http_query_check("lot=%0000000000-0000-0000-0000-000000000000"), -1,
           "%00 before a valid id refused");
    is_int(http_query_check("%00=1"), -1, "%00 in a name refused");
    is_int(http_query_check("x=%zz&limit=5%00"), -1, "%00 after a malformed escape still refused");
    is_int(http_query_check("unread=%00&limit=5"), -1, "%00 in a parameter nobody reads refused");
    is_int(http_query_check("a=%2500"), 0, "%2500 is the text %00, not a NUL");
}

static void test_reason(void)
{
    is_str(http_reason(200), "OK", "200");
    is_str(http_reason(201), "Created", "201");
    is_str(http_reason(400), "Bad Request", "400");
    is_str(http_reason(401), "Unauthorized", "401");
    is_str(http_reason(403), "Forbidden", "403");
    is_str(http_reason(404), "Not Found", "404");
    is_str(http_reason(405), "Method Not Allowed", "405");
    is_str(http_reason(409), "Conflict", "409");
    is_str(http_reason(413), "Content Too Large", "413 (RFC 9110 name)");
    is_str(http_reason(414), "URI Too Long", "414 (sent for long paths and queries)");
    is_str(http_reason(415), "Unsupported Media Type", "415");
    is_str(http_reason(422), "Unprocessable Content", "422 (RFC 9110 name)");
    is_str(http_reason(431), "Request Header Fields Too Large", "431");
    is_str(http_reason(500), "Internal Server Error", "500");
    is_str(http_reason(503), "Service Unavailable", "503");
    is_str(http_reason(299), "Unknown", "unlisted code → Unknown");
}

static const char *member_str(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void test_problem_object(void)
{
    struct json_object *o, *st;
    const char *text;

    memset(&req, 0, sizeof(req));
    snprintf(req.request_id, sizeof(req.request_id), "abc123");
    o = http_problem_object(&req, 404, "not_found", "no such resource: /x");
    ok(o && json_object_is_type(o, json_type_object), "a JSON object");
    is_str(member_str(o, "type"), "about:blank", "type about:blank");
    is_str(member_str(o, "title"), "Not Found", "title is the reason phrase");
    ok(json_object_object_get_ex(o, "status", &st) && json_object_is_type(st, json_type_int)
           && json_object_get_int(st) == 404,
       "status is the integer 404");
    is_str(member_str(o, "code"), "not_found", "code");
    is_str(member_str(o, "detail"), "no such resource: /x", "detail");
    is_str(member_str(o, "request_id"), "abc123", "request_id");
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ok(strstr(text, "\"status\":404") != NULL, "status serialises as a number");
    json_object_put(o);

    o = http_problem_object(&req, 503, "database_unavailable", "quote \" and \\ and \n");
    is_str(member_str(o, "title"), "Service Unavailable", "503 title");
    is_str(member_str(o, "detail"), "quote \" and \\ and \n", "detail kept verbatim");
    {
        struct json_object *back =
            json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        is_str(member_str(back, "detail"), "quote \" and \\ and \n", "detail round-trips as JSON");
        json_object_put(back);
    }
    json_object_put(o);

    /* http_problem() on a synthetic request records the status. */
    memset(&req, 0, sizeof(req));
    http_problem(&req, 409, "conflict", "x %d", 1);
    is_int(req.status, 409, "http_problem sets r->status");
    http_problem(&req, 500, "internal_error", "later");
    is_int(req.status, 409, "the first answer wins");
}

static struct zs_config cfg;

/* http_parse_json_body on a synthetic request; returns its result. */
static int body(const char *ct, const char *text, size_t len)
{
    if (req.json)
        json_object_put(req.json);
    free(req.body);
    memset(&req, 0, sizeof(req));
    req.cfg = &cfg;
    snprintf(req.content_type, sizeof(req.content_type), "%s", ct);
    req.body = malloc(len + 1);
    memcpy(req.body, text, len);
    req.body[len] = '\0';
    req.body_len = len;
    return http_parse_json_body(&req);
}

#define BODY(ct, s) body((ct), (s), sizeof(s) - 1)

static void test_json_body(void)
{
    char deep[64];
    const char *j = "application/json";

    config_defaults(&cfg);
    is_int(BODY(j, "{\"a\":1}"), 0, "an object parses");
    ok(req.json != NULL, "r->json set");
    is_int(req.status, 0, "nothing answered");
    is_int(BODY("application/json; charset=utf-8", "{}"), 0, "parameters after ; allowed");
    is_int(BODY("Application/JSON", "{}"), 0, "media type is case-insensitive");
    is_int(BODY(j, "  {\"a\":1}\n "), 0, "surrounding whitespace allowed");

    is_int(BODY("text/plain", "{}"), -1, "text/plain refused");
    is_int(req.status, 415, "→ 415");
    is_int(BODY("", "{}"), -1, "missing content type refused");
    is_int(req.status, 415, "→ 415");
    is_int(BODY("application/jsonx", "{}"), -1, "application/jsonx refused");
    is_int(req.status, 415, "→ 415");
    is_int(BODY("application/json-patch+json", "{}"), -1, "another json type refused");

    is_int(BODY(j, ""), -1, "empty body refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "{\"a\":"), -1, "truncated JSON refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "{'a':1}"), -1, "single quotes refused (strict)");
    is_int(BODY(j, "{\"a\":1,}"), -1, "trailing comma refused (strict)");
    is_int(BODY(j, "{\"a\":01}"), -1, "leading zero refused (strict)");
    is_int(BODY(j, "{\"a\":NaN}"), -1, "NaN refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "{\"a\":Infinity}"), -1, "Infinity refused");
    is_int(BODY(j, "{\"a\":[-Infinity]}"), -1, "-Infinity refused");
    is_int(BODY(j, "{\"N\":\"NaN 'I' \\\" N\"}"), 0,
           "N, I, ' and an escaped quote inside strings are fine");
    is_int(BODY(j, "{\"a\":1} {}"), -1, "a second value refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "{\"a\":1}x"), -1, "trailing garbage refused");
    is_int(BODY(j, "{\"a\":\"\xff\"}"), -1, "invalid UTF-8 refused");
    is_int(BODY(j, "{\"a\":\"x\0y\"}"), -1, "a NUL byte refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "[1,2]"), -1, "an array refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "42"), -1, "a number refused");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "null"), -1, "null refused");
    is_int(BODY(j, "\"s\" "), -1, "a string refused");
    is_int(BODY(j, "{\"a\":1}\t\r\n"), 0, "trailing whitespace after an object is fine");
    is_int(BODY(j, "{\"a\":1}\n{"), -1, "a second, unfinished value refused");

    /* U+0000 in any string: one refusal at parse time, 400 (invalid_string) */
    is_int(BODY(j, "{\"to\":\"6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\\u0000garbage\"}"), -1,
           "\\u0000 after a UUID refused (json-c would keep the UUID prefix for strlen)");
    is_int(req.status, 400, "→ 400");
    ok(req.json == NULL, "r->json not set");
    is_int(BODY(j, "{\"a\\u0000b\":1}"), -1,
           "\\u0000 in a member name refused (json-c cuts names)");
    is_int(req.status, 400, "→ 400");
    is_int(BODY(j, "{\"a\":[{\"b\":\"\\u0000\"}]}"), -1, "\\u0000 nested in an array refused");
    is_int(BODY(j, "{\"a\":\"\\\\\\u0000\"}"), -1, "\\\\ then \\u0000 refused");
    is_int(BODY(j, "{\"a\":\"\\\\u0000\"}"), 0,
           "\\\\u0000 (an escaped backslash, then text) accepted");
    is_int(BODY(j, "{\"a\":\"\\u0001\\u0100\"}"), 0, "\\u0001 and \\u0100 accepted");
    is_int(BODY(j, "{\"a\":\"x\",\"u0000\":\"\\u00000\"}"), -1,
           "\\u0000 followed by a digit refused");

    /* depth: the default cap is 16 */
    memset(deep, 0, sizeof(deep));
    for (int i = 0; i < 15; i++)
        strcat(deep, "[");
    ok(1, "building nested arrays");
    {
        char doc[128];
        snprintf(doc, sizeof(doc), "{\"a\":%s%s}", deep, "]]]]]]]]]]]]]]]");
        is_int(body(j, doc, strlen(doc)), 0, "16 levels accepted");
        snprintf(doc, sizeof(doc), "{\"a\":[%s%s]}", deep, "]]]]]]]]]]]]]]]");
        is_int(body(j, doc, strlen(doc)), -1, "17 levels refused");
        is_int(req.status, 400, "→ 400");
    }
    {
        size_t n = 1000;
        char *doc = malloc(2 * n + 8), *p = doc;
        *p++ = '{';
        memcpy(p, "\"a\":", 4);
        p += 4;
        for (size_t i = 0; i < n; i++)
            *p++ = '[';
        for (size_t i = 0; i < n; i++)
            *p++ = ']';
        *p++ = '}';
        is_int(body(j, doc, (size_t)(p - doc)), -1, "1000 levels refused");
        is_int(req.status, 400, "→ 400");
        free(doc);
    }
    if (req.json)
        json_object_put(req.json);
    free(req.body);
    memset(&req, 0, sizeof(req));
}

static int key(const char *value, char *out)
{
    memset(out, '#', HTTP_IDEMPOTENCY_KEY_MAX + 1);
    return http_idempotency_key_parse(value, out);
}

static void test_idempotency_key(void)
{
    char out[HTTP_IDEMPOTENCY_KEY_MAX + 1], bare[HTTP_IDEMPOTENCY_KEY_MAX + 1];
    char big[HTTP_IDEMPOTENCY_KEY_MAX + 8];

    is_int(key("8e03978e-40d5-43e8-bc93-6894a57f9324", out), 0, "bare UUID accepted");
    is_str(out, "8e03978e-40d5-43e8-bc93-6894a57f9324", "…taken literally");
    is_int(key("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", out), 0, "sf-string accepted");
    is_str(out, "8e03978e-40d5-43e8-bc93-6894a57f9324", "quoted and bare forms name one key");
    is_int(key("\"a b\"", out), 0, "sf-string may hold a space");
    is_str(out, "a b", "…kept");
    is_int(key("\"a\\\"b\"", out), 0, "escaped quote");
    is_str(out, "a\"b", "\\\" decodes to a quote");
    is_int(key("\"a\\\\b\"", out), 0, "escaped backslash");
    is_str(out, "a\\b", "\\\\ decodes to one backslash");
    is_int(key("a\\b", bare), 0, "bare key with a backslash (literal)");
    is_str(bare, out, "bare a\\b is the sf-string \"a\\\\b\"");
    is_int(key("ab\"c", out), 0, "a quote inside a bare key is literal");
    is_str(out, "ab\"c", "…kept");
    is_int(key("\"';DROP TABLE x;--\"", out), 0, "SQL-ish text in an sf-string is just bytes");

    is_int(key("", out), -1, "empty refused");
    is_int(key("\"\"", out), -1, "empty sf-string refused");
    is_int(key("\"abc", out), -1, "no closing quote");
    is_int(key("\"abc\"def", out), -1, "bytes after the closing quote");
    is_int(key("\"abc\" ", out), -1, "a space after the closing quote");
    is_int(key("\"abc\";p=1", out), -1, "parameters refused");
    is_int(key("\"a\"b\"", out), -1, "unescaped quote inside");
    is_int(key("\"a\\nb\"", out), -1, "\\n is not an sf-string escape");
    is_int(key("\"a\\u0041\"", out), -1, "\\u is not an sf-string escape");
    is_int(key("\"abc\\\"", out), -1, "a trailing backslash escapes the closing quote");
    is_int(key("\"a\tb\"", out), -1, "tab inside an sf-string");
    is_int(key("\"a\x7f\"", out), -1, "DEL inside an sf-string");
    is_int(key("\"caf\xc3\xa9\"", out), -1, "non-ASCII inside an sf-string");
    is_int(key("a b", out), -1, "space in a bare key");
    is_int(key("a\x01b", out), -1, "control byte in a bare key");
    is_int(key(NULL, out), -1, "NULL refused");

    memset(big, 'k', HTTP_IDEMPOTENCY_KEY_MAX);
    big[HTTP_IDEMPOTENCY_KEY_MAX] = '\0';
    is_int(key(big, out), 0, "255 bare characters accepted");
    is_int((int)strlen(out), HTTP_IDEMPOTENCY_KEY_MAX, "…all kept");
    big[HTTP_IDEMPOTENCY_KEY_MAX] = 'k';
    big[HTTP_IDEMPOTENCY_KEY_MAX + 1] = '\0';
    is_int(key(big, out), -1, "256 bare characters refused");
    big[0] = '"';
    memset(big + 1, 'k', HTTP_IDEMPOTENCY_KEY_MAX);
    big[HTTP_IDEMPOTENCY_KEY_MAX + 1] = '"';
    big[HTTP_IDEMPOTENCY_KEY_MAX + 2] = '\0';
    is_int(key(big, out), 0, "255 characters quoted accepted (257 bytes on the wire)");
    big[HTTP_IDEMPOTENCY_KEY_MAX + 1] = 'k';
    big[HTTP_IDEMPOTENCY_KEY_MAX + 2] = '"';
    big[HTTP_IDEMPOTENCY_KEY_MAX + 3] = '\0';
    is_int(key(big, out), -1, "256 characters quoted refused");
}

int main(void)
{
    test_idempotency_key();
    test_query_param();
    test_query_check();
    test_reason();
    test_problem_object();
    test_json_body();
    return done_testing();
}
