/*
 * jwt.c — HS256 JSON Web Tokens for bearer authentication, and the key ring
 * file they are signed with. Contracts are in jwt.h.
 *
 * Verification order matters: the header is read only to learn the
 * algorithm and the key id, the HMAC is checked next, and the payload is
 * parsed only once the signature is known to be ours. Everything is bounded: the token by
 * JWT_MAX_TOKEN_LEN, JSON nesting by JWT_JSON_DEPTH, and all scratch space
 * lives on the stack.
 */
#include "jwt.h"

#include "base64url.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define JWT_JSON_DEPTH 8
#define JWT_SIG_LEN 32                  /* SHA-256 output */
#define JWT_PART_MAX 3072               /* base64url_decoded_len(JWT_MAX_TOKEN_LEN) */
#define JWT_KEY_HEX_LEN (2 * JWT_KEY_LEN)
#define JWT_SUB_CAP 64                  /* sizeof jwt_claims.sub */
#define ZS_JWT_PATH_MAX 1024            /* longest key ring path */

_Static_assert(JWT_PART_MAX >= JWT_MAX_TOKEN_LEN / 4 * 3,
               "base64url_decoded_len(n) <= 3n/4: any part of a token fits");
_Static_assert(sizeof ((struct jwt_claims){ .exp = 0 }).sub == JWT_SUB_CAP,
               "JWT_SUB_CAP matches struct jwt_claims");

#define JWT_RING_FILE_MAX 4096  /* longest key ring file read */
#define JWT_LEGACY_KID "legacy" /* kid of a pre-rotation single-key file */

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
    if (obj != NULL &&
        (json_tokener_get_error(tok) != json_tokener_success ||
         json_tokener_get_parse_end(tok) != len ||
         !json_object_is_type(obj, json_type_object))) {
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
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;

    if (key == NULL || keylen < JWT_MIN_KEY_LEN || keylen > INT_MAX)
        return -1;
    if (HMAC(EVP_sha256(), key, (int)keylen, data, n, md, &mdlen) != NULL &&
        mdlen == JWT_SIG_LEN) {
        memcpy(mac, md, JWT_SIG_LEN);
        rc = 0;
    }
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
    if (base64url_decode(token, hlen, hbuf, sizeof hbuf, &hn) != 0 ||
        base64url_decode(dot1 + 1, plen, pbuf, sizeof pbuf, &pn) != 0 ||
        base64url_decode(dot2 + 1, slen, sbuf, sizeof sbuf, &sn) != 0)
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

const struct jwt_key *jwt_keyring_current(const struct jwt_keyring *ring)
{
    return ring != NULL && ring->n > 0 ? &ring->keys[0] : NULL;
}

/* printf into err[0..errlen) if there is room; err may be NULL when errlen is 0. */
__attribute__((format(printf, 3, 4)))
static void jwt_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Value of one hex digit, or -1. */
static int jwt_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode exactly 2 * JWT_KEY_LEN hex characters into key; 0, or -1. */
static int jwt_unhex_key(const char *hex, unsigned char key[JWT_KEY_LEN])
{
    for (int i = 0; i < JWT_KEY_LEN; i++) {
        int hi = jwt_hex_value((unsigned char)hex[2 * i]);
        int lo = jwt_hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* write() all n bytes, retrying on EINTR and short writes. Returns 0 or -1 (errno set). */
static int jwt_write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Parse the text buf[0..n) of a key ring file into *ring (see
 * jwt_keyring_load). Returns 0, or -1 with a message (no key material).
 */
static int jwt_keyring_parse(const char *path, const char *buf, size_t n, struct jwt_keyring *ring,
                             char *err, size_t errlen)
{
    size_t pos = 0;
    int line = 0;

    memset(ring, 0, sizeof *ring);
    if (memchr(buf, '\0', n) != NULL) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": holds a NUL byte", path);
        return -1;
    }
    /* The single-key format written before rotation existed. */
    if (n == JWT_KEY_HEX_LEN || (n == JWT_KEY_HEX_LEN + 1 && buf[JWT_KEY_HEX_LEN] == '\n')) {
        if (jwt_unhex_key(buf, ring->keys[0].key) != 0)
            goto bad_hex;
        strcpy(ring->keys[0].kid, JWT_LEGACY_KID);
        ring->keys[0].len = JWT_KEY_LEN;
        ring->n = 1;
        return 0;
    }
    while (pos < n) {
        const char *l = buf + pos, *nl = memchr(l, '\n', n - pos), *sp;
        size_t ll = nl ? (size_t)(nl - l) : n - pos, kl;
        struct jwt_key *k;

        pos += ll + (nl ? 1 : 0);
        line++;
        if (ll == 0 || l[0] == '#')
            continue;
        sp = memchr(l, ' ', ll);
        kl = sp ? (size_t)(sp - l) : 0;
        if (sp == NULL || kl == 0 || kl > JWT_KID_MAX || ll != kl + 1 + JWT_KEY_HEX_LEN) {
            jwt_set_err(err, errlen, "jwt key ring \"%s\": line %d: expected \"KID HEX\" (%d hex)",
                        path, line, JWT_KEY_HEX_LEN);
            goto fail;
        }
        if (ring->n == JWT_KEYRING_MAX) {
            jwt_set_err(err, errlen, "jwt key ring \"%s\": line %d: more than %d keys", path, line,
                        JWT_KEYRING_MAX);
            goto fail;
        }
        k = &ring->keys[ring->n];
        memcpy(k->kid, l, kl);
        k->kid[kl] = '\0';
        if (!jwt_kid_valid(k->kid)) {
            jwt_set_err(err, errlen,
                        "jwt key ring \"%s\": line %d: a kid is 1..%d characters of "
                        "[A-Za-z0-9._-]",
                        path, line, JWT_KID_MAX);
            goto fail;
        }
        for (int i = 0; i < ring->n; i++)
            if (strcmp(ring->keys[i].kid, k->kid) == 0) {
                jwt_set_err(err, errlen, "jwt key ring \"%s\": line %d: kid \"%s\" twice", path,
                            line, k->kid);
                goto fail;
            }
        if (jwt_unhex_key(sp + 1, k->key) != 0) {
            jwt_set_err(err, errlen, "jwt key ring \"%s\": line %d: not hexadecimal", path, line);
            goto fail;
        }
        k->len = JWT_KEY_LEN;
        ring->n++;
    }
    if (ring->n == 0) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": no key in it", path);
        goto fail;
    }
    return 0;
bad_hex:
    jwt_set_err(err, errlen, "jwt key ring \"%s\": not hexadecimal", path);
fail:
    OPENSSL_cleanse(ring, sizeof *ring);
    memset(ring, 0, sizeof *ring);
    return -1;
}

int jwt_keyring_load(const char *path, struct jwt_keyring *ring, char *err, size_t errlen)
{
    /* One byte more than the longest valid file, to notice a longer one. */
    char buf[JWT_RING_FILE_MAX + 1];
    struct jwt_keyring tmp;
    struct stat st;
    size_t n = 0;
    int fd, rc = -1;

    if (path == NULL || ring == NULL) {
        jwt_set_err(err, errlen, "jwt key ring: missing argument");
        return -1;
    }
    /* O_NONBLOCK so a FIFO planted at path cannot hang us before the S_ISREG check. */
    fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": open() failed: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": fstat() failed: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        jwt_set_err(err, errlen,
                    "jwt key ring \"%s\": mode %04o grants group/other access; chmod 600 it", path,
                    (unsigned)(st.st_mode & 07777));
        goto out;
    }
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            jwt_set_err(err, errlen, "jwt key ring \"%s\": read() failed: %s", path,
                        strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > JWT_RING_FILE_MAX) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": longer than %d bytes", path,
                    JWT_RING_FILE_MAX);
        goto out;
    }
    if (jwt_keyring_parse(path, buf, n, &tmp, err, errlen) == 0) {
        *ring = tmp;
        rc = 0;
    }
out:
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(&tmp, sizeof tmp);
    close(fd);
    return rc;
}

/* A fresh key and its kid (from now, UTC, plus 4 random hex digits); 0, or -1. */
static int jwt_key_fresh(struct jwt_key *k, time_t now)
{
    unsigned char r[2];
    struct tm tm;
    char stamp[20];

    memset(k, 0, sizeof *k);
    if (RAND_bytes(k->key, JWT_KEY_LEN) != 1 || RAND_bytes(r, sizeof r) != 1)
        return -1;
    k->len = JWT_KEY_LEN;
    if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
        return -1;
    snprintf(k->kid, sizeof k->kid, "%s-%02x%02x", stamp, r[0], r[1]);
    return jwt_kid_valid(k->kid) ? 0 : -1;
}

/* The text of a key ring file for ring into buf; its length, or 0 if it does not fit. */
static size_t jwt_keyring_format(const struct jwt_keyring *ring, char *buf, size_t cap)
{
    static const char hexdigits[] = "0123456789abcdef";
    size_t o;
    int n;

    n = snprintf(buf, cap,
                 "# zerosum bearer-token signing keys (HS256), one \"KID HEX\" per line.\n"
                 "# The first signs new tokens; the next is still accepted. Keep it 0600.\n"
                 "# Rotate with: scripts/zerosum rotate-key\n");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    o = (size_t)n;
    for (int i = 0; i < ring->n; i++) {
        const struct jwt_key *k = &ring->keys[i];
        size_t kl = strlen(k->kid);
        if (k->len != JWT_KEY_LEN || o + kl + 1 + JWT_KEY_HEX_LEN + 2 > cap)
            return 0;
        memcpy(buf + o, k->kid, kl);
        o += kl;
        buf[o++] = ' ';
        for (int j = 0; j < JWT_KEY_LEN; j++) {
            buf[o++] = hexdigits[k->key[j] >> 4];
            buf[o++] = hexdigits[k->key[j] & 15];
        }
        buf[o++] = '\n';
    }
    return o;
}

/*
 * Write ring to a new file at path (O_EXCL, never through a symlink), mode
 * 0600, fsync'd. Removes the file on failure. Returns 0, or -1 with err set.
 */
static int jwt_keyring_write_new(const char *path, const struct jwt_keyring *ring, char *err,
                                 size_t errlen)
{
    char buf[JWT_RING_FILE_MAX];
    const char *failed = NULL;
    size_t n = jwt_keyring_format(ring, buf, sizeof buf);
    int fd, saved = 0;

    if (n == 0) {
        OPENSSL_cleanse(buf, sizeof buf);
        jwt_set_err(err, errlen, "jwt key ring \"%s\": cannot format the ring", path);
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        saved = errno;
        OPENSSL_cleanse(buf, sizeof buf);
        jwt_set_err(err, errlen, "jwt key ring \"%s\": open() failed: %s", path, strerror(saved));
        return -1;
    }
    /* The umask may have taken owner bits away; set exactly 0600. */
    if (fchmod(fd, 0600) != 0)
        failed = "fchmod";
    else if (jwt_write_all(fd, buf, n) != 0)
        failed = "write";
    else if (fsync(fd) != 0)
        failed = "fsync";
    if (failed != NULL)
        saved = errno;
    OPENSSL_cleanse(buf, sizeof buf);
    if (close(fd) != 0 && failed == NULL) {
        failed = "close";
        saved = errno;
    }
    if (failed != NULL) {
        unlink(path);
        jwt_set_err(err, errlen, "jwt key ring \"%s\": %s() failed: %s", path, failed,
                    strerror(saved));
        return -1;
    }
    return 0;
}

/* Copy a kid out for the caller, if asked. */
static void jwt_give_kid(const char *kid, char *out, size_t outlen)
{
    if (out != NULL && outlen > 0)
        snprintf(out, outlen, "%s", kid);
}

int jwt_keyring_create(const char *path, time_t now, char *kid, size_t kidlen, char *err,
                       size_t errlen)
{
    struct jwt_keyring ring;
    int rc;

    if (path == NULL) {
        jwt_set_err(err, errlen, "jwt key ring: no path given");
        return -1;
    }
    memset(&ring, 0, sizeof ring);
    if (jwt_key_fresh(&ring.keys[0], now) != 0) {
        OPENSSL_cleanse(&ring, sizeof ring);
        jwt_set_err(err, errlen, "jwt key ring \"%s\": RAND_bytes() failed", path);
        return -1;
    }
    ring.n = 1;
    rc = jwt_keyring_write_new(path, &ring, err, errlen);
    if (rc == 0)
        jwt_give_kid(ring.keys[0].kid, kid, kidlen);
    OPENSSL_cleanse(&ring, sizeof ring);
    return rc;
}

int jwt_keyring_rotate(const char *path, int keep_previous, time_t now, char *kid, size_t kidlen,
                       char *err, size_t errlen)
{
    char lock[ZS_JWT_PATH_MAX], tmp[ZS_JWT_PATH_MAX], dir[ZS_JWT_PATH_MAX];
    struct jwt_keyring old, ring;
    int lfd, dfd, rc = -1;

    if (path == NULL) {
        jwt_set_err(err, errlen, "jwt key ring: no path given");
        return -1;
    }
    if ((size_t)snprintf(lock, sizeof lock, "%s.lock", path) >= sizeof lock
        || (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp
        || (size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": path too long", path);
        return -1;
    }
    lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lfd < 0) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": open() failed: %s", lock, strerror(errno));
        return -1;
    }
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            jwt_set_err(err, errlen, "jwt key ring \"%s\": flock() failed: %s", lock,
                        strerror(errno));
            close(lfd);
            return -1;
        }
    }
    memset(&ring, 0, sizeof ring);
    if (jwt_keyring_load(path, &old, err, errlen) != 0)
        goto out;
    if (jwt_key_fresh(&ring.keys[0], now) != 0) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": RAND_bytes() failed", path);
        goto out;
    }
    ring.n = 1;
    if (keep_previous) {
        if (strcmp(old.keys[0].kid, ring.keys[0].kid) == 0) {
            jwt_set_err(err, errlen, "jwt key ring \"%s\": new kid collides; try again", path);
            goto out;
        }
        ring.keys[1] = old.keys[0];
        ring.n = 2;
    }
    /* Under the lock, a tmp file left by a crashed rotation is ours to remove. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": unlink() failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (jwt_keyring_write_new(tmp, &ring, err, errlen) != 0)
        goto out;
    if (rename(tmp, path) != 0) {
        jwt_set_err(err, errlen, "jwt key ring \"%s\": rename() failed: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    jwt_give_kid(ring.keys[0].kid, kid, kidlen);
    rc = 0;
out:
    OPENSSL_cleanse(&old, sizeof old);
    OPENSSL_cleanse(&ring, sizeof ring);
    close(lfd); /* releases the lock */
    return rc;
}
