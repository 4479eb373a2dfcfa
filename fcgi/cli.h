/*
 * cli.h — admin subcommands of the zerosum binary that are not the daemon.
 */
#ifndef ZS_CLI_H
#define ZS_CLI_H

/* `zerosum sql [NAME [--dialect D]]` (argv[0] is "sql"); exit status. */
int cli_sql(int argc, char **argv);

/* `zerosum audit -c CONFIG`: one full pass in the foreground; exit 0 passed, 1 failed. */
int cli_audit(int argc, char **argv);

/* `zerosum seal -c CONFIG` (argv[0] is "seal"): seal until nothing is left; exit status. */
int cli_seal(int argc, char **argv);

/* `zerosum expire-pending -c CONFIG`: expire every due pending transfer now; exit status. */
int cli_expire_pending(int argc, char **argv);
/* `zerosum webhook-replay -c CONFIG ID FROM`: endpoint ID delivers again every event
 * after position FROM; exit 0, 1 no such endpoint or a database error, 2 usage. */
int cli_webhook_replay(int argc, char **argv);

#endif
