/*
 * cli_dsql.c — the `zerosum dsql-token` and `zerosum rds-token` subcommands:
 * mint an Aurora DSQL or RDS IAM authentication token from the command line,
 * with the same code the workers use (sigv4.c), so an operator can test
 * credentials with psql and the tests can compare against the AWS SDKs.
 *
 * Credentials come from the environment or the shared credentials file and
 * are never printed. Exit status: 0 ok, 2 usage error, 1 failure.
 */
#include "store/sigv4.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_HELP = -1 };

/* Synopsis (printed after a usage error) and description (added for --help). */
static const char usage_dsql[] =
    "usage: zerosum dsql-token --endpoint HOST --region REGION [--admin]\n"
    "                          [--expires SECONDS] [--at YYYY-MM-DDTHH:MM:SSZ]\n";
static const char help_dsql[] =
    "Prints an Aurora DSQL authentication token (DbConnect, or DbConnectAdmin\n"
    "with --admin) valid for SECONDS (default 900, at most 604800) from --at\n"
    "(default now). Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
    "AWS_SESSION_TOKEN, else the shared credentials file (AWS_PROFILE).\n";

static const char usage_rds[] =
    "usage: zerosum rds-token --endpoint HOST --port N --region REGION --user USER\n"
    "                         [--expires SECONDS] [--at YYYY-MM-DDTHH:MM:SSZ]\n";
static const char help_rds[] =
    "Prints an RDS IAM authentication token (rds-db connect) for USER valid for\n"
    "SECONDS (default 900, at most 604800) from --at (default now). Credentials\n"
    "as for dsql-token.\n";

/* Parsed command line of either subcommand. Strings point into argv. */
struct cli_opts {
    const char *cmd; /* argv[0], for messages */
    const char *endpoint;
    const char *region;
    const char *user; /* rds only */
    int port;         /* rds only; 0 = not given */
    int admin;        /* dsql only */
    int expires;
    time_t at;
};

/* Print "zerosum CMD: MESSAGE" and the usage to stderr. Returns CLI_USAGE. */
static int usage_error(const struct cli_opts *o, const char *usage, const char *what,
                       const char *arg)
{
    fprintf(stderr, "zerosum %s: %s%s%s%s\n%s", o->cmd, what, arg ? " \"" : "", arg ? arg : "",
            arg ? "\"" : "", usage);
    return CLI_USAGE;
}

/* Parse s as a whole decimal integer in [min, max] into *out. Returns 0 or -1. */
static int parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max || s[0] == ' ' || s[0] == '+')
        return -1;
    *out = (int)v;
    return 0;
}

/* True if s matches tmpl, where 'd' in tmpl stands for one ASCII digit and
 * every other character for itself. */
static int match_template(const char *s, const char *tmpl)
{
    for (; *tmpl; s++, tmpl++) {
        if (*tmpl == 'd' ? !(*s >= '0' && *s <= '9') : *s != *tmpl)
            return 0;
    }
    return *s == '\0';
}

/* Read n decimal digits at s (already checked to be digits). */
static int digits(const char *s, int n)
{
    int v = 0;
    while (n--)
        v = v * 10 + (*s++ - '0');
    return v;
}

/*
 * Parse a UTC time, "YYYY-MM-DDTHH:MM:SSZ" or the SigV4 basic form
 * "YYYYMMDDTHHMMSSZ", into *out. Years before 1000 and impossible dates
 * (Feb 30, hour 24, second 60) are refused. Returns 0 or -1.
 */
static int parse_iso8601(const char *s, time_t *out)
{
    struct tm tm = { 0 }, back;
    int ext = match_template(s, "dddd-dd-ddTdd:dd:ddZ");
    if (!ext && !match_template(s, "ddddddddTddddddZ"))
        return -1;
    if (digits(s, 4) < 1000) /* SigV4 dates have four-digit years */
        return -1;
    tm.tm_year = digits(s, 4) - 1900;
    tm.tm_mon = digits(s + (ext ? 5 : 4), 2) - 1;
    tm.tm_mday = digits(s + (ext ? 8 : 6), 2);
    tm.tm_hour = digits(s + (ext ? 11 : 9), 2);
    tm.tm_min = digits(s + (ext ? 14 : 11), 2);
    tm.tm_sec = digits(s + (ext ? 17 : 13), 2);
    back = tm;
    *out = timegm(&tm);
    /* (time_t)-1 is both the error value and 1969-12-31T23:59:59Z. */
    if (*out == (time_t)-1 && strcmp(s, ext ? "1969-12-31T23:59:59Z" : "19691231T235959Z") != 0)
        return -1;
    /* timegm normalises out-of-range fields; a real date comes back unchanged. */
    if (tm.tm_year != back.tm_year || tm.tm_mon != back.tm_mon || tm.tm_mday != back.tm_mday
        || tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min || tm.tm_sec != back.tm_sec)
        return -1;
    return 0;
}

/*
 * Parse argv (argv[0] is the subcommand) into o. rds selects the rds-token
 * option set. Options take their value as the next argument or after '='.
 * Returns CLI_OK, CLI_HELP (help printed to stdout) or CLI_USAGE (message
 * printed to stderr).
 */
static int parse_args(int argc, char **argv, int rds, struct cli_opts *o)
{
    const char *usage = rds ? usage_rds : usage_dsql;

    memset(o, 0, sizeof *o);
    o->cmd = argc > 0 && argv[0] ? argv[0] : (rds ? "rds-token" : "dsql-token");
    o->expires = SIGV4_DEFAULT_EXPIRES;
    o->at = time(NULL);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *val = NULL;
        char name[32];
        size_t nlen;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            fputs(rds ? help_rds : help_dsql, stdout);
            return CLI_HELP;
        }
        if (strncmp(arg, "--", 2) != 0)
            return usage_error(o, usage, "unexpected argument", arg);
        eq = strchr(arg, '=');
        nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            return usage_error(o, usage, "unknown option", arg);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';

        if (strcmp(name, "--admin") == 0 && !rds) {
            if (eq)
                return usage_error(o, usage, "--admin takes no value", NULL);
            o->admin = 1;
            continue;
        }
        if (strcmp(name, "--endpoint") != 0 && strcmp(name, "--region") != 0
            && strcmp(name, "--expires") != 0 && strcmp(name, "--at") != 0
            && !(rds && (strcmp(name, "--port") == 0 || strcmp(name, "--user") == 0)))
            return usage_error(o, usage, "unknown option", name);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage_error(o, usage, "missing value for", name);

        if (strcmp(name, "--endpoint") == 0) {
            o->endpoint = val;
        } else if (strcmp(name, "--region") == 0) {
            o->region = val;
        } else if (strcmp(name, "--user") == 0) {
            o->user = val;
        } else if (strcmp(name, "--port") == 0) {
            if (parse_int(val, 1, 65535, &o->port) != 0)
                return usage_error(o, usage, "--port must be 1..65535, not", val);
        } else if (strcmp(name, "--expires") == 0) {
            if (parse_int(val, 1, SIGV4_MAX_EXPIRES, &o->expires) != 0)
                return usage_error(o, usage, "--expires must be 1..604800 seconds, not", val);
        } else if (strcmp(name, "--at") == 0) {
            if (parse_iso8601(val, &o->at) != 0)
                return usage_error(o, usage,
                                   "--at must be a UTC time like 2025-01-02T03:04:05Z, not", val);
        }
    }

    if (!o->endpoint || !*o->endpoint)
        return usage_error(o, usage, "--endpoint is required", NULL);
    if (strstr(o->endpoint, "://") || strchr(o->endpoint, '/'))
        return usage_error(o, usage,
                           "--endpoint is a host name, without scheme or path:", o->endpoint);
    if (!o->region || !*o->region)
        return usage_error(o, usage, "--region is required", NULL);
    if (rds && !o->port)
        return usage_error(o, usage, "--port is required", NULL);
    if (rds && (!o->user || !*o->user))
        return usage_error(o, usage, "--user is required", NULL);
    return CLI_OK;
}

/* Load credentials, mint the token of the parsed kind, print it. Returns the
 * exit status. */
static int cli_token(int argc, char **argv, int rds)
{
    struct aws_credentials creds;
    struct cli_opts o;
    char err[512], *token;
    int rc = parse_args(argc, argv, rds, &o);

    if (rc == CLI_HELP)
        return CLI_OK;
    if (rc != CLI_OK)
        return rc;
    if (aws_credentials_load(&creds, err, sizeof err) != 0) {
        fprintf(stderr, "zerosum %s: %s\n", o.cmd, err);
        return CLI_FAIL;
    }
    if (rds)
        token = sigv4_rds_token(&creds, o.endpoint, o.port, o.region, o.user, o.expires, o.at);
    else
        token = sigv4_dsql_token(&creds, o.endpoint, o.region, o.admin, o.expires, o.at);
    aws_credentials_clear(&creds);
    if (!token) {
        fprintf(stderr,
                "zerosum %s: cannot sign: check --endpoint \"%s\" (letters, digits, '.', '-') and "
                "--region \"%s\" (letters, digits, '-')\n",
                o.cmd, o.endpoint, o.region);
        return CLI_FAIL;
    }
    rc = CLI_OK;
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "zerosum %s: writing the token to stdout failed: %s\n", o.cmd,
                strerror(errno));
        rc = CLI_FAIL;
    }
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    return rc;
}

int cli_dsql_token(int argc, char **argv)
{
    return cli_token(argc, argv, 0);
}

int cli_rds_token(int argc, char **argv)
{
    return cli_token(argc, argv, 1);
}
