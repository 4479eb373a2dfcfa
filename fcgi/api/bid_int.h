/*
 * bid_int.h — what the parts of POST /bid share (api/bid.c: parsing, the
 * writes of a bid, claims; api/bid_english.c: English bids, proxy bids and
 * buy-now). Internal to the /bid handler.
 */
#ifndef ZS_BID_INT_H
#define ZS_BID_INT_H

#include <stdint.h>

#include "api/mutation.h"
#include "api/validate.h"
#include "domain/auction.h"
#include "domain/ledger.h"
#include "store/sql.h"

/* The writes of one bid, sent as one round trip. */
#define WRITES_MAX 12
#define WRITES_PARAMS_MAX 11
#define WRITES_NUMS_MAX 16

struct bid_writes {
    struct tx_stmt st[WRITES_MAX];
    const char *params[WRITES_MAX][WRITES_PARAMS_MAX];
    char num[WRITES_NUMS_MAX][24];
    int n, nnum, overflow;
};

/* What the answer says of the bid. */
struct bid_row {
    const char *id;
    int64_t amount, quantity, seq;
    enum bid_status status;
    const char *transfer_id;  /* NULL: none */
    const struct lot *before; /* the lot as it was locked (its events compare) */
};

/* A decimal text of v that lives as long as w ("" and w->overflow once full). */
const char *bid_w_i64(struct bid_writes *w, int64_t v);

/* Append the named statement id with its parameters (as many as it takes). */
void bid_w_add(struct bid_writes *w, enum sql_id id, ...);

/* Append st, built elsewhere (its parameters must outlive the send). */
void bid_w_add_stmt(struct bid_writes *w, struct tx_stmt st);

/* Append the accepted bid or claim b (SQL_BID_INSERT), numbered b->seq. */
void bid_add_row(struct bid_writes *w, struct mutation *m, const struct bid_req *q,
                 const struct bid_row *b);

/* Send w as one round trip: 0, or -1 (tx->err set). The results stay in w. */
int bid_w_send(struct tx *tx, struct bid_writes *w);

/* Free the results of a sent w. */
void bid_w_clear(struct bid_writes *w);

/* The 201 answer {"bid": b, "lot": lot} (lot's ownership taken; NULL: a
 * failed read), stored under the key, and COMMIT. */
enum tx_decision bid_answer(struct mutation *m, struct tx *tx, const struct bid_req *q,
                            struct json_object *lot, const struct bid_row *b);

/* bid_answer() with st[0..n) (not yet sent: the last writes) in its round trip. */
enum tx_decision bid_answer_with(struct mutation *m, struct tx *tx, const struct bid_req *q,
                                 struct json_object *lot, const struct bid_row *b,
                                 struct tx_stmt *st, int n);

/* bid_w_send(w), whose last statement returns the lot, then bid_answer(). */
enum tx_decision bid_finish(struct mutation *m, struct tx *tx, const struct bid_req *q,
                            struct bid_writes *w, const struct bid_row *b);

/* The refusal of a lot that takes no bid or claim now (c != AUCTION_OPEN). */
enum tx_decision bid_refuse_closed(struct mutation *m, struct tx *tx, const struct lot *l,
                                   enum auction_closed c, const char *verb);

/* The bidder's account me, locked: 1 with *d set when it may not pay need, else 0. */
int bid_refuse_account(struct mutation *m, struct tx *tx, const struct ledger_account *me,
                       int64_t need, const char *verb, enum tx_decision *d);

/* POST /bid on an English lot l (locked, not due to settle). */
enum tx_decision bid_english(struct mutation *m, struct tx *tx, const struct bid_req *q,
                             const struct lot *l);

/* What round 1 already holds for a claim: both NULL when it holds nothing. */
struct bid_claim_pre {
    PGresult *lot;      /* lot_lock_unless_sold_out's locked row (the lot before the claim) */
    PGresult *accounts; /* lot_claim_lock_accounts' rows (postgres) */
};

/* Input that does not fit Dutch or drop lot l: the detail (in buf, or a
 * literal), or NULL when it fits. */
const char *bid_claim_input_error(const struct bid_req *q, const struct lot *l, char *buf,
                                  size_t n);

/* POST /bid on a Dutch or drop lot l (locked): pay now; pre: what round 1 holds. */
enum tx_decision bid_purchase(struct mutation *m, struct tx *tx, const struct bid_req *q,
                              const struct lot *l, const struct bid_claim_pre *pre);

#endif
