/*
 * db.c — connection policy, SQLSTATE classification and the retrying
 * transaction runner (the store layer: see db.h).
 */
#include "store/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "metrics.h"
#include "store/token.h"

static PGconn *worker_conn;
static time_t worker_conn_born;
static unsigned int rng_state;

static unsigned int rng_next(void)
{
    /* xorshift32; seeded per process, good enough for jitter */
    if (rng_state == 0)
        rng_state = (unsigned int)getpid() * 2654435761u ^ (unsigned int)time(NULL) ^ 0x9e3779b9u;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

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

void db_close_worker_connection(void)
{
    if (worker_conn) {
        PQfinish(worker_conn);
        worker_conn = NULL;
    }
}

/* A connection for this request under the policy; reused → *reused = 1. */
static PGconn *acquire(const struct zs_config *cfg, int *reused, char *err, size_t errlen)
{
    *reused = 0;
    if (cfg->connection_policy == ZS_POLICY_PER_WORKER) {
        if (worker_conn
            && (PQstatus(worker_conn) != CONNECTION_OK
                || time(NULL) - worker_conn_born >= cfg->connection_max_lifetime))
            db_close_worker_connection();
        if (worker_conn) {
            *reused = 1;
            return worker_conn;
        }
        worker_conn = db_connect(cfg, err, errlen);
        worker_conn_born = time(NULL);
        return worker_conn;
    }
    return db_connect(cfg, err, errlen);
}

static void release(const struct zs_config *cfg, PGconn *conn, int broken)
{
    if (cfg->connection_policy == ZS_POLICY_PER_WORKER) {
        if (broken && conn == worker_conn)
            db_close_worker_connection();
        return;
    }
    PQfinish(conn);
}

static void record_failure(struct tx *tx, PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    snprintf(tx->sqlstate, sizeof(tx->sqlstate), "%s", state ? state : "");
    tx->err = PQstatus(tx->conn) == CONNECTION_BAD ? DB_UNAVAILABLE : db_classify(state);
    if (tx->err == DB_FAILED || tx->err == DB_UNAVAILABLE) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(tx->conn);
        log_debug("request %s: statement failed (SQLSTATE %s): %.*s", tx->s->id,
                  tx->sqlstate[0] ? tx->sqlstate : "-", (int)strcspn(msg, "\n"), msg);
    }
}

int tx_exec_many(struct tx *tx, struct tx_stmt *s, int n, int commit)
{
    PGconn *c = tx->conn;
    int begin = !tx->begun && tx->begin_sql, total, failed = 0;
    /* the session's preamble rides first in the transaction's first round trip */
    int check = begin && tx->s->has_preamble;

    for (int i = 0; i < n; i++)
        s[i].res = NULL;
    tx->rounds++;
    if (PQenterPipelineMode(c) != 1) {
        record_failure(tx, NULL);
        if (tx->err == DB_OK)
            tx->err = DB_UNAVAILABLE;
        return -1;
    }
    total = begin + check + n + (commit ? 1 : 0);
    if (begin && !PQsendQueryParams(c, tx->begin_sql, 0, NULL, NULL, NULL, NULL, 0))
        failed = 1;
    if (check && !failed
        && !PQsendQueryParams(c, sql_text(tx->s->preamble, tx->dialect),
                              sql_table[tx->s->preamble].nparams, NULL, tx->s->preamble_values,
                              NULL, NULL, 0))
        failed = 1;
    for (int i = 0; i < n && !failed; i++) {
        const char *text = s[i].sql ? s[i].sql : sql_text(s[i].id, tx->dialect);
        if (!text || !PQsendQueryParams(c, text, s[i].nparams, NULL, s[i].values, NULL, NULL, 0))
            failed = 1;
    }
    if (!failed && commit) {
        tx->commit_sent = 1;
        if (!PQsendQueryParams(c, sql_text(SQL_TX_COMMIT, tx->dialect), 0, NULL, NULL, NULL, NULL,
                               0))
            failed = 1;
    }
    if (failed || PQpipelineSync(c) != 1) {
        /* the connection is gone; nothing more will come back */
        record_failure(tx, NULL);
        tx->err = DB_UNAVAILABLE;
        (void)PQexitPipelineMode(c);
        return -1;
    }
    tx->err = DB_OK;
    tx->sqlstate[0] = '\0';
    for (int k = 0; k < total; k++) {
        PGresult *res = PQgetResult(c), *end;
        ExecStatusType st;
        int idx = k - begin - check;

        if (!res) {
            if (tx->err == DB_OK) {
                record_failure(tx, NULL);
                tx->err = DB_UNAVAILABLE;
            }
            break;
        }
        st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (begin && k == 0)
                tx->begun = 1;
            else if (commit && k == total - 1)
                tx->committed = 1;
            if (idx >= 0 && idx < n) {
                s[idx].res = res;
                res = NULL;
            }
        } else if (st != PGRES_PIPELINE_ABORTED && tx->err == DB_OK) {
            if (begin && k == 0)
                tx->begun = 0;
            record_failure(tx, res);
            if (check && k == begin && tx->err == DB_FAILED)
                tx->preamble_failed = 1;
            if (tx->err == DB_OK)
                tx->err = DB_FAILED;
        }
        PQclear(res);
        while ((end = PQgetResult(c)) != NULL) /* each query ends with a NULL */
            PQclear(end);
    }
    {
        /* the Sync's own result, then back to normal mode */
        PGresult *sync;
        while ((sync = PQgetResult(c)) != NULL) {
            int is_sync = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
            PQclear(sync);
            if (is_sync)
                break;
        }
        if (PQexitPipelineMode(c) != 1 && tx->err == DB_OK) {
            record_failure(tx, NULL);
            tx->err = DB_UNAVAILABLE;
        }
    }
    if (tx->err != DB_OK) {
        for (int i = 0; i < n; i++) {
            PQclear(s[i].res);
            s[i].res = NULL;
        }
        return -1;
    }
    return 0;
}

struct tx_stmt tx_stmt_named(enum sql_id id, const char *const *values)
{
    struct tx_stmt st = { NULL, 0, values, NULL, id };

    if ((unsigned)id < SQL__COUNT)
        st.nparams = sql_table[id].nparams;
    return st;
}

void tx_batch_init(struct tx_batch *b)
{
    memset(b, 0, sizeof(*b));
}

int tx_batch_add(struct tx_batch *b, const char *sql, int n, ...)
{
    va_list ap;

    if (b->n == (int)(sizeof(b->st) / sizeof(b->st[0]))
        || b->np + n > (int)(sizeof(b->params) / sizeof(b->params[0]))) {
        b->overflow = 1;
        return -1;
    }
    b->st[b->n].sql = sql;
    b->st[b->n].nparams = n;
    b->st[b->n].values = b->params + b->np;
    b->st[b->n].res = NULL;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        b->params[b->np++] = va_arg(ap, const char *);
    va_end(ap);
    return b->n++;
}

int tx_batch_add_stmt(struct tx_batch *b, const struct tx_stmt *st)
{
    if (b->n == (int)(sizeof(b->st) / sizeof(b->st[0]))) {
        b->overflow = 1;
        return -1;
    }
    b->st[b->n] = *st;
    b->st[b->n].res = NULL;
    return b->n++;
}

const char *tx_batch_i64(struct tx_batch *b, int64_t v)
{
    char *out = b->text + b->nt;
    int w;

    if (b->nt + 24 > sizeof(b->text)) {
        b->overflow = 1;
        return "";
    }
    w = snprintf(out, 24, "%" PRId64, v);
    b->nt += (size_t)w + 1;
    return out;
}

int tx_batch_send(struct tx *tx, struct tx_batch *b, int commit)
{
    if (b->overflow) {
        log_error("request %s: a statement batch overflowed", tx->s->id);
        tx->err = DB_FAILED;
        return -1;
    }
    return tx_exec_many(tx, b->st, b->n, commit);
}

void tx_batch_clear(struct tx_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        PQclear(b->st[i].res);
        b->st[i].res = NULL;
    }
}

PGresult *tx_exec(struct tx *tx, const char *sql, int nparams, const char *const *values)
{
    PGresult *res;

    if (!tx->begun && tx->begin_sql) {
        /* the first statement carries BEGIN with it: one round trip */
        struct tx_stmt st = { sql, nparams, values, NULL, 0 };
        return tx_exec_many(tx, &st, 1, 0) == 0 ? st.res : NULL;
    }
    tx->rounds++;
    res = PQexecParams(tx->conn, sql, nparams, NULL, values, NULL, NULL, 0);
    {
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            tx->err = DB_OK;
            tx->sqlstate[0] = '\0';
            return res;
        }
    }
    record_failure(tx, res);
    PQclear(res);
    return NULL;
}

PGresult *tx_exec_named(struct tx *tx, enum sql_id id, const char *const *values)
{
    const char *text = sql_text(id, tx->dialect);

    if (!text) {
        log_error("request %s: no statement %d in the table", tx->s->id, (int)id);
        tx->err = DB_FAILED;
        return NULL;
    }
    return tx_exec(tx, text, sql_table[id].nparams, values);
}

int tx_exec_named_void(struct tx *tx, enum sql_id id, const char *const *values)
{
    PGresult *res = tx_exec_named(tx, id, values);

    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int tx_exec_void(struct tx *tx, const char *sql, int nparams, const char *const *values)
{
    PGresult *res = tx_exec(tx, sql, nparams, values);

    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

static int simple(struct tx *tx, enum sql_id id)
{
    return tx_exec_named_void(tx, id, NULL);
}

static const char *begin_sql(const struct zs_config *cfg, int flags)
{
    int snapshot = cfg->dialect == ZS_DIALECT_DSQL || (flags & TX_SNAPSHOT);
    enum sql_id id;

    if (flags & TX_READ_ONLY)
        id = snapshot ? SQL_TX_BEGIN_READ_SNAPSHOT : SQL_TX_BEGIN_READ;
    else
        id = snapshot ? SQL_TX_BEGIN_SNAPSHOT : SQL_TX_BEGIN;
    return sql_text(id, cfg->dialect);
}

void db_session_init(struct db_session *s, const struct zs_config *cfg, const char *id,
                     enum metrics_endpoint endpoint)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->id = id;
    s->endpoint = endpoint;
    clock_gettime(CLOCK_MONOTONIC, &s->start);
}

/* End a failed run: what happened goes to the session, and to the log. */
static enum tx_result failed(struct db_session *s, const struct tx *tx, enum tx_result res,
                             const char *why)
{
    snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", tx ? tx->sqlstate : "");
    snprintf(s->why, sizeof(s->why), "%.*s", (int)sizeof(s->why) - 1, why);
    switch (res) {
    case TX_RESULT_UNAVAILABLE:
        log_warn("request %s: database unavailable: %s", s->id, why);
        break;
    case TX_RESULT_CONTENTION:
        log_warn("request %s: gave up after %d attempts (SQLSTATE %s)", s->id, tx->attempt,
                 tx->sqlstate);
        break;
    case TX_RESULT_FAILED:
        if (strcmp(tx->sqlstate, "22003") == 0) /* a sum past bigint: a refusal, not a fault */
            log_warn("request %s: a value out of range (SQLSTATE 22003), rolled back", s->id);
        else
            log_error("request %s: transaction failed (SQLSTATE %s)", s->id,
                      tx->sqlstate[0] ? tx->sqlstate : "-");
        break;
    case TX_RESULT_PREAMBLE:
    case TX_RESULT_DONE:
        break;
    }
    return res;
}

enum tx_result tx_run(struct db_session *s, int flags, tx_fn fn, void *arg,
                      enum tx_decision *decision)
{
    const struct zs_config *cfg = s->cfg;
    char err[512];
    int reused, reconnected = 0;
    struct tx tx;
    PGconn *conn = acquire(cfg, &reused, err, sizeof(err));

    if (!conn)
        return failed(s, NULL, TX_RESULT_UNAVAILABLE, err);
    memset(&tx, 0, sizeof(tx));
    tx.s = s;
    tx.cfg = cfg;
    tx.conn = conn;
    tx.dialect = cfg->dialect;

    for (tx.attempt = 1;; tx.attempt++) {
        enum tx_decision d;

        s->attempts++;
        tx.begin_sql = begin_sql(cfg, flags);
        tx.begun = tx.commit_sent = tx.committed = tx.rounds = tx.preamble_failed = 0;
        tx.err = DB_OK;
        tx.sqlstate[0] = '\0';
        d = fn(&tx, arg);
        if (tx.preamble_failed) {
            /* It failed before anything else ran; nothing to retry. Keep
             * its SQLSTATE: a successful ROLLBACK clears tx.sqlstate. */
            char state[sizeof(tx.sqlstate)];
            memcpy(state, tx.sqlstate, sizeof(state));
            if (PQtransactionStatus(conn) != PQTRANS_IDLE)
                (void)simple(&tx, SQL_TX_ROLLBACK);
            memcpy(tx.sqlstate, state, sizeof(state));
            metrics_count_tx(s->endpoint, tx.attempt, 0);
            release(cfg, conn, PQstatus(conn) != CONNECTION_OK);
            return failed(s, &tx, TX_RESULT_PREAMBLE, "the preamble refused the transaction");
        }
        if (d == TX_COMMIT) {
            if (tx.committed || !tx.begun || simple(&tx, SQL_TX_COMMIT) == 0) {
                *decision = TX_COMMIT;
                break;
            }
        } else if (d == TX_ROLLBACK) {
            if (!tx.begun || simple(&tx, SQL_TX_ROLLBACK) == 0) {
                *decision = TX_ROLLBACK;
                break;
            }
        } else if (tx.err == DB_OK) {
            tx.err = DB_FAILED; /* fn failed without a statement failing */
        }
        /* A reused connection that died while idle (PgBouncer or the server
         * restarted) fails on the first round trip, before any COMMIT went
         * out: nothing can have happened, so reconnect once and start over. */
        if (tx.err == DB_UNAVAILABLE && reused && !reconnected && tx.rounds <= 1
            && !tx.commit_sent) {
            release(cfg, conn, 1);
            reconnected = 1;
            s->attempts--;
            tx.attempt--;
            conn = acquire(cfg, &reused, err, sizeof(err));
            if (!conn)
                return failed(s, &tx, TX_RESULT_UNAVAILABLE, err);
            tx.conn = conn;
            continue;
        }
        if (tx.err != DB_UNAVAILABLE && PQtransactionStatus(conn) != PQTRANS_IDLE) {
            /* Roll back, but keep the failure that brought us here: a
             * successful ROLLBACK must not turn a 40001 into "no error". */
            enum db_error why = tx.err;
            char state[sizeof(tx.sqlstate)];
            memcpy(state, tx.sqlstate, sizeof(state));
            if (simple(&tx, SQL_TX_ROLLBACK) == 0) {
                tx.err = why;
                memcpy(tx.sqlstate, state, sizeof(state));
            }
        }
        if (tx.err == DB_RETRYABLE && tx.attempt < cfg->tx_max_attempts) {
            int ms = db_backoff_ms(tx.attempt, cfg->tx_backoff_base_ms, cfg->tx_backoff_max_ms,
                                   rng_next());
            log_debug("request %s: SQLSTATE %s, retry %d in %d ms", s->id, tx.sqlstate, tx.attempt,
                      ms);
            if (ms > 0) {
                struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                    ;
            }
            continue;
        }
        metrics_count_tx(s->endpoint, tx.attempt, 0);
        if (tx.err == DB_UNAVAILABLE) {
            /* libpq's own words (first line) say why: a server shutdown, a
             * closed socket, PgBouncer's refusal. Read before release(). */
            const char *why = PQerrorMessage(conn);
            snprintf(err, sizeof(err), "connection lost (SQLSTATE %s): %.*s",
                     tx.sqlstate[0] ? tx.sqlstate : "-", (int)strcspn(why, "\n"), why);
            release(cfg, conn, 1);
            return failed(s, &tx, TX_RESULT_UNAVAILABLE, err);
        }
        release(cfg, conn, 0);
        return failed(s, &tx, tx.err == DB_RETRYABLE ? TX_RESULT_CONTENTION : TX_RESULT_FAILED, "");
    }
    metrics_count_tx(s->endpoint, tx.attempt, *decision == TX_COMMIT);
    release(cfg, conn, 0);
    return TX_RESULT_DONE;
}
