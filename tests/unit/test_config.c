/*
 * test_config.c — unit tests for fcgi/config.c: the defaults, reading a
 * `key = value` file (comments, blank lines, spacing), pool lines, and every
 * kind of bad line refused with the file name and line number in the error.
 */
#include "tap.h"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

/* Write text to a fresh temp file; its name is in `path`. */
static void write_file(const char *text)
{
    int fd;
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/zs-test-config-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(2);
    }
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

/* Load text on top of the defaults; returns config_load's result. */
static int load(struct zs_config *cfg, const char *text, char *err, size_t errlen)
{
    int rc;

    config_defaults(cfg);
    write_file(text);
    err[0] = '\0';
    rc = config_load(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

/* 1 if err starts with "<path>:<line>:" and contains what. */
static int err_at(const char *err, int line, const char *what)
{
    char prefix[128];

    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    return strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, what) != NULL;
}

static void test_defaults(void)
{
    struct zs_config c;

    memset(&c, 0x5a, sizeof(c));
    config_defaults(&c);
    is_str(c.var_dir, "var", "default var_dir");
    is_str(c.socket_dir, "var/run", "default socket_dir");
    is_str(c.pid_file, "var/run/zerosum.pid", "default pid_file");
    is_str(c.log_file, "", "default log_file is stderr");
    is_str(c.log_level, "info", "default log_level");
    is_str(c.db_host, "var/pgsock", "default db_host");
    is_int(c.db_port, 6433, "default db_port (PgBouncer)");
    is_str(c.db_name, "zerosum", "default db_name");
    is_str(c.db_user, "zerosum_app", "default db_user");
    is_str(c.db_token_provider, "static", "default token provider");
    is_int(c.token_expires, 900, "default token_expires 900 s");
    is_int(c.connection_policy, ZS_POLICY_PER_REQUEST, "default policy per-request");
    is_int(c.connection_max_lifetime, 3300, "default max lifetime 55 min");
    is_int(c.dialect, ZS_DIALECT_POSTGRES, "default dialect postgres");
    is_int(c.tx_max_attempts, 10, "default tx_max_attempts");
    is_int(c.tx_backoff_base_ms, 1, "default backoff base");
    is_int(c.tx_backoff_max_ms, 100, "default backoff max");
    is_int(c.body_max, 65536, "default body_max 64 KiB");
    is_int(c.header_max, 4096, "default header_max");
    is_int(c.json_max_depth, 16, "default json_max_depth");
    is_int(c.max_requests, 10000, "default max_requests");
    is_int(c.retry_after, 1, "default retry_after");
    is_int(c.drain_timeout, 10, "default drain_timeout");

    is_int(c.npools, 5, "five default pools");
    is_int(config_pool_index(&c, "default"), 0, "pool default");
    is_int(config_pool_index(&c, "bid"), 1, "pool bid");
    is_int(config_pool_index(&c, "transfer"), 2, "pool transfer");
    is_int(config_pool_index(&c, "proof"), 3, "pool proof");
    is_int(config_pool_index(&c, "order"), 4, "pool order");
    is_int(config_pool_index(&c, ""), -1, "empty name is no pool");
    is_int(c.pools[0].size, 2, "default pool size 2");
    is_int(c.pools[1].size, 3, "bid pool size 3");
    is_int(c.pools[2].size, 3, "transfer pool size 3");
    is_int(c.pools[3].size, 1, "proof pool size 1");

    is_str(config_policy_name(ZS_POLICY_PER_REQUEST), "per-request", "policy name per-request");
    is_str(config_policy_name(ZS_POLICY_PER_WORKER), "per-worker", "policy name per-worker");
    is_str(config_dialect_name(ZS_DIALECT_POSTGRES), "postgres", "dialect name postgres");
    is_str(config_dialect_name(ZS_DIALECT_DSQL), "dsql", "dialect name dsql");
}

static void test_parse(void)
{
    struct zs_config c;
    char err[512];
    int rc = load(&c,
                  "# a comment\n"
                  "\n"
                  "   # an indented comment = with an equals sign\n"
                  "var_dir = /srv/zs\n"
                  "db_port=5433\n"
                  "\tdb_host   =   /tmp/sock dir  \n"
                  "connection_policy = per-worker\n"
                  "dialect = dsql\n"
                  "tx_max_attempts = 3\n"
                  "json_max_depth = 1000\n"
                  "max_requests = 0\n"
                  "db_password_file =\n"
                  "pool_transfer = 5\n"
                  "pool_order = 2\n"
                  "pool_proof = 0\n"
                  "log_level = debug", /* no final newline */
                  err, sizeof(err));

    is_int(rc, 0, "a good file loads");
    is_str(err, "", "no error text");
    is_str(c.var_dir, "/srv/zs", "string setting");
    is_int(c.db_port, 5433, "int setting without spaces around =");
    is_str(c.db_host, "/tmp/sock dir", "value trimmed at both ends, inner space kept");
    is_int(c.connection_policy, ZS_POLICY_PER_WORKER, "policy per-worker");
    is_int(c.dialect, ZS_DIALECT_DSQL, "dialect dsql");
    is_int(c.tx_max_attempts, 3, "tx_max_attempts");
    is_int(c.json_max_depth, 1000, "json_max_depth at its maximum");
    is_int(c.max_requests, 0, "max_requests 0 (never recycle)");
    is_str(c.db_password_file, "", "empty string value");
    is_str(c.log_level, "debug", "last line without a newline");
    is_str(c.db_name, "zerosum", "untouched settings keep their defaults");
    is_int(c.body_max, 65536, "untouched int keeps its default");

    is_int(c.npools, 5, "pool_order resized, none added");
    is_int(c.pools[config_pool_index(&c, "transfer")].size, 5, "pool_transfer resized in place");
    is_int(config_pool_index(&c, "transfer"), 2, "resizing keeps the pool's position");
    is_int(config_pool_index(&c, "order"), 4, "pool_order keeps its place");
    is_int(c.pools[4].size, 2, "pool_order size");
    is_int(c.pools[config_pool_index(&c, "proof")].size, 0, "a pool may be sized 0");
    is_int(c.pools[config_pool_index(&c, "default")].size, 2, "other pools untouched");

    /* Loading on top of a loaded config keeps what the second file does not set. */
    write_file("pool_bid = 7\n");
    is_int(config_load(&c, path, err, sizeof(err)), 0, "a second file loads on top");
    unlink(path);
    is_int(c.pools[1].size, 7, "second file's pool size");
    is_int(c.db_port, 5433, "first file's value survives");

    rc = load(&c, "", err, sizeof(err));
    is_int(rc, 0, "an empty file is fine");
    is_int(c.db_port, 6433, "…and changes nothing");
}

static void test_errors(void)
{
    struct zs_config c;
    char err[512];
    char big[2048];

    is_int(load(&c, "db_port = 5433\n\ndb_port = 0\n", err, sizeof(err)), -1, "port 0 refused");
    ok(err_at(err, 3, "db_port"), "error names file, line 3 and the setting");
    ok(strstr(err, "1..65535") != NULL, "error gives the range");

    is_int(load(&c, "db_port = 65536\n", err, sizeof(err)), -1, "port 65536 refused");
    ok(err_at(err, 1, "db_port"), "line 1");

    is_int(load(&c, "# x\nmax_requests = 10x\n", err, sizeof(err)), -1, "trailing junk refused");
    ok(err_at(err, 2, "max_requests"), "line 2 names max_requests");
    ok(strstr(err, "\"10x\"") != NULL, "error quotes the bad value");

    is_int(load(&c, "db_port =\n", err, sizeof(err)), -1, "empty integer refused");
    ok(err_at(err, 1, "db_port"), "empty integer: line 1");

    is_int(load(&c, "db_port = 99999999999999999999\n", err, sizeof(err)), -1,
           "integer overflow refused");
    is_int(load(&c, "db_port = -5\n", err, sizeof(err)), -1, "negative port refused");
    is_int(load(&c, "json_max_depth = 1\n", err, sizeof(err)), -1, "depth below its minimum");

    is_int(load(&c, "\n\n\n\nconnection_policy = sometimes\n", err, sizeof(err)), -1,
           "unknown policy refused");
    ok(err_at(err, 5, "per-request or per-worker"), "policy error at line 5 lists the choices");

    is_int(load(&c, "dialect = mysql\n", err, sizeof(err)), -1, "unknown dialect refused");
    ok(err_at(err, 1, "postgres or dsql"), "dialect error lists the choices");

    is_int(load(&c, "db_port = 5433\nno_such_setting = 1\n", err, sizeof(err)), -1,
           "unknown setting refused");
    ok(err_at(err, 2, "unknown setting \"no_such_setting\""), "unknown setting named at line 2");

    is_int(load(&c, "db_port 5433\n", err, sizeof(err)), -1, "line without = refused");
    ok(err_at(err, 1, "expected key = value"), "missing = explained");

    is_int(load(&c, "DB_PORT = 1\n", err, sizeof(err)), -1, "names are case-sensitive");

    memset(big, 'x', 600);
    memcpy(big, "db_name = ", 10);
    big[600] = '\n';
    big[601] = '\0';
    is_int(load(&c, big, err, sizeof(err)), -1, "string longer than its field refused");
    ok(err_at(err, 1, "db_name: value too long"), "too long: named");

    /* pools */
    is_int(load(&c, "pool_bid = 65\n", err, sizeof(err)), -1, "pool size 65 refused");
    ok(err_at(err, 1, "pool_bid"), "pool size error names the pool");
    is_int(load(&c, "pool_bid = -1\n", err, sizeof(err)), -1, "negative pool size refused");
    is_int(load(&c, "pool_bid = two\n", err, sizeof(err)), -1, "non-numeric pool size refused");
    is_int(load(&c, "pool_bid =\n", err, sizeof(err)), -1, "empty pool size refused");
    is_int(load(&c, "\npool_Bid = 1\n", err, sizeof(err)), -1, "uppercase pool name refused");
    ok(err_at(err, 2, "lowercase letters only"), "pool name rule explained at line 2");
    is_int(load(&c, "pool_a1 = 1\n", err, sizeof(err)), -1, "digit in pool name refused");
    is_int(load(&c, "pool_ = 1\n", err, sizeof(err)), -1, "empty pool name refused");
    is_int(load(&c, "pool_abcdefghijklmnop = 1\n", err, sizeof(err)), -1,
           "16-letter pool name refused (15 max)");
    is_int(load(&c, "pool_abcdefghijklmno = 1\n", err, sizeof(err)), 0, "15-letter pool name ok");
    is_int(load(&c, "pool_a = 1\npool_b = 1\npool_c = 1\n", err, sizeof(err)), 0,
           "eight pools in all are fine");
    is_int(c.npools, ZS_MAX_POOLS, "…and fill the table");
    is_int(load(&c, "pool_a = 1\npool_b = 1\npool_c = 1\npool_d = 1\n", err, sizeof(err)), -1,
           "a ninth pool is refused");
    ok(err_at(err, 4, "too many pools"), "too many pools at line 4");

    /* A line longer than the reader's buffer must not be cut in two and the
     * tail read as a line of its own (here: a setting hidden in a comment). */
    memset(big, ' ', sizeof(big));
    big[0] = '#';
    memcpy(big + 1500, "db_port = 1", 11);
    big[1511] = '\n';
    big[1512] = '\0';
    {
        int rc = load(&c, big, err, sizeof(err));
        ok(rc == -1 ? err_at(err, 1, "too long") : c.db_port == 6433,
           "an over-long comment line is refused at line 1 or ignored whole");
        ok(c.db_port == 6433, "text after byte 1024 of a comment never becomes a setting");
    }

    is_int(config_load(&c, "/nonexistent/zs.conf", err, sizeof(err)), -1, "missing file refused");
    ok(strstr(err, "/nonexistent/zs.conf") != NULL, "missing file: named in the error");
}

int main(void)
{
    test_defaults();
    test_parse();
    test_errors();
    return done_testing();
}
