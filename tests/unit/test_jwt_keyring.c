/*
 * test_jwt_keyring.c — unit tests for fcgi/jwt_keyring.c: the key ring file
 * (current + previous key by kid) created 0600, loaded, refused when it is
 * unsafe or malformed (never echoing a secret), rotated, and the legacy
 * one-key file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, symlink, strdup */
#endif
#include "tap.h"

#include "jwt_fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    test_key_file();
    return done_testing();
}
