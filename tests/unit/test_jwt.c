/*
 * test_jwt.c — unit tests for fcgi/jwt.c: HS256 sign/verify, every way a
 * token must be refused and with which status, tokens produced outside this
 * code (the openssl CLI, RFC 7515 Appendix A.1) so that sign and verify
 * cannot merely agree with each other. The key ring file: test_jwt_keyring.c.
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
#include "jwt_fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

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
    test_length_cap();
    test_independent_vectors();
    test_sign_refuses();
    test_status_names();
    is_int(out_not_zeroed, 0, "every failed verify left *out zeroed");
    return done_testing();
}
