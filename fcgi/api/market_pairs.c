/*
 * market_pairs.c — POST /markets/{id}/split and POST /markets/{id}/merge:
 * cash into a YES+NO pair and a pair back into cash, on an open event
 * market (the conditional-token split and merge).
 *
 * A split pays 100 per pair from the caller into the market's escrow (one
 * transfer of kind `split`) and adds one YES and one NO contract per pair
 * to the caller's positions (50 of cost basis each: what it paid). A merge
 * burns pairs the caller holds free of resting sells (a YES and a NO each,
 * with their share of cost basis) and pays 100 per pair back out of escrow
 * (kind `merge`). Either way escrow stays 100 x the outstanding pairs.
 *
 * One transaction on the mutation runner (api/mutation.h): the key alone
 * first (a replay is answered without queueing on the market lock), then
 * the market row FOR UPDATE (every order and resolution batch on the market
 * serialises on it), the caller's YES/NO positions, the caller's and the
 * escrow's accounts in id order; the checks; then the writes, the event,
 * the stored answer and COMMIT. A refusal writes nothing but the stored
 * answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "domain/events.h"
#include "domain/ledger.h"
#include "domain/market.h"
#include "util.h"

enum pair_op { PAIRS_SPLIT, PAIRS_MERGE };

struct pairs_req {
    enum pair_op op;
    char market[UUID_STR_LEN + 1];
    int64_t quantity, amount; /* pairs, and 100 x pairs */
};

/* What the caller holds of one side: all of it, free of resting sells, its basis. */
struct side_pos {
    int64_t quantity, free, cost;
};

static const char *i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

/* The market from the path, the pair count from the body. 0, or -1 after answering. */
static int pairs_parse(struct request *r, struct pairs_req *q)
{
    static const char *const allowed[] = { "quantity", NULL };
    struct json_object *v;

    if (!util_uuid_parse(r->path_params[0], q->market)) {
        http_problem(r, 404, "market_not_found", "no such market");
        return -1;
    }
    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "quantity", &v)
        || util_json_int64(v, 1, &q->quantity) < 0
        || market_pairs_amount(q->quantity, &q->amount) < 0) {
        http_problem(r, 422, "invalid_quantity",
                     "\"quantity\" must be an integer from 1 to %lld (pairs)",
                     (long long)MARKET_PAIRS_MAX);
        return -1;
    }
    return 0;
}

static int split_parse(struct request *r, void *req)
{
    ((struct pairs_req *)req)->op = PAIRS_SPLIT;
    return pairs_parse(r, req);
}

static int merge_parse(struct request *r, void *req)
{
    ((struct pairs_req *)req)->op = PAIRS_MERGE;
    return pairs_parse(r, req);
}

/* Pairs move on the holder's own account, with its own token. */
static int pairs_authorize(struct request *r, const void *req)
{
    (void)req;
    if (r->caller.scope == JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "user_token_required",
                     "splits and merges are made with the holder's own token");
        return -1;
    }
    return 0;
}

/* The caller's YES (pos[0]) and NO (pos[1]) positions. 0, or -1 (failed statement). */
static int read_sides(struct tx *tx, const char *market, const char *me, struct side_pos pos[2])
{
    const char *p[2] = { market, me };
    PGresult *res = tx_exec_named(tx, SQL_MARKET_PAIRS_FREE, p);
    enum market_outcome o;

    if (!res)
        return -1;
    memset(pos, 0, 2 * sizeof(*pos));
    for (int i = 0; i < PQntuples(res); i++) {
        if (market_outcome_parse(PQgetvalue(res, i, 0), &o) < 0 || o == OUTCOME_SHARES) {
            PQclear(res);
            tx->err = DB_FAILED;
            return -1;
        }
        pos[o == OUTCOME_NO].free = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        pos[o == OUTCOME_NO].quantity = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        pos[o == OUTCOME_NO].cost = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    }
    PQclear(res);
    return 0;
}

/* The answer (and the event's payload): what moved and what the caller holds now. */
static struct json_object *pairs_answer(const struct pairs_req *q, const char *transfer,
                                        const struct side_pos pos[2], int64_t escrow_after,
                                        const char *now)
{
    struct json_object *o = json_object_new_object(), *p = json_object_new_object();

    json_object_object_add(o, "market", json_object_new_string(q->market));
    json_object_object_add(o, "action",
                           json_object_new_string(q->op == PAIRS_SPLIT ? "split" : "merge"));
    json_object_object_add(o, "quantity", json_object_new_int64(q->quantity));
    json_object_object_add(o, "amount", json_object_new_int64(q->amount));
    json_object_object_add(o, "transfer", json_object_new_string(transfer));
    json_object_object_add(p, "yes", json_object_new_int64(pos[0].quantity));
    json_object_object_add(p, "no", json_object_new_int64(pos[1].quantity));
    json_object_object_add(o, "positions", p);
    json_object_object_add(o, "escrow_balance", json_object_new_int64(escrow_after));
    json_object_object_add(o, "created_at", json_object_new_string(now));
    return o;
}

/* The locked market: found, an event market, open. 0 to go on, or -1 with *d. */
static int check_market(struct mutation *mu, struct tx *tx, const struct pairs_req *q,
                        struct market *mk, enum tx_decision *d)
{
    int rc = market_lock(tx, q->market, mk);

    *d = TX_ERROR;
    if (rc < 0)
        return -1;
    if (rc == 0)
        *d = mut_refuse(mu, tx, MUT_STORED, 404, "market_not_found", NULL, "no such market");
    else if (mk->kind != MARKET_EVENT)
        *d = mut_refuse(mu, tx, MUT_STORED, 409, "not_an_event_market", NULL,
                        "only event markets split and merge YES+NO pairs");
    else if (mk->status != MARKET_OPEN)
        *d = mut_refuse(mu, tx, MUT_STORED, 409, "market_closed", NULL, "the market is %s",
                        market_status_name(mk->status));
    else
        return 0;
    return -1;
}

/* The caller (acc[0]) and the escrow (acc[1]) locked in id order and
 * checked for the move. 0 to go on, or -1 with *d. */
static int check_accounts(struct mutation *mu, struct tx *tx, const struct pairs_req *q,
                          struct ledger_account acc[2], const struct side_pos pos[2],
                          enum tx_decision *d)
{
    const struct ledger_account *me = &acc[0], *payer = q->op == PAIRS_SPLIT ? &acc[0] : &acc[1];
    const struct ledger_account *payee = q->op == PAIRS_SPLIT ? &acc[1] : &acc[0];
    int64_t room;

    *d = TX_ERROR;
    if (ledger_lock(tx, acc, 2) < 0)
        return -1;
    if (!me->found || !acc[1].found) {
        *d = mut_refuse(mu, tx, MUT_STORED, 422, "account_not_found", NULL,
                        "the token's account does not exist");
        return -1;
    }
    if (me->issuer || me->escrow) {
        *d = mut_refuse(mu, tx, MUT_STORED, 403, "issuer_cannot_trade", NULL,
                        "the issuer and escrow accounts cannot split or merge");
        return -1;
    }
    if (q->op == PAIRS_MERGE && (pos[0].free < q->quantity || pos[1].free < q->quantity)) {
        int64_t have = pos[0].free < pos[1].free ? pos[0].free : pos[1].free;

        *d = mut_refuse(
            mu, tx, MUT_STORED, 422, "insufficient_pairs", mut_extra_i64("pairs_free", have),
            "you hold %" PRId64 " free YES and %" PRId64
            " free NO (not held by resting sells): %" PRId64 " pairs, the merge burns %" PRId64,
            pos[0].free, pos[1].free, have, q->quantity);
        return -1;
    }
    if (!ledger_funds_cover(payer, q->amount)) {
        if (q->op == PAIRS_MERGE) {
            tx->err = DB_FAILED; /* escrow below 100 x pairs: event_pairs_backed says so */
            return -1;
        }
        *d = mut_refuse(mu, tx, MUT_STORED, 422, "insufficient_funds", NULL,
                        "available %" PRId64 ", needed %" PRId64, ledger_available(me), q->amount);
        return -1;
    }
    if (!ledger_move_fits(payer, payee, q->amount)
        || (q->op == PAIRS_SPLIT
            && (__builtin_add_overflow(pos[0].quantity, q->quantity, &room)
                || __builtin_add_overflow(pos[1].quantity, q->quantity, &room)))) {
        *d = mut_refuse(mu, tx, MUT_ROLLBACK, 422, "amount_out_of_range", NULL,
                        "the %s would exceed the largest representable amount",
                        q->op == PAIRS_SPLIT ? "split" : "merge");
        return -1;
    }
    return 0;
}

/* A merge's burn of both sides, checked row by row. 0, or -1 (failed, or not free after all). */
static int burn_sides(struct tx *tx, const struct pairs_req *q, const char *me,
                      struct side_pos pos[2])
{
    static const char *const sides[2] = { "yes", "no" };
    char qb[24], cb[24];

    for (int i = 0; i < 2; i++) {
        int64_t share = market_cost_share(pos[i].quantity, pos[i].cost, q->quantity);
        const char *p[5] = { q->market, me, sides[i], i64(qb, q->quantity), i64(cb, share) };
        PGresult *res = tx_exec_named(tx, SQL_MARKET_PAIRS_BURN, p);
        int one;

        if (!res)
            return -1;
        one = PQntuples(res) == 1;
        if (one)
            pos[i].quantity = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (!one) {
            tx->err = DB_FAILED; /* checked free under the market lock just before */
            return -1;
        }
    }
    return 0;
}

static enum tx_decision pairs_apply(struct mutation *mu, struct tx *tx, void *req)
{
    const struct pairs_req *q = req;
    const char *me = mut_request(mu)->caller.sub;
    int split = q->op == PAIRS_SPLIT;
    struct ledger_account acc[2];
    struct side_pos pos[2];
    struct ledger_move_stmts mv;
    struct market mk;
    struct tx_stmt last[MUT_LAST_MAX];
    char qb[24], cb[24];
    const char *pm[4] = { q->market, me, i64(qb, q->quantity),
                          i64(cb, q->quantity * MARKET_CANCEL_PAYOUT) };
    char memo[64];
    enum tx_decision d;
    int64_t escrow_after;
    int n;

    if (!mut_begin(mu, tx, NULL, 0, &d))
        return d;
    if (check_market(mu, tx, q, &mk, &d) < 0)
        return d;
    if (read_sides(tx, q->market, me, pos) < 0)
        return TX_ERROR;
    memset(acc, 0, sizeof(acc));
    snprintf(acc[0].id, sizeof(acc[0].id), "%.*s", UUID_STR_LEN, me);
    snprintf(acc[1].id, sizeof(acc[1].id), "%s", mk.escrow);
    if (check_accounts(mu, tx, q, acc, pos, &d) < 0)
        return d;
    if (!split && burn_sides(tx, q, me, pos) < 0)
        return TX_ERROR;
    snprintf(memo, sizeof(memo), "market %s %s", q->market, split ? "split" : "merge");
    if (ledger_move_prepare(&mv, tx->cfg, split ? me : mk.escrow, split ? mk.escrow : me, q->amount,
                            0, split ? "split" : "merge", mut_caller(mu), memo, mut_scoped_key(mu))
        < 0)
        return TX_ERROR;
    n = mv.n;
    memcpy(last, mv.st, sizeof(mv.st[0]) * (size_t)n);
    if (split) {
        last[n++] = tx_stmt_named(SQL_MARKET_PAIRS_MINT, pm);
        pos[0].quantity += q->quantity;
        pos[1].quantity += q->quantity;
    }
    escrow_after = acc[1].balance + (split ? q->amount : -q->amount);
    if (mut_event(mu, split ? "market.split" : "market.merged",
                  events_wrap(split ? "split" : "merge",
                              pairs_answer(q, mv.id, pos, escrow_after, mut_now(mu))),
                  "markets/%s accounts/%s", q->market, me)
        < 0)
        return TX_ERROR;
    return mut_commit(mu, tx, last, n, split ? 201 : 200,
                      pairs_answer(q, mv.id, pos, escrow_after, mut_now(mu)));
}

static const struct mutation_ops split_ops = {
    .name = "market_split",
    .req_size = sizeof(struct pairs_req),
    .parse = split_parse,
    .authorize = pairs_authorize,
    .apply = pairs_apply,
};

static const struct mutation_ops merge_ops = {
    .name = "market_merge",
    .req_size = sizeof(struct pairs_req),
    .parse = merge_parse,
    .authorize = pairs_authorize,
    .apply = pairs_apply,
};

void handle_market_split(struct request *r)
{
    mutation_run(r, &split_ops);
}

void handle_market_merge(struct request *r)
{
    mutation_run(r, &merge_ops);
}
