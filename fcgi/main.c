/*
 * main.c — the zerosum binary: `serve` runs the daemon; the other
 * subcommands are the pieces of the admin CLI that need C (minting tokens,
 * rotating their key ring, minting database credentials).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "config.h"
#include "jwt.h"
#include "api/routes.h"
#include "store/sigv4.h"
#include "supervisor.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: zerosum serve -c CONFIG\n"
            "       zerosum token ACCOUNT_ID [--admin] [--ttl SECONDS] [--at UNIX_TIME]\n"
            "                     [-c CONFIG] [--key-file PATH]   (at least one of the two)\n"
            "       zerosum key-rotate [--drop-previous] [-c CONFIG] [--key-file PATH]\n"
            "       zerosum sql [NAME [--dialect postgres|dsql]]\n"
            "       zerosum seal -c CONFIG\n"
            "       zerosum expire-pending -c CONFIG\n"
            "       zerosum dsql-token --endpoint HOST --region REGION [--admin] [--expires S] "
            "[--at ISO8601]\n"
            "       zerosum rds-token --endpoint HOST --port N --region R --user U [--expires S] "
            "[--at ISO8601]\n"
            "       zerosum audit -c CONFIG\n"
            "       zerosum routes\n");
    return 2;
}

/*
 * Settings for the token commands: defaults, then CONFIG if given (issuer,
 * audience, lifetime cap, key ring path), then --key-file over the path.
 * Returns 0, 2 (usage) or 1 (config unreadable, message printed).
 */
static int token_settings(struct zs_config *cfg, const char *conf, const char *keyfile)
{
    char err[512];

    config_defaults(cfg);
    if (conf) {
        if (config_load(cfg, conf, err, sizeof(err)) < 0) {
            fprintf(stderr, "zerosum: %s\n", err);
            return 1;
        }
    } else if (!keyfile) {
        return 2;
    }
    if (keyfile)
        snprintf(cfg->jwt_secret_file, sizeof(cfg->jwt_secret_file), "%s", keyfile);
    return 0;
}

/*
 * zerosum token SUB [--admin] [--ttl S] [--at T] [-c CONFIG] [--key-file PATH]:
 * print a token signed with the ring's current key, with iss and aud from
 * the settings, iat = nbf = T (default now) and exp = T + S (default 3600).
 */
static int cmd_token(int argc, char **argv)
{
    struct zs_config cfg;
    struct jwt_claims c;
    struct jwt_keyring ring;
    char err[256];
    const char *conf = NULL, *keyfile = NULL;
    long ttl = 3600;
    long long at = (long long)time(NULL);
    char *tok;
    int rc;

    memset(&c, 0, sizeof(c));
    c.scope = JWT_SCOPE_USER;
    if (argc < 2 || strlen(argv[1]) == 0 || strlen(argv[1]) >= sizeof(c.sub))
        return usage();
    snprintf(c.sub, sizeof(c.sub), "%s", argv[1]);
    for (int i = 2; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--admin") == 0) {
            c.scope = JWT_SCOPE_ADMIN;
        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            errno = 0;
            ttl = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || ttl < -31536000 || ttl > 31536000)
                return usage();
        } else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
            errno = 0;
            at = strtoll(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || at < 0 || at > 32503680000LL)
                return usage();
        } else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
            keyfile = argv[++i];
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            conf = argv[++i];
        } else {
            return usage();
        }
    }
    if (c.scope == JWT_SCOPE_ADMIN && strcmp(c.sub, JWT_ADMIN_SUBJECT) != 0) {
        /* every admin token carries one subject, so that revoking it
         * (revoke-tokens --admin) revokes every admin token */
        fprintf(stderr, "zerosum: an admin token's subject is %s\n", JWT_ADMIN_SUBJECT);
        return 1;
    }
    rc = token_settings(&cfg, conf, keyfile);
    if (rc == 2)
        return usage();
    if (rc)
        return rc;
    if (ttl > cfg.jwt_max_lifetime) {
        fprintf(stderr, "zerosum: --ttl %ld is longer than jwt_max_lifetime (%d s)\n", ttl,
                cfg.jwt_max_lifetime);
        return 1;
    }
    if (jwt_keyring_load(cfg.jwt_secret_file, &ring, err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum: %s\n", err);
        return 1;
    }
    snprintf(c.iss, sizeof(c.iss), "%s", cfg.jwt_issuer);
    snprintf(c.aud, sizeof(c.aud), "%s", cfg.jwt_audience);
    c.iat = c.nbf = (int64_t)at;
    /* a negative ttl mints an already-expired token, for tests */
    c.exp = (int64_t)at + ttl;
    tok = jwt_sign(&c, jwt_keyring_current(&ring));
    OPENSSL_cleanse(&ring, sizeof(ring));
    if (!tok) {
        fprintf(stderr, "zerosum: signing failed\n");
        return 1;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
}

/* zerosum routes: the route table, one "METHOD PATTERN POOL AUTH" line per
 * route, so tests walk the table the daemon really serves. */
static int cmd_routes(void)
{
    static const char *const auth[] = { "none", "user", "admin" };

    for (size_t i = 0; i < routes_count; i++)
        printf("%s %s %s %s\n", routes[i].method, routes[i].pattern, routes[i].pool,
               auth[routes[i].auth]);
    return 0;
}

/*
 * zerosum key-rotate [--drop-previous] [-c CONFIG] [--key-file PATH]: a new
 * current key; the old current one stays as previous unless --drop-previous.
 * Prints the new kid.
 */
static int cmd_key_rotate(int argc, char **argv)
{
    struct zs_config cfg;
    const char *conf = NULL, *keyfile = NULL;
    char err[512], kid[JWT_KID_MAX + 1];
    int keep = 1, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--drop-previous") == 0)
            keep = 0;
        else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc)
            keyfile = argv[++i];
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            conf = argv[++i];
        else
            return usage();
    }
    rc = token_settings(&cfg, conf, keyfile);
    if (rc == 2)
        return usage();
    if (rc)
        return rc;
    if (jwt_keyring_rotate(cfg.jwt_secret_file, keep, time(NULL), kid, sizeof(kid), err,
                           sizeof(err))
        < 0) {
        fprintf(stderr, "zerosum: %s\n", err);
        return 1;
    }
    printf("%s\n", kid);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "serve") == 0) {
        if (argc != 4 || strcmp(argv[2], "-c") != 0)
            return usage();
        return supervisor_main(argv[3]);
    }
    if (strcmp(argv[1], "token") == 0)
        return cmd_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "sql") == 0)
        return cli_sql(argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0)
        return cli_audit(argc - 1, argv + 1);
    if (strcmp(argv[1], "seal") == 0)
        return cli_seal(argc - 1, argv + 1);
    if (strcmp(argv[1], "expire-pending") == 0)
        return cli_expire_pending(argc - 1, argv + 1);
    if (strcmp(argv[1], "webhook-replay") == 0)
        return cli_webhook_replay(argc - 1, argv + 1);
    if (strcmp(argv[1], "key-rotate") == 0)
        return cmd_key_rotate(argc - 1, argv + 1);
    if (strcmp(argv[1], "dsql-token") == 0)
        return cli_dsql_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "rds-token") == 0)
        return cli_rds_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "routes") == 0 && argc == 2)
        return cmd_routes();
    return usage();
}
