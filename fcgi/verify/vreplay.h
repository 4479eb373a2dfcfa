/*
 * vreplay.h — rebuild the ledger from its sealed records alone and check it.
 *
 * Records are added in log order (position 0, 1, ...). The replay hashes
 * each into its RFC 9162 leaf and keeps the compact range of the tree (so
 * the root at any size asked for in advance is known), parses it (vrecord.h),
 * and folds it: balances and entry counts per account, per lot the claimed
 * units, captured amount and bid count, per market the fills, quantity and
 * pairs (docs/PROOF-FORMAT.md, "State commitment"), plus what the invariant
 * checks need. vreplay_finish() then checks, against the checkpoint: the
 * root and size, every record parsed, transfers balanced and matching their
 * from/to/amount, money conserved, no negative balance but the issuer's, no
 * oversold lot, holds reconciled with their capture transfers, claims paid
 * by purchases, fills' cash legs, pending transfers released, and the state
 * commitment.
 */
#ifndef ZS_VREPLAY_H
#define ZS_VREPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "note.h"
#include "verify/vcheck.h"

struct vreplay;

/* A new, empty replay; NULL on out of memory. */
struct vreplay *vreplay_new(void);

/*
 * Ask for the root of the first size records (0 < size); at most 8 sizes.
 * Must be called before those records are added. Returns 0, or -1.
 */
int vreplay_want_root(struct vreplay *r, uint64_t size);

/*
 * Add the record at position index (len bytes at text). index must be the
 * next position (0 first); a gap or repeat is recorded as a failure of
 * replay_records and the record is ignored. A record that does not parse is
 * still hashed into the tree (its leaf is what the log committed to) and
 * recorded as a failure. Returns 0, or -1 on out of memory.
 */
int vreplay_add(struct vreplay *r, uint64_t index, const char *text, size_t len);

/* Number of records added so far (the tree size). */
uint64_t vreplay_size(const struct vreplay *r);

/* The root of the first size records, asked for with vreplay_want_root: 0, or -1. */
int vreplay_root_at(const struct vreplay *r, uint64_t size, unsigned char out[32]);

/* The root of everything added so far (size > 0): 0, or -1 when empty. */
int vreplay_root(const struct vreplay *r, unsigned char out[32]);

/* The state commitment of everything added so far (SHA-256 of the state text). */
void vreplay_state_hash(const struct vreplay *r, unsigned char out[32]);

/* Run every replay check against cp and append them to out. */
void vreplay_finish(struct vreplay *r, const struct checkpoint *cp, struct vcheck_list *out);

/* Free a replay (NULL is a no-op). */
void vreplay_free(struct vreplay *r);

#endif
