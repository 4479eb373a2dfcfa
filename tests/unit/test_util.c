/*
 * test_util.c — unit tests for fcgi/util.c: UUID parsing, strict JSON
 * integers (as json-c parses them, with and without JSON_TOKENER_STRICT),
 * canonical JSON (member order and whitespace do not matter, nesting and
 * Unicode do), SHA-256 hex against the FIPS 180-2 vectors.
 */
#include "tap.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_uuid(void)
{
    char out[UUID_STR_LEN + 1];
    char gen[UUID_STR_LEN + 1], gen2[UUID_STR_LEN + 1];

    ok(util_uuid_parse("123e4567-e89b-12d3-a456-426614174000", out), "lowercase UUID accepted");
    is_str(out, "123e4567-e89b-12d3-a456-426614174000", "copied as is");
    ok(util_uuid_parse("123E4567-E89B-12D3-A456-42661417400F", out), "uppercase UUID accepted");
    is_str(out, "123e4567-e89b-12d3-a456-42661417400f", "…and lowercased");
    ok(util_uuid_parse("00000000-0000-0000-0000-000000000001", out), "the issuer id");

    ok(!util_uuid_parse(NULL, out), "NULL refused");
    ok(!util_uuid_parse("", out), "empty refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456-42661417400", out), "35 chars refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456-4266141740000", out), "37 chars refused");
    ok(!util_uuid_parse("123e4567e89b-12d3-a456-426614174000-", out), "dash out of place refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456_426614174000", out),
       "underscore for dash refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456-42661417400g", out), "non-hex g refused");
    ok(!util_uuid_parse("{23e4567-e89b-12d3-a456-42661417400}", out), "braces refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456-4266141740 0", out), "space refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456-42661417400\xc3", out), "high byte refused");
    ok(!util_uuid_parse("123e4567-e89b-12d3-a456--26614174000", out), "extra dash refused");

    is_int(util_uuid_v4(gen), 0, "uuid_v4 succeeds");
    ok(util_uuid_parse(gen, out), "a v4 UUID parses");
    ok(gen[14] == '4', "version nibble is 4");
    ok(strchr("89ab", gen[19]) != NULL, "variant nibble is 8, 9, a or b");
    util_uuid_v4(gen2);
    ok(strcmp(gen, gen2) != 0, "two v4 UUIDs differ");
}

static void test_hexval(void)
{
    int same = 1;

    for (int c = 0; c < 256; c++) {
        char one[2] = { (char)c, 0 }, *end;
        long v = strtol(one, &end, 16);
        int want = c != 0 && *end == '\0' && c != '+' && c != '-' && c != ' ' ? (int)v : -1;
        if (util_hexval((char)c) != want) {
            printf("# byte %d: %d, want %d\n", c, util_hexval((char)c), want);
            same = 0;
        }
    }
    ok(same,
       "util_hexval agrees with strtol(…, 16) on every byte (digits and both cases, -1 else)");
}

/* json-c parses text the way http_parse_json_body() does (strict). NULL if refused. */
static struct json_object *parse_strict(const char *text)
{
    struct json_tokener *tok = json_tokener_new_ex(16);
    struct json_object *o;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, text, -1); /* -1: the NUL ends a bare number */
    if (json_tokener_get_error(tok) != json_tokener_success) {
        if (o)
            json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/*
 * util_json_int64 on text parsed leniently (json_tokener_parse) and
 * strictly; *strict_parsed says whether the strict parser took it.
 * Returns the lenient result; *out_strict the strict one (-1 if not parsed).
 */
static int int64_of(const char *text, int64_t min, int64_t *out, int *strict_rc)
{
    struct json_object *lax = json_tokener_parse(text), *st = parse_strict(text);
    int64_t dummy;
    int rc = util_json_int64(lax, min, out);

    *strict_rc = st ? util_json_int64(st, min, &dummy) : -1;
    if (st && *strict_rc == 0 && rc == 0 && dummy != *out)
        *strict_rc = -2; /* the two parsers disagree on the value */
    json_object_put(lax);
    json_object_put(st);
    return rc;
}

static void test_json_int64(void)
{
    int64_t v;
    int st;

    v = -42;
    is_int(int64_of("1", 1, &v, &st), 0, "1 accepted (min 1)");
    is_int(v, 1, "1 read");
    is_int(st, 0, "1 accepted strictly");

    is_int(int64_of("0", 1, &v, &st), -1, "0 refused when min is 1");
    is_int(st, -1, "0 refused strictly when min is 1");
    v = -42;
    is_int(int64_of("0", 0, &v, &st), 0, "0 accepted when min is 0");
    is_int(v, 0, "0 read");

    is_int(int64_of("-1", 0, &v, &st), -1, "-1 refused");
    is_int(st, -1, "-1 refused strictly");
    is_int(int64_of("-0", 0, &v, &st), 0, "-0 is integer zero");

    is_int(int64_of("1.5", 0, &v, &st), -1, "1.5 refused (double)");
    is_int(st, -1, "1.5 refused strictly");
    is_int(int64_of("1.0", 0, &v, &st), -1, "1.0 refused (a double, however whole)");
    is_int(int64_of("1e3", 0, &v, &st), -1, "1e3 refused (exponent)");
    is_int(st, -1, "1e3 refused strictly");
    is_int(int64_of("\"1\"", 0, &v, &st), -1, "\"1\" refused (string)");
    is_int(st, -1, "\"1\" refused strictly");
    is_int(int64_of("true", 0, &v, &st), -1, "true refused");
    is_int(int64_of("null", 0, &v, &st), -1, "null refused");
    is_int(int64_of("[1]", 0, &v, &st), -1, "[1] refused");
    is_int(util_json_int64(NULL, 0, &v), -1, "a missing member (NULL) refused");

    v = 0;
    is_int(int64_of("9223372036854775807", 1, &v, &st), 0, "INT64_MAX accepted");
    ok(v == INT64_MAX, "INT64_MAX read exactly");
    is_int(st, 0, "INT64_MAX accepted strictly");
    is_int(int64_of("9223372036854775808", 1, &v, &st), -1, "INT64_MAX + 1 refused (not clamped)");
    is_int(st, -1, "INT64_MAX + 1 refused strictly");
    is_int(int64_of("18446744073709551615", 1, &v, &st), -1, "UINT64_MAX refused");
    is_int(int64_of("18446744073709551616", 1, &v, &st), -1, "2^64 refused (not clamped)");
    is_int(st, -1, "2^64 refused strictly");
    is_int(int64_of("99999999999999999999999", 1, &v, &st), -1, "a 23-digit number refused");
    is_int(int64_of("-9223372036854775808", 1, &v, &st), -1, "INT64_MIN refused (below min)");
    is_int(int64_of("-9223372036854775809", 1, &v, &st), -1, "INT64_MIN - 1 refused");
    is_int(st, -1, "INT64_MIN - 1 refused strictly");

    /* The value inside an object, as handlers read it. */
    {
        struct json_object *o = parse_strict("{\"amount\": 250, \"neg\": -3}"), *m = NULL;
        ok(o && json_object_object_get_ex(o, "amount", &m), "object parsed");
        is_int(util_json_int64(m, 1, &v), 0, "amount member accepted");
        is_int(v, 250, "amount read");
        m = NULL;
        json_object_object_get_ex(o, "missing", &m);
        is_int(util_json_int64(m, 1, &v), -1, "absent member refused");
        json_object_object_get_ex(o, "neg", &m);
        is_int(util_json_int64(m, 1, &v), -1, "negative member refused");
        json_object_put(o);
    }
}

/* Canonical text of a JSON document (strict parse), in one of two static
 * buffers used in turn, so two results can be compared in one call. */
static const char *canon_of(const char *text)
{
    static char bufs[2][1024];
    static int turn;
    char *buf = bufs[turn++ & 1];
    struct json_object *o = parse_strict(text);
    char *c;

    if (!o)
        return "(parse failed)";
    c = util_json_canonical(o);
    snprintf(buf, sizeof(bufs[0]), "%s", c ? c : "(null)");
    free(c);
    json_object_put(o);
    return buf;
}

static void test_canonical(void)
{
    char a[1024];

    is_str(canon_of("{\"b\":1,\"a\":2}"), "{\"a\":2,\"b\":1}", "members sorted by name");
    is_str(canon_of("{ \"b\" : 1 ,\n\t\"a\" : 2 }"), "{\"a\":2,\"b\":1}", "whitespace removed");
    snprintf(a, sizeof(a), "%s", canon_of("{\"to\":\"x\",\"from\":\"y\",\"amount\":5}"));
    is_str(canon_of("{\"amount\":5,\"from\":\"y\",\"to\":\"x\"}"), a,
           "same transfer, other order: same canonical text");
    is_str(canon_of("  {\"amount\" :5 ,\"to\":\"x\",  \"from\":\"y\"}  "), a,
           "same transfer, other order and spacing: same text");
    ok(strcmp(canon_of("{\"amount\":6,\"from\":\"y\",\"to\":\"x\"}"), a) != 0,
       "a different amount gives different text");
    ok(strcmp(canon_of("{\"amount\":\"5\",\"from\":\"y\",\"to\":\"x\"}"), a) != 0,
       "a string \"5\" is not the number 5");

    is_str(canon_of("{\"z\":{\"y\":[3,{\"b\":true,\"a\":null}],\"x\":{}},\"a\":[]}"),
           "{\"a\":[],\"z\":{\"x\":{},\"y\":[3,{\"a\":null,\"b\":true}]}}",
           "nested objects sorted at every level, arrays keep their order");
    snprintf(a, sizeof(a), "%s", canon_of("[1,2]"));
    ok(strcmp(a, canon_of("[2,1]")) != 0, "array order matters");
    is_str(canon_of("{}"), "{}", "empty object");
    is_str(canon_of("[ ]"), "[]", "empty array");
    is_str(canon_of("{\"a\":[[[]]]}"), "{\"a\":[[[]]]}", "nested empty arrays");
    is_str(canon_of("{\"B\":1,\"a\":2,\"_\":3}"), "{\"B\":1,\"_\":3,\"a\":2}",
           "bytewise order: uppercase, underscore, lowercase");
    is_str(canon_of("{\"ab\":1,\"a\":2}"), "{\"a\":2,\"ab\":1}", "a prefix sorts first");

    /* Unicode: \u escapes and raw UTF-8 denote the same string. */
    is_str(canon_of("{\"name\":\"caf\\u00e9\"}"), canon_of("{\"name\":\"caf\xc3\xa9\"}"),
           "\\u00e9 and raw é give the same text");
    is_str(canon_of("{\"\\u00e9\":1,\"z\":2}"), "{\"z\":2,\"\xc3\xa9\":1}",
           "non-ASCII names sort bytewise after ASCII");
    is_str(canon_of("{\"s\":\"\\ud83d\\ude00\"}"), canon_of("{\"s\":\"\xf0\x9f\x98\x80\"}"),
           "surrogate pair and raw 4-byte UTF-8 agree");
    is_str(canon_of("{\"s\":\"a\\\"b\\\\c\\n\"}"), "{\"s\":\"a\\\"b\\\\c\\n\"}",
           "quote, backslash and newline stay escaped");
    is_str(canon_of("{\"s\":\"\\/\"}"), canon_of("{\"s\":\"/\"}"), "\\/ and / agree");
    is_str(canon_of("{\"k\\u0041\":1}"), "{\"kA\":1}", "escaped ASCII in a name is unescaped");

    is_str(canon_of("{\"n\":-7,\"t\":true,\"f\":false,\"z\":null}"),
           "{\"f\":false,\"n\":-7,\"t\":true,\"z\":null}", "scalars");

    {
        struct json_object *s = json_object_new_string("x");
        char *c = util_json_canonical(s);
        is_str(c, "\"x\"", "a bare string value");
        free(c);
        json_object_put(s);
        c = util_json_canonical(NULL);
        is_str(c, "null", "NULL (JSON null) canonicalises to null");
        free(c);
    }
}

static void test_sha256(void)
{
    char out[65];

    util_sha256_hex("abc", 3, out);
    is_str(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "SHA-256(\"abc\")");
    util_sha256_hex("", 0, out);
    is_str(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "SHA-256(\"\")");
    util_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out);
    is_str(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
           "SHA-256 of the 448-bit FIPS vector");
    util_sha256_hex("a\0b", 3, out);
    ok(strcmp(out, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb") != 0,
       "bytes after a NUL are hashed (not SHA-256(\"a\"))");
    is_int((long long)strlen(out), 64, "64 hex digits");
}

static int dup(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    int d = util_json_has_duplicate_keys(text, strlen(text), o);

    json_object_put(o);
    return d;
}

static void test_duplicate_keys(void)
{
    ok(!dup("{\"a\":1,\"b\":2}"), "distinct members are not duplicates");
    ok(dup("{\"a\":1,\"a\":2}"), "a repeated member is found");
    ok(dup("{\"x\":{\"a\":1,\"a\":1}}"), "a repeat in a nested object is found");
    ok(dup("[{\"a\":1},{\"b\":1,\"b\":2}]"), "a repeat inside an array is found");
    ok(!dup("{\"a\":\"x:y\",\"b\":\"\\\":\"}"),
       "colons inside strings (escaped quotes too) do not count");
    ok(!dup("{\"a\":[{\"a\":1},{\"a\":2}]}"), "the same name in sibling objects is fine");
    ok(dup("{\"a\":1,\"\\u0061\":2}"), "a name spelled with an escape is the same name");
}

int main(void)
{
    test_uuid();
    test_hexval();
    test_json_int64();
    test_canonical();
    test_sha256();
    test_duplicate_keys();
    return done_testing();
}
