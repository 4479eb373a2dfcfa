/*
 * test_verify_record.c — zerosum-verify's strict parser of canonical
 * records v1 (fcgi/verify/vrecord.c): well-formed records of every kind
 * parse into their fields; malformed ones (wrong order, missing or extra
 * lines, non-canonical integers, upper-case refs, unknown words, unsorted
 * entries, a missing final LF) are refused. The pseudonym R() is checked
 * against values computed with Python's hashlib:
 *   hashlib.sha256(b"zerosum/v1 account 00000000-0000-0000-0000-000000000001")
 */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

#include "verify/vrecord.h"

#define H(c)                                                                                       \
    c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c
#define RA H("a")
#define RB H("b")
#define RC H("c")
#define RD H("d")
#define RE H("e")

static const char transfer_rec[] = "zerosum/v1 transfer\n"
                                   "ref " RA "\n"
                                   "kind transfer\n"
                                   "from " RB "\n"
                                   "to " RC "\n"
                                   "amount 500\n"
                                   "at 1700000000000000\n"
                                   "private " RD "\n"
                                   "entry " RD " " RB " -500\n"
                                   "entry " RE " " RC " 500\n";

static int parses(const char *text, const char *name)
{
    struct vrec r;
    char err[200];
    int rc = vrec_parse(text, strlen(text), &r, err, sizeof err);
    if (rc == 0)
        vrec_free(&r);
    else
        printf("# %s: %s\n", name, err);
    return rc == 0;
}

/* The transfer record with the first occurrence of from replaced by to. */
static char *variant(const char *base, const char *from, const char *to)
{
    const char *p = strstr(base, from);
    if (!p)
        return NULL;
    char *out = malloc(strlen(base) + strlen(to) + 1);
    size_t pre = (size_t)(p - base);
    memcpy(out, base, pre);
    strcpy(out + pre, to);
    strcat(out, p + strlen(from));
    return out;
}

static void refused(const char *from, const char *to, const char *name)
{
    char *v = variant(transfer_rec, from, to);
    ok(v && !parses(v, name), name);
    free(v);
}

static void test_transfer(void)
{
    struct vrec r;
    char err[200];
    ok(vrec_parse(transfer_rec, strlen(transfer_rec), &r, err, sizeof err) == 0,
       "a transfer record parses");
    is_int(r.kind, VREC_TRANSFER, "its kind");
    is_str(r.text[TR_KIND], "transfer", "its transfer kind");
    is_int(r.num[TR_AMOUNT], 500, "its amount");
    is_int(r.num[TR_AT], 1700000000000000LL, "its time");
    is_int(r.n_entries, 2, "two entries");
    is_int(r.entries[0].amount, -500, "the first entry's amount");
    is_str(r.entries[1].account, RC, "the second entry's account");
    vrec_free(&r);

    refused("amount 500", "amount 0500", "a leading zero is refused");
    refused("amount 500", "amount +500", "a plus sign is refused");
    refused("amount 500", "amount 99999999999999999999", "an overflowing integer is refused");
    refused(" -500\n", " -0\n", "minus zero is refused");
    refused("ref " RA, "ref " H("A"), "an upper-case ref is refused");
    refused("ref " RA, "ref " RA "0", "a 65-digit ref is refused");
    refused("kind transfer", "kind gift", "an unknown transfer kind is refused");
    refused("kind transfer\n", "", "a missing line is refused");
    refused("from " RB "\nto " RC, "to " RC "\nfrom " RB, "lines out of order are refused");
    refused("amount 500", "amount  500", "a double space is refused");
    refused("amount 500", "amount 500 1", "a second value is refused");
    refused("entry " RD " " RB " -500\nentry " RE " " RC " 500\n",
            "entry " RE " " RC " 500\nentry " RD " " RB " -500\n", "unsorted entries are refused");
    refused("entry " RD " " RB " -500\nentry " RE " " RC " 500\n", "",
            "a transfer without entries is refused");
    refused("zerosum/v1 transfer", "zerosum/v2 transfer", "another version is refused");
    refused("private " RD "\n", "private " RD "\nmemo hello\n", "an unknown line is refused");
    char *cut = strndup(transfer_rec, strlen(transfer_rec) - 1);
    ok(!parses(cut, "cut"), "a record without its final LF is refused");
    free(cut);
}

static void test_other_kinds(void)
{
    static const char hold[] = "zerosum/v1 hold\nref " RA "\naccount " RB "\nlot " RC "\nbid " RD
                               "\namount 70\nstate captured\ntransfer " RE "\nat 1\nended 2\n";
    static const char bid[] = "zerosum/v1 bid\nref " RA "\nlot " RC "\nbidder " RB
                              "\namount 70\nquantity 2\nseq 1\nstatus claimed\ntransfer -\nat 5\n"
                              "private " RD "\n";
    static const char lot[] = "zerosum/v1 lot\nref " RC "\nkind drop\nseller " RB
                              "\nstatus sold_out\nstart_price -\nincrement -\nreserve -\n"
                              "floor_price -\nstep -\ninterval_s -\nprice 35\nqty_total 2\n"
                              "qty_claimed 2\nseq 1\nhigh_amount -\nwinner -\nclearing_price -\n"
                              "starts_at 1\nends_at -\nsettled_at 9\n";
    static const char fill[] = "zerosum/v1 fill\nref " RA "\nmarket " RB
                               "\nkind mint\noutcome yes\nprice 40\nquantity 3\nbuyer " RC
                               "\nseller " RD "\ncash_a " RE "\ncash_b " RA "\nseq 4\nat 7\n";
    static const char order[] = "zerosum/v1 order\nref " RA "\nmarket " RB "\naccount " RC
                                "\nside buy\noutcome no\nprice 60\nquantity 3\nremaining 0\n"
                                "status filled\ntif gtc\nat 7\nprivate " RD "\n";
    static const char pending[] = "zerosum/v1 pending\nref " RA "\nfrom " RB "\nto " RC
                                  "\namount 90\nstatus posted\nposted_amount 80\ntransfer " RE
                                  "\nexpires 100\nat 7\nprivate " RD "\n";
    struct vrec r;
    char err[200];
    ok(vrec_parse(hold, strlen(hold), &r, err, sizeof err) == 0 && r.kind == VREC_HOLD
           && r.num[HO_AMOUNT] == 70 && r.present[HO_TRANSFER],
       "a hold record parses");
    vrec_free(&r);
    ok(vrec_parse(bid, strlen(bid), &r, err, sizeof err) == 0 && r.kind == VREC_BID
           && r.num[BI_QUANTITY] == 2 && !r.present[BI_TRANSFER],
       "a bid record parses, an absent transfer is '-'");
    vrec_free(&r);
    ok(vrec_parse(lot, strlen(lot), &r, err, sizeof err) == 0 && r.kind == VREC_LOT
           && r.num[LO_QTY_CLAIMED] == 2 && !r.present[LO_WINNER] && r.num[LO_PRICE] == 35,
       "a lot record parses");
    vrec_free(&r);
    ok(parses(fill, "fill") && parses(order, "order") && parses(pending, "pending"),
       "fill, order and pending records parse");
    static const char limit[] =
        "zerosum/v1 limit\nref " RA "\naccount " RB "\ncredit_limit 250\nat 7\n";
    ok(vrec_parse(limit, strlen(limit), &r, err, sizeof err) == 0 && r.kind == VREC_LIMIT
           && r.num[LI_CREDIT_LIMIT] == 250 && strcmp(r.text[LI_ACCOUNT], RB) == 0,
       "a credit limit record parses");
    vrec_free(&r);
    static const char nolimit[] =
        "zerosum/v1 limit\nref " RA "\naccount " RB "\ncredit_limit -\nat 7\n";
    ok(!parses(nolimit, "limit nil"), "a limit record without its limit is refused");
    char *lim = malloc(sizeof limit + 8);
    snprintf(lim, sizeof limit + 8, "%sseq 1\n", limit);
    ok(!parses(lim, "limit extra"), "a limit record with a line too many is refused");
    free(lim);
    char *bad = strdup(hold);
    memcpy(strstr(bad, "captured"), "active\n\n", 8);
    ok(!parses(bad, "active hold"), "an active hold is not a sealed record");
    free(bad);
    bad = strdup(lot);
    *strstr(bad, "qty_total 2") = 'Q';
    ok(!parses(bad, "lot name"), "a misspelt line name is refused");
    free(bad);
    char *nil = strdup(lot);
    memcpy(strstr(nil, "qty_total 2"), "qty_total -", 11);
    ok(!parses(nil, "nil"), "'-' is refused where a value is required");
    free(nil);
}

static void test_refs(void)
{
    char ref[65];
    ok(vrec_ref("account", "00000000-0000-0000-0000-000000000001", ref) == 0
           && strcmp(ref, "a5a7bfcf7bc3acf087e8c29dab813237eada09ea1c9b671f066ccd33ea1ec9ac") == 0,
       "R(account, issuer) matches hashlib");
    ok(vrec_ref("transfer", "0F8FAD5B-D9CB-469F-A165-70867728950E", ref) == 0
           && strcmp(ref, "363439fdb9d2e1491f2405b4a490aae1be60d3b8067b216d482430c592c01539") == 0,
       "R(transfer, id) lower-cases the UUID first");
    ok(vrec_ref("transfer", "0f8fad5b-d9cb-469f-a165-70867728950", ref) < 0,
       "a short UUID is refused");
    ok(vrec_ref("transfer", "0f8fad5bxd9cb-469f-a165-70867728950e", ref) < 0,
       "a UUID without its dashes is refused");
}

int main(void)
{
    test_transfer();
    test_other_kinds();
    test_refs();
    return done_testing();
}
