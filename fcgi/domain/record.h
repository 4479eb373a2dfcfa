/*
 * record.h — the canonical record encoding v1 of the verifiable log
 * (docs/PROOF-FORMAT.md): the text of each sealed history row, the
 * pseudonyms that stand for its UUIDs, its Merkle leaf hash, the state
 * commitment over the sealed aggregates and the seal hash chain.
 *
 * This is the one implementation the server uses: the sealer encodes with
 * it, and everything that re-encodes a sealed row (the full pass, the log
 * endpoints) reads the row with the statements of sql/queries/seal.sql
 * (seal_records_<kind>, seal_record_<kind>, seal_entries_*), whose columns
 * come in exactly the order of the enum record_col_<kind> below, and hands
 * the row to record_encode_row(). Every value is text as PostgreSQL prints
 * it (NULL = absent); times are integer microseconds since the epoch.
 */
#ifndef ZS_DOMAIN_RECORD_H
#define ZS_DOMAIN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define RECORD_HASH_LEN 32
#define RECORD_HEX_LEN 64

/* The eight record kinds, in the order a seal assigns positions. */
enum record_kind {
    RECORD_TRANSFER,
    RECORD_HOLD,
    RECORD_BID,
    RECORD_LOT,
    RECORD_FILL,
    RECORD_ORDER,
    RECORD_PENDING,
    RECORD_LIMIT, /* a credit limit set (table credit_limits) */
    RECORD_KINDS
};

/* Columns of seal_records_transfers / seal_record_transfer (id first). */
enum record_col_transfer {
    RT_ID,
    RT_KIND,
    RT_FROM,
    RT_TO,
    RT_AMOUNT,
    RT_AT,
    RT_CALLER,
    RT_IDEM_KEY,
    RT_MEMO,
    RT_NCOLS
};
/* Columns of seal_records_holds. */
enum record_col_hold {
    RH_ID,
    RH_ACCOUNT,
    RH_LOT,
    RH_BID,
    RH_AMOUNT,
    RH_STATE,
    RH_TRANSFER,
    RH_AT,
    RH_ENDED,
    RH_NCOLS
};
/* Columns of seal_records_bids / seal_record_bid. */
enum record_col_bid {
    RB_ID,
    RB_LOT,
    RB_BIDDER,
    RB_AMOUNT,
    RB_QUANTITY,
    RB_SEQ,
    RB_STATUS,
    RB_TRANSFER,
    RB_AT,
    RB_IDEM_KEY,
    RB_MAX_AMOUNT, /* a proxy bid's hidden maximum: only inside `private` */
    RB_NCOLS
};
/* Columns of seal_records_lots. */
enum record_col_lot {
    RL_ID,
    RL_KIND,
    RL_SELLER,
    RL_STATUS,
    RL_START_PRICE,
    RL_INCREMENT,
    RL_RESERVE,
    RL_FLOOR_PRICE,
    RL_STEP,
    RL_INTERVAL_S,
    RL_PRICE,
    RL_QTY_TOTAL,
    RL_QTY_CLAIMED,
    RL_SEQ,
    RL_HIGH_AMOUNT,
    RL_WINNER,
    RL_CLEARING_PRICE,
    RL_STARTS_AT,
    RL_ENDS_AT,
    RL_SETTLED_AT,
    RL_NCOLS
};
/* Columns of seal_records_fills / seal_record_fill (trades). */
enum record_col_fill {
    RF_ID,
    RF_MARKET,
    RF_KIND,
    RF_OUTCOME,
    RF_PRICE,
    RF_QUANTITY,
    RF_BUYER,
    RF_SELLER,
    RF_CASH_A,
    RF_CASH_B,
    RF_SEQ,
    RF_AT,
    RF_NCOLS
};
/* Columns of seal_records_orders. */
enum record_col_order {
    RO_ID,
    RO_MARKET,
    RO_ACCOUNT,
    RO_SIDE,
    RO_OUTCOME,
    RO_PRICE,
    RO_QUANTITY,
    RO_REMAINING,
    RO_STATUS,
    RO_TIF,
    RO_AT,
    RO_IDEM_KEY,
    RO_NCOLS
};
/* Columns of seal_records_pending. */
enum record_col_pending {
    RP_ID,
    RP_FROM,
    RP_TO,
    RP_AMOUNT,
    RP_STATUS,
    RP_POSTED_AMOUNT,
    RP_TRANSFER,
    RP_EXPIRES,
    RP_AT,
    RP_CALLER,
    RP_IDEM_KEY,
    RP_MEMO,
    RP_NCOLS
};

/* Columns of seal_records_limits / seal_candidate_limits (credit_limits). */
enum record_col_limit { RC_ID, RC_ACCOUNT, RC_LIMIT, RC_AT, RC_NCOLS };

/* One entry of a transfer record: columns of seal_entries_* after transfer_id. */
struct record_entry {
    const char *id;
    const char *account;
    const char *amount;
};

/* An encoded record: its text (malloc'd, NUL-terminated) and leaf hash. */
struct record {
    char *text;
    size_t len;
    unsigned char leaf[RECORD_HASH_LEN];
};

/* A growing text buffer (malloc'd, NUL-terminated); oom latches on the first failed allocation. */
struct record_text {
    char *p;
    size_t len, cap;
    int oom;
};

void record_text_addn(struct record_text *t, const char *s, size_t n);
void record_text_add(struct record_text *t, const char *s);
void record_text_free(struct record_text *t);

/* Number of columns a row of kind k has (RT_NCOLS …). */
int record_ncols(enum record_kind k);

/* The record's first line after "zerosum/v1 " ("transfer", "fill" …). */
const char *record_kind_name(enum record_kind k);

/*
 * Encode one row: v[0..record_ncols(k)) in the column order of its enum
 * (NULL = absent), plus, for a transfer, its entries (any order; they are
 * written sorted by entry ref). Fills out (free with record_free()).
 * 0, or -1 when a value is malformed (not a canonical integer, UUID or
 * word where one is required) or memory ran out; out is then empty.
 */
int record_encode(enum record_kind k, const char *const *v, const struct record_entry *e, size_t ne,
                  struct record *out);

/*
 * record_encode() into a caller's reusable buffer b (emptied first; it keeps
 * its memory for the next record, free it with record_text_free()), without
 * allocating once b has grown to a record's size: the text is b->p[0..b->len),
 * the leaf hash goes to leaf. 0, or -1 as record_encode().
 */
int record_encode_into(enum record_kind k, const char *const *v, const struct record_entry *e,
                       size_t ne, struct record_text *b, unsigned char leaf[RECORD_HASH_LEN]);

/*
 * record_encode() of row `row` of res, a result of one of seal.sql's
 * record statements for kind k (columns from `col` on, in enum order).
 */
int record_encode_row(enum record_kind k, const PGresult *res, int row, int col,
                      const struct record_entry *e, size_t ne, struct record *out);

void record_free(struct record *r);

/* R(kind, uuid) as lowercase hex (65 bytes). 0, or -1 if uuid is not a UUID. */
int record_ref(const char *kind, const char *uuid, char out[RECORD_HEX_LEN + 1]);

/* A(uuid) = R("account", uuid). 0 or -1. */
int record_account(const char *uuid, char out[RECORD_HEX_LEN + 1]);

/* P(caller, key, memo) (NULL = empty string) as lowercase hex. */
void record_private(const char *caller, const char *key, const char *memo,
                    char out[RECORD_HEX_LEN + 1]);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void record_hex(const unsigned char *b, size_t n, char *out);

/* One sealed aggregate row of the state commitment: the row's UUID and its three counters. */
struct record_agg { /* an account uses a, b only */
    char id[37];
    int64_t a, b, c;
};

/*
 * The state commitment: SHA-256 of "zerosum/v1 state\nsize <size>\n" then
 * one line per aggregate (an account: balance entries; a lot: claimed
 * captured bids; a market: fills quantity pairs), each section sorted by
 * its ref (accounts by
 * A(id), lots by R(lot,id), markets by R(market,id)). The arrays are
 * reordered in place. 0, or -1 (a malformed id, out of memory).
 */
int record_state_hash(uint64_t size, struct record_agg *accounts, size_t na,
                      struct record_agg *lots, size_t nl, struct record_agg *markets, size_t nm,
                      unsigned char out[RECORD_HASH_LEN]);

/* The seal chain hash of seal no (prev: 32 zero bytes for seal 1). */
void record_seal_hash(uint64_t no, uint64_t size, const unsigned char root[RECORD_HASH_LEN],
                      const unsigned char state[RECORD_HASH_LEN],
                      const unsigned char prev[RECORD_HASH_LEN],
                      unsigned char out[RECORD_HASH_LEN]);

#endif
