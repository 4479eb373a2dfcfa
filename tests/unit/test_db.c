/*
 * test_db.c — unit tests for the pure parts of fcgi/store/db.c: SQLSTATE
 * classification (what is retried, what is a 503, what is a 500) and the
 * backoff before a retry: exponential cap, full jitter, bounds.
 */
#include "tap.h"

#include "store/db.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static void test_classify(void)
{
    is_int(db_classify("40001"), DB_RETRYABLE, "40001 serialization_failure → retry");
    is_int(db_classify("40P01"), DB_RETRYABLE, "40P01 deadlock_detected → retry");
    is_int(db_classify("08006"), DB_UNAVAILABLE, "08006 connection_failure → unavailable");
    is_int(db_classify("08001"), DB_UNAVAILABLE, "08001 unable to connect → unavailable");
    is_int(db_classify("08P01"), DB_UNAVAILABLE,
           "08P01 protocol violation (class 08) → unavailable");
    is_int(db_classify("57P01"), DB_UNAVAILABLE, "57P01 admin_shutdown → unavailable");
    is_int(db_classify("57P02"), DB_UNAVAILABLE, "57P02 crash_shutdown → unavailable");
    is_int(db_classify("57P03"), DB_UNAVAILABLE, "57P03 cannot_connect_now → unavailable");
    is_int(db_classify("53300"), DB_UNAVAILABLE, "53300 too_many_connections → unavailable");
    is_int(db_classify(NULL), DB_UNAVAILABLE, "no SQLSTATE (NULL: connection gone) → unavailable");
    is_int(db_classify(""), DB_UNAVAILABLE, "empty SQLSTATE → unavailable");

    is_int(db_classify("23505"), DB_FAILED, "23505 unique_violation → failed, never retried");
    is_int(db_classify("23514"), DB_FAILED, "23514 check_violation → failed");
    is_int(db_classify("42601"), DB_FAILED, "42601 syntax_error → failed");
    is_int(db_classify("40000"), DB_FAILED, "40000 transaction_rollback (generic) → failed");
    is_int(db_classify("40002"), DB_FAILED, "40002 integrity constraint violation → failed");
    is_int(db_classify("40003"), DB_FAILED, "40003 statement completion unknown → not retried");
    is_int(db_classify("57014"), DB_UNAVAILABLE, "57014 statement_timeout → unavailable (503)");
    is_int(db_classify("53200"), DB_FAILED, "53200 out_of_memory → failed");
    is_int(db_classify("P0001"), DB_FAILED, "P0001 raise_exception → failed");
    is_int(db_classify("4000"), DB_FAILED, "a 4-character prefix of 40001 → failed");
    is_int(db_classify("400011"), DB_FAILED, "40001 with a trailing byte → failed");
}

/* min(max, base * 2^(n-1)) computed independently, in 64 bits. */
static long long cap_of(int n, int base, int max)
{
    long long c = base;

    for (int i = 1; i < n && c < max; i++)
        c *= 2;
    return c < max ? c : max;
}

static void test_backoff(void)
{
    static const unsigned int rnds[] = {
        0, 1, 2, 3, 7, 100, 12345, 65535, 2147483647u, 2147483648u, 4294967294u, UINT_MAX,
    };
    static const int bases[] = { 0, 1, 2, 5, 50, 1000 };
    static const int maxes[] = { 0, 1, 10, 100, 10000 };
    int bad = 0, cap_hit = 0;

    /* Always within [0, min(max, base·2^(n-1))], for every combination. */
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
        for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
            for (int n = 1; n <= 64; n++)
                for (size_t k = 0; k < sizeof(rnds) / sizeof(rnds[0]); k++) {
                    long long c = cap_of(n, bases[b], maxes[m]);
                    int v = db_backoff_ms(n, bases[b], maxes[m], rnds[k]);
                    if (v < 0 || v > c) {
                        if (bad++ < 5)
                            printf("#   n=%d base=%d max=%d rnd=%u → %d, cap %lld\n", n, bases[b],
                                   maxes[m], rnds[k], v, c);
                    }
                    if ((unsigned int)c == rnds[k] && v == c)
                        cap_hit++;
                }
    is_int(bad, 0, "backoff always within [0, min(max, base*2^(n-1))]");
    ok(cap_hit > 0, "the cap itself is reachable");

    /* Exact values on the default settings (base 1 ms, max 100 ms):
     * rnd = cap gives the cap, so the cap sequence is visible. */
    is_int(db_backoff_ms(1, 1, 100, 1), 1, "n=1: cap 1");
    is_int(db_backoff_ms(2, 1, 100, 2), 2, "n=2: cap 2");
    is_int(db_backoff_ms(3, 1, 100, 4), 4, "n=3: cap 4");
    is_int(db_backoff_ms(7, 1, 100, 64), 64, "n=7: cap 64");
    is_int(db_backoff_ms(8, 1, 100, 100), 100, "n=8: capped at max 100 (not 128)");
    is_int(db_backoff_ms(8, 1, 100, 101), 0, "n=8: rnd 101 wraps to 0 (cap+1 values)");
    is_int(db_backoff_ms(1000, 1, 100, 100), 100, "n=1000: still 100, no overflow");
    is_int(db_backoff_ms(INT_MAX, 1000, 10000, 10000), 10000, "n=INT_MAX: capped, no overflow");
    is_int(db_backoff_ms(40, 1000, INT_MAX, UINT_MAX), (int)(UINT_MAX % ((unsigned)INT_MAX + 1u)),
           "max INT_MAX: cap+1 computed without overflow");
    is_int(db_backoff_ms(5, 0, 100, 12345), 0, "base 0 → no wait");
    is_int(db_backoff_ms(5, 10, 0, 12345), 0, "max 0 → no wait");
    is_int(db_backoff_ms(1, 50, 10, 10), 10, "base above max: capped at max");

    /* Grows: the largest value over all rnd doubles until the cap. */
    {
        int prev = -1, grows = 1;
        for (int n = 1; n <= 12; n++) {
            int hi = 0;
            for (unsigned int rnd = 0; rnd <= 200; rnd++) {
                int v = db_backoff_ms(n, 1, 100, rnd);
                if (v > hi)
                    hi = v;
            }
            if (n <= 7 && hi != (1 << (n - 1)))
                grows = 0;
            if (n > 7 && hi != 100)
                grows = 0;
            if (hi < prev)
                grows = 0;
            prev = hi;
        }
        ok(grows, "max over rnd: 1, 2, 4, …, 64, then 100 for ever");
    }

    /* Full jitter: rnd sweeps cover every value in [0, cap]. */
    {
        int seen[101], all = 1;
        memset(seen, 0, sizeof(seen));
        for (unsigned int rnd = 0; rnd < 5000; rnd++) {
            int v = db_backoff_ms(9, 1, 100, rnd * 2654435761u);
            if (v >= 0 && v <= 100)
                seen[v] = 1;
        }
        for (int i = 0; i <= 100; i++)
            all &= seen[i];
        ok(all, "scrambled rnd values cover all of 0..100 ms (full jitter, not equal jitter)");
        ok(seen[0], "zero wait is possible");
    }
    {
        int seen[9] = { 0 }, all = 1;
        for (unsigned int rnd = 0; rnd < 9; rnd++)
            seen[db_backoff_ms(4, 1, 100, rnd)] = 1;
        for (int i = 0; i <= 8; i++)
            all &= seen[i];
        ok(all, "n=4 (cap 8): rnd 0..8 give each of 0..8 exactly");
    }
}

int main(void)
{
    test_classify();
    test_backoff();
    return done_testing();
}
