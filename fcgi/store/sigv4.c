/*
 * sigv4.c — AWS Signature Version 4 query presigning and the Aurora DSQL /
 * RDS IAM database tokens built on it (credentials: aws_credentials.c).
 *
 * The presigner follows the SigV4 specification for query-string
 * authentication of "GET /" with only the host header signed and an empty
 * payload, which is what the AWS SDKs' DSQL and RDS signers produce. Crypto is
 * OpenSSL's libcrypto (SHA-256, HMAC-SHA256); every buffer that held a secret
 * or a key derived from one is wiped with OPENSSL_cleanse before it is freed.
 */
#include "store/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/sha.h>

#include "util.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* Longest host, region or service accepted by the presigner. */
#define SIGV4_MAX_HOST 255
#define SIGV4_MAX_NAME 64

/* ---- growable string buffer ------------------------------------------- */

/* struct util_buf (util.h): after an allocation failure `oom` is set,
 * further appends are no-ops and the caller sees NULL. */

/* Append one byte to b. */
static void sbuf_addc(struct util_buf *b, char c)
{
    util_buf_addn(b, &c, 1);
}

/* Wipe and free b's storage; b is empty afterwards. */
static void sbuf_wipe(struct util_buf *b)
{
    if (b->p) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* Hand b's string to the caller (malloc'd, caller frees; "" if nothing was
 * appended), or NULL after an allocation failure (storage wiped and freed).
 * b is empty afterwards. */
static char *sbuf_take(struct util_buf *b)
{
    char *p;
    if (!b->p)
        util_buf_addn(b, "", 0);
    if (b->oom) {
        sbuf_wipe(b);
        return NULL;
    }
    p = b->p;
    memset(b, 0, sizeof *b);
    return p;
}

/* True for the RFC 3986 unreserved bytes A-Za-z0-9-_.~ (ASCII only, whatever
 * the locale). */
static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
        || ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

/* Append s to b, RFC 3986 encoded: A-Za-z0-9-_.~ are kept, every other byte
 * becomes %XX with uppercase hex (so '/', '+', '=' and spaces are encoded). */
static void sbuf_add_uri_encoded(struct util_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (is_unreserved(*u)) {
            sbuf_addc(b, (char)*u);
        } else {
            char esc[3] = { '%', hex[*u >> 4], hex[*u & 0x0f] };
            util_buf_addn(b, esc, sizeof esc);
        }
    }
}

/* ---- crypto helpers --------------------------------------------------- */

/* Write the lowercase hex of n bytes of in to out (2n + 1 bytes, NUL-ended). */
static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

/*
 * SHA-256 and HMAC fetched once per process: OpenSSL 3 otherwise looks the
 * implementation up by name in its providers on every EVP_sha256()/HMAC()
 * call, which costs more than hashing a token's few hundred bytes. NULL if
 * libcrypto cannot provide them (every caller then fails).
 */
static EVP_MD *sha256_md(void)
{
    static EVP_MD *md;

    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    return md;
}

static EVP_MAC *hmac_mac(void)
{
    static EVP_MAC *mac;

    if (!mac)
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    return mac;
}

/* SHA-256 of n bytes of data as 64 lowercase hex digits in out[65].
 * Returns 0, or -1 if libcrypto fails. */
static int sha256_hex(const void *data, size_t n, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned int mdlen = 0;
    EVP_MD *alg = sha256_md();

    if (!alg || !EVP_Digest(data, n, md, &mdlen, alg, NULL) || mdlen != sizeof md)
        return -1;
    hex_encode(md, sizeof md, out);
    return 0;
}

/* HMAC-SHA256 of msglen bytes of msg under key into out[32]. Returns 0, or
 * -1 on failure. */
static int hmac_sha256_n(const unsigned char *key, size_t keylen, const void *msg, size_t msglen,
                         unsigned char out[SHA256_DIGEST_LENGTH])
{
    OSSL_PARAM params[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                              (char *)"SHA256", 0),
                             OSSL_PARAM_construct_end() };
    EVP_MAC *mac = hmac_mac();
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t outlen = 0;
    int rc = -1;

    if (ctx && EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, msg, msglen)
        && EVP_MAC_final(ctx, out, &outlen, SHA256_DIGEST_LENGTH) && outlen == SHA256_DIGEST_LENGTH)
        rc = 0;
    EVP_MAC_CTX_free(ctx); /* wipes the key schedule */
    return rc;
}

/* HMAC-SHA256 of the string msg under key into out[32]. Returns 0, or -1. */
static int hmac_sha256(const unsigned char *key, size_t keylen, const char *msg,
                       unsigned char out[SHA256_DIGEST_LENGTH])
{
    return hmac_sha256_n(key, keylen, msg, strlen(msg), out);
}

/*
 * Derive the SigV4 signing key into key[32]:
 * HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * Intermediate keys are wiped. Returns 0, or -1 on failure (key wiped).
 */
static int sigv4_derive_key(const char *secret, const char *date, const char *region,
                            const char *service, unsigned char key[SHA256_DIGEST_LENGTH])
{
    unsigned char k0[4 + sizeof((struct aws_credentials *)0)->secret_access_key];
    unsigned char k1[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH], k3[SHA256_DIGEST_LENGTH];
    size_t slen = strnlen(secret, sizeof k0 - 4);
    int rc = -1;

    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    if (hmac_sha256(k0, 4 + slen, date, k1) == 0 && hmac_sha256(k1, sizeof k1, region, k2) == 0
        && hmac_sha256(k2, sizeof k2, service, k3) == 0
        && hmac_sha256(k3, sizeof k3, "aws4_request", key) == 0)
        rc = 0;
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(k3, sizeof k3);
    if (rc != 0)
        OPENSSL_cleanse(key, SHA256_DIGEST_LENGTH);
    return rc;
}

/*
 * The last signing key derived, and what it was derived for: SHA-256 of
 * secret, date, region and service (NUL-separated; the secret itself is not
 * kept). A signing key is valid for one day, region and service, and every
 * connection of a per-request worker signs with the same one, so the four
 * HMACs of its derivation run once a day instead of once per connection.
 */
static struct {
    int valid;
    unsigned char scope_id[SHA256_DIGEST_LENGTH];
    unsigned char key[SHA256_DIGEST_LENGTH];
} key_cache;
static unsigned long keys_derived;

unsigned long sigv4_keys_derived(void)
{
    return keys_derived;
}

/* SHA-256 of secret, date, region and service into id[32]; 0 or -1. */
static int scope_id(const char *secret, const char *date, const char *region, const char *service,
                    unsigned char id[SHA256_DIGEST_LENGTH])
{
    EVP_MD *alg = sha256_md();
    EVP_MD_CTX *ctx = alg ? EVP_MD_CTX_new() : NULL;
    const char *part[4] = { secret, date, region, service };
    int rc = ctx && EVP_DigestInit_ex2(ctx, alg, NULL) ? 0 : -1;

    for (int i = 0; i < 4 && rc == 0; i++)
        if (!EVP_DigestUpdate(ctx, part[i], strlen(part[i]) + 1)) /* with its NUL */
            rc = -1;
    if (rc == 0 && !EVP_DigestFinal_ex(ctx, id, NULL))
        rc = -1;
    EVP_MD_CTX_free(ctx);
    return rc;
}

/*
 * The SigV4 signing key for secret, date, region and service into
 * key[32]: the cached one when it was derived for the same four, else
 * derived now (and cached). Returns 0, or -1 on failure (key wiped).
 */
static int sigv4_signing_key(const char *secret, const char *date, const char *region,
                             const char *service, unsigned char key[SHA256_DIGEST_LENGTH])
{
    unsigned char id[SHA256_DIGEST_LENGTH];

    if (scope_id(secret, date, region, service, id) == 0 && key_cache.valid
        && CRYPTO_memcmp(id, key_cache.scope_id, sizeof id) == 0) {
        memcpy(key, key_cache.key, SHA256_DIGEST_LENGTH);
        return 0;
    }
    OPENSSL_cleanse(&key_cache, sizeof key_cache);
    if (sigv4_derive_key(secret, date, region, service, key) != 0)
        return -1;
    keys_derived++;
    if (scope_id(secret, date, region, service, key_cache.scope_id) == 0) {
        memcpy(key_cache.key, key, SHA256_DIGEST_LENGTH);
        key_cache.valid = 1;
    }
    return 0;
}

/* ---- argument checks -------------------------------------------------- */

/* True if s is a non-empty region or service name: [A-Za-z0-9_-], at most
 * SIGV4_MAX_NAME bytes. Anything else could break the credential scope. */
static int valid_scope_part(const char *s)
{
    size_t n = 0;
    if (!s || !*s)
        return 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (!(is_unreserved(ch) && ch != '.' && ch != '~') || n >= SIGV4_MAX_NAME)
            return 0;
    }
    return 1;
}

/* True if s can be a host header value: non-empty, at most SIGV4_MAX_HOST
 * bytes of [A-Za-z0-9.-_:[]] (a name or IP literal, optionally with a port).
 * Whitespace, '/', '?', '#', '@' and control bytes are refused. */
static int valid_host(const char *s)
{
    size_t n = 0;
    if (!s || !*s)
        return 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (!(is_unreserved(ch) || ch == ':' || ch == '[' || ch == ']') || ch == '~'
            || n >= SIGV4_MAX_HOST)
            return 0;
    }
    return 1;
}

/* ---- presigning ------------------------------------------------------- */

/* One query parameter, both halves already RFC 3986 encoded (malloc'd). */
struct qparam {
    char *name;
    char *value;
};

/* qsort comparator: by encoded name, then by encoded value (bytewise). */
static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Set p to the encoded name and value. Returns 0, or -1 on allocation failure
 * (p may then hold one half, which qparams_free releases). */
static int qparam_set(struct qparam *p, const char *name, const char *value)
{
    struct util_buf n = { 0 }, v = { 0 };
    sbuf_add_uri_encoded(&n, name);
    sbuf_add_uri_encoded(&v, value);
    p->name = sbuf_take(&n);
    p->value = sbuf_take(&v);
    return p->name && p->value ? 0 : -1;
}

/* Wipe and free the n parameters in ps and the array itself. */
static void qparams_free(struct qparam *ps, size_t n)
{
    if (!ps)
        return;
    for (size_t i = 0; i < n; i++) {
        free(ps[i].name);
        if (ps[i].value) {
            OPENSSL_cleanse(ps[i].value, strlen(ps[i].value));
            free(ps[i].value);
        }
    }
    free(ps);
}

/* Append the sorted parameters as "n1=v1&n2=v2..." to b. */
static void sbuf_add_query(struct util_buf *b, const struct qparam *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_addc(b, '&');
        util_buf_add(b, ps[i].name);
        sbuf_addc(b, '=');
        util_buf_add(b, ps[i].value);
    }
}

char *sigv4_presign_query(const struct aws_credentials *c, const char *host, const char *service,
                          const char *region, const char *const *params, size_t nparams,
                          int expires, time_t at)
{
    enum { NFIXED = 6 };
    struct qparam *ps = NULL;
    size_t np = 0;
    struct util_buf creq = { 0 }, sts = { 0 }, out = { 0 };
    char *result = NULL;
    char longdate[17], shortdate[9], scope[3 * SIGV4_MAX_NAME + 32];
    char credential[sizeof c->access_key_id + sizeof scope + 1], expires_s[16];
    char payload_hash[2 * SHA256_DIGEST_LENGTH + 1], creq_hash[2 * SHA256_DIGEST_LENGTH + 1];
    char sig_hex[2 * SHA256_DIGEST_LENGTH + 1];
    unsigned char key[SHA256_DIGEST_LENGTH], sig[SHA256_DIGEST_LENGTH];
    struct tm tm;

    if (!c || !c->access_key_id[0] || !c->secret_access_key[0]
        || !memchr(c->access_key_id, '\0', sizeof c->access_key_id)
        || !memchr(c->secret_access_key, '\0', sizeof c->secret_access_key))
        return NULL;
    if (!valid_host(host) || !valid_scope_part(service) || !valid_scope_part(region))
        return NULL;
    if (expires < 1 || expires > SIGV4_MAX_EXPIRES || (nparams && !params))
        return NULL;
    if (!gmtime_r(&at, &tm) || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
        return NULL;
    for (size_t i = 0; i < 2 * nparams; i++)
        if (!params[i])
            return NULL;

    if (strftime(longdate, sizeof longdate, "%Y%m%dT%H%M%SZ", &tm) != sizeof longdate - 1)
        return NULL;
    memcpy(shortdate, longdate, 8);
    shortdate[8] = '\0';
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", shortdate, region, service);
    snprintf(credential, sizeof credential, "%s/%s", c->access_key_id, scope);
    snprintf(expires_s, sizeof expires_s, "%d", expires);

    ps = calloc(nparams + NFIXED, sizeof *ps);
    if (!ps)
        return NULL;
    for (size_t i = 0; i < nparams; i++)
        if (qparam_set(&ps[np++], params[2 * i], params[2 * i + 1]) != 0)
            goto done;
    if (qparam_set(&ps[np++], "X-Amz-Algorithm", SIGV4_ALGORITHM) != 0
        || qparam_set(&ps[np++], "X-Amz-Credential", credential) != 0
        || qparam_set(&ps[np++], "X-Amz-Date", longdate) != 0
        || qparam_set(&ps[np++], "X-Amz-Expires", expires_s) != 0
        || qparam_set(&ps[np++], "X-Amz-SignedHeaders", "host") != 0)
        goto done;
    if (c->session_token && c->session_token[0]
        && qparam_set(&ps[np++], "X-Amz-Security-Token", c->session_token) != 0)
        goto done;
    qsort(ps, np, sizeof *ps, qparam_cmp);

    /* Canonical request: method, path, query, headers, signed headers, payload hash. */
    if (sha256_hex("", 0, payload_hash) != 0)
        goto done;
    util_buf_add(&creq, "GET\n/\n");
    sbuf_add_query(&creq, ps, np);
    util_buf_add(&creq, "\nhost:");
    util_buf_add(&creq, host);
    util_buf_add(&creq, "\n\nhost\n");
    util_buf_add(&creq, payload_hash);
    if (creq.oom || sha256_hex(creq.p, creq.len, creq_hash) != 0)
        goto done;

    /* String to sign: algorithm, date, scope, hash of the canonical request. */
    util_buf_add(&sts, SIGV4_ALGORITHM "\n");
    util_buf_add(&sts, longdate);
    sbuf_addc(&sts, '\n');
    util_buf_add(&sts, scope);
    sbuf_addc(&sts, '\n');
    util_buf_add(&sts, creq_hash);
    if (sts.oom)
        goto done;

    if (sigv4_signing_key(c->secret_access_key, shortdate, region, service, key) != 0)
        goto done;
    if (hmac_sha256(key, sizeof key, sts.p, sig) != 0)
        goto done;
    hex_encode(sig, sizeof sig, sig_hex);

    sbuf_add_query(&out, ps, np);
    util_buf_add(&out, "&X-Amz-Signature=");
    util_buf_add(&out, sig_hex);
    result = sbuf_take(&out);

done:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(sig, sizeof sig);
    qparams_free(ps, np);
    sbuf_wipe(&creq);
    sbuf_wipe(&sts);
    sbuf_wipe(&out);
    return result;
}

/* Return the malloc'd string "prefix/?query", wiping and freeing query
 * (which may be NULL: the result is then NULL). */
static char *token_join(const char *prefix, char *query)
{
    struct util_buf b = { 0 };
    if (!query)
        return NULL;
    util_buf_add(&b, prefix);
    util_buf_add(&b, "/?");
    util_buf_add(&b, query);
    OPENSSL_cleanse(query, strlen(query));
    free(query);
    return sbuf_take(&b);
}

char *sigv4_dsql_token(const struct aws_credentials *c, const char *host, const char *region,
                       int admin, int expires, time_t at)
{
    const char *params[] = { "Action", admin ? "DbConnectAdmin" : "DbConnect" };
    if (!valid_host(host))
        return NULL;
    return token_join(host, sigv4_presign_query(c, host, "dsql", region, params, 1, expires, at));
}

char *sigv4_rds_token(const struct aws_credentials *c, const char *host, int port,
                      const char *region, const char *user, int expires, time_t at)
{
    const char *params[] = { "Action", "connect", "DBUser", user };
    char hostport[SIGV4_MAX_HOST + 8];
    if (!valid_host(host) || strchr(host, ':') || port < 1 || port > 65535 || !user || !*user)
        return NULL;
    snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    return token_join(hostport,
                      sigv4_presign_query(c, hostport, "rds-db", region, params, 2, expires, at));
}
