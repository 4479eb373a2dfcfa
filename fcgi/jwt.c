/*
 * jwt.c — HS256 JSON Web Tokens for bearer authentication, and the key file
 * they are signed with. Contracts are in jwt.h.
 *
 * Verification order matters: the header is read only to learn the
 * algorithm, the HMAC is checked next, and the payload is parsed only once
 * the signature is known to be ours. Everything is bounded: the token by
 * JWT_MAX_TOKEN_LEN, JSON nesting by JWT_JSON_DEPTH, and all scratch space
 * lives on the stack.
 */
#include "jwt.h"

#include "base64url.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

_Static_assert(JWT_PART_MAX >= JWT_MAX_TOKEN_LEN / 4 * 3,
               "base64url_decoded_len(n) <= 3n/4: any part of a token fits");
_Static_assert(sizeof ((struct jwt_claims){ .exp = 0 }).sub == JWT_SUB_CAP,
               "JWT_SUB_CAP matches struct jwt_claims");

/* The one header jwt_sign emits. */
static const char jwt_header_json[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

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
 * Check a decoded header: JWT_BAD_ALG unless alg is exactly "HS256";
 * JWT_MALFORMED for a typ other than "JWT" or any "crit" (RFC 7515 §4.1.11:
 * we understand no extensions, so must refuse all). Borrows hdr.
 */
static enum jwt_status jwt_check_header(json_object *hdr)
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
    return JWT_OK;
}

/*
 * Read sub, scope and exp from a verified payload into *c (zeroed first).
 * Returns JWT_OK or JWT_BAD_CLAIMS. Does not look at the clock. Borrows pl.
 */
static enum jwt_status jwt_read_claims(json_object *pl, struct jwt_claims *c)
{
    json_object *v;
    const char *s;
    size_t n;
    int64_t exp;

    memset(c, 0, sizeof *c);

    s = jwt_get_string(pl, "sub", &n);
    if (s == NULL || n == 0 || n >= sizeof c->sub)
        return JWT_BAD_CLAIMS;
    memcpy(c->sub, s, n + 1);

    s = jwt_get_string(pl, "scope", &n);
    if (s != NULL && strcmp(s, "user") == 0)
        c->scope = JWT_SCOPE_USER;
    else if (s != NULL && strcmp(s, "admin") == 0)
        c->scope = JWT_SCOPE_ADMIN;
    else
        return JWT_BAD_CLAIMS;

    /* json_type_int excludes 1.0, 1e9 and "1": all three are type errors. */
    if (!json_object_object_get_ex(pl, "exp", &v) || !json_object_is_type(v, json_type_int))
        return JWT_BAD_CLAIMS;
    /*
     * json-c keeps integers above INT64_MAX as uint64 (saturating at
     * UINT64_MAX), which get_int64 clamps to INT64_MAX: refuse those. Below
     * INT64_MIN it saturates to INT64_MIN, which is simply long expired.
     */
    exp = json_object_get_int64(v);
    if (exp == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
        return JWT_BAD_CLAIMS;
    c->exp = exp;
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

enum jwt_status jwt_verify(const char *token, const unsigned char *key, size_t keylen,
                           time_t now, struct jwt_claims *out)
{
    unsigned char hbuf[JWT_PART_MAX], pbuf[JWT_PART_MAX], sbuf[JWT_PART_MAX];
    unsigned char mac[JWT_SIG_LEN];
    size_t len, hlen, plen, slen, hn, pn, sn;
    const char *dot1, *dot2;
    json_object *obj;
    struct jwt_claims c;
    enum jwt_status st;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (token == NULL || out == NULL)
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
    st = jwt_check_header(obj);
    json_object_put(obj);
    if (st != JWT_OK)
        return st;

    /* Signature over the header and payload exactly as sent. */
    if (sn != JWT_SIG_LEN || jwt_hmac(key, keylen, token, hlen + 1 + plen, mac) != 0)
        return JWT_BAD_SIGNATURE;
    st = CRYPTO_memcmp(mac, sbuf, JWT_SIG_LEN) == 0 ? JWT_OK : JWT_BAD_SIGNATURE;
    OPENSSL_cleanse(mac, sizeof mac);
    if (st != JWT_OK)
        return st;

    obj = jwt_parse_object(pbuf, pn);
    if (obj == NULL)
        return JWT_MALFORMED;
    st = jwt_read_claims(obj, &c);
    json_object_put(obj);
    if (st != JWT_OK)
        return st;
    if (c.exp <= (int64_t)now)
        return JWT_EXPIRED;

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

char *jwt_sign(const struct jwt_claims *claims, const unsigned char *key, size_t keylen)
{
    /* Worst case: every sub byte escaped to two characters. */
    char payload[sizeof "{\"sub\":\"\",\"scope\":\"admin\",\"exp\":-9223372036854775808}"
                 + 2 * JWT_SUB_CAP];
    unsigned char mac[JWT_SIG_LEN];
    const char *scope;
    size_t sublen, i, o, plen, hb, pb, total, pos;
    char *token;
    int n;

    if (claims == NULL || key == NULL || keylen < JWT_MIN_KEY_LEN || keylen > INT_MAX)
        return NULL;
    scope = jwt_scope_name(claims->scope);
    sublen = strnlen(claims->sub, JWT_SUB_CAP);
    if (scope == NULL || sublen == 0 || sublen == JWT_SUB_CAP)
        return NULL;

    /*
     * Printable ASCII only, so escaping '"' and '\\' is all JSON needs and
     * the payload is plain compact JSON that jwt_verify reads back as-is.
     */
    o = 0;
    o += (size_t)snprintf(payload, sizeof payload, "{\"sub\":\"");
    for (i = 0; i < sublen; i++) {
        unsigned char ch = (unsigned char)claims->sub[i];
        if (ch < 0x20 || ch > 0x7e)
            return NULL;
        if (ch == '"' || ch == '\\')
            payload[o++] = '\\';
        payload[o++] = (char)ch;
    }
    n = snprintf(payload + o, sizeof payload - o, "\",\"scope\":\"%s\",\"exp\":%lld}",
                 scope, (long long)claims->exp);
    if (n < 0 || (size_t)n >= sizeof payload - o)
        return NULL;
    plen = o + (size_t)n;

    hb = base64url_encoded_len(sizeof jwt_header_json - 1);
    pb = base64url_encoded_len(plen);
    total = hb + 1 + pb + 1 + base64url_encoded_len(JWT_SIG_LEN);
    token = malloc(total + 1);
    if (token == NULL)
        return NULL;

    pos = base64url_encode(jwt_header_json, sizeof jwt_header_json - 1, token, total + 1);
    token[pos++] = '.';
    pos += base64url_encode(payload, plen, token + pos, total + 1 - pos);
    if (jwt_hmac(key, keylen, token, pos, mac) != 0) {
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
    }
    return "unknown";
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

int jwt_key_generate(const char *path, char *err, size_t errlen)
{
    static const char hexdigits[] = "0123456789abcdef";
    unsigned char key[JWT_KEY_LEN];
    char hex[JWT_KEY_HEX_LEN + 1];
    const char *failed = NULL;
    int fd, saved, i;

    if (path == NULL) {
        jwt_set_err(err, errlen, "jwt key: no path given");
        return -1;
    }
    if (RAND_bytes(key, sizeof key) != 1) {
        jwt_set_err(err, errlen, "jwt key \"%s\": RAND_bytes() failed", path);
        return -1;
    }
    for (i = 0; i < JWT_KEY_LEN; i++) {
        hex[2 * i] = hexdigits[key[i] >> 4];
        hex[2 * i + 1] = hexdigits[key[i] & 15];
    }
    hex[JWT_KEY_HEX_LEN] = '\n';
    OPENSSL_cleanse(key, sizeof key);

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        saved = errno;
        OPENSSL_cleanse(hex, sizeof hex);
        jwt_set_err(err, errlen, "jwt key \"%s\": open() failed: %s", path, strerror(saved));
        return -1;
    }
    /* The umask may have taken owner bits away; set exactly 0600. */
    if (fchmod(fd, 0600) != 0)
        failed = "fchmod";
    else if (jwt_write_all(fd, hex, sizeof hex) != 0)
        failed = "write";
    else if (fsync(fd) != 0)
        failed = "fsync";
    saved = errno;
    OPENSSL_cleanse(hex, sizeof hex);
    if (close(fd) != 0 && failed == NULL) {
        failed = "close";
        saved = errno;
    }
    if (failed != NULL) {
        unlink(path);
        jwt_set_err(err, errlen, "jwt key \"%s\": %s() failed: %s", path, failed,
                    strerror(saved));
        return -1;
    }
    return 0;
}

int jwt_key_load(const char *path, unsigned char *key, size_t keycap, size_t *keylen,
                 char *err, size_t errlen)
{
    /* One byte more than the longest valid file, to notice a longer one. */
    char buf[JWT_KEY_HEX_LEN + 2];
    unsigned char tmp[JWT_KEY_LEN];
    struct stat st;
    size_t n = 0;
    int fd, i, rc = -1;

    if (path == NULL || key == NULL || keylen == NULL) {
        jwt_set_err(err, errlen, "jwt key: missing argument");
        return -1;
    }
    if (keycap < JWT_KEY_LEN) {
        jwt_set_err(err, errlen, "jwt key \"%s\": buffer of %zu bytes is too small for %d",
                    path, keycap, JWT_KEY_LEN);
        return -1;
    }
    /* O_NONBLOCK so a FIFO planted at path cannot hang us before the S_ISREG check. */
    fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        jwt_set_err(err, errlen, "jwt key \"%s\": open() failed: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        jwt_set_err(err, errlen, "jwt key \"%s\": fstat() failed: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        jwt_set_err(err, errlen, "jwt key \"%s\": not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        jwt_set_err(err, errlen,
                    "jwt key \"%s\": mode %04o grants group/other access; chmod 600 it",
                    path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            jwt_set_err(err, errlen, "jwt key \"%s\": read() failed: %s", path,
                        strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (!(n == JWT_KEY_HEX_LEN || (n == JWT_KEY_HEX_LEN + 1 && buf[JWT_KEY_HEX_LEN] == '\n'))) {
        jwt_set_err(err, errlen,
                    "jwt key \"%s\": expected %d hex characters and an optional newline",
                    path, JWT_KEY_HEX_LEN);
        goto out;
    }
    for (i = 0; i < JWT_KEY_LEN; i++) {
        int hi = jwt_hex_value((unsigned char)buf[2 * i]);
        int lo = jwt_hex_value((unsigned char)buf[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            jwt_set_err(err, errlen, "jwt key \"%s\": not hexadecimal", path);
            goto out;
        }
        tmp[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(key, tmp, JWT_KEY_LEN);
    *keylen = JWT_KEY_LEN;
    rc = 0;
out:
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(tmp, sizeof tmp);
    close(fd);
    return rc;
}
