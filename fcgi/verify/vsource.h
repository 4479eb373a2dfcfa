/*
 * vsource.h — where the verifier reads the log from: a zerosum URL (its
 * public /proof/key, /proof/checkpoint, /proof/records, /proof/inclusion and
 * /proof/consistency endpoints) or a bundle file written by export-proof
 * (docs/VERIFY.md: the same answers, collected in one JSON document).
 */
#ifndef ZS_VSOURCE_H
#define ZS_VSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct vsource {
    const char *url;     /* URL mode */
    json_object *bundle; /* bundle mode (owned) */
};

/* Open a bundle file: 0, or -1 with err. */
int vsource_open_bundle(struct vsource *s, const char *path, char *err, size_t errlen);

/* Release what the source holds. */
void vsource_close(struct vsource *s);

/* The log's verifier key as C2SP vkey text (malloc'd): 0, or -1 with err. */
int vsource_vkey(struct vsource *s, char **vkey, char *err, size_t errlen);

/*
 * The signed checkpoint note (malloc'd, NUL-terminated) of tree size size,
 * or the latest when size is 0: 0, or -1 with err. A bundle holds one
 * checkpoint: the caller checks its size.
 */
int vsource_checkpoint(struct vsource *s, unsigned long long size, char **note, size_t *len,
                       char *err, size_t errlen);

/* Called per record in order; nonzero stops the walk (and is returned). */
typedef int (*vsource_record_fn)(void *ctx, uint64_t index, const char *text, size_t len);

/*
 * Walk the records at positions [0, size) in order. Returns 0 after all of
 * them, the callback's nonzero value, or -1 with err (a source error, or
 * the source has fewer records or returns them out of order).
 */
int vsource_records(struct vsource *s, uint64_t size, vsource_record_fn fn, void *ctx, char *err,
                    size_t errlen);

/*
 * The inclusion proof of the record of kind ("transfer", "bid" or "fill")
 * with uuid id in the tree of size size: the parsed JSON answer (caller
 * puts it) or NULL with err. In bundle mode NULL with err "" when the bundle
 * has no proof for it.
 */
json_object *vsource_inclusion(struct vsource *s, const char *kind, const char *id, uint64_t size,
                               char *err, size_t errlen);

/* The consistency proof from → to, as for vsource_inclusion. */
json_object *vsource_consistency(struct vsource *s, uint64_t from, uint64_t to, char *err,
                                 size_t errlen);

/* GET path on url and parse a 200 JSON answer (URL mode; used by export too). */
json_object *vsource_get_json(const char *url, const char *path, char *err, size_t errlen);

#endif
