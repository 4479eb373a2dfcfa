/*
 * jwt_fixtures.h — what the JWT unit tests (test_jwt.c, test_jwt_keyring.c)
 * share: the clock, the policy and the claims a valid token carries, the
 * keys and rings, and the helpers that build and sign tokens by hand (with
 * OpenSSL's HMAC directly, so a test can put any bytes under a valid
 * signature).
 */
#ifndef ZS_TEST_JWT_FIXTURES_H
#define ZS_TEST_JWT_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64url.h"
#include "jwt.h"

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

static const struct jwt_policy POL = { ISS, AUD, LEEWAY, MAX_LIFE };

/* Parse a hex string into buf; returns the number of bytes. */
static inline size_t unhex(const char *hex, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    unsigned int b;

    while (n < cap && hex[2 * n] && sscanf(hex + 2 * n, "%2x", &b) == 1)
        buf[n++] = (unsigned char)b;
    return n;
}

static __attribute__((unused)) const unsigned char KEY[32] = {
    0x4b, 0x0e, 0x91, 0x2f, 0x6a, 0xd3, 0x58, 0x17, 0xc4, 0x3e, 0xa0, 0x7b, 0x25, 0xe9, 0x86, 0x1d,
    0xf2, 0x4c, 0x0b, 0x93, 0x67, 0xde, 0x31, 0xa8, 0x5f, 0x12, 0xbb, 0x70, 0x8e, 0x46, 0xc9, 0x03,
};
static __attribute__((unused)) const unsigned char KEY2[32] = {
    0x4b, 0x0e, 0x91, 0x2f, 0x6a, 0xd3, 0x58, 0x17, 0xc4, 0x3e, 0xa0, 0x7b, 0x25, 0xe9, 0x86, 0x1d,
    0xf2, 0x4c, 0x0b, 0x93, 0x67, 0xde, 0x31, 0xa8, 0x5f, 0x12, 0xbb, 0x70, 0x8e, 0x46, 0xc9, 0x04,
};

/* RING: k1 = KEY (current). RING2: k1 = KEY2. Filled by init_rings(). */
static __attribute__((unused)) struct jwt_keyring RING, RING2;
static __attribute__((unused)) struct jwt_key K1;

/* A ring of one key of len bytes with the given kid. */
static __attribute__((unused)) struct jwt_keyring ring_of(const unsigned char *key, size_t len,
                                                          const char *kid)
{
    struct jwt_keyring r;

    memset(&r, 0, sizeof r);
    r.n = 1;
    snprintf(r.keys[0].kid, sizeof r.keys[0].kid, "%s", kid);
    memcpy(r.keys[0].key, key, len);
    r.keys[0].len = len;
    return r;
}

static inline void init_rings(void)
{
    RING = ring_of(KEY, sizeof KEY, "k1");
    RING2 = ring_of(KEY2, sizeof KEY2, "k1");
    K1 = RING.keys[0];
}

/* Failed verifies that left *out not all-zero; checked once at the end. */
static __attribute__((unused)) int out_not_zeroed;

/* malloc'd base64url of s[0..n). */
static inline char *b64(const void *s, size_t n)
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
static inline char *sign_parts(const char *hpart, const char *ppart, const unsigned char *key,
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
static inline char *make_token(const char *hdr, const char *pl, const unsigned char *key)
{
    char *h = b64(hdr, strlen(hdr)), *p = b64(pl, strlen(pl));
    char *tok = sign_parts(h, p, key, 32);

    free(h);
    free(p);
    return tok;
}

/* jwt_verify with KEY at NOW; also records whether *out was zeroed on failure. */
static inline enum jwt_status verify(const char *tok, struct jwt_claims *out)
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
static inline enum jwt_status check(const char *hdr, const char *pl)
{
    struct jwt_claims c;
    char *tok = make_token(hdr, pl, KEY);
    enum jwt_status st = verify(tok, &c);

    free(tok);
    return st;
}

/* As check(), with the payload made by printf. */
__attribute__((format(printf, 2, 3))) static inline enum jwt_status checkf(const char *hdr,
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
static inline enum jwt_status check_raw(const char *tok)
{
    struct jwt_claims c;

    return verify(tok, &c);
}

#endif
