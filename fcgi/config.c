/*
 * config.c — the settings table and the `key = value` file reader.
 *
 * Every setting is one row of `settings[]`: its name, type, where it lives
 * in struct zs_config and its default. Pools are `pool_NAME = SIZE` lines.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum setting_type { S_STR, S_INT, S_POLICY, S_DIALECT };

struct setting {
    const char *name;
    enum setting_type type;
    size_t offset;
    size_t size; /* for strings */
    const char *def;
    int min, max; /* for ints */
};

#define STR(f, d)                                                                                  \
    {                                                                                              \
#f, S_STR, offsetof(struct zs_config, f), sizeof(((struct zs_config *)0)->f), d, 0, 0      \
    }
#define INT(f, d, lo, hi)                                                                          \
    {                                                                                              \
#f, S_INT, offsetof(struct zs_config, f), 0, d, lo, hi                                     \
    }

static const struct setting settings[] = {
    STR(var_dir, "var"),
    STR(socket_dir, "var/run"),
    STR(pid_file, "var/run/zerosum.pid"),
    STR(log_file, ""),
    STR(access_log, ""),
    STR(jwt_secret_file, "var/secrets/jwt.key"),
    STR(jwt_issuer, "zerosum"),
    STR(jwt_audience, "zerosum"),
    INT(jwt_leeway, "30", 0, 300),
    INT(jwt_max_lifetime, "2592000", 60, 31536000),
    STR(log_level, "info"),
    STR(db_host, "var/pgsock"),
    INT(db_port, "6433", 1, 65535),
    STR(db_name, "zerosum"),
    STR(db_user, "zerosum_app"),
    STR(db_password_file, ""),
    STR(db_sslmode, "prefer"),
    STR(db_sslrootcert, ""),
    INT(db_connect_timeout, "2", 1, 60),
    STR(db_token_provider, "static"),
    STR(aws_region, "us-east-1"),
    INT(token_expires, "900", 1, 604800),
    { "connection_policy", S_POLICY, offsetof(struct zs_config, connection_policy), 0,
      "per-request", 0, 0 },
    INT(connection_max_lifetime, "3300", 1, 86400),
    INT(prepared_statements, "1", 0, 1),
    { "dialect", S_DIALECT, offsetof(struct zs_config, dialect), 0, "postgres", 0, 0 },
    INT(tx_max_attempts, "10", 1, 100),
    INT(tx_backoff_base_ms, "1", 0, 1000),
    INT(tx_backoff_max_ms, "100", 0, 10000),
    INT(body_max, "65536", 64, 16777216),
    INT(header_max, "4096", 64, 65536),
    INT(json_max_depth, "16", 2, 1000),
    INT(max_requests, "10000", 0, 100000000),
    INT(retry_after, "1", 0, 3600),
    INT(idempotency_ttl, "86400", 1, 31536000),
    INT(idempotency_wait_ms, "20", 0, 10000),
    INT(resolve_lease, "30", 1, 3600),
    INT(idempotency_purge_batch, "500", 1, 3000),
    STR(stampede_script, ""),
    INT(drain_timeout, "10", 1, 3600),
    INT(jobs_interval_ms, "1000", 10, 3600000),
    STR(nginx_error_log, ""),
    INT(respawn_window, "10", 1, 3600),
    INT(respawn_max, "10", 1, 10000),
    INT(full_audit_chunk_rows, "5000", 1, 1000000),
    INT(full_audit_yield_ms, "1", 0, 1000),
    INT(full_audit_timeout_ms, "3600000", 1000, 86400000),
    INT(full_audit_nice, "19", 0, 19),
    INT(seal_interval_ms, "1000", 0, 3600000),
    INT(seal_batch_rows, "3000", 16, 100000),
    STR(log_origin, "zerosum.local/ledger"),
    STR(log_key_file, "var/secrets/log-ed25519.pem"),
    STR(witness_dir, ""),
    INT(seal_backlog_max_s, "300", 1, 604800),
    INT(full_audit_interval_s, "3600", 1, 2592000),
    /* live events (docs/OPERATIONS.md, "Live events") */
    INT(events_poll_ms, "50", 0, 60000),
    INT(events_batch, "200", 1, 1000),
    INT(events_coalesce_ms, "100", 0, 1000),
    INT(events_buffer, "1000", 1, 100000),
    INT(events_buffer_s, "3600", 1, 604800),
    INT(events_retention_s, "345600", 60, 31536000),
    INT(events_purge_batch, "500", 1, 3000),
    INT(webhook_timeout_ms, "5000", 100, 60000),
    INT(webhook_max_age_s, "259200", 1, 2592000),
};

static int set_value(struct zs_config *cfg, const struct setting *s, const char *v, char *err,
                     size_t errlen)
{
    char *p = (char *)cfg + s->offset;

    switch (s->type) {
    case S_STR:
        if (strlen(v) >= s->size) {
            snprintf(err, errlen, "%s: value too long", s->name);
            return -1;
        }
        strcpy(p, v);
        return 0;
    case S_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < s->min || n > s->max) {
            snprintf(err, errlen, "%s: expected an integer in %d..%d, got \"%s\"", s->name, s->min,
                     s->max, v);
            return -1;
        }
        *(int *)p = (int)n;
        return 0;
    }
    case S_POLICY:
        if (strcmp(v, "per-request") == 0)
            *(enum zs_policy *)p = ZS_POLICY_PER_REQUEST;
        else if (strcmp(v, "per-worker") == 0)
            *(enum zs_policy *)p = ZS_POLICY_PER_WORKER;
        else {
            snprintf(err, errlen, "%s: expected per-request or per-worker", s->name);
            return -1;
        }
        return 0;
    case S_DIALECT:
        if (strcmp(v, "postgres") == 0)
            *(enum zs_dialect *)p = ZS_DIALECT_POSTGRES;
        else if (strcmp(v, "dsql") == 0)
            *(enum zs_dialect *)p = ZS_DIALECT_DSQL;
        else {
            snprintf(err, errlen, "%s: expected postgres or dsql", s->name);
            return -1;
        }
        return 0;
    }
    return -1;
}

static int set_pool(struct zs_config *cfg, const char *name, const char *v, char *err,
                    size_t errlen)
{
    char *end;
    long n = strtol(v, &end, 10);
    int i;

    if (end == v || *end || n < 0 || n > 64) {
        snprintf(err, errlen, "pool_%s: expected a size in 0..64", name);
        return -1;
    }
    if (strlen(name) == 0 || strlen(name) >= sizeof(cfg->pools[0].name)) {
        snprintf(err, errlen, "pool name \"%s\" is empty or too long", name);
        return -1;
    }
    for (const char *c = name; *c; c++)
        if (!islower((unsigned char)*c)) {
            snprintf(err, errlen, "pool name \"%s\": lowercase letters only", name);
            return -1;
        }
    i = config_pool_index(cfg, name);
    if (i < 0) {
        if (cfg->npools == ZS_MAX_POOLS) {
            snprintf(err, errlen, "too many pools (max %d)", ZS_MAX_POOLS);
            return -1;
        }
        i = cfg->npools++;
        strcpy(cfg->pools[i].name, name);
    }
    cfg->pools[i].size = (int)n;
    return 0;
}

void config_defaults(struct zs_config *cfg)
{
    char err[128];
    static const struct zs_pool_conf pools[] = {
        { "default", 2 }, { "bid", 3 }, { "transfer", 3 }, { "proof", 1 }, { "order", 2 },
    };

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        (void)set_value(cfg, &settings[i], settings[i].def, err, sizeof(err));
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++)
        cfg->pools[cfg->npools++] = pools[i];
}

/*
 * The token issuer and audience go into every token as JSON strings: 1..63
 * printable ASCII characters (what jwt_sign accepts). 0, or -1 with a message.
 */
static int check_names(const struct zs_config *cfg, char *err, size_t errlen)
{
    const char *names[] = { "jwt_issuer", "jwt_audience" };
    const char *vals[] = { cfg->jwt_issuer, cfg->jwt_audience };

    for (int i = 0; i < 2; i++) {
        int good = vals[i][0] != '\0' && strlen(vals[i]) <= 63;
        for (const char *c = vals[i]; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                good = 0;
        if (!good) {
            snprintf(err, errlen, "%s: expected 1..63 printable ASCII characters", names[i]);
            return -1;
        }
    }
    return 0;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load(struct zs_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[1024], msg[256];
    int lineno = 0;

    if (!f) {
        snprintf(err, errlen, "fopen(\"%s\") failed: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *key, *val, *eq;
        size_t i;

        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            /* fgets() cut the line: its tail would be read as a line of its own */
            snprintf(msg, sizeof(msg), "line too long (max %zu bytes)", sizeof(line) - 2);
            goto bad;
        }
        key = trim(line);
        if (*key == '\0' || *key == '#')
            continue;
        eq = strchr(key, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        val = trim(eq + 1);
        key = trim(key);
        if (strncmp(key, "pool_", 5) == 0) {
            if (set_pool(cfg, key + 5, val, msg, sizeof(msg)) < 0)
                goto bad;
            continue;
        }
        for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
            if (strcmp(settings[i].name, key) == 0)
                break;
        if (i == sizeof(settings) / sizeof(settings[0])) {
            snprintf(msg, sizeof(msg), "unknown setting \"%s\"", key);
            goto bad;
        }
        if (set_value(cfg, &settings[i], val, msg, sizeof(msg)) < 0)
            goto bad;
    }
    fclose(f);
    if (check_names(cfg, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
    fclose(f);
    return -1;
}

int config_pool_index(const struct zs_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->npools; i++)
        if (strcmp(cfg->pools[i].name, name) == 0)
            return i;
    return -1;
}

const char *config_policy_name(enum zs_policy p)
{
    return p == ZS_POLICY_PER_WORKER ? "per-worker" : "per-request";
}

const char *config_dialect_name(enum zs_dialect d)
{
    return d == ZS_DIALECT_DSQL ? "dsql" : "postgres";
}
