/*
 * jwt.h — bearer-token authentication: JSON Web Tokens (RFC 7519) in JWS
 * compact form (RFC 7515), signed with HMAC-SHA-256 ("HS256", RFC 7518 §3.2)
 * only, and the key ring file the signing keys live in.
 *
 * A token names its signing key in the JWS header ("kid") and carries the
 * claims zerosum needs: issuer ("iss") and audience ("aud"), which must be
 * the configured ones; the account id ("sub"); what the caller may do
 * ("scope": "user" or "admin"); and its validity window in integer seconds
 * since the epoch: issued at ("iat", required), not before ("nbf",
 * optional) and expiry ("exp", required). The window is bounded by a
 * policy: a leeway for clocks that run ahead and a maximum lifetime.
 *
 * The key ring holds the current key (signs new tokens) and at most one
 * previous key (still verifies), so the key can be rotated without
 * invalidating tokens already handed out.
 *
 * Built on OpenSSL's HMAC and json-c rather than libjwt, to avoid pulling in
 * another JSON library for one algorithm.
 *
 * Everything here is reentrant: no global state, so it is safe in pre-forked
 * workers and threads alike.
 */
#ifndef ZS_JWT_H
#define ZS_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest token jwt_verify looks at, in characters; longer is JWT_MALFORMED. */
#define JWT_MAX_TOKEN_LEN 4096

/* Shortest HMAC key accepted: RFC 7518 §3.2 requires at least the hash size. */
#define JWT_MIN_KEY_LEN 32

/* Size of the keys jwt_keyring_create / jwt_keyring_rotate generate. */
#define JWT_KEY_LEN 32

/* Longest key held in a struct jwt_key. */
#define JWT_KEY_MAX 64

/* Longest kid: 1..32 characters of [A-Za-z0-9._-]. */
#define JWT_KID_MAX 32

/* Keys in a ring: the current one and the previous one. */
#define JWT_KEYRING_MAX 2

/* Capacity of the iss and aud strings of struct jwt_claims (63 bytes + NUL). */
#define JWT_NAME_CAP 64

/*
 * The subject of every admin token the CLI mints: `revoke-tokens --admin`
 * revokes this subject, so an admin token with any other sub is refused
 * at minting (zerosum token).
 */
#define JWT_ADMIN_SUBJECT "00000000-0000-0000-0000-000000000000"

enum jwt_scope { JWT_SCOPE_USER = 1, JWT_SCOPE_ADMIN = 2 };

struct jwt_claims {
    char sub[64]; /* account id (a UUID string, 36 chars); NUL-terminated */
    enum jwt_scope scope;
    int64_t iat;               /* issued at, seconds since epoch */
    int64_t nbf;               /* not before; jwt_verify reports iat when the token has none */
    int64_t exp;               /* expiry, seconds since epoch */
    char iss[JWT_NAME_CAP];    /* issuer */
    char aud[JWT_NAME_CAP];    /* audience: jwt_sign writes it as a string; jwt_verify
                                  reports the policy's audience it matched */
    char kid[JWT_KID_MAX + 1]; /* jwt_verify: the key that verified it (jwt_sign ignores it) */
};

/* One HMAC key and its id. */
struct jwt_key {
    char kid[JWT_KID_MAX + 1];
    unsigned char key[JWT_KEY_MAX];
    size_t len;
};

/* keys[0] is current (signs); keys[1..n) are still accepted. */
struct jwt_keyring {
    int n;
    struct jwt_key keys[JWT_KEYRING_MAX];
};

/* What a verified token must also satisfy. */
struct jwt_policy {
    const char *issuer;   /* "iss" must equal it */
    const char *audience; /* "aud" must equal it, or be an array containing it */
    int64_t leeway;       /* seconds iat and nbf may lie in the future (clock skew) */
    int64_t max_lifetime; /* exp - iat may not exceed it */
};

enum jwt_status {
    JWT_OK = 0,
    JWT_MALFORMED,     /* not a compact JWS with JSON-object header and payload */
    JWT_BAD_ALG,       /* header alg is not exactly "HS256" */
    JWT_BAD_SIGNATURE, /* signature wrong, wrong length, or cannot be checked */
    JWT_EXPIRED,       /* exp <= now */
    JWT_BAD_CLAIMS,    /* sub, scope, iat, exp, iss or aud missing or ill-typed; nbf ill-typed */
    JWT_UNKNOWN_KID,   /* header kid missing, not a string, or names no key of the ring */
    JWT_BAD_ISSUER,    /* iss is not the policy's issuer */
    JWT_BAD_AUDIENCE,  /* aud does not name the policy's audience */
    JWT_NOT_YET_VALID, /* nbf or iat later than now + leeway */
    JWT_BAD_LIFETIME   /* exp - iat is not in 1..max_lifetime */
};

/*
 * Verify the compact JWS `token` (NUL-terminated) with the key ring at time
 * `now` under policy `pol`, and on success fill *out.
 *
 * Checks, in this order, each failing with the status named:
 *  1. token, pol and out are non-NULL; the token is at most
 *     JWT_MAX_TOKEN_LEN characters, has exactly two dots, a non-empty header
 *     and payload, and each part is canonical base64url (see base64url.h)
 *     — else JWT_MALFORMED.
 *  2. The header decodes to a JSON object (json-c, strict mode, nesting
 *     depth 8, valid UTF-8, nothing after the object but whitespace)
 *     — else JWT_MALFORMED; its "alg" is the string "HS256", exactly
 *     ("none", "HS512", "hs256", missing or not a string) — else
 *     JWT_BAD_ALG; "typ" is absent or the string "JWT" and there is no
 *     "crit" (we implement no header extensions) — else JWT_MALFORMED;
 *     "kid" is a string equal to the kid of a key in ring (ring non-NULL)
 *     — else JWT_UNKNOWN_KID.
 *  3. That key is at least JWT_MIN_KEY_LEN bytes, the signature decodes to
 *     exactly 32 bytes and equals the HMAC-SHA-256 of "header.payload" as
 *     sent, compared with CRYPTO_memcmp — else JWT_BAD_SIGNATURE. An empty
 *     signature part is JWT_BAD_SIGNATURE. Nothing in the payload is parsed
 *     before this check passes.
 *  4. The payload decodes to a JSON object (as for the header) — else
 *     JWT_MALFORMED.
 *  5. "sub" is a string of 1..63 bytes with no NUL, "scope" is "user" or
 *     "admin", "iat" and "exp" are JSON integers (not a float like 1.5 or
 *     1e9, not a string) that fit int64_t, "nbf" is absent or such an
 *     integer, "iss" is a string of 1..63 bytes without NUL, and "aud" is
 *     such a string or an array whose every element is a string — else
 *     JWT_BAD_CLAIMS. Other claims are ignored; a duplicated member counts
 *     with its last value (json-c).
 *  6. iss equals pol->issuer (bytewise) — else JWT_BAD_ISSUER.
 *  7. aud equals pol->audience, or is an array with an element equal to it
 *     — else JWT_BAD_AUDIENCE.
 *  8. exp > now — else JWT_EXPIRED (a token is dead at its exp second; no
 *     leeway here).
 *  9. nbf <= now + pol->leeway and iat <= now + pol->leeway — else
 *     JWT_NOT_YET_VALID.
 * 10. 0 < exp - iat <= pol->max_lifetime (without overflow) — else
 *     JWT_BAD_LIFETIME.
 *
 * On JWT_OK, *out holds the claims, nbf = iat when the token has no nbf,
 * aud = pol->audience, kid = the verifying key's. *out is zeroed on entry
 * and written only on JWT_OK. Allocates nothing that outlives the call; the
 * caller owns token, ring, pol and out.
 */
enum jwt_status jwt_verify(const char *token, const struct jwt_keyring *ring,
                           const struct jwt_policy *pol, time_t now, struct jwt_claims *out);

/*
 * Sign *claims with *key into a compact JWS with header
 * {"alg":"HS256","typ":"JWT","kid":KID} and payload
 * {"iss":...,"aud":...,"sub":...,"scope":...,"iat":...,"nbf":...,"exp":...}
 * (compact JSON, that member order; aud a string; claims->kid is ignored).
 *
 * Returns a malloc'd NUL-terminated token the caller must free(), or NULL if
 * an argument is NULL, key->len is not in JWT_MIN_KEY_LEN..JWT_KEY_MAX,
 * key->kid is not a valid kid, claims->scope is not a jwt_scope value, or
 * sub, iss or aud is empty, not NUL-terminated within its buffer, or holds
 * a byte outside printable ASCII (0x20..0x7e) — a string jwt_verify might
 * not read back the same — or if memory or OpenSSL fails. Any token
 * returned is accepted by jwt_verify with a ring holding the key and a
 * policy naming the same iss and aud whenever the window rules of steps
 * 8-10 hold.
 */
char *jwt_sign(const struct jwt_claims *claims, const struct jwt_key *key);

/*
 * Stable lower-case machine name of a status, suitable for a log line:
 * "ok", "malformed", "bad_alg", "bad_signature", "expired", "bad_claims",
 * "unknown_kid", "bad_issuer", "bad_audience", "not_yet_valid",
 * "bad_lifetime"; "unknown" for any other value. Returns a static string;
 * never NULL.
 */
const char *jwt_status_name(enum jwt_status s);

/* 1 when kid is 1..JWT_KID_MAX characters of [A-Za-z0-9._-], else 0 (NULL: 0). */
int jwt_kid_valid(const char *kid);

/* The key that signs new tokens (keys[0]), or NULL for a NULL or empty ring. */
const struct jwt_key *jwt_keyring_current(const struct jwt_keyring *ring);

/*
 * Load the key ring file at `path` into *ring.
 *
 * Format: lines ending in "\n" (the last may lack it); blank lines and lines
 * starting with '#' are ignored; every other line is exactly "KID HEX": a
 * valid kid, one space, 64 hex characters (either case) — a JWT_KEY_LEN-byte
 * key. 1..JWT_KEYRING_MAX keys, distinct kids, the first is current. For
 * stacks created before key rotation existed, a file that is exactly 64 hex
 * characters and at most one "\n" is read as one key with kid "legacy".
 * Files over 4096 bytes are refused.
 *
 * Refuses anything but a regular file (symlinks to one are followed), and a
 * file whose mode grants group or other any access (mode & 077): chmod 600.
 *
 * Returns 0, or -1 with a message naming the path (and line) in
 * err[0..errlen) (always NUL-terminated when errlen > 0; err may be NULL
 * when errlen is 0); on -1 *ring is not written. Key material never appears
 * in err and the read buffers are wiped before returning. The caller should
 * OPENSSL_cleanse the ring when done.
 */
int jwt_keyring_load(const char *path, struct jwt_keyring *ring, char *err, size_t errlen);

/*
 * Create a new key ring file at `path` holding one freshly generated key
 * (RAND_bytes, JWT_KEY_LEN bytes) whose kid is made from `now` (UTC,
 * "YYYYMMDDTHHMMSSZ-xxxx" with 4 random hex digits), mode 0600. Fails if
 * `path` already exists, even as a dangling symlink (O_CREAT|O_EXCL), so it
 * never overwrites a ring. On a failure after creating the file, removes it.
 * The new kid is copied to kid[0..kidlen) when kid is non-NULL.
 *
 * Returns 0, or -1 with a message in err as for jwt_keyring_load. Key
 * material never appears in err and is wiped from memory before returning.
 */
int jwt_keyring_create(const char *path, time_t now, char *kid, size_t kidlen, char *err,
                       size_t errlen);

/*
 * Rotate the key ring file at `path`: a freshly generated key (kid as for
 * jwt_keyring_create) becomes current and the old current key becomes the
 * previous one — the old previous key, if any, is dropped. With
 * keep_previous == 0 the new key is the only one (every token signed
 * before is refused from then on: the procedure for a leaked key).
 *
 * Serialised against other rotations by an exclusive flock on "PATH.lock"
 * (created 0600). The new ring is written to "PATH.tmp" (0600, fsync'd) and
 * renamed over `path`, then the directory is fsync'd: a reader sees the old
 * ring or the new one, never a mix. The new kid is copied to kid as for
 * jwt_keyring_create.
 *
 * Returns 0, or -1 with a message in err as for jwt_keyring_load (`path`
 * must hold a ring jwt_keyring_load accepts; on failure it is unchanged).
 */
int jwt_keyring_rotate(const char *path, int keep_previous, time_t now, char *kid, size_t kidlen,
                       char *err, size_t errlen);

#endif
