/*
 * vrun_int.h — the state of one verification run, shared by vrun.c (files,
 * key, checkpoint) and vrun_checks.c (consistency, inclusion, replay,
 * verdict). Private to fcgi/verify/.
 */
#ifndef ZS_VRUN_INT_H
#define ZS_VRUN_INT_H

#include <limits.h>
#include <stddef.h>

#include "note.h"
#include "verify/vrecord.h"
#include "verify/vreplay.h"
#include "verify/vrun.h"

struct run {
    const struct vrun_opts *o;
    struct vsource *src;
    struct vcheck_list checks;
    char *note;
    size_t note_len;
    struct checkpoint cp;
    struct note_key *key;
    char *vkey;     /* the key's vkey text */
    int key_pinned; /* already pinned in dir */
    char dir[PATH_MAX];
    struct checkpoint pin, since;
    int have_pin, have_since;
    struct vreplay *rp;
    int rp_complete; /* every record up to the checkpoint went through rp */
    char item_ref[VRUN_MAX_ITEMS][VREC_REF_LEN + 1];
    long long item_index[VRUN_MAX_ITEMS];
};

/* Verify a signed note by the run's key and parse its checkpoint: 0, or -1 with *why. */
int vrun_signed_checkpoint(struct run *r, const char *note, size_t len, struct checkpoint *cp,
                           const char **why);

/* Load a saved checkpoint (name "pin" or "since"): 1 loaded, 0 no pin, -1 failed (check added). */
int vrun_load_saved(struct run *r, const char *name, const char *path, struct checkpoint *out);

/* A proof's "path" array of hex hashes into path: its length, or -1. */
int vrun_proof_path(json_object *proof, unsigned char path[][32]);

/* Fetch the checkpoint, find the state dir and the key, verify the signature: 0, or -1. */
int vrun_checkpoint_and_key(struct run *r);

/* Write len bytes to dir/name through a temporary file and a rename: 0, or -1. */
int vrun_write_file(const char *dir, const char *name, const char *data, size_t len);

/* mkdir -p with mode 0700: 0, or -1. */
int vrun_make_dirs(const char *dir);

#endif
