/*
 * tlog_records.c — GET /proof/inclusion and GET /proof/records: sealed
 * records in their canonical encoding (domain/record.h), an RFC 9162
 * inclusion path for one of them against a seal's tree, and the records of
 * a range of positions for replay. Public and read-only: a record shows
 * only pseudonyms, amounts, states and times (docs/PROOF-FORMAT.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/routes.h"
#include "api/tlog.h"
#include "domain/record.h"
#include "log.h"
#include "util.h"

#define TLOG_RECORDS_MAX 1000
#define TLOG_RECORDS_DEFAULT 100

/* What GET /proof/inclusion found. */
struct tlog_inclusion {
    enum record_kind kind;
    const char *id;
    uint64_t size;                /* asked for, 0 = latest */
    int found, sealed, have_seal; /* the row exists; is sealed; the seal exists */
    int corrupt;                  /* a node is missing or the row does not encode */
    uint64_t index, tree_size;
    char *checkpoint;
    struct record rec;
    unsigned char leaf[32];
    unsigned char path[MERKLE_MAX_PATH][32];
    int n;
};

/* Reset what a previous attempt left in q. */
static void inclusion_reset(struct tlog_inclusion *q)
{
    free(q->checkpoint);
    q->checkpoint = NULL;
    record_free(&q->rec);
    q->found = q->sealed = q->have_seal = q->corrupt = 0;
    q->n = 0;
}

/* Encode the row of st[0] (and, for a transfer, the entries of st[1]) into q->rec. */
static int inclusion_encode(struct tlog_inclusion *q, PGresult *row, PGresult *ents)
{
    struct record_entry e[64], *ep = e;
    int i, ne = ents ? PQntuples(ents) : 0, rc;

    if (ne > (int)(sizeof e / sizeof e[0]) && (ep = calloc((size_t)ne, sizeof *ep)) == NULL)
        return -1;
    for (i = 0; i < ne; i++) {
        ep[i].id = PQgetvalue(ents, i, 1);
        ep[i].account = PQgetvalue(ents, i, 2);
        ep[i].amount = PQgetvalue(ents, i, 3);
    }
    rc = record_encode_row(q->kind, row, 0, 1, ep, (size_t)ne, &q->rec);
    if (ep != e)
        free(ep);
    return rc;
}

/* The inclusion path of the row's leaf against the tree at q->tree_size (round trip 2). */
static enum tx_decision inclusion_path(struct tx *tx, struct tlog_inclusion *q)
{
    struct tlog_nodes ns;
    int rc;

    memset(&ns, 0, sizeof ns);
    tlog_nodes_get(&ns, 0, q->index, q->leaf);
    if (merkle_inclusion_path(q->index, q->tree_size, tlog_nodes_get, &ns, q->path) < 0)
        return TX_ROLLBACK;
    rc = tlog_nodes_fetch(tx, &ns);
    if (rc == -1)
        return TX_ERROR;
    if (rc < 0 || tlog_nodes_get(&ns, 0, q->index, q->leaf) < 0) {
        q->corrupt = 1;
        return TX_COMMIT;
    }
    q->n = merkle_inclusion_path(q->index, q->tree_size, tlog_nodes_get, &ns, q->path);
    q->corrupt = q->n < 0;
    return TX_COMMIT;
}

/* Round trip 1: the row (+ entries) and the seal; then the path. */
static enum tx_decision inclusion_tx(struct tx *tx, void *arg)
{
    static const enum sql_id by_kind[RECORD_KINDS] = {
        [RECORD_TRANSFER] = SQL_SEAL_RECORD_TRANSFER,
        [RECORD_BID] = SQL_SEAL_RECORD_BID,
        [RECORD_FILL] = SQL_SEAL_RECORD_FILL,
    };
    struct tlog_inclusion *q = arg;
    char size[24];
    const char *pid[1] = { q->id }, *psz[1] = { size };
    struct tx_stmt st[3];
    int n = 0, s_row, s_ent = -1, s_seal, i;

    inclusion_reset(q);
    snprintf(size, sizeof size, "%llu", (unsigned long long)q->size);
    s_row = n;
    st[n++] = tx_stmt_named(by_kind[q->kind], pid);
    if (q->kind == RECORD_TRANSFER) {
        s_ent = n;
        st[n++] = tx_stmt_named(SQL_SEAL_RECORD_ENTRIES, pid);
    }
    s_seal = n;
    st[n++] =
        q->size ? tx_stmt_named(SQL_TLOG_SEAL_AT, psz) : tx_stmt_named(SQL_TLOG_SEAL_LATEST, NULL);
    if (tx_exec_many(tx, st, n, 0) < 0)
        return TX_ERROR;
    q->found = PQntuples(st[s_row].res) == 1;
    q->sealed = q->found && !PQgetisnull(st[s_row].res, 0, 0);
    q->have_seal = PQntuples(st[s_seal].res) == 1;
    if (q->sealed && q->have_seal) {
        q->index = strtoull(PQgetvalue(st[s_row].res, 0, 0), NULL, 10);
        q->tree_size = strtoull(PQgetvalue(st[s_seal].res, 0, 1), NULL, 10);
        if (!PQgetisnull(st[s_seal].res, 0, 2))
            q->checkpoint = strdup(PQgetvalue(st[s_seal].res, 0, 2));
        if (inclusion_encode(q, st[s_row].res, s_ent >= 0 ? st[s_ent].res : NULL) < 0)
            q->corrupt = 1;
    }
    for (i = 0; i < n; i++)
        PQclear(st[i].res);
    if (!q->sealed || !q->have_seal || q->corrupt || q->index >= q->tree_size)
        return TX_COMMIT;
    return inclusion_path(tx, q);
}

/* Which of transfer=, bid=, fill= was asked (exactly one). 0, or -1 after answering 400. */
static int inclusion_target(struct request *r, struct tlog_inclusion *q, char id[UUID_STR_LEN + 1])
{
    static const struct {
        const char *name;
        enum record_kind kind;
    } targets[] = { { "transfer", RECORD_TRANSFER },
                    { "bid", RECORD_BID },
                    { "fill", RECORD_FILL } };
    char buf[64];
    int i, given = 0, bad = 0;

    for (i = 0; i < 3; i++) {
        int rc = http_query_param(r, targets[i].name, buf, sizeof buf);
        if (rc == 0)
            continue;
        given++;
        q->kind = targets[i].kind;
        if (rc < 0 || !util_uuid_parse(buf, id))
            bad = 1;
    }
    if (given != 1) {
        http_problem(r, 400, "invalid_query", "give exactly one of transfer, bid or fill");
        return -1;
    }
    if (bad) {
        http_problem(r, 400, "invalid_uuid", "the id must be a UUID");
        return -1;
    }
    if (tlog_query_u64(r, "size", 1, &q->size) < 0) {
        http_problem(r, 400, "invalid_size", "size must be a positive tree size");
        return -1;
    }
    q->id = id;
    return 0;
}

/* Answer 200 with the proof, or the 404/500 that q's state calls for. */
static void inclusion_answer(struct request *r, struct tlog_inclusion *q)
{
    struct json_object *out;
    char hex[65];

    if (!q->found)
        http_problem(r, 404, "not_found", "no such %s", record_kind_name(q->kind));
    else if (!q->sealed)
        http_problem(r, 404, "not_sealed", "this %s is not in the log yet",
                     record_kind_name(q->kind));
    else if (!q->have_seal)
        http_problem(r, 404, "no_checkpoint",
                     q->size ? "no seal has tree size %llu" : "nothing has been sealed yet",
                     (unsigned long long)q->size);
    else if (q->index >= q->tree_size)
        http_problem(r, 404, "not_sealed", "this %s is not in the log at tree size %llu yet",
                     record_kind_name(q->kind), (unsigned long long)q->tree_size);
    else if (q->checkpoint == NULL)
        http_problem(r, 404, "no_checkpoint", "the seal of tree size %llu has no signed checkpoint",
                     (unsigned long long)q->tree_size);
    else if (q->corrupt) {
        log_error("inclusion %s: the stored tree or record is incomplete", q->id);
        http_problem(r, 500, "internal_error", "the stored Merkle tree is incomplete");
    } else {
        out = json_object_new_object();
        json_object_object_add(out, "index", json_object_new_int64((int64_t)q->index));
        json_object_object_add(out, "tree_size", json_object_new_int64((int64_t)q->tree_size));
        merkle_hex(q->leaf, hex);
        json_object_object_add(out, "leaf_hash", json_object_new_string(hex));
        json_object_object_add(out, "record",
                               json_object_new_string_len(q->rec.text, (int)q->rec.len));
        json_object_object_add(out, "path",
                               tlog_hex_array((const unsigned char(*)[32])q->path, q->n));
        json_object_object_add(out, "checkpoint", json_object_new_string(q->checkpoint));
        http_respond_json(r, 200, out, NULL);
    }
}

void handle_tlog_inclusion(struct request *r)
{
    struct tlog_inclusion *q = calloc(1, sizeof *q);
    char id[UUID_STR_LEN + 1];
    enum tx_decision d;

    if (q == NULL) {
        http_problem(r, 500, "internal_error", "out of memory");
        return;
    }
    if (inclusion_target(r, q, id) == 0
        && api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, inclusion_tx, q, &d) == 0) {
        if (d != TX_COMMIT)
            q->corrupt = 1;
        inclusion_answer(r, q);
    }
    inclusion_reset(q);
    free(q);
}

/* GET /proof/records: the records at positions [from, end). */
struct tlog_range {
    uint64_t from, end, tree_size;
    int have_seal, corrupt;
    uint64_t bad_pos;
    struct json_object *records;
};

/* One sealed row of a range result: which result, which row. */
struct tlog_slot {
    PGresult *res;
    int row;
    enum record_kind kind;
};

/* The range statements, by kind, in st[] order (entries follow transfers). */
static const struct {
    enum sql_id id;
    enum record_kind kind;
} range_stmts[] = {
    { SQL_SEAL_RECORDS_TRANSFERS, RECORD_TRANSFER }, { SQL_SEAL_RECORDS_HOLDS, RECORD_HOLD },
    { SQL_SEAL_RECORDS_BIDS, RECORD_BID },           { SQL_SEAL_RECORDS_LOTS, RECORD_LOT },
    { SQL_SEAL_RECORDS_FILLS, RECORD_FILL },         { SQL_SEAL_RECORDS_ORDERS, RECORD_ORDER },
    { SQL_SEAL_RECORDS_PENDING, RECORD_PENDING },    { SQL_SEAL_RECORDS_LIMITS, RECORD_LIMIT },
};
#define RANGE_KINDS ((int)(sizeof range_stmts / sizeof range_stmts[0]))

/* Place every row of the range results into slots[pos - from]; 0, or -1 (a duplicate). */
static int range_place(struct tlog_range *g, struct tx_stmt *st, struct tlog_slot *slots)
{
    int k, i;

    for (k = 0; k < RANGE_KINDS; k++)
        for (i = 0; i < PQntuples(st[k].res); i++) {
            uint64_t pos = strtoull(PQgetvalue(st[k].res, i, 0), NULL, 10);
            if (pos < g->from || pos >= g->end)
                continue;
            if (slots[pos - g->from].res != NULL) {
                g->bad_pos = pos;
                return -1;
            }
            slots[pos - g->from] = (struct tlog_slot){ st[k].res, i, range_stmts[k].kind };
        }
    return 0;
}

/*
 * The entries of the transfer at position pos: ents is seal_records_entries
 * (position, transfer_id, id, account, amount; ordered by position), so a
 * binary search finds the first, and its neighbours follow.
 */
static size_t range_entries(PGresult *ents, uint64_t pos, struct record_entry *e, size_t max)
{
    int lo = 0, hi = PQntuples(ents);
    size_t n = 0;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strtoull(PQgetvalue(ents, mid, 0), NULL, 10) < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < PQntuples(ents) && n < max && strtoull(PQgetvalue(ents, lo, 0), NULL, 10) == pos;
         lo++)
        e[n++] = (struct record_entry){ PQgetvalue(ents, lo, 2), PQgetvalue(ents, lo, 3),
                                        PQgetvalue(ents, lo, 4) };
    return n;
}

/* Encode slots[0..end-from) into g->records; 0, or -1 (a hole or a row that does not encode). */
static int range_encode(struct tlog_range *g, struct tlog_slot *slots, PGresult *ents)
{
    struct record_entry e[256];
    uint64_t p;

    for (p = g->from; p < g->end; p++) {
        struct tlog_slot *s = &slots[p - g->from];
        struct json_object *o;
        struct record rec;
        size_t ne = 0;

        if (s->res == NULL)
            goto bad;
        if (s->kind == RECORD_TRANSFER)
            ne = range_entries(ents, p, e, sizeof e / sizeof e[0]);
        if (record_encode_row(s->kind, s->res, s->row, 1, e, ne, &rec) < 0)
            goto bad;
        o = json_object_new_object();
        json_object_object_add(o, "index", json_object_new_int64((int64_t)p));
        json_object_object_add(o, "record", json_object_new_string_len(rec.text, (int)rec.len));
        json_object_array_add(g->records, o);
        record_free(&rec);
        continue;
    bad:
        g->bad_pos = p;
        return -1;
    }
    return 0;
}

/* One round trip: the latest seal and every kind's rows in [from, from + limit). */
static enum tx_decision range_tx(struct tx *tx, void *arg)
{
    struct tlog_range *g = arg;
    struct tx_stmt st[RANGE_KINDS + 2];
    char lo[24], count[24];
    const char *p[2] = { lo, count };
    struct tlog_slot *slots = NULL;
    int k, n = 0;

    json_object_put(g->records);
    g->records = json_object_new_array();
    g->have_seal = g->corrupt = 0;
    snprintf(lo, sizeof lo, "%llu", (unsigned long long)g->from);
    snprintf(count, sizeof count, "%llu", (unsigned long long)(g->end - g->from));
    for (k = 0; k < RANGE_KINDS; k++)
        st[n++] = tx_stmt_named(range_stmts[k].id, p);
    st[n++] = tx_stmt_named(SQL_SEAL_RECORDS_ENTRIES, p);
    st[n++] = tx_stmt_named(SQL_TLOG_SEAL_LATEST, NULL);
    if (tx_exec_many(tx, st, n, 0) < 0)
        return TX_ERROR;
    g->have_seal = PQntuples(st[n - 1].res) == 1;
    if (g->have_seal) {
        g->tree_size = strtoull(PQgetvalue(st[n - 1].res, 0, 1), NULL, 10);
        if (g->end > g->tree_size)
            g->end = g->tree_size > g->from ? g->tree_size : g->from;
        slots = calloc((size_t)(g->end - g->from) + 1, sizeof *slots);
        g->corrupt = slots == NULL || range_place(g, st, slots) < 0
            || range_encode(g, slots, st[RANGE_KINDS].res) < 0;
        free(slots);
    }
    for (k = 0; k < n; k++)
        PQclear(st[k].res);
    return TX_COMMIT;
}

void handle_tlog_records(struct request *r)
{
    struct tlog_range g = { 0, 0, 0, 0, 0, 0, NULL };
    uint64_t limit = TLOG_RECORDS_DEFAULT;
    struct json_object *out;
    enum tx_decision d;
    int rf = tlog_query_u64(r, "from", 0, &g.from);
    int rl = tlog_query_u64(r, "limit", 1, &limit);

    if (rf < 0) {
        http_problem(r, 400, "invalid_position", "from must be a position (0 or more)");
        return;
    }
    if (rl < 0 || limit > TLOG_RECORDS_MAX) {
        http_problem(r, 400, "invalid_limit", "limit must be 1..%d", TLOG_RECORDS_MAX);
        return;
    }
    g.end = g.from + limit;
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, range_tx, &g, &d) < 0) {
        json_object_put(g.records);
        return;
    }
    if (!g.have_seal) {
        json_object_put(g.records);
        http_problem(r, 404, "no_checkpoint", "nothing has been sealed yet");
        return;
    }
    if (g.corrupt) {
        json_object_put(g.records);
        log_error("records: position %llu is missing or does not encode",
                  (unsigned long long)g.bad_pos);
        http_problem(r, 500, "internal_error", "the sealed record at position %llu is unreadable",
                     (unsigned long long)g.bad_pos);
        return;
    }
    out = json_object_new_object();
    json_object_object_add(out, "from", json_object_new_int64((int64_t)g.from));
    json_object_object_add(out, "tree_size", json_object_new_int64((int64_t)g.tree_size));
    json_object_object_add(out, "records", g.records);
    json_object_object_add(out, "next",
                           g.end < g.tree_size ? json_object_new_int64((int64_t)g.end) : NULL);
    http_respond_json(r, 200, out, NULL);
}
