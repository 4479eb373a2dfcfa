/*
 * vmap.c — ref → dense index hash map (see vmap.h).
 */
#include "vmap.h"

#include <stdlib.h>
#include <string.h>

/* The key's slot hash: its first 8 bytes (keys are SHA-256 outputs). */
static size_t slot_of(const unsigned char key[32], size_t nslots)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (nslots - 1));
}

long vmap_find(const struct vmap *m, const unsigned char key[32])
{
    if (m->nslots == 0)
        return -1;
    for (size_t s = slot_of(key, m->nslots);; s = (s + 1) & (m->nslots - 1)) {
        uint32_t v = m->slots[s];
        if (v == 0)
            return -1;
        if (memcmp(m->keys[v - 1], key, 32) == 0)
            return (long)(v - 1);
    }
}

/* Double the slot table (or create it) and re-place every key: 0, or -1. */
static int grow_slots(struct vmap *m)
{
    size_t nslots = m->nslots ? m->nslots * 2 : 1024;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        size_t s = slot_of(m->keys[i], nslots);
        while (slots[s])
            s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)(i + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return 0;
}

long vmap_get(struct vmap *m, const unsigned char key[32], int *added)
{
    long found = vmap_find(m, key);
    if (added)
        *added = found < 0;
    if (found >= 0)
        return found;
    if (m->n >= UINT32_MAX - 1)
        return -1;
    if ((m->n + 1) * 2 > m->nslots && grow_slots(m) < 0)
        return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        void *keys = realloc(m->keys, cap * 32);
        if (!keys)
            return -1;
        m->keys = keys;
        m->cap = cap;
    }
    memcpy(m->keys[m->n], key, 32);
    size_t s = slot_of(key, m->nslots);
    while (m->slots[s])
        s = (s + 1) & (m->nslots - 1);
    m->slots[s] = (uint32_t)(m->n + 1);
    return (long)m->n++;
}

void vmap_free(struct vmap *m)
{
    free(m->keys);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The value of one hex digit, or -1. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int vmap_key(const char *hex, unsigned char key[32])
{
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
