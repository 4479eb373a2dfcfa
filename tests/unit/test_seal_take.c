/*
 * test_seal_take.c — which closed lots one seal takes (domain/seal_take.c):
 * a lot whose bids do not fit the row budget must not keep the lots after
 * it out of every seal. Candidate results are built without a server.
 */
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "domain/seal_batch.h"
#include "pgresult.h"

#define LOT_A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define LOT_B "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define SELLER "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
#define BIDDER "dddddddd-dddd-4ddd-8ddd-dddddddddddd"

/* An unsold English lot with no sale: the columns of seal_candidate_lots. */
static void lot_row(const char **v, const char *id, const char *seq)
{
    const char *row[RL_NCOLS] = {
        [RL_ID] = id,
        [RL_KIND] = "english",
        [RL_SELLER] = SELLER,
        [RL_STATUS] = "unsold",
        [RL_START_PRICE] = "10",
        [RL_INCREMENT] = "1",
        [RL_QTY_TOTAL] = "1",
        [RL_QTY_CLAIMED] = "0",
        [RL_SEQ] = seq,
        [RL_STARTS_AT] = "1000",
        [RL_ENDS_AT] = "2000",
        [RL_SETTLED_AT] = "2000",
    };
    memcpy(v, row, sizeof(row));
}

static void test_big_lot_does_not_block(void)
{
    enum { NBIDS = 10 };
    const char *lv[2 * RL_NCOLS], *bv[NBIDS * RB_NCOLS];
    char ids[NBIDS][48], amt[NBIDS][16], seq[NBIDS][16];
    struct seal_batch b;
    PGresult *lots, *bids;

    lot_row(lv, LOT_A, "10");
    lot_row(lv + RL_NCOLS, LOT_B, "0");
    memset(bv, 0, sizeof(bv));
    for (int i = 0; i < NBIDS; i++) {
        const char **r = bv + i * RB_NCOLS;
        snprintf(ids[i], sizeof(ids[i]), "eeeeeeee-eeee-4eee-8eee-%012d", i);
        snprintf(amt[i], sizeof(amt[i]), "%d", 10 + i);
        snprintf(seq[i], sizeof(seq[i]), "%d", i + 1);
        r[RB_ID] = ids[i];
        r[RB_LOT] = LOT_A;
        r[RB_BIDDER] = BIDDER;
        r[RB_AMOUNT] = amt[i];
        r[RB_QUANTITY] = "1";
        r[RB_SEQ] = seq[i];
        r[RB_STATUS] = "lost";
        r[RB_AT] = "1500";
    }
    lots = table(RL_NCOLS, 2, lv);
    bids = table(RB_NCOLS, NBIDS, bv);
    /* lot A with its 10 bids costs 31 rows at positions 0..10; lot B alone costs 3 */
    ok(seal_batch_init(&b, 20, 0) == 0, "batch init");
    is_int(seal_take_lots(&b, lots, bids), 0, "the lots are taken without error");
    is_int(b.counts[RECORD_LOT], 1, "the lot after one that cannot fit is still sealed");
    is_int(b.counts[RECORD_BID], 0, "no bid of the lot that does not fit is taken");
    ok(b.n == 1 && strcmp(b.items[0].id, LOT_B) == 0, "the lot taken is the one that fits");
    ok(b.full, "the batch says more is left");
    seal_batch_free(&b);
    ok(seal_batch_init(&b, 40, 0) == 0, "batch init (room for both)");
    is_int(seal_take_lots(&b, lots, bids), 0, "the lots are taken without error");
    is_int(b.counts[RECORD_LOT], 2, "both lots fit");
    is_int(b.counts[RECORD_BID], NBIDS, "with every bid of the first");
    ok(b.n == NBIDS + 2 && b.items[NBIDS].kind == RECORD_LOT
           && strcmp(b.items[NBIDS].id, LOT_A) == 0,
       "bids first, then the lots in their order");
    seal_batch_free(&b);
    PQclear(lots);
    PQclear(bids);
}

int main(void)
{
    test_big_lot_does_not_block();
    return done_testing();
}
