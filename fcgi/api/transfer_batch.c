/*
 * transfer_batch.c — POST /transfers/batch: linked transfers, all or none.
 *
 * {"transfers": [ … ]} holds 1 to LINKED_MAX items, each with the fields of
 * POST /transfer (immediate, or "pending": true with an optional timeout).
 * They are applied in order in one transaction under one Idempotency-Key:
 * every account the batch names is locked once, in ascending id order,
 * before any write (the order single transfers and every other writer use,
 * so batches never deadlock with them or with each other); every item is
 * decided in C against the locked rows, item i seeing the balances the
 * items before it left (domain/linked.h); and only if all pass are they
 * written. Otherwise nothing is: the first failing item carries the code
 * POST /transfer would have answered for it, the others
 * linked_transfer_failed, and the answer's status is the first failure's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/pending.h"
#include "api/routes.h"
#include "api/validate.h"
#include "domain/events.h"
#include "domain/ledger.h"
#include "domain/linked.h"
#include "util.h"

struct batch_req {
    int n;
    struct transfer_req items[LINKED_MAX];
};

/*
 * What each item's write needs, alive until the last round trip is sent.
 * key: the idempotency key its row records, "caller:key§i" (i its index; no
 * Idempotency-Key holds "§", which is not ASCII), so every row still names
 * the one request and item that created it.
 */
struct batch_write {
    union {
        struct ledger_move_stmts mv;
        struct pending_create_stmts pc;
    } u;
    char key[80 + 1 + 256 + 16];
};

/* "results" of a refused batch: item `index` refused with e, the others linked_transfer_failed. */
static struct json_object *failed_results(int n, int index, const struct transfer_refusal *e)
{
    struct json_object *a = json_object_new_array();

    for (int i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        char other[96];

        json_object_object_add(o, "index", json_object_new_int(i));
        json_object_object_add(o, "status", json_object_new_int(i == index ? e->status : 422));
        json_object_object_add(
            o, "code", json_object_new_string(i == index ? e->code : "linked_transfer_failed"));
        snprintf(other, sizeof(other), "transfers[%d] failed: nothing in the batch was applied",
                 index);
        json_object_object_add(o, "detail", json_object_new_string(i == index ? e->detail : other));
        json_object_array_add(a, o);
    }
    return a;
}

/* {index, results}: the members a refused batch adds to its problem. */
static struct json_object *failed_extra(int n, int index, const struct transfer_refusal *e)
{
    struct json_object *o = mut_extra_i64("index", index);

    json_object_object_add(o, "results", failed_results(n, index, e));
    return o;
}

/* Answer a refusal of item index before the database (nothing written). */
static int refuse_item(struct request *r, int n, int index, const struct transfer_refusal *e)
{
    char detail[256];
    struct json_object *o, *extra;
    size_t len = 0;
    const char *s;

    snprintf(detail, sizeof(detail), "transfers[%d]: %s", index, e->detail);
    o = http_problem_object(r, e->status, e->code, detail);
    extra = failed_extra(n, index, e);
    json_object_object_foreach(extra, k, v) json_object_object_add(o, k, json_object_get(v));
    json_object_put(extra);
    s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_respond_raw(r, e->status, "application/problem+json", s, len, "");
    json_object_put(o);
    return -1;
}

static int batch_parse(struct request *r, void *req)
{
    static const char *const allowed[] = { "transfers", NULL };
    struct batch_req *q = req;
    struct transfer_refusal e;
    struct json_object *a;
    size_t n;

    if (http_json_refuse_unknown(r, allowed) < 0)
        return -1;
    if (!json_object_object_get_ex(r->json, "transfers", &a)) {
        http_problem(r, 422, "missing_field", "\"transfers\" is required");
        return -1;
    }
    if (!json_object_is_type(a, json_type_array)) {
        http_problem(r, 422, "invalid_transfers", "\"transfers\" must be an array of transfers");
        return -1;
    }
    n = json_object_array_length(a);
    if (n == 0) {
        http_problem(r, 422, "empty_batch", "\"transfers\" must hold at least one transfer");
        return -1;
    }
    if (n > LINKED_MAX) {
        http_problem(r, 422, "batch_too_large", "a batch holds at most %d transfers (%zu given)",
                     LINKED_MAX, n);
        return -1;
    }
    q->n = (int)n;
    for (int i = 0; i < q->n; i++)
        if (transfer_fields_parse(json_object_array_get_idx(a, (size_t)i), &q->items[i], &e) < 0)
            return refuse_item(r, q->n, i, &e);
    return 0;
}

/* The caller may make every item, by POST /transfer's rule. */
static int batch_authorize(struct request *r, const void *req)
{
    const struct batch_req *q = req;
    struct transfer_refusal e;

    for (int i = 0; i < q->n; i++)
        if (transfer_may(&r->caller, &q->items[i], &e) < 0)
            return refuse_item(r, q->n, i, &e);
    return 0;
}

/* The refusal of item out->index that failed against the locked rows. */
static enum tx_decision refuse_outcome(struct mutation *m, struct tx *tx, int n,
                                       const struct transfer_req *item,
                                       const struct linked_outcome *out)
{
    struct transfer_refusal e = { .status = 422 };
    enum mut_store store = MUT_STORED;

    switch (out->fail) {
    case LINKED_FROM_NOT_FOUND:
        e.code = "from_account_not_found";
        snprintf(e.detail, sizeof(e.detail), "the \"from\" account does not exist");
        break;
    case LINKED_TO_NOT_FOUND:
        e.code = "to_account_not_found";
        snprintf(e.detail, sizeof(e.detail), "the \"to\" account does not exist");
        break;
    case LINKED_ESCROW:
        e.status = 403;
        e.code = "escrow_account";
        snprintf(e.detail, sizeof(e.detail),
                 "a market's escrow account moves only with its market's fills and payouts");
        break;
    case LINKED_ADMIN_REQUIRED:
        e.status = 403;
        e.code = "admin_required";
        snprintf(e.detail, sizeof(e.detail), "only an admin may issue money");
        break;
    case LINKED_PENDING_FROM_ISSUER:
        e.code = "pending_from_issuer";
        snprintf(e.detail, sizeof(e.detail),
                 "the issuer holds nothing: money is issued by immediate transfers only");
        break;
    case LINKED_INSUFFICIENT_FUNDS:
        e.code = "insufficient_funds";
        snprintf(e.detail, sizeof(e.detail), "available %" PRId64 ", needed %" PRId64,
                 out->available, item->amount);
        break;
    case LINKED_OUT_OF_RANGE:
    case LINKED_OK:
        /* as POST /transfer: refused and rolled back, not stored */
        store = MUT_ROLLBACK;
        e.code = "amount_out_of_range";
        snprintf(e.detail, sizeof(e.detail),
                 "a balance would exceed the largest representable amount");
        break;
    }
    return mut_refuse(m, tx, store, e.status, e.code, failed_extra(n, out->index, &e),
                      "transfers[%d]: %s", out->index, e.detail);
}

/*
 * The last round trip: every item's writes, in order, the answer and
 * COMMIT. acc holds the kinds read under the locks.
 */
static enum tx_decision write_all(struct mutation *m, struct tx *tx, const struct batch_req *q,
                                  const struct linked_item *it, const struct ledger_account *acc)
{
    struct batch_write *w = calloc((size_t)q->n, sizeof(*w));
    struct tx_stmt *st = calloc((size_t)q->n * 3, sizeof(*st));
    struct json_object *results = json_object_new_array(), *body;
    enum tx_decision d = TX_ERROR;
    int ns = 0;

    if (!w || !st) {
        tx->err = DB_FAILED;
        goto out;
    }
    for (int i = 0; i < q->n; i++) {
        const struct transfer_req *t = &q->items[i];
        struct json_object *o = json_object_new_object(), *tr;
        const char *kind = ledger_transfer_kind(&acc[it[i].from_ix]);

        snprintf(w[i].key, sizeof(w[i].key), "%s\u00a7%d", mut_scoped_key(m), i);
        if (t->pending) {
            if (pending_create_prepare(&w[i].u.pc, t, mut_caller(m), w[i].key, mut_now(m)) < 0)
                goto fail;
            st[ns++] = w[i].u.pc.st[0];
            st[ns++] = w[i].u.pc.st[1];
            tr = pending_new_json(t, w[i].u.pc.id, mut_now(m), w[i].u.pc.expires);
        } else {
            if (ledger_move_prepare(&w[i].u.mv, tx->cfg, t->from, t->to, t->amount, 0, kind,
                                    mut_caller(m), t->memo, w[i].key)
                < 0)
                goto fail;
            for (int j = 0; j < w[i].u.mv.n; j++)
                st[ns++] = w[i].u.mv.st[j];
            tr = transfer_json(t, w[i].u.mv.id, kind, mut_now(m));
        }
        json_object_object_add(o, "index", json_object_new_int(i));
        json_object_object_add(o, "status", json_object_new_int(201));
        json_object_object_add(o, "transfer", tr);
        if (mut_event(m, t->pending ? "transfer.pending" : "transfer.created",
                      events_wrap("transfer", json_object_get(tr)), "accounts/%s accounts/%s",
                      t->from, t->to)
            < 0)
            goto fail;
        json_object_array_add(results, o);
        continue;
    fail:
        json_object_put(o);
        goto out;
    }
    body = json_object_new_object();
    json_object_object_add(body, "results", json_object_get(results));
    /* the statements point into w: it lives until mut_commit() has sent them */
    d = mut_commit(m, tx, st, ns, 201, body);
out:
    json_object_put(results);
    free(st);
    free(w);
    return d;
}

/*
 * Two round trips, however many items:
 *   1. BEGIN; claim the key (returning now()); lock every account the batch
 *      names, once each, ascending id
 *   2. every item's writes in order; store the answer; COMMIT
 * Refusals after the claim are stored (amount_out_of_range excepted, as for
 * POST /transfer).
 */
static enum tx_decision batch_apply(struct mutation *m, struct tx *tx, void *req)
{
    const struct batch_req *q = req;
    struct linked_item it[LINKED_MAX];
    struct ledger_account *acc = calloc((size_t)q->n * 2, sizeof(*acc));
    struct tx_stmt *lk = calloc((size_t)q->n * 2, sizeof(*lk));
    const char **ids = calloc((size_t)q->n * 2, sizeof(*ids));
    struct linked_outcome out;
    enum tx_decision d = TX_ERROR;
    int na;

    if (!acc || !lk || !ids) {
        tx->err = DB_FAILED;
        goto out;
    }
    for (int i = 0; i < q->n; i++)
        it[i] = (struct linked_item){ .from = q->items[i].from,
                                      .to = q->items[i].to,
                                      .amount = q->items[i].amount,
                                      .pending = q->items[i].pending };
    if ((na = linked_accounts(it, q->n, acc)) < 0) {
        tx->err = DB_FAILED;
        goto out;
    }
    for (int k = 0; k < na; k++) {
        ids[k] = acc[k].id;
        lk[k] = tx_stmt_named(SQL_LEDGER_LOCK_ACCOUNT, &ids[k]);
    }
    if (!mut_begin(m, tx, lk, na, &d))
        goto out;
    for (int k = 0; k < na; k++) {
        ledger_lock_parse(&acc[k], lk[k].res);
        PQclear(lk[k].res);
    }
    out = linked_simulate(it, q->n, acc, mut_request(m)->caller.scope == JWT_SCOPE_ADMIN);
    if (out.fail != LINKED_OK)
        d = refuse_outcome(m, tx, q->n, &q->items[out.index], &out);
    else
        d = write_all(m, tx, q, it, acc);
out:
    free(ids);
    free(lk);
    free(acc);
    return d;
}

static const struct mutation_ops batch_ops = {
    .name = "transfer batch",
    .req_size = sizeof(struct batch_req),
    .parse = batch_parse,
    .authorize = batch_authorize,
    .apply = batch_apply,
};

void handle_transfer_batch(struct request *r)
{
    mutation_run(r, &batch_ops);
}
