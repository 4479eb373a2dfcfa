/*
 * base64url.c — unpadded RFC 4648 §5 base64url with strict, canonical
 * decoding. See base64url.h for exactly what is rejected and why.
 */
#include "base64url.h"

#include <stdint.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Value 0..63 of one base64url character, or -1 for anything else
 * (including '=', '+', '/', whitespace and NUL).
 */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t base64url_encoded_len(size_t n)
{
    static const size_t tail[3] = { 0, 2, 3 };

    if (n / 3 > (SIZE_MAX - 3) / 4)
        return SIZE_MAX;
    return (n / 3) * 4 + tail[n % 3];
}

size_t base64url_decoded_len(size_t n)
{
    static const size_t tail[4] = { 0, 0, 1, 2 };

    return (n / 4) * 3 + tail[n % 4];
}

size_t base64url_encode(const void *src, size_t n, char *dst, size_t dstcap)
{
    const unsigned char *in = src;
    size_t need = base64url_encoded_len(n);
    size_t i, o = 0;

    if (need == SIZE_MAX || dstcap <= need)
        return (size_t)-1;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        dst[o++] = b64url_alphabet[(v >> 18) & 63];
        dst[o++] = b64url_alphabet[(v >> 12) & 63];
        dst[o++] = b64url_alphabet[(v >> 6) & 63];
        dst[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        dst[o++] = b64url_alphabet[(v >> 18) & 63];
        dst[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        dst[o++] = b64url_alphabet[(v >> 18) & 63];
        dst[o++] = b64url_alphabet[(v >> 12) & 63];
        dst[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    dst[o] = '\0';
    return o;
}

int base64url_decode(const char *src, size_t n, unsigned char *dst, size_t dstcap, size_t *outlen)
{
    const unsigned char *in = (const unsigned char *)src;
    size_t rem = n % 4;
    size_t i, o = 0;
    int a, b, c, d;

    if (rem == 1 || dstcap < base64url_decoded_len(n))
        return -1;

    for (i = 0; i + 4 <= n; i += 4) {
        a = b64url_value(in[i]);
        b = b64url_value(in[i + 1]);
        c = b64url_value(in[i + 2]);
        d = b64url_value(in[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0)
            return -1;
        dst[o++] = (unsigned char)(a << 2 | b >> 4);
        dst[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
        dst[o++] = (unsigned char)((c & 3) << 6 | d);
    }

    if (rem == 2) {
        a = b64url_value(in[i]);
        b = b64url_value(in[i + 1]);
        /* Two characters carry 12 bits for 8: the low 4 must be zero. */
        if (a < 0 || b < 0 || (b & 15) != 0)
            return -1;
        dst[o++] = (unsigned char)(a << 2 | b >> 4);
    } else if (rem == 3) {
        a = b64url_value(in[i]);
        b = b64url_value(in[i + 1]);
        c = b64url_value(in[i + 2]);
        /* Three characters carry 18 bits for 16: the low 2 must be zero. */
        if (a < 0 || b < 0 || c < 0 || (c & 3) != 0)
            return -1;
        dst[o++] = (unsigned char)(a << 2 | b >> 4);
        dst[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
    }

    *outlen = o;
    return 0;
}
