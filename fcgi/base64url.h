/*
 * base64url.h — the URL- and filename-safe base64 alphabet of RFC 4648 §5,
 * without '=' padding, as JWS/JWT (RFC 7515 §2) uses it.
 *
 * Decoding is strict and canonical: every byte string has exactly one
 * accepted encoding. Rejected: '=' padding, the standard-alphabet '+' and
 * '/', whitespace or any other byte outside [A-Za-z0-9_-], an encoded
 * length with len % 4 == 1 (no byte string encodes to that), and non-zero
 * unused bits in the last character (e.g. "Zh" for "f", whose only encoding
 * is "Zg"). Rejecting those bits means a token's signature cannot be
 * re-spelled in its last character and still be accepted.
 *
 * No allocation: callers pass buffers sized with the *_len helpers.
 */
#ifndef ZS_BASE64URL_H
#define ZS_BASE64URL_H

#include <stddef.h>

/*
 * Number of characters the encoding of n bytes takes, not counting the
 * terminating NUL. Returns SIZE_MAX if the result would not fit in size_t.
 */
size_t base64url_encoded_len(size_t n);

/*
 * Upper bound of the number of bytes that decoding n characters yields; exact
 * for any n that base64url_decode accepts. Never overflows.
 */
size_t base64url_decoded_len(size_t n);

/*
 * Encode the n bytes at src into dst as unpadded base64url and NUL-terminate
 * it. dstcap must be at least base64url_encoded_len(n) + 1. Returns the number
 * of characters written (without the NUL), or (size_t)-1 if dstcap is too
 * small, in which case dst is left untouched. src may be NULL when n == 0.
 * The caller owns both buffers.
 */
size_t base64url_encode(const void *src, size_t n, char *dst, size_t dstcap);

/*
 * Decode the n characters at src (need not be NUL-terminated; a NUL within
 * the n characters is an error) into dst, which holds dstcap bytes. On
 * success stores the decoded length in *outlen and returns 0. Returns -1 if
 * the input is not canonical unpadded base64url (see the file comment) or if
 * dstcap < base64url_decoded_len(n); dst may then hold partial output and
 * *outlen is not written. The caller owns both buffers.
 */
int base64url_decode(const char *src, size_t n, unsigned char *dst, size_t dstcap, size_t *outlen);

#endif
