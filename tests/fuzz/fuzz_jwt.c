/*
 * fuzz_jwt.c — libFuzzer target for bearer-token verification (jwt.c) and
 * the base64url codec under it (base64url.c).
 *
 * Every input is used three ways:
 *
 *  1. As a token: jwt_verify(input, ring, policy, FUZZ_NOW), the ring
 *     holding FUZZ_KEY as kid "fuzz" (current) and OTHER_KEY as kid "old".
 *     Seeds are real tokens minted with `zerosum token ... --at 1700000000`
 *     and a key ring file holding FUZZ_KEY as "fuzz", so mutations start
 *     from tokens whose signature checks.
 *  2. As base64url: base64url_decode into a buffer of exactly
 *     base64url_decoded_len(n) bytes (ASan sees any overrun). Property: the
 *     codec is canonical, so encoding what was decoded gives the input back,
 *     and a buffer one byte short is refused.
 *  3. As JSON behind a valid signature, so the payload parser is reached
 *     (the fuzzer cannot forge an HMAC): if the input holds a NUL byte,
 *     the bytes before it are the header and the bytes after it the
 *     payload; otherwise the header is {"alg":"HS256","typ":"JWT","kid":"fuzz"}
 *     and the input is the payload. The harness encodes and signs the token
 *     itself with FUZZ_KEY. Property: the same token under a ring where
 *     "fuzz" is another key is never JWT_OK.
 *
 * Round trip (1 and 3): whenever jwt_verify says JWT_OK, the claims obey the
 * policy (iss, aud, window), and jwt_sign of them with the verifying key
 * must give a token (unless the sub holds a byte outside printable ASCII,
 * which jwt_sign refuses by contract) that jwt_verify accepts with the same
 * claims, and that is JWT_EXPIRED at its exp second. abort() on any
 * violation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64url.h"
#include "jwt.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_jwt: property failed: %s (%s:%d)\n",        \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* make_seeds.py writes these 32 bytes as hex, kid "fuzz": "zerosum-fuzz-key-0123456789abcde" */
static const unsigned char FUZZ_KEY[JWT_KEY_LEN] = "zerosum-fuzz-key-0123456789abcde";
static const unsigned char OTHER_KEY[JWT_KEY_LEN] = "zerosum-fuzz-key-0123456789abcdX";

/* 2023-11-14T22:13:20Z; seeds are minted at it (iat) with exp beyond it. */
#define FUZZ_NOW ((time_t)1700000000)

/* The server's defaults: issuer and audience "zerosum", 30 s, 30 days. */
static const struct jwt_policy POLICY = { "zerosum", "zerosum", 30, 2592000 };

static const char std_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"fuzz\"}";

/* ring: fuzz = FUZZ_KEY, old = OTHER_KEY; swapped: fuzz = OTHER_KEY; short: fuzz 31 bytes. */
static struct jwt_keyring ring, swapped, shortk;

static void set_key(struct jwt_key *k, const char *kid, const unsigned char *key, size_t len)
{
    strcpy(k->kid, kid);
    memcpy(k->key, key, len);
    k->len = len;
}

static void init_rings(void)
{
    static int done;

    if (done)
        return;
    done = 1;
    ring.n = 2;
    set_key(&ring.keys[0], "fuzz", FUZZ_KEY, sizeof(FUZZ_KEY));
    set_key(&ring.keys[1], "old", OTHER_KEY, sizeof(OTHER_KEY));
    swapped.n = 1;
    set_key(&swapped.keys[0], "fuzz", OTHER_KEY, sizeof(OTHER_KEY));
    shortk.n = 1;
    set_key(&shortk.keys[0], "fuzz", FUZZ_KEY, JWT_MIN_KEY_LEN - 1);
}

/* The key of ring named kid. */
static const struct jwt_key *key_of(const char *kid)
{
    for (int i = 0; i < ring.n; i++)
        if (strcmp(ring.keys[i].kid, kid) == 0)
            return &ring.keys[i];
    return NULL;
}

static void round_trip(const struct jwt_claims *c)
{
    struct jwt_claims back;
    char *token;
    int printable = 1;

    CHECK(c->sub[0] != '\0' && strnlen(c->sub, sizeof(c->sub)) < sizeof(c->sub));
    CHECK(c->scope == JWT_SCOPE_USER || c->scope == JWT_SCOPE_ADMIN);
    CHECK(c->exp > (int64_t)FUZZ_NOW);
    CHECK(c->iat <= (int64_t)FUZZ_NOW + POLICY.leeway && c->nbf <= (int64_t)FUZZ_NOW + POLICY.leeway);
    CHECK(c->exp - c->iat > 0 && c->exp - c->iat <= POLICY.max_lifetime);
    CHECK(strcmp(c->iss, POLICY.issuer) == 0 && strcmp(c->aud, POLICY.audience) == 0);
    CHECK(key_of(c->kid) != NULL);
    for (const char *s = c->sub; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            printable = 0;

    token = jwt_sign(c, key_of(c->kid));
    if (!printable) {
        CHECK(token == NULL);
        return;
    }
    CHECK(token != NULL);
    CHECK(jwt_verify(token, &ring, &POLICY, FUZZ_NOW, &back) == JWT_OK);
    CHECK(strcmp(back.sub, c->sub) == 0 && back.scope == c->scope && back.exp == c->exp
          && back.iat == c->iat && back.nbf == c->nbf && strcmp(back.kid, c->kid) == 0
          && strcmp(back.iss, c->iss) == 0 && strcmp(back.aud, c->aud) == 0);
    /* dead at its exp second */
    CHECK(jwt_verify(token, &ring, &POLICY, (time_t)c->exp, &back) == JWT_EXPIRED);
    CHECK(back.sub[0] == '\0');
    free(token);
}

static void as_token(const uint8_t *data, size_t size)
{
    struct jwt_claims c;
    enum jwt_status st;
    char *tok = malloc(size + 1);

    if (!tok)
        return;
    memcpy(tok, data, size);
    tok[size] = '\0';
    init_rings();
    st = jwt_verify(tok, &ring, &POLICY, FUZZ_NOW, &c);
    CHECK(st >= JWT_OK && st <= JWT_BAD_LIFETIME);
    CHECK(strcmp(jwt_status_name(st), "unknown") != 0);
    if (st == JWT_OK) {
        int is_fuzz = strcmp(c.kid, "fuzz") == 0;
        round_trip(&c);
        if (is_fuzz) {
            /* another key under the same kid never accepts it */
            CHECK(jwt_verify(tok, &swapped, &POLICY, FUZZ_NOW, &c) != JWT_OK);
            /* a short key is refused outright */
            CHECK(jwt_verify(tok, &shortk, &POLICY, FUZZ_NOW, &c) != JWT_OK);
        }
    } else {
        /* *out is zeroed when not OK */
        CHECK(c.sub[0] == '\0' && c.exp == 0 && c.scope == 0);
    }
    free(tok);
}

static void as_base64url(const uint8_t *data, size_t size)
{
    size_t cap = base64url_decoded_len(size), outlen = 0, n;
    unsigned char *dst = malloc(cap ? cap : 1);
    char *enc;

    if (!dst)
        return;
    if (base64url_decode((const char *)data, size, dst, cap, &outlen) == 0) {
        CHECK(outlen <= cap);
        n = base64url_encoded_len(outlen);
        CHECK(n == size);
        enc = malloc(n + 1);
        CHECK(enc != NULL);
        CHECK(base64url_encode(dst, outlen, enc, n + 1) == n);
        CHECK(memcmp(enc, data, size) == 0 && enc[n] == '\0');
        /* too small a buffer is refused, not overrun */
        if (cap > 0) {
            size_t dummy;
            CHECK(base64url_decode((const char *)data, size, dst, cap - 1, &dummy) == -1);
        }
        free(enc);
    }
    free(dst);
}

/* Encode header and payload, sign with key, NUL-terminate. Caller frees. */
static char *make_token(const void *hdr, size_t hlen, const void *pl, size_t plen,
                        const unsigned char *key, size_t keylen)
{
    size_t hb = base64url_encoded_len(hlen), pb = base64url_encoded_len(plen);
    size_t cap = hb + 1 + pb + 1 + base64url_encoded_len(32) + 1, pos;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *t = malloc(cap);

    if (!t)
        return NULL;
    pos = base64url_encode(hdr, hlen, t, cap);
    t[pos++] = '.';
    pos += base64url_encode(pl, plen, t + pos, cap - pos);
    CHECK(HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)t, pos, mac, &maclen)
          != NULL && maclen == 32);
    t[pos++] = '.';
    pos += base64url_encode(mac, 32, t + pos, cap - pos);
    CHECK(pos < cap && t[pos] == '\0');
    return t;
}

static void as_signed_json(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    const void *hdr = std_header, *pl = data;
    size_t hlen = sizeof(std_header) - 1, plen = size;
    struct jwt_claims c;
    enum jwt_status st;
    char *tok;

    if (nul) {
        hdr = data;
        hlen = (size_t)(nul - data);
        pl = nul + 1;
        plen = size - hlen - 1;
    }
    if (hlen == 0 || plen == 0)
        return;
    init_rings();
    tok = make_token(hdr, hlen, pl, plen, FUZZ_KEY, sizeof(FUZZ_KEY));
    if (!tok)
        return;
    st = jwt_verify(tok, &ring, &POLICY, FUZZ_NOW, &c);
    /* a token we signed for kid "fuzz" never fails its signature check */
    if (!nul)
        CHECK(st != JWT_BAD_SIGNATURE && st != JWT_UNKNOWN_KID);
    if (st == JWT_OK) {
        int is_fuzz = strcmp(c.kid, "fuzz") == 0;
        round_trip(&c);
        if (is_fuzz)
            CHECK(jwt_verify(tok, &swapped, &POLICY, FUZZ_NOW, &c) != JWT_OK);
    }
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_token(data, size);
    as_base64url(data, size);
    as_signed_json(data, size);
    return 0;
}
