/*
 * vrun.h — one verification run of zerosum-verify: what to check, and the
 * run itself (fetch, check, pin, verdict). See docs/VERIFY.md.
 */
#ifndef ZS_VRUN_H
#define ZS_VRUN_H

#include "verify/vcheck.h"
#include "verify/vsource.h"

#define VRUN_MAX_ITEMS 64

struct vrun_opts {
    const char *key;         /* --key VKEY|FILE, or NULL (pinned / first use) */
    const char *state_dir;   /* --state DIR, or NULL ($HOME/.zerosum-verify/<origin>/) */
    const char *since;       /* --since FILE, or NULL */
    int replay;              /* --replay */
    int no_pin;              /* --no-pin: neither read nor write the pinned state */
    unsigned long long size; /* --size N: the checkpoint of tree size N, or 0 (the latest) */
    int n_items;
    const char *item_kind[VRUN_MAX_ITEMS]; /* "transfer", "bid", "fill" */
    const char *item_id[VRUN_MAX_ITEMS];
};

/* Run every asked-for check against src; prints the verdict. Returns the exit status (0/1). */
int vrun(struct vsource *src, const struct vrun_opts *o);

/* Read a whole file (malloc'd, NUL-terminated) into *buf: its length, or -1. */
long vrun_read_file(const char *path, char **buf);

#endif
