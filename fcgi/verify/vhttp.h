/*
 * vhttp.h — the verifier's minimal HTTP/1.1 GET client: http:// over TCP,
 * https:// over OpenSSL TLS with the peer verified against the system CA
 * store (or a CA file given with vhttp_set_cafile) and its host name
 * checked. One connection per request (Connection: close); bodies by
 * Content-Length, chunked, or to the end of the stream; 30 s socket timeout.
 */
#ifndef ZS_VHTTP_H
#define ZS_VHTTP_H

#include <stddef.h>

struct vhttp_resp {
    int status;
    char content_type[128];
    char *body; /* malloc'd, NUL-terminated (len excludes the NUL) */
    size_t len;
};

/* Use the PEM CA bundle at path instead of the system store (NULL: the system store). */
void vhttp_set_cafile(const char *path);

/*
 * GET base_url + path (path starts with '/', may carry a query). base_url is
 * http[s]://host[:port][/prefix]. Returns 0 with *out filled (any status),
 * or -1 with a reason in err (bad URL, connection, TLS, malformed response).
 * The caller frees out with vhttp_free.
 */
int vhttp_get(const char *base_url, const char *path, struct vhttp_resp *out, char *err,
              size_t errlen);

/* Release a response's body. */
void vhttp_free(struct vhttp_resp *r);

#endif
