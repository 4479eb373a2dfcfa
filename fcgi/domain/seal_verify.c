/*
 * seal_verify.c — the transfers a checked seal verified beyond its own
 * batch (struct seal_verified in seal.h): ids and prints, sorted by id.
 */
#include "domain/seal.h"

#include <stdlib.h>
#include <string.h>

#include "domain/seal_batch.h"

void seal_verified_init(struct seal_verified *v)
{
    memset(v, 0, sizeof(*v));
}

void seal_verified_free(struct seal_verified *v)
{
    free(v->tx);
    memset(v, 0, sizeof(*v));
}

static int vt_cmp(const void *a, const void *b)
{
    return strcmp(((const struct seal_verified_tx *)a)->id,
                  ((const struct seal_verified_tx *)b)->id);
}

int seal_verified_fill(struct seal_verified *v, const PGresult *tr, const PGresult *en)
{
    int n = PQntuples(tr);
    unsigned char(*fp)[RECORD_HASH_LEN] = calloc((size_t)(n ? n : 1), RECORD_HASH_LEN);

    v->n = 0;
    if (!fp)
        return -1;
    if ((size_t)n > v->cap) {
        struct seal_verified_tx *t = realloc(v->tx, (size_t)n * sizeof(*t));
        if (!t) {
            free(fp);
            return -1;
        }
        v->tx = t;
        v->cap = (size_t)n;
    }
    if (seal_transfer_prints(tr, en, fp) < 0) {
        free(fp);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(tr, i, RT_ID);
        if (strlen(id) >= sizeof(v->tx[0].id))
            continue; /* not a UUID: never matches, so it waits for a checked seal */
        memcpy(v->tx[v->n].id, id, strlen(id) + 1);
        memcpy(v->tx[v->n].print, fp[i], RECORD_HASH_LEN);
        v->n++;
    }
    free(fp);
    if (v->n > 1)
        qsort(v->tx, v->n, sizeof(*v->tx), vt_cmp);
    return 0;
}

int seal_verified_prefix(const struct seal_verified *v, const PGresult *tr, const PGresult *en)
{
    static const unsigned char none[RECORD_HASH_LEN];
    int n = PQntuples(tr), k = 0;
    unsigned char(*fp)[RECORD_HASH_LEN] = calloc((size_t)(n ? n : 1), RECORD_HASH_LEN);

    if (!fp || seal_transfer_prints(tr, en, fp) < 0) {
        free(fp);
        return -1;
    }
    for (; k < n; k++) {
        struct seal_verified_tx key;
        const struct seal_verified_tx *hit;
        const char *id = PQgetvalue(tr, k, RT_ID);

        if (strlen(id) >= sizeof(key.id))
            break;
        memcpy(key.id, id, strlen(id) + 1);
        hit = v->n ? bsearch(&key, v->tx, v->n, sizeof(*v->tx), vt_cmp) : NULL;
        if (!hit || memcmp(hit->print, fp[k], RECORD_HASH_LEN) != 0
            || memcmp(fp[k], none, RECORD_HASH_LEN) == 0)
            break;
    }
    free(fp);
    return k;
}
