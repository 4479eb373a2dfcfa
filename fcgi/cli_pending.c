/*
 * cli_pending.c — `zerosum expire-pending -c CONFIG`: run the jobs child's
 * pending-transfer expiry once in the foreground (pending_expire_due(), on
 * its own connection: the same transactions the jobs child runs every tick)
 * until no due pending transfer is left, and print one JSON line
 *   {"expired": N}
 * Exit status 0 when it ran, 1 on a database error, 2 on a usage error.
 * Operators use it to release expired holds at once; the race tests use it
 * as a real concurrent expirer.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "domain/pending.h"
#include "log.h"

#define EXPIRE_BATCH 32

int cli_expire_pending(int argc, char **argv)
{
    struct zs_config cfg;
    struct db_session s;
    char err[512];
    long total = 0;
    int n;

    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: zerosum expire-pending -c CONFIG\n");
        return 2;
    }
    config_defaults(&cfg);
    if (config_load(&cfg, argv[2], err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum expire-pending: %s\n", err);
        return 1;
    }
    log_set_role("expire-pending");
    do {
        db_session_init(&s, &cfg, "cli-pending", EP_TRANSFERS);
        n = pending_expire_due(&s, EXPIRE_BATCH);
        if (n < 0) {
            fprintf(stderr, "zerosum expire-pending: the database is unavailable\n");
            return 1;
        }
        total += n;
    } while (n == EXPIRE_BATCH);
    printf("{\"expired\": %ld}\n", total);
    return 0;
}
