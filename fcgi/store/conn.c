/*
 * conn.c — opening a connection with a freshly minted credential, and the
 * classification of what a failed statement's SQLSTATE means for a retry
 * (the store layer: see db.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "log.h"
#include "metrics.h"
#include "store/db.h"
#include "store/token.h"

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

enum db_error db_classify(const char *sqlstate)
{
    if (!sqlstate || !*sqlstate)
        return DB_UNAVAILABLE;
    if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
        return DB_RETRYABLE;
    if (strncmp(sqlstate, "08", 2) == 0    /* connection exceptions */
        || strcmp(sqlstate, "57P01") == 0  /* admin_shutdown */
        || strcmp(sqlstate, "57P02") == 0  /* crash_shutdown */
        || strcmp(sqlstate, "57P03") == 0  /* cannot_connect_now */
        || strcmp(sqlstate, "53300") == 0  /* too_many_connections */
        || strcmp(sqlstate, "57014") == 0) /* query_canceled: statement_timeout */
        return DB_UNAVAILABLE;
    return DB_FAILED;
}

int db_backoff_ms(int attempt, int base_ms, int max_ms, unsigned int rnd)
{
    long cap = base_ms;

    for (int i = 1; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    if (cap <= 0)
        return 0;
    return (int)(rnd % (unsigned int)(cap + 1));
}

/*
 * libpq's default notice processor prints to stderr, the daemon's log, as
 * bare unformatted lines: a server WARNING, or the FATAL a server sends to
 * an idle connection when it shuts down ("terminating connection due to
 * administrator command"). Route them through the log instead.
 */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    log_warn("database notice: %.*s", (int)strcspn(message, "\n"), message);
}

PGconn *db_connect(const struct zs_config *cfg, char *err, size_t errlen)
{
    char password[4096], port[16], timeout[16];
    const char *keys[12], *vals[12];
    int k = 0;
    PGconn *conn;
    uint64_t t0 = now_us();

    if (token_mint(cfg, password, sizeof(password), err, errlen) < 0) {
        metrics_count_connect(0, now_us() - t0);
        return NULL;
    }
    snprintf(port, sizeof(port), "%d", cfg->db_port);
    snprintf(timeout, sizeof(timeout), "%d", cfg->db_connect_timeout);
    keys[k] = "host";
    vals[k++] = cfg->db_host;
    keys[k] = "port";
    vals[k++] = port;
    keys[k] = "dbname";
    vals[k++] = cfg->db_name;
    keys[k] = "user";
    vals[k++] = cfg->db_user;
    keys[k] = "connect_timeout";
    vals[k++] = timeout;
    keys[k] = "application_name";
    vals[k++] = "zerosum";
    if (password[0]) {
        keys[k] = "password";
        vals[k++] = password;
    }
    if (cfg->db_host[0] != '/') {
        keys[k] = "sslmode";
        vals[k++] = cfg->db_sslmode;
        if (cfg->db_sslrootcert[0]) {
            keys[k] = "sslrootcert";
            vals[k++] = cfg->db_sslrootcert;
        }
    }
    keys[k] = NULL;
    vals[k] = NULL;
    conn = PQconnectdbParams(keys, vals, 0);
    OPENSSL_cleanse(password, sizeof(password));
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        /* libpq's message names host and reason, never the password */
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        snprintf(err, errlen, "%.*s", (int)strcspn(msg, "\n"), msg);
        PQfinish(conn);
        metrics_count_connect(0, now_us() - t0);
        return NULL;
    }
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    metrics_count_connect(1, now_us() - t0);
    return conn;
}
