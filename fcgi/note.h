/*
 * note.h — C2SP signed notes (https://c2sp.org/signed-note) signed with
 * Ed25519 (OpenSSL EVP_PKEY_ED25519), and the C2SP tlog-checkpoint body.
 *
 * A note is a body (non-empty UTF-8 text, every line ending in LF), an empty
 * line, and signature lines "— <name> <base64(keyid[4] || sig[64])>\n" (the
 * dash is U+2014 EM DASH). Key id = first 4 bytes of
 * SHA-256(name || 0x0A || 0x01 || public key[32]); the signature covers the
 * body bytes (including its final LF). A verifier key (vkey) is
 * "<name>+<8 hex key id>+<base64(0x01 || public key)>".
 *
 * Keys are loaded or generated on first use as a PEM PKCS#8 private key file
 * with mode 0600 (its directory created 0700 when missing).
 */
#ifndef ZS_NOTE_H
#define ZS_NOTE_H

#include <stddef.h>
#include <stdint.h>

/* A name, its key id, and a public or a private Ed25519 key. Opaque. */
struct note_key;

/*
 * Load the Ed25519 private key at pem_path, or generate one and write it
 * there (mode 0600, parent directories created 0700 if missing; a file that
 * group or others may read is refused). Concurrent first uses agree on one
 * key (the file is linked into place atomically). name is the key name (the
 * log origin). Returns the key (free with note_key_free), or NULL with a
 * message in err.
 */
struct note_key *note_key_load_or_create(const char *pem_path, const char *name, char *err,
                                         size_t errlen);

/*
 * A private key named name from its raw 32-byte RFC 8032 seed (for tests and
 * for importing a key from another tool). NULL with err.
 */
struct note_key *note_key_from_seed(const char *name, const unsigned char seed[32], char *err,
                                    size_t errlen);

/* A public key from its C2SP vkey text; NULL with err on anything malformed. */
struct note_key *note_key_from_vkey(const char *vkey, char *err, size_t errlen);

/* A public key named name from PEM SubjectPublicKeyInfo text (len bytes). NULL with err. */
struct note_key *note_key_from_public_pem(const char *name, const char *pem, size_t len, char *err,
                                          size_t errlen);

/*
 * Sign body (NUL-terminated, non-empty, ending in LF) with a private key.
 * Returns malloc'd "<body>\n<signature line>", or NULL (public key, bad body,
 * or an OpenSSL failure).
 */
char *note_sign(const struct note_key *k, const char *body);

/*
 * Does the note (len bytes) carry a signature line by k (same name and key
 * id) whose signature over the body verifies? Returns 1 and stores the body
 * length (through its final LF, without the blank separator line) in
 * *body_len when body_len is not NULL; 0 otherwise (malformed note included).
 */
int note_verify(const struct note_key *k, const char *note, size_t len, size_t *body_len);

/* malloc'd "<name>+<hex8 key id>+<base64(0x01 || public key)>", or NULL. */
char *note_vkey(const struct note_key *k);

/* malloc'd PEM SubjectPublicKeyInfo of the public key, or NULL. */
char *note_public_pem(const struct note_key *k);

/* The key's name (NUL-terminated; owned by k). */
const char *note_key_name(const struct note_key *k);

/* The key's 4-byte key id as an integer (big-endian). */
uint32_t note_key_id(const struct note_key *k);

/* Free a key from any constructor; NULL is a no-op. */
void note_key_free(struct note_key *k);

/*
 * A checkpoint body: origin, tree size, base64 (standard, padded) root, and
 * the extension line "zerosum-state <64 hex>", each ending in LF.
 */
struct checkpoint {
    char origin[256];
    uint64_t size;
    unsigned char root[32], state[32];
};

/*
 * Parse a checkpoint body of exactly len bytes (the 4 lines, nothing after;
 * e.g. the body_len that note_verify reports). Returns 0 parsed, -1 malformed.
 */
int note_checkpoint_parse(const char *body, size_t len, struct checkpoint *out);

/* malloc'd checkpoint body text for c, or NULL (empty origin or one with a LF). */
char *note_checkpoint_body(const struct checkpoint *c);

#endif
