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
#define IAT 1699999000LL
#define ISS "zs-test-issuer"
#define AUD "zs-test-api"
#define LEEWAY 30
#define MAX_LIFE 86400
#define SUB "0b9a3c1e-6f2d-4a8b-9c7e-5d4f3a2b1c0d"
/* The header every hand-built token carries: kid "k1" names KEY in RING. */
#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
/* The claims a token needs besides sub, scope and exp, valid at NOW under POL. */
#define STD "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"iat\":1699999000,"
#define PL_OK "{" STD "\"sub\":\"" SUB "\",\"scope\":\"user\",\"exp\":1700003600}"
/* Claims to sign: valid at NOW under POL. */
#define CLAIMS(s, sc, e)                                                                           \
    {                                                                                              \
        .sub = s, .scope = sc, .exp = e, .iat = IAT, .nbf = IAT, .iss = ISS, .aud = AUD            \
    }

static const unsigned char KEY[32] = {
    0x4b, 0x0e, 0x91, 0x2f, 0x6a, 0xd3, 0x58, 0x17, 0xc4, 0x3e, 0xa0, 0x7b, 0x25, 0xe9, 0x86, 0x1d,
    0xf2, 0x4c, 0x0b, 0x93, 0x67, 0xde, 0x31, 0xa8, 0x5f, 0x12, 0xbb, 0x70, 0x8e, 0x46, 0xc9, 0x03,
};
static const unsigned char KEY2[32] = {
    0x4b, 0x0e, 0x91, 0x2f, 0x6a, 0xd3, 0x58, 0x17, 0xc4, 0x3e, 0xa0, 0x7b, 0x25, 0xe9, 0x86, 0x1d,
    0xf2, 0x4c, 0x0b, 0x93, 0x67, 0xde, 0x31, 0xa8, 0x5f, 0x12, 0xbb, 0x70, 0x8e, 0x46, 0xc9, 0x04,
};

static const struct jwt_policy POL = { ISS, AUD, LEEWAY, MAX_LIFE };

/* RING: k1 = KEY (current). RING2: k1 = KEY2. Filled by init_rings(). */
static struct jwt_keyring RING, RING2;
static struct jwt_key K1;

/* A ring of one key of len bytes with the given kid. */
static struct jwt_keyring ring_of(const unsigned char *key, size_t len, const char *kid)
{
    struct jwt_keyring r;

    memset(&r, 0, sizeof r);
    r.n = 1;
    snprintf(r.keys[0].kid, sizeof r.keys[0].kid, "%s", kid);
    memcpy(r.keys[0].key, key, len);
    r.keys[0].len = len;
    return r;
}

static void init_rings(void)
{
    RING = ring_of(KEY, sizeof KEY, "k1");
    RING2 = ring_of(KEY2, sizeof KEY2, "k1");
    K1 = RING.keys[0];
}

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
    st = jwt_verify(tok, &RING, &POL, NOW, out);
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
__attribute__((format(printf, 2, 3))) static enum jwt_status checkf(const char *hdr,
                                                                    const char *fmt, ...)
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
    struct jwt_claims in = CLAIMS(SUB, JWT_SCOPE_USER, LATER), out;
    unsigned char longkey[64];
    char *tok;

    tok = jwt_sign(&in, &K1);
    ok(tok != NULL, "sign a user token");
    is_int(verify(tok, &out), JWT_OK, "round trip verifies");
    is_str(out.sub, SUB, "round trip: sub");
    is_int(out.scope, JWT_SCOPE_USER, "round trip: scope user");
    is_int(out.exp, LATER, "round trip: exp");
    ok(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.", 52) == 0,
       "header is base64url of {\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
    is_str(out.kid, "k1", "round trip: the verifying kid");
    is_int(out.iat, IAT, "round trip: iat");
    is_int(out.nbf, IAT, "round trip: nbf");
    is_str(out.iss, ISS, "round trip: iss");
    is_str(out.aud, AUD, "round trip: aud");
    free(tok);

    in.scope = JWT_SCOPE_ADMIN;
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_OK, "admin round trip verifies");
    is_int(out.scope, JWT_SCOPE_ADMIN, "round trip: scope admin");
    free(tok);

    memset(in.sub, 'x', 63);
    in.sub[63] = '\0';
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_OK, "63-byte sub round trips");
    is_str(out.sub, in.sub, "63-byte sub read back whole");
    free(tok);

    strcpy(in.sub, "q\"uo\\te/slash sp");
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_OK, "sub with JSON-escaped characters round trips");
    is_str(out.sub, in.sub, "escaped sub read back exactly");
    free(tok);

    memset(longkey, 0x5c, sizeof longkey);
    {
        struct jwt_keyring lr = ring_of(longkey, sizeof longkey, "k1");
        struct jwt_keyring sr = ring_of(longkey, 32, "k1");
        tok = jwt_sign(&in, &lr.keys[0]);
        is_int(jwt_verify(tok, &lr, &POL, NOW, &out), JWT_OK, "64-byte key round trips");
        is_int(jwt_verify(tok, &sr, &POL, NOW, &out), JWT_BAD_SIGNATURE,
               "same key truncated to 32 bytes fails");
        free(tok);
    }
}

static void test_expiry(void)
{
    struct jwt_claims in = CLAIMS(SUB, JWT_SCOPE_USER, 0), out;
    char *tok;

    in.exp = (int64_t)NOW - 1;
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_EXPIRED, "exp < now: expired");
    free(tok);

    in.exp = (int64_t)NOW;
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_EXPIRED, "exp == now: expired");
    is_int(jwt_verify(tok, &RING, &POL, NOW - 1, &out), JWT_OK, "same token a second earlier: ok");
    free(tok);

    in.exp = (int64_t)NOW + 1;
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_OK, "exp == now + 1: ok");
    free(tok);

    in.exp = -5;
    tok = jwt_sign(&in, &K1);
    is_int(verify(tok, &out), JWT_EXPIRED, "negative exp: expired");
    free(tok);

    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":9223372036854775807}"),
           JWT_BAD_LIFETIME, "exp INT64_MAX: read, and over the lifetime cap");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":-9223372036854775809}"),
           JWT_EXPIRED, "exp below INT64_MIN: expired");
}

static void test_tampering(void)
{
    struct jwt_claims in = CLAIMS(SUB, JWT_SCOPE_USER, LATER), out;
    char *tok, *dot1, *dot2, *forged, *p;
    const char *admin_pl = "{" STD "\"sub\":\"" SUB "\",\"scope\":\"admin\",\"exp\":1700003600}";
    enum jwt_status st;
    size_t n;

    tok = jwt_sign(&in, &K1);
    dot1 = strchr(tok, '.');
    dot2 = strchr(dot1 + 1, '.');

    /* Swap in an admin payload, keep the user token's signature. */
    p = b64(admin_pl, strlen(admin_pl));
    n = strlen(tok) + strlen(p) + 1;
    forged = malloc(n);
    snprintf(forged, n, "%.*s.%s%s", (int)(dot1 - tok), tok, p, dot2);
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE,
           "payload replaced (user -> admin): bad signature");
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
    ok(st == JWT_MALFORMED || st == JWT_BAD_SIGNATURE,
       "signature missing its last character: refused");
    free(forged);

    /* Signature with extra bytes appended. */
    n = strlen(tok) + 5;
    forged = malloc(n);
    snprintf(forged, n, "%sAAAA", tok);
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "signature extended: bad signature");
    free(forged);

    /* Header changed but still HS256 (typ dropped). */
    p = b64("{\"alg\":\"HS256\",\"kid\":\"k1\"}", 26);
    n = strlen(tok) + strlen(p) + 1;
    forged = malloc(n);
    snprintf(forged, n, "%s%s", p, dot1);
    is_int(verify(forged, &out), JWT_BAD_SIGNATURE, "header replaced: bad signature");
    free(forged);
    free(p);

    is_int(jwt_verify(tok, &RING2, &POL, NOW, &out), JWT_BAD_SIGNATURE,
           "wrong key (last bit differs): bad signature");
    is_int(out.exp, 0, "wrong key: out left zeroed");
    free(tok);
}

static void test_order_of_checks(void)
{
    struct jwt_claims c;
    char *tok;

    /* An expired token under the wrong key reports the signature, not the expiry. */
    tok = make_token(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1}", KEY2);
    is_int(verify(tok, &c), JWT_BAD_SIGNATURE, "expired + wrong key: bad signature first");
    free(tok);

    /* A garbage payload under the wrong key is never parsed. */
    tok = make_token(HDR, "this is not json", KEY2);
    is_int(verify(tok, &c), JWT_BAD_SIGNATURE, "garbage payload + wrong key: bad signature first");
    free(tok);

    /* Bad claims under the wrong key: signature first. */
    tok = make_token(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"root\",\"exp\":1700003600}", KEY2);
    is_int(verify(tok, &c), JWT_BAD_SIGNATURE, "bad claims + wrong key: bad signature first");
    free(tok);

    /* Ill-typed claims are reported before expiry. */
    is_int(check(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"root\",\"exp\":1}"), JWT_BAD_CLAIMS,
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

    is_int(check("{\"alg\":\"HS256\",\"kid\":\"k1\"}", PL_OK), JWT_OK, "typ absent: ok");
    is_int(check("{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"k1\"}", PL_OK), JWT_OK,
           "member order and extra kid: ok");
    is_int(check("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", PL_OK), JWT_MALFORMED,
           "typ JWS: malformed");
    is_int(check("{\"alg\":\"HS256\",\"typ\":1}", PL_OK), JWT_MALFORMED, "typ a number: malformed");
    is_int(check("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", PL_OK), JWT_MALFORMED,
           "crit present: malformed");
}

static void test_shape(void)
{
    struct jwt_claims in = CLAIMS(SUB, JWT_SCOPE_USER, LATER), c;
    char *tok, *bad, *dot1, *dot2;
    size_t n;

    tok = jwt_sign(&in, &K1);
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

    is_int(jwt_verify(NULL, &RING, &POL, NOW, &c), JWT_MALFORMED, "NULL token: malformed");
    is_int(jwt_verify(tok, &RING, &POL, NOW, NULL), JWT_MALFORMED, "NULL out: malformed");
    is_int(jwt_verify(tok, NULL, &POL, NOW, &c), JWT_UNKNOWN_KID, "NULL ring: unknown kid");
    is_int(jwt_verify(tok, &RING, NULL, NOW, &c), JWT_MALFORMED, "NULL policy: malformed");
    {
        struct jwt_keyring r31 = ring_of(KEY, 31, "k1"), r0 = ring_of(KEY, 0, "k1");
        struct jwt_keyring empty = { 0 };
        is_int(jwt_verify(tok, &r31, &POL, NOW, &c), JWT_BAD_SIGNATURE,
               "31-byte key: bad signature");
        is_int(jwt_verify(tok, &r0, &POL, NOW, &c), JWT_BAD_SIGNATURE, "empty key: bad signature");
        is_int(jwt_verify(tok, &empty, &POL, NOW, &c), JWT_UNKNOWN_KID, "empty ring: unknown kid");
    }

    free(bad);
    free(tok);
}

static void test_base64_in_token(void)
{
    char *h = b64(HDR, strlen(HDR));
    char pl[] = "{" STD "\"sub\":\"" SUB "\",\"scope\":\"user\",\"exp\":1700003600 }";
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
    is_int(check("{\"alg\":\"HS256\"}x", PL_OK), JWT_MALFORMED,
           "header with trailing bytes: malformed");
    is_int(check("{\"alg\":\"HS256\"}{}", PL_OK), JWT_MALFORMED,
           "header of two objects: malformed");
    is_int(check("{\"alg\":\"HS256\",}", PL_OK), JWT_MALFORMED,
           "header with trailing comma: malformed");
    is_int(check("{\"alg\":\"HS256\",\"x\":\"\xff\"}", PL_OK), JWT_MALFORMED,
           "header with invalid UTF-8: malformed");
    is_int(check("{\"alg\":\"HS256\",\"x\":[[[[[[[[[[[[1]]]]]]]]]]]]}", PL_OK), JWT_MALFORMED,
           "header nested past depth 8: malformed");
    is_int(check(" {\"alg\":\"HS256\",\"kid\":\"k1\"}\r\n", PL_OK), JWT_OK,
           "whitespace around header object: ok");

    is_int(check(HDR, "[]"), JWT_MALFORMED, "payload an array: malformed");
    is_int(check(HDR, "\"" SUB "\""), JWT_MALFORMED, "payload a string: malformed");
    is_int(check(HDR, "1700003600"), JWT_MALFORMED, "payload a number: malformed");
    is_int(check(HDR, "null"), JWT_MALFORMED, "payload null: malformed");
    is_int(check(HDR, "true"), JWT_MALFORMED, "payload true: malformed");
    is_int(check(HDR, "  "), JWT_MALFORMED, "payload whitespace only: malformed");
    is_int(check(HDR, "sub=me"), JWT_MALFORMED, "payload not JSON: malformed");
    is_int(check(HDR, PL_OK "x"), JWT_MALFORMED, "payload with trailing bytes: malformed");
    is_int(check(HDR, "{" STD "\"sub\":\"\xc3\x28\",\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_MALFORMED, "payload with invalid UTF-8: malformed");
    is_int(checkf(HDR,
                  "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600,"
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

    is_int(checkf(HDR, "{" STD "\"scope\":\"user\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "sub missing");
    is_int(checkf(HDR, "{" STD "\"sub\":\"\",\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub empty");
    is_int(checkf(HDR, "{" STD "\"sub\":\"%064d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_BAD_CLAIMS, "sub 64 characters: too long");
    is_int(checkf(HDR, "{" STD "\"sub\":\"%063d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_OK, "sub 63 characters: ok");
    is_int(checkf(HDR, "{" STD "\"sub\":\"%01000d\",\"scope\":\"user\",\"exp\":1700003600}", 7),
           JWT_BAD_CLAIMS, "sub 1000 characters: too long");
    is_int(checkf(HDR, "{" STD "\"sub\":12345,\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub a number");
    is_int(checkf(HDR, "{" STD "\"sub\":null,\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub null");
    is_int(checkf(HDR, "{" STD "\"sub\":[\"a\"],\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub an array");
    is_int(checkf(HDR, "{" STD "\"sub\":{\"id\":\"a\"},\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub an object");
    is_int(checkf(HDR, "{" STD "\"sub\":\"ab\\u0000cd\",\"scope\":\"user\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "sub with \\u0000");

    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"root\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope root");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"USER\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope USER (case matters)");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user admin\",\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope as a space-separated list");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope empty");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope missing");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":2,\"exp\":1700003600}"), JWT_BAD_CLAIMS,
           "scope a number");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":[\"user\"],\"exp\":1700003600}"),
           JWT_BAD_CLAIMS, "scope an array");

    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\"}"), JWT_BAD_CLAIMS, "exp missing");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":\"1700003600\"}"),
           JWT_BAD_CLAIMS, "exp a string");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600.5}"),
           JWT_BAD_CLAIMS, "exp a float");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600.0}"),
           JWT_BAD_CLAIMS, "exp an integral float");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1.7000036e9}"),
           JWT_BAD_CLAIMS, "exp in exponent notation");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":true}"), JWT_BAD_CLAIMS,
           "exp true");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":null}"), JWT_BAD_CLAIMS,
           "exp null");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":9223372036854775808}"),
           JWT_BAD_CLAIMS, "exp INT64_MAX + 1");
    is_int(checkf(HDR, "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":99999999999999999999999}"),
           JWT_BAD_CLAIMS, "exp beyond 64 bits");

    /* Extra and duplicate claims. */
    tok = make_token(HDR,
                     "{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"iat\":1699999000,\"jti\":\"j\","
                     "\"aud\":[\"x\",\"" AUD "\"],\"scope\":\"admin\",\"x\":{\"y\":[1,2.5,null]},"
                     "\"exp\":1700003600}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "extra claims (jti, nested) ignored, member order free: ok");
    is_str(c.sub, SUB, "extra claims: sub read");
    is_int(c.scope, JWT_SCOPE_ADMIN, "extra claims: scope read");
    free(tok);

    tok = make_token(HDR,
                     "{" STD "\"sub\":\"first\",\"scope\":\"user\",\"exp\":1700003600,"
                     "\"sub\":\"second\"}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "duplicate sub: ok");
    is_str(c.sub, "second", "duplicate sub: the last one counts");
    free(tok);

    tok = make_token(HDR, "{" STD "\"sub\":\"caf\xc3\xa9\",\"scope\":\"user\",\"exp\":1700003600}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "UTF-8 sub: ok");
    is_str(c.sub, "caf\xc3\xa9", "UTF-8 sub read back as bytes");
    free(tok);
}

/* Status of a token with header HDR and payload {iss..., sub, scope} + tail, at NOW. */
__attribute__((format(printf, 1, 2))) static enum jwt_status claimsf(const char *fmt, ...)
{
    char tail[2048], pl[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    snprintf(pl, sizeof pl, "{\"sub\":\"" SUB "\",\"scope\":\"user\",%s}", tail);
    return check(HDR, pl);
}

#define IA "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\""

static void test_issuer_audience(void)
{
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":1700003600"), JWT_OK,
           "iss and aud as configured: ok");

    is_int(claimsf("\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iss missing: bad claims");
    is_int(claimsf("\"iss\":1,\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "iss a number: bad claims");
    is_int(claimsf("\"iss\":\"\",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "iss empty: bad claims");
    is_int(
        claimsf("\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_CLAIMS, "iss an array: bad claims");
    is_int(claimsf("\"iss\":\"someone-else\",\"aud\":\"" AUD
                   "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_ISSUER, "iss another issuer: bad issuer");
    is_int(claimsf("\"iss\":\"ZS-TEST-ISSUER\",\"aud\":\"" AUD
                   "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_ISSUER, "iss in another case: bad issuer");
    is_int(
        claimsf("\"iss\":\"" ISS " \",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_ISSUER, "iss with a trailing space: bad issuer");
    is_int(claimsf("\"iss\":\"zs-test\",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_ISSUER, "iss a prefix of ours: bad issuer");
    is_int(claimsf("\"iss\":\"someone-else\",\"aud\":\"" AUD "\",\"iat\":1699999000,\"exp\":1"),
           JWT_BAD_ISSUER, "bad issuer and expired: the issuer is reported first");

    is_int(claimsf("\"iss\":\"" ISS "\",\"iat\":1699999000,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "aud missing: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":7,\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud a number: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":\"\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud empty: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":{\"a\":\"" AUD
                   "\"},\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud an object: bad claims");
    is_int(
        claimsf("\"iss\":\"" ISS "\",\"aud\":\"other-api\",\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_AUDIENCE, "aud another audience: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":\"zs-test\",\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_AUDIENCE, "aud a prefix of ours: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[\"a\",\"" AUD "\",\"b\"],\"iat\":1699999000,"
                   "\"exp\":1700003600"),
           JWT_OK, "aud an array containing ours: ok (RFC 7519 4.1.3)");
    is_int(
        claimsf("\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\"],\"iat\":1699999000,\"exp\":1700003600"),
        JWT_OK, "aud an array of just ours: ok");
    is_int(
        claimsf("\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"iat\":1699999000,\"exp\":1700003600"),
        JWT_BAD_AUDIENCE, "aud an array without ours: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[],\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_AUDIENCE, "aud an empty array: bad audience");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[\"" AUD
                   "\",1],\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud an array with a number in it: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[[\"" AUD
                   "\"]],\"iat\":1699999000,\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud a nested array: bad claims");
    is_int(claimsf("\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\\u0000x\"],\"iat\":1699999000,"
                   "\"exp\":1700003600"),
           JWT_BAD_CLAIMS, "aud element with \\u0000: bad claims");
    {
        struct jwt_policy other = POL;
        struct jwt_claims c;
        char *tok = make_token(HDR, PL_OK, KEY);
        other.audience = "zs-other-api";
        is_int(jwt_verify(tok, &RING, &other, NOW, &c), JWT_BAD_AUDIENCE,
               "the same token under a policy with another audience: bad audience");
        other = POL;
        other.issuer = "zs-other-issuer";
        is_int(jwt_verify(tok, &RING, &other, NOW, &c), JWT_BAD_ISSUER,
               "the same token under a policy with another issuer: bad issuer");
        free(tok);
    }
}

static void test_window(void)
{
    struct jwt_policy strict = POL;
    struct jwt_claims c;
    char *tok;

    /* iat: required, an integer, not in the future beyond the leeway. */
    is_int(claimsf(IA ",\"exp\":1700003600"), JWT_BAD_CLAIMS, "iat missing: bad claims");
    is_int(claimsf(IA ",\"iat\":\"1699999000\",\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iat a string: bad claims");
    is_int(claimsf(IA ",\"iat\":1699999000.5,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iat a float: bad claims");
    is_int(claimsf(IA ",\"iat\":null,\"exp\":1700003600"), JWT_BAD_CLAIMS, "iat null: bad claims");
    is_int(claimsf(IA ",\"iat\":9223372036854775808,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "iat beyond int64: bad claims");
    is_int(claimsf(IA ",\"iat\":1700000030,\"exp\":1700003600"), JWT_OK,
           "iat = now + leeway: ok (a minter's clock 30 s ahead)");
    is_int(claimsf(IA ",\"iat\":1700000031,\"exp\":1700003600"), JWT_NOT_YET_VALID,
           "iat = now + leeway + 1: not yet valid");
    is_int(claimsf(IA ",\"iat\":1800000000,\"exp\":1800003600"), JWT_NOT_YET_VALID,
           "iat far in the future: not yet valid");
    is_int(claimsf(IA ",\"iat\":1700000031,\"nbf\":1699999000,\"exp\":1700003600"),
           JWT_NOT_YET_VALID, "iat in the future with an nbf in the past: not yet valid");
    is_int(claimsf(IA ",\"iat\":1,\"exp\":1700003600"), JWT_BAD_LIFETIME,
           "iat long ago with exp ahead: lifetime over the cap");

    /* exp: required, checked first among the clock rules, without leeway. */
    is_int(claimsf(IA ",\"iat\":1699999000"), JWT_BAD_CLAIMS,
           "exp missing (iat present): bad claims");
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":1700000000"), JWT_EXPIRED, "exp = now: expired");
    is_int(claimsf(IA ",\"iat\":1800000000,\"exp\":1699999999"), JWT_EXPIRED,
           "expired and iat in the future: expired is reported");

    /* nbf: optional, an integer, not in the future beyond the leeway. */
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1699999500,\"exp\":1700003600"), JWT_OK,
           "nbf in the past: ok");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1700000030,\"exp\":1700003600"), JWT_OK,
           "nbf = now + leeway: ok");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1700000031,\"exp\":1700003600"),
           JWT_NOT_YET_VALID, "nbf = now + leeway + 1: not yet valid");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":\"1\",\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "nbf a string: bad claims");
    is_int(claimsf(IA ",\"iat\":1699999000,\"nbf\":1.5,\"exp\":1700003600"), JWT_BAD_CLAIMS,
           "nbf a float: bad claims");
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1699999000,"
                     "\"nbf\":1699999900,\"exp\":1700003600}",
                     KEY);
    is_int(verify(tok, &c), JWT_OK, "nbf given: ok");
    is_int(c.nbf, 1699999900LL, "nbf read back");
    free(tok);

    /* The leeway is a setting: with 0, a second ahead is refused. */
    strict.leeway = 0;
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1700000000,"
                     "\"exp\":1700003600}",
                     KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_OK, "leeway 0, iat = now: ok");
    free(tok);
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1700000001,"
                     "\"exp\":1700003600}",
                     KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_NOT_YET_VALID,
           "leeway 0, iat = now + 1: not yet valid");
    is_int(verify(tok, &c), JWT_OK, "...accepted with the 30 s leeway");
    free(tok);
    tok = make_token(HDR,
                     "{" IA ",\"sub\":\"" SUB "\",\"scope\":\"user\",\"iat\":1699999000,"
                     "\"nbf\":1700000001,\"exp\":1700003600}",
                     KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_NOT_YET_VALID,
           "leeway 0, nbf = now + 1: not yet valid");
    free(tok);

    /* Lifetime: 0 < exp - iat <= max_lifetime. */
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":%lld", 1699999000LL + MAX_LIFE), JWT_OK,
           "lifetime = max_lifetime: ok");
    is_int(claimsf(IA ",\"iat\":1699999000,\"exp\":%lld", 1699999000LL + MAX_LIFE + 1),
           JWT_BAD_LIFETIME, "lifetime = max_lifetime + 1: bad lifetime");
    is_int(claimsf(IA ",\"iat\":1700000010,\"exp\":1700000010"), JWT_BAD_LIFETIME,
           "exp = iat (iat within the leeway): bad lifetime");
    is_int(claimsf(IA ",\"iat\":1700000020,\"exp\":1700000010"), JWT_BAD_LIFETIME,
           "exp before iat: bad lifetime");
    is_int(claimsf(IA ",\"iat\":-9223372036854775808,\"exp\":1700003600"), JWT_BAD_LIFETIME,
           "iat INT64_MIN: exp - iat overflows: bad lifetime");
    strict = POL;
    strict.max_lifetime = 60;
    tok = make_token(HDR, PL_OK, KEY);
    is_int(jwt_verify(tok, &RING, &strict, NOW, &c), JWT_BAD_LIFETIME,
           "the cap is a setting: the same token under a 60 s cap: bad lifetime");
    free(tok);
}

static void test_kid(void)
{
    struct jwt_keyring two;
    struct jwt_claims c, in = CLAIMS(SUB, JWT_SCOPE_USER, LATER);
    char *tok;

    is_int(check("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid missing: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"k2\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid not in the ring: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"K1\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid in another case: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid empty: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":1}", PL_OK), JWT_UNKNOWN_KID,
           "kid a number: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":[\"k1\"]}", PL_OK), JWT_UNKNOWN_KID,
           "kid an array: unknown kid");
    is_int(check("{\"alg\":\"HS256\",\"kid\":\"k1\\u0000\"}", PL_OK), JWT_UNKNOWN_KID,
           "kid with \\u0000: unknown kid");
    is_int(check("{\"alg\":\"none\",\"kid\":\"k2\"}", PL_OK), JWT_BAD_ALG,
           "alg is judged before kid");
    tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k2\"}", "not json", KEY2);
    is_int(verify(tok, &c), JWT_UNKNOWN_KID, "unknown kid is reported before the signature");
    free(tok);

    /* Two keys: a token of either verifies; each only under its own kid. */
    two = RING;
    two.n = 2;
    two.keys[1] = RING2.keys[0];
    strcpy(two.keys[1].kid, "k0");
    tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k0\"}", PL_OK, KEY2);
    is_int(jwt_verify(tok, &two, &POL, NOW, &c), JWT_OK, "previous key (k0): ok");
    is_str(c.kid, "k0", "reported as verified by k0");
    is_int(verify(tok, &c), JWT_UNKNOWN_KID, "the ring without k0: unknown kid");
    free(tok);
    tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k0\"}", PL_OK, KEY);
    is_int(jwt_verify(tok, &two, &POL, NOW, &c), JWT_BAD_SIGNATURE,
           "kid k0 but signed with k1's key: bad signature");
    free(tok);
    tok = jwt_sign(&in, &two.keys[1]);
    is_int(jwt_verify(tok, &two, &POL, NOW, &c), JWT_OK, "jwt_sign with the previous key: ok");
    free(tok);

    ok(jwt_kid_valid("20231114T221320Z-ab12") && jwt_kid_valid("a") && jwt_kid_valid("a.b_c-D"),
       "kid_valid: the generated form and the allowed characters");
    ok(!jwt_kid_valid("") && !jwt_kid_valid(NULL) && !jwt_kid_valid("a/b") && !jwt_kid_valid("a b")
           && !jwt_kid_valid("0123456789abcdef0123456789abcdefX"),
       "kid_valid: empty, NULL, '/', space, 33 characters refused");
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
            snprintf(pl, sizeof pl,
                     "{" STD "\"sub\":\"a\",\"scope\":\"user\",\"exp\":1700003600,\"pad\":\"%s\"}",
                     pad);
            /* a trailing space in the header, so both lengths are reachable */
            tok = make_token(HDR " ", pl, KEY);
            if (strlen(tok) == want)
                found = 1;
            else
                free(tok);
        }
        ok(found,
           want == JWT_MAX_TOKEN_LEN ? "built a 4096-character token"
                                     : "built a 4097-character token");
        if (!found)
            continue;
        is_int(verify(tok, &c), want == JWT_MAX_TOKEN_LEN ? JWT_OK : JWT_MALFORMED,
               want == JWT_MAX_TOKEN_LEN ? "4096 characters: ok" : "4097 characters: malformed");
        free(tok);
    }
}

/*
 * Tokens computed outside this code. KEY_CLI_HEX and the tokens were made
 * in the shell with
 *   b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
 *   H=$(printf '%s' '{"alg":"HS256","typ":"JWT","kid":"cli-1"}' | b64u)
 *   P=$(printf '%s' '<payload>' | b64u)
 *   S=$(printf '%s.%s' "$H" "$P" | openssl dgst -sha256 -mac HMAC \
 *         -macopt hexkey:$KEY -binary | b64u)
 * with KEY from `openssl rand -hex 32`.
 */
#define KEY_CLI_HEX "72556153a4e8eac883f73d83ddbe879a7ba101cfc705f41e9763b0ff11330f5d"
#define H_CLI "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImNsaS0xIn0."
/* {"iss":"zs-test-issuer","aud":"zs-test-api","sub":"7f3c2a9e-5b1d-4e8f-a6c0-2d9b4e1f8a37",
 *  "scope":"admin","iat":1699999000,"nbf":1699999000,"exp":1700003600} */
#define TOKEN_CLI_ADMIN                                                                            \
    H_CLI                                                                                          \
    "eyJpc3MiOiJ6cy10ZXN0LWlzc3VlciIsImF1ZCI6InpzLXRlc3QtYXBpIiwic3ViIjoiN2YzYzJhOWUtNWIx"         \
    "ZC00ZThmLWE2YzAtMmQ5YjRlMWY4YTM3Iiwic2NvcGUiOiJhZG1pbiIsImlhdCI6MTY5OTk5OTAwMCwibmJm"         \
    "IjoxNjk5OTk5MDAwLCJleHAiOjE3MDAwMDM2MDB9."                                                    \
    "mji49I4AKImqqhdGMKeSrYch6qrarm5CNbUmh4PrSxs"
/* {"iss":"zs-test-issuer","aud":"zs-test-api","sub":"a/b\"c\\d","scope":"user",
 *  "iat":1699999000,"nbf":1699999000,"exp":1700000001} */
#define TOKEN_CLI_ESCAPED                                                                          \
    H_CLI                                                                                          \
    "eyJpc3MiOiJ6cy10ZXN0LWlzc3VlciIsImF1ZCI6InpzLXRlc3QtYXBpIiwic3ViIjoiYS9iXCJjXFxkIiwi"         \
    "c2NvcGUiOiJ1c2VyIiwiaWF0IjoxNjk5OTk5MDAwLCJuYmYiOjE2OTk5OTkwMDAsImV4cCI6MTcwMDAwMDAw"         \
    "MX0."                                                                                         \
    "tr04a3oI8Qje23y8LIiJ4XJXA88igJZiV_ZQn50jwaQ"
/* {"iss":"zs-test-issuer","aud":["other","zs-test-api"],"sub":"7f3c…8a37","scope":"user",
 *  "iat":1699999000,"exp":1700003600} — aud an array, no nbf */
#define TOKEN_CLI_AUD_ARRAY                                                                        \
    H_CLI                                                                                          \
    "eyJpc3MiOiJ6cy10ZXN0LWlzc3VlciIsImF1ZCI6WyJvdGhlciIsInpzLXRlc3QtYXBpIl0sInN1YiI6Ijdm"         \
    "M2MyYTllLTViMWQtNGU4Zi1hNmMwLTJkOWI0ZTFmOGEzNyIsInNjb3BlIjoidXNlciIsImlhdCI6MTY5OTk5"         \
    "OTAwMCwiZXhwIjoxNzAwMDAzNjAwfQ."                                                              \
    "pkJLObwbBCX-f1aoDCidfBjXpOl4XAX8xklbR27XVqg"

/*
 * RFC 7515 Appendix A.1: an HS256 JWS whose header and payload contain CRLF
 * and spaces, with the RFC's 64-byte key (JWK "k", decoded to hex). Its
 * header names no key (no kid), so it is refused before the signature.
 */
#define KEY_RFC_HEX                                                                                \
    "0323354b2b0fa5bc837e0665777ba68f5ab328e6f054c928a90f84b2d2502ebf"                             \
    "d3fb5a92d20647ef968ab4c377623d223d2e2172052e4f08c0cd9af567d080a3"
#define TOKEN_RFC7515_A1                                                                           \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."                                                    \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290"         \
    "Ijp0cnVlfQ."                                                                                  \
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

static void test_independent_vectors(void)
{
    unsigned char key[64];
    size_t keylen;
    struct jwt_claims in = CLAIMS("7f3c2a9e-5b1d-4e8f-a6c0-2d9b4e1f8a37", JWT_SCOPE_ADMIN, LATER),
                      c;
    struct jwt_keyring r;
    char *tok;

    keylen = unhex(KEY_CLI_HEX, key, sizeof key);
    is_int(keylen, 32, "openssl CLI key parsed");
    r = ring_of(key, keylen, "cli-1");

    memset(&c, 0xa5, sizeof c);
    is_int(jwt_verify(TOKEN_CLI_ADMIN, &r, &POL, NOW, &c), JWT_OK, "openssl-signed token verifies");
    is_str(c.sub, "7f3c2a9e-5b1d-4e8f-a6c0-2d9b4e1f8a37", "openssl-signed token: sub");
    is_int(c.scope, JWT_SCOPE_ADMIN, "openssl-signed token: scope");
    is_int(c.exp, LATER, "openssl-signed token: exp");
    is_int(c.iat, IAT, "openssl-signed token: iat");
    is_str(c.iss, ISS, "openssl-signed token: iss");
    is_str(c.kid, "cli-1", "openssl-signed token: the verifying kid");
    is_int(jwt_verify(TOKEN_CLI_ADMIN, &r, &POL, (time_t)LATER, &c), JWT_EXPIRED,
           "openssl-signed token at its exp: expired");

    tok = jwt_sign(&in, &r.keys[0]);
    is_str(tok, TOKEN_CLI_ADMIN, "jwt_sign reproduces the openssl-signed token byte for byte");
    free(tok);

    is_int(jwt_verify(TOKEN_CLI_ESCAPED, &r, &POL, NOW, &c), JWT_OK,
           "openssl-signed token with escapes verifies");
    is_str(c.sub, "a/b\"c\\d", "JSON escapes decoded in sub");
    is_int(c.scope, JWT_SCOPE_USER, "escaped token: scope");
    in.exp = 1700000001;
    in.scope = JWT_SCOPE_USER;
    strcpy(in.sub, "a/b\"c\\d");
    tok = jwt_sign(&in, &r.keys[0]);
    is_str(tok, TOKEN_CLI_ESCAPED,
           "jwt_sign escapes '\"' and '\\' as the shell did, '/' not at all");
    free(tok);

    is_int(jwt_verify(TOKEN_CLI_AUD_ARRAY, &r, &POL, NOW, &c), JWT_OK,
           "openssl-signed token with aud an array holding ours verifies");
    is_str(c.aud, AUD, "aud array: the matched audience is reported");
    is_int(c.nbf, IAT, "no nbf: reported as iat");

    keylen = unhex(KEY_RFC_HEX, key, sizeof key);
    is_int(keylen, 64, "RFC 7515 A.1 key parsed");
    r = ring_of(key, keylen, "k1");
    is_int(jwt_verify(TOKEN_RFC7515_A1, &r, &POL, (time_t)1300819379, &c), JWT_UNKNOWN_KID,
           "RFC 7515 A.1 (no kid): unknown kid");
}

static void test_sign_refuses(void)
{
    struct jwt_claims in = CLAIMS(SUB, JWT_SCOPE_USER, LATER);
    struct jwt_key k = K1;
    char *tok;

    ok(jwt_sign(NULL, &K1) == NULL, "sign: NULL claims");
    ok(jwt_sign(&in, NULL) == NULL, "sign: NULL key");
    k.len = 31;
    ok(jwt_sign(&in, &k) == NULL, "sign: 31-byte key refused");
    k.len = 65;
    ok(jwt_sign(&in, &k) == NULL, "sign: 65-byte key length refused");
    k = K1;
    k.kid[0] = '\0';
    ok(jwt_sign(&in, &k) == NULL, "sign: empty kid refused");
    strcpy(k.kid, "a b");
    ok(jwt_sign(&in, &k) == NULL, "sign: kid with a space refused");
    strcpy(k.kid, "a\"b");
    ok(jwt_sign(&in, &k) == NULL, "sign: kid with a quote refused");
    in.scope = 0;
    ok(jwt_sign(&in, &K1) == NULL, "sign: scope 0 refused");
    in.scope = 3;
    ok(jwt_sign(&in, &K1) == NULL, "sign: scope 3 refused");
    in.scope = JWT_SCOPE_USER;
    in.sub[0] = '\0';
    ok(jwt_sign(&in, &K1) == NULL, "sign: empty sub refused");
    memset(in.sub, 'a', sizeof in.sub);
    ok(jwt_sign(&in, &K1) == NULL, "sign: sub without NUL in 64 bytes refused");
    strcpy(in.sub, "line\nbreak");
    ok(jwt_sign(&in, &K1) == NULL, "sign: control character in sub refused");
    strcpy(in.sub, "caf\xc3\xa9");
    ok(jwt_sign(&in, &K1) == NULL, "sign: non-ASCII sub refused");
    strcpy(in.sub, SUB);
    in.iss[0] = '\0';
    ok(jwt_sign(&in, &K1) == NULL, "sign: empty iss refused");
    strcpy(in.iss, ISS);
    in.aud[0] = '\0';
    ok(jwt_sign(&in, &K1) == NULL, "sign: empty aud refused");
    strcpy(in.aud, "a\tb");
    ok(jwt_sign(&in, &K1) == NULL, "sign: control character in aud refused");
    strcpy(in.aud, AUD);
    in.exp = INT64_MIN;
    tok = jwt_sign(&in, &K1);
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
    is_str(jwt_status_name(JWT_UNKNOWN_KID), "unknown_kid", "name of JWT_UNKNOWN_KID");
    is_str(jwt_status_name(JWT_BAD_ISSUER), "bad_issuer", "name of JWT_BAD_ISSUER");
    is_str(jwt_status_name(JWT_BAD_AUDIENCE), "bad_audience", "name of JWT_BAD_AUDIENCE");
    is_str(jwt_status_name(JWT_NOT_YET_VALID), "not_yet_valid", "name of JWT_NOT_YET_VALID");
    is_str(jwt_status_name(JWT_BAD_LIFETIME), "bad_lifetime", "name of JWT_BAD_LIFETIME");
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
    struct jwt_keyring r;
    char err[256] = "";

    memset(&r, 0x77, sizeof r);
    if (jwt_keyring_load(path, &r, err, sizeof err) != -1 || r.n != 0x77777777)
        return 0;
    if (err[0] == '\0')
        return 0;
    if (secret != NULL && strstr(err, secret) != NULL)
        return 0;
    printf("#   (%s)\n", err);
    return 1;
}

/* The whole text of a small file into buf (NUL-terminated); its length, or 0. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t r;

    buf[0] = '\0';
    if (fd < 0)
        return 0;
    r = read(fd, buf, cap - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    return (size_t)r;
}

static void test_key_file(void)
{
    char dir[] = "/tmp/test_jwt.XXXXXX";
    char path[256], other[256], err[256], content[1024], kid[JWT_KID_MAX + 1],
        kid2[JWT_KID_MAX + 1];
    char *line, *tok;
    unsigned char want[32];
    struct stat st;
    struct jwt_keyring r, r2, r3;
    struct jwt_claims in = CLAIMS(SUB, JWT_SCOPE_USER, LATER), c;
    const char *hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
    mode_t old_umask;

    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/jwt.key", dir);
    snprintf(other, sizeof other, "%s/other.key", dir);

    /* Create: one key, mode 0600 even under a permissive umask. */
    old_umask = umask(0);
    is_int(jwt_keyring_create(path, NOW, kid, sizeof kid, err, sizeof err), 0, "create a key ring");
    umask(old_umask);
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "created ring has mode 0600");
    ok(strncmp(kid, "20231114T221320Z-", 17) == 0 && strlen(kid) == 21 && jwt_kid_valid(kid),
       "the kid is the UTC time of creation and 4 hex digits");
    slurp(path, content, sizeof content);
    line = strstr(content, kid);
    ok(line != NULL && line[21] == ' ' && strspn(line + 22, "0123456789abcdef") == 64
           && line[86] == '\n',
       "the file holds \"KID HEX\" with lower-case hex");
    ok(line != NULL && unhex(line + 22, want, sizeof want) == 32, "its key parsed here");

    err[0] = '\0';
    is_int(jwt_keyring_create(path, NOW, NULL, 0, err, sizeof err), -1,
           "create refuses an existing file");
    ok(strstr(err, "File exists") != NULL && strstr(err, path) != NULL,
       "create error names the path and EEXIST");

    is_int(jwt_keyring_load(path, &r, err, sizeof err), 0, "load the created ring");
    is_int(r.n, 1, "one key in it");
    is_str(r.keys[0].kid, kid, "its kid");
    ok(r.keys[0].len == 32 && memcmp(r.keys[0].key, want, 32) == 0,
       "its key equals the file's hex");
    ok(jwt_keyring_current(&r) == &r.keys[0], "the current key is the first");
    ok(jwt_keyring_current(NULL) == NULL, "no current key of a NULL ring");

    tok = jwt_sign(&in, jwt_keyring_current(&r));
    is_int(jwt_verify(tok, &r, &POL, NOW, &c), JWT_OK, "created key signs and verifies");
    is_str(c.kid, kid, "verified under the created kid");

    /* Rotate: the old key stays as previous, so the old token still verifies. */
    is_int(jwt_keyring_rotate(path, 1, NOW + 60, kid2, sizeof kid2, err, sizeof err), 0, "rotate");
    ok(strncmp(kid2, "20231114T221420Z-", 17) == 0, "new kid from the rotation time");
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "rotated ring has mode 0600");
    is_int(jwt_keyring_load(path, &r2, err, sizeof err), 0, "load the rotated ring");
    is_int(r2.n, 2, "two keys after rotation");
    is_str(r2.keys[0].kid, kid2, "the new key is current");
    is_str(r2.keys[1].kid, kid, "the old current key is previous");
    ok(memcmp(r2.keys[1].key, r.keys[0].key, 32) == 0, "previous key unchanged");
    ok(memcmp(r2.keys[0].key, r.keys[0].key, 32) != 0, "new key differs");
    is_int(jwt_verify(tok, &r2, &POL, NOW, &c), JWT_OK,
           "a token of the previous key still verifies");
    free(tok);
    tok = jwt_sign(&in, jwt_keyring_current(&r2));
    is_int(jwt_verify(tok, &r2, &POL, NOW, &c), JWT_OK, "a token of the new key verifies");
    is_int(jwt_verify(tok, &r, &POL, NOW, &c), JWT_UNKNOWN_KID,
           "...but not under the ring before rotation: unknown kid");
    free(tok);
    tok = jwt_sign(&in, jwt_keyring_current(&r)); /* signed with the oldest key */

    /* A second rotation drops the oldest key: its tokens are refused. */
    is_int(jwt_keyring_rotate(path, 1, NOW + 120, NULL, 0, err, sizeof err), 0, "rotate again");
    is_int(jwt_keyring_load(path, &r3, err, sizeof err), 0, "load");
    ok(r3.n == 2 && strcmp(r3.keys[1].kid, kid2) == 0,
       "now current + the key of the first rotation");
    is_int(jwt_verify(tok, &r3, &POL, NOW, &c), JWT_UNKNOWN_KID,
           "a token of a key neither current nor previous: unknown kid");
    free(tok);

    /* --drop-previous: one key left. */
    is_int(jwt_keyring_rotate(path, 0, NOW + 180, NULL, 0, err, sizeof err), 0,
           "rotate, dropping previous");
    is_int(jwt_keyring_load(path, &r3, err, sizeof err), 0, "load");
    is_int(r3.n, 1, "one key after dropping the previous");
    ok(access(strcat(strcpy(content, path), ".tmp"), F_OK) != 0, "no temporary file left");
    ok(stat(strcat(strcpy(content, path), ".lock"), &st) == 0 && (st.st_mode & 077) == 0,
       "the lock file is private");
    err[0] = '\0';
    is_int(jwt_keyring_rotate(other, 1, NOW, NULL, 0, err, sizeof err), -1,
           "rotating a missing ring fails");
    ok(access(other, F_OK) != 0, "...and creates nothing");
    snprintf(content, sizeof content, "%s.lock", other);
    unlink(content);

    /* Mode check. */
    slurp(path, content, sizeof content);
    chmod(path, 0640);
    ok(load_fails(path, strrchr(content, ' ') + 1),
       "mode 0640 refused (group read), no key in the message");
    chmod(path, 0604);
    ok(load_fails(path, NULL), "mode 0604 refused (other read)");
    chmod(path, 0610);
    ok(load_fails(path, NULL), "mode 0610 refused (group execute)");
    chmod(path, 0400);
    is_int(jwt_keyring_load(path, &r3, err, sizeof err), 0, "mode 0400 accepted");
    chmod(path, 0600);

    /* Content: the legacy single-key format. */
    ok(write_file(other, hex, 64, 0600) == 0 && jwt_keyring_load(other, &r3, err, sizeof err) == 0
           && r3.n == 1 && strcmp(r3.keys[0].kid, "legacy") == 0 && r3.keys[0].len == 32
           && r3.keys[0].key[10] == 0xaa && r3.keys[0].key[31] == 0xff,
       "legacy: 64 hex characters without newline, mixed case: kid \"legacy\"");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n", 65,
               0600);
    ok(jwt_keyring_load(other, &r3, err, sizeof err) == 0 && r3.n == 1,
       "legacy with a newline: ok");
    is_int(jwt_keyring_rotate(other, 1, NOW, kid, sizeof kid, err, sizeof err), 0,
           "rotate a legacy file");
    ok(jwt_keyring_load(other, &r3, err, sizeof err) == 0 && r3.n == 2
           && strcmp(r3.keys[1].kid, "legacy") == 0 && r3.keys[1].key[31] == 0xff,
       "the legacy key stays as previous");
    snprintf(content, sizeof content, "%s.lock", other);
    unlink(content);
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeef", 63, 0600);
    ok(load_fails(other, NULL), "63 hex characters refused");
    write_file(other, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeegg\n", 65,
               0600);
    ok(load_fails(other, NULL), "legacy with a non-hex character refused");

    /* Content: the ring format. */
#define H64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    write_file(other, "# c\n\nk1 " H64 "\nk0 " H64 "\n", 4 + 1 + 68 + 68, 0600);
    ok(jwt_keyring_load(other, &r3, err, sizeof err) == 0 && r3.n == 2
           && strcmp(r3.keys[0].kid, "k1") == 0 && strcmp(r3.keys[1].kid, "k0") == 0,
       "comments, a blank line and two keys: ok, first is current");
    write_file(other, "k1 " H64, 67, 0600);
    ok(jwt_keyring_load(other, &r3, err, sizeof err) == 0 && r3.n == 1, "no final newline: ok");
    write_file(other, "k1 " H64 "\nk2 " H64 "\nk3 " H64 "\n", 3 * 68, 0600);
    ok(load_fails(other, H64), "three keys refused (and no key in the message)");
    write_file(other, "k1 " H64 "\nk1 " H64 "\n", 2 * 68, 0600);
    ok(load_fails(other, H64), "a kid twice refused");
    write_file(other, "k1  " H64 "\n", 69, 0600);
    ok(load_fails(other, H64), "two spaces refused");
    write_file(other, "k1 " H64 "\r\n", 69, 0600);
    ok(load_fails(other, H64), "CRLF refused");
    write_file(other, "k/1 " H64 "\n", 69, 0600);
    ok(load_fails(other, H64), "a kid with '/' refused");
    write_file(other, "k1 " H64 "0\n", 69, 0600);
    ok(load_fails(other, H64), "65 hex characters refused");
    write_file(other, "k1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeegg\n", 68,
               0600);
    ok(load_fails(other, NULL), "a non-hex character refused");
    write_file(other, "# only a comment\n", 17, 0600);
    ok(load_fails(other, NULL), "no key refused");
    write_file(other, "", 0, 0600);
    ok(load_fails(other, NULL), "empty file refused");
    {
        static char big[5000];
        memset(big, '#', sizeof big);
        write_file(other, big, sizeof big, 0600);
        ok(load_fails(other, NULL), "a file over 4096 bytes refused");
    }

    /* Not a regular file, missing file. */
    ok(load_fails(dir, NULL), "directory refused");
    unlink(other);
    ok(load_fails(other, NULL), "missing file refused");
    is_int(jwt_keyring_load(path, &r3, NULL, 0), 0, "err may be NULL with errlen 0");

    /* Symlinks: load follows one to a good file; create never writes through one. */
    ok(symlink(path, other) == 0, "make a symlink to the ring");
    is_int(jwt_keyring_load(other, &r3, err, sizeof err), 0, "load through a symlink");
    unlink(other);
    snprintf(content, sizeof content, "%s/target", dir);
    ok(symlink(content, other) == 0, "make a dangling symlink");
    is_int(jwt_keyring_create(other, NOW, NULL, 0, err, sizeof err), -1,
           "create refuses a dangling symlink");
    ok(access(content, F_OK) != 0, "nothing created at the symlink's target");
    unlink(other);

    snprintf(other, sizeof other, "%s/no/such/dir/key", dir);
    is_int(jwt_keyring_create(other, NOW, NULL, 0, err, sizeof err), -1,
           "create in a missing directory fails");

    unlink(path);
    snprintf(content, sizeof content, "%s.lock", path);
    unlink(content);
    ok(rmdir(dir) == 0, "temporary directory cleaned up");
}

int main(void)
{
    init_rings();
    test_round_trip();
    test_expiry();
    test_tampering();
    test_order_of_checks();
    test_alg();
    test_shape();
    test_base64_in_token();
    test_json();
    test_claims();
    test_issuer_audience();
    test_window();
    test_kid();
    test_length_cap();
    test_independent_vectors();
    test_sign_refuses();
    test_status_names();
    test_key_file();
    is_int(out_not_zeroed, 0, "every failed verify left *out zeroed");
    return done_testing();
}
