/*
 * sigv4.h — AWS Signature Version 4 query presigning, and the database
 * authentication tokens built on it: Aurora DSQL (`DbConnect` /
 * `DbConnectAdmin`, service `dsql`) and RDS IAM (`connect`, service `rds-db`).
 *
 * A token is a presigned GET URL without its scheme; PostgreSQL receives it as
 * the connection password. Nothing here talks to the network: signing is pure
 * computation over the credentials, the host, the region and a clock value, so
 * every function is deterministic for a given `at`.
 *
 * Credentials come from the environment or the shared credentials file
 * (aws_credentials_load). Secrets never appear in error messages, and
 * aws_credentials_clear() wipes them from memory.
 */
#ifndef ZS_SIGV4_H
#define ZS_SIGV4_H

#include <stddef.h>
#include <time.h>

/* Longest lifetime SigV4 allows for a presigned request: 7 days, in seconds. */
#define SIGV4_MAX_EXPIRES 604800

/* Default token lifetime used by the callers (the DSQL and RDS SDKs agree). */
#define SIGV4_DEFAULT_EXPIRES 900

struct aws_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char *session_token; /* malloc'd or NULL */
};

/*
 * Load credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN. If the first two are both unset (or empty), read the
 * shared credentials file instead: AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials, profile AWS_PROFILE or "default", keys
 * aws_access_key_id, aws_secret_access_key, aws_session_token. The file is INI
 * with one [name] section per profile; blank lines, surrounding whitespace,
 * full-line comments (# or ;) and comments after whitespace are tolerated.
 *
 * Returns 0 with *out filled (the caller must aws_credentials_clear() it), or
 * -1 with a message in err (never containing a secret) and *out left cleared
 * (nothing to free). err may be NULL when errlen is 0.
 */
int aws_credentials_load(struct aws_credentials *out, char *err, size_t errlen);

/*
 * Wipe both keys and the session token with OPENSSL_cleanse, free the session
 * token and set it to NULL. Safe on a zeroed struct and safe to call twice.
 */
void aws_credentials_clear(struct aws_credentials *c);

/*
 * How many SigV4 signing keys this process has derived (tests: a signing
 * key is derived once per secret, day, region and service, then reused).
 */
unsigned long sigv4_keys_derived(void);

/*
 * Aurora DSQL authentication token:
 * "HOST/?Action=DbConnect&X-Amz-Algorithm=...&...&X-Amz-Signature=..." (no
 * scheme); Action=DbConnectAdmin when admin is non-zero. Service `dsql`, the
 * signed host header is HOST (a host name: letters, digits, '.', '-'). expires is in seconds (1..SIGV4_MAX_EXPIRES; callers
 * default to SIGV4_DEFAULT_EXPIRES); at is the signing time.
 * Returns a malloc'd string the caller frees, or NULL on invalid input or
 * allocation failure.
 */
char *sigv4_dsql_token(const struct aws_credentials *c, const char *host, const char *region,
                       int admin, int expires, time_t at);

/*
 * RDS IAM authentication token:
 * "HOST:PORT/?Action=connect&DBUser=USER&X-Amz-...". Service `rds-db`; the
 * signed host header is "HOST:PORT" (as the AWS SDKs sign it). host must not
 * itself contain ':', port must be 1..65535, user non-empty. Returns a
 * malloc'd string or NULL, as above.
 */
char *sigv4_rds_token(const struct aws_credentials *c, const char *host, int port,
                      const char *region, const char *user, int expires, time_t at);

/*
 * General SigV4 query presigner, used by both tokens and by the test vectors.
 * Signs "GET /" for the given host (the only signed header), service and
 * region at time at, with the SHA-256 of an empty payload. params holds
 * nparams name/value pairs (2 * nparams strings, unencoded; nparams may be 0
 * and params then NULL). The X-Amz-Algorithm, -Credential, -Date, -Expires,
 * -SignedHeaders and, when c->session_token is set, -Security-Token
 * parameters are added and signed. Every name and value is RFC 3986 encoded
 * (A-Za-z0-9-_.~ kept, every other byte %XX uppercase) and the parameters are
 * sorted by encoded name, then encoded value.
 *
 * Returns a malloc'd query string without host or '?', ending in
 * "&X-Amz-Signature=<64 hex>", or NULL if an argument is invalid (empty or
 * malformed host, region or service; expires outside 1..SIGV4_MAX_EXPIRES;
 * at outside the years 1000..9999) or allocation fails.
 */
char *sigv4_presign_query(const struct aws_credentials *c, const char *host, const char *service,
                          const char *region, const char *const *params, size_t nparams,
                          int expires, time_t at);

/*
 * CLI: `zerosum dsql-token --endpoint HOST --region REGION [--admin]
 * [--expires SECONDS] [--at ISO8601]`. argv[0] is the subcommand name.
 * Credentials come from aws_credentials_load(). Prints the token and a
 * newline to stdout; errors go to stderr. Returns the process exit status:
 * 0 ok, 2 usage error, 1 failure. Secrets are never printed.
 */
int cli_dsql_token(int argc, char **argv);

/*
 * CLI: `zerosum rds-token --endpoint HOST --port N --region R --user U
 * [--expires S] [--at ISO8601]`. Same conventions as cli_dsql_token().
 */
int cli_rds_token(int argc, char **argv);

#endif
