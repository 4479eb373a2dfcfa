/*
 * order_cancel.c — DELETE /order/{id}: cancel an order's remainder and
 * release its holds (the owner or an admin). A gtd order found past its
 * deadline is expired instead (its holds released all the same) and the
 * answer is 409 order_expired, as for one the jobs child expired already.
 */
#include <stdio.h>
#include <string.h>

#include "api/auth.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "domain/book.h"
#include "domain/ledger.h"
#include "domain/market.h"
#include "domain/matching.h"
#include "util.h"

struct cancel_req {
    char id[UUID_STR_LEN + 1];
};

static int cancel_parse(struct request *r, void *req)
{
    struct cancel_req *c = req;

    if (!util_uuid_parse(r->path_params[0], c->id)) {
        http_problem(r, 404, "order_not_found", "no such order");
        return -1;
    }
    return 0;
}

/* The 200 answer: what the cancellation released. */
static struct json_object *cancel_answer(const struct match_order *k, const char *market)
{
    struct json_object *out = json_object_new_object(), *ord = json_object_new_object();

    json_object_object_add(ord, "id", json_object_new_string(k->id));
    json_object_object_add(ord, "market", json_object_new_string(market));
    json_object_object_add(ord, "status", json_object_new_string("cancelled"));
    json_object_object_add(ord, "released_quantity", json_object_new_int64(k->remaining));
    json_object_object_add(ord, "released_cash",
                           json_object_new_int64(k->side == SIDE_BUY ? k->hold : 0));
    json_object_object_add(out, "order", ord);
    return out;
}

/*
 * Round 1: BEGIN, the key and which market the order rests on. Then the
 * market lock (first, as every order takes it), the order's lock, its
 * owner's account, the release; the stored answer and COMMIT last.
 */
static enum tx_decision cancel_apply(struct mutation *mu, struct tx *tx, void *req)
{
    const struct cancel_req *c = req;
    const struct request *r = mut_request(mu);
    const char *p[1] = { c->id };
    struct tx_stmt st[1] = { tx_stmt_named(SQL_ORDER_MARKET_OF, p) };
    char market[UUID_STR_LEN + 1];
    struct ledger_account acc[1];
    struct match_order k;
    enum order_status status;
    struct market mk;
    enum tx_decision d;
    PGresult *res;
    char expiry[8];
    int n = 0, bad;

    if (!mut_begin(mu, tx, st, 1, &d))
        return d;
    if (PQntuples(st[0].res) == 0) {
        PQclear(st[0].res);
        return mut_refuse(mu, tx, MUT_STORED, 404, "order_not_found", NULL, "no such order");
    }
    snprintf(market, sizeof(market), "%s", PQgetvalue(st[0].res, 0, 0));
    PQclear(st[0].res);
    if (market_lock(tx, market, &mk) <= 0)
        return TX_ERROR;
    res = tx_exec_named(tx, SQL_ORDER_LOCK, p);
    if (!res)
        return TX_ERROR;
    bad = book_load_makers(res, &k, &n, 1, 0) < 0 || n != 1
        || order_status_parse(PQgetvalue(res, 0, 8), &status) < 0;
    if (!bad)
        snprintf(expiry, sizeof(expiry), "%s", PQgetvalue(res, 0, 9));
    PQclear(res);
    if (bad) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    /* Someone else's order is answered exactly as a missing one. */
    if (strcmp(k.account, r->caller.sub) != 0 && !auth_is_admin(r))
        return mut_refuse(mu, tx, MUT_STORED, 404, "order_not_found", NULL, "no such order");
    if (strcmp(expiry, "expired") == 0)
        return mut_refuse(mu, tx, MUT_STORED, 409, "order_expired", NULL,
                          "the order expired at its deadline");
    if (status != ORDER_OPEN)
        return mut_refuse(mu, tx, MUT_STORED, 409, "order_not_open", NULL,
                          "the order is already filled or cancelled");
    memset(acc, 0, sizeof(acc));
    memcpy(acc[0].id, k.account, sizeof(acc[0].id));
    if (ledger_lock(tx, acc, 1) < 0)
        return TX_ERROR;
    if (strcmp(expiry, "due") == 0) {
        /* past its deadline: expired now, committed with the answer */
        if (book_expire_resting(tx, market, &k) < 0)
            return TX_ERROR;
        return mut_refuse(mu, tx, MUT_STORED, 409, "order_expired", NULL,
                          "the order expired at its deadline");
    }
    if (book_cancel_resting(tx, market, &k) < 0)
        return TX_ERROR;
    if (mut_event(mu, "order.cancelled", cancel_answer(&k, market), "markets/%s accounts/%s",
                  market, k.account)
        < 0)
        return TX_ERROR;
    return mut_commit(mu, tx, NULL, 0, 200, cancel_answer(&k, market));
}

static const struct mutation_ops cancel_ops = {
    .name = "order_cancel",
    .req_size = sizeof(struct cancel_req),
    .parse = cancel_parse,
    .apply = cancel_apply,
};

void handle_order_cancel(struct request *r)
{
    mutation_run(r, &cancel_ops);
}
