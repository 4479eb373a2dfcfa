/*
 * vrecord.c — strict parser of canonical records v1 (see vrecord.h).
 */
#include "vrecord.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* How a field's value is spelled. */
enum ftype {
    F_REF,     /* 64 lowercase hex */
    F_REF_OPT, /* a ref or "-" */
    F_INT,     /* canonical decimal integer */
    F_INT_OPT, /* an integer or "-" */
    F_WORD,    /* one of the words in `words` */
};

struct field {
    const char *name;
    enum ftype type;
    const char *words; /* F_WORD: "a|b|c" */
};

struct layout {
    const char *name;
    const struct field *fields;
    int n;
};

static const struct field transfer_fields[] = {
    { "ref", F_REF, NULL },
    { "kind", F_WORD, "transfer|issue|capture|purchase|trade|mint|payout|refund|split|merge" },
    { "from", F_REF, NULL },
    { "to", F_REF, NULL },
    { "amount", F_INT, NULL },
    { "at", F_INT, NULL },
    { "private", F_REF, NULL },
};
static const struct field hold_fields[] = {
    { "ref", F_REF, NULL },          { "account", F_REF, NULL },
    { "lot", F_REF, NULL },          { "bid", F_REF, NULL },
    { "amount", F_INT, NULL },       { "state", F_WORD, "released|captured" },
    { "transfer", F_REF_OPT, NULL }, { "at", F_INT, NULL },
    { "ended", F_INT, NULL },
};
static const struct field bid_fields[] = {
    { "ref", F_REF, NULL },
    { "lot", F_REF, NULL },
    { "bidder", F_REF, NULL },
    { "amount", F_INT, NULL },
    { "quantity", F_INT, NULL },
    { "seq", F_INT, NULL },
    { "status", F_WORD, "leading|outbid|won|lost|claimed" },
    { "transfer", F_REF_OPT, NULL },
    { "at", F_INT, NULL },
    { "private", F_REF, NULL },
};
static const struct field lot_fields[] = {
    { "ref", F_REF, NULL },
    { "kind", F_WORD, "english|dutch|drop" },
    { "seller", F_REF, NULL },
    { "status", F_WORD, "settled|unsold|sold_out" },
    { "start_price", F_INT_OPT, NULL },
    { "increment", F_INT_OPT, NULL },
    { "reserve", F_INT_OPT, NULL },
    { "floor_price", F_INT_OPT, NULL },
    { "step", F_INT_OPT, NULL },
    { "interval_s", F_INT_OPT, NULL },
    { "price", F_INT_OPT, NULL },
    { "qty_total", F_INT, NULL },
    { "qty_claimed", F_INT, NULL },
    { "seq", F_INT, NULL },
    { "high_amount", F_INT_OPT, NULL },
    { "winner", F_REF_OPT, NULL },
    { "clearing_price", F_INT_OPT, NULL },
    { "starts_at", F_INT, NULL },
    { "ends_at", F_INT_OPT, NULL },
    { "settled_at", F_INT_OPT, NULL },
};
static const struct field fill_fields[] = {
    { "ref", F_REF, NULL },
    { "market", F_REF, NULL },
    { "kind", F_WORD, "transfer|mint" },
    { "outcome", F_WORD, "shares|yes|no" },
    { "price", F_INT, NULL },
    { "quantity", F_INT, NULL },
    { "buyer", F_REF, NULL },
    { "seller", F_REF, NULL },
    { "cash_a", F_REF, NULL },
    { "cash_b", F_REF_OPT, NULL },
    { "seq", F_INT, NULL },
    { "at", F_INT, NULL },
};
static const struct field order_fields[] = {
    { "ref", F_REF, NULL },
    { "market", F_REF, NULL },
    { "account", F_REF, NULL },
    { "side", F_WORD, "buy|sell" },
    { "outcome", F_WORD, "shares|yes|no" },
    { "price", F_INT, NULL },
    { "quantity", F_INT, NULL },
    { "remaining", F_INT, NULL },
    { "status", F_WORD, "filled|cancelled" },
    { "tif", F_WORD, "gtc|ioc" },
    { "at", F_INT, NULL },
    { "private", F_REF, NULL },
};
static const struct field pending_fields[] = {
    { "ref", F_REF, NULL },
    { "from", F_REF, NULL },
    { "to", F_REF, NULL },
    { "amount", F_INT, NULL },
    { "status", F_WORD, "posted|voided|expired" },
    { "posted_amount", F_INT_OPT, NULL },
    { "transfer", F_REF_OPT, NULL },
    { "expires", F_INT, NULL },
    { "at", F_INT, NULL },
    { "private", F_REF, NULL },
};

static const struct field limit_fields[] = {
    { "ref", F_REF, NULL },
    { "account", F_REF, NULL },
    { "credit_limit", F_INT, NULL },
    { "at", F_INT, NULL },
};

#define LAYOUT(n, f)                                                                               \
    {                                                                                              \
        n, f, (int)(sizeof f / sizeof f[0])                                                        \
    }
static const struct layout layouts[] = {
    [VREC_TRANSFER] = LAYOUT("transfer", transfer_fields),
    [VREC_HOLD] = LAYOUT("hold", hold_fields),
    [VREC_BID] = LAYOUT("bid", bid_fields),
    [VREC_LOT] = LAYOUT("lot", lot_fields),
    [VREC_FILL] = LAYOUT("fill", fill_fields),
    [VREC_ORDER] = LAYOUT("order", order_fields),
    [VREC_PENDING] = LAYOUT("pending", pending_fields),
    [VREC_LIMIT] = LAYOUT("limit", limit_fields),
};
#define N_LAYOUTS ((int)(sizeof layouts / sizeof layouts[0]))

const char *vrec_kind_name(enum vrec_kind k)
{
    return (int)k >= 0 && (int)k < N_LAYOUTS ? layouts[k].name : "?";
}

/* Write a reason into err and return -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* 1 when the n bytes at s are exactly 64 lowercase hex digits. */
static int is_ref(const char *s, size_t n)
{
    if (n != VREC_REF_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Parse the n bytes at s as a canonical decimal int64 into *v: 0, or -1. */
static int parse_int(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n || n - i > 19 || (s[i] == '0' && n - i > 1) || (neg && s[i] == '0'))
        return -1;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if ((!neg && acc > (uint64_t)INT64_MAX) || (neg && acc > (uint64_t)INT64_MAX + 1))
        return -1;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* 1 when the n bytes at s are one of the '|'-separated words. */
static int is_word(const char *words, const char *s, size_t n)
{
    const char *w = words;
    while (*w) {
        const char *e = strchr(w, '|');
        size_t wl = e ? (size_t)(e - w) : strlen(w);
        if (wl == n && memcmp(w, s, n) == 0)
            return 1;
        if (!e)
            break;
        w = e + 1;
    }
    return 0;
}

/* Store value v (n bytes) of field f as field i of r: 0, or -1 with err. */
static int set_field(struct vrec *r, int i, const struct field *f, const char *v, size_t n,
                     char *err, size_t errlen)
{
    int dash = n == 1 && v[0] == '-';
    r->present[i] = 1;
    if (dash && (f->type == F_REF_OPT || f->type == F_INT_OPT)) {
        r->present[i] = 0;
        strcpy(r->text[i], "-");
        return 0;
    }
    if (n > VREC_REF_LEN)
        return fail(err, errlen, "%s: value too long", f->name);
    memcpy(r->text[i], v, n);
    r->text[i][n] = 0;
    switch (f->type) {
    case F_REF:
    case F_REF_OPT:
        if (!is_ref(v, n))
            return fail(err, errlen, "%s: not a 64-hex-digit ref", f->name);
        return 0;
    case F_INT:
    case F_INT_OPT:
        if (parse_int(v, n, &r->num[i]) < 0)
            return fail(err, errlen, "%s: not a canonical integer", f->name);
        return 0;
    case F_WORD:
        if (!is_word(f->words, v, n))
            return fail(err, errlen, "%s: '%s' is not one of %s", f->name, r->text[i], f->words);
        return 0;
    }
    return fail(err, errlen, "%s: unknown field type", f->name);
}

/* Parse one "entry REF ACCT AMOUNT" value part (n bytes at v) into e. */
static int parse_entry(const char *v, size_t n, struct vrec_entry *e)
{
    const char *sp1 = memchr(v, ' ', n);
    if (!sp1 || !is_ref(v, (size_t)(sp1 - v)))
        return -1;
    const char *a = sp1 + 1, *end = v + n;
    const char *sp2 = memchr(a, ' ', (size_t)(end - a));
    if (!sp2 || !is_ref(a, (size_t)(sp2 - a)))
        return -1;
    memcpy(e->ref, v, VREC_REF_LEN);
    e->ref[VREC_REF_LEN] = 0;
    memcpy(e->account, a, VREC_REF_LEN);
    e->account[VREC_REF_LEN] = 0;
    return parse_int(sp2 + 1, (size_t)(end - sp2 - 1), &e->amount);
}

/* The transfer's entry lines from p to end into r (at least one, sorted). */
static int parse_entries(struct vrec *r, const char *p, const char *end, char *err, size_t errlen)
{
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return fail(err, errlen, "the last line does not end in LF");
        if ((size_t)(nl - p) < 6 || memcmp(p, "entry ", 6) != 0)
            return fail(err, errlen, "expected an entry line, got '%.20s'", p);
        struct vrec_entry *grown = realloc(r->entries, sizeof *grown * (size_t)(r->n_entries + 1));
        if (!grown)
            return fail(err, errlen, "out of memory");
        r->entries = grown;
        struct vrec_entry *e = &r->entries[r->n_entries];
        if (parse_entry(p + 6, (size_t)(nl - p - 6), e) < 0 || e->amount == 0)
            return fail(err, errlen, "entry %d: malformed", r->n_entries + 1);
        if (r->n_entries > 0 && strcmp(r->entries[r->n_entries - 1].ref, e->ref) >= 0)
            return fail(err, errlen, "entry lines are not sorted by ref");
        r->n_entries++;
        p = nl + 1;
    }
    if (r->n_entries == 0)
        return fail(err, errlen, "a transfer without entry lines");
    return 0;
}

/* The header line names the kind: its index, or -1. */
static int header_kind(const char *p, size_t n)
{
    static const char prefix[] = "zerosum/v1 ";
    if (n <= sizeof prefix - 1 || memcmp(p, prefix, sizeof prefix - 1) != 0)
        return -1;
    for (int k = 0; k < N_LAYOUTS; k++)
        if (strlen(layouts[k].name) == n - (sizeof prefix - 1)
            && memcmp(p + sizeof prefix - 1, layouts[k].name, strlen(layouts[k].name)) == 0)
            return k;
    return -1;
}

/* Parse the fixed lines of layout L from *pp; leaves *pp after them. */
static int parse_fields(struct vrec *r, const struct layout *L, const char **pp, const char *end,
                        char *err, size_t errlen)
{
    const char *p = *pp;
    for (int i = 0; i < L->n; i++) {
        const struct field *f = &L->fields[i];
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return fail(err, errlen, "missing line '%s'", f->name);
        size_t nlen = strlen(f->name);
        if ((size_t)(nl - p) < nlen + 2 || memcmp(p, f->name, nlen) != 0 || p[nlen] != ' ')
            return fail(err, errlen, "expected line '%s'", f->name);
        const char *v = p + nlen + 1;
        if (memchr(v, ' ', (size_t)(nl - v)))
            return fail(err, errlen, "%s: more than one value", f->name);
        if (set_field(r, i, f, v, (size_t)(nl - v), err, errlen) < 0)
            return -1;
        p = nl + 1;
    }
    *pp = p;
    return 0;
}

int vrec_parse(const char *text, size_t len, struct vrec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    const char *nl = memchr(p, '\n', len);
    int k = nl ? header_kind(p, (size_t)(nl - p)) : -1;
    if (k < 0)
        return fail(err, errlen, "not a zerosum/v1 record header");
    const struct layout *L = &layouts[k];
    out->kind = (enum vrec_kind)k;
    out->nfields = L->n;
    p = nl + 1;
    int rc = parse_fields(out, L, &p, end, err, errlen);
    if (rc == 0 && k == VREC_TRANSFER)
        rc = parse_entries(out, p, end, err, errlen);
    else if (rc == 0 && p != end)
        rc = fail(err, errlen, "bytes after the last line");
    if (rc < 0)
        vrec_free(out);
    return rc;
}

void vrec_free(struct vrec *r)
{
    free(r->entries);
    r->entries = NULL;
    r->n_entries = 0;
}

int vrec_ref(const char *kind, const char *uuid, char out[VREC_REF_LEN + 1])
{
    char canon[37];
    if (strlen(uuid) != 36)
        return -1;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? uuid[i] != '-' : !isxdigit((unsigned char)uuid[i]))
            return -1;
        canon[i] = (char)tolower((unsigned char)uuid[i]);
    }
    canon[36] = 0;
    char msg[128];
    int n = snprintf(msg, sizeof msg, "zerosum/v1 %s %s", kind, canon);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (n < 0 || (size_t)n >= sizeof msg
        || !EVP_Digest(msg, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
        return -1;
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    return 0;
}
