/*
 * test_jwt.c — unit tests for fcgi/jwt.c: HS256 sign/verify, every way a
 * token must be refused and with which status, tokens produced outside this
 * code (the openssl CLI, RFC 7515 Appendix A.1) so that sign and verify
 * cannot merely agree with each other, and the key file's generate/load.
 *
 * Hand-built tokens are signed here with OpenSSL's HMAC directly, so a test
 * can put any header or payload bytes under a valid signature.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, symlink, strdup */
#endif
#include "tap.h"

#include "base64url.h"
#include "jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define NOW ((time_t)1700000000)
#define LATER 1700003600LL
#define SUB "0b9a3c1e-6f2d-4a8b-9c7e-5d4f3a2b1c0d"
#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define PL_OK "{\"sub\":\"" SUB "\",\"scope\":\"user\",\"exp\":1700003600}"

static const unsigned char KEY[32] = {
    0x4b, 0x0e, 0x91, 0x2f, 0x6a, 0xd3, 0x58, 0x17, 0xc4, 0x3e, 0xa0, 0x7b, 0x25, 0xe9, 0x86, 0x1d,
    0xf2, 0x4c, 0x0b, 0x93, 0x67, 0xde, 0x31, 0xa8, 0x5f, 0x12, 0xbb, 0x70, 0x8e, 0x46, 0xc9, 0x03,
};
static const unsigned char KEY2[32] = {
    0x4b, 0x0e, 0x91, 0x2f, 0x6a, 0xd3, 0x58, 0x17, 0xc4, 0x3e, 0xa0, 0x7b, 0x25, 0xe9, 0x86, 0x1d,
    0xf2, 0x4c, 0x0b, 0x93, 0x67, 0xde, 0x31, 0xa8, 0x5f, 0x12, 0xbb, 0x70, 0x8e, 0x46, 0xc9, 0x04,
};

/* Failed verifies that left *out not all-zero; checked once at the end. */
static int out_not_zeroed;

/* Parse a hex string into buf; returns the number of bytes. */
static size_t unhex(const char *hex, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    unsigned int b;

    while (n < cap && hex[2 * n] && sscanf(hex + 2 * n, "%2x", &b) == 1)
        buf[n++] = (unsigned char)b;
    return n;
}

/* malloc'd base64url of s[0..n). */
static char *b64(const void *s, size_t n)
{
    size_t cap = base64url_encoded_len(n) + 1;
    char *out = malloc(cap);

    if (out)
        base64url_encode(s, n, out, cap);
    return out;
}

/*
 * malloc'd "hpart.ppart.sig" where sig is HMAC-SHA-256 over "hpart.ppart"
 * with key — the parts are used verbatim, so they may be non-canonical.
 */
static char *sign_parts(const char *hpart, const char *ppart, const unsigned char *key,
                        size_t keylen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t n = strlen(hpart) + 1 + strlen(ppart);
    char *tok = malloc(n + 1 + 64);
    char *sig;

    snprintf(tok, n + 1, "%s.%s", hpart, ppart);
    HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)tok, n, mac, &maclen);
    sig = b64(mac, maclen);
    tok[n] = '.';
    strcpy(tok + n + 1, sig);
    free(sig);
    return tok;
}

/* malloc'd token of header JSON hdr and payload JSON pl, HS256-signed with key. */
static char *make_token(const char *hdr, const char *pl, const unsigned char *key)
{
    char *h = b64(hdr, strlen(hdr)), *p = b64(pl, strlen(pl));
    char *tok = sign_parts(h, p, key, 32);

    free(h);
    free(p);
    return tok;
}

/* jwt_verify with KEY at NOW; also records whether *out was zeroed on failure. */
static enum jwt_status verify(const char *tok, struct jwt_claims *out)
{
    static const struct jwt_claims zero;
    enum jwt_status st;

    memset(out, 0xa5, sizeof *out);
    st = jwt_verify(tok, KEY, sizeof KEY, NOW, out);
    if (st != JWT_OK && memcmp(out, &zero, sizeof zero) != 0)
        out_not_zeroed++;
    return st;
}

/* Status of a token with header hdr and payload pl, correctly signed with KEY. */
static enum jwt_status check(const char *hdr, const char *pl)
{
    struct jwt_claims c;
    char *tok = make_token(hdr, pl, KEY);
    enum jwt_status st = verify(tok, &c);

    free(tok);
    return st;
}

/* As check(), with the payload made by printf. */
__attribute__((format(printf, 2, 3)))
static enum jwt_status checkf(const char *hdr, const char *fmt, ...)
{
    char pl[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(pl, sizeof pl, fmt, ap);
    va_end(ap);
    return check(hdr, pl);
}

/* Status of the literal token string tok. */
static enum jwt_status check_raw(const char *tok)
{
    struct jwt_claims c;

    return verify(tok, &c);
}

static void test_round_trip(void)
{
    struct jwt_claims in = { .sub = SUB, .scope = JWT_SCOPE_USER, .exp = LATER }, out;
    unsigned char longkey[64];
    char *tok;

    tok = jwt_sign(&in, KEY, sizeof KEY);
    ok(tok != NULL, "sign a user token");
    is_int(verify(tok, &out), JWT_OK, "round trip verifies");
    is_str(out.sub, SUB, "round trip: sub");
    is_int(out.scope, JWT_SCOPE_USER, "round trip: scope user");
    is_int(out.exp, LATER, "round trip: exp");
    ok(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0,
       "header is base64url of {\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    free(tok);

    in.scope = JWT_SCOPE_ADMIN;
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_OK, "admin round trip verifies");
    is_int(out.scope, JWT_SCOPE_ADMIN, "round trip: scope admin");
    free(tok);

    memset(in.sub, 'x', 63);
    in.sub[63] = '\0';
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_OK, "63-byte sub round trips");
    is_str(out.sub, in.sub, "63-byte sub read back whole");
    free(tok);

    strcpy(in.sub, "q\"uo\\te/slash sp");
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_OK, "sub with JSON-escaped characters round trips");
    is_str(out.sub, in.sub, "escaped sub read back exactly");
    free(tok);

    memset(longkey, 0x5c, sizeof longkey);
    tok = jwt_sign(&in, longkey, sizeof longkey);
    is_int(jwt_verify(tok, longkey, sizeof longkey, NOW, &out), JWT_OK, "64-byte key round trips");
    is_int(jwt_verify(tok, longkey, 32, NOW, &out), JWT_BAD_SIGNATURE,
           "same key truncated to 32 bytes fails");
    free(tok);
}

static void test_expiry(void)
{
    struct jwt_claims in = { .sub = SUB, .scope = JWT_SCOPE_USER }, out;
    char *tok;

    in.exp = (int64_t)NOW - 1;
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_EXPIRED, "exp < now: expired");
    free(tok);

    in.exp = (int64_t)NOW;
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_EXPIRED, "exp == now: expired");
    is_int(jwt_verify(tok, KEY, sizeof KEY, NOW - 1, &out), JWT_OK, "same token a second earlier: ok");
    free(tok);

    in.exp = (int64_t)NOW + 1;
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_OK, "exp == now + 1: ok");
    free(tok);

    in.exp = -5;
    tok = jwt_sign(&in, KEY, sizeof KEY);
    is_int(verify(tok, &out), JWT_EXPIRED, "negative exp: expired");
    free(tok);

    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":9223372036854775807}"), JWT_OK,
           "exp INT64_MAX: ok");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":-9223372036854775809}"),
           JWT_EXPIRED, "exp below INT64_MIN: expired");
}

static void test_tampering(void)
{
    struct jwt_claims in = { .sub = SUB, .scope = JWT_SCOPE_USER, .exp = LATER }, out;
    char *tok, *dot1, *dot2, *forged, *p;
    const char *admin_pl = "{\"sub\":\"" SUB "\",\"scope\":\"admin\",\"exp\":1700003600}";
    enum jwt_status st;
    size_t n;

    tok = jwt_sign(&in, KEY, sizeof KEY);
    dot1 = strchr(tok, '.');
    dot2 = strchr(dot1 + 1, '.');

    /* Swap in an admin payload, keep the user token's signature. */
    p = b64(admin_pl, strlen(admin_pl));
    n = strlen(tok) + strlen(p) + 1;
    forged = malloc(n);
    snprintf(forged, n, "%.*s.%s%s", (int)(dot1 - tok), tok, p, dot2);
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "payload replaced (user -> admin): bad signature");
    free(forged);
    free(p);

    /* One character of the payload changed to another valid one. */
    forged = strdup(tok);
    forged[dot1 - tok + 5] = forged[dot1 - tok + 5] == 'A' ? 'B' : 'A';
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "payload byte flipped: bad signature");
    free(forged);

    /* One character of the signature changed (first, so trailing bits stay canonical). */
    forged = strdup(tok);
    forged[dot2 - tok + 1] = forged[dot2 - tok + 1] == 'A' ? 'B' : 'A';
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "signature character changed: bad signature");
    free(forged);

    /* Signature cut to its first 31 bytes, canonically encoded. */
    {
        unsigned char sig[64];
        char *enc;

        base64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof sig, &n);
        enc = b64(sig, 31);
        n = strlen(tok) + 1;
        forged = malloc(n);
        snprintf(forged, n, "%.*s.%s", (int)(dot2 - tok), tok, enc);
        is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "signature of 31 bytes: bad signature");
        free(forged);
        free(enc);
    }

    /*
     * Last character dropped: 31 bytes if the 42nd character's low 4 bits
     * happen to be zero (bad signature), else non-canonical (malformed).
     */
    forged = strdup(tok);
    forged[strlen(forged) - 1] = '\0';
    st = verify(forged, &out);
    ok(st == JWT_MALFORMED || st == JWT_BAD_SIGNATURE, "signature missing its last character: refused");
    free(forged);

    /* Signature with extra bytes appended. */
    n = strlen(tok) + 5;
    forged = malloc(n);
    snprintf(forged, n, "%sAAAA", tok);
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "signature extended: bad signature");
    free(forged);

    /* Header changed but still HS256 (typ dropped). */
    p = b64("{\"alg\":\"HS256\"}", 15);
    n = strlen(tok) + strlen(p) + 1;
    forged = malloc(n);
    snprintf(forged, n, "%s%s", p, dot1);
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "header replaced: bad signature");
    free(forged);
    free(p);

    is_int(jwt_verify(tok, KEY2, sizeof KEY2, NOW, &out), JWT_BAD_SIGNATURE,
           "wrong key (last bit differs): bad signature");
    is_int(out.exp, 0, "wrong key: out left zeroed");
    free(tok);
}

static void test_order_of_checks(void)
{
    struct jwt_claims c;
    char *tok;

    /* An expired token under the wrong key reports the signature, not the expiry. */
    tok = make_token(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":1}", KEY2);
    is_int(verify(tok, &c), JWT_BAD_SIGNATURE, "expired + wrong key: bad signature first");
    free(tok);

    /* A garbage payload under the wrong key is never parsed. */
    tok = make_token(HDR, "this is not json", KEY2);
    is_int(verify(tok, &c), JWT_BAD_SIGNATURE, "garbage payload + wrong key: bad signature first");
    free(tok);

    /* Bad claims under the wrong key: signature first. */
    tok = make_token(HDR, "{\"sub\":\"a\",\"scope\":\"root\",\"exp\":1700003600}", KEY2);
    is_int(verify(tok, &c), JWT_BAD_SIGNATURE, "bad claims + wrong key: bad signature first");
    free(tok);

    /* Ill-typed claims are reported before expiry. */
    is_int(check(HDR, "{\"sub\":\"a\",\"scope\":\"root\",\"exp\":1}"), JWT_BAD_CLAIMS,
           "bad scope + expired: bad claims");
}

static void test_alg(void)
{
    char *h, *p, *tok;
    size_t n;

    /* alg none with the empty signature an attacker would send. */
    h = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26);
    p = b64(PL_OK, strlen(PL_OK));
    n = strlen(h) + strlen(p) + 3;
    tok = malloc(n);
    snprintf(tok, n, "%s.%s.", h, p);
    is_int(check_raw(tok), JWT_BAD_ALG, "alg none, empty signature: bad alg");
    free(tok);
    free(h);
    free(p);

    is_int(check("{\"alg\":\"none\",\"typ\":\"JWT\"}", PL_OK), JWT_BAD_ALG,
           "alg none, with an HMAC signature: bad alg");
    is_int(check("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", PL_OK), JWT_BAD_ALG, "alg HS512: bad alg");
    is_int(check("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", PL_OK), JWT_BAD_ALG, "alg hs256: bad alg");
    is_int(check("{\"alg\":\"RS256\"}", PL_OK), JWT_BAD_ALG, "alg RS256: bad alg");
    is_int(check("{\"alg\":\"HS256 \"}", PL_OK), JWT_BAD_ALG, "alg with trailing space: bad alg");
    is_int(check("{\"alg\":\"HS256\\u0000\"}", PL_OK), JWT_BAD_ALG, "alg with \\u0000: bad alg");
    is_int(check("{\"typ\":\"JWT\"}", PL_OK), JWT_BAD_ALG, "alg missing: bad alg");
    is_int(check("{}", PL_OK), JWT_BAD_ALG, "empty header object: bad alg");
    is_int(check("{\"alg\":256}", PL_OK), JWT_BAD_ALG, "alg a number: bad alg");
    is_int(check("{\"alg\":null}", PL_OK), JWT_BAD_ALG, "alg null: bad alg");
    is_int(check("{\"alg\":[\"HS256\"]}", PL_OK), JWT_BAD_ALG, "alg an array: bad alg");
    is_int(check("{\"alg\":\"HS256\",\"alg\":\"none\"}", PL_OK), JWT_BAD_ALG,
           "duplicate alg, last none: bad alg");

    is_int(check("{\"alg\":\"HS256\"}", PL_OK), JWT_OK, "typ absent: ok");
    is_int(check("{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"k1\"}", PL_OK), JWT_OK,
           "member order and extra kid: ok");
    is_int(check("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", PL_OK), JWT_MALFORMED, "typ JWS: malformed");
    is_int(check("{\"alg\":\"HS256\",\"typ\":1}", PL_OK), JWT_MALFORMED, "typ a number: malformed");
    is_int(check("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", PL_OK), JWT_MALFORMED,
           "crit present: malformed");
}

static void test_shape(void)
{
    struct jwt_claims in = { .sub = SUB, .scope = JWT_SCOPE_USER, .exp = LATER }, c;
    char *tok, *bad, *dot1, *dot2;
    size_t n;

    tok = jwt_sign(&in, KEY, sizeof KEY);
    n = 2 * strlen(tok) + 16;
    bad = malloc(n);
    dot1 = strchr(tok, '.');
    dot2 = strchr(dot1 + 1, '.');

    is_int(check_raw(""), JWT_MALFORMED, "empty string: malformed");
    is_int(check_raw("abc"), JWT_MALFORMED, "no dots: malformed");
    is_int(check_raw("."), JWT_MALFORMED, "one dot only: malformed");
    is_int(check_raw(".."), JWT_MALFORMED, "two dots only: malformed");
    is_int(check_raw("..."), JWT_MALFORMED, "three dots only: malformed");

    snprintf(bad, n, "%.*s", (int)(dot2 - tok), tok);
    is_int(check_raw(bad), JWT_MALFORMED, "header.payload without signature part: malformed");
    snprintf(bad, n, "%s.", tok);
    is_int(check_raw(bad), JWT_MALFORMED, "trailing dot: malformed");
    snprintf(bad, n, "%s.%s", tok, dot2 + 1);
    is_int(check_raw(bad), JWT_MALFORMED, "four parts: malformed");
    snprintf(bad, n, "%.*s%s", (int)(dot1 - tok), tok, dot1 + 1);
    is_int(check_raw(bad), JWT_MALFORMED, "first dot removed: malformed");

    snprintf(bad, n, "%s", dot1);
    is_int(check_raw(bad), JWT_MALFORMED, "empty header part: malformed");
    snprintf(bad, n, "%.*s.%s", (int)(dot1 - tok), tok, dot2);
    is_int(check_raw(bad), JWT_MALFORMED, "empty payload part: malformed");
    snprintf(bad, n, "%.*s.", (int)(dot2 - tok), tok);
    is_int(check_raw(bad), JWT_BAD_SIGNATURE, "empty signature part (alg HS256): bad signature");

    snprintf(bad, n, " %s", tok);
    is_int(check_raw(bad), JWT_MALFORMED, "leading space: malformed");
    snprintf(bad, n, "%s\n", tok);
    is_int(check_raw(bad), JWT_MALFORMED, "trailing newline: malformed");
    snprintf(bad, n, "Bearer %s", tok);
    is_int(check_raw(bad), JWT_MALFORMED, "\"Bearer \" prefix left on: malformed");

    is_int(jwt_verify(NULL, KEY, sizeof KEY, NOW, &c), JWT_MALFORMED, "NULL token: malformed");
    is_int(jwt_verify(tok, KEY, sizeof KEY, NOW, NULL), JWT_MALFORMED, "NULL out: malformed");
    is_int(jwt_verify(tok, NULL, 0, NOW, &c), JWT_BAD_SIGNATURE, "NULL key: bad signature");
    is_int(jwt_verify(tok, KEY, 31, NOW, &c), JWT_BAD_SIGNATURE, "31-byte key: bad signature");
    is_int(jwt_verify(tok, KEY, 0, NOW, &c), JWT_BAD_SIGNATURE, "empty key: bad signature");

    free(bad);
    free(tok);
}

static void test_base64_in_token(void)
{
    char *h = b64(HDR, strlen(HDR));
    char pl[] = "{\"sub\":\"" SUB "\",\"scope\":\"user\",\"exp\":1700003600 }";
    char *p, *tok, *padded;
    size_t n;

    /* A payload whose encoding needs padding, then signed with the padding on. */
    p = b64(pl, strlen(pl));
    ok(strlen(p) % 4 != 0, "test payload encodes with a partial quantum");
    n = strlen(p) + 3;
    padded = malloc(n);
    snprintf(padded, n, "%s%s", p, strlen(p) % 4 == 2 ? "==" : "=");
    tok = sign_parts(h, padded, KEY, sizeof KEY);
    is_int(check_raw(tok), JWT_MALFORMED, "payload with '=' padding, validly signed: malformed");
    free(tok);
    free(padded);

    /* Standard alphabet in the header: '+' or '/' instead of '-' or '_'. */
    padded = strdup(p);
    padded[3] = '+';
    tok = sign_parts(h, padded, KEY, sizeof KEY);
    is_int(check_raw(tok), JWT_MALFORMED, "'+' in payload, validly signed: malformed");
    free(tok);
    padded[3] = '/';
    tok = sign_parts(h, padded, KEY, sizeof KEY);
    is_int(check_raw(tok), JWT_MALFORMED, "'/' in payload, validly signed: malformed");
    free(tok);
    free(padded);

    /* Payload of a length no byte string encodes to (len % 4 == 1). */
    n = strlen(p);
    padded = malloc(n + 6);
    snprintf(padded, n + 6, "%s%s", p, n % 4 == 0 ? "A" : n % 4 == 2 ? "AAA" : "AA");
    ok(strlen(padded) % 4 == 1, "test payload has len % 4 == 1");
    tok = sign_parts(h, padded, KEY, sizeof KEY);
    is_int(check_raw(tok), JWT_MALFORMED, "payload len % 4 == 1, validly signed: malformed");
    free(tok);
    free(padded);

    /* Non-canonical trailing bits in the signature (the last character + 1). */
    tok = sign_parts(h, p, KEY, sizeof KEY);
    n = strlen(tok);
    /* 43 characters carry 258 bits: the last one's low 2 bits are unused. */
    tok[n - 1] = tok[n - 1] == 'Z' ? 'a' : tok[n - 1] == 'z' ? '0' : (char)(tok[n - 1] + 1);
    is_int(check_raw(tok), JWT_MALFORMED, "signature with non-zero trailing bits: malformed");
    free(tok);

    tok = sign_parts("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9!", p, KEY, sizeof KEY);
    is_int(check_raw(tok), JWT_MALFORMED, "'!' in header: malformed");
    free(tok);

    free(p);
    free(h);
}

static void test_json(void)
{
    is_int(check("not json", PL_OK), JWT_MALFORMED, "header not JSON: malformed");
    is_int(check("[\"HS256\"]", PL_OK), JWT_MALFORMED, "header a JSON array: malformed");
    is_int(check("\"HS256\"", PL_OK), JWT_MALFORMED, "header a JSON string: malformed");
    is_int(check("{\"alg\":\"HS256\"", PL_OK), JWT_MALFORMED, "header truncated: malformed");
    is_int(check("{\"alg\":\"HS256\"}x", PL_OK), JWT_MALFORMED, "header with trailing bytes: malformed");
    is_int(check("{\"alg\":\"HS256\"}{}", PL_OK), JWT_MALFORMED, "header of two objects: malformed");
    is_int(check("{\"alg\":\"HS256\",}", PL_OK), JWT_MALFORMED, "header with trailing comma: malformed");
    is_int(check("{\"alg\":\"HS256\",\"x\":\"\xff\"}", PL_OK), JWT_MALFORMED,
           "header with invalid UTF-8: malformed");
    is_int(check("{\"alg\":\"HS256\",\"x\":[[[[[[[[[[[[1]]]]]]]]]]]]}", PL_OK), JWT_MALFORMED,
           "header nested past depth 8: malformed");
    is_int(check(" {\"alg\":\"HS256\"}\r\n", PL_OK), JWT_OK, "whitespace around header object: ok");

    is_int(check(HDR, "[]"), JWT_MALFORMED, "payload an array: malformed");
    is_int(check(HDR, "\"" SUB "\""), JWT_MALFORMED, "payload a string: malformed");
    is_int(check(HDR, "1700003600"), JWT_MALFORMED, "payload a number: malformed");
    is_int(check(HDR, "null"), JWT_MALFORMED, "payload null: malformed");
    is_int(check(HDR, "true"), JWT_MALFORMED, "payload true: malformed");
    is_int(check(HDR, "  "), JWT_MALFORMED, "payload whitespace only: malformed");
    is_int(check(HDR, "sub=me"), JWT_MALFORMED, "payload not JSON: malformed");
    is_int(check(HDR, PL_OK "x"), JWT_MALFORMED, "payload with trailing bytes: malformed");
    is_int(check(HDR, "{\"sub\":\"\xc3\x28\",\"scope\":\"user\",\"exp\":1700003600}"), JWT_MALFORMED,
           "payload with invalid UTF-8: malformed");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600,"
                       "\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}"),
           JWT_MALFORMED, "payload nested past depth 8: malformed");

    {
        /* A NUL byte inside the decoded payload, after the object. */
        static const char pl[] = PL_OK "\0";
        char *h = b64(HDR, strlen(HDR)), *p = b64(pl, sizeof pl - 1);
        char *tok = sign_parts(h, p, KEY, sizeof KEY);
        is_int(check_raw(tok), JWT_MALFORMED, "payload with a NUL byte: malformed");
        free(tok);
        free(p);
        free(h);
    }
}

static void test_claims(void)
{
    struct jwt_claims c;
    char *tok;

    is_int(checkf(HDR, "{\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS, "sub missing");
    is_int(checkf(HDR, "{\"sub\":\"\",\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "sub empty");
    is_int(checkf(HDR, "{\"sub\":\"%064d\",\"scope\":\"user\",\"exp\":1700003600}", 7), JWT_BAD_CLAIMS,
           "sub 64 characters: too long");
    is_int(checkf(HDR, "{\"sub\":\"%063d\",\"scope\":\"user\",\"exp\":1700003600}", 7), JWT_OK,
           "sub 63 characters: ok");
    is_int(checkf(HDR, "{\"sub\":\"%01000d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_BAD_CLAIMS, "sub 1000 characters: too long");
    is_int(checkf(HDR, "{\"sub\":12345,\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "sub a number");
    is_int(checkf(HDR, "{\"sub\":null,\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "sub null");
    is_int(checkf(HDR, "{\"sub\":[\"a\"],\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "sub an array");
    is_int(checkf(HDR, "{\"sub\":{\"id\":\"a\"},\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub an object");
    is_int(checkf(HDR, "{\"sub\":\"ab\\u0000cd\",\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub with \\u0000");

    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"root\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope root");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"USER\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope USER (case matters)");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user admin\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope as a space-separated list");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope empty");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"exp\":1700003600}"), JWT_BAD_CLAIMS, "scope missing");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":2,\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope a number");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":[\"user\"],\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope an array");

    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\"}"), JWT_BAD_CLAIMS, "exp missing");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":\"1700003600\"}"), JWT_BAD_CLAIMS,
           "exp a string");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600.5}"), JWT_BAD_CLAIMS,
           "exp a float");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600.0}"), JWT_BAD_CLAIMS,
           "exp an integral float");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":1.7000036e9}"), JWT_BAD_CLAIMS,
           "exp in exponent notation");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":true}"), JWT_BAD_CLAIMS, "exp true");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":null}"), JWT_BAD_CLAIMS, "exp null");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":9223372036854775808}"),
           JWT_BAD_CLAIMS, "exp INT64_MAX + 1");
    is_int(checkf(HDR, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":99999999999999999999999}"),
           JWT_BAD_CLAIMS, "exp beyond 64 bits");

    /* Extra and duplicate claims. */
    tok = make_token(HDR, "{\"iss\":\"zerosum\",\"sub\":\"" SUB "\",\"iat\":1,\"nbf\":1800000000,"
                          "\"aud\":[\"x\",\"y\"],\"scope\":\"admin\",\"x\":{\"y\":[1,2.5,null]},"
                          "\"exp\":1700003600}", KEY);
    is_int(verify(tok, &c), JWT_OK, "extra claims (iss, iat, nbf, aud, nested) ignored: ok");
    is_str(c.sub, SUB, "extra claims: sub read");
    is_int(c.scope, JWT_SCOPE_ADMIN, "extra claims: scope read");
    free(tok);

    tok = make_token(HDR, "{\"sub\":\"first\",\"scope\":\"user\",\"exp\":1700003600,"
                          "\"sub\":\"second\"}", KEY);
    is_int(verify(tok, &c), JWT_OK, "duplicate sub: ok");
    is_str(c.sub, "second", "duplicate sub: the last one counts");
    free(tok);

    tok = make_token(HDR, "{\"sub\":\"caf\xc3\xa9\",\"scope\":\"user\",\"exp\":1700003600}", KEY);
    is_int(verify(tok, &c), JWT_OK, "UTF-8 sub: ok");
    is_str(c.sub, "caf\xc3\xa9", "UTF-8 sub read back as bytes");
    free(tok);
}

static void test_length_cap(void)
{
    struct jwt_claims c;
    char pad[3200];
    char *tok = NULL;
    size_t len, want;
    int found;

    /* Grow an ignored claim until the token is exactly `want` characters long. */
    for (want = JWT_MAX_TOKEN_LEN; want <= JWT_MAX_TOKEN_LEN + 1; want++) {
        found = 0;
        for (len = 2800; len < sizeof pad - 1 && !found; len++) {
            char pl[4000];
            memset(pad, 'p', len);
            pad[len] = '\0';
            snprintf(pl, sizeof pl, "{\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600,\"pad\":\"%s\"}",
                     pad);
            tok = make_token(HDR, pl, KEY);
            if (strlen(tok) == want)
                found = 1;
            else
                free(tok);
        }
        ok(found, want == JWT_MAX_TOKEN_LEN ? "built a 4096-character token"
                                             : "built a 4097-character token");
        if (!found)
            continue;
        is_int(verify(tok, &c), want == JWT_MAX_TOKEN_LEN ? JWT_OK : JWT_MALFORMED,
               want == JWT_MAX_TOKEN_LEN ? "4096 characters: ok" : "4097 characters: malformed");
        free(tok);
    }
}

/*
 * Tokens computed outside this code. KEY_CLI_HEX and the two tokens were made
 * in the shell with
 *   b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
 *   H=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64u)
 *   P=$(printf '%s' '<payload>' | b64u)
 *   S=$(printf '%s.%s' "$H" "$P" | openssl dgst -sha256 -mac HMAC \
 *         -macopt hexkey:$KEY -binary | b64u)
 * with KEY from `openssl rand -hex 32`.
 */
#define KEY_CLI_HEX "72556153a4e8eac883f73d83ddbe879a7ba101cfc705f41e9763b0ff11330f5d"
/* payload {"sub":"7f3c2a9e-5b1d-4e8f-a6c0-2d9b4e1f8a37","scope":"admin","exp":4102444800} */
#define TOKEN_CLI_ADMIN                                                                   \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                               \
    "eyJzdWIiOiI3ZjNjMmE5ZS01YjFkLTRlOGYtYTZjMC0yZDliNGUxZjhhMzciLCJzY29wZSI6ImFkbWluIiwi" \
    "ZXhwIjo0MTAyNDQ0ODAwfQ."                                                             \
    "sn_N7FVqvSADvOaX-A4h7_qt-hnTHHOM6ci0rjQlMDg"
/* payload {"sub":"a/b\"c\\d","scope":"user","exp":1700000000} */
#define TOKEN_CLI_ESCAPED                                                                 \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                               \
    "eyJzdWIiOiJhL2JcImNcXGQiLCJzY29wZSI6InVzZXIiLCJleHAiOjE3MDAwMDAwMDB9."               \
    "BTj9YPfhxwBMLNP4EV4sREnDPsWQJFKQv1g5zcQ6leg"

/*
 * RFC 7515 Appendix A.1: an HS256 JWS whose header and payload contain CRLF
 * and spaces, with the RFC's 64-byte key (JWK "k", decoded to hex) and its
 * published signature. The payload has no sub or scope, so a correct
 * verifier passes the signature and then reports bad claims.
 */
#define KEY_RFC_HEX                                                              \
    "0323354b2b0fa5bc837e0665777ba68f5ab328e6f054c928a90f84b2d2502ebf"           \
    "d3fb5a92d20647ef968ab4c377623d223d2e2172052e4f08c0cd9af567d080a3"
#define TOKEN_RFC7515_A1                                                                  \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."                                           \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290" \
    "Ijp0cnVlfQ."                                                                         \
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

static void test_independent_vectors(void)
{
    unsigned char key[64];
    size_t keylen;
    struct jwt_claims in = { .sub = "7f3c2a9e-5b1d-4e8f-a6c0-2d9b4e1f8a37",
                             .scope = JWT_SCOPE_ADMIN, .exp = 4102444800LL }, c;
    char *tok;

    keylen = unhex(KEY_CLI_HEX, key, sizeof key);
    is_int(keylen, 32, "openssl CLI key parsed");

    memset(&c, 0xa5, sizeof c);
    is_int(jwt_verify(TOKEN_CLI_ADMIN, key, keylen, NOW, &c), JWT_OK, "openssl-signed token verifies");
    is_str(c.sub, "7f3c2a9e-5b1d-4e8f-a6c0-2d9b4e1f8a37", "openssl-signed token: sub");
    is_int(c.scope, JWT_SCOPE_ADMIN, "openssl-signed token: scope");
    is_int(c.exp, 4102444800LL, "openssl-signed token: exp");
    is_int(jwt_verify(TOKEN_CLI_ADMIN, key, keylen, (time_t)4102444800LL, &c), JWT_EXPIRED,
           "openssl-signed token at its exp: expired");

    tok = jwt_sign(&in, key, keylen);
    is_str(tok, TOKEN_CLI_ADMIN, "jwt_sign reproduces the openssl-signed token byte for byte");
    free(tok);

    is_int(jwt_verify(TOKEN_CLI_ESCAPED, key, keylen, NOW - 1, &c), JWT_OK,
           "openssl-signed token with escapes verifies");
    is_str(c.sub, "a/b\"c\\d", "JSON escapes decoded in sub");
    is_int(c.scope, JWT_SCOPE_USER, "escaped token: scope");
    in.exp = 1700000000;
    in.scope = JWT_SCOPE_USER;
    strcpy(in.sub, "a/b\"c\\d");
    tok = jwt_sign(&in, key, keylen);
    is_str(tok, TOKEN_CLI_ESCAPED, "jwt_sign escapes '\"' and '\\' as the shell did, '/' not at all");
    free(tok);

    keylen = unhex(KEY_RFC_HEX, key, sizeof key);
    is_int(keylen, 64, "RFC 7515 A.1 key parsed");
    is_int(jwt_verify(TOKEN_RFC7515_A1, key, keylen, (time_t)1300819379, &c), JWT_BAD_CLAIMS,
           "RFC 7515 A.1: signature accepted, claims lack sub/scope");
    key[0] ^= 1;
    is_int(jwt_verify(TOKEN_RFC7515_A1, key, keylen, (time_t)1300819379, &c), JWT_BAD_SIGNATURE,
           "RFC 7515 A.1 with a one-bit different key: bad signature");
}

static void test_sign_refuses(void)
{
    struct jwt_claims in = { .sub = SUB, .scope = JWT_SCOPE_USER, .exp = LATER };
    char *tok;

    ok(jwt_sign(NULL, KEY, sizeof KEY) == NULL, "sign: NULL claims");
    ok(jwt_sign(&in, NULL, 32) == NULL, "sign: NULL key");
    ok(jwt_sign(&in, KEY, 31) == NULL, "sign: 31-byte key refused");
    in.scope = 0;
    ok(jwt_sign(&in, KEY, sizeof KEY) == NULL, "sign: scope 0 refused");
    in.scope = 3;
    ok(jwt_sign(&in, KEY, sizeof KEY) == NULL, "sign: scope 3 refused");
    in.scope = JWT_SCOPE_USER;
    in.sub[0] = '\0';
    ok(jwt_sign(&in, KEY, sizeof KEY) == NULL, "sign: empty sub refused");
    memset(in.sub, 'a', sizeof in.sub);
    ok(jwt_sign(&in, KEY, sizeof KEY) == NULL, "sign: sub without NUL in 64 bytes refused");
    strcpy(in.sub, "line\nbreak");
    ok(jwt_sign(&in, KEY, sizeof KEY) == NULL, "sign: control character in sub refused");
    strcpy(in.sub, "caf\xc3\xa9");
    ok(jwt_sign(&in, KEY, sizeof KEY) == NULL, "sign: non-ASCII sub refused");
    strcpy(in.sub, SUB);
    in.exp = INT64_MIN;
    tok = jwt_sign(&in, KEY, sizeof KEY);
    ok(tok != NULL && strlen(tok) <= JWT_MAX_TOKEN_LEN, "sign: exp INT64_MIN still signs");
    is_int(check_raw(tok), JWT_EXPIRED, "exp INT64_MIN: expired");
    free(tok);
}

static void test_status_names(void)
{
    is_str(jwt_status_name(JWT_OK), "ok", "name of JWT_OK");
    is_str(jwt_status_name(JWT_MALFORMED), "malformed", "name of JWT_MALFORMED");
    is_str(jwt_status_name(JWT_BAD_ALG), "bad_alg", "name of JWT_BAD_ALG");
    is_str(jwt_status_name(JWT_BAD_SIGNATURE), "bad_signature", "name of JWT_BAD_SIGNATURE");
    is_str(jwt_status_name(JWT_EXPIRED), "expired", "name of JWT_EXPIRED");
    is_str(jwt_status_name(JWT_BAD_CLAIMS), "bad_claims", "name of JWT_BAD_CLAIMS");
    is_str(jwt_status_name((enum jwt_status)99), "unknown", "name of an unknown status");
}

/* Write content to path with the given mode (replacing any file there). */
static int write_file(const char *path, const char *content, size_t n, mode_t mode)
{
    int fd;
    ssize_t w;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -1;
    w = write(fd, content, n);
    if (fchmod(fd, mode) != 0 || close(fd) != 0 || w != (ssize_t)n)
        return -1;
    return 0;
}

/* 1 if loading path fails with a non-empty message that does not contain `secret`. */
static int load_fails(const char *path, const char *secret)
{
    unsigned char key[64];
    size_t keylen = 777;
    char err[256] = "";

    if (jwt_key_load(path, key, sizeof key, &keylen, err, sizeof err) != -1 || keylen != 777)
        return 0;
    if (err[0] == '\0')
        return 0;
    if (secret != NULL && strstr(err, secret) != NULL)
        return 0;
    printf("#   (%s)\n", err);
    return 1;
}

static void test_key_file(void)
{
    char dir[] = "/tmp/test_jwt.XXXXXX";
    char path[256], other[256], err[256], content[128];
    unsigned char key[64], key2[64], want[32];
    size_t keylen = 0, n;
    struct stat st;
    struct jwt_claims in = { .sub = SUB, .scope = JWT_SCOPE_USER, .exp = LATER }, c;
    const char *hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
    char *tok;
    mode_t old_umask;
    int fd;

    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/jwt.key", dir);
    snprintf(other, sizeof other, "%s/other.key", dir);

    /* A permissive umask must not widen the mode. */
    old_umask = umask(0);
    is_int(jwt_key_generate(path, err, sizeof err), 0, "generate a key file");
    umask(old_umask);
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "generated file has mode 0600");
    ok(st.st_size == 65, "generated file is 64 hex characters and a newline");

    fd = open(path, O_RDONLY);
    n = 0;
    if (fd >= 0) {
        ssize_t r = read(fd, content, sizeof content - 1);
        n = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    content[n] = '\0';
    ok(n == 65 && content[64] == '\n' && strspn(content, "0123456789abcdef") == 64,
       "generated content is lower-case hex");
    content[64] = '\0';

    err[0] = '\0';
    is_int(jwt_key_generate(path, err, sizeof err), -1, "generate refuses an existing file");
    ok(strstr(err, "File exists") != NULL && strstr(err, path) != NULL,
       "generate error names the path and EEXIST");
    ok(stat(path, &st) == 0 && st.st_size == 65, "existing key left intact");

    is_int(jwt_key_load(path, key, sizeof key, &keylen, err, sizeof err), 0, "load the generated key");
    is_int(keylen, 32, "loaded key is 32 bytes");
    ok(unhex(content, want, sizeof want) == 32 && memcmp(key, want, 32) == 0,
       "loaded key equals the file's hex");

    tok = jwt_sign(&in, key, keylen);
    is_int(jwt_verify(tok, key, keylen, NOW, &c), JWT_OK, "generated key signs and verifies");
    free(tok);

    /* Generating twice gives different keys. */
    is_int(jwt_key_generate(other, err, sizeof err), 0, "generate a second key file");
    is_int(jwt_key_load(other, key2, sizeof key2, &keylen, err, sizeof err), 0, "load it");
    ok(memcmp(key, key2, 32) != 0, "two generated keys differ");

    /* Mode check. */
    chmod(path, 0640);
    ok(load_fails(path, content), "mode 0640 refused (group read)");
    chmod(path, 0604);
    ok(load_fails(path, content), "mode 0604 refused (other read)");
    chmod(path, 0610);
    ok(load_fails(path, content), "mode 0610 refused (group execute)");
    chmod(path, 0400);
    is_int(jwt_key_load(path, key2, sizeof key2, &keylen, err, sizeof err), 0, "mode 0400 accepted");
    chmod(path, 0600);

    /* Content checks. */
    ok(write_file(other, hex, 64, 0600) == 0 &&
       jwt_key_load(other, key2, sizeof key2, &keylen, err, sizeof err) == 0 && keylen == 32 &&
       key2[10] == 0xaa && key2[31] == 0xff,
       "64 hex characters without newline, mixed case: ok");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeef", 63, 0600);
    ok(load_fails(other, NULL), "63 hex characters refused");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff0", 65, 0600);
    ok(load_fails(other, NULL), "65 hex characters refused");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n\n", 66,
               0600);
    ok(load_fails(other, NULL), "two newlines refused");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\r\n", 66,
               0600);
    ok(load_fails(other, NULL), "CRLF refused");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeegg\n", 65,
               0600);
    ok(load_fails(other, NULL), "non-hex character refused");
    write_file(other, " 0112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n", 65,
               0600);
    ok(load_fails(other, NULL), "leading space refused");
    write_file(other, "", 0, 0600);
    ok(load_fails(other, NULL), "empty file refused");

    /* Not a regular file, missing file, small buffer. */
    ok(load_fails(dir, NULL), "directory refused");
    unlink(other);
    ok(load_fails(other, NULL), "missing file refused");
    err[0] = '\0';
    is_int(jwt_key_load(path, key2, 16, &keylen, err, sizeof err), -1, "16-byte buffer refused");
    ok(err[0] != '\0', "small buffer: message set");
    is_int(jwt_key_load(path, key2, sizeof key2, &keylen, NULL, 0), 0, "err may be NULL with errlen 0");

    /* Symlinks: load follows one to a good file; generate never writes through one. */
    ok(symlink(path, other) == 0, "make a symlink to the key");
    is_int(jwt_key_load(other, key2, sizeof key2, &keylen, err, sizeof err), 0, "load through a symlink");
    unlink(other);
    snprintf(content, sizeof content, "%s/target", dir);
    ok(symlink(content, other) == 0, "make a dangling symlink");
    is_int(jwt_key_generate(other, err, sizeof err), -1, "generate refuses a dangling symlink");
    ok(access(content, F_OK) != 0, "nothing created at the symlink's target");
    unlink(other);

    snprintf(other, sizeof other, "%s/no/such/dir/key", dir);
    is_int(jwt_key_generate(other, err, sizeof err), -1, "generate in a missing directory fails");

    unlink(path);
    ok(rmdir(dir) == 0, "temporary directory cleaned up");
}

int main(void)
{
    test_round_trip();
    test_expiry();
    test_tampering();
    test_order_of_checks();
    test_alg();
    test_shape();
    test_base64_in_token();
    test_json();
    test_claims();
    test_length_cap();
    test_independent_vectors();
    test_sign_refuses();
    test_status_names();
    test_key_file();
    is_int(out_not_zeroed, 0, "every failed verify left *out zeroed");
    return done_testing();
}
