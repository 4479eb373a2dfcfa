/*
 * tlog.h — the verifiable log's read side, shared by api/tlog.c (key,
 * checkpoint, consistency) and api/tlog_records.c (inclusion, records):
 * the Merkle node set a proof reads in one round trip, the log key, and
 * strict parsing of tree sizes.
 */
#ifndef ZS_API_TLOG_H
#define ZS_API_TLOG_H

#include <stdint.h>

#include <json-c/json.h>

#include "api/http.h"
#include "merkle.h"
#include "note.h"
#include "store/db.h"

#define TLOG_MAX_NODES 192

/*
 * The stored nodes one proof needs. A proof is computed twice with
 * tlog_nodes_get as its node source: the first pass (fetched == 0) only
 * records which (level, idx) it asks for — the set depends on the sizes,
 * never on hash values — tlog_nodes_fetch() reads them all in one
 * pipeline, and the second pass is served from the set.
 */
struct tlog_nodes {
    int n, fetched, missing;
    int level[TLOG_MAX_NODES];
    uint64_t idx[TLOG_MAX_NODES];
    unsigned char hash[TLOG_MAX_NODES][MERKLE_HASH_LEN];
};

/* merkle_node_fn over a struct tlog_nodes (see above). */
int tlog_nodes_get(void *ctx, int level, uint64_t idx, unsigned char out[32]);

/*
 * Read every recorded node in one round trip. 0; -1 on a database error
 * (tx->err set); -2 when a node is missing or malformed (the stored tree
 * is incomplete: ns->missing says which entry).
 */
int tlog_nodes_fetch(struct tx *tx, struct tlog_nodes *ns);

/* The JSON array of n hex hashes. */
struct json_object *tlog_hex_array(const unsigned char (*path)[32], int n);

/*
 * Parse a tree size or position from the query: a decimal of at most 18
 * digits without sign or leading zeros, at least min. 1 present and valid
 * (in *out), 0 absent, -1 malformed.
 */
int tlog_query_u64(const struct request *r, const char *name, uint64_t min, uint64_t *out);

/* The log's key (loaded or created on first use, kept for the process), or NULL. */
const struct note_key *tlog_key(const struct request *r);

#endif
