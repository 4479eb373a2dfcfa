/*
 * cli_webhook.c — `zerosum webhook-replay -c CONFIG ID FROM`: move webhook
 * ID's cursor back to event position FROM (its retry state cleared), so the
 * deliverer sends every later event it subscribed to again, in order (at
 * least once: a receiver dedupes by the event id). scripts/zerosum webhook
 * replay wraps it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "store/db.h"
#include "util.h"

struct replay {
    const char *id, *from;
    int found;
};

static enum tx_decision replay_tx(struct tx *tx, void *arg)
{
    struct replay *r = arg;
    const char *p[2] = { r->id, r->from };
    PGresult *res = tx_exec_named(tx, SQL_WEBHOOK_REPLAY, p);

    if (!res)
        return TX_ERROR;
    r->found = PQntuples(res) == 1;
    PQclear(res);
    return r->found ? TX_COMMIT : TX_ROLLBACK;
}

int cli_webhook_replay(int argc, char **argv)
{
    struct zs_config cfg;
    struct db_session s;
    char err[512], id[UUID_STR_LEN + 1], *end;
    struct replay r = { id, NULL, 0 };
    enum tx_decision d;
    long long from;

    if (argc != 5 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: zerosum webhook-replay -c CONFIG WEBHOOK_ID FROM_EVENT\n");
        return 2;
    }
    from = strtoll(argv[4], &end, 10);
    if (!util_uuid_parse(argv[3], id) || *end || end == argv[4] || from < 1) {
        fprintf(stderr, "zerosum webhook-replay: a webhook id and an event position >= 1\n");
        return 2;
    }
    char after[24];
    snprintf(after, sizeof(after), "%lld", from - 1);
    r.from = after;
    config_defaults(&cfg);
    if (config_load(&cfg, argv[2], err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum webhook-replay: %s\n", err);
        return 1;
    }
    log_set_role("webhook-replay");
    db_session_init(&s, &cfg, "webhook-replay", EP_OTHER);
    if (tx_run(&s, 0, replay_tx, &r, &d) != TX_RESULT_DONE) {
        fprintf(stderr, "zerosum webhook-replay: the database failed\n");
        return 1;
    }
    if (!r.found) {
        fprintf(stderr, "zerosum webhook-replay: no such webhook\n");
        return 1;
    }
    printf("{\"webhook\": \"%s\", \"from\": %lld}\n", id, from);
    return 0;
}
