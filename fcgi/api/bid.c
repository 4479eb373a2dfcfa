/*
 * bid.c — POST /bid: English bids with holds and anti-snipe, Dutch claims
 * at the database clock's price, fixed-price drop claims of K units.
 *
 * One transaction per bid, on the mutation runner (api/mutation.h): claim
 * the idempotency key and lock the lot row (the lot's serialisation point)
 * in the first round trip, settle it first if its time is up
 * (close-on-read), check the rules (domain/auction.h), lock the accounts
 * involved in id order, then move holds or money and append the bid.
 * Business rejections after the key is claimed are stored under it and
 * committed (nothing else changes), so a retried claim can never buy twice
 * or succeed later. Input that does not fit the lot's kind is refused and
 * rolled back: nothing is written for bad input.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/bid_int.h"
#include "api/lots.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "api/validate.h"
#include "domain/auction.h"
#include "domain/events.h"
#include "domain/ledger.h"
#include "log.h"
#include "util.h"

static int opt_field(struct request *r, const char *name, int64_t min, int64_t max, int64_t *out,
                     int *has)
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
    static const char *const allowed[] = { "lot",        "amount",  "max_price", "quantity",
                                           "max_amount", "buy_now", NULL };
    struct json_object *v;

    memset(q, 0, sizeof(*q));
    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "lot", &v)) {
        http_problem(r, 422, "missing_field", "\"lot\" is required");
        return -1;
    }
    if (!json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), q->lot)) {
        http_problem(r, 422, "invalid_lot_id", "\"lot\" must be a lot id (a UUID string)");
        return -1;
    }
    if (opt_field(r, "amount", 1, INT64_MAX, &q->amount, &q->has_amount) < 0
        || opt_field(r, "max_price", 1, INT64_MAX, &q->max_price, &q->has_max_price) < 0
        || opt_field(r, "quantity", 1, AUCTION_UNITS_MAX, &q->quantity, &q->has_quantity) < 0
        || opt_field(r, "max_amount", 1, INT64_MAX, &q->max_amount, &q->has_max_amount) < 0)
        return -1;
    if (json_object_object_get_ex(r->json, "buy_now", &v)) {
        if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v)) {
            http_problem(r, 422, "invalid_field", "\"buy_now\" must be true (or omitted)");
            return -1;
        }
        q->buy_now = 1;
    }
    if ((q->has_amount && q->has_max_amount)
        || (q->buy_now && (q->has_amount || q->has_max_amount))) {
        http_problem(r, 422, "conflicting_fields",
                     "give one of \"amount\", \"max_amount\" or \"buy_now\"");
        return -1;
    }
    return 0;
}

/* ---- the writes of an accepted bid: one round trip ------------------------ */

/* A decimal text of v that lives as long as w ("" once full). */
const char *bid_w_i64(struct bid_writes *w, int64_t v)
{
    if (w->nnum >= WRITES_NUMS_MAX) {
        w->overflow = 1;
        return "";
    }
    snprintf(w->num[w->nnum], sizeof(w->num[0]), "%" PRId64, v);
    return w->num[w->nnum++];
}

/* Append the named statement id with its parameters (as many as it takes). */
void bid_w_add(struct bid_writes *w, enum sql_id id, ...)
{
    struct tx_stmt st = tx_stmt_named(id, NULL);
    va_list ap;

    if (w->n >= WRITES_MAX || st.nparams > WRITES_PARAMS_MAX) {
        w->overflow = 1;
        return;
    }
    va_start(ap, id);
    for (int i = 0; i < st.nparams; i++)
        w->params[w->n][i] = va_arg(ap, const char *);
    va_end(ap);
    st.values = w->params[w->n];
    w->st[w->n++] = st;
}

/* Append a statement built elsewhere (its parameters must outlive the send). */
void bid_w_add_stmt(struct bid_writes *w, struct tx_stmt st)
{
    if (w->n >= WRITES_MAX) {
        w->overflow = 1;
        return;
    }
    w->st[w->n++] = st;
}

/* Append the accepted bid or claim, numbered seq under the lot lock. */
void bid_add_row(struct bid_writes *w, struct mutation *m, const struct bid_req *q,
                 const struct bid_row *b)
{
    bid_w_add(w, SQL_BID_INSERT, b->id, q->lot, mut_request(m)->caller.sub, bid_w_i64(w, b->amount),
              bid_w_i64(w, b->quantity), bid_w_i64(w, b->seq), auction_bid_status_name(b->status),
              b->transfer_id, mut_scoped_key(m));
}

/* A string member of o ("" when missing or null). */
static const char *member(struct json_object *o, const char *name)
{
    struct json_object *v;

    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
        ? json_object_get_string(v)
        : "";
}

/* The members of a lot a bid can change, as bid.accepted carries them. */
static const char *const moving_members[] = {
    "high_amount",   "high_bidder",    "min_next_bid", "ends_at",
    "current_price", "claimed",        "units_left",   "settled_at",
    "winner",        "clearing_price", NULL,
};

/*
 * bid.accepted's payload: the answer's bid, and of its lot only what a bid
 * moves — id, kind, status, seq, ended, and those of moving_members that
 * are set; the lot's fixed terms (title, seller, prices, the anti-snipe
 * window, starts_at) are GET /lots/{id}'s. A lot's channel fans every event
 * out to each of its watchers, so the terms would be most of the bytes.
 */
static struct json_object *accepted_payload(struct json_object *answer, struct json_object *lot)
{
    static const char *const fixed[] = { "id", "kind", "status", "seq", "ended", NULL };
    struct json_object *o = json_object_new_object(), *state = json_object_new_object(), *v;

    if (json_object_object_get_ex(answer, "bid", &v))
        json_object_object_add(o, "bid", json_object_get(v));
    for (const char *const *k = fixed; *k; k++)
        if (json_object_object_get_ex(lot, *k, &v))
            json_object_object_add(state, *k, json_object_get(v));
    for (const char *const *k = moving_members; *k; k++)
        if (json_object_object_get_ex(lot, *k, &v) && v)
            json_object_object_add(state, *k, json_object_get(v));
    json_object_object_add(o, "lot", state);
    return o;
}

/*
 * The events of an accepted bid or claim (answer: {"bid", "lot"} as the lot
 * now stands): bid.accepted; bid.outbid for a previous leader who is
 * someone else, on that leader's own channel only (the lot's watchers learn
 * the new lead from bid.accepted, and a lot's channel fans every event out
 * to each of them); lot.extended when the bid pushed the end; lot.settled
 * when it sold the lot (a Dutch lot, a drop's last unit).
 */
static int bid_events(struct mutation *m, const struct bid_req *q, const struct bid_row *b,
                      struct json_object *answer)
{
    const struct lot *l = b->before;
    const char *me = mut_request(m)->caller.sub;
    struct json_object *lot = NULL, *o;
    const char *status;

    json_object_object_get_ex(answer, "lot", &lot);
    status = member(lot, "status");
    if (mut_event(m, "bid.accepted", accepted_payload(answer, lot), "lots/%s accounts/%s", q->lot,
                  me)
        < 0)
        return -1;
    if (l->kind == LOT_ENGLISH && l->high_bidder[0] && strcmp(l->high_bidder, me) != 0) {
        o = json_object_new_object();
        json_object_object_add(o, "lot", json_object_new_string(q->lot));
        json_object_object_add(o, "bidder", json_object_new_string(l->high_bidder));
        json_object_object_add(o, "bid", json_object_new_string(l->high_bid));
        json_object_object_add(o, "amount", json_object_new_int64(l->high_amount));
        json_object_object_add(o, "new_amount", json_object_new_int64(b->amount));
        if (mut_event(m, "bid.outbid", o, "accounts/%s", l->high_bidder) < 0)
            return -1;
    }
    if (l->kind == LOT_ENGLISH && l->ends_at[0] && strcmp(member(lot, "ends_at"), l->ends_at) > 0) {
        o = json_object_new_object();
        json_object_object_add(o, "lot", json_object_new_string(q->lot));
        json_object_object_add(o, "ends_at", json_object_new_string(member(lot, "ends_at")));
        json_object_object_add(o, "previous_ends_at", json_object_new_string(l->ends_at));
        if (mut_event(m, "lot.extended", o, "lots/%s", q->lot) < 0)
            return -1;
    }
    if (strcmp(status, "settled") == 0 || strcmp(status, "sold_out") == 0) {
        o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(q->lot));
        json_object_object_add(o, "status", json_object_new_string(status));
        json_object_object_add(o, "winner",
                               l->kind == LOT_DUTCH ? json_object_new_string(me) : NULL);
        json_object_object_add(o, "price",
                               l->kind == LOT_DUTCH ? json_object_new_int64(b->amount) : NULL);
        if (mut_event(m, "lot.settled", events_wrap("lot", o), "lots/%s accounts/%s", q->lot,
                      l->seller)
            < 0)
            return -1;
    }
    return 0;
}

int bid_w_send(struct tx *tx, struct bid_writes *w)
{
    if (w->overflow || w->n == 0) {
        tx->err = DB_FAILED;
        return -1;
    }
    if (tx_exec_many(tx, w->st, w->n, 0) < 0)
        return -1;
    return 0;
}

void bid_w_clear(struct bid_writes *w)
{
    for (int i = 0; i < w->n; i++) {
        PQclear(w->st[i].res);
        w->st[i].res = NULL;
    }
}

enum tx_decision bid_answer(struct mutation *m, struct tx *tx, const struct bid_req *q,
                            struct json_object *lot, const struct bid_row *b)
{
    return bid_answer_with(m, tx, q, lot, b, NULL, 0);
}

enum tx_decision bid_answer_with(struct mutation *m, struct tx *tx, const struct bid_req *q,
                                 struct json_object *lot, const struct bid_row *b,
                                 struct tx_stmt *st, int n)
{
    struct json_object *o, *bid;

    if (!lot) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    o = json_object_new_object();
    bid = json_object_new_object();
    json_object_object_add(bid, "id", json_object_new_string(b->id));
    json_object_object_add(bid, "lot", json_object_new_string(q->lot));
    json_object_object_add(bid, "bidder", json_object_new_string(mut_request(m)->caller.sub));
    json_object_object_add(bid, "amount", json_object_new_int64(b->amount));
    json_object_object_add(bid, "quantity", json_object_new_int64(b->quantity));
    json_object_object_add(bid, "seq", json_object_new_int64(b->seq));
    json_object_object_add(bid, "status",
                           json_object_new_string(auction_bid_status_name(b->status)));
    json_object_object_add(bid, "transfer_id",
                           b->transfer_id ? json_object_new_string(b->transfer_id) : NULL);
    json_object_object_add(o, "bid", bid);
    json_object_object_add(o, "lot", lot);
    if (bid_events(m, q, b, o) < 0) {
        json_object_put(o);
        return TX_ERROR;
    }
    return mut_commit(m, tx, st, n, 201, o);
}

/*
 * Send the writes in w, whose last statement updates the lot and returns
 * it, as one round trip; then the 201 answer {"bid", "lot"} stored under
 * the key and COMMIT in a second.
 */
enum tx_decision bid_finish(struct mutation *m, struct tx *tx, const struct bid_req *q,
                            struct bid_writes *w, const struct bid_row *b)
{
    struct json_object *lot;

    if (bid_w_send(tx, w) < 0)
        return TX_ERROR;
    lot = lots_json(w->st[w->n - 1].res, 0);
    bid_w_clear(w);
    return bid_answer(m, tx, q, lot, b);
}

enum tx_decision bid_refuse_closed(struct mutation *m, struct tx *tx, const struct lot *l,
                                   enum auction_closed c, const char *verb)
{
    if (c == AUCTION_SOLD_OUT && l->kind != LOT_ENGLISH) /* an English lot never sells out */
        return mut_refuse(m, tx, MUT_STORED, 409, "sold_out", mut_extra_i64("units_left", 0),
                          "every unit has been claimed");
    switch (c) {
    case AUCTION_SOLD_OUT:
    case AUCTION_ENDED:
        return mut_refuse(m, tx, MUT_STORED, 409, "lot_ended", NULL, "the lot has ended (%s)",
                          auction_status_name(l->status));
    case AUCTION_NOT_STARTED:
        return mut_refuse(m, tx, MUT_STORED, 409, "lot_not_live", NULL, "the lot has not started");
    case AUCTION_OWN_LOT:
    case AUCTION_OPEN:
        break;
    }
    return mut_refuse(m, tx, MUT_STORED, 403, "own_lot", NULL, "the seller cannot %s their own lot",
                      verb);
}

int bid_refuse_account(struct mutation *m, struct tx *tx, const struct ledger_account *me,
                       int64_t need, const char *verb, enum tx_decision *d)
{
    if (!me->found)
        *d = mut_refuse(m, tx, MUT_STORED, 422, "bidder_account_not_found", NULL,
                        "the token's account does not exist");
    else if (me->issuer || me->escrow)
        *d = mut_refuse(m, tx, MUT_STORED, 403, "issuer_cannot_bid", NULL,
                        "the issuer and escrow accounts cannot %s", verb);
    else if (!auction_funds_cover(me, need))
        *d = mut_refuse(m, tx, MUT_STORED, 422, "insufficient_funds",
                        mut_extra_i64("available", me->balance - me->held),
                        "available %" PRId64 ", needed %" PRId64, me->balance - me->held, need);
    else
        return 0;
    return 1;
}

static int bid_parse_req(struct request *r, void *req)
{
    return bid_parse(r, req);
}

/* Bids are placed with the bidder's own token, decided before the database. */
static int bid_authorize(struct request *r, const void *req)
{
    if (r->caller.scope == JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "user_token_required", "bids are placed with the bidder's own token");
        return -1;
    }
    return 0;
}

/*
 * No locked row came back: the lot does not exist, or it is sold out
 * (lot_lock_unless_sold_out skips it without waiting on its lock). rc is
 * what round 1's unlocked read (lot_get, sent right after the lock) found:
 * 1 with *l filled, 0 for no such lot. Refuse as purchase() would; in any
 * other case (not sold out after all, or input purchase() refuses first)
 * lock it as usual and return 1 with *l filled: go on as if round 1 had
 * locked it.
 */
static int unlocked_lot(struct mutation *m, struct tx *tx, const struct bid_req *q, struct lot *l,
                        int rc, enum tx_decision *d)
{
    char buf[96];

    /* the answer purchase() gives a sold-out lot: input errors come first */
    if (rc > 0 && l->kind != LOT_ENGLISH && !bid_claim_input_error(q, l, buf, sizeof(buf))
        && auction_lot_closed(l, mut_request(m)->caller.sub) == AUCTION_SOLD_OUT) {
        *d = bid_refuse_closed(m, tx, l, AUCTION_SOLD_OUT, "buy");
        return 0;
    }
    if (rc > 0)
        rc = auction_lot_lock(tx, q->lot, l);
    if (rc < 0)
        *d = TX_ERROR;
    else if (rc == 0)
        *d = mut_refuse(m, tx, MUT_STORED, 404, "lot_not_found", NULL, "no such lot");
    return rc > 0;
}

/* A locked lot l: settle it if its time is up (close on read), then judge the bid or claim. */
static enum tx_decision bid_go(struct mutation *m, struct tx *tx, const struct bid_req *q,
                               struct lot *l, const struct bid_claim_pre *pre)
{
    int rc = auction_settle_if_due(tx, l);

    if (rc == AUCTION_SETTLE_OUT_OF_RANGE)
        return mut_refuse(m, tx, MUT_ROLLBACK, 409, "lot_ended", NULL,
                          "the lot has ended (its settlement is pending)");
    if (rc < 0)
        return TX_ERROR;
    if (l->kind == LOT_ENGLISH)
        return bid_english(m, tx, q, l);
    /* a settled lot is no longer the row round 1 locked: lock-time state only */
    return bid_purchase(m, tx, q, l, rc == 0 ? pre : &(const struct bid_claim_pre){ NULL, NULL });
}

/* The lot in res (1, *l filled), none (0), or a row the schema forbids (-1). */
static int lot_row(PGresult *res, struct lot *l)
{
    int rc = PQntuples(res) == 1;

    if (rc && auction_lot_parse(res, 0, l) < 0)
        rc = -1;
    return rc;
}

/*
 * Round 1: BEGIN, the key and the lot row locked (the lot's turn) unless it
 * is sold out, on the postgres dialect the buyer's and the seller's
 * accounts too when it is a claim that may pay (lot_claim_lock_accounts),
 * then the lot read unlocked: a claim on a sold-out drop has what it needs
 * to refuse without a round trip of its own (a locked row wins; the read,
 * in its own later snapshot, sees what the lock skipped), and a winning
 * claim has every lock it needs. Then the lot settles if its time is up,
 * and the bid or claim goes its kind's way.
 */
static enum tx_decision bid_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct bid_req *q = req;
    const char *p[2] = { q->lot, mut_request(m)->caller.sub };
    struct tx_stmt r1[3] = { tx_stmt_named(SQL_LOT_LOCK_UNLESS_SOLD_OUT, p) };
    int n = 1, get, rc, read;
    struct bid_claim_pre pre = { NULL, NULL };
    enum tx_decision d;
    struct lot l;

    if (tx->cfg->dialect == ZS_DIALECT_POSTGRES)
        r1[n++] = tx_stmt_named(SQL_LOT_CLAIM_LOCK_ACCOUNTS, p);
    get = n;
    r1[n++] = tx_stmt_named(SQL_LOT_GET, p);
    if (!mut_begin(m, tx, r1, n, &d))
        return d;
    rc = lot_row(r1[0].res, &l);
    read = rc == 0 ? lot_row(r1[get].res, &l) : 0;
    PQclear(r1[get].res);
    if (rc > 0) { /* kept for the answer: the lot before the claim */
        pre.lot = r1[0].res;
        pre.accounts = get > 1 ? r1[1].res : NULL;
    } else {
        PQclear(r1[0].res);
        if (get > 1)
            PQclear(r1[1].res);
    }
    if (rc < 0 || read < 0) {
        log_error("lot %s: a kind or status the schema does not allow", q->lot);
        tx->err = DB_FAILED;
        d = TX_ERROR;
    } else if (rc == 0 && !unlocked_lot(m, tx, q, &l, read, &d)) {
        ; /* refused, or failed: d says which */
    } else {
        d = bid_go(m, tx, q, &l, &pre);
    }
    PQclear(pre.lot);
    PQclear(pre.accounts);
    return d;
}

static const struct mutation_ops bid_ops = {
    .name = "bid",
    .req_size = sizeof(struct bid_req),
    .parse = bid_parse_req,
    .authorize = bid_authorize,
    .apply = bid_apply,
};

void handle_bid(struct request *r)
{
    mutation_run(r, &bid_ops);
}
