/*
 * test_note.c — unit tests for fcgi/note.c: C2SP signed notes with Ed25519.
 *
 * Test data (not code): the signed-note example of golang.org/x/mod/sumdb/note
 * (note.go's package documentation and note_test.go): the signer key
 * "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
 * (base64 of 0x01 || the 32-byte seed below), its verifier key, the text and
 * the published signature line. Ed25519 is deterministic (RFC 8032), so our
 * signature must match it byte for byte.
 *
 * `test_note --sign DIR` writes DIR/key.pem (created by note_key_load_or_create),
 * DIR/pub.pem, DIR/body and DIR/sig (the raw 64-byte signature of the body), for
 * tests/unit/test_note_openssl.sh to check with `openssl pkeyutl -verify -rawin`.
 */
#include "tap.h"

#include "note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char peter_seed_hex[] =
    "810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173";
static const char peter_text[] = "If you think cryptography is the answer to your problem,\n"
                                 "then you don't know what your problem is.\n";
static const char peter_note[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static void unhex32(const char *h, unsigned char out[32])
{
    int i;

    for (i = 0; i < 32; i++) {
        unsigned int v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

static void test_go_vector(void)
{
    unsigned char seed[32];
    struct note_key *priv, *pub;
    char err[256], *signed_note, *vkey;
    size_t body_len = 0;

    unhex32(peter_seed_hex, seed);
    priv = note_key_from_seed("PeterNeumann", seed, err, sizeof err);
    ok(priv != NULL, "a private key from a seed");
    pub = note_key_from_vkey(peter_vkey, err, sizeof err);
    ok(pub != NULL, "the published verifier key parses");
    if (priv == NULL || pub == NULL)
        return;
    is_int(note_key_id(pub), 0xc74f20a3, "key id from the verifier key");
    is_int(note_key_id(priv), 0xc74f20a3, "key id = SHA-256(name LF 0x01 pub)[:4]");
    vkey = note_vkey(priv);
    is_str(vkey, peter_vkey, "vkey text of the private key = the published verifier key");
    free(vkey);
    signed_note = note_sign(priv, peter_text);
    is_str(signed_note, peter_note, "signature = the published one, byte for byte");
    free(signed_note);
    ok(note_verify(pub, peter_note, strlen(peter_note), &body_len), "published note verifies");
    is_int(body_len, strlen(peter_text), "body length reported");
    note_key_free(priv);
    note_key_free(pub);
}

static void test_round_trip(const char *dir)
{
    char path[512], err[256], *note, *vkey, *pem, *body;
    struct note_key *k, *k2, *pub, *other, *from_pem;
    struct checkpoint cp, back;
    size_t len, body_len = 0;
    struct stat st;
    int i;

    snprintf(path, sizeof path, "%s/secrets/sub/log.pem", dir);
    k = note_key_load_or_create(path, "zerosum.local/ledger", err, sizeof err);
    ok(k != NULL, "key created on first use");
    if (k == NULL) {
        printf("# %s\n", err);
        return;
    }
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "key file mode 0600");
    snprintf(path, sizeof path, "%s/secrets/sub", dir);
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "key directory created 0700");
    snprintf(path, sizeof path, "%s/secrets/sub/log.pem", dir);
    k2 = note_key_load_or_create(path, "zerosum.local/ledger", err, sizeof err);
    ok(k2 != NULL && note_key_id(k2) == note_key_id(k), "second use loads the same key");

    memset(&cp, 0, sizeof cp);
    strcpy(cp.origin, "zerosum.local/ledger");
    cp.size = 1234567;
    for (i = 0; i < 32; i++) {
        cp.root[i] = (unsigned char)i;
        cp.state[i] = (unsigned char)(255 - i);
    }
    body = note_checkpoint_body(&cp);
    is_str(body,
           "zerosum.local/ledger\n1234567\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
           "zerosum-state fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0\n",
           "checkpoint body text");
    ok(body && note_checkpoint_parse(body, strlen(body), &back) == 0 && back.size == cp.size
           && memcmp(back.root, cp.root, 32) == 0 && memcmp(back.state, cp.state, 32) == 0
           && strcmp(back.origin, cp.origin) == 0,
       "checkpoint parse round trip");

    note = note_sign(k, body);
    ok(note != NULL, "signed");
    len = note ? strlen(note) : 0;
    vkey = note_vkey(k);
    pub = note_key_from_vkey(vkey, err, sizeof err);
    ok(pub && note_verify(pub, note, len, &body_len), "verifies with the vkey");
    is_int(body_len, strlen(body), "body_len = the checkpoint body");
    ok(note_verify(k, note, len, NULL), "verifies with the private key itself");
    pem = note_public_pem(k);
    ok(pem && strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0, "public PEM");
    from_pem = note_key_from_public_pem("zerosum.local/ledger", pem, strlen(pem), err, sizeof err);
    ok(from_pem && note_verify(from_pem, note, len, NULL), "verifies with the public PEM");
    ok(vkey && strncmp(vkey, "zerosum.local/ledger+", 21) == 0 && strlen(vkey) == 21 + 8 + 1 + 44,
       "vkey is <name>+<hex8>+<base64 of 33 bytes>");

    /* Tamper with every byte of the body, one at a time: nothing verifies. */
    {
        int bad = 0;
        size_t j, blen = strlen(body);
        for (j = 0; j < blen; j++) {
            note[j] ^= 0x01;
            if (note_verify(pub, note, len, NULL))
                bad++;
            note[j] ^= 0x01;
        }
        is_int(bad, 0, "flipping any one body byte breaks the signature");
        note[len - 5] ^= 0x01;
        ok(!note_verify(pub, note, len, NULL), "a flipped signature byte fails");
        note[len - 5] ^= 0x01;
    }
    other = note_key_load_or_create("/dev/null/x", "zerosum.local/ledger", err, sizeof err);
    ok(other == NULL, "a key path under a non-directory fails with a message");
    snprintf(path, sizeof path, "%s/other.pem", dir);
    other = note_key_load_or_create(path, "zerosum.local/ledger", err, sizeof err);
    ok(other && !note_verify(other, note, len, NULL), "another key of the same name fails");
    note_key_free(other);
    snprintf(path, sizeof path, "%s/secrets/sub/log.pem", dir);
    other = note_key_load_or_create(path, "other.example/log", err, sizeof err);
    ok(other && !note_verify(other, note, len, NULL), "the same key under another name fails");
    note_key_free(other);

    ok(!note_verify(pub, note, len - 1, NULL), "a truncated note fails");
    ok(!note_verify(pub, body, strlen(body), NULL), "a note without signatures fails");
    ok(note_sign(pub, body) == NULL, "a public key cannot sign");
    ok(note_sign(k, "no newline") == NULL, "a body without a final LF is refused");
    ok(note_key_from_vkey("zerosum+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", err,
                          sizeof err)
           == NULL,
       "a vkey whose id does not match its key is refused");
    ok(note_key_from_vkey("bad name+c74f20a3+ARpc", err, sizeof err) == NULL,
       "a malformed vkey is refused");

    chmod(path, 0644);
    other = note_key_load_or_create(path, "zerosum.local/ledger", err, sizeof err);
    ok(other == NULL && strstr(err, "chmod 600") != NULL, "a key file others may read is refused");
    chmod(path, 0600);

    {
        struct checkpoint c;
        ok(note_checkpoint_parse(
               "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nzerosum-state "
               "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0\n",
               118, &c)
               == -1,
           "a size with a leading zero is malformed");
        ok(note_checkpoint_parse(body, strlen(body) - 1, &c) == -1, "a body without its LF");
        ok(note_checkpoint_parse(note, len, &c) == -1, "a whole note is not a body");
    }
    free(body);
    free(note);
    free(vkey);
    free(pem);
    note_key_free(from_pem);
    note_key_free(pub);
    note_key_free(k2);
    note_key_free(k);
}

/* Write the files for the openssl CLI check (see the file comment). */
static int sign_files(const char *dir)
{
    char path[512], err[256], *note, *pem, *nl;
    const char *body = "zerosum.local/ledger\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
                       "zerosum-state "
                       "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0\n";
    struct note_key *k;
    FILE *f;

    snprintf(path, sizeof path, "%s/key.pem", dir);
    k = note_key_load_or_create(path, "zerosum.local/ledger", err, sizeof err);
    if (k == NULL || (note = note_sign(k, body)) == NULL || (pem = note_public_pem(k)) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/pub.pem", dir);
    f = fopen(path, "w");
    fputs(pem, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/body", dir);
    f = fopen(path, "w");
    fputs(body, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/note", dir);
    f = fopen(path, "w");
    fputs(note, f);
    fclose(f);
    /* The signature line's base64 without its trailing LF. */
    nl = strrchr(note, ' ');
    snprintf(path, sizeof path, "%s/sig.b64", dir);
    f = fopen(path, "w");
    fputs(nl + 1, f);
    fclose(f);
    free(note);
    free(pem);
    note_key_free(k);
    return 0;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/test_note.XXXXXX", cmd[64];

    if (argc == 3 && strcmp(argv[1], "--sign") == 0)
        return sign_files(argv[2]);
    test_go_vector();
    if (mkdtemp(dir) == NULL)
        return 2;
    test_round_trip(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return done_testing();
}
