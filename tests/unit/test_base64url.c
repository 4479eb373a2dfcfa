/*
 * test_base64url.c — unit tests for fcgi/base64url.c: RFC 4648 §10 vectors
 * (translated to the URL-safe alphabet, padding removed), the two
 * characters that differ from standard base64, round trips over every
 * length and byte value, and everything strict decoding must refuse.
 */
#include "tap.h"

#include "base64url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Encode s (n bytes) and return a static copy of the result, or NULL. */
static const char *enc(const void *s, size_t n)
{
    static char out[256];

    if (base64url_encode(s, n, out, sizeof out) == (size_t)-1)
        return NULL;
    return out;
}

/*
 * 1 if base64url_decode refuses the NUL-terminated string s. Cases that test
 * a character use a length with len % 4 != 1, so the length alone is not
 * what gets them refused.
 */
static int rejects(const char *s)
{
    unsigned char buf[256];
    size_t n = 12345;

    return base64url_decode(s, strlen(s), buf, sizeof buf, &n) == -1 && n == 12345;
}

/* Decode s and compare with want[0..wantlen). */
static int decodes_to(const char *s, const void *want, size_t wantlen)
{
    unsigned char buf[256];
    size_t n = 0;

    if (base64url_decode(s, strlen(s), buf, sizeof buf, &n) != 0)
        return 0;
    return n == wantlen && memcmp(buf, want, n) == 0;
}

static void test_rfc4648_vectors(void)
{
    static const struct {
        const char *plain, *encoded;
    } v[] = {
        { "", "" },           { "f", "Zg" },          { "fo", "Zm8" },          { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };
    char name[64];
    size_t i;

    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        snprintf(name, sizeof name, "encode \"%s\"", v[i].plain);
        is_str(enc(v[i].plain, strlen(v[i].plain)), v[i].encoded, name);
        snprintf(name, sizeof name, "decode \"%s\"", v[i].encoded);
        ok(decodes_to(v[i].encoded, v[i].plain, strlen(v[i].plain)), name);
    }
}

static void test_url_alphabet(void)
{
    static const unsigned char dash[] = { 0xfb, 0xef, 0xbe };  /* std "++++" */
    static const unsigned char under[] = { 0xff, 0xff, 0xff }; /* std "////" */
    static const unsigned char mixed[] = { 0xfb, 0xff };       /* std "+/8=" */

    is_str(enc(dash, sizeof dash), "----", "62 encodes as '-'");
    is_str(enc(under, sizeof under), "____", "63 encodes as '_'");
    is_str(enc(mixed, sizeof mixed), "-_8", "no padding, URL alphabet");
    ok(decodes_to("----", dash, sizeof dash), "'-' decodes to 62");
    ok(decodes_to("____", under, sizeof under), "'_' decodes to 63");
    ok(decodes_to("-_8", mixed, sizeof mixed), "unpadded tail decodes");
}

static void test_round_trip(void)
{
    unsigned char src[200], dst[200];
    char text[300];
    size_t len, n, got;
    int bad = 0;

    /* Every length 0..199 with bytes covering all 256 values across lengths. */
    for (len = 0; len < sizeof src; len++) {
        for (n = 0; n < len; n++)
            src[n] = (unsigned char)(n * 37 + len * 11);
        got = base64url_encode(src, len, text, sizeof text);
        if (got != base64url_encoded_len(len) || strlen(text) != got)
            bad++;
        if (base64url_decode(text, got, dst, sizeof dst, &n) != 0 || n != len
            || memcmp(src, dst, len) != 0)
            bad++;
        if (base64url_decoded_len(got) != len)
            bad++;
    }
    is_int(bad, 0, "round trip of every length 0..199");

    for (n = 0; n < 256; n++) {
        src[0] = (unsigned char)n;
        src[1] = (unsigned char)~n;
        base64url_encode(src, 2, text, sizeof text);
        if (base64url_decode(text, strlen(text), dst, sizeof dst, &got) != 0 || got != 2
            || dst[0] != src[0] || dst[1] != src[1])
            bad++;
    }
    is_int(bad, 0, "round trip of every byte value");
}

static void test_lengths(void)
{
    is_int(base64url_encoded_len(0), 0, "encoded_len(0)");
    is_int(base64url_encoded_len(1), 2, "encoded_len(1)");
    is_int(base64url_encoded_len(2), 3, "encoded_len(2)");
    is_int(base64url_encoded_len(3), 4, "encoded_len(3)");
    is_int(base64url_encoded_len(32), 43, "encoded_len(32) (an HS256 signature)");
    ok(base64url_encoded_len(SIZE_MAX) == SIZE_MAX, "encoded_len saturates on overflow");
    is_int(base64url_decoded_len(43), 32, "decoded_len(43)");
    is_int(base64url_decoded_len(4096), 3072, "decoded_len(4096)");
}

static void test_rejects(void)
{
    unsigned char buf[8];
    char small[4];
    size_t n;

    ok(rejects("Zg=="), "'==' padding rejected");
    ok(rejects("Zg="), "'=' padding rejected");
    ok(rejects("Zm9="), "'=' inside the last quantum rejected");
    ok(rejects("Zm9v+A"), "'+' rejected");
    ok(rejects("Zm9v/A"), "'/' rejected");
    ok(rejects(" Zm9vYg"), "leading space rejected");
    ok(rejects("Zm 9"), "inner space rejected");
    ok(rejects("Zm9vY\n"), "trailing newline rejected");
    ok(rejects("Zm9v\r\nYg"), "CRLF rejected");
    ok(rejects("Zm9v\tYg"), "tab rejected");
    ok(rejects("Z"), "length 1 (len % 4 == 1) rejected");
    ok(rejects("Zm9vY"), "length 5 (len % 4 == 1) rejected");
    ok(rejects("Zm9v.Yg"), "'.' rejected");
    ok(rejects("Zm\xc3\xa9"), "non-ASCII rejected");
    ok(rejects("Zh"), "non-zero trailing bits after 1 byte rejected (only \"Zg\" is canonical)");
    ok(rejects("Zm9"), "non-zero trailing bits after 2 bytes rejected (only \"Zm8\")");
    ok(decodes_to("Zg", "f", 1), "\"Zg\" accepted");
    ok(base64url_decode("Zm\0v", 4, buf, sizeof buf, &n) == -1, "embedded NUL rejected");
    ok(base64url_decode("Zm9vYmFy", 8, buf, 5, &n) == -1, "decode refuses a short buffer");
    ok(base64url_decode("Zm9vYmFy", 8, buf, 6, &n) == 0 && n == 6, "decode fits an exact buffer");
    ok(base64url_decode("", 0, buf, 0, &n) == 0 && n == 0, "empty input decodes to nothing");
    ok(base64url_encode("foo", 3, small, 4) == (size_t)-1,
       "encode refuses a buffer without NUL room");
    ok(base64url_encode("fo", 2, small, 4) == 3 && strcmp(small, "Zm8") == 0,
       "encode fits an exact buffer");
    ok(base64url_encode(NULL, 0, small, 1) == 0 && small[0] == '\0', "encode of nothing");
}

int main(void)
{
    test_rfc4648_vectors();
    test_url_alphabet();
    test_round_trip();
    test_lengths();
    test_rejects();
    return done_testing();
}
