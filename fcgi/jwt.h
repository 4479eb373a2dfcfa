/*
 * jwt.h — bearer-token authentication: JSON Web Tokens (RFC 7519) in JWS
 * compact form (RFC 7515), signed with HMAC-SHA-256 ("HS256", RFC 7518 §3.2)
 * only, plus the secret key file the signing key lives in.
 *
 * A token carries exactly the claims zerosum needs: the account id ("sub"),
 * what the caller may do ("scope": "user" or "admin") and when the token
 * stops being valid ("exp", integer seconds since the epoch). Other claims
 * (iat, nbf, aud, ...) are ignored, not enforced.
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

/* Size of the key jwt_key_generate writes and jwt_key_load reads. */
#define JWT_KEY_LEN 32

enum jwt_scope { JWT_SCOPE_USER = 1, JWT_SCOPE_ADMIN = 2 };

struct jwt_claims {
    char sub[64];          /* account id (a UUID string, 36 chars); NUL-terminated */
    enum jwt_scope scope;
    int64_t exp;           /* seconds since epoch */
};

enum jwt_status {
    JWT_OK = 0,
    JWT_MALFORMED,      /* not a compact JWS with JSON-object header and payload */
    JWT_BAD_ALG,        /* header alg is not exactly "HS256" */
    JWT_BAD_SIGNATURE,  /* signature wrong, wrong length, or cannot be checked */
    JWT_EXPIRED,        /* exp <= now */
    JWT_BAD_CLAIMS      /* sub, scope or exp missing or ill-typed */
};

/*
 * Verify the compact JWS `token` (NUL-terminated) with the HMAC key
 * key[0..keylen) at time `now`, and on success fill *out.
 *
 * Checks, in this order, each failing with the status named:
 *  1. token and out are non-NULL; the token is at most JWT_MAX_TOKEN_LEN
 *     characters, has exactly two dots, a non-empty header and payload,
 *     and each part is canonical base64url (see base64url.h) — else
 *     JWT_MALFORMED.
 *  2. The header decodes to a JSON object (json-c, strict mode, nesting
 *     depth 8, valid UTF-8, nothing after the object but whitespace)
 *     — else JWT_MALFORMED; its "alg" is the string "HS256", exactly
 *     ("none", "HS512", "hs256", missing or not a string) — else
 *     JWT_BAD_ALG; "typ" is absent or the string "JWT" and there is no
 *     "crit" (we implement no header extensions) — else JWT_MALFORMED.
 *  3. key is non-NULL with keylen >= JWT_MIN_KEY_LEN, the signature
 *     decodes to exactly 32 bytes and equals the HMAC-SHA-256 of
 *     "header.payload" as sent, compared with CRYPTO_memcmp — else
 *     JWT_BAD_SIGNATURE. An empty signature part is JWT_BAD_SIGNATURE.
 *     Nothing in the payload is parsed before this check passes.
 *  4. The payload decodes to a JSON object (as for the header) — else
 *     JWT_MALFORMED.
 *  5. "sub" is a string of 1..63 bytes with no NUL, "scope" is "user" or
 *     "admin", "exp" is a JSON integer (not a float like 1.5 or 1e9, not a
 *     string) that fits int64_t — else JWT_BAD_CLAIMS. Other claims are
 *     ignored; a duplicated member counts with its last value (json-c).
 *  6. exp > now — else JWT_EXPIRED (a token is dead at its exp second).
 *
 * *out is zeroed on entry and written only on JWT_OK. Allocates nothing that
 * outlives the call; the caller owns token, key and out.
 */
enum jwt_status jwt_verify(const char *token, const unsigned char *key, size_t keylen,
                           time_t now, struct jwt_claims *out);

/*
 * Sign *claims with key[0..keylen) into a compact JWS with header
 * {"alg":"HS256","typ":"JWT"} and payload {"sub":...,"scope":...,"exp":...}
 * (compact JSON, that member order).
 *
 * Returns a malloc'd NUL-terminated token the caller must free(), or NULL if
 * an argument is NULL, keylen < JWT_MIN_KEY_LEN, claims->scope is not a
 * jwt_scope value, claims->sub is empty, not NUL-terminated within its 64
 * bytes, or holds a byte outside printable ASCII (0x20..0x7e) — a sub that
 * jwt_verify might not read back the same — or if memory or OpenSSL fails.
 * Any token returned is accepted by jwt_verify with the same key while
 * now < claims->exp.
 */
char *jwt_sign(const struct jwt_claims *claims, const unsigned char *key, size_t keylen);

/*
 * Stable lower-case machine name of a status, suitable for an error code in
 * a JSON response or a log line: "ok", "malformed", "bad_alg",
 * "bad_signature", "expired", "bad_claims"; "unknown" for any other value.
 * Returns a static string; never NULL.
 */
const char *jwt_status_name(enum jwt_status s);

/*
 * Create a new key file at `path`: JWT_KEY_LEN random bytes (RAND_bytes) as
 * 64 lower-case hex characters and a newline, mode 0600. Fails if `path`
 * already exists, even as a dangling symlink (O_CREAT|O_EXCL), so it never
 * overwrites a key. On a failure after creating the file, removes it.
 *
 * Returns 0, or -1 with a message naming the failing call and path in
 * err[0..errlen) (always NUL-terminated when errlen > 0; err may be NULL when
 * errlen is 0). The key itself never appears in err and is wiped from memory
 * before returning.
 */
int jwt_key_generate(const char *path, char *err, size_t errlen);

/*
 * Load the key file at `path` (format as jwt_key_generate writes it: exactly
 * 64 hex characters, either case, then at most one "\n" and nothing else)
 * into key[0..keycap), storing the key length (JWT_KEY_LEN) in *keylen.
 *
 * Refuses anything but a regular file (symlinks to one are followed), and a
 * file whose mode grants group or other any access (mode & 077): chmod 600.
 * keycap must be at least JWT_KEY_LEN.
 *
 * Returns 0, or -1 with a message in err[0..errlen) as for
 * jwt_key_generate; on -1, key and *keylen are not written. The file's
 * contents never appear in err, and the read buffer is wiped before
 * returning. The caller owns key and should OPENSSL_cleanse it when done.
 */
int jwt_key_load(const char *path, unsigned char *key, size_t keycap, size_t *keylen,
                 char *err, size_t errlen);

#endif
