/*
 * cli_audit.c — `zerosum audit -c CONFIG`: run one full re-verification
 * pass in the foreground (domain/fullpass.h), queued as asked by "cli",
 * waiting for a pass another process runs to finish first. Prints the
 * verdict as one JSON line; exit 0 passed, 1 failed or not run, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "domain/fullpass.h"
#include "log.h"

int cli_audit(int argc, char **argv)
{
    struct zs_config cfg;
    struct fullpass_verdict v;
    char err[512], id[UUID_STR_LEN + 1];
    char *json;
    int rc;

    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: zerosum audit -c CONFIG\n");
        return 2;
    }
    config_defaults(&cfg);
    if (config_load(&cfg, argv[2], err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum audit: %s\n", err);
        return 1;
    }
    log_set_role("audit");
    if (fullpass_queue(&cfg, "cli", id) < 0) {
        fprintf(stderr, "zerosum audit: could not queue a pass (see the log)\n");
        return 1;
    }
    rc = fullpass_run(&cfg, id, 1, &v);
    if (rc < 0) {
        fprintf(stderr, "zerosum audit: the pass did not run: %s\n", v.detail);
        return 1;
    }
    json = fullpass_verdict_json(&v);
    printf("%s\n", json ? json : "{}");
    free(json);
    return rc == 0 ? 0 : 1;
}
