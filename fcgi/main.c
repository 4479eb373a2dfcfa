/*
 * main.c — the zerosum binary: `serve` runs the daemon; the other
 * subcommands are the pieces of the admin CLI that need C (minting tokens).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "jwt.h"
#include "routes.h"
#include "sigv4.h"
#include "supervisor.h"

static int usage(void)
{
    fprintf(
        stderr,
        "usage: zerosum serve -c CONFIG\n"
        "       zerosum token ACCOUNT_ID [--admin] [--ttl SECONDS] (--key-file PATH | -c CONFIG)\n"
        "       zerosum sql [NAME [--dialect postgres|dsql]]\n"
        "       zerosum dsql-token --endpoint HOST --region REGION [--admin] [--expires S] [--at "
        "ISO8601]\n"
        "       zerosum rds-token --endpoint HOST --port N --region R --user U [--expires S] [--at "
        "ISO8601]\n"
        "       zerosum routes\n");
    return 2;
}

/* zerosum token SUB [--admin] [--ttl S] --key-file PATH | -c CONFIG */
static int cmd_token(int argc, char **argv)
{
    struct jwt_claims c;
    unsigned char key[64];
    size_t keylen;
    char err[256], keyfile[ZS_PATH_MAX] = "";
    long ttl = 3600;
    char *tok;

    memset(&c, 0, sizeof(c));
    c.scope = JWT_SCOPE_USER;
    if (argc < 2 || strlen(argv[1]) == 0 || strlen(argv[1]) >= sizeof(c.sub))
        return usage();
    strcpy(c.sub, argv[1]);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--admin") == 0) {
            c.scope = JWT_SCOPE_ADMIN;
        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            char *end;
            ttl = strtol(argv[++i], &end, 10);
            if (*end || ttl < -31536000 || ttl > 31536000 * 10L)
                return usage();
        } else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
            snprintf(keyfile, sizeof(keyfile), "%s", argv[++i]);
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            struct zs_config cfg;
            config_defaults(&cfg);
            if (config_load(&cfg, argv[++i], err, sizeof(err)) < 0) {
                fprintf(stderr, "zerosum: %s\n", err);
                return 1;
            }
            snprintf(keyfile, sizeof(keyfile), "%s", cfg.jwt_secret_file);
        } else {
            return usage();
        }
    }
    if (!keyfile[0])
        return usage();
    if (jwt_key_load(keyfile, key, sizeof(key), &keylen, err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum: %s\n", err);
        return 1;
    }
    /* a negative ttl mints an already-expired token, for tests */
    c.exp = (int64_t)time(NULL) + ttl;
    tok = jwt_sign(&c, key, keylen);
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
    if (strcmp(argv[1], "dsql-token") == 0)
        return cli_dsql_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "rds-token") == 0)
        return cli_rds_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "routes") == 0 && argc == 2)
        return cmd_routes();
    return usage();
}
