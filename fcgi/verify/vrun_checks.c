/*
 * vrun_checks.c — consistency with saved checkpoints, inclusion of records,
 * the replay walk, the pin and the verdict of one run (see vrun.h).
 */
#include "verify/vrun_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

/*
 * Is the checkpoint old a prefix of the checkpoint cp? Either is the run's
 * (r->cp), the other the pin or --since; the pin comes second when --size
 * chose a checkpoint older than it. Adds the check name.
 */
static void consistency(struct run *r, const char *name, const struct checkpoint *old,
                        const struct checkpoint *cp)
{
    unsigned long long m = old->size, n = cp->size;
    if (strcmp(old->origin, cp->origin) != 0) {
        vcheck_add(&r->checks, name, 0, "the saved checkpoint is of another log (%s)", old->origin);
        return;
    }
    if (m > n) {
        vcheck_add(&r->checks, name, 0,
                   "the log shrank: the saved checkpoint has size %llu, the log now %llu", m, n);
        return;
    }
    if (m == n) {
        int same = memcmp(old->root, cp->root, 32) == 0 && memcmp(old->state, cp->state, 32) == 0;
        vcheck_add(&r->checks, name, same,
                   same ? "same size %llu, same root and state"
                        : "same size %llu but another root or state: history was rewritten",
                   m);
        return;
    }
    char err[200] = "";
    json_object *proof = vsource_consistency(r->src, m, n, err, sizeof err);
    if (proof) {
        unsigned char path[MERKLE_MAX_PATH][32];
        int len = vrun_proof_path(proof, path);
        int good = len >= 0 && merkle_verify_consistency(m, n, old->root, cp->root, path, len);
        json_object_put(proof);
        vcheck_add(&r->checks, name, good,
                   good ? "size %llu extends size %llu (consistency proof of %d hashes)"
                        : "the consistency proof from %llu to %llu does not verify: the saved "
                          "checkpoint is not a prefix of this log (%d hashes)",
                   good ? n : m, good ? m : n, len);
        return;
    }
    unsigned char prefix[32];
    if (cp == &r->cp && r->rp_complete && vreplay_root_at(r->rp, m, prefix) == 0) {
        int good = memcmp(prefix, old->root, 32) == 0;
        vcheck_add(&r->checks, name, good,
                   good ? "the first %llu records hash to the saved root"
                        : "the first %llu records do not hash to the saved root: history was "
                          "rewritten",
                   m);
        return;
    }
    vcheck_add(&r->checks, name, 0, "no consistency proof from %llu to %llu: %s", m, n,
               err[0] ? err : "not in the bundle");
}

/* Verify one inclusion answer for item i: 1 verified, 0 not (why in detail). */
static int inclusion_ok(struct run *r, int i, json_object *p, char *detail, size_t dlen)
{
    json_object *rec, *ix, *ts, *lh;
    if (!json_object_object_get_ex(p, "record", &rec) || !json_object_object_get_ex(p, "index", &ix)
        || !json_object_object_get_ex(p, "tree_size", &ts)) {
        snprintf(detail, dlen, "the proof lacks record, index or tree_size");
        return 0;
    }
    const char *text = json_object_get_string(rec);
    size_t len = (size_t)json_object_get_string_len(rec);
    uint64_t index = (uint64_t)json_object_get_int64(ix),
             size = (uint64_t)json_object_get_int64(ts);
    const char *kind = r->o->item_kind[i];
    char head[128];
    snprintf(head, sizeof head, "zerosum/v1 %s\nref %s\n", kind, r->item_ref[i]);
    if (len < strlen(head) || memcmp(text, head, strlen(head)) != 0) {
        snprintf(detail, dlen, "the record served is not the %s's", kind);
        return 0;
    }
    if (size != r->cp.size) {
        snprintf(detail, dlen, "the proof is for size %llu, the checkpoint's is %llu",
                 (unsigned long long)size, (unsigned long long)r->cp.size);
        return 0;
    }
    unsigned char leaf[32], served[32], path[MERKLE_MAX_PATH][32];
    merkle_leaf_hash(text, len, leaf);
    if (json_object_object_get_ex(p, "leaf_hash", &lh)
        && (merkle_unhex(json_object_get_string(lh), (size_t)json_object_get_string_len(lh), served)
                < 0
            || memcmp(served, leaf, 32) != 0)) {
        snprintf(detail, dlen, "the served leaf_hash is not the hash of the served record");
        return 0;
    }
    int n = vrun_proof_path(p, path);
    if (n < 0 || !merkle_verify_inclusion(index, size, leaf, path, n, r->cp.root)) {
        snprintf(detail, dlen,
                 "the record at index %llu does not hash with its path to the checkpoint's root",
                 (unsigned long long)index);
        return 0;
    }
    snprintf(detail, dlen, "record %llu of %llu, path of %d hashes to the root",
             (unsigned long long)index, (unsigned long long)size, n);
    return 1;
}

/* The inclusion check of item i. */
static void inclusion(struct run *r, int i)
{
    char name[160], detail[300], err[200] = "";
    const char *kind = r->o->item_kind[i], *id = r->o->item_id[i];
    snprintf(name, sizeof name, "inclusion:%s:%s", kind, id);
    if (vrec_ref(strcmp(kind, "fill") == 0 ? "trade" : kind, id, r->item_ref[i]) < 0) {
        vcheck_add(&r->checks, name, 0, "not a UUID");
        return;
    }
    json_object *p = vsource_inclusion(r->src, kind, id, r->cp.size, err, sizeof err);
    if (p) {
        int good = inclusion_ok(r, i, p, detail, sizeof detail);
        json_object_put(p);
        vcheck_add(&r->checks, name, good, "%s", detail);
        return;
    }
    unsigned char root[32];
    if (r->src->bundle && r->rp_complete && r->item_index[i] >= 0
        && vreplay_root(r->rp, root) == 0) {
        int good = memcmp(root, r->cp.root, 32) == 0;
        vcheck_add(&r->checks, name, good, "record %lld of the bundle's %llu records, %s",
                   r->item_index[i], (unsigned long long)r->cp.size,
                   good ? "which hash to the checkpoint's root" : "which do NOT hash to the root");
        return;
    }
    vcheck_add(&r->checks, name, 0, "%s", err[0] ? err : "not in the bundle");
}

/* vsource_records callback: into the replay, noting where the asked-for records are. */
static int on_record(void *ctx, uint64_t index, const char *text, size_t len)
{
    struct run *r = ctx;
    for (int i = 0; i < r->o->n_items; i++) {
        const char *nl = memchr(text, '\n', len);
        if (r->item_index[i] < 0 && nl && (size_t)(text + len - nl) > 5 + VREC_REF_LEN
            && memcmp(nl + 1, "ref ", 4) == 0 && memcmp(nl + 5, r->item_ref[i], VREC_REF_LEN) == 0)
            r->item_index[i] = (long long)index;
    }
    return vreplay_add(r->rp, index, text, len) < 0 ? 2 : 0;
}

/* Walk the records into a replay (for --replay, or a bundle's own proofs). */
static void walk(struct run *r)
{
    r->rp = vreplay_new();
    if (!r->rp)
        return;
    if (r->have_pin && r->pin.size < r->cp.size)
        vreplay_want_root(r->rp, r->pin.size);
    if (r->have_since && r->since.size < r->cp.size && r->since.size != r->pin.size)
        vreplay_want_root(r->rp, r->since.size);
    for (int i = 0; i < r->o->n_items; i++)
        if (vrec_ref(strcmp(r->o->item_kind[i], "fill") == 0 ? "trade" : r->o->item_kind[i],
                     r->o->item_id[i], r->item_ref[i])
            < 0)
            r->item_ref[i][0] = 0;
    char err[200] = "";
    int rc = vsource_records(r->src, r->cp.size, on_record, r, err, sizeof err);
    r->rp_complete = rc == 0;
    if (rc != 0 && r->o->replay)
        vcheck_add(&r->checks, "replay_download", 0, "%s", rc == 2 ? "out of memory" : err);
    if (r->rp_complete && r->o->replay)
        vreplay_finish(r->rp, &r->cp, &r->checks);
}

/*
 * Advance the pin to the run's checkpoint (and pin the key): after a clean
 * run only, and never back to a smaller size (--size).
 */
static void advance_pin(struct run *r)
{
    if (r->o->no_pin || !vcheck_all_ok(&r->checks) || (r->have_pin && r->pin.size > r->cp.size))
        return;
    if (vrun_make_dirs(r->dir) < 0
        || (!r->key_pinned && vrun_write_file(r->dir, "key", r->vkey, strlen(r->vkey)) < 0)
        || vrun_write_file(r->dir, "checkpoint", r->note, r->note_len) < 0) {
        vcheck_add(&r->checks, "pin", 0, "cannot write the pinned state in %s", r->dir);
        return;
    }
    fprintf(stderr, "zerosum-verify: pinned size %llu in %s\n", (unsigned long long)r->cp.size,
            r->dir);
}

int vrun(struct vsource *src, const struct vrun_opts *o)
{
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    r->o = o;
    r->src = src;
    for (int i = 0; i < VRUN_MAX_ITEMS; i++)
        r->item_index[i] = -1;
    if (vrun_checkpoint_and_key(r) == 0) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/checkpoint", r->dir);
        r->have_pin = !o->no_pin && vrun_load_saved(r, "pin", path, &r->pin) == 1;
        r->have_since = o->since && vrun_load_saved(r, "since", o->since, &r->since) == 1;
        if (o->replay || src->bundle)
            walk(r);
        if (r->have_pin && o->size && r->pin.size > r->cp.size)
            consistency(r, "pin", &r->cp, &r->pin); /* --size: an older checkpoint */
        else if (r->have_pin)
            consistency(r, "pin", &r->pin, &r->cp);
        if (r->have_since)
            consistency(r, "since", &r->since, &r->cp);
        for (int i = 0; i < o->n_items; i++)
            inclusion(r, i);
        advance_pin(r);
    }
    int have = r->cp.origin[0] != 0;
    vcheck_print(&r->checks, have ? r->cp.origin : NULL, have, r->cp.size, stdout);
    int status = vcheck_all_ok(&r->checks) ? 0 : 1;
    vcheck_free(&r->checks);
    vreplay_free(r->rp);
    note_key_free(r->key);
    free(r->vkey);
    free(r->note);
    free(r);
    return status;
}
