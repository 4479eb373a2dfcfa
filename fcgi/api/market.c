/*
 * market.c — POST /markets (admin), GET /markets, GET /markets/{id} (book,
 * last trades, implied probability) and POST /markets/{id}/resolve (admin).
 *
 * Creation runs on the mutation runner (api/mutation.h). Resolution spans
 * several transactions under one key: this handler parses it, claims the
 * key with the market's move to resolving (domain/resolve.h decides), then
 * hands the batches and the close to the driver in domain/resolve.c and
 * answers from its outcome.
 */
#include "api/api_tx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/idempotency.h"
#include "api/mutation.h"
#include "api/page.h"
#include "api/routes.h"
#include "domain/ledger.h"
#include "domain/market.h"
#include "domain/resolve.h"
#include "log.h"
#include "util.h"

/* A resolution runs under the request's Idempotency-Key: it must fit whole. */
_Static_assert(RESOLVE_KEY_MAX == HTTP_IDEMPOTENCY_KEY_MAX, "a resolution holds any key");

static const char *i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

/* One market row (the market_get columns) as the API shows it. */
static struct json_object *market_json(PGresult *res, int i)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(PQgetvalue(res, i, 0)));
    json_object_object_add(o, "kind", json_object_new_string(PQgetvalue(res, i, 1)));
    json_object_object_add(o, "title", json_object_new_string(PQgetvalue(res, i, 2)));
    json_object_object_add(o, "owner", json_object_new_string(PQgetvalue(res, i, 3)));
    json_object_object_add(
        o, "escrow", PQgetisnull(res, i, 4) ? NULL : json_object_new_string(PQgetvalue(res, i, 4)));
    json_object_object_add(o, "total_supply",
                           PQgetisnull(res, i, 5)
                               ? NULL
                               : json_object_new_int64(strtoll(PQgetvalue(res, i, 5), NULL, 10)));
    json_object_object_add(o, "tick_min", json_object_new_int(atoi(PQgetvalue(res, i, 6))));
    json_object_object_add(o, "tick_max", json_object_new_int(atoi(PQgetvalue(res, i, 7))));
    json_object_object_add(o, "status", json_object_new_string(PQgetvalue(res, i, 8)));
    json_object_object_add(o, "outcome",
                           PQgetvalue(res, i, 9)[0] ? json_object_new_string(PQgetvalue(res, i, 9))
                                                    : NULL);
    json_object_object_add(
        o, "last_price",
        PQgetisnull(res, i, 11) ? NULL : json_object_new_int(atoi(PQgetvalue(res, i, 11))));
    json_object_object_add(o, "created_at", json_object_new_string(PQgetvalue(res, i, 12)));
    json_object_object_add(
        o, "resolved_at",
        PQgetisnull(res, i, 13) ? NULL : json_object_new_string(PQgetvalue(res, i, 13)));
    return o;
}

/* ---- POST /markets ------------------------------------------------------- */

struct market_spec {
    enum market_kind kind;
    const char *title;
    char owner[UUID_STR_LEN + 1];
    int64_t supply, tick_min, tick_max;
};

static int opt_int(struct request *r, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(r->json, name, &v))
        return 0;
    if (util_json_int64(v, lo, out) < 0 || *out > hi) {
        http_problem(r, 422, "invalid_field",
                     "\"%s\" must be an integer from %" PRId64 " to %" PRId64, name, lo, hi);
        return -1;
    }
    return 1;
}

/* The members of a shares market: its owner, supply and ticks. 0 / -1 (answered). */
static int parse_shares(struct request *r, struct market_spec *s)
{
    struct json_object *v;
    int rc;

    if (!json_object_object_get_ex(r->json, "owner", &v)
        || !json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), s->owner)) {
        http_problem(r, 422, "invalid_account_id", "\"owner\" must be an account id");
        return -1;
    }
    if ((rc = opt_int(r, "supply", 1, 1000000000000LL, &s->supply)) < 0)
        return -1;
    if (rc == 0) {
        http_problem(r, 422, "missing_field", "\"supply\" is required for a shares market");
        return -1;
    }
    s->tick_min = 1;
    s->tick_max = 1000000;
    if (opt_int(r, "tick_min", 1, 1000000000, &s->tick_min) < 0
        || opt_int(r, "tick_max", 1, 1000000000, &s->tick_max) < 0)
        return -1;
    return 0;
}

/* The members of an event market: only its ticks. 0 / -1 (answered). */
static int parse_event(struct request *r, struct market_spec *s)
{
    struct json_object *v;

    if (json_object_object_get_ex(r->json, "owner", &v)
        || json_object_object_get_ex(r->json, "supply", &v)) {
        http_problem(r, 422, "field_not_applicable",
                     "an event market has no owner or supply: contracts are minted in pairs");
        return -1;
    }
    s->tick_min = 1;
    s->tick_max = 99;
    if (opt_int(r, "tick_min", 1, 99, &s->tick_min) < 0
        || opt_int(r, "tick_max", 1, 99, &s->tick_max) < 0)
        return -1;
    return 0;
}

static int market_create_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "kind",     "title",    "owner", "supply",
                                           "tick_min", "tick_max", NULL };
    struct market_spec *s = req;
    struct json_object *v;

    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "kind", &v) || !json_object_is_type(v, json_type_string)
        || market_kind_parse(json_object_get_string(v), &s->kind) < 0) {
        http_problem(r, 422, "invalid_kind", "\"kind\" must be \"shares\" or \"event\"");
        return -1;
    }
    if (!json_object_object_get_ex(r->json, "title", &v)
        || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) < 1
        || json_object_get_string_len(v) > 200) {
        http_problem(r, 422, "invalid_field", "\"title\" must be a string of 1 to 200 bytes");
        return -1;
    }
    s->title = json_object_get_string(v);
    if ((s->kind == MARKET_SHARES ? parse_shares(r, s) : parse_event(r, s)) < 0)
        return -1;
    if (s->tick_min > s->tick_max) {
        http_problem(r, 422, "invalid_field", "\"tick_min\" must not exceed \"tick_max\"");
        return -1;
    }
    return 0;
}

/*
 * Round 1: BEGIN, the key, and the owner's kind (shares) or the escrow
 * account (event: it holds 100 per outstanding pair until resolution).
 * Round 2: the market row. Round 3: a shares market's supply, the stored
 * answer and COMMIT.
 */
static enum tx_decision market_create_apply(struct mutation *mu, struct tx *tx, void *req)
{
    const struct market_spec *s = req;
    int shares = s->kind == MARKET_SHARES;
    char id[UUID_STR_LEN + 1], escrow[UUID_STR_LEN + 1], name[120], b1[24], b2[24], b3[24];
    const char *owner = shares ? s->owner : escrow;
    const char *pe[2] = { escrow, name };
    const char *po[1] = { s->owner };
    struct tx_stmt st[1];
    const char *pm[8] = { id,
                          market_kind_name(s->kind),
                          s->title,
                          owner,
                          shares ? NULL : escrow,
                          shares ? i64(b1, s->supply) : NULL,
                          i64(b2, s->tick_min),
                          i64(b3, s->tick_max) };
    const char *ps[3] = { id, owner, b1 };
    struct tx_stmt last[1] = { tx_stmt_named(SQL_MARKET_SHARES_ISSUE, ps) };
    struct json_object *o;
    enum tx_decision d;
    PGresult *res;
    int ok;

    if (util_uuid_v4(id) < 0 || util_uuid_v4(escrow) < 0)
        return TX_ERROR;
    snprintf(name, sizeof(name), "escrow %.8s", id);
    st[0] = shares ? tx_stmt_named(SQL_MARKET_OWNER_KIND, po)
                   : tx_stmt_named(SQL_MARKET_ESCROW_INSERT, pe);
    if (!mut_begin(mu, tx, st, 1, &d))
        return d;
    ok = !shares
        || (PQntuples(st[0].res) == 1
            && ledger_kind_parse(PQgetvalue(st[0].res, 0, 0)) == LEDGER_KIND_USER);
    PQclear(st[0].res);
    if (!ok)
        return mut_refuse(mu, tx, MUT_STORED, 422, "owner_not_found", NULL,
                          "the owner must be an existing user account");
    res = tx_exec_named(tx, SQL_MARKET_INSERT, pm);
    if (!res)
        return TX_ERROR;
    o = json_object_new_object();
    json_object_object_add(o, "market", market_json(res, 0));
    PQclear(res);
    return mut_commit(mu, tx, last, shares ? 1 : 0, 201, o);
}

static const struct mutation_ops market_create_ops = {
    .name = "market_create",
    .req_size = sizeof(struct market_spec),
    .parse = market_create_parse,
    .apply = market_create_apply,
};

void handle_market_create(struct request *r)
{
    mutation_run(r, &market_create_ops);
}

/* ---- GET /markets, GET /markets/{id} --------------------------------------- */

struct read_tx {
    const char *id;
    struct json_object *out;
};

static struct json_object *levels(PGresult *res, const char *outcome, const char *side)
{
    struct json_object *a = json_object_new_array();

    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 0), outcome) != 0 || strcmp(PQgetvalue(res, i, 1), side) != 0)
            continue;
        struct json_object *l = json_object_new_array();
        json_object_array_add(l, json_object_new_int(atoi(PQgetvalue(res, i, 2))));
        json_object_array_add(l, json_object_new_int64(strtoll(PQgetvalue(res, i, 3), NULL, 10)));
        json_object_array_add(a, l);
    }
    return a;
}

static enum tx_decision read_tx(struct tx *tx, void *arg)
{
    struct read_tx *g = arg;
    const char *p[1] = { g->id };
    PGresult *res;
    struct json_object *book, *trades;
    enum market_kind kind;
    int event;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    res = tx_exec_named(tx, SQL_MARKET_GET, p);
    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return TX_COMMIT;
    }
    g->out = json_object_new_object();
    json_object_object_add(g->out, "market", market_json(res, 0));
    event = market_kind_parse(PQgetvalue(res, 0, 1), &kind) == 0 && kind == MARKET_EVENT;
    PQclear(res);

    /* Aggregated levels: bids best (highest) first, asks best (lowest) first. */
    res = tx_exec_named(tx, SQL_MARKET_BOOK, p);
    if (!res)
        return TX_ERROR;
    book = json_object_new_object();
    {
        static const char *const outs[] = { "shares", "yes", "no" };
        for (int k = event ? 1 : 0; k < (event ? 3 : 1); k++) {
            struct json_object *b = json_object_new_object();
            json_object_object_add(b, "bids", levels(res, outs[k], "buy"));
            json_object_object_add(b, "asks", levels(res, outs[k], "sell"));
            json_object_object_add(book, outs[k], b);
        }
    }
    PQclear(res);
    json_object_object_add(g->out, "book", book);

    res = tx_exec_named(tx, SQL_MARKET_TRADES, p);
    if (!res)
        return TX_ERROR;
    trades = json_object_new_array();
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "seq",
                               json_object_new_int64(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
        json_object_object_add(t, "kind", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(t, "outcome", json_object_new_string(PQgetvalue(res, i, 2)));
        json_object_object_add(t, "price", json_object_new_int(atoi(PQgetvalue(res, i, 3))));
        json_object_object_add(t, "quantity",
                               json_object_new_int64(strtoll(PQgetvalue(res, i, 4), NULL, 10)));
        json_object_object_add(t, "created_at", json_object_new_string(PQgetvalue(res, i, 5)));
        json_object_array_add(trades, t);
    }
    /* Implied probability of YES: the last trade's YES price (a NO trade at q is YES at 100 - q). */
    if (event) {
        struct json_object *prob = NULL;
        if (PQntuples(res) > 0) {
            int px = atoi(PQgetvalue(res, 0, 3));
            enum market_outcome o;
            if (market_outcome_parse(PQgetvalue(res, 0, 2), &o) == 0 && o == OUTCOME_NO)
                px = 100 - px;
            char txt[16];
            snprintf(txt, sizeof(txt), "%d.%02d", px / 100, px % 100);
            prob = json_object_new_double_s(px / 100.0, txt);
        }
        json_object_object_add(g->out, "implied_probability", prob);
    }
    PQclear(res);
    json_object_object_add(g->out, "trades", trades);

    res = tx_exec_named(tx, SQL_MARKET_OUTSTANDING, p);
    if (!res)
        return TX_ERROR;
    {
        struct json_object *out = json_object_new_object();
        for (int i = 0; i < PQntuples(res); i++)
            json_object_object_add(out, PQgetvalue(res, i, 0),
                                   json_object_new_int64(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        json_object_object_add(g->out, "outstanding", out);
    }
    PQclear(res);
    return TX_COMMIT;
}

/* Row i of a history_markets_* page (market_columns). */
static struct json_object *market_row(PGresult *res, int i, void *ctx)
{
    (void)ctx;
    return market_json(res, i);
}

void handle_market_list(struct request *r)
{
    static const struct page_list l = {
        .cursor_sql = SQL_HISTORY_MARKETS_CURSOR,
        .first_sql = SQL_HISTORY_MARKETS_FIRST,
        .after_sql = SQL_HISTORY_MARKETS_AFTER,
        .before_sql = SQL_HISTORY_MARKETS_BEFORE,
        .tx_flags = TX_READ_ONLY | TX_SNAPSHOT,
        .row = market_row,
    };

    page_answer(r, &l, NULL);
}

void handle_market_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct read_tx g = { id, NULL };
    enum tx_decision d;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "market_not_found", "no such market");
        return;
    }
    int rc = api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, read_tx, &g, &d);

    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, NULL, "market_not_found", "no such market");
}

/* ---- POST /markets/{id}/resolve ------------------------------------------ */

/* The claim transaction: the key and the market's move to resolving. */
struct resolve_claim_run {
    struct request *r;
    struct idem *idem;
    struct market_resolve *v;
    int status; /* a stored refusal, when body is set */
    char *body;
};

/* What the claim refuses with, stored under the key. */
static const struct {
    int status;
    const char *code, *detail;
} claim_refusals[] = {
    [RESOLVE_NOT_FOUND] = { 404, "market_not_found", "no such market" },
    [RESOLVE_NOT_EVENT] = { 409, "not_an_event_market", "only event markets are resolved" },
    [RESOLVE_CLOSED] = { 409, "market_closed",
                         "the market is already resolved or being resolved otherwise" },
};

static enum tx_decision resolve_claim_tx(struct tx *tx, void *arg)
{
    struct resolve_claim_run *c = arg;
    enum resolve_claim cl;

    free(c->body);
    c->body = NULL;
    if (idem_claim(tx, c->idem) < 0)
        return TX_ERROR;
    if (c->idem->outcome != IDEM_NEW && c->idem->outcome != IDEM_PENDING)
        return TX_ROLLBACK; /* replay, reused key, or a concurrent claim */
    if (market_resolve_claim(tx, c->v, c->idem->outcome == IDEM_PENDING, &cl) < 0)
        return TX_ERROR;
    if (cl == RESOLVE_CLAIMED)
        return TX_COMMIT;
    if (cl == RESOLVE_IN_FLIGHT) {
        c->idem->outcome = IDEM_IN_FLIGHT;
        return TX_ROLLBACK;
    }
    /* a terminal refusal of a new key, stored under it and committed */
    c->status = claim_refusals[cl].status;
    c->body = util_json_take_text(
        http_problem_object(c->r, c->status, claim_refusals[cl].code, claim_refusals[cl].detail));
    if (!c->body || idem_finish(tx, c->idem, c->status, c->body) < 0)
        return TX_ERROR;
    return TX_COMMIT;
}

/* Parse the request into v; 0, or -1 after answering. */
static int resolve_parse(struct request *r, struct market_resolve *v)
{
    static const char *const allowed[] = { "outcome", NULL };
    struct json_object *w;

    if (!util_uuid_parse(r->path_params[0], v->id)) {
        http_problem(r, 404, "market_not_found", "no such market");
        return -1;
    }
    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "outcome", &w)
        || !json_object_is_type(w, json_type_string)
        || market_resolution_parse(json_object_get_string(w), &v->outcome) < 0
        || v->outcome == RESOLUTION_NONE) {
        http_problem(r, 422, "invalid_outcome",
                     "\"outcome\" must be \"yes\", \"no\" or \"cancel\"");
        return -1;
    }
    v->lease = r->cfg->resolve_lease;
    return 0;
}

/* Drive the claimed resolution v and answer from its outcome. */
static void resolve_answer_drive(struct request *r, struct market_resolve *v)
{
    struct db_session s;
    enum tx_result res = TX_RESULT_DONE;
    enum resolve_outcome out;
    char iat[24];

    api_tx_session(r, &s, iat);
    out = market_resolve_drive(&s, v, &res);
    r->attempts += s.attempts;
    switch (out) {
    case RESOLVE_DONE:
        http_respond_raw(r, 200, "application/json", v->body, strlen(v->body),
                         v->replayed ? "Idempotent-Replayed: true\r\n" : "");
        return;
    case RESOLVE_OVERFLOW:
        http_problem(r, 422, "amount_out_of_range",
                     "a payout exceeds the largest representable amount");
        return;
    case RESOLVE_ESCROW_LEFT:
        http_problem(r, 500, "internal_error", "escrow did not end at zero; resolution halted");
        return;
    case RESOLVE_SKIPPED:
    case RESOLVE_FAILED:
        break;
    }
    if (api_tx_answer(r, res, &s) == 0)
        http_problem(r, 500, "internal_error", "the server could not complete the request");
}

void handle_market_resolve(struct request *r)
{
    struct market_resolve v;
    struct resolve_claim_run c;
    struct idem idem;
    enum tx_decision d;

    memset(&v, 0, sizeof(v));
    if (resolve_parse(r, &v) < 0 || idem_prepare(r, &idem) < 0)
        return;
    snprintf(v.caller, sizeof(v.caller), "%s", idem.caller);
    snprintf(v.key, sizeof(v.key), "%s", idem.key);
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.idem = &idem;
    c.v = &v;
    if (api_tx_run(r, 0, resolve_claim_tx, &c, &d) < 0)
        goto out;
    if (c.body)
        http_respond_raw(r, c.status, "application/problem+json", c.body, strlen(c.body), "");
    else if (d == TX_ROLLBACK)
        idem_respond(r, &idem); /* replay, 422 reused, 409 in flight */
    else
        resolve_answer_drive(r, &v);
out:
    free(c.body);
    free(v.body);
    idem_free(&idem);
}
