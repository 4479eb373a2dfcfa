/*
 * validate.h — the request-body validators of POST /transfer, POST /bid and
 * POST /lots, exposed so the fuzz targets (tests/fuzz/) can reach them.
 *
 * Each takes a request whose body http_parse_json_body() has parsed into
 * r->json, fills its struct and returns 0, or answers 422 (problem+json with
 * a stable code) and returns -1. Strings in the structs are lent from
 * r->json and live as long as it does. Nothing touches the database.
 */
#ifndef ZS_VALIDATE_H
#define ZS_VALIDATE_H

#include <stdint.h>

#include "api/http.h"
#include "api/mutation.h"
#include "domain/ledger.h"
#include "domain/auction.h"
#include "util.h"

/* POST /transfer: {"from", "to", "amount", "memo"?} */
struct transfer_req {
    char from[UUID_STR_LEN + 1];
    char to[UUID_STR_LEN + 1];
    int64_t amount;
    const char *memo; /* lent from r->json, or NULL */
    int pending;      /* "pending": true: a two-phase transfer (api/pending.h) */
    int64_t timeout;  /* pending: seconds until it expires */
};

int transfer_parse(struct request *r, struct transfer_req *q);

/* Why one transfer's fields or caller were refused: what POST /transfer answers. */
struct transfer_refusal {
    int status;
    const char *code; /* a static string */
    char detail[192];
};

/*
 * transfer_parse() of any JSON object o (one item of POST /transfers/batch,
 * or the body of POST /transfer): 0, or -1 with *e filled. Strings in q are
 * lent from o.
 */
int transfer_fields_parse(struct json_object *o, struct transfer_req *q,
                          struct transfer_refusal *e);

/* Who may make a transfer (the caller owns "from"; an admin only from the issuer). */
int transfer_authorize(struct request *r, const void *req);

/* transfer_authorize()'s rule for caller: 0, or -1 with *e filled (403). */
int transfer_may(const struct jwt_claims *caller, const struct transfer_req *q,
                 struct transfer_refusal *e);

/* One immediate transfer as POST /transfer answers it (its "transfer" member). */
struct json_object *transfer_json(const struct transfer_req *q, const char *id, const char *kind,
                                  const char *created_at);

/*
 * The first round trip of a transfer, immediate or pending (api/transfer.c):
 * BEGIN, the key claim and both accounts locked in id order into acc ([0]
 * from, [1] to), then the refusals every transfer shares — an unknown payer
 * or payee, an escrow account — stored under the key. 1: go on; 0: the
 * apply step returns *d.
 */
int transfer_begin(struct mutation *m, struct tx *tx, const struct transfer_req *q,
                   struct ledger_account acc[2], enum tx_decision *d);

/* POST /bid: {"lot", "amount"?, "max_price"?, "quantity"?} */
struct bid_req {
    char lot[UUID_STR_LEN + 1];
    int64_t amount, max_price, quantity, max_amount;
    int has_amount, has_max_price, has_quantity, has_max_amount;
    int buy_now; /* {"buy_now": true} */
};

int bid_parse(struct request *r, struct bid_req *q);

/* POST /lots: an English, Dutch or drop lot. */
struct lot_spec {
    const char *kind;      /* lent from r->json */
    enum lot_kind kind_id; /* the same, parsed */
    char seller[UUID_STR_LEN + 1];
    const char *title;
    int64_t start, increment, reserve, floor, step, price;
    int64_t ends_in, interval, quantity, max_per_claim, snipe_window, snipe_extend;
    int64_t buy_now;
    int n_inc; /* rows of "increments"; 0: none */
    int64_t inc_from[AUCTION_INCREMENTS_MAX], inc_step[AUCTION_INCREMENTS_MAX];
    char increments[AUCTION_INCREMENTS_MAX * 42]; /* as stored; "" for none */
};

int parse_lot_spec(struct request *r, struct lot_spec *s);

#endif
