/*
 * cli_seal.c — `zerosum seal -c CONFIG`: run the sealer in the foreground,
 * on its own connection, until nothing sealable is left (or a check blocks
 * it), and print one JSON line:
 *   {"seals": N, "checked": N, "records": N, "seal_no": N, "tree_size": N,
 *    "checkpoint_us": N, "sign_us": N, "round_us": [N, N, N, N]}
 * (the last seal's time producing its checkpoint, and signing it: 0 when
 * none was made; "checked": the seals that ran every check, the others
 * sealed transfers a checked one verified; the time in each of the four round trips of a seal,
 * summed over the seals) with "blocked": "<check>" added when a failing check
 * stopped it. Exit
 * status 0 when it ran (sealing or not), 1 on a database error or when the
 * lease stayed taken for 30 s, 2 on a usage error.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "domain/seal.h"
#include "log.h"

/* Wait 50 ms more of the 30 s budget: 0, or -1 once it is spent. */
static int wait_more(int *waited_ms)
{
    struct timespec nap = { 0, 50 * 1000000L };

    if (*waited_ms >= 30000)
        return -1;
    nanosleep(&nap, NULL);
    *waited_ms += 50;
    return 0;
}

int cli_seal(int argc, char **argv)
{
    struct zs_config cfg;
    struct seal_totals t, sum;
    struct db_session s;
    char err[512], owner[64];
    int waited_ms = 0;

    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: zerosum seal -c CONFIG\n");
        return 2;
    }
    config_defaults(&cfg);
    if (config_load(&cfg, argv[2], err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum seal: %s\n", err);
        return 1;
    }
    log_set_role("seal");
    snprintf(owner, sizeof(owner), "cli-%ld", (long)getpid());
    /* The lease row's insert conflicts with a sealer renewing it (an OCC
     * abort on dsql): that is a busy lease, retried within the same 30 s. */
    for (;;) {
        db_session_init(&s, &cfg, "sealer", EP_OTHER);
        if (seal_lease_ensure(&s) == 0)
            break;
        if (wait_more(&waited_ms) < 0) {
            fprintf(stderr,
                    "zerosum seal: could not set up the sealer's lease in 30 s (the "
                    "database is unreachable or the lease busy: see the log)\n");
            return 1;
        }
    }
    memset(&sum, 0, sizeof(sum));
    for (;;) {
        seal_run(&cfg, owner, 0, &t);
        sum.seals += t.seals;
        sum.checked += t.checked;
        sum.records += t.records;
        for (int k = 0; k < 4; k++)
            sum.round_us[k] += t.round_us[k];
        if (t.last != SEAL_NO_LEASE)
            break;
        if (wait_more(&waited_ms) < 0) {
            fprintf(stderr, "zerosum seal: the sealer's lease stayed taken for 30 s\n");
            return 1;
        }
    }
    seal_release(&cfg, owner);
    if (t.last == SEAL_ERROR) {
        fprintf(stderr, "zerosum seal: sealing failed (see the log)\n");
        return 1;
    }
    printf("{\"seals\": %d, \"checked\": %d, \"records\": %" PRId64 ", \"seal_no\": %" PRId64
           ", \"tree_size\": %" PRId64 ", \"checkpoint_us\": %ld, \"sign_us\": %ld"
           ", \"round_us\": [%ld, %ld, %ld, %ld]%s%s%s}\n",
           sum.seals, sum.checked, sum.records, t.seal_no, t.tree_size,
           sum.seals ? t.checkpoint_us : 0L, sum.seals ? t.sign_us : 0L, sum.round_us[0],
           sum.round_us[1], sum.round_us[2], sum.round_us[3],
           t.last == SEAL_BLOCKED ? ", \"blocked\": \"" : "",
           t.last == SEAL_BLOCKED ? t.blocked : "", t.last == SEAL_BLOCKED ? "\"" : "");
    return 0;
}
