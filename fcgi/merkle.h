/*
 * merkle.h — RFC 9162 §2.1 Merkle tree hashing and proofs (pure, no I/O).
 *
 * The tree over leaves d[0..n-1] is exactly RFC 9162's Merkle Tree Hash:
 * MTH({}) is not used (every size here is > 0), MTH({d0}) = leaf hash,
 * MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])) with k the largest power of two
 * smaller than n. Leaf hash = SHA-256(0x00 || data), node hash =
 * SHA-256(0x01 || left || right).
 *
 * Hashes of stored subtrees come through a callback: (level, idx) names the
 * perfect subtree of 2^level leaves starting at leaf idx << level, which the
 * caller has stored (merkle_nodes) or can compute. Every computation asks
 * only for perfect subtrees that lie entirely inside the tree size it was
 * given, so a store that writes a node as soon as it is complete suffices.
 * A proof needs O(log n) callback calls.
 *
 * Paths are arrays of MERKLE_HASH_LEN-byte hashes with room for
 * MERKLE_MAX_PATH entries (a path for 64-bit sizes never needs more).
 */
#ifndef ZS_MERKLE_H
#define ZS_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN 32
#define MERKLE_MAX_PATH 64

/*
 * out = SHA-256 of the concatenation of n parts (part i: len[i] bytes at
 * part[i]; NULL when its len is 0). Allocation-free: the digest is fetched
 * once per process and one context is reused, so it is for single-threaded
 * processes (every zerosum process is). The other hashes here use it.
 */
void merkle_sha256(const void *const *part, const size_t *len, int n, unsigned char out[32]);

/* out = SHA-256(0x00 || data[0..len)). data may be NULL when len == 0. */
void merkle_leaf_hash(const void *data, size_t len, unsigned char out[32]);

/* out = SHA-256(0x01 || l || r). out may alias l or r. */
void merkle_node_hash(const unsigned char l[32], const unsigned char r[32], unsigned char out[32]);

/*
 * Source of stored perfect-subtree hashes: (level, idx) = the root of the
 * 2^level leaves from idx << level. Writes the hash to out and returns 0, or
 * returns -1 (missing / I/O error: the caller's computation then fails with -1).
 */
typedef int (*merkle_node_fn)(void *ctx, int level, uint64_t idx, unsigned char out[32]);

/*
 * The root MTH of the first size leaves into out. size must be > 0 (else -1).
 * Returns 0, or -1 when the callback fails.
 */
int merkle_root(uint64_t size, merkle_node_fn get, void *ctx, unsigned char out[32]);

/*
 * The RFC 9162 §2.1.3.1 inclusion path PATH(index, D[size]) into path, which
 * holds MERKLE_MAX_PATH hashes, leaf-side first. Requires index < size.
 * Returns the path length (0 for a tree of one leaf), or -1 on bad arguments
 * or a callback failure.
 */
int merkle_inclusion_path(uint64_t index, uint64_t size, merkle_node_fn get, void *ctx,
                          unsigned char path[][32]);

/*
 * The RFC 9162 §2.1.4.1 consistency proof PROOF(from, D[to]) into path
 * (MERKLE_MAX_PATH hashes). Requires 0 < from <= to; from == to gives the
 * empty proof (length 0). Returns the length, or -1 on bad arguments or a
 * callback failure.
 */
int merkle_consistency_path(uint64_t from, uint64_t to, merkle_node_fn get, void *ctx,
                            unsigned char path[][32]);

/*
 * RFC 9162 §2.1.3.2: does the n-hash path prove that leaf (a leaf hash) is at
 * index in the tree of size whose root is root? Returns 1 verified, 0 not
 * (including index >= size or a path of the wrong length).
 */
int merkle_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf[32],
                            const unsigned char path[][32], int n, const unsigned char root[32]);

/*
 * RFC 9162 §2.1.4.2: does the n-hash path prove that the tree of size to with
 * root to_root extends the tree of size from with root from_root? Requires
 * 0 < from <= to (else 0); from == to verifies iff n == 0 and the roots are
 * equal. Returns 1 verified, 0 not.
 */
int merkle_verify_consistency(uint64_t from, uint64_t to, const unsigned char from_root[32],
                              const unsigned char to_root[32], const unsigned char path[][32],
                              int n);

/* Lowercase hex of a 32-byte hash into out (65 bytes, NUL-terminated). */
void merkle_hex(const unsigned char h[32], char out[65]);

/* Parse exactly 64 hex digits (either case) at s into out. Returns 0, or -1. */
int merkle_unhex(const char *s, size_t len, unsigned char out[32]);

#endif
