/*
 * bid.c — POST /bid: English bids with holds and anti-snipe, Dutch claims
 * at the database clock's price, fixed-price drop claims of K units.
 *
 * One transaction per bid: claim the idempotency key, lock the lot row
 * (the lot's serialisation point), settle it first if its time is up
 * (close-on-read), check the rules, lock the accounts involved in id
 * order, then move holds or money and append the bid. Business rejections
 * after the key is claimed are stored under it and committed (nothing else
 * changes), so a retried claim can never buy twice or succeed later.
 * Input that does not fit the lot's kind is refused and rolled back:
 * nothing is written for bad input.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/idempotency.h"
#include "domain/ledger.h"
#include "api/lots.h"
#include "api/routes.h"
#include "util.h"
#include "api/validate.h"

struct bid_tx {
    struct request *r;
    const struct bid_req *q;
    struct idem *idem;
    int status;
    char *body;
    int stored;                   /* body is stored under the key (commit) */
};

static int opt_field(struct request *r, const char *name, int64_t min, int64_t max,
                     int64_t *out, int *has)
{
    struct json_object *v;

    *has = 0;
    if (!json_object_object_get_ex(r->json, name, &v))
        return 0;
    if (util_json_int64(v, min, out) < 0 || *out > max) {
        http_problem(r, 422, strcmp(name, "amount") == 0 ? "invalid_amount" : "invalid_field",
                     "\"%s\" must be a JSON integer from %" PRId64 " to %" PRId64, name, min, max);
        return -1;
    }
    *has = 1;
    return 0;
}

int bid_parse(struct request *r, struct bid_req *q)
{
    static const char *const allowed[] = { "lot", "amount", "max_price", "quantity", NULL };
    struct json_object *v;
    const char *unknown = util_json_unknown_member(r->json, allowed);

    memset(q, 0, sizeof(*q));
    if (unknown) {
        http_problem(r, 422, "unknown_field", "unknown field \"%.64s\"", unknown);
        return -1;
    }
    if (!json_object_object_get_ex(r->json, "lot", &v)) {
        http_problem(r, 422, "missing_field", "\"lot\" is required");
        return -1;
    }
    if (!json_object_is_type(v, json_type_string) || !util_uuid_parse(json_object_get_string(v), q->lot)) {
        http_problem(r, 422, "invalid_lot_id", "\"lot\" must be a lot id (a UUID string)");
        return -1;
    }
    if (opt_field(r, "amount", 1, INT64_MAX, &q->amount, &q->has_amount) < 0
        || opt_field(r, "max_price", 1, INT64_MAX, &q->max_price, &q->has_max_price) < 0
        || opt_field(r, "quantity", 1, 1000000, &q->quantity, &q->has_quantity) < 0)
        return -1;
    return 0;
}

/* A rejection. store=1: terminal, stored under the key and committed; store=0: rolled back. */
static enum tx_decision reject(struct tx *tx, struct bid_tx *b, int store, int status,
                               const char *code, const char *extra_name, int64_t extra,
                               const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static enum tx_decision reject(struct tx *tx, struct bid_tx *b, int store, int status,
                               const char *code, const char *extra_name, int64_t extra,
                               const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    struct json_object *o;
    struct tx_stmt st;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    o = http_problem_object(b->r, status, code, detail);
    if (extra_name)
        json_object_object_add(o, extra_name, json_object_new_int64(extra));
    b->status = status;
    b->body = util_json_take_text(o);
    b->stored = store;
    if (!b->body)
        return TX_ERROR;
    if (!store)
        return TX_ROLLBACK;
    /* the stored answer and COMMIT: one round trip */
    idem_finish_stmt(b->idem, status, b->body, &st);
    if (tx_exec_many(tx, &st, 1, 1) < 0)
        return TX_ERROR;
    PQclear(st.res);
    return TX_COMMIT;
}

#define UPDATE_HELD_SQL "UPDATE accounts SET held = held + $2::bigint WHERE id = $1"

/* Append the accepted bid or claim, numbered seq under the lot lock. */
static void add_bid(struct tx_batch *w, struct bid_tx *b, const char *bid_id, int64_t amount,
                    int64_t quantity, int64_t seq, const char *status, const char *transfer_id)
{
    tx_batch_add(w, "INSERT INTO bids (id, lot_id, bidder, amount, quantity, seq, status,"
                    " transfer_id, idem_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9,
                 bid_id, b->q->lot, b->r->caller.sub, tx_batch_i64(w, amount),
                 tx_batch_i64(w, quantity), tx_batch_i64(w, seq), status, transfer_id,
                 b->idem->scoped);
}

/*
 * Send the writes in w with the lot update `lot_sql` (its RETURNING list is
 * appended here) as one round trip, build the 201 answer {"bid", "lot"},
 * then store it under the key and COMMIT in a second.
 */
static enum tx_decision finish(struct tx *tx, struct bid_tx *b, struct tx_batch *w,
                               const char *bid_id, int64_t amount, int64_t quantity, int64_t seq,
                               const char *status, const char *transfer_id, const char *lot_sql,
                               int nparams, const char *p1, const char *p2, const char *p3,
                               const char *p4, const char *p5)
{
    char sql[2800];
    int k;
    struct json_object *o, *bid;
    struct tx_stmt st;

    snprintf(sql, sizeof(sql), "%s RETURNING %s", lot_sql, lot_columns_sql);
    k = tx_batch_add(w, sql, nparams, p1, p2, p3, p4, p5);
    if (k < 0 || tx_batch_send(tx, w, 0) < 0)
        return TX_ERROR;
    o = json_object_new_object();
    bid = json_object_new_object();
    json_object_object_add(bid, "id", json_object_new_string(bid_id));
    json_object_object_add(bid, "lot", json_object_new_string(b->q->lot));
    json_object_object_add(bid, "bidder", json_object_new_string(b->r->caller.sub));
    json_object_object_add(bid, "amount", json_object_new_int64(amount));
    json_object_object_add(bid, "quantity", json_object_new_int64(quantity));
    json_object_object_add(bid, "seq", json_object_new_int64(seq));
    json_object_object_add(bid, "status", json_object_new_string(status));
    json_object_object_add(bid, "transfer_id", transfer_id ? json_object_new_string(transfer_id) : NULL);
    json_object_object_add(o, "bid", bid);
    json_object_object_add(o, "lot", lot_json(w->st[k].res, 0));
    tx_batch_clear(w);
    b->status = 201;
    b->stored = 1;
    b->body = util_json_take_text(o);
    if (!b->body)
        return TX_ERROR;
    idem_finish_stmt(b->idem, 201, b->body, &st);
    if (tx_exec_many(tx, &st, 1, 1) < 0)
        return TX_ERROR;
    PQclear(st.res);
    return TX_COMMIT;
}

static enum tx_decision english(struct tx *tx, struct bid_tx *b, struct lot *l)
{
    const struct bid_req *q = b->q;
    const char *me = b->r->caller.sub;
    int same = l->high_bidder[0] && strcmp(l->high_bidder, me) == 0;
    int64_t min, extra;
    char bid_id[UUID_STR_LEN + 1], hold_id[UUID_STR_LEN + 1];
    struct ledger_account acc[2];
    struct tx_batch w;
    int nacc = 1;

    if (!q->has_amount)
        return reject(tx, b, 0, 422, "missing_field", NULL, 0, "an English bid needs \"amount\"");
    if (q->has_max_price || q->has_quantity)
        return reject(tx, b, 0, 422, "field_not_applicable", NULL, 0,
                      "English bids take only \"lot\" and \"amount\"");
    if (strcmp(l->status, "live") != 0)
        return reject(tx, b, 1, 409, "lot_ended", NULL, 0, "the lot has ended (%s)", l->status);
    if (!l->started)
        return reject(tx, b, 1, 409, "lot_not_live", NULL, 0, "the lot has not started");
    if (strcmp(l->seller, me) == 0)
        return reject(tx, b, 1, 403, "own_lot", NULL, 0, "the seller cannot bid on their own lot");
    if (!l->high_bidder[0])
        min = l->start_price;
    else if (__builtin_add_overflow(l->high_amount, l->increment, &min))
        return reject(tx, b, 0, 422, "amount_out_of_range", NULL, 0,
                      "the leading bid plus the increment exceeds the largest representable"
                      " amount: no higher bid is possible");
    if (q->amount < min)
        return reject(tx, b, 1, 409, "bid_too_low", "minimum", min,
                      "the minimum bid is %" PRId64, min);
    extra = same ? q->amount - l->high_amount : q->amount;

    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, me, sizeof(acc[0].id));
    if (l->high_bidder[0] && !same) {
        memcpy(acc[1].id, l->high_bidder, sizeof(acc[1].id));
        nacc = 2;
    }
    if (ledger_lock(tx, acc, nacc) < 0)
        return TX_ERROR;
    if (!acc[0].found)
        return reject(tx, b, 1, 422, "bidder_account_not_found", NULL, 0,
                      "the token's account does not exist");
    if (acc[0].issuer || acc[0].escrow)
        return reject(tx, b, 1, 403, "issuer_cannot_bid", NULL, 0,
                      "the issuer and escrow accounts cannot bid");
    /* held + extra <= balance follows: the new held cannot overflow. */
    if (acc[0].balance - acc[0].held < extra)
        return reject(tx, b, 1, 422, "insufficient_funds", "available", acc[0].balance - acc[0].held,
                      "available %" PRId64 ", needed %" PRId64, acc[0].balance - acc[0].held, extra);

    if (util_uuid_v4(bid_id) < 0 || util_uuid_v4(hold_id) < 0)
        return TX_ERROR;
    tx_batch_init(&w);
    /* The previous leader (someone else) is released in this same transaction. */
    if (nacc == 2) {
        tx_batch_add(&w, UPDATE_HELD_SQL, 2, l->high_bidder, tx_batch_i64(&w, -l->high_amount));
        tx_batch_add(&w, "UPDATE holds SET state = 'released', updated_at = now()"
                         " WHERE lot_id = $1 AND account_id = $2 AND state = 'active'", 2,
                     l->id, l->high_bidder);
    }
    if (l->high_bid[0])
        tx_batch_add(&w, "UPDATE bids SET status = 'outbid' WHERE id = $1", 1, l->high_bid);
    if (extra > 0)
        tx_batch_add(&w, UPDATE_HELD_SQL, 2, me, tx_batch_i64(&w, extra));
    /* The bid row first (the hold references it), then the hold, then the lot. */
    add_bid(&w, b, bid_id, q->amount, 1, l->seq + 1, "leading", NULL);
    if (same)
        tx_batch_add(&w, "UPDATE holds SET amount = amount + $3::bigint, bid_id = $4,"
                         " updated_at = now() WHERE lot_id = $1 AND account_id = $2"
                         " AND state = 'active'", 4, l->id, me, tx_batch_i64(&w, extra), bid_id);
    else
        tx_batch_add(&w, "INSERT INTO holds (id, account_id, lot_id, bid_id, amount, state)"
                         " VALUES ($1, $2, $3, $4, $5, 'active')", 5,
                     hold_id, me, l->id, bid_id, tx_batch_i64(&w, q->amount));
    /* Anti-snipe: a bid inside the window pushes the end to now + extension. */
    return finish(tx, b, &w, bid_id, q->amount, 1, l->seq + 1, "leading", NULL,
                  "UPDATE lots SET high_amount = $2::bigint, high_bidder = $3, high_bid = $4,"
                  " seq = $5::bigint,"
                  " ends_at = CASE WHEN snipe_window > 0"
                  "   AND ends_at - now() < make_interval(secs => snipe_window)"
                  "   THEN GREATEST(ends_at, now() + make_interval(secs => snipe_extend))"
                  "   ELSE ends_at END"
                  " WHERE id = $1", 5,
                  l->id, tx_batch_i64(&w, q->amount), me, bid_id, tx_batch_i64(&w, l->seq + 1));
}

/* Dutch and drop: pay now. */
static enum tx_decision purchase(struct tx *tx, struct bid_tx *b, struct lot *l)
{
    const struct bid_req *q = b->q;
    const char *me = b->r->caller.sub;
    int dutch = strcmp(l->kind, "dutch") == 0;
    int64_t unit, qty = 1, cost;
    char bid_id[UUID_STR_LEN + 1], memo[64];
    struct ledger_account acc[2];
    struct ledger_move_stmts m;
    struct tx_batch w;

    if (q->has_amount)
        return reject(tx, b, 0, 422, "field_not_applicable", NULL, 0,
                      "a %s lot is claimed, not bid on: omit \"amount\"", l->kind);
    if (dutch && q->has_quantity)
        return reject(tx, b, 0, 422, "field_not_applicable", NULL, 0,
                      "a Dutch lot has one unit: omit \"quantity\"");
    if (!dutch && q->has_max_price)
        return reject(tx, b, 0, 422, "field_not_applicable", NULL, 0,
                      "a drop has a fixed price: omit \"max_price\"");
    if (strcmp(l->status, "sold_out") == 0 || (!dutch && l->qty_claimed >= l->qty_total))
        return reject(tx, b, 1, 409, "sold_out", NULL, 0, "every unit has been claimed");
    if (strcmp(l->status, "live") != 0)
        return reject(tx, b, 1, 409, "lot_ended", NULL, 0, "the lot has ended (%s)", l->status);
    if (!l->started)
        return reject(tx, b, 1, 409, "lot_not_live", NULL, 0, "the lot has not started");
    if (strcmp(l->seller, me) == 0)
        return reject(tx, b, 1, 403, "own_lot", NULL, 0, "the seller cannot buy their own lot");
    if (dutch) {
        unit = l->current_price;
        if (q->has_max_price && unit > q->max_price)
            return reject(tx, b, 1, 409, "price_above_max", "price", unit,
                          "the price is %" PRId64 ", above max_price %" PRId64, unit, q->max_price);
    } else {
        unit = l->price;
        qty = q->has_quantity ? q->quantity : 1;
        if (l->max_per_claim > 0 && qty > l->max_per_claim)
            return reject(tx, b, 1, 422, "quantity_over_limit", "max_per_claim", l->max_per_claim,
                          "at most %d units per claim", l->max_per_claim);
        if (qty > l->qty_total - l->qty_claimed)
            return reject(tx, b, 1, 409, "sold_out", "units_left", l->qty_total - l->qty_claimed,
                          "only %d units left", l->qty_total - l->qty_claimed);
    }
    if (__builtin_mul_overflow(unit, qty, &cost))
        return reject(tx, b, 0, 422, "amount_out_of_range", NULL, 0,
                      "price x quantity exceeds the largest representable amount");

    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, me, sizeof(acc[0].id));
    memcpy(acc[1].id, l->seller, sizeof(acc[1].id));
    if (ledger_lock(tx, acc, 2) < 0)
        return TX_ERROR;
    if (!acc[0].found)
        return reject(tx, b, 1, 422, "bidder_account_not_found", NULL, 0,
                      "the token's account does not exist");
    if (acc[0].issuer || acc[0].escrow)
        return reject(tx, b, 1, 403, "issuer_cannot_bid", NULL, 0,
                      "the issuer and escrow accounts cannot buy");
    if (acc[0].balance - acc[0].held < cost)
        return reject(tx, b, 1, 422, "insufficient_funds", "available", acc[0].balance - acc[0].held,
                      "available %" PRId64 ", needed %" PRId64, acc[0].balance - acc[0].held, cost);
    if (!ledger_move_fits(&acc[0], &acc[1], cost))
        return reject(tx, b, 0, 422, "amount_out_of_range", NULL, 0,
                      "the seller's balance would exceed the largest representable amount");
    snprintf(memo, sizeof(memo), "lot %s", l->id);
    if (ledger_move_prepare(&m, tx->cfg, me, l->seller, cost, 0, "purchase", b->idem->caller,
                            memo, b->idem->scoped) < 0 || util_uuid_v4(bid_id) < 0)
        return TX_ERROR;
    /* One round trip for the payment, the claim row and the lot. */
    tx_batch_init(&w);
    for (int i = 0; i < m.n; i++)
        tx_batch_add_stmt(&w, &m.st[i]);
    add_bid(&w, b, bid_id, cost, qty, l->seq + 1, "claimed", m.id);
    if (dutch)
        return finish(tx, b, &w, bid_id, cost, 1, l->seq + 1, "claimed", m.id,
                      "UPDATE lots SET status = 'settled', settled_at = now(), winner = $2,"
                      " clearing_price = $5::bigint, high_amount = $5::bigint, high_bidder = $2,"
                      " high_bid = $3, qty_claimed = 1, seq = $4::bigint WHERE id = $1", 5,
                      l->id, me, bid_id, tx_batch_i64(&w, l->seq + 1), tx_batch_i64(&w, cost));
    return finish(tx, b, &w, bid_id, cost, qty, l->seq + 1, "claimed", m.id,
                  "UPDATE lots SET qty_claimed = qty_claimed + $2::int, seq = $3::bigint,"
                  " status = CASE WHEN qty_claimed + $2::int >= qty_total THEN 'sold_out'"
                  "   ELSE status END,"
                  " settled_at = CASE WHEN qty_claimed + $2::int >= qty_total THEN now()"
                  "   ELSE settled_at END"
                  " WHERE id = $1", 3,
                  l->id, tx_batch_i64(&w, qty), tx_batch_i64(&w, l->seq + 1), NULL, NULL);
}

static enum tx_decision bid_tx(struct tx *tx, void *arg)
{
    struct bid_tx *b = arg;
    struct lot l;
    int rc;

    free(b->body);
    b->body = NULL;
    b->status = 0;
    b->stored = 0;
    /* Round 1: BEGIN, the key, and the lot row locked (the lot's turn). */
    {
        struct tx_stmt r1[IDEM_CLAIM_STMTS + 1];
        const char *p[1] = { b->q->lot };
        int nc = idem_claim_stmts(b->idem, r1);
        r1[nc] = (struct tx_stmt){ lot_lock_sql(), 1, p, NULL, 0 };
        if (tx_exec_many(tx, r1, nc + 1, 0) < 0)
            return idem_claim_timed_out(tx, b->idem) ? TX_ROLLBACK : TX_ERROR;
        rc = PQntuples(r1[nc].res) == 1;
        if (rc)
            lot_parse(r1[nc].res, 0, &l);
        PQclear(r1[nc].res);
        if (idem_claim_result(tx, b->idem, r1) < 0)
            return TX_ERROR;
    }
    if (b->idem->outcome != IDEM_NEW)
        return TX_ROLLBACK;
    if (rc == 0)
        return reject(tx, b, 1, 404, "lot_not_found", NULL, 0, "no such lot");
    /* Close on read: settle a lot whose time is up before judging the bid. */
    rc = lot_settle_if_due(tx, &l);
    if (rc == LOT_SETTLE_OUT_OF_RANGE)
        return reject(tx, b, 0, 409, "lot_ended", NULL, 0,
                      "the lot has ended (its settlement is pending)");
    if (rc < 0)
        return TX_ERROR;
    if (strcmp(l.kind, "english") == 0)
        return english(tx, b, &l);
    return purchase(tx, b, &l);
}

void handle_bid(struct request *r)
{
    struct bid_req q;
    struct idem idem;
    struct bid_tx b;
    enum tx_decision d;

    if (bid_parse(r, &q) < 0)
        return;
    if (r->caller.scope == JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "user_token_required", "bids are placed with the bidder's own token");
        return;
    }
    if (idem_prepare(r, &idem) < 0)
        return;
    memset(&b, 0, sizeof(b));
    b.r = r;
    b.q = &q;
    b.idem = &idem;
    if (api_tx_run(r, 0, bid_tx, &b, &d) == 0)
        idem_answer(r, d, &idem, b.status, b.body);
    free(b.body);
    idem_free(&idem);
}
