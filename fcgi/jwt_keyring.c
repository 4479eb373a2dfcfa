/*
 * jwt_keyring.c — the key ring file HS256 tokens are signed with: loading,
 * creating and rotating it (tokens themselves are jwt.c). Contracts are in
 * jwt.h.
 *
 * Key material never reaches an error message, and every buffer that held
 * it is wiped before returning.
 */
#include "jwt.h"

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

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define JWT_KEY_HEX_LEN (2 * JWT_KEY_LEN)
#define ZS_JWT_PATH_MAX 1024    /* longest key ring path */
#define JWT_RING_FILE_MAX 4096  /* longest key ring file read */
#define JWT_LEGACY_KID "legacy" /* kid of a pre-rotation single-key file */

const struct jwt_key *jwt_keyring_current(const struct jwt_keyring *ring)
{
    return ring != NULL && ring->n > 0 ? &ring->keys[0] : NULL;
}

/* printf into err[0..errlen) if there is room; err may be NULL when errlen is 0. */
__attribute__((format(printf, 3, 4))) static void jwt_set_err(char *err, size_t errlen,
                                                              const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Decode exactly 2 * JWT_KEY_LEN hex characters into key; 0, or -1. */
static int jwt_unhex_key(const char *hex, unsigned char key[JWT_KEY_LEN])
{
    for (int i = 0; i < JWT_KEY_LEN; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
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
