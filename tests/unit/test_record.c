/*
 * test_record.c — the canonical record encoding v1 (domain/record.c)
 * against vectors computed independently with Python's hashlib from
 * docs/PROOF-FORMAT.md:
 *
 *   H = lambda s: hashlib.sha256(s).hexdigest()
 *   R = lambda k, u: H(f"zerosum/v1 {k} {u.lower()}".encode())
 *   A = lambda u: R("account", u)
 *   P = lambda c, k, m: H(f"zerosum/v1 private\n{c}\n{k}\n{m}".encode())
 *   leaf = lambda rec: hashlib.sha256(b"\0" + rec.encode()).hexdigest()
 *
 * with T = 11111111-1111-4111-8111-111111111111 (a transfer), ISSUER =
 * 00000000-0000-0000-0000-000000000001, TO = 22222222-2222-4222-8222-222222222222,
 * entries E1 = 33333333-…-333333333333 (ISSUER, -500) and E2 = 44444444-…
 * (TO, 500), lot L = 55555555-…, bid B = 66666666-…, credit limit
 * C = 77777777-7777-4777-8777-777777777777 (of TO, 250); the records are
 * written line by line as the format says and hashed with leaf().
 */
#include "tap.h"

#include <stdlib.h>

#include "merkle.h"
#include "domain/record.h"

#define T "11111111-1111-4111-8111-111111111111"
#define ISSUER "00000000-0000-0000-0000-000000000001"
#define TO "22222222-2222-4222-8222-222222222222"
#define E1 "33333333-3333-4333-8333-333333333333"
#define E2 "44444444-4444-4444-8444-444444444444"
#define LOT "55555555-5555-4555-8555-555555555555"
#define BID "66666666-6666-4666-8666-666666666666"

static void hex_of(const unsigned char *b, char out[65])
{
    record_hex(b, 32, out);
}

static void test_pseudonyms(void)
{
    char h[65];

    ok(record_ref("transfer", T, h) == 0, "R(transfer, T) computes");
    /* R("transfer", T) */
    is_str(h, "e6597d09b0c153a653d4d7e9a4e55c7480f6159beb1360053c3507a9c49f1902", "R(transfer, T)");
    ok(record_ref("transfer", "11111111-1111-4111-8111-11111111111F", h) == 0
           && strcmp(h, "e6597d09b0c153a653d4d7e9a4e55c7480f6159beb1360053c3507a9c49f1902") != 0,
       "a different uuid gives a different ref");
    ok(record_ref("transfer", "11111111-1111-4111-8111-111111111111", h) == 0, "again");
    /* A(ISSUER) */
    ok(record_account(ISSUER, h) == 0, "A(issuer) computes");
    is_str(h, "a5a7bfcf7bc3acf087e8c29dab813237eada09ea1c9b671f066ccd33ea1ec9ac", "A(issuer)");
    ok(record_account("00000000-0000-0000-0000-00000000000A", h) == 0
           && record_account("00000000-0000-0000-0000-00000000000a", h) == 0,
       "upper and lower case uuids both parse");
    ok(record_ref("transfer", "not-a-uuid", h) == -1, "a bad uuid is refused");
    /* P("alice", "alice:k1", "rent") */
    record_private("alice", "alice:k1", "rent", h);
    is_str(h, "9a731a2476e312c7876e9205ffdcee97882d9cf3e03b0a415552052af9d0b9be",
           "P(caller,key,memo)");
}

static void test_transfer(void)
{
    const char *v[RT_NCOLS] = {
        [RT_ID] = T,           [RT_KIND] = "issue",        [RT_FROM] = ISSUER,
        [RT_TO] = TO,          [RT_AMOUNT] = "500",        [RT_AT] = "1700000000123456",
        [RT_CALLER] = "alice", [RT_IDEM_KEY] = "alice:k1", [RT_MEMO] = "rent"
    };
    struct record_entry e[2] = { { E2, TO, "500" }, { E1, ISSUER, "-500" } };
    struct record_entry e_rev[2] = { { E1, ISSUER, "-500" }, { E2, TO, "500" } };
    struct record r, r2;
    char h[65];

    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == 0, "transfer encodes");
    is_str(r.text,
           "zerosum/v1 transfer\n"
           "ref e6597d09b0c153a653d4d7e9a4e55c7480f6159beb1360053c3507a9c49f1902\n"
           "kind issue\n"
           "from a5a7bfcf7bc3acf087e8c29dab813237eada09ea1c9b671f066ccd33ea1ec9ac\n"
           "to 2d2ae742570ae60df5d4f9423f5fe0ea46e24f18b5a890d73c2eb64cda4687f1\n"
           "amount 500\n"
           "at 1700000000123456\n"
           "private 9a731a2476e312c7876e9205ffdcee97882d9cf3e03b0a415552052af9d0b9be\n"
           "entry fa0751636d97df834d26cdb93d97c5f093a0093a22ee87df1f00f06521bf6d6a "
           "a5a7bfcf7bc3acf087e8c29dab813237eada09ea1c9b671f066ccd33ea1ec9ac -500\n"
           "entry fa8a7f22de9634af04c1431928d9468421c669fa383c3861100f26217c236251 "
           "2d2ae742570ae60df5d4f9423f5fe0ea46e24f18b5a890d73c2eb64cda4687f1 500\n",
           "transfer text, entries sorted by entry ref");
    is_int(r.len, strlen(r.text), "len is the text length");
    hex_of(r.leaf, h);
    is_str(h, "a9b3e9e69ccded592b7a8ddb6bd47ff082d836a1e6515090132564b0266e6821", "transfer leaf");
    ok(record_encode(RECORD_TRANSFER, v, e_rev, 2, &r2) == 0 && strcmp(r.text, r2.text) == 0,
       "entry order does not matter");
    record_free(&r);
    record_free(&r2);

    v[RT_AMOUNT] = "0500";
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1 && r.text == NULL, "leading zero refused");
    v[RT_AMOUNT] = "+5";
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1, "'+' refused");
    v[RT_AMOUNT] = "-0";
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1, "-0 refused");
    v[RT_AMOUNT] = NULL;
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1, "a required integer may not be absent");
    v[RT_AMOUNT] = "500";
    v[RT_KIND] = "Issue";
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1, "a word with upper case refused");
    v[RT_KIND] = "issue\nkind x";
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1, "a value cannot inject a line");
    v[RT_KIND] = "issue";
    e[0].amount = "5 00";
    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == -1, "a bad entry amount refused");
}

static void test_bid_lot(void)
{
    const char *b[RB_NCOLS] = {
        [RB_ID] = BID,       [RB_LOT] = LOT,      [RB_BIDDER] = TO,
        [RB_AMOUNT] = "700", [RB_QUANTITY] = "1", [RB_SEQ] = "3",
        [RB_STATUS] = "won", [RB_AT] = "-5",      [RB_IDEM_KEY] = "bob:b1"
    };
    const char *l[RL_NCOLS] = { [RL_ID] = LOT,          [RL_KIND] = "drop",
                                [RL_SELLER] = TO,       [RL_STATUS] = "sold_out",
                                [RL_PRICE] = "100",     [RL_QTY_TOTAL] = "5",
                                [RL_QTY_CLAIMED] = "5", [RL_SEQ] = "2",
                                [RL_STARTS_AT] = "0",   [RL_SETTLED_AT] = "1700000000000000" };
    struct record r;
    char h[65];

    /* leaf of "zerosum/v1 bid\nref R(bid,B)\nlot R(lot,L)\nbidder A(TO)\namount 700\n
     * quantity 1\nseq 3\nstatus won\ntransfer -\nat -5\nprivate P('', 'bob:b1', '')\n" */
    ok(record_encode(RECORD_BID, b, NULL, 0, &r) == 0, "bid encodes");
    hex_of(r.leaf, h);
    is_str(h, "d3fe27a2fe43584d211662520da2c5f4f738ad670895f67cdad6881c96d300a2", "bid leaf");
    ok(strstr(r.text, "\ntransfer -\n") != NULL, "an absent transfer is '-'");
    record_free(&r);
    /* a proxy bid's hidden maximum: only inside private, as P("", key, max) */
    {
        const char *pb[RB_NCOLS];
        char p[65], line[80];

        memcpy(pb, b, sizeof(pb));
        pb[RB_MAX_AMOUNT] = "900";
        record_private("", "bob:b1", "900", p);
        snprintf(line, sizeof(line), "\nprivate %s\n", p);
        ok(record_encode(RECORD_BID, pb, NULL, 0, &r) == 0, "proxy bid encodes");
        ok(strstr(r.text, line) != NULL, "its private line commits to the maximum");
        ok(strstr(r.text, "900") == NULL, "the maximum is nowhere in clear");
        hex_of(r.leaf, h);
        ok(strcmp(h, "d3fe27a2fe43584d211662520da2c5f4f738ad670895f67cdad6881c96d300a2") != 0,
           "and changes the leaf");
        record_free(&r);
    }
    /* every optional lot field absent but price and settled_at */
    ok(record_encode(RECORD_LOT, l, NULL, 0, &r) == 0, "lot encodes");
    hex_of(r.leaf, h);
    is_str(h, "74ea42f878dc7cd5ae0591be62c91fdced7a2a37b672b20ae35784456c8a0cf2", "lot leaf");
    record_free(&r);
    ok(record_encode(RECORD_LOT, l, (const struct record_entry *)l, 1, &r) == -1,
       "entries only belong to transfers");
    is_int(record_ncols(RECORD_FILL), 12, "a fill row has 12 columns");
    is_str(record_kind_name(RECORD_PENDING), "pending", "kind name");
}

static void test_limit(void)
{
    const char *v[RC_NCOLS] = { "77777777-7777-4777-8777-777777777777", TO, "250",
                                "1700000000000000" };
    struct record r;
    char h[65];

    ok(record_encode(RECORD_LIMIT, v, NULL, 0, &r) == 0, "credit limit encodes");
    /* R("limit", C), A(TO), each line as docs/PROOF-FORMAT.md writes it */
    is_str(r.text,
           "zerosum/v1 limit\n"
           "ref 3a53382eef3e40e1ac5b611a566e8c57709c9ccaea8cee8827bba27ec647b9b8\n"
           "account 2d2ae742570ae60df5d4f9423f5fe0ea46e24f18b5a890d73c2eb64cda4687f1\n"
           "credit_limit 250\nat 1700000000000000\n",
           "limit record text");
    hex_of(r.leaf, h);
    is_str(h, "a56ec7ee90c2267ae8a72ece47dcd72ebfd22f6ea43aa170524072a2c968dd96", "limit leaf");
    record_free(&r);
    v[RC_LIMIT] = NULL;
    ok(record_encode(RECORD_LIMIT, v, NULL, 0, &r) == -1, "a limit record needs its limit");
    v[RC_LIMIT] = "0250";
    ok(record_encode(RECORD_LIMIT, v, NULL, 0, &r) == -1, "…in canonical decimal");
    is_int(record_ncols(RECORD_LIMIT), 4, "a limit row has 4 columns");
    is_str(record_kind_name(RECORD_LIMIT), "limit", "limit kind name");
}

static void test_state_chain_node(void)
{
    struct record_agg acc[2] = { { TO, 500, 1, 0 }, { ISSUER, -500, 1, 0 } };
    struct record_agg lots[1] = { { LOT, 5, 0, 2 } };
    struct record_agg mk[1] = { { T, 3, 10, 4 } };
    unsigned char out[32], root[32], state[32], prev[32] = { 0 }, l[32], r[32];
    char h[65];

    /* H("zerosum/v1 state\nsize 7\n" + account lines sorted by A(id) +
     *   "lot R(lot,L) 5 0 2\nmarket R(market,T) 3 10 4\n") */
    ok(record_state_hash(7, acc, 2, lots, 1, mk, 1, out) == 0, "state hash computes");
    hex_of(out, h);
    is_str(h, "a21ef83f85e7064d2f74826378633ccf6eb631898e15c631f6a0309b4d47082d", "state hash");
    for (int i = 0; i < 32; i++) {
        root[i] = (unsigned char)i;
        state[i] = (unsigned char)(32 + i);
        l[i] = 0xaa;
        r[i] = 0xbb;
    }
    /* H("zerosum/v1 seal\nno 1\nsize 7\nroot 0001..1f\nstate 2021..3f\nprev 00..00\n") */
    record_seal_hash(1, 7, root, state, prev, out);
    hex_of(out, h);
    is_str(h, "a419c3c3616011aa306492c30eeaf5d7139ff918b36fcae85567c0511972080d", "seal hash");
    /* sha256(b"\1" + b"\xaa"*32 + b"\xbb"*32) */
    merkle_node_hash(l, r, out);
    hex_of(out, h);
    is_str(h, "2f65cc0c7abfdb0c535cb7f942d65ae1fb04c9a3ad3ea5a62057aa8ac934a93a", "node hash");
}

int main(void)
{
    test_pseudonyms();
    test_transfer();
    test_bid_lot();
    test_limit();
    test_state_chain_node();
    return done_testing();
}
