/*
 * tlog.c — GET /proof/key, /proof/checkpoint and /proof/consistency: the
 * log's public key, its signed checkpoints (C2SP signed notes, written by
 * the sealer into seals.checkpoint) and RFC 9162 consistency proofs between
 * two seals' tree sizes. Public and read-only; every proof reads its
 * O(log n) stored Merkle nodes in one round trip (struct tlog_nodes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/routes.h"
#include "api/tlog.h"
#include "log.h"

/* A checkpoint at a fixed size never changes. */
#define TLOG_IMMUTABLE "Cache-Control: public, max-age=31536000, immutable\r\n"

int tlog_nodes_get(void *ctx, int level, uint64_t idx, unsigned char out[32])
{
    struct tlog_nodes *ns = ctx;
    int i;

    for (i = 0; i < ns->n; i++)
        if (ns->level[i] == level && ns->idx[i] == idx) {
            memcpy(out, ns->hash[i], MERKLE_HASH_LEN);
            return 0;
        }
    if (ns->fetched || ns->n >= TLOG_MAX_NODES)
        return -1;
    ns->level[ns->n] = level;
    ns->idx[ns->n] = idx;
    memset(ns->hash[ns->n], 0, MERKLE_HASH_LEN);
    memset(out, 0, MERKLE_HASH_LEN);
    ns->n++;
    return 0;
}

int tlog_nodes_fetch(struct tx *tx, struct tlog_nodes *ns)
{
    struct tx_stmt st[TLOG_MAX_NODES];
    char text[TLOG_MAX_NODES][2][24];
    const char *vals[TLOG_MAX_NODES][2];
    int i, rc = 0;

    ns->fetched = 1;
    if (ns->n == 0)
        return 0;
    for (i = 0; i < ns->n; i++) {
        snprintf(text[i][0], sizeof text[i][0], "%d", ns->level[i]);
        snprintf(text[i][1], sizeof text[i][1], "%llu", (unsigned long long)ns->idx[i]);
        vals[i][0] = text[i][0];
        vals[i][1] = text[i][1];
        st[i] = tx_stmt_named(SQL_TLOG_NODE, vals[i]);
    }
    if (tx_exec_many(tx, st, ns->n, 0) < 0)
        return -1;
    for (i = 0; i < ns->n; i++) {
        const char *v = PQntuples(st[i].res) == 1 ? PQgetvalue(st[i].res, 0, 0) : "";
        /* bytea in PostgreSQL's hex output: \x followed by 64 digits */
        if (rc == 0
            && (strncmp(v, "\\x", 2) != 0
                || merkle_unhex(v + 2, strlen(v + 2), ns->hash[i]) != 0)) {
            ns->missing = i;
            rc = -2;
        }
        PQclear(st[i].res);
    }
    return rc;
}

struct json_object *tlog_hex_array(const unsigned char (*path)[32], int n)
{
    struct json_object *a = json_object_new_array();
    char hex[65];
    int i;

    for (i = 0; i < n; i++) {
        merkle_hex(path[i], hex);
        json_object_array_add(a, json_object_new_string(hex));
    }
    return a;
}

int tlog_query_u64(const struct request *r, const char *name, uint64_t min, uint64_t *out)
{
    char buf[32];
    uint64_t v = 0;
    size_t i, n;
    int rc = http_query_param(r, name, buf, sizeof buf);

    if (rc <= 0)
        return rc;
    n = strlen(buf);
    if (n == 0 || n > 18 || (n > 1 && buf[0] == '0'))
        return -1;
    for (i = 0; i < n; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(buf[i] - '0');
    }
    if (v < min)
        return -1;
    *out = v;
    return 1;
}

const struct note_key *tlog_key(const struct request *r)
{
    static struct note_key *key;
    char err[256];

    if (key == NULL) {
        key = note_key_load_or_create(r->cfg->log_key_file, r->cfg->log_origin, err, sizeof err);
        if (key == NULL)
            log_error("log key %s: %s", r->cfg->log_key_file, err);
    }
    return key;
}

void handle_tlog_key(struct request *r)
{
    const struct note_key *k = tlog_key(r);
    struct json_object *out;
    char fmt[16], *vkey, *pem;
    int rc = http_query_param(r, "format", fmt, sizeof fmt);

    if (rc < 0 || (rc > 0 && strcmp(fmt, "pem") != 0 && strcmp(fmt, "json") != 0)) {
        http_problem(r, 400, "invalid_format", "format must be json or pem");
        return;
    }
    if (k == NULL) {
        http_problem(r, 500, "internal_error", "the log key is not available");
        return;
    }
    vkey = note_vkey(k);
    pem = note_public_pem(k);
    if (vkey == NULL || pem == NULL) {
        http_problem(r, 500, "internal_error", "the log key cannot be encoded");
    } else if (rc > 0 && strcmp(fmt, "pem") == 0) {
        http_respond_raw(r, 200, "text/plain; charset=utf-8", pem, strlen(pem), NULL);
    } else {
        out = json_object_new_object();
        json_object_object_add(out, "origin", json_object_new_string(note_key_name(k)));
        json_object_object_add(out, "vkey", json_object_new_string(vkey));
        json_object_object_add(out, "pem", json_object_new_string(pem));
        http_respond_json(r, 200, out, NULL);
    }
    free(vkey);
    free(pem);
}

/* One seal row (seal_no, tree_size, checkpoint) fetched by a checkpoint read. */
struct tlog_seal {
    uint64_t size; /* asked for, 0 = latest */
    int found;
    uint64_t tree_size;
    char *checkpoint; /* malloc'd, or NULL when the seal has none */
};

/* Copy row 0 of a tlog_seal_* result into s (found = 0 when there is none). */
static void seal_from(struct tlog_seal *s, PGresult *res)
{
    free(s->checkpoint);
    s->checkpoint = NULL;
    s->found = PQntuples(res) == 1;
    if (!s->found)
        return;
    s->tree_size = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    if (!PQgetisnull(res, 0, 2))
        s->checkpoint = strdup(PQgetvalue(res, 0, 2));
}

/* Read the seal asked for (s->size, or the latest). */
static enum tx_decision checkpoint_tx(struct tx *tx, void *arg)
{
    struct tlog_seal *s = arg;
    char size[24];
    const char *p[1] = { size };
    PGresult *res;

    snprintf(size, sizeof size, "%llu", (unsigned long long)s->size);
    res = s->size ? tx_exec_named(tx, SQL_TLOG_SEAL_AT, p)
                  : tx_exec_named(tx, SQL_TLOG_SEAL_LATEST, NULL);
    if (res == NULL)
        return TX_ERROR;
    seal_from(s, res);
    PQclear(res);
    return TX_COMMIT;
}

void handle_tlog_checkpoint(struct request *r)
{
    struct tlog_seal s = { 0, 0, 0, NULL };
    enum tx_decision d;
    int rc = tlog_query_u64(r, "size", 1, &s.size);

    if (rc < 0) {
        http_problem(r, 400, "invalid_size", "size must be a positive tree size");
        return;
    }
    if (api_tx_run(r, TX_READ_ONLY, checkpoint_tx, &s, &d) < 0) {
        free(s.checkpoint);
        return;
    }
    if (!s.found || s.checkpoint == NULL)
        http_problem(r, 404, "no_checkpoint",
                     s.size ? "no seal has tree size %llu" : "nothing has been sealed yet",
                     (unsigned long long)s.size);
    else
        http_respond_raw(r, 200, "text/plain; charset=utf-8", s.checkpoint, strlen(s.checkpoint),
                         s.size ? TLOG_IMMUTABLE : NULL);
    free(s.checkpoint);
}

/* GET /proof/consistency: both sizes must be seals' tree sizes. */
struct tlog_consistency {
    uint64_t from, to;
    int found_from, found_to, corrupt;
    unsigned char path[MERKLE_MAX_PATH][32];
    int n;
};

static enum tx_decision consistency_tx(struct tx *tx, void *arg)
{
    struct tlog_consistency *c = arg;
    struct tlog_nodes ns;
    char from[24], to[24];
    const char *pf[1] = { from }, *pt[1] = { to };
    struct tx_stmt st[2] = { tx_stmt_named(SQL_TLOG_SEAL_AT, pf),
                             tx_stmt_named(SQL_TLOG_SEAL_AT, pt) };
    int rc;

    snprintf(from, sizeof from, "%llu", (unsigned long long)c->from);
    snprintf(to, sizeof to, "%llu", (unsigned long long)c->to);
    if (tx_exec_many(tx, st, 2, 0) < 0)
        return TX_ERROR;
    c->found_from = PQntuples(st[0].res) == 1;
    c->found_to = PQntuples(st[1].res) == 1;
    PQclear(st[0].res);
    PQclear(st[1].res);
    c->corrupt = 0;
    if (!c->found_from || !c->found_to)
        return TX_COMMIT;
    memset(&ns, 0, sizeof ns);
    if (merkle_consistency_path(c->from, c->to, tlog_nodes_get, &ns, c->path) < 0)
        return TX_ROLLBACK;
    rc = tlog_nodes_fetch(tx, &ns);
    if (rc == -1)
        return TX_ERROR;
    c->n = rc == 0 ? merkle_consistency_path(c->from, c->to, tlog_nodes_get, &ns, c->path) : -1;
    c->corrupt = c->n < 0;
    return TX_COMMIT;
}

void handle_tlog_consistency(struct request *r)
{
    struct tlog_consistency c;
    struct json_object *out;
    enum tx_decision d;
    int rf, rt;

    memset(&c, 0, sizeof c);
    rf = tlog_query_u64(r, "from", 1, &c.from);
    rt = tlog_query_u64(r, "to", 1, &c.to);
    if (rf <= 0 || rt <= 0 || c.from > c.to) {
        http_problem(r, 400, "invalid_size",
                     "from and to must be tree sizes of seals, 0 < from <= to");
        return;
    }
    if (api_tx_run(r, TX_READ_ONLY | TX_SNAPSHOT, consistency_tx, &c, &d) < 0)
        return;
    if (!c.found_from || !c.found_to) {
        http_problem(r, 404, "no_checkpoint", "no seal has tree size %llu",
                     (unsigned long long)(c.found_from ? c.to : c.from));
        return;
    }
    if (d != TX_COMMIT || c.corrupt) {
        log_error("consistency %llu..%llu: stored Merkle nodes missing", (unsigned long long)c.from,
                  (unsigned long long)c.to);
        http_problem(r, 500, "internal_error", "the stored Merkle tree is incomplete");
        return;
    }
    out = json_object_new_object();
    json_object_object_add(out, "from", json_object_new_int64((int64_t)c.from));
    json_object_object_add(out, "to", json_object_new_int64((int64_t)c.to));
    json_object_object_add(out, "path", tlog_hex_array((const unsigned char(*)[32])c.path, c.n));
    http_respond_json(r, 200, out, NULL);
}
