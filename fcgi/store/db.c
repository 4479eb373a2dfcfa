/*
 * db.c — connection policy, pipelines (named prepared statements on a
 * per-worker connection, unnamed ones otherwise) and the retrying
 * transaction runner (the store layer: see db.h).
 */
#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

static PGconn *worker_conn;
/*
 * The per-worker connection's prepared statements, by statement id: none,
 * a Parse in flight in the current pipeline, or prepared (named after the
 * statement). Emptied whenever that connection is closed or replaced.
 */
enum prep_state { PREP_NONE, PREP_SENT, PREP_READY };
static unsigned char worker_prepared[SQL__COUNT];
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

void db_close_worker_connection(void)
{
    if (worker_conn) {
        PQfinish(worker_conn);
        worker_conn = NULL;
    }
    memset(worker_prepared, 0, sizeof(worker_prepared));
}

void db_forget_inherited_connection(void)
{
    if (worker_conn) {
        int fd = PQsocket(worker_conn), null = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* the child's copy of the socket is replaced by /dev/null, so
         * PQfinish's goodbye goes nowhere and the parent's session lives on */
        if (fd >= 0 && null >= 0)
            dup2(null, fd);
        if (null >= 0)
            close(null);
        if (fd >= 0 && null < 0)
            close(fd);
        PQfinish(worker_conn);
        worker_conn = NULL;
    }
    memset(worker_prepared, 0, sizeof(worker_prepared));
}

int db_prepares(const struct zs_config *cfg)
{
    return cfg->connection_policy == ZS_POLICY_PER_WORKER && cfg->prepared_statements;
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

int db_open_worker_connection(const struct zs_config *cfg)
{
    char err[256];
    int reused;

    if (cfg->connection_policy != ZS_POLICY_PER_WORKER)
        return 0;
    if (!acquire(cfg, &reused, err, sizeof(err))) {
        log_warn("connecting ahead of the first request failed (the first request connects): %s",
                 err);
        return -1;
    }
    return 0;
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
    const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;

    snprintf(tx->sqlstate, sizeof(tx->sqlstate), "%s", state ? state : "");
    tx->err_stmt = -1;
    tx->err_context = context && context[0];
    tx->err = PQstatus(tx->conn) == CONNECTION_BAD ? DB_UNAVAILABLE : db_classify(state);
    if (tx->err == DB_FAILED || tx->err == DB_UNAVAILABLE) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(tx->conn);
        log_debug("request %s: statement failed (SQLSTATE %s): %.*s", tx->s->id,
                  tx->sqlstate[0] ? tx->sqlstate : "-", (int)strcspn(msg, "\n"), msg);
    }
}

/* What one result of a pipeline answers (see tx_exec_many). */
enum slot_kind { SLOT_BEGIN, SLOT_PREAMBLE, SLOT_PREPARE, SLOT_STMT, SLOT_COMMIT };
struct slot {
    enum slot_kind kind;
    int idx; /* SLOT_STMT: index into s[]; SLOT_PREPARE: statement id */
};

/*
 * Queue one statement on c in pipeline mode: a literal text, or named
 * statement id — unnamed (PQsendQueryParams) on a per-request connection,
 * by its name on a prepared one, with a Parse riding ahead of it the first
 * time. Appends its result slots to slots[*ns]. 0, or -1 if libpq refused.
 */
static int send_stmt(struct tx *tx, const char *literal, enum sql_id id, int nparams,
                     const char *const *values, struct slot *slots, int *ns, struct slot self)
{
    PGconn *c = tx->conn;
    const char *text = literal ? literal : sql_text(id, tx->dialect);

    if (!text)
        return -1;
    if (literal || !tx->prepared) {
        if (!PQsendQueryParams(c, text, nparams, NULL, values, NULL, NULL, 0))
            return -1;
    } else {
        if (worker_prepared[id] == PREP_NONE) {
            if (!PQsendPrepare(c, sql_name(id), text, nparams, NULL))
                return -1;
            worker_prepared[id] = PREP_SENT;
            slots[(*ns)++] = (struct slot){ SLOT_PREPARE, (int)id };
        }
        if (!PQsendQueryPrepared(c, sql_name(id), nparams, values, NULL, NULL, 0))
            return -1;
    }
    slots[(*ns)++] = self;
    return 0;
}

/* Queue BEGIN, the preamble, s[0..n) and COMMIT as tx_exec_many says. */
static int send_all(struct tx *tx, struct tx_stmt *s, int n, int begin, int check, int commit,
                    struct slot *slots, int *ns)
{
    const struct db_session *ss = tx->s;

    if (begin
        && send_stmt(tx, NULL, tx->begin_id, 0, NULL, slots, ns, (struct slot){ SLOT_BEGIN, 0 }))
        return -1;
    if (check
        && send_stmt(tx, NULL, ss->preamble, sql_table[ss->preamble].nparams, ss->preamble_values,
                     slots, ns, (struct slot){ SLOT_PREAMBLE, 0 }))
        return -1;
    for (int i = 0; i < n; i++)
        if (send_stmt(tx, s[i].sql, s[i].id, s[i].nparams, s[i].values, slots, ns,
                      (struct slot){ SLOT_STMT, i }))
            return -1;
    if (commit) {
        tx->commit_sent = 1;
        if (send_stmt(tx, NULL, SQL_TX_COMMIT, 0, NULL, slots, ns, (struct slot){ SLOT_COMMIT, 0 }))
            return -1;
    }
    return 0;
}

/* Take the result of one slot: keep a statement's, note BEGIN/COMMIT/Parse. */
static void take_result(struct tx *tx, struct tx_stmt *s, struct slot sl, PGresult **resp)
{
    PGresult *res = *resp;
    ExecStatusType st = PQresultStatus(res);
    int good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (sl.kind == SLOT_PREPARE) /* a Parse that did not run must be sent again */
        worker_prepared[sl.idx] = good ? PREP_READY : PREP_NONE;
    if (good) {
        if (sl.kind == SLOT_BEGIN)
            tx->begun = 1;
        else if (sl.kind == SLOT_COMMIT)
            tx->committed = 1;
        else if (sl.kind == SLOT_STMT) {
            s[sl.idx].res = res;
            *resp = NULL;
        }
    } else if (st != PGRES_PIPELINE_ABORTED && tx->err == DB_OK) {
        if (sl.kind == SLOT_BEGIN)
            tx->begun = 0;
        record_failure(tx, res);
        if (sl.kind == SLOT_STMT)
            tx->err_stmt = sl.idx;
        if (sl.kind == SLOT_PREAMBLE && tx->err == DB_FAILED)
            tx->preamble_failed = 1;
        if (tx->err == DB_OK)
            tx->err = DB_FAILED;
    }
}

/* After the last result: the Sync's own result, then back to normal mode. */
static void end_pipeline(struct tx *tx)
{
    PGresult *sync;

    while ((sync = PQgetResult(tx->conn)) != NULL) {
        int is_sync = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
        PQclear(sync);
        if (is_sync)
            break;
    }
    if (PQexitPipelineMode(tx->conn) != 1 && tx->err == DB_OK) {
        record_failure(tx, NULL);
        tx->err = DB_UNAVAILABLE;
    }
}

int tx_exec_many(struct tx *tx, struct tx_stmt *s, int n, int commit)
{
    PGconn *c = tx->conn;
    int begin = !tx->begun && tx->begin_sql, ns = 0, failed;
    /* the session's preamble rides first in the transaction's first round trip */
    int check = begin && tx->s->has_preamble;
    /* at most a Parse ahead of each statement */
    struct slot small[40], *slots = small;
    size_t cap = 2 * ((size_t)n + 3);

    for (int i = 0; i < n; i++)
        s[i].res = NULL;
    tx->rounds++;
    if (cap > sizeof(small) / sizeof(small[0]) && !(slots = malloc(cap * sizeof(*slots)))) {
        log_error("request %s: out of memory for a pipeline", tx->s->id);
        tx->err = DB_FAILED;
        return -1;
    }
    if (PQenterPipelineMode(c) != 1) {
        record_failure(tx, NULL);
        if (tx->err == DB_OK)
            tx->err = DB_UNAVAILABLE;
        if (slots != small)
            free(slots);
        return -1;
    }
    failed = send_all(tx, s, n, begin, check, commit, slots, &ns);
    if (failed || PQpipelineSync(c) != 1) {
        /* the connection is gone; nothing more will come back */
        record_failure(tx, NULL);
        tx->err = DB_UNAVAILABLE;
        (void)PQexitPipelineMode(c);
        for (int k = 0; k < ns; k++)
            if (slots[k].kind == SLOT_PREPARE)
                worker_prepared[slots[k].idx] = PREP_NONE;
        if (slots != small)
            free(slots);
        return -1;
    }
    tx->err = DB_OK;
    tx->sqlstate[0] = '\0';
    for (int k = 0; k < ns; k++) {
        PGresult *res = PQgetResult(c), *end;

        if (!res) {
            if (tx->err == DB_OK) {
                record_failure(tx, NULL);
                tx->err = DB_UNAVAILABLE;
            }
            for (; k < ns; k++) /* what never answered was never prepared */
                if (slots[k].kind == SLOT_PREPARE)
                    worker_prepared[slots[k].idx] = PREP_NONE;
            break;
        }
        take_result(tx, s, slots[k], &res);
        PQclear(res);
        while ((end = PQgetResult(c)) != NULL) /* each query ends with a NULL */
            PQclear(end);
    }
    end_pipeline(tx);
    if (slots != small)
        free(slots);
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
    if (tx->prepared) {
        /* by name, its Parse riding along the first time: one round trip */
        struct tx_stmt st = tx_stmt_named(id, values);
        return tx_exec_many(tx, &st, 1, 0) == 0 ? st.res : NULL;
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

static enum sql_id begin_id(const struct zs_config *cfg, int flags)
{
    int snapshot = cfg->dialect == ZS_DIALECT_DSQL || (flags & TX_SNAPSHOT);
    enum sql_id id;

    if (flags & TX_READ_ONLY)
        id = snapshot ? SQL_TX_BEGIN_READ_SNAPSHOT : SQL_TX_BEGIN_READ;
    else
        id = snapshot ? SQL_TX_BEGIN_SNAPSHOT : SQL_TX_BEGIN;
    return id;
}

/*
 * A prepared statement the server no longer has (26000), whose plan a
 * migration changed under it ("cached plan must not change result type",
 * 0A000), or a name the server already holds (42P05: a pooler between us
 * and the server): the connection's prepared set is stale, not the
 * transaction.
 */
static int stale_prepared(const struct tx *tx)
{
    return tx->prepared && tx->err == DB_FAILED && !tx->committed
        && (strcmp(tx->sqlstate, "26000") == 0 || strcmp(tx->sqlstate, "0A000") == 0
            || strcmp(tx->sqlstate, "42P05") == 0);
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
    int reused, reconnected = 0, reprepared = 0, again;
    struct tx tx;
    PGconn *conn = acquire(cfg, &reused, err, sizeof(err));

    if (!conn)
        return failed(s, NULL, TX_RESULT_UNAVAILABLE, err);
    memset(&tx, 0, sizeof(tx));
    tx.s = s;
    tx.cfg = cfg;
    tx.conn = conn;
    tx.dialect = cfg->dialect;
    tx.prepared = db_prepares(cfg);

    for (tx.attempt = 1;; tx.attempt++) {
        enum tx_decision d;

        s->attempts++;
        tx.begin_id = begin_id(cfg, flags);
        tx.begin_sql = sql_text(tx.begin_id, cfg->dialect);
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
        /* Start over once on a new connection, nothing having been
         * committed: when the prepared statements are stale (a migration,
         * a DEALLOCATE; the new connection prepares them afresh from the
         * table), or when a reused connection died while idle (PgBouncer or
         * the server restarted: it fails on the first round trip, before
         * any COMMIT went out). */
        again = 0;
        if (stale_prepared(&tx) && !reprepared) {
            log_warn("request %s: prepared statements are stale (SQLSTATE %s): reconnecting", s->id,
                     tx.sqlstate);
            reprepared = again = 1;
        } else if (tx.err == DB_UNAVAILABLE && reused && !reconnected && tx.rounds <= 1
                   && !tx.commit_sent) {
            reconnected = again = 1;
        }
        if (again) {
            release(cfg, conn, 1);
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
    if (*decision == TX_COMMIT)
        metrics_count_round_trips(s->endpoint, tx.rounds);
    release(cfg, conn, 0);
    return TX_RESULT_DONE;
}
