/*
 * fullpass_leaves.c — the full pass's sealed_leaves_match: every sealed
 * record, re-encoded from its row with domain/record.h, hashes to the leaf
 * stored at its position (merkle_nodes level 0). The records are streamed
 * in position order, so memory stays flat however long the log.
 *
 * On postgres the transfers and their entries come as one binary COPY
 * (audit_records_transfers, one row per entry) and are read raw: the
 * transfer's columns are decoded into the record encoding's text once, on
 * its first entry row, the stored leaf is compared as bytes, and the
 * entries' amounts, running balances and accounts reach the fold
 * (fullpass_fold.c) as integers and UUID bytes, never as text. On DSQL the
 * same statement answers in single-row mode, in text, and there is no fold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fullpass_pass.h"
#include "domain/record.h"

#define ARENA 4096 /* a transfer's columns and entries, copied (more: a malformed record) */
#define MAX_ENTRIES 64

/* The transfer being assembled from its entry rows, in fixed buffers (no allocation per row). */
struct transfer_acc {
    int64_t pos; /* -1: none */
    const char *v[RT_NCOLS];
    unsigned char leaf[32];
    int has_leaf; /* a stored leaf of 32 bytes (raw), or a valid hex one (text) */
    int missing;  /* no stored leaf at all */
    int bin;      /* the rows came raw (postgres): ft, fe and id are set */
    unsigned char id[16];
    int has_id;
    struct fullpass_fold_transfer ft;
    struct record_entry e[MAX_ENTRIES];
    struct fullpass_fold_entry fe[MAX_ENTRIES];
    size_t ne;
    int overflow; /* it did not fit: its leaf is reported as not matching */
    size_t used;
    char arena[ARENA];
    struct record_text text; /* reused for every record */
};

/* Copy a text field into the arena (NULL stays NULL). */
static const char *keep(struct transfer_acc *t, const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    if (t->used + n > sizeof(t->arena)) {
        t->overflow = 1;
        return NULL;
    }
    d = t->arena + t->used;
    memcpy(d, s, n);
    t->used += n;
    return d;
}

/* Decode a raw field of type into the arena as the encoding's text (NULL stays NULL). */
static const char *keep_field(struct transfer_acc *t, const struct fullpass_field *f, char type)
{
    size_t need;
    char *d;

    if (f->len < 0)
        return NULL;
    need = type == 'u' ? 37
        : type == 't'  ? (size_t)f->len + 1
        : type == 'x'  ? 2 * (size_t)f->len + 1
                       : 24;
    if (t->used + need > sizeof(t->arena)) {
        t->overflow = 1;
        return NULL;
    }
    d = t->arena + t->used;
    t->used = (size_t)(fullpass_field_text(f, type, d) + 1 - t->arena);
    return d;
}

/* A re-encoded record's leaf against the stored one (NULL: none, or malformed). */
static void leaf_compare(struct fullpass *p, int rc, const unsigned char leaf[32],
                         const unsigned char *stored, const char *id)
{
    if (rc < 0 || !stored || memcmp(stored, leaf, 32) != 0)
        fullpass_fail(p, "sealed_leaves_match", 1, id);
}

static void transfer_flush(struct fullpass *p, struct transfer_acc *t)
{
    unsigned char leaf[32];
    int rc;

    if (t->pos < 0)
        return;
    rc = t->overflow ? -1 : record_encode_into(RECORD_TRANSFER, t->v, t->e, t->ne, &t->text, leaf);
    leaf_compare(p, rc, leaf, t->has_leaf ? t->leaf : NULL, t->v[RT_ID]);
    if (t->bin)
        fullpass_fold_transfer(p, &t->ft, t->fe, t->ne, t->overflow);
    else
        fullpass_fold_flag_all(p); /* no fold reads text rows (none on DSQL) */
    t->ne = 0;
    t->used = 0;
    t->overflow = 0;
    t->pos = -1;
}

/* The column types of audit_records_transfers' binary COPY (fullpass_copy_fields):
 * position; the transfer (id, kind, from, to, amount, created_at, caller,
 * idem_key, memo: record.h's order); its leaf; the entry's id, account,
 * amount, seq, balance_after and created_at. */
#define TRANSFER_ROW_TYPES                                                                         \
    "8"                                                                                            \
    "utuu8Tttt"                                                                                    \
    "x"                                                                                            \
    "uu888T"
#define EC (2 + RT_NCOLS) /* where a row's entry starts */

/* A raw row of audit_records_transfers (postgres): position, the transfer, its leaf, one entry. */
static int transfer_row_raw(struct fullpass *p, const struct fullpass_field *f, int nf, void *ctx)
{
    struct transfer_acc *t = ctx;
    const struct fullpass_field *id = &f[1 + RT_ID], *leaf = &f[1 + RT_NCOLS];
    int64_t pos;

    if (nf < EC + 6 || f[0].len != 8) {
        snprintf(p->err, sizeof(p->err), "audit_records_transfers: a malformed row");
        return -1;
    }
    pos = fullpass_field_int(&f[0], '8');
    if (pos != t->pos) {
        transfer_flush(p, t);
        t->pos = pos;
        t->bin = 1;
        for (int i = 0; i < RT_NCOLS; i++)
            t->v[i] = keep_field(t, &f[1 + i], TRANSFER_ROW_TYPES[1 + i]);
        t->missing = leaf->len < 0;
        t->has_leaf = leaf->len == 32;
        if (t->has_leaf)
            memcpy(t->leaf, leaf->b, 32);
        t->has_id = id->len == 16;
        if (t->has_id)
            memcpy(t->id, id->b, 16);
        t->ft.has_from = f[1 + RT_FROM].len == 16;
        if (t->ft.has_from)
            memcpy(t->ft.from, f[1 + RT_FROM].b, 16);
        t->ft.has_to = f[1 + RT_TO].len == 16;
        if (t->ft.has_to)
            memcpy(t->ft.to, f[1 + RT_TO].b, 16);
        t->ft.has_amount = f[1 + RT_AMOUNT].len == 8;
        t->ft.amount = t->ft.has_amount ? fullpass_field_int(&f[1 + RT_AMOUNT], '8') : 0;
        fullpass_fold_position(p, pos, t->missing ? NULL : t->leaf);
    } else if (!t->has_id || id->len != 16 || memcmp(t->id, id->b, 16) != 0) {
        fullpass_fold_flag_all(p); /* two transfers at one position */
    }
    if (f[EC].len < 0)
        return 0; /* no entry */
    if (t->ne == MAX_ENTRIES) {
        t->overflow = 1;
        return 0;
    }
    t->e[t->ne].id = keep_field(t, &f[EC], 'u');
    t->e[t->ne].account = keep_field(t, &f[EC + 1], 'u');
    t->e[t->ne].amount = keep_field(t, &f[EC + 2], '8');
    fullpass_fold_entry_of(&f[EC + 1], &f[EC + 2], &f[EC + 3], &f[EC + 4], &f[EC + 5],
                           &t->fe[t->ne]);
    t->ne++;
    return 0;
}

/* A text row of audit_records_transfers (DSQL): position, the transfer, its leaf (hex),
 * one entry's id, account and amount. */
static int transfer_row(struct fullpass *p, const char *const *f, int nf, void *ctx)
{
    struct transfer_acc *t = ctx;
    int64_t pos;

    if (nf < EC + 3 || !f[0]) {
        snprintf(p->err, sizeof(p->err), "audit_records_transfers: a malformed row");
        return -1;
    }
    pos = strtoll(f[0], NULL, 10);
    if (pos != t->pos) {
        transfer_flush(p, t);
        t->pos = pos;
        t->bin = 0;
        for (int i = 0; i < RT_NCOLS; i++)
            t->v[i] = keep(t, f[1 + i]);
        t->missing = !f[1 + RT_NCOLS];
        t->has_leaf = fullpass_unhex(f[1 + RT_NCOLS], t->leaf) == 0;
        fullpass_fold_position(p, pos, f[1 + RT_NCOLS]);
    } else if (!t->v[RT_ID] || !f[1 + RT_ID] || strcmp(t->v[RT_ID], f[1 + RT_ID]) != 0) {
        fullpass_fold_flag_all(p); /* two transfers at one position */
    }
    if (!f[EC])
        return 0;
    if (t->ne == MAX_ENTRIES) {
        t->overflow = 1;
        return 0;
    }
    t->e[t->ne].id = keep(t, f[EC]);
    t->e[t->ne].account = keep(t, f[EC + 1]);
    t->e[t->ne].amount = keep(t, f[EC + 2]);
    t->ne++;
    return 0;
}

/* A row of audit_records_<kind> for every kind but transfers (ctx: the kind):
 * position, the record's columns, its leaf (hex). */
static int record_row(struct fullpass *p, const char *const *f, int nf, void *ctx)
{
    static struct record_text text; /* reused for every record */
    enum record_kind k = *(const enum record_kind *)ctx;
    int leaf = 1 + record_ncols(k), rc;
    unsigned char got[32], stored[32];

    if (nf < leaf + 1) {
        snprintf(p->err, sizeof(p->err), "audit_records_%s: a malformed row", record_kind_name(k));
        return -1;
    }
    rc = record_encode_into(k, f + 1, NULL, 0, &text, got);
    leaf_compare(p, rc, got, fullpass_unhex(f[leaf], stored) == 0 ? stored : NULL, f[1]);
    fullpass_fold_position(p, f[0] ? strtoll(f[0], NULL, 10) : -1, f[leaf]);
    return 0;
}

int fullpass_verify_leaves(struct fullpass *p)
{
    static const struct {
        enum record_kind kind;
        enum sql_id sql;
    } kinds[] = {
        { RECORD_HOLD, SQL_AUDIT_RECORDS_HOLDS },   { RECORD_BID, SQL_AUDIT_RECORDS_BIDS },
        { RECORD_LOT, SQL_AUDIT_RECORDS_LOTS },     { RECORD_FILL, SQL_AUDIT_RECORDS_FILLS },
        { RECORD_ORDER, SQL_AUDIT_RECORDS_ORDERS }, { RECORD_PENDING, SQL_AUDIT_RECORDS_PENDING },
        { RECORD_LIMIT, SQL_AUDIT_RECORDS_LIMITS },
    };
    struct transfer_acc *t = calloc(1, sizeof(*t));
    int rc;

    if (!t) {
        snprintf(p->err, sizeof(p->err), "out of memory");
        return -1;
    }
    t->pos = -1;
    if (p->cfg->dialect == ZS_DIALECT_POSTGRES)
        rc = fullpass_stream_raw(p, SQL_AUDIT_RECORDS_TRANSFERS, TRANSFER_ROW_TYPES, NULL,
                                 transfer_row_raw, t);
    else
        rc = fullpass_stream(p, SQL_AUDIT_RECORDS_TRANSFERS, NULL, NULL, transfer_row, t);
    if (rc == 0)
        transfer_flush(p, t); /* the last one */
    record_text_free(&t->text);
    free(t);
    for (size_t i = 0; rc == 0 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        rc = fullpass_stream(p, kinds[i].sql, NULL, NULL, record_row, (void *)&kinds[i].kind);
    return rc == 0 ? fullpass_fold_finish(p) : rc;
}
