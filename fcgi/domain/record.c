/*
 * record.c — the canonical record encoding v1 (see record.h and
 * docs/PROOF-FORMAT.md). Each kind is a table of lines; a line names its
 * label, how its value is written, and which columns it reads.
 */
#include "domain/record.h"

#include "merkle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum field {
    F_INT,     /* canonical decimal integer, required */
    F_INT_OPT, /* … or "-" when absent */
    F_WORD,    /* [a-z_]+, required */
    F_REF,     /* R(ref, uuid), required */
    F_REF_OPT, /* … or "-" */
    F_ACC,     /* A(uuid), required */
    F_ACC_OPT, /* … or "-" */
    F_PRIV,    /* P(col, c2, c3); a column of -1 is the empty string */
};

struct line {
    const char *label;
    enum field f;
    int col;
    const char *ref; /* F_REF*: the R() kind */
    int c2, c3;      /* F_PRIV */
};

#define L(label, f, col)                                                                           \
    {                                                                                              \
        label, f, col, NULL, 0, 0                                                                  \
    }
#define LR(label, f, col, ref)                                                                     \
    {                                                                                              \
        label, f, col, ref, 0, 0                                                                   \
    }
#define LP(c1, c2, c3)                                                                             \
    {                                                                                              \
        "private", F_PRIV, c1, NULL, c2, c3                                                        \
    }

static const struct line transfer_lines[] = {
    LR("ref", F_REF, RT_ID, "transfer"), L("kind", F_WORD, RT_KIND),
    L("from", F_ACC, RT_FROM),           L("to", F_ACC, RT_TO),
    L("amount", F_INT, RT_AMOUNT),       L("at", F_INT, RT_AT),
    LP(RT_CALLER, RT_IDEM_KEY, RT_MEMO),
};
static const struct line hold_lines[] = {
    LR("ref", F_REF, RH_ID, "hold"),
    L("account", F_ACC, RH_ACCOUNT),
    LR("lot", F_REF, RH_LOT, "lot"),
    LR("bid", F_REF, RH_BID, "bid"),
    L("amount", F_INT, RH_AMOUNT),
    L("state", F_WORD, RH_STATE),
    LR("transfer", F_REF_OPT, RH_TRANSFER, "transfer"),
    L("at", F_INT, RH_AT),
    L("ended", F_INT, RH_ENDED),
};
static const struct line bid_lines[] = {
    LR("ref", F_REF, RB_ID, "bid"),
    LR("lot", F_REF, RB_LOT, "lot"),
    L("bidder", F_ACC, RB_BIDDER),
    L("amount", F_INT, RB_AMOUNT),
    L("quantity", F_INT, RB_QUANTITY),
    L("seq", F_INT, RB_SEQ),
    L("status", F_WORD, RB_STATUS),
    LR("transfer", F_REF_OPT, RB_TRANSFER, "transfer"),
    L("at", F_INT, RB_AT),
    LP(-1, RB_IDEM_KEY, RB_MAX_AMOUNT), /* no maximum: "", as before proxy bids */
};
static const struct line lot_lines[] = {
    LR("ref", F_REF, RL_ID, "lot"),
    L("kind", F_WORD, RL_KIND),
    L("seller", F_ACC, RL_SELLER),
    L("status", F_WORD, RL_STATUS),
    L("start_price", F_INT_OPT, RL_START_PRICE),
    L("increment", F_INT_OPT, RL_INCREMENT),
    L("reserve", F_INT_OPT, RL_RESERVE),
    L("floor_price", F_INT_OPT, RL_FLOOR_PRICE),
    L("step", F_INT_OPT, RL_STEP),
    L("interval_s", F_INT_OPT, RL_INTERVAL_S),
    L("price", F_INT_OPT, RL_PRICE),
    L("qty_total", F_INT, RL_QTY_TOTAL),
    L("qty_claimed", F_INT, RL_QTY_CLAIMED),
    L("seq", F_INT, RL_SEQ),
    L("high_amount", F_INT_OPT, RL_HIGH_AMOUNT),
    L("winner", F_ACC_OPT, RL_WINNER),
    L("clearing_price", F_INT_OPT, RL_CLEARING_PRICE),
    L("starts_at", F_INT, RL_STARTS_AT),
    L("ends_at", F_INT_OPT, RL_ENDS_AT),
    L("settled_at", F_INT_OPT, RL_SETTLED_AT),
};
static const struct line fill_lines[] = {
    LR("ref", F_REF, RF_ID, "trade"),
    LR("market", F_REF, RF_MARKET, "market"),
    L("kind", F_WORD, RF_KIND),
    L("outcome", F_WORD, RF_OUTCOME),
    L("price", F_INT, RF_PRICE),
    L("quantity", F_INT, RF_QUANTITY),
    L("buyer", F_ACC, RF_BUYER),
    L("seller", F_ACC, RF_SELLER),
    LR("cash_a", F_REF, RF_CASH_A, "transfer"),
    LR("cash_b", F_REF_OPT, RF_CASH_B, "transfer"),
    L("seq", F_INT, RF_SEQ),
    L("at", F_INT, RF_AT),
};
static const struct line order_lines[] = {
    LR("ref", F_REF, RO_ID, "order"),
    LR("market", F_REF, RO_MARKET, "market"),
    L("account", F_ACC, RO_ACCOUNT),
    L("side", F_WORD, RO_SIDE),
    L("outcome", F_WORD, RO_OUTCOME),
    L("price", F_INT, RO_PRICE),
    L("quantity", F_INT, RO_QUANTITY),
    L("remaining", F_INT, RO_REMAINING),
    L("status", F_WORD, RO_STATUS),
    L("tif", F_WORD, RO_TIF),
    L("at", F_INT, RO_AT),
    LP(-1, RO_IDEM_KEY, -1),
};
static const struct line pending_lines[] = {
    LR("ref", F_REF, RP_ID, "pending"),
    L("from", F_ACC, RP_FROM),
    L("to", F_ACC, RP_TO),
    L("amount", F_INT, RP_AMOUNT),
    L("status", F_WORD, RP_STATUS),
    L("posted_amount", F_INT_OPT, RP_POSTED_AMOUNT),
    LR("transfer", F_REF_OPT, RP_TRANSFER, "transfer"),
    L("expires", F_INT, RP_EXPIRES),
    L("at", F_INT, RP_AT),
    LP(RP_CALLER, RP_IDEM_KEY, RP_MEMO),
};
static const struct line limit_lines[] = {
    LR("ref", F_REF, RC_ID, "limit"),
    L("account", F_ACC, RC_ACCOUNT),
    L("credit_limit", F_INT, RC_LIMIT),
    L("at", F_INT, RC_AT),
};

struct kind_def {
    const char *name;
    const struct line *lines;
    int nlines, ncols;
};

#define KD(name, lines, ncols)                                                                     \
    {                                                                                              \
        name, lines, (int)(sizeof(lines) / sizeof(lines[0])), ncols                                \
    }

static const struct kind_def kinds[RECORD_KINDS] = {
    [RECORD_TRANSFER] = KD("transfer", transfer_lines, RT_NCOLS),
    [RECORD_HOLD] = KD("hold", hold_lines, RH_NCOLS),
    [RECORD_BID] = KD("bid", bid_lines, RB_NCOLS),
    [RECORD_LOT] = KD("lot", lot_lines, RL_NCOLS),
    [RECORD_FILL] = KD("fill", fill_lines, RF_NCOLS),
    [RECORD_ORDER] = KD("order", order_lines, RO_NCOLS),
    [RECORD_PENDING] = KD("pending", pending_lines, RP_NCOLS),
    [RECORD_LIMIT] = KD("limit", limit_lines, RC_NCOLS),
};

int record_ncols(enum record_kind k)
{
    return k < RECORD_KINDS ? kinds[k].ncols : 0;
}

const char *record_kind_name(enum record_kind k)
{
    return k < RECORD_KINDS ? kinds[k].name : "";
}

static void sha256(const void *a, size_t alen, const void *b, size_t blen,
                   unsigned char out[RECORD_HASH_LEN])
{
    const void *part[2] = { a, b };
    size_t len[2] = { alen, blen };

    merkle_sha256(part, len, 2, out);
}

void record_hex(const unsigned char *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* R(kind, u) for a canonical (lowercase) uuid u: the digest, and as hex. */
static void ref_md(const char *kind, const char u[UUID_STR_LEN + 1],
                   unsigned char md[RECORD_HASH_LEN])
{
    static const char head[] = "zerosum/v1 ";
    const void *part[4] = { head, kind, " ", u };
    size_t len[4] = { sizeof(head) - 1, strlen(kind), 1, UUID_STR_LEN };

    merkle_sha256(part, len, 4, md);
}

static void ref_hex(const char *kind, const char u[UUID_STR_LEN + 1], char out[RECORD_HEX_LEN + 1])
{
    unsigned char md[RECORD_HASH_LEN];

    ref_md(kind, u, md);
    record_hex(md, sizeof(md), out);
}

int record_ref(const char *kind, const char *uuid, char out[RECORD_HEX_LEN + 1])
{
    char u[UUID_STR_LEN + 1];

    if (!uuid || !util_uuid_parse(uuid, u))
        return -1;
    ref_hex(kind, u, out);
    return 0;
}

/* A UUID's 16 bytes from its text as util_uuid_parse() reads it (8-4-4-4-12, either case). */
static int uuid_bytes(const char *s, unsigned char out[16])
{
    int n = 0;

    for (int i = 0; i < UUID_STR_LEN; i++) {
        int v;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        if ((v = util_hexval(s[i])) < 0) /* the NUL of a short string too */
            return -1;
        out[n / 2] = (unsigned char)(n % 2 ? out[n / 2] << 4 | v : v);
        n++;
    }
    return s[UUID_STR_LEN] == '\0' ? 0 : -1;
}

/*
 * A(uuid) through a direct-mapped cache keyed by the UUID's bytes: a ledger
 * names few accounts many times (every transfer names two, every entry
 * one), so re-encoding history hashes each account about once instead of
 * once per line. 65,536 slots (3 MB, touched only by what encodes records)
 * keep a ledger of 10,000 accounts almost free of collisions; 4,096 thrashed
 * at that size. The cache holds pure results (uuid -> its digest), so a hit
 * is exactly a recomputation.
 */
#define ACCOUNT_CACHE 65536
int record_account(const char *uuid, char out[RECORD_HEX_LEN + 1])
{
    static struct {
        unsigned char key[16], md[RECORD_HASH_LEN], used;
    } cache[ACCOUNT_CACHE];
    unsigned char k[16];
    uint64_t h, h2;

    if (!uuid || uuid_bytes(uuid, k) < 0)
        return -1;
    memcpy(&h, k, sizeof(h));
    memcpy(&h2, k + 8, sizeof(h2)); /* both halves: not every UUID is random */
    h = (h * 0x9E3779B97F4A7C15ull ^ h2 * 0xC2B2AE3D27D4EB4Full) >> 48; /* 16 bits */
    if (!cache[h].used || memcmp(cache[h].key, k, 16) != 0) {
        char u[UUID_STR_LEN + 1];
        util_uuid_parse(uuid, u); /* the canonical (lowercase) text: uuid_bytes() read it */
        ref_md("account", u, cache[h].md);
        memcpy(cache[h].key, k, 16);
        cache[h].used = 1;
    }
    record_hex(cache[h].md, RECORD_HASH_LEN, out);
    return 0;
}

void record_private(const char *caller, const char *key, const char *memo,
                    char out[RECORD_HEX_LEN + 1])
{
    static const char head[] = "zerosum/v1 private\n";
    const char *c = caller ? caller : "", *k = key ? key : "", *m = memo ? memo : "";
    const void *part[6] = { head, c, "\n", k, "\n", m };
    size_t len[6] = { sizeof(head) - 1, strlen(c), 1, strlen(k), 1, strlen(m) };
    unsigned char md[RECORD_HASH_LEN];

    merkle_sha256(part, len, 6, md);
    record_hex(md, sizeof(md), out);
}

void record_text_addn(struct record_text *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void record_text_add(struct record_text *b, const char *s)
{
    record_text_addn(b, s, strlen(s));
}

void record_text_free(struct record_text *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* 1 if s is a decimal integer as the encoding writes it: no '+', no leading zero, no "-0". */
static int canonical_int(const char *s)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    size_t n = strlen(d);

    if (n == 0 || n > 19 || (d[0] == '0' && (n > 1 || d != s)))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9')
            return 0;
    return 1;
}

static int is_word(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return 0;
    return 1;
}

/* Write one line's value into b. 0, or -1 if malformed. */
static int put_value(struct record_text *b, const struct line *l, const char *const *v)
{
    const char *x = l->col >= 0 ? v[l->col] : NULL;
    char hex[RECORD_HEX_LEN + 1];

    switch (l->f) {
    case F_INT_OPT:
        if (!x) {
            record_text_add(b, "-");
            return 0;
        }
        /* fall through */
    case F_INT:
        if (!x || !canonical_int(x))
            return -1;
        record_text_add(b, x);
        return 0;
    case F_WORD:
        if (!x || !is_word(x))
            return -1;
        record_text_add(b, x);
        return 0;
    case F_REF_OPT:
    case F_ACC_OPT:
        if (!x) {
            record_text_add(b, "-");
            return 0;
        }
        /* fall through */
    case F_REF:
    case F_ACC:
        if ((l->ref ? record_ref(l->ref, x, hex) : record_account(x, hex)) != 0)
            return -1;
        record_text_add(b, hex);
        return 0;
    case F_PRIV:
        record_private(l->col >= 0 ? v[l->col] : NULL, l->c2 >= 0 ? v[l->c2] : NULL,
                       l->c3 >= 0 ? v[l->c3] : NULL, hex);
        record_text_add(b, hex);
        return 0;
    }
    return -1;
}

struct ent_line {
    char ref[RECORD_HEX_LEN + 1];
    char acc[RECORD_HEX_LEN + 1];
    const char *amount;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ent_line *)a)->ref, ((const struct ent_line *)b)->ref);
}

/* The "entry" lines of a transfer, sorted by entry ref. 0 or -1. */
static int put_entries(struct record_text *b, const struct record_entry *e, size_t ne)
{
    struct ent_line local[8], *el = local;
    int rc = 0;

    if (ne == 0)
        return 0;
    if (ne > sizeof(local) / sizeof(local[0]) && !(el = calloc(ne, sizeof(*el))))
        return -1;
    for (size_t i = 0; i < ne && rc == 0; i++) {
        el[i].amount = e[i].amount;
        if (record_ref("entry", e[i].id, el[i].ref) != 0
            || record_account(e[i].account, el[i].acc) != 0 || !e[i].amount
            || !canonical_int(e[i].amount))
            rc = -1;
    }
    if (rc == 0) {
        qsort(el, ne, sizeof(*el), ent_cmp);
        for (size_t i = 0; i < ne; i++) {
            record_text_addn(b, "entry ", 6);
            record_text_addn(b, el[i].ref, RECORD_HEX_LEN);
            record_text_addn(b, " ", 1);
            record_text_addn(b, el[i].acc, RECORD_HEX_LEN);
            record_text_addn(b, " ", 1);
            record_text_add(b, el[i].amount);
            record_text_addn(b, "\n", 1);
        }
    }
    if (el != local)
        free(el);
    return rc;
}

int record_encode_into(enum record_kind k, const char *const *v, const struct record_entry *e,
                       size_t ne, struct record_text *b, unsigned char leaf[RECORD_HASH_LEN])
{
    const struct kind_def *d;
    int rc = 0;

    b->len = 0;
    b->oom = 0;
    if (k >= RECORD_KINDS || (k != RECORD_TRANSFER && ne))
        return -1;
    d = &kinds[k];
    record_text_addn(b, "zerosum/v1 ", 11);
    record_text_add(b, d->name);
    record_text_addn(b, "\n", 1);
    for (int i = 0; i < d->nlines && rc == 0; i++) {
        record_text_add(b, d->lines[i].label);
        record_text_addn(b, " ", 1);
        rc = put_value(b, &d->lines[i], v);
        record_text_addn(b, "\n", 1);
    }
    if (rc == 0 && k == RECORD_TRANSFER)
        rc = put_entries(b, e, ne);
    if (rc != 0 || b->oom)
        return -1;
    merkle_leaf_hash(b->p, b->len, leaf);
    return 0;
}

int record_encode(enum record_kind k, const char *const *v, const struct record_entry *e, size_t ne,
                  struct record *out)
{
    struct record_text b = { 0 };

    memset(out, 0, sizeof(*out));
    if (record_encode_into(k, v, e, ne, &b, out->leaf) != 0) {
        free(b.p);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->text = b.p;
    out->len = b.len;
    return 0;
}

int record_encode_row(enum record_kind k, const PGresult *res, int row, int col,
                      const struct record_entry *e, size_t ne, struct record *out)
{
    const char *v[32];
    int n = record_ncols(k);

    memset(out, 0, sizeof(*out));
    if (n == 0 || n > 32 || row < 0 || row >= PQntuples(res) || col + n > PQnfields(res))
        return -1;
    for (int i = 0; i < n; i++)
        v[i] = PQgetisnull(res, row, col + i) ? NULL : PQgetvalue(res, row, col + i);
    return record_encode(k, v, e, ne, out);
}

void record_free(struct record *r)
{
    if (!r)
        return;
    free(r->text);
    r->text = NULL;
    r->len = 0;
}

/* ---- the state commitment and the seal chain ----------------------------- */

struct agg_line {
    char ref[RECORD_HEX_LEN + 1];
    const struct record_agg *a;
};

static int agg_cmp(const void *x, const void *y)
{
    return strcmp(((const struct agg_line *)x)->ref, ((const struct agg_line *)y)->ref);
}

/* Append one section ("account", "lot", "market") sorted by ref. 0 or -1. */
static int put_section(struct record_text *b, const char *label, const char *refkind,
                       const struct record_agg *rows, size_t n, int three)
{
    struct agg_line *al;
    char line[RECORD_HEX_LEN + 96];

    if (n == 0)
        return 0;
    al = calloc(n, sizeof(*al));
    if (!al)
        return -1;
    for (size_t i = 0; i < n; i++) {
        al[i].a = &rows[i];
        if (record_ref(refkind, rows[i].id, al[i].ref) != 0) {
            free(al);
            return -1;
        }
    }
    qsort(al, n, sizeof(*al), agg_cmp);
    for (size_t i = 0; i < n; i++) {
        int len = three
            ? snprintf(line, sizeof(line), "%s %s %lld %lld %lld\n", label, al[i].ref,
                       (long long)al[i].a->a, (long long)al[i].a->b, (long long)al[i].a->c)
            : snprintf(line, sizeof(line), "%s %s %lld %lld\n", label, al[i].ref,
                       (long long)al[i].a->a, (long long)al[i].a->b);
        record_text_addn(b, line, (size_t)len);
    }
    free(al);
    return 0;
}

int record_state_hash(uint64_t size, struct record_agg *accounts, size_t na,
                      struct record_agg *lots, size_t nl, struct record_agg *markets, size_t nm,
                      unsigned char out[RECORD_HASH_LEN])
{
    struct record_text b = { 0 };
    char head[64];
    int n = snprintf(head, sizeof(head), "zerosum/v1 state\nsize %llu\n", (unsigned long long)size);
    int rc;

    record_text_addn(&b, head, (size_t)n);
    rc = put_section(&b, "account", "account", accounts, na, 0);
    if (rc == 0)
        rc = put_section(&b, "lot", "lot", lots, nl, 1);
    if (rc == 0)
        rc = put_section(&b, "market", "market", markets, nm, 1);
    if (rc == 0 && !b.oom)
        sha256(b.p, b.len, NULL, 0, out);
    free(b.p);
    return rc == 0 && !b.oom ? 0 : -1;
}

void record_seal_hash(uint64_t no, uint64_t size, const unsigned char root[RECORD_HASH_LEN],
                      const unsigned char state[RECORD_HASH_LEN],
                      const unsigned char prev[RECORD_HASH_LEN], unsigned char out[RECORD_HASH_LEN])
{
    char r[RECORD_HEX_LEN + 1], s[RECORD_HEX_LEN + 1], p[RECORD_HEX_LEN + 1], text[320];
    int n;

    record_hex(root, RECORD_HASH_LEN, r);
    record_hex(state, RECORD_HASH_LEN, s);
    record_hex(prev, RECORD_HASH_LEN, p);
    n = snprintf(text, sizeof(text),
                 "zerosum/v1 seal\nno %llu\nsize %llu\nroot %s\nstate %s\nprev %s\n",
                 (unsigned long long)no, (unsigned long long)size, r, s, p);
    sha256(text, (size_t)n, NULL, 0, out);
}
