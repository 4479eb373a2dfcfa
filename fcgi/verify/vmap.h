/*
 * vmap.h — an open-addressing hash map from a 32-byte ref (the binary form
 * of a record's or an account's 64-hex ref) to a dense index 0..n-1, so the
 * replay keeps its per-key state in plain arrays.
 */
#ifndef ZS_VMAP_H
#define ZS_VMAP_H

#include <stddef.h>
#include <stdint.h>

struct vmap {
    unsigned char (*keys)[32]; /* keys[i] = key of index i */
    uint32_t *slots;           /* index + 1, 0 = empty */
    size_t n, cap, nslots;
};

/* Index of key, or -1 when absent. */
long vmap_find(const struct vmap *m, const unsigned char key[32]);

/*
 * Index of key, inserting it (as index m->n) when absent; *added set to 1
 * then, else 0 (added may be NULL). Returns -1 on out of memory.
 */
long vmap_get(struct vmap *m, const unsigned char key[32], int *added);

/* Release the map's memory (the struct itself is the caller's). */
void vmap_free(struct vmap *m);

/* 64 hex digits at hex into key: 0, or -1 when malformed. */
int vmap_key(const char *hex, unsigned char key[32]);

#endif
