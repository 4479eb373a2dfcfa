/*
 * lots.c — the lot endpoints: POST /lots (admin), GET /lots, GET /lots/{id},
 * and the public JSON of a lot (lots.h). The rules are the auction
 * domain's (domain/auction.h); the statements are in sql/queries/auction.sql.
 */
#include "api/lots.h"
#include "api/page.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/mutation.h"
#include "api/routes.h"
#include "api/validate.h"
#include "api/rows.h"
#include "domain/ledger.h"
#include "domain/auction.h"
#include "log.h"
#include "util.h"

/* ---- the public JSON of a lot -------------------------------------------- */

static const char *col(PGresult *res, int row, const char *name)
{
    int c = PQfnumber(res, name);

    if (c < 0 || PQgetisnull(res, row, c))
        return NULL;
    return PQgetvalue(res, row, c);
}

/* A member of the public JSON: its name, the column it shows, and whether it is a number. */
struct member {
    const char *name, *column;
    int numeric;
};

static const struct member head_members[] = {
    { "id", "id", 0 },       { "kind", "kind", 0 },     { "seller", "seller", 0 },
    { "title", "title", 0 }, { "status", "status", 0 }, { NULL, NULL, 0 },
};
static const struct member english_members[] = {
    { "start_price", "start_price", 1 },
    { "increment", "increment", 1 },
    { "reserve", "reserve", 1 },
    { "snipe_window", "snipe_window", 1 },
    { "snipe_extend", "snipe_extend", 1 },
    { "high_amount", "high_amount", 1 },
    { "high_bidder", "high_bidder", 0 },
    { "buy_now", "buy_now", 1 },
    { NULL, NULL, 0 },
};
static const struct member dutch_members[] = {
    { "start_price", "start_price", 1 },
    { "floor_price", "floor_price", 1 },
    { "step", "step", 1 },
    { "interval", "interval_s", 1 },
    { NULL, NULL, 0 },
};
static const struct member drop_members[] = {
    { "price", "price", 1 },
    { "max_per_claim", "max_per_claim", 1 },
    { "quantity", "qty_total", 1 },
    { "claimed", "qty_claimed", 1 },
    { NULL, NULL, 0 },
};
static const struct member tail_members[] = {
    { "seq", "seq", 1 },         { "starts_at", "starts_at", 0 },
    { "ends_at", "ends_at", 0 }, { "settled_at", "settled_at", 0 },
    { "winner", "winner", 0 },   { "clearing_price", "clearing_price", 1 },
    { NULL, NULL, 0 },
};

/* Add the members m[] (up to a NULL name) from row of res; SQL NULL shows as null. */
static void add_members(struct json_object *o, const struct member *m, PGresult *res, int row)
{
    for (; m->name; m++) {
        const char *v = col(res, row, m->column);
        json_object_object_add(o, m->name,
                               !v               ? NULL
                                   : m->numeric ? json_object_new_int64(strtoll(v, NULL, 10))
                                                : json_object_new_string(v));
    }
}

/* An English lot's increment table, [{"from", "step"}…], or null without one. */
static struct json_object *increments_json(const struct lot *l)
{
    struct json_object *a;

    if (l->n_inc == 0)
        return NULL;
    a = json_object_new_array();
    for (int i = 0; i < l->n_inc; i++) {
        struct json_object *row = json_object_new_object();
        json_object_object_add(row, "from", json_object_new_int64(l->inc_from[i]));
        json_object_object_add(row, "step", json_object_new_int64(l->inc_step[i]));
        json_object_array_add(a, row);
    }
    return a;
}

/* The members only a lot of l's kind has. */
static void add_kind_members(struct json_object *o, const struct lot *l, PGresult *res, int row)
{
    int64_t min;

    switch (l->kind) {
    case LOT_ENGLISH:
        add_members(o, english_members, res, row);
        json_object_object_add(o, "increments", increments_json(l));
        /* null once no higher bid fits in a bigint (POST /bid then answers
         * 422 amount_out_of_range) */
        json_object_object_add(o, "min_next_bid",
                               auction_min_next_bid_shown(l, &min) ? json_object_new_int64(min)
                                                                   : NULL);
        break;
    case LOT_DUTCH:
        add_members(o, dutch_members, res, row);
        json_object_object_add(o, "current_price",
                               l->status == LOT_LIVE ? json_object_new_int64(l->current_price)
                                                     : NULL);
        break;
    case LOT_DROP:
        add_members(o, drop_members, res, row);
        json_object_object_add(o, "units_left", json_object_new_int64(auction_units_left(l)));
        break;
    }
}

struct json_object *lots_json(PGresult *res, int row)
{
    struct json_object *o;
    struct lot l;

    if (auction_lot_parse(res, row, &l) < 0) {
        log_error("lot %s: a kind or status the schema does not allow", PQgetvalue(res, row, 0));
        return NULL;
    }
    o = json_object_new_object();
    add_members(o, head_members, res, row);
    add_kind_members(o, &l, res, row);
    add_members(o, tail_members, res, row);
    json_object_object_add(o, "ended", json_object_new_boolean(l.status != LOT_LIVE || l.ended));
    {
        const char *now = col(res, row, "db_now");
        json_object_object_add(o, "now", now ? json_object_new_string(now) : NULL);
    }
    return o;
}

/* ---- POST /lots ---------------------------------------------------------- */

/* Integer member in [lo, hi]; 0 ok (absent → *out untouched), -1 answered. */
static int opt_int(struct request *r, const char *name, int64_t lo, int64_t hi, int required,
                   int64_t *out)
{
    struct json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(r->json, name, &v) || json_object_is_type(v, json_type_null)) {
        if (required) {
            http_problem(r, 422, "missing_field", "\"%s\" is required", name);
            return -1;
        }
        return 0;
    }
    if (util_json_int64(v, lo, &n) < 0 || n > hi) {
        http_problem(r, 422, "invalid_field",
                     "\"%s\" must be an integer from %" PRId64 " to %" PRId64, name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

/* Where the spec keeps the number of slot. */
static int64_t *spec_slot(struct lot_spec *s, enum auction_spec_slot slot)
{
    switch (slot) {
    case AUCTION_SPEC_START:
        return &s->start;
    case AUCTION_SPEC_INCREMENT:
        return &s->increment;
    case AUCTION_SPEC_RESERVE:
        return &s->reserve;
    case AUCTION_SPEC_ENDS_IN:
        return &s->ends_in;
    case AUCTION_SPEC_SNIPE_WINDOW:
        return &s->snipe_window;
    case AUCTION_SPEC_SNIPE_EXTEND:
        return &s->snipe_extend;
    case AUCTION_SPEC_FLOOR:
        return &s->floor;
    case AUCTION_SPEC_STEP:
        return &s->step;
    case AUCTION_SPEC_INTERVAL:
        return &s->interval;
    case AUCTION_SPEC_PRICE:
        return &s->price;
    case AUCTION_SPEC_QUANTITY:
        return &s->quantity;
    case AUCTION_SPEC_MAX_PER_CLAIM:
        return &s->max_per_claim;
    case AUCTION_SPEC_BUY_NOW:
        return &s->buy_now;
    case AUCTION_SPEC__COUNT:
        break;
    }
    return NULL;
}

/* What is wrong with an increment table, for its problem detail. */
static const char *inc_error_text(enum auction_inc_error e)
{
    switch (e) {
    case AUCTION_INC_COUNT:
        return "must have from 1 to 16 rows";
    case AUCTION_INC_FIRST_NOT_ZERO:
        return "must start at \"from\": 0";
    case AUCTION_INC_NOT_ASCENDING:
        return "must have strictly ascending \"from\" values";
    case AUCTION_INC_STEP:
        return "must have integer steps from 1 to the largest price";
    case AUCTION_INC_STEP_DECREASES:
        return "must have steps that never decrease";
    case AUCTION_INC_FROM_RANGE:
        return "must have integer \"from\" values from 0 to the largest price";
    case AUCTION_INC_OK:
        break;
    }
    return "is not valid";
}

/* One row {"from", "step"} of "increments" into row i of s; 0, or an error. */
static enum auction_inc_error inc_row(struct json_object *row, struct lot_spec *s, int i)
{
    struct json_object *f, *st;

    if (!json_object_is_type(row, json_type_object) || json_object_object_length(row) != 2
        || !json_object_object_get_ex(row, "from", &f)
        || !json_object_object_get_ex(row, "step", &st))
        return AUCTION_INC_STEP;
    if (util_json_int64(f, 0, &s->inc_from[i]) < 0)
        return AUCTION_INC_FROM_RANGE;
    if (util_json_int64(st, 1, &s->inc_step[i]) < 0)
        return AUCTION_INC_STEP;
    return AUCTION_INC_OK;
}

/* "increments" (an English lot's increment table) in place of "increment". */
static int parse_increments(struct request *r, struct lot_spec *s)
{
    struct json_object *v, *inc;
    enum auction_inc_error e = AUCTION_INC_OK;
    int has_inc = json_object_object_get_ex(r->json, "increment", &inc)
        && !json_object_is_type(inc, json_type_null);

    if (!json_object_object_get_ex(r->json, "increments", &v)
        || json_object_is_type(v, json_type_null)) {
        if (has_inc)
            return 0;
        http_problem(r, 422, "missing_field", "\"increment\" or \"increments\" is required");
        return -1;
    }
    if (has_inc) {
        http_problem(r, 422, "conflicting_fields",
                     "give \"increment\" or \"increments\", not both");
        return -1;
    }
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) < 1
        || json_object_array_length(v) > AUCTION_INCREMENTS_MAX)
        e = AUCTION_INC_COUNT;
    else
        s->n_inc = (int)json_object_array_length(v);
    for (int i = 0; e == AUCTION_INC_OK && i < s->n_inc; i++)
        e = inc_row(json_object_array_get_idx(v, (size_t)i), s, i);
    if (e == AUCTION_INC_OK)
        e = auction_increments_check(s->inc_from, s->inc_step, s->n_inc);
    if (e != AUCTION_INC_OK
        || auction_increments_format(s->inc_from, s->inc_step, s->n_inc, s->increments,
                                     sizeof(s->increments))
            < 0) {
        http_problem(r, 422, "invalid_increments", "\"increments\" (rows {\"from\", \"step\"}) %s",
                     inc_error_text(e));
        return -1;
    }
    return 0;
}

/* An English lot's cross-field rules: its increment or table, a buy-now
 * price at least the start and the reserve. */
static int english_rules(struct request *r, struct lot_spec *s)
{
    if (parse_increments(r, s) < 0)
        return -1;
    if (s->buy_now && (s->buy_now < s->start || s->buy_now < s->reserve)) {
        http_problem(r, 422, "invalid_field",
                     "\"buy_now\" must be at least \"start\" and \"reserve\"");
        return -1;
    }
    return 0;
}

/* The kind's numbers, its cross-field rules, and no member of another kind. */
static int parse_kind_fields(struct request *r, struct lot_spec *s)
{
    struct json_object *v;

    for (const struct auction_spec_field *f = auction_spec_fields(s->kind_id); f->name; f++)
        if (opt_int(r, f->name, f->lo, f->hi, f->required, spec_slot(s, f->slot)) < 0)
            return -1;
    if (s->kind_id == LOT_ENGLISH && english_rules(r, s) < 0)
        return -1;
    if (s->kind_id == LOT_DUTCH && !auction_dutch_spec_ok(s->start, s->floor)) {
        http_problem(r, 422, "invalid_field", "\"floor\" must not exceed \"start\"");
        return -1;
    }
    if (s->kind_id == LOT_DROP && json_object_object_get_ex(r->json, "start", &v)) {
        http_problem(r, 422, "field_not_applicable", "\"start\" does not apply to a drop lot");
        return -1;
    }
    for (int k = 0; k < 2; k++)
        for (const char *const *f = auction_spec_foreign(s->kind_id, k); *f; f++)
            if (json_object_object_get_ex(r->json, *f, &v)) {
                http_problem(r, 422, "field_not_applicable", "\"%s\" does not apply to a %s lot",
                             *f, s->kind);
                return -1;
            }
    return 0;
}

int parse_lot_spec(struct request *r, struct lot_spec *s)
{
    static const char *const allowed[] = {
        "kind",    "seller",       "title",         "start",   "increment",  "reserve",
        "ends_in", "snipe_window", "snipe_extend",  "floor",   "step",       "interval",
        "price",   "quantity",     "max_per_claim", "buy_now", "increments", NULL
    };
    struct json_object *v;

    memset(s, 0, sizeof(*s));
    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "kind", &v) || !json_object_is_type(v, json_type_string)
        || auction_kind_parse(json_object_get_string(v), &s->kind_id) < 0) {
        http_problem(r, 422, "invalid_kind", "\"kind\" must be \"english\", \"dutch\" or \"drop\"");
        return -1;
    }
    s->kind = json_object_get_string(v);
    if (!json_object_object_get_ex(r->json, "seller", &v)
        || !json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), s->seller)) {
        http_problem(r, 422, "invalid_account_id", "\"seller\" must be an account id");
        return -1;
    }
    if (json_object_object_get_ex(r->json, "title", &v)
        && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 200) {
            http_problem(r, 422, "invalid_field",
                         "\"title\" must be a string of at most 200 bytes");
            return -1;
        }
        s->title = json_object_get_string(v);
    }
    return parse_kind_fields(r, s);
}

static int lot_parse_req(struct request *r, void *req)
{
    return parse_lot_spec(r, req);
}

/* The decimal text of x in buf, or NULL for 0 (a number the lot does not have). */
static const char *opt_num(char buf[24], int64_t x)
{
    if (!x)
        return NULL;
    snprintf(buf, 24, "%" PRId64, x);
    return buf;
}

/*
 * Two round trips:
 *   1. BEGIN; claim the key; the seller's account kind
 *   2. the lot (RETURNING its columns); then the stored answer and COMMIT
 * A seller that is not a user account is refused and stored.
 */
static enum tx_decision lot_create_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct lot_spec *s = req;
    const char *ps[1] = { s->seller };
    struct tx_stmt r1[1] = { tx_stmt_named(SQL_LOT_SELLER_KIND, ps) };
    char id[UUID_STR_LEN + 1], v[11][24], qty[24], ends[24];
    struct json_object *o, *lot;
    enum tx_decision d;
    PGresult *res;
    int ok;

    if (!mut_begin(m, tx, r1, 1, &d))
        return d;
    ok = PQntuples(r1[0].res) == 1
        && ledger_kind_parse(PQgetvalue(r1[0].res, 0, 0)) == LEDGER_KIND_USER;
    PQclear(r1[0].res);
    if (!ok)
        return mut_refuse(m, tx, MUT_STORED, 422, "seller_not_found", NULL,
                          "the seller must be an existing user account");
    if (util_uuid_v4(id) < 0)
        return TX_ERROR;
    snprintf(qty, sizeof(qty), "%" PRId64, s->quantity ? s->quantity : 1);
    snprintf(ends, sizeof(ends), "%" PRId64, s->ends_in);
    const char *p[18] = {
        id,
        s->kind,
        s->seller,
        s->title ? s->title : "",
        opt_num(v[0], s->start),
        opt_num(v[1], s->increment),
        opt_num(v[2], s->reserve),
        opt_num(v[3], s->snipe_window),
        opt_num(v[4], s->snipe_extend),
        opt_num(v[5], s->floor),
        opt_num(v[6], s->step),
        opt_num(v[7], s->interval),
        opt_num(v[8], s->price),
        opt_num(v[9], s->max_per_claim),
        qty,
        s->kind_id == LOT_ENGLISH ? ends : NULL,
        opt_num(v[10], s->buy_now),
        s->n_inc ? s->increments : NULL,
    };
    res = tx_exec_named(tx, SQL_LOT_CREATE, p);
    if (!res)
        return TX_ERROR;
    lot = lots_json(res, 0);
    PQclear(res);
    if (!lot) {
        tx->err = DB_FAILED;
        return TX_ERROR;
    }
    o = json_object_new_object();
    json_object_object_add(o, "lot", lot);
    return mut_commit(m, tx, NULL, 0, 201, o);
}

static const struct mutation_ops lot_create_ops = {
    .name = "lot_create",
    .req_size = sizeof(struct lot_spec),
    .parse = lot_parse_req,
    .apply = lot_create_apply,
};

void handle_lot_create(struct request *r)
{
    mutation_run(r, &lot_create_ops);
}

/* ---- GET /lots, GET /lots/{id} ------------------------------------------ */

struct lot_read {
    const char *id;
    struct json_object *out;
};

/* The columns of lot_recent_bids. */
static const struct row_col recent_bid_cols[] = {
    { "id", ROW_TEXT }, { "bidder", ROW_TEXT }, { "amount", ROW_I64 },      { "quantity", ROW_INT },
    { "seq", ROW_I64 }, { "status", ROW_TEXT }, { "created_at", ROW_TEXT }, { "proxy", ROW_BOOL },
};

static struct json_object *recent_bids(PGresult *res)
{
    return rows_array(res, recent_bid_cols, ROW_COLS(recent_bid_cols), -1);
}

/* The lot g->id, settled first if its time is up (close on read), with its recent bids. */
static enum tx_decision lot_one_read(struct tx *tx, struct lot_read *g)
{
    const char *p[1] = { g->id };
    PGresult *res = tx_exec_named(tx, SQL_LOT_GET, p);
    struct lot l;

    if (!res)
        return TX_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return TX_COMMIT;
    }
    if (auction_lot_parse(res, 0, &l) < 0)
        goto bad_row;
    if (auction_settlement_decide(&l) != AUCTION_SETTLE_NOT_DUE) {
        PQclear(res);
        /* A lot that cannot settle now (AUCTION_SETTLE_OUT_OF_RANGE: nothing
         * written) is shown as it is, ended and unsettled. */
        if (auction_lot_lock(tx, g->id, &l) < 0 || auction_settle_if_due(tx, &l) == -1)
            return TX_ERROR;
        res = tx_exec_named(tx, SQL_LOT_GET, p);
        if (!res)
            return TX_ERROR;
    }
    g->out = lots_json(res, 0);
    if (!g->out)
        goto bad_row;
    PQclear(res);
    res = tx_exec_named(tx, SQL_LOT_RECENT_BIDS, p);
    if (!res)
        return TX_ERROR;
    json_object_object_add(g->out, "recent_bids", recent_bids(res));
    PQclear(res);
    return TX_COMMIT;
bad_row:
    PQclear(res);
    tx->err = DB_FAILED;
    return TX_ERROR;
}

static enum tx_decision lot_read_tx(struct tx *tx, void *arg)
{
    struct lot_read *g = arg;

    if (g->out) {
        json_object_put(g->out);
        g->out = NULL;
    }
    return lot_one_read(tx, g);
}

/* Row i of a history_lots_* page (lot_columns), as GET /lots/{id} shows it. */
static struct json_object *lot_row(PGresult *res, int i, void *ctx)
{
    (void)ctx;
    return lots_json(res, i);
}

void handle_lot_list(struct request *r)
{
    static const struct page_list l = {
        .cursor_sql = SQL_HISTORY_LOTS_CURSOR,
        .first_sql = SQL_HISTORY_LOTS_FIRST,
        .after_sql = SQL_HISTORY_LOTS_AFTER,
        .before_sql = SQL_HISTORY_LOTS_BEFORE,
        .tx_flags = TX_READ_ONLY | TX_SNAPSHOT,
        .row = lot_row,
    };

    page_answer(r, &l, NULL);
}

void handle_lot_get(struct request *r)
{
    char id[UUID_STR_LEN + 1];
    struct lot_read g = { id, NULL };
    enum tx_decision d;
    int rc;

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "lot_not_found", "no such lot");
        return;
    }
    rc = api_tx_run(r, 0, lot_read_tx, &g, &d);
    /* tx_run first: the transaction fills the output */
    api_answer_read(r, rc, g.out, "lot", "lot_not_found", "no such lot");
}
