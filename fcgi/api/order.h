/*
 * order.h — POST /order's typed request, shared by its parser
 * (api/order_parse.c) and its transaction (api/order.c).
 */
#ifndef ZS_API_ORDER_H
#define ZS_API_ORDER_H

#include <stdint.h>

#include "api/http.h"
#include "store/db.h"
#include "domain/market.h"
#include "domain/matching.h"
#include "domain/order_terms.h"
#include "util.h"

struct order_req {
    char market[UUID_STR_LEN + 1];
    enum order_side side;
    int has_outcome; /* "outcome" given (yes | no) */
    enum market_outcome outcome;
    int64_t price; /* the limit: "price", or a market order's "protection_price" */
    int64_t quantity;
    struct order_terms terms; /* type, time in force, post-only */
    enum order_stp stp;
    int64_t expires_us;  /* gtd: the deadline, microseconds since the epoch */
    char expires_at[32]; /* gtd: the same, RFC 3339 UTC */
};

struct mutation;
struct ledger_account;

/* One attempt of an order (or of an amendment that re-places one): what it
 * learned so far. */
struct order_run {
    struct mutation *mu;
    const struct order_req *q;
    const char *me;
    struct market mk;
    enum market_outcome outcome;
    struct match_order *m; /* the crossing makers, 2 × MATCH_MAX_MAKERS */
    int n;
    struct match_result res;
    struct ledger_account *acc;
    char order_id[UUID_STR_LEN + 1];
    /* an amendment (api/order_amend.c): its row, re-placed under its own id */
    int amend;
    struct match_order old; /* the row as it rested (its holds are released first) */
    int64_t prior_filled;   /* units it filled before */
    int64_t credit_cash;    /* its cash hold, available again to the re-placed order */
    int64_t credit_units;   /* its held contracts, likewise */
};

/* The steps of one order on the locked market (api/order.c), in order;
 * each returns 0 to go on or -1 with *d the decision apply() returns. */
int order_check(struct tx *tx, struct order_run *o, enum tx_decision *d);
int order_match(struct tx *tx, struct order_run *o, enum tx_decision *d);
int order_lock_accounts(struct tx *tx, struct order_run *o, enum tx_decision *d);
/* Apply what matching decided and commit with the answer (201, or 200 for
 * an amendment). */
enum tx_decision order_write(struct tx *tx, struct order_run *o);

/* The answer: {"order": …} as it stands, with fills (an array, taken). */
struct json_object *order_answer(const struct order_run *o, struct json_object *fills);

/* An amendment's row after its re-placement (api/order_amend.c): price,
 * quantity, remaining, status, hold and its new priority stamp, then the
 * hold of what rests. 0 / -1. */
int order_amend_row(struct tx *tx, struct order_run *o, int64_t seq);

/* Validate r's body into q (a struct order_req). 0, or -1 after answering
 * 422 with a stable code (nothing written). */
int order_parse(struct request *r, void *q);

#endif
