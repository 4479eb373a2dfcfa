/*
 * test_verify_replay.c — zerosum-verify's replay (fcgi/verify/vreplay.c,
 * vreplay_rules.c) over handcrafted logs: a clean log of an issue, a
 * transfer, a drop lot sold out by two claims, an English lot settled by
 * a captured hold, and a transfer fill verifies, and its state commitment
 * equals the SHA-256 of the state text written out here by hand; then each
 * tamper the replay must catch fails exactly its check: an unbalanced
 * transfer, an oversold lot, a lot whose qty_claimed disagrees with its
 * claims, a capture paid to someone else, a fill without its cash, a
 * negative balance, a wrong state hash, a wrong root, an unparsable record;
 * and credit limits: an overdraft within the account's latest logged limit
 * verifies, one beyond it (or beyond a limit since lowered) fails
 * no_negative_balances, and a limit record changes no state line.
 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/sha.h>

#include "merkle.h"
#include "verify/vrecord.h"
#include "verify/vreplay.h"

#define H(c)                                                                                       \
    c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c
#define P32(s) s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s
#define ISSUER "a5a7bfcf7bc3acf087e8c29dab813237eada09ea1c9b671f066ccd33ea1ec9ac"
#define ALICE H("1")
#define BOB H("2")
#define SELLER H("3")
#define PRIV H("9")

struct log {
    char *rec[32];
    int n;
};

static void add(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&l->rec[l->n], fmt, ap) < 0)
        abort();
    va_end(ap);
    l->n++;
}

/* A transfer record: ref tag t (one hex char), kind, from, to, amount, entries e1/e2 amounts. */
static void transfer(struct log *l, const char *ref, const char *kind, const char *from,
                     const char *to, long long amount, long long out, long long in)
{
    add(l,
        "zerosum/v1 transfer\nref %s\nkind %s\nfrom %s\nto %s\namount %lld\nat 1\nprivate " PRIV
        "\nentry %.63s0 %s %lld\nentry %.63s1 %s %lld\n",
        ref, kind, from, to, amount, ref, from, -out, ref, to, in);
}

/* The clean log every tamper starts from (about 10 records). */
static void clean(struct log *l)
{
    memset(l, 0, sizeof *l);
    transfer(l, H("a"), "issue", ISSUER, ALICE, 1000, 1000, 1000);
    transfer(l, H("b"), "transfer", ALICE, BOB, 300, 300, 300);
    /* a drop lot of 3 units, price 50, sold out by claims of 1 and 2 */
    transfer(l, H("c"), "purchase", ALICE, SELLER, 50, 50, 50);
    transfer(l, H("d"), "purchase", BOB, SELLER, 100, 100, 100);
    /* the English lot's capture */
    transfer(l, H("e"), "capture", BOB, SELLER, 120, 120, 120);
    transfer(l, H("f"), "trade", ALICE, BOB, 60, 60, 60);
    add(l,
        "zerosum/v1 hold\nref " H("4") "\naccount " BOB "\nlot " H("6") "\nbid " H(
            "7") "\namount 120\nstate captured\ntransfer " H("e") "\nat 1\nended 2\n");
    add(l,
        "zerosum/v1 bid\nref " P32("50") "\nlot " H(
            "8") "\nbidder " ALICE
                 "\namount 50\nquantity 1\nseq 1\nstatus claimed\ntransfer " H(
                     "c") "\nat 1\nprivate " PRIV "\n");
    add(l,
        "zerosum/v1 bid\nref " P32("51") "\nlot " H(
            "8") "\nbidder " BOB
                 "\namount 100\nquantity 2\nseq 2\nstatus claimed\ntransfer " H(
                     "d") "\nat 2\nprivate " PRIV "\n");
    add(l,
        "zerosum/v1 lot\nref " H(
            "8") "\nkind drop\nseller " SELLER
                 "\nstatus sold_out\nstart_price -\nincrement -\nreserve -\nfloor_price -\nstep -\n"
                 "interval_s -\nprice 50\nqty_total 3\nqty_claimed 3\nseq 2\nhigh_amount -\nwinner "
                 "-\n"
                 "clearing_price -\nstarts_at 1\nends_at -\nsettled_at 3\n");
    add(l,
        "zerosum/v1 bid\nref " H("7") "\nlot " H(
            "6") "\nbidder " BOB
                 "\namount 120\nquantity 1\nseq 1\nstatus won\ntransfer -\nat 1\nprivate " PRIV
                 "\n");
    add(l,
        "zerosum/v1 lot\nref " H(
            "6") "\nkind english\nseller " SELLER "\nstatus settled\nstart_price 100\nincrement "
                 "10\nreserve -\nfloor_price -\nstep -\n"
                 "interval_s -\nprice -\nqty_total 1\nqty_claimed 0\nseq 1\nhigh_amount "
                 "120\nwinner " BOB "\nclearing_price 120\nstarts_at 1\nends_at 5\nsettled_at 6\n");
    add(l,
        "zerosum/v1 fill\nref " P32("c0") "\nmarket " P32(
            "d0") "\nkind transfer\noutcome shares\n"
                  "price 20\nquantity 3\nbuyer " ALICE "\nseller " BOB
                  "\ncash_a " H("f") "\ncash_b -\nseq 1\nat 9\n");
}

/* The first occurrence of from in record i of l replaced by to. */
static void tamper(struct log *l, int i, const char *from, const char *to)
{
    char *p = strstr(l->rec[i], from);
    if (!p)
        abort();
    char *out = malloc(strlen(l->rec[i]) + strlen(to) + 1);
    memcpy(out, l->rec[i], (size_t)(p - l->rec[i]));
    strcpy(out + (p - l->rec[i]), to);
    strcat(out, p + strlen(from));
    free(l->rec[i]);
    l->rec[i] = out;
}

static void drop(struct log *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->rec[i]);
}

/* The state text of the clean log at tree size `size` (13, or more after records that fold
 * into no state line), written out by hand, hashed. */
static void state_at(int size, unsigned char out[32])
{
    /* balances: issuer -1000 (1 entry); alice 1000-300-50-60 = 590 (4); bob 300-100-120+60
     * = 140 (4); seller 50+100+120 = 270 (3); sorted by A(): 1.., 2.., 3.., a5a7.. */
    char text[1024];
    snprintf(text, sizeof text,
             "zerosum/v1 state\nsize %d\n"
             "account " ALICE " 590 4\n"
             "account " BOB " 140 4\n"
             "account " SELLER " 270 3\n"
             "account " ISSUER " -1000 1\n"
             "lot " H("6") " 0 120 1\n"
                           "lot " H("8") " 3 0 2\n"
                                         "market " P32("d0") " 1 3 0\n",
             size);
    SHA256((const unsigned char *)text, strlen(text), out);
}

/* The state of the clean log. */
static void clean_state(unsigned char out[32])
{
    state_at(13, out);
}

/* Replay l against a checkpoint of its own size with root/state (NULL: the replay's own). */
static struct vcheck_list run(struct log *l, const unsigned char *root, const unsigned char *state)
{
    struct vreplay *r = vreplay_new();
    for (int i = 0; i < l->n; i++)
        vreplay_add(r, (uint64_t)i, l->rec[i], strlen(l->rec[i]));
    struct checkpoint cp = { .size = (uint64_t)l->n };
    strcpy(cp.origin, "test");
    if (root)
        memcpy(cp.root, root, 32);
    else
        vreplay_root(r, cp.root);
    if (state)
        memcpy(cp.state, state, 32);
    else
        vreplay_state_hash(r, cp.state);
    struct vcheck_list out = { 0 };
    vreplay_finish(r, &cp, &out);
    vreplay_free(r);
    return out;
}

/* Only the named check fails (NULL: none). */
static int only_fails(struct vcheck_list *c, const char *name)
{
    int good = 1;
    for (int i = 0; i < c->n; i++) {
        int expect_fail = name && strcmp(c->items[i].name, name) == 0;
        if (c->items[i].ok == expect_fail) {
            printf("# %s %s: %s\n", c->items[i].ok ? "ok" : "FAIL", c->items[i].name,
                   c->items[i].detail);
            good = 0;
        }
    }
    if (name && !vcheck_failed(c, name))
        good = 0;
    vcheck_free(c);
    return good;
}

/* The clean log with one tamper, replayed; only `name` fails. */
static void case_of(int i, const char *from, const char *to, const char *name, const char *what)
{
    struct log l;
    clean(&l);
    tamper(&l, i, from, to);
    struct vcheck_list c = run(&l, NULL, NULL);
    ok(only_fails(&c, name), what);
    drop(&l);
}

static void test_clean(void)
{
    struct log l;
    clean(&l);
    unsigned char state[32], root[32];
    clean_state(state);
    struct vcheck_list c = run(&l, NULL, state);
    ok(only_fails(&c, NULL), "the clean log verifies, its state equals the hand-written state");

    /* the root, by RFC 9162 over 13 leaves through merkle.c's primitives */
    unsigned char leaves[13][32];
    for (int i = 0; i < 13; i++)
        merkle_leaf_hash(l.rec[i], strlen(l.rec[i]), leaves[i]);
    unsigned char a[32], b[32], x[32], y[32], z[32];
    merkle_node_hash(leaves[0], leaves[1], a);
    merkle_node_hash(leaves[2], leaves[3], b);
    merkle_node_hash(a, b, x); /* 0..3 */
    merkle_node_hash(leaves[4], leaves[5], a);
    merkle_node_hash(leaves[6], leaves[7], b);
    merkle_node_hash(a, b, y); /* 4..7 */
    merkle_node_hash(x, y, z); /* 0..7 */
    merkle_node_hash(leaves[8], leaves[9], a);
    merkle_node_hash(leaves[10], leaves[11], b);
    merkle_node_hash(a, b, x);          /* 8..11 */
    merkle_node_hash(x, leaves[12], y); /* 8..12 */
    merkle_node_hash(z, y, root);
    c = run(&l, root, state);
    ok(only_fails(&c, NULL), "the replay's root is RFC 9162's MTH of the 13 leaves");
    drop(&l);

    struct vreplay *r = vreplay_new();
    ok(vreplay_want_root(r, 4) == 0, "a prefix root can be asked for");
    clean(&l);
    for (int i = 0; i < l.n; i++)
        vreplay_add(r, (uint64_t)i, l.rec[i], strlen(l.rec[i]));
    unsigned char p4[32], want[32];
    merkle_node_hash(leaves[0], leaves[1], a);
    merkle_node_hash(leaves[2], leaves[3], b);
    merkle_node_hash(a, b, want);
    ok(vreplay_root_at(r, 4, p4) == 0 && memcmp(p4, want, 32) == 0, "the root at size 4");
    vreplay_free(r);
    drop(&l);
}

static void test_tampers(void)
{
    case_of(1, " 300\n", " 299\n", "transfers_balanced", "an unbalanced transfer fails");
    case_of(1, "amount 300", "amount 301", "transfers_balanced",
            "entries that do not match the transfer's amount fail");
    case_of(9, "qty_total 3", "qty_total 2", "no_oversell", "an oversold lot fails");
    case_of(9, "qty_claimed 3", "qty_claimed 2", "no_oversell",
            "a lot whose qty_claimed disagrees with its claims fails");
    case_of(6, "amount 120", "amount 110", "holds_reconcile",
            "a captured hold for another amount than its capture fails");
    case_of(11, "seller " SELLER, "seller " ALICE, "holds_reconcile",
            "a capture not paid to the lot's seller fails");
    case_of(7, "amount 50", "amount 40", "purchases_paid",
            "a claim paid another amount than its purchase fails");
    case_of(12, "price 20", "price 21", "fill_cash_legs",
            "a fill whose cash leg is not price x quantity fails");
    case_of(12, "cash_a " H("f"), "cash_a " H("e"), "fill_cash_legs",
            "a fill whose cash leg is another kind of transfer fails");

    struct log l;
    clean(&l);
    transfer(&l, H("0"), "transfer", BOB, ALICE, 200, 200, 200);
    struct vcheck_list c = run(&l, NULL, NULL);
    ok(only_fails(&c, "no_negative_balances"), "an account below zero fails");
    drop(&l);

    /* bob 140 - 200 = -60: within a logged limit of 60, not of 59 or of one lowered to 59 */
    static const char lim[] = "zerosum/v1 limit\nref %s\naccount " BOB "\ncredit_limit %d\nat 1\n";
    unsigned char state[32];
    clean(&l);
    add(&l, lim, P32("e1"), 60);
    transfer(&l, H("0"), "transfer", BOB, ALICE, 200, 200, 200);
    c = run(&l, NULL, NULL);
    ok(only_fails(&c, NULL), "an overdraft within the logged credit limit verifies");
    drop(&l);
    clean(&l);
    add(&l, lim, P32("e1"), 59);
    transfer(&l, H("0"), "transfer", BOB, ALICE, 200, 200, 200);
    c = run(&l, NULL, NULL);
    ok(only_fails(&c, "no_negative_balances"), "an overdraft beyond the logged limit fails");
    drop(&l);
    clean(&l);
    add(&l, lim, P32("e1"), 100);
    transfer(&l, H("0"), "transfer", BOB, ALICE, 200, 200, 200);
    add(&l, lim, P32("e2"), 59);
    c = run(&l, NULL, NULL);
    ok(only_fails(&c, "no_negative_balances"), "the latest limit is the one in force");
    drop(&l);
    clean(&l);
    add(&l, lim, P32("e1"), 60);
    tamper(&l, 13, "account " BOB, "account " ISSUER);
    c = run(&l, NULL, NULL);
    ok(only_fails(&c, "replay_records"), "a limit on the issuer is refused");
    drop(&l);
    clean(&l);
    add(&l, lim, P32("e1"), 60);
    state_at(14, state); /* the same state text at size 14: a limit record adds no line */
    c = run(&l, NULL, state);
    ok(only_fails(&c, NULL), "a limit record leaves the state commitment's text as it was");
    drop(&l);

    clean(&l);
    clean_state(state);
    state[0] ^= 1;
    c = run(&l, NULL, state);
    ok(only_fails(&c, "state_commitment"), "a wrong state hash fails");
    unsigned char root[32] = { 0 };
    c = run(&l, root, NULL);
    ok(only_fails(&c, "replay_root"), "a wrong root fails");
    drop(&l);

    clean(&l);
    tamper(&l, 3, "kind purchase", "kind purchase ");
    c = run(&l, NULL, NULL);
    ok(vcheck_failed(&c, "replay_records"), "an unparsable record fails");
    vcheck_free(&c);
    drop(&l);
}

/* The clean log, then a market's escrow E: alice splits 3 pairs (300), merges 1 (100),
 * and a cancel pays bob 50 for one contract; then the last record's amount or kind
 * changed to `what`. */
#define ESCROW H("5")
static void escrow_case(long long split, const char *kind3, long long pay, const char *name,
                        const char *what)
{
    struct log l;
    clean(&l);
    transfer(&l, P32("f1"), "split", ALICE, ESCROW, split, split, split);
    transfer(&l, P32("f2"), "merge", ESCROW, ALICE, 100, 100, 100);
    transfer(&l, P32("f3"), kind3, ESCROW, BOB, pay, pay, pay);
    struct vcheck_list c = run(&l, NULL, NULL);
    ok(only_fails(&c, name), what);
    drop(&l);
}

static void test_escrow(void)
{
    escrow_case(300, "refund", 50, NULL,
                "splits and merges of 100 per pair and a cancel's 50 per contract verify");
    escrow_case(300, "payout", 100, NULL, "a payout of 100 per winning contract verifies");
    escrow_case(250, "refund", 50, "escrow_pairs", "a split of 250 (not 100 per pair) fails");
    escrow_case(300, "refund", 30, "escrow_pairs",
                "a cancel payout of 30 (not 50 per contract) fails");
    escrow_case(300, "payout", 50, "escrow_pairs", "a payout of 50 (not 100 per contract) fails");
    escrow_case(300, "transfer", 50, "escrow_pairs",
                "an escrow paying a plain transfer fails (it moves only with its market)");

    struct log l;
    clean(&l);
    transfer(&l, P32("f1"), "split", ISSUER, ESCROW, 300, 300, 300);
    struct vcheck_list c = run(&l, NULL, NULL);
    ok(only_fails(&c, "escrow_pairs"), "a split paid by the issuer fails");
    drop(&l);
}

int main(void)
{
    test_clean();
    test_tampers();
    test_escrow();
    return done_testing();
}
