/*
 * test_seal_verify.c — the transfers a checked seal verified (domain/seal_verify.c,
 * the prints of domain/seal_take.c): a later seal without checks may take
 * only the oldest candidates that are in the set and read exactly as they
 * did, the columns the record leaves out included. Candidate results are
 * built without a server.
 */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/seal.h"
#include "domain/seal_batch.h"
#include "pgresult.h"

#define NT 4
#define ECOLS                                                                                      \
    8 /* seal_candidate_entries: transfer, id, account, amount, at, sealed, seq, balance */
#define ACC_A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define ACC_B "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"

/* Candidate transfers and entries; what the tests change between snapshots. */
struct snap {
    char tid[NT][40], eid[2 * NT][40], seq[2 * NT][16], bal[2 * NT][16];
    const char *tv[NT * RT_NCOLS], *ev[2 * NT * ECOLS];
    const char *amount_of_entry1; /* transfer 1's debit entry */
    PGresult *tr, *en;
};

static void build(struct snap *s, int first)
{
    memset(s->tv, 0, sizeof(s->tv));
    for (int i = 0; i < NT; i++) {
        const char **r = s->tv + i * RT_NCOLS;
        snprintf(s->tid[i], sizeof(s->tid[i]), "cccccccc-cccc-4ccc-8ccc-%012d", first + i);
        r[RT_ID] = s->tid[i];
        r[RT_KIND] = "transfer";
        r[RT_FROM] = ACC_A;
        r[RT_TO] = ACC_B;
        r[RT_AMOUNT] = "5";
        r[RT_AT] = "1000";
        r[RT_CALLER] = "alice";
        for (int k = 0; k < 2; k++) {
            int j = 2 * i + k;
            const char **e = s->ev + j * ECOLS;
            snprintf(s->eid[j], sizeof(s->eid[j]), "eeeeeeee-eeee-4eee-8eee-%012d", first * 2 + j);
            snprintf(s->seq[j], sizeof(s->seq[j]), "%d", i + 1);
            snprintf(s->bal[j], sizeof(s->bal[j]), "%d", (k ? 5 : -5) * (i + 1));
            e[0] = s->tid[i];
            e[1] = s->eid[j];
            e[2] = k ? ACC_B : ACC_A;
            e[3] = k ? "5" : (i == 1 && s->amount_of_entry1 ? s->amount_of_entry1 : "-5");
            e[4] = "1000";
            e[5] = NULL;
            e[6] = s->seq[j];
            e[7] = s->bal[j];
        }
    }
}

static void make(struct snap *s)
{
    s->tr = table(RT_NCOLS, NT, s->tv);
    s->en = table(ECOLS, 2 * NT, s->ev);
}

static void drop(struct snap *s)
{
    PQclear(s->tr);
    PQclear(s->en);
}

int main(void)
{
    struct seal_verified v;
    struct snap a, b;
    struct seal_batch batch;

    memset(&a, 0, sizeof(a));
    build(&a, 0);
    make(&a);
    seal_verified_init(&v);
    is_int(seal_verified_prefix(&v, a.tr, a.en), 0,
           "nothing verified: no transfer may be sealed unchecked");
    {
        PGresult *none_t = table(RT_NCOLS, 0, NULL), *none_e = table(ECOLS, 0, NULL);
        ok(seal_verified_fill(&v, none_t, none_e) == 0 && v.n == 0,
           "a checked seal with no candidates keeps nothing");
        PQclear(none_t);
        PQclear(none_e);
    }
    ok(seal_verified_fill(&v, a.tr, a.en) == 0, "a checked seal's candidates are kept");
    is_int((int)v.n, NT, "…all of them");
    is_int(seal_verified_prefix(&v, a.tr, a.en), NT,
           "unchanged: every one may be sealed unchecked");

    /* a running balance (not part of the record) changed on transfer 2 */
    b = a;
    build(&b, 0);
    snprintf(b.bal[5], sizeof(b.bal[5]), "999");
    make(&b);
    is_int(seal_verified_prefix(&v, b.tr, b.en), 2,
           "a changed running balance stops the unchecked seal before its transfer");
    drop(&b);

    /* an entry's amount changed on transfer 1 */
    memset(&b, 0, sizeof(b));
    b.amount_of_entry1 = "-6";
    build(&b, 0);
    make(&b);
    is_int(seal_verified_prefix(&v, b.tr, b.en), 1,
           "a changed entry amount stops it before its transfer");
    drop(&b);

    /* an older transfer the checked seal did not see comes first */
    memset(&b, 0, sizeof(b));
    build(&b, 1);
    snprintf(b.tid[0], sizeof(b.tid[0]), "dddddddd-dddd-4ddd-8ddd-000000000000");
    make(&b);
    is_int(seal_verified_prefix(&v, b.tr, b.en), 0,
           "an unverified oldest transfer: nothing unchecked");
    drop(&b);

    /* take only the verified prefix */
    ok(seal_batch_init(&batch, 3000, 0) == 0, "a batch");
    ok(seal_take_transfers(&batch, a.tr, a.en, 3) == 0, "seal_take_transfers with a row limit");
    is_int(batch.counts[RECORD_TRANSFER], 3, "…takes that many transfers");
    is_int(batch.entries, 6, "…with their entries");
    seal_batch_free(&batch);

    seal_verified_free(&v);
    drop(&a);
    return done_testing();
}
