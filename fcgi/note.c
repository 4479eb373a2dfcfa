/*
 * note.c — C2SP signed notes with Ed25519 through OpenSSL's EVP interface,
 * the C2SP verifier-key text, the log key file, and the tlog-checkpoint
 * body. See note.h for the formats.
 */
#include "note.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#define NOTE_NAME_MAX 255
#define NOTE_SIG_LEN 64
#define NOTE_ALG_ED25519 0x01
#define NOTE_MAX_SIGS 64

/* UTF-8 of U+2014 EM DASH followed by a space: the start of a signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";

struct note_key {
    char name[NOTE_NAME_MAX + 1];
    uint32_t id;
    unsigned char pub[32];
    EVP_PKEY *pkey;
    int is_private;
};

/* printf into err (if given). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard padded base64 (RFC 4648 §4) of n bytes into dst (needs 4*ceil(n/3)+1). */
static void b64_encode(const unsigned char *src, size_t n, char *dst)
{
    size_t i, o = 0;

    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)src[i + 1] << 8;
        if (i + 2 < n)
            v |= src[i + 2];
        dst[o++] = b64_alphabet[(v >> 18) & 63];
        dst[o++] = b64_alphabet[(v >> 12) & 63];
        dst[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    dst[o] = '\0';
}

/* Value of a standard base64 character, or -1. */
static int b64_value(unsigned char c)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(b64_alphabet, c);
    return p ? (int)(p - b64_alphabet) : -1;
}

/*
 * Strict padded standard base64: len % 4 == 0, '=' only as the last one or
 * two characters, unused bits zero (one encoding per byte string). Decodes
 * into dst (cap bytes); returns the byte count or -1.
 */
static long b64_decode(const char *s, size_t len, unsigned char *dst, size_t cap)
{
    size_t i, o = 0;

    if (len % 4 != 0)
        return -1;
    for (i = 0; i < len; i += 4) {
        int v[4], k, pad = 0;
        uint32_t w;

        for (k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64_value((unsigned char)s[i + k])) < 0) {
                return -1;
            }
        }
        if (pad == 1 && s[i + 3] != '=')
            return -1;
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        if (o + 3 - (size_t)pad > cap)
            return -1;
        dst[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            dst[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            dst[o++] = (unsigned char)w;
    }
    return (long)o;
}

/*
 * A key name as C2SP requires (non-empty, no spaces, no '+'), restricted
 * here to printable ASCII (which also rules out every Unicode space).
 */
static int name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > NOTE_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f || name[i] == '+')
            return 0;
    return 1;
}

/* Key id = first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || pub). */
static uint32_t key_id(const char *name, const unsigned char pub[32])
{
    unsigned char buf[NOTE_NAME_MAX + 2 + 32], md[SHA256_DIGEST_LENGTH];
    size_t n = strlen(name);

    memcpy(buf, name, n);
    buf[n] = 0x0a;
    buf[n + 1] = NOTE_ALG_ED25519;
    memcpy(buf + n + 2, pub, 32);
    SHA256(buf, n + 2 + 32, md);
    return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
}

/*
 * Wrap pkey (ownership taken, freed on failure) as a key named name: checks
 * the type and name, derives the raw public key and the key id.
 */
static struct note_key *key_wrap(EVP_PKEY *pkey, const char *name, int is_private, char *err,
                                 size_t errlen)
{
    struct note_key *k;
    size_t publen = 32;

    if (pkey == NULL) {
        set_err(err, errlen, "no key");
        return NULL;
    }
    if (EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
        set_err(err, errlen, "not an Ed25519 key");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (name == NULL || !name_ok(name, strlen(name))) {
        set_err(err, errlen, "invalid key name (non-empty printable ASCII, no spaces or '+')");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL || !EVP_PKEY_get_raw_public_key(pkey, k->pub, &publen) || publen != 32) {
        set_err(err, errlen, "cannot read the public key");
        free(k);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    strcpy(k->name, name);
    k->pkey = pkey;
    k->is_private = is_private;
    k->id = key_id(k->name, k->pub);
    return k;
}

struct note_key *note_key_from_seed(const char *name, const unsigned char seed[32], char *err,
                                    size_t errlen)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);

    return key_wrap(pkey, name, 1, err, errlen);
}

/* Read the private key PEM at path (already open as fd); NULL with err. */
static EVP_PKEY *read_private_pem(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    EVP_PKEY *pkey;
    FILE *f;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((st.st_mode & 077) != 0) {
        set_err(err, errlen, "%s: mode %03o lets others read the log key; chmod 600 it", path,
                (unsigned)(st.st_mode & 0777));
        close(fd);
        return NULL;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL)
        set_err(err, errlen, "%s: not a PEM private key", path);
    return pkey;
}

/* mkdir -p the directory part of path with mode 0700. Returns 0 or -1 with err. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    size_t i, n;
    char *slash;

    if (strlen(path) >= sizeof dir) {
        set_err(err, errlen, "key path too long");
        return -1;
    }
    strcpy(dir, path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    n = strlen(dir);
    for (i = 1; i <= n; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        dir[i] = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            set_err(err, errlen, "mkdir %s: %s", dir, strerror(errno));
            return -1;
        }
        if (i < n)
            dir[i] = '/';
    }
    return 0;
}

/*
 * Generate a key and publish it at path without ever exposing a partial or
 * world-readable file: write a 0600 temporary file, fsync, then link() it
 * into place (fails if another process won the race; its key is then used).
 * Returns 0 created, 1 somebody else's file now exists, -1 error.
 */
static int create_key_file(const char *path, char *err, size_t errlen)
{
    char tmp[4200];
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx;
    FILE *f;
    int fd, rc = -1;

    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0) {
        set_err(err, errlen, "Ed25519 key generation failed");
        EVP_PKEY_CTX_free(ctx);
        return -1;
    }
    EVP_PKEY_CTX_free(ctx);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "%s: %s", tmp, strerror(errno));
        EVP_PKEY_free(pkey);
        return -1;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
    } else if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) && fflush(f) == 0
               && fsync(fileno(f)) == 0) {
        rc = 0;
    }
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    EVP_PKEY_free(pkey);
    if (rc == 0 && link(tmp, path) != 0) {
        rc = errno == EEXIST ? 1 : -1;
        if (rc < 0)
            set_err(err, errlen, "%s: %s", path, strerror(errno));
    } else if (rc < 0) {
        set_err(err, errlen, "%s: cannot write the key", tmp);
    }
    unlink(tmp);
    return rc;
}

struct note_key *note_key_load_or_create(const char *pem_path, const char *name, char *err,
                                         size_t errlen)
{
    int fd, attempt;

    if (pem_path == NULL || *pem_path == '\0') {
        set_err(err, errlen, "no key file configured");
        return NULL;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        fd = open(pem_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            EVP_PKEY *pkey = read_private_pem(fd, pem_path, err, errlen);
            return pkey ? key_wrap(pkey, name, 1, err, errlen) : NULL;
        }
        if (errno != ENOENT) {
            set_err(err, errlen, "%s: %s", pem_path, strerror(errno));
            return NULL;
        }
        if (make_parent(pem_path, err, errlen) != 0 || create_key_file(pem_path, err, errlen) < 0)
            return NULL;
    }
    set_err(err, errlen, "%s: cannot create the key", pem_path);
    return NULL;
}

struct note_key *note_key_from_vkey(const char *vkey, char *err, size_t errlen)
{
    const char *plus, *b64;
    char name[NOTE_NAME_MAX + 1], *end;
    unsigned char raw[40];
    unsigned long id;
    struct note_key *k;
    long n;

    if (vkey == NULL || (plus = strchr(vkey, '+')) == NULL
        || !name_ok(vkey, (size_t)(plus - vkey))) {
        set_err(err, errlen, "malformed verifier key: <name>+<hex8>+<base64>");
        return NULL;
    }
    memcpy(name, vkey, (size_t)(plus - vkey));
    name[plus - vkey] = '\0';
    for (n = 1; n <= 8; n++)
        if (!strchr("0123456789abcdef", plus[n]) || plus[n] == '\0')
            break;
    if (n != 9 || plus[9] != '+') {
        set_err(err, errlen, "malformed verifier key: the key id is 8 lowercase hex digits");
        return NULL;
    }
    id = strtoul(plus + 1, &end, 16);
    b64 = plus + 10;
    n = b64_decode(b64, strlen(b64), raw, sizeof raw);
    if (n != 33 || raw[0] != NOTE_ALG_ED25519) {
        set_err(err, errlen, "malformed verifier key: not base64 of 0x01 || 32-byte Ed25519 key");
        return NULL;
    }
    k = key_wrap(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw + 1, 32), name, 0, err,
                 errlen);
    if (k != NULL && k->id != (uint32_t)id) {
        set_err(err, errlen, "verifier key id %08lx does not match its key (%08" PRIx32 ")", id,
                k->id);
        note_key_free(k);
        return NULL;
    }
    return k;
}

struct note_key *note_key_from_public_pem(const char *name, const char *pem, size_t len, char *err,
                                          size_t errlen)
{
    BIO *bio;
    EVP_PKEY *pkey;

    if (pem == NULL || len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
        set_err(err, errlen, "no PEM");
        return NULL;
    }
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        set_err(err, errlen, "not a PEM public key");
        return NULL;
    }
    return key_wrap(pkey, name, 0, err, errlen);
}

/* A note text as C2SP requires: non-empty, ends in LF, no control characters but LF. */
static int text_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || s[len - 1] != '\n')
        return 0;
    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
            return 0;
    return 1;
}

char *note_sign(const struct note_key *k, const char *body)
{
    unsigned char blob[4 + NOTE_SIG_LEN];
    char b64[((4 + NOTE_SIG_LEN + 2) / 3) * 4 + 1];
    size_t len, siglen = NOTE_SIG_LEN, need;
    EVP_MD_CTX *ctx;
    char *out;
    int ok;

    if (k == NULL || !k->is_private || body == NULL || !text_ok(body, strlen(body)))
        return NULL;
    len = strlen(body);
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1
        && EVP_DigestSign(ctx, blob + 4, &siglen, (const unsigned char *)body, len) == 1
        && siglen == NOTE_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return NULL;
    blob[0] = (unsigned char)(k->id >> 24);
    blob[1] = (unsigned char)(k->id >> 16);
    blob[2] = (unsigned char)(k->id >> 8);
    blob[3] = (unsigned char)k->id;
    b64_encode(blob, sizeof blob, b64);
    need = len + 1 + strlen(sig_prefix) + strlen(k->name) + 1 + strlen(b64) + 2;
    out = malloc(need);
    if (out != NULL)
        snprintf(out, need, "%s\n%s%s %s\n", body, sig_prefix, k->name, b64);
    return out;
}

/* Does sig (64 bytes) verify over msg with k? */
static int ed25519_verify(const struct note_key *k, const unsigned char *sig, const char *msg,
                          size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1
        && EVP_DigestVerify(ctx, sig, NOTE_SIG_LEN, (const unsigned char *)msg, len) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

/*
 * Check one signature line [p, eol) (without its LF) against k: returns 1
 * it is k's and verifies, -1 it is k's (name and id) and fails, 0 another
 * key's, -2 malformed.
 */
static int check_sig_line(const struct note_key *k, const char *p, const char *eol,
                          const char *text, size_t text_len)
{
    size_t plen = strlen(sig_prefix);
    const char *name, *sp;
    unsigned char blob[4 + NOTE_SIG_LEN + 8];
    uint32_t id;
    long n;

    if ((size_t)(eol - p) <= plen || memcmp(p, sig_prefix, plen) != 0)
        return -2;
    name = p + plen;
    sp = memchr(name, ' ', (size_t)(eol - name));
    if (sp == NULL || !name_ok(name, (size_t)(sp - name)))
        return -2;
    n = b64_decode(sp + 1, (size_t)(eol - sp - 1), blob, sizeof blob);
    if (n < 4) {
        /* A signature too long for us is another key type's: not malformed. */
        return n < 0 && (size_t)(eol - sp - 1) > 4 * ((sizeof blob + 2) / 3) ? 0 : -2;
    }
    id = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
    if ((size_t)(sp - name) != strlen(k->name) || memcmp(name, k->name, (size_t)(sp - name)) != 0
        || id != k->id)
        return 0;
    if (n != 4 + NOTE_SIG_LEN)
        return -1;
    return ed25519_verify(k, blob + 4, text, text_len) ? 1 : -1;
}

int note_verify(const struct note_key *k, const char *note, size_t len, size_t *body_len)
{
    const char *p, *end = note + len, *sep = NULL;
    int verified = 0, count = 0;
    size_t i;

    if (k == NULL || note == NULL || len < 3 || !text_ok(note, len))
        return 0;
    for (i = len - 1; i > 0; i--)
        if (note[i] == '\n' && note[i - 1] == '\n') {
            sep = note + i;
            break;
        }
    if (sep == NULL || sep + 1 >= end)
        return 0;
    for (p = sep + 1; p < end; p++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        int r;

        if (eol == NULL || ++count > NOTE_MAX_SIGS)
            return 0;
        r = check_sig_line(k, p, eol, note, (size_t)(sep - note));
        if (r < 0)
            return 0; /* malformed, or a signature by k that fails: reject the note */
        if (r == 1)
            verified = 1;
        p = eol;
    }
    if (verified && body_len != NULL)
        *body_len = (size_t)(sep - note);
    return verified;
}

char *note_vkey(const struct note_key *k)
{
    unsigned char raw[33];
    char b64[45];
    size_t need;
    char *out;

    if (k == NULL)
        return NULL;
    raw[0] = NOTE_ALG_ED25519;
    memcpy(raw + 1, k->pub, 32);
    b64_encode(raw, sizeof raw, b64);
    need = strlen(k->name) + 1 + 8 + 1 + strlen(b64) + 1;
    out = malloc(need);
    if (out != NULL)
        snprintf(out, need, "%s+%08" PRIx32 "+%s", k->name, k->id, b64);
    return out;
}

char *note_public_pem(const struct note_key *k)
{
    BIO *bio;
    char *data, *out = NULL;
    long n;

    if (k == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
        return NULL;
    if (PEM_write_bio_PUBKEY(bio, k->pkey) && (n = BIO_get_mem_data(bio, &data)) > 0
        && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

const char *note_key_name(const struct note_key *k)
{
    return k->name;
}

uint32_t note_key_id(const struct note_key *k)
{
    return k->id;
}

void note_key_free(struct note_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

/* Next line of [*p, end) (without LF) into [*line, *line_end); 0, or -1 if no LF. */
static int next_line(const char **p, const char *end, const char **line, const char **line_end)
{
    const char *eol = memchr(*p, '\n', (size_t)(end - *p));

    if (*p >= end || eol == NULL)
        return -1;
    *line = *p;
    *line_end = eol;
    *p = eol + 1;
    return 0;
}

int note_checkpoint_parse(const char *body, size_t len, struct checkpoint *out)
{
    const char *p = body, *end = body + len, *l, *le;
    static const char ext[] = "zerosum-state ";
    unsigned char root[34];
    uint64_t size = 0;
    size_t n;

    if (body == NULL || out == NULL || !text_ok(body, len))
        return -1;
    memset(out, 0, sizeof *out);
    if (next_line(&p, end, &l, &le) != 0 || le == l || (size_t)(le - l) >= sizeof out->origin)
        return -1;
    memcpy(out->origin, l, (size_t)(le - l));
    if (next_line(&p, end, &l, &le) != 0 || le == l || (le - l > 1 && *l == '0') || le - l > 20)
        return -1;
    for (; l < le; l++) {
        if (*l < '0' || *l > '9' || size > (UINT64_MAX - (uint64_t)(*l - '0')) / 10)
            return -1;
        size = size * 10 + (uint64_t)(*l - '0');
    }
    out->size = size;
    if (next_line(&p, end, &l, &le) != 0
        || b64_decode(l, (size_t)(le - l), root, sizeof root) != 32)
        return -1;
    memcpy(out->root, root, 32);
    n = strlen(ext);
    if (next_line(&p, end, &l, &le) != 0 || (size_t)(le - l) != n + 64 || memcmp(l, ext, n) != 0)
        return -1;
    for (l += n; l < le; l++)
        if (!strchr("0123456789abcdef", *l))
            return -1;
    for (n = 0; n < 32; n++) {
        unsigned int v;
        sscanf(le - 64 + 2 * n, "%2x", &v);
        out->state[n] = (unsigned char)v;
    }
    return p == end ? 0 : -1;
}

char *note_checkpoint_body(const struct checkpoint *c)
{
    char root[45], state[65], *out;
    size_t need, i;

    if (c == NULL || c->origin[0] == '\0' || memchr(c->origin, '\0', sizeof c->origin) == NULL)
        return NULL;
    for (i = 0; c->origin[i] != '\0'; i++)
        if ((unsigned char)c->origin[i] < 0x20 || c->origin[i] == 0x7f)
            return NULL;
    b64_encode(c->root, 32, root);
    for (i = 0; i < 32; i++)
        snprintf(state + 2 * i, 3, "%02x", c->state[i]);
    need = strlen(c->origin) + 1 + 21 + 1 + 44 + 1 + 14 + 64 + 2;
    out = malloc(need);
    if (out != NULL)
        snprintf(out, need, "%s\n%" PRIu64 "\n%s\nzerosum-state %s\n", c->origin, c->size, root,
                 state);
    return out;
}
