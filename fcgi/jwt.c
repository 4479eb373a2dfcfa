/*
 * jwt.c — HS256 JSON Web Tokens for bearer authentication: verifying and
 * signing them (the key ring file is jwt_keyring.c). Contracts are in jwt.h.
 *
 * Verification order matters: the header is read only to learn the
 * algorithm and the key id, the HMAC is checked next, and the payload is
 * parsed only once the signature is known to be ours. Everything is bounded: the token by
 * JWT_MAX_TOKEN_LEN, JSON nesting by JWT_JSON_DEPTH, and all scratch space
 * lives on the stack.
 */
#include "jwt.h"

#include "base64url.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>

#define JWT_JSON_DEPTH 8
#define JWT_SIG_LEN 32    /* SHA-256 output */
#define JWT_PART_MAX 3072 /* base64url_decoded_len(JWT_MAX_TOKEN_LEN) */
#define JWT_SUB_CAP 64    /* sizeof jwt_claims.sub */

_Static_assert(JWT_PART_MAX >= JWT_MAX_TOKEN_LEN / 4 * 3,
               "base64url_decoded_len(n) <= 3n/4: any part of a token fits");
_Static_assert(sizeof((struct jwt_claims){ .exp = 0 }).sub == JWT_SUB_CAP,
               "JWT_SUB_CAP matches struct jwt_claims");

/*
 * Parse buf[0..len) as exactly one JSON object: strict json-c, nesting capped,
 * UTF-8 validated, no NUL bytes, nothing but whitespace after the object.
 * Returns a new reference the caller must json_object_put(), or NULL.
 */
static json_object *jwt_parse_object(const unsigned char *buf, size_t len)
{
    json_tokener *tok;
    json_object *obj;

    if (len == 0 || len > INT_MAX || memchr(buf, '\0', len) != NULL)
        return NULL;
    tok = json_tokener_new_ex(JWT_JSON_DEPTH);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
    if (obj != NULL
        && (json_tokener_get_error(tok) != json_tokener_success
            || json_tokener_get_parse_end(tok) != len
            || !json_object_is_type(obj, json_type_object))) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

/*
 * The member `name` of obj if it is a JSON string without embedded NUL
 * (so C string functions see all of it), with its length in *len; else NULL.
 * The string is borrowed from obj and lives as long as obj does.
 */
static const char *jwt_get_string(json_object *obj, const char *name, size_t *len)
{
    json_object *v;
    const char *s;
    int n;

    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    n = json_object_get_string_len(v);
    if (s == NULL || n < 0 || strlen(s) != (size_t)n)
        return NULL;
    *len = (size_t)n;
    return s;
}

/*
 * Check a decoded header and find its key: JWT_BAD_ALG unless alg is exactly
 * "HS256"; JWT_MALFORMED for a typ other than "JWT" or any "crit" (RFC 7515
 * §4.1.11: we understand no extensions, so must refuse all);
 * JWT_UNKNOWN_KID unless kid is a string naming a key of ring, which is
 * then stored in *key. Borrows hdr and ring.
 */
static enum jwt_status jwt_check_header(json_object *hdr, const struct jwt_keyring *ring,
                                        const struct jwt_key **key)
{
    const char *s;
    size_t n;

    s = jwt_get_string(hdr, "alg", &n);
    if (s == NULL || strcmp(s, "HS256") != 0)
        return JWT_BAD_ALG;
    if (json_object_object_get_ex(hdr, "typ", NULL)) {
        s = jwt_get_string(hdr, "typ", &n);
        if (s == NULL || strcmp(s, "JWT") != 0)
            return JWT_MALFORMED;
    }
    if (json_object_object_get_ex(hdr, "crit", NULL))
        return JWT_MALFORMED;
    s = jwt_get_string(hdr, "kid", &n);
    if (s == NULL || ring == NULL || n == 0 || n > JWT_KID_MAX)
        return JWT_UNKNOWN_KID;
    for (int i = 0; i < ring->n && i < JWT_KEYRING_MAX; i++)
        if (strcmp(ring->keys[i].kid, s) == 0) {
            *key = &ring->keys[i];
            return JWT_OK;
        }
    return JWT_UNKNOWN_KID;
}

/*
 * The member `name` of pl as an int64 into *v: 1 when it is a JSON integer
 * that fits, 0 when absent, -1 when present but ill-typed or too large.
 */
static int jwt_get_int64(json_object *pl, const char *name, int64_t *v)
{
    json_object *o;
    int64_t x;

    if (!json_object_object_get_ex(pl, name, &o))
        return 0;
    /* json_type_int excludes 1.0, 1e9 and "1": all three are type errors. */
    if (!json_object_is_type(o, json_type_int))
        return -1;
    /*
     * json-c keeps integers above INT64_MAX as uint64 (saturating at
     * UINT64_MAX), which get_int64 clamps to INT64_MAX: refuse those. Below
     * INT64_MIN it saturates to INT64_MIN, which is simply long past.
     */
    x = json_object_get_int64(o);
    if (x == INT64_MAX && json_object_get_uint64(o) != (uint64_t)INT64_MAX)
        return -1;
    *v = x;
    return 1;
}

/* Copy the string member `name` (1..cap-1 bytes, no NUL) into dst; 0, or -1. */
static int jwt_copy_string(json_object *pl, const char *name, char *dst, size_t cap)
{
    size_t n;
    const char *s = jwt_get_string(pl, name, &n);

    if (s == NULL || n == 0 || n >= cap)
        return -1;
    memcpy(dst, s, n + 1);
    return 0;
}

/*
 * Read the claims of a verified payload into *c (zeroed first) and judge
 * iss and aud against pol (steps 5-7 of jwt_verify). Does not look at the
 * clock. Borrows pl.
 */
static enum jwt_status jwt_read_claims(json_object *pl, const struct jwt_policy *pol,
                                       struct jwt_claims *c)
{
    json_object *aud;
    const char *s;
    size_t n;
    int aud_ok = 0;

    memset(c, 0, sizeof *c);

    if (jwt_copy_string(pl, "sub", c->sub, sizeof c->sub) != 0)
        return JWT_BAD_CLAIMS;

    s = jwt_get_string(pl, "scope", &n);
    if (s != NULL && strcmp(s, "user") == 0)
        c->scope = JWT_SCOPE_USER;
    else if (s != NULL && strcmp(s, "admin") == 0)
        c->scope = JWT_SCOPE_ADMIN;
    else
        return JWT_BAD_CLAIMS;

    if (jwt_get_int64(pl, "exp", &c->exp) != 1 || jwt_get_int64(pl, "iat", &c->iat) != 1)
        return JWT_BAD_CLAIMS;
    switch (jwt_get_int64(pl, "nbf", &c->nbf)) {
    case 0:
        c->nbf = c->iat;
        break;
    case 1:
        break;
    default:
        return JWT_BAD_CLAIMS;
    }

    if (jwt_copy_string(pl, "iss", c->iss, sizeof c->iss) != 0)
        return JWT_BAD_CLAIMS;

    /* RFC 7519 §4.1.3: a string, or an array of strings. */
    if (!json_object_object_get_ex(pl, "aud", &aud))
        return JWT_BAD_CLAIMS;
    if (json_object_is_type(aud, json_type_string)) {
        s = jwt_get_string(pl, "aud", &n);
        if (s == NULL || n == 0)
            return JWT_BAD_CLAIMS;
        aud_ok = pol->audience != NULL && strcmp(s, pol->audience) == 0;
    } else if (json_object_is_type(aud, json_type_array)) {
        size_t len = json_object_array_length(aud);
        for (size_t i = 0; i < len; i++) {
            json_object *e = json_object_array_get_idx(aud, i);
            const char *es;
            if (!json_object_is_type(e, json_type_string))
                return JWT_BAD_CLAIMS;
            es = json_object_get_string(e);
            if (es == NULL || strlen(es) != (size_t)json_object_get_string_len(e))
                return JWT_BAD_CLAIMS;
            if (pol->audience != NULL && strcmp(es, pol->audience) == 0)
                aud_ok = 1;
        }
    } else {
        return JWT_BAD_CLAIMS;
    }

    if (pol->issuer == NULL || strcmp(c->iss, pol->issuer) != 0)
        return JWT_BAD_ISSUER;
    if (!aud_ok)
        return JWT_BAD_AUDIENCE;
    n = strlen(pol->audience);
    if (n >= sizeof c->aud)
        return JWT_BAD_AUDIENCE;
    memcpy(c->aud, pol->audience, n + 1);
    return JWT_OK;
}

/* Steps 8-10 of jwt_verify: the validity window of claims c at now. */
static enum jwt_status jwt_check_window(const struct jwt_claims *c, const struct jwt_policy *pol,
                                        time_t now)
{
    int64_t t = (int64_t)now, horizon, life;

    if (c->exp <= t)
        return JWT_EXPIRED;
    if (__builtin_add_overflow(t, pol->leeway < 0 ? 0 : pol->leeway, &horizon))
        horizon = INT64_MAX;
    if (c->nbf > horizon || c->iat > horizon)
        return JWT_NOT_YET_VALID;
    if (__builtin_sub_overflow(c->exp, c->iat, &life) || life <= 0 || life > pol->max_lifetime)
        return JWT_BAD_LIFETIME;
    return JWT_OK;
}

/*
 * HMAC-SHA-256 of data[0..n) with key into mac[JWT_SIG_LEN].
 * Returns 0, or -1 if the key is unusable or OpenSSL fails.
 */
static int jwt_hmac(const unsigned char *key, size_t keylen, const void *data, size_t n,
                    unsigned char mac[JWT_SIG_LEN])
{
    /* fetched once: HMAC() looks the implementation up on every call */
    static EVP_MAC *alg;
    OSSL_PARAM params[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                              (char *)"SHA256", 0),
                             OSSL_PARAM_construct_end() };
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    EVP_MAC_CTX *ctx;
    int rc = -1;

    if (key == NULL || keylen < JWT_MIN_KEY_LEN || keylen > INT_MAX)
        return -1;
    if (!alg && !(alg = EVP_MAC_fetch(NULL, "HMAC", NULL)))
        return -1;
    ctx = EVP_MAC_CTX_new(alg);
    if (ctx && EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, data, n)
        && EVP_MAC_final(ctx, md, &mdlen, sizeof md) && mdlen == JWT_SIG_LEN) {
        memcpy(mac, md, JWT_SIG_LEN);
        rc = 0;
    }
    EVP_MAC_CTX_free(ctx); /* wipes the key schedule */
    OPENSSL_cleanse(md, sizeof md);
    return rc;
}

enum jwt_status jwt_verify(const char *token, const struct jwt_keyring *ring,
                           const struct jwt_policy *pol, time_t now, struct jwt_claims *out)
{
    unsigned char hbuf[JWT_PART_MAX], pbuf[JWT_PART_MAX], sbuf[JWT_PART_MAX];
    unsigned char mac[JWT_SIG_LEN];
    size_t len, hlen, plen, slen, hn, pn, sn;
    const char *dot1, *dot2;
    const struct jwt_key *key = NULL;
    json_object *obj;
    struct jwt_claims c;
    enum jwt_status st;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (token == NULL || out == NULL || pol == NULL)
        return JWT_MALFORMED;

    /* Shape: bounded length, exactly two dots, non-empty header and payload. */
    len = strnlen(token, JWT_MAX_TOKEN_LEN + 1);
    if (len > JWT_MAX_TOKEN_LEN)
        return JWT_MALFORMED;
    dot1 = memchr(token, '.', len);
    if (dot1 == NULL)
        return JWT_MALFORMED;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return JWT_MALFORMED;
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - dot1 - 1);
    slen = len - (size_t)(dot2 + 1 - token);
    if (hlen == 0 || plen == 0)
        return JWT_MALFORMED;

    /* Encoding of all three parts; decoding alone interprets nothing. */
    if (base64url_decode(token, hlen, hbuf, sizeof hbuf, &hn) != 0
        || base64url_decode(dot1 + 1, plen, pbuf, sizeof pbuf, &pn) != 0
        || base64url_decode(dot2 + 1, slen, sbuf, sizeof sbuf, &sn) != 0)
        return JWT_MALFORMED;

    obj = jwt_parse_object(hbuf, hn);
    if (obj == NULL)
        return JWT_MALFORMED;
    st = jwt_check_header(obj, ring, &key);
    json_object_put(obj);
    if (st != JWT_OK)
        return st;

    /* Signature over the header and payload exactly as sent. */
    if (sn != JWT_SIG_LEN || key->len > JWT_KEY_MAX
        || jwt_hmac(key->key, key->len, token, hlen + 1 + plen, mac) != 0)
        return JWT_BAD_SIGNATURE;
    st = CRYPTO_memcmp(mac, sbuf, JWT_SIG_LEN) == 0 ? JWT_OK : JWT_BAD_SIGNATURE;
    OPENSSL_cleanse(mac, sizeof mac);
    if (st != JWT_OK)
        return st;

    obj = jwt_parse_object(pbuf, pn);
    if (obj == NULL)
        return JWT_MALFORMED;
    st = jwt_read_claims(obj, pol, &c);
    json_object_put(obj);
    if (st != JWT_OK)
        return st;
    st = jwt_check_window(&c, pol, now);
    if (st != JWT_OK)
        return st;

    memcpy(c.kid, key->kid, sizeof c.kid);
    *out = c;
    return JWT_OK;
}

/* Wire name of a scope, or NULL if s is not a jwt_scope value. */
static const char *jwt_scope_name(enum jwt_scope s)
{
    switch (s) {
    case JWT_SCOPE_USER:
        return "user";
    case JWT_SCOPE_ADMIN:
        return "admin";
    }
    return NULL;
}

int jwt_kid_valid(const char *kid)
{
    size_t n;

    if (kid == NULL)
        return 0;
    n = strnlen(kid, JWT_KID_MAX + 1);
    if (n == 0 || n > JWT_KID_MAX)
        return 0;
    return strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/*
 * Append `s` (NUL-terminated within cap bytes, 1..cap-1 printable ASCII
 * bytes) as a JSON string body to out[*o..), escaping '"' and '\\'. The
 * caller guarantees room for 2 * (cap - 1) bytes. Returns 0, or -1.
 */
static int jwt_put_string(char *out, size_t *o, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    if (n == 0 || n == cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7e)
            return -1;
        if (ch == '"' || ch == '\\')
            out[(*o)++] = '\\';
        out[(*o)++] = (char)ch;
    }
    return 0;
}

char *jwt_sign(const struct jwt_claims *claims, const struct jwt_key *key)
{
    /* Worst case: every string byte escaped to two characters, three int64s. */
    char payload[sizeof "{\"iss\":\"\",\"aud\":\"\",\"sub\":\"\",\"scope\":\"admin\",\"iat\":,"
                        "\"nbf\":,\"exp\":}"
                 + 2 * (2 * JWT_NAME_CAP + JWT_SUB_CAP) + 3 * 20];
    char header[sizeof "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"\"}" + JWT_KID_MAX];
    unsigned char mac[JWT_SIG_LEN];
    const char *scope;
    size_t o, plen, hlen, hb, pb, total, pos;
    char *token;
    int n;

    if (claims == NULL || key == NULL || key->len < JWT_MIN_KEY_LEN || key->len > JWT_KEY_MAX
        || !jwt_kid_valid(key->kid))
        return NULL;
    scope = jwt_scope_name(claims->scope);
    if (scope == NULL)
        return NULL;
    n = snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                 key->kid);
    if (n < 0 || (size_t)n >= sizeof header)
        return NULL;
    hlen = (size_t)n;

    /*
     * Printable ASCII only, so escaping '"' and '\\' is all JSON needs and
     * the payload is plain compact JSON that jwt_verify reads back as-is.
     */
    o = 0;
    memcpy(payload + o, "{\"iss\":\"", 8);
    o += 8;
    if (jwt_put_string(payload, &o, claims->iss, sizeof claims->iss) != 0)
        return NULL;
    memcpy(payload + o, "\",\"aud\":\"", 9);
    o += 9;
    if (jwt_put_string(payload, &o, claims->aud, sizeof claims->aud) != 0)
        return NULL;
    memcpy(payload + o, "\",\"sub\":\"", 9);
    o += 9;
    if (jwt_put_string(payload, &o, claims->sub, sizeof claims->sub) != 0)
        return NULL;
    n = snprintf(payload + o, sizeof payload - o,
                 "\",\"scope\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", scope,
                 (long long)claims->iat, (long long)claims->nbf, (long long)claims->exp);
    if (n < 0 || (size_t)n >= sizeof payload - o)
        return NULL;
    plen = o + (size_t)n;

    hb = base64url_encoded_len(hlen);
    pb = base64url_encoded_len(plen);
    total = hb + 1 + pb + 1 + base64url_encoded_len(JWT_SIG_LEN);
    token = malloc(total + 1);
    if (token == NULL)
        return NULL;

    pos = base64url_encode(header, hlen, token, total + 1);
    token[pos++] = '.';
    pos += base64url_encode(payload, plen, token + pos, total + 1 - pos);
    if (jwt_hmac(key->key, key->len, token, pos, mac) != 0) {
        free(token);
        return NULL;
    }
    token[pos++] = '.';
    pos += base64url_encode(mac, sizeof mac, token + pos, total + 1 - pos);
    OPENSSL_cleanse(mac, sizeof mac);
    return token;
}

const char *jwt_status_name(enum jwt_status s)
{
    switch (s) {
    case JWT_OK:
        return "ok";
    case JWT_MALFORMED:
        return "malformed";
    case JWT_BAD_ALG:
        return "bad_alg";
    case JWT_BAD_SIGNATURE:
        return "bad_signature";
    case JWT_EXPIRED:
        return "expired";
    case JWT_BAD_CLAIMS:
        return "bad_claims";
    case JWT_UNKNOWN_KID:
        return "unknown_kid";
    case JWT_BAD_ISSUER:
        return "bad_issuer";
    case JWT_BAD_AUDIENCE:
        return "bad_audience";
    case JWT_NOT_YET_VALID:
        return "not_yet_valid";
    case JWT_BAD_LIFETIME:
        return "bad_lifetime";
    }
    return "unknown";
}
