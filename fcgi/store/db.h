/*
 * db.h — database connections under the configured policy, and the
 * transaction runner (the store layer: it returns outcomes and knows
 * nothing of HTTP; the API layer turns them into answers, api/api_tx.h).
 *
 * tx_run() opens (or reuses) a connection whose password was just minted by
 * the token provider, runs a caller's function inside BEGIN … COMMIT, and
 * retries the whole transaction on 40001 / 40P01 with exponential backoff
 * and full jitter, a bounded number of times. It reports a lost or refused
 * connection, exhausted retries and other failures as a tx_result, with
 * the SQLSTATE; no libpq text leaves this layer but to the log.
 */
#ifndef ZS_DB_H
#define ZS_DB_H

#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "config.h"
#include "metrics.h"
#include "store/sql.h"
#include "util.h"

/*
 * Who runs transactions, and what they learn: one per request (the API
 * layer fills it from the request) or per job (the jobs child).
 */
struct db_session {
    const struct zs_config *cfg;
    const char *id;                 /* request id or job name, for log lines */
    enum metrics_endpoint endpoint; /* metrics label */
    struct timespec start;          /* CLOCK_MONOTONIC when the work began (budgets) */
    int attempts;                   /* out: transaction attempts made, summed */
    /* A statement that rides first in every transaction's first round trip
     * (the API layer checks token revocation with it): when it fails, the
     * transaction stops at once with TX_RESULT_PREAMBLE. */
    int has_preamble;
    enum sql_id preamble;
    const char *preamble_values[2];
    /* out, after a failed tx_run(): the SQLSTATE ("" when none) and why */
    char sqlstate[6];
    char why[256];
};

/* Fill s for work outside any request (the jobs child); start is now. */
void db_session_init(struct db_session *s, const struct zs_config *cfg, const char *id,
                     enum metrics_endpoint endpoint);

enum db_error {
    DB_OK,
    DB_RETRYABLE,   /* 40001 serialization failure, 40P01 deadlock */
    DB_UNAVAILABLE, /* connection lost or refused, server shutting down */
    DB_FAILED,      /* anything else: constraint, syntax, … */
};

struct tx {
    struct db_session *s;
    const struct zs_config *cfg; /* s->cfg */
    PGconn *conn;
    enum db_error err;
    char sqlstate[6];
    int attempt; /* 1-based */
    /* BEGIN is not sent on its own: it rides with the first statements. */
    const char *begin_sql;
    enum sql_id begin_id;    /* …and the BEGIN statement it is */
    int prepared;            /* statements go by name, prepared on this connection */
    enum zs_dialect dialect; /* which text of a named statement to send */
    int begun;               /* BEGIN has been sent and succeeded */
    int commit_sent;         /* a COMMIT went out in a pipeline */
    int committed;           /* …and succeeded */
    int rounds;              /* round trips made in this attempt */
    int preamble_failed;     /* the session's preamble refused the transaction */
    /* Of the failure tx_exec_many() recorded: the index into its s[] of the
     * statement that failed (-1: BEGIN, COMMIT, the connection …), and
     * whether the error came with a context (PG_DIAG_CONTEXT): a lock
     * timeout has one when the wait was for another transaction's row
     * ("while inserting index tuple …"), none for a table or
     * relation-extension lock. */
    int err_stmt;
    int err_context;
};

/*
 * One statement of a pipeline (see tx_exec_many). A statement is named by
 * id from the statement table (tx_stmt_named); sql, when not NULL, is a
 * literal text instead, for statements not yet moved into sql/queries/.
 */
struct tx_stmt {
    const char *sql;
    int nparams;
    const char *const *values;
    PGresult *res;  /* out: the result, owned by the caller */
    enum sql_id id; /* used when sql is NULL */
};

/* The pipeline statement id with its parameters (values must outlive the send). */
struct tx_stmt tx_stmt_named(enum sql_id id, const char *const *values);

enum tx_decision {
    TX_COMMIT,   /* commit the work */
    TX_ROLLBACK, /* business rejection: roll back, do not retry */
    TX_ERROR,    /* a tx_exec() failed; tx->err says why */
};

typedef enum tx_decision (*tx_fn)(struct tx *tx, void *arg);

enum tx_flags {
    TX_READ_ONLY = 1, /* BEGIN … READ ONLY */
    TX_SNAPSHOT = 2,  /* REPEATABLE READ even on the postgres dialect */
};

enum tx_result {
    TX_RESULT_DONE,        /* fn's decision was carried out: *decision says which */
    TX_RESULT_UNAVAILABLE, /* no connection, or it was lost: retry later */
    TX_RESULT_CONTENTION,  /* 40001/40P01 on every attempt: retry later */
    TX_RESULT_PREAMBLE,    /* the session's preamble statement refused it */
    TX_RESULT_FAILED,      /* anything else; s->sqlstate says what */
};

/*
 * Run fn(tx, arg) in a transaction, retrying on 40001/40P01; every failure
 * is rolled back and logged. fn is called again from scratch on every
 * attempt and must reset any state it keeps in arg.
 */
enum tx_result tx_run(struct db_session *s, int flags, tx_fn fn, void *arg,
                      enum tx_decision *decision);

/*
 * Execute one parameterised statement (text params; NULL values are SQL
 * NULL). Returns the result (caller PQclear()s it) when its status is
 * COMMAND_OK or TUPLES_OK; otherwise NULL with tx->err and tx->sqlstate set
 * and the error logged at debug level.
 */
PGresult *tx_exec(struct tx *tx, const char *sql, int nparams, const char *const *values);

/* tx_exec() of the named statement id; its parameter count comes from the table. */
PGresult *tx_exec_named(struct tx *tx, enum sql_id id, const char *const *values);

/*
 * Run statement id, whose one parameter is a row limit ($1 = limit), and
 * copy the first column of at most max rows into ids (ids to work on: due
 * lots, pending transfers, stale resolutions). The count, or -1.
 */
int tx_exec_ids(struct tx *tx, enum sql_id id, int limit, char ids[][UUID_STR_LEN + 1], int max);

/* One row of a sweep (tx_sweep): its id, the sweep's context, and whether
 * the row's transaction acted on it (set by the callback). */
struct tx_sweep_row {
    const char *id;
    void *ctx;
    int acted;
};

/*
 * The jobs child's sweeps: list up to limit (at most 64) ids with statement
 * list ($1 the limit) in a read-only transaction, then run one(tx, row) for
 * each in a transaction of its own (a struct tx_sweep_row *); each row that
 * acted is logged as "<what> <id>". The number that acted, or -1 when the
 * database is away or busy (the next round retries).
 */
int tx_sweep(struct db_session *s, enum sql_id list, int limit, tx_fn one, void *ctx,
             const char *what);

/* tx_exec_named() for a statement whose result is not needed. 0, or -1 (tx->err set). */
int tx_exec_named_void(struct tx *tx, enum sql_id id, const char *const *values);

/* tx_exec() for a statement whose result is not needed. 0, or -1 (tx->err set). */
int tx_exec_void(struct tx *tx, const char *sql, int nparams, const char *const *values);

/*
 * Send statements s[0..n) — preceded by BEGIN if the transaction has not
 * begun, followed by COMMIT if commit — in one pipeline, one round trip.
 * Returns 0 when every statement succeeded (each s[i].res set, the caller
 * PQclear()s them), or -1 with tx->err/sqlstate from the first failure and
 * no results kept. After a successful commit, tx->committed is set and the
 * runner sends no COMMIT of its own.
 */
int tx_exec_many(struct tx *tx, struct tx_stmt *s, int n, int commit);

/*
 * A pipeline being assembled: statements and the parameter pointers and
 * decimal texts they need, all living in the batch until it is sent.
 */
struct tx_batch {
    struct tx_stmt st[16];
    const char *params[128];
    char text[1024];
    int n, np;
    size_t nt;
    int overflow;
};

void tx_batch_init(struct tx_batch *b);

/* Append a statement with n text parameters (pointers copied; the strings
 * must outlive the send). Returns its index, or -1 when the batch is full. */
int tx_batch_add(struct tx_batch *b, const char *sql, int n, ...);

/* Append st as it is (a named statement from tx_stmt_named(), say); its
 * values are not copied and must outlive the send. Returns its index, or
 * -1 when the batch is full. */
int tx_batch_add_stmt(struct tx_batch *b, const struct tx_stmt *st);

/* A decimal copy of v that lives as long as the batch ("" if full). */
const char *tx_batch_i64(struct tx_batch *b, int64_t v);

/* Send the batch (see tx_exec_many). 0, or -1 (also for an overflowed batch). */
int tx_batch_send(struct tx *tx, struct tx_batch *b, int commit);

/* PQclear every result the batch holds. */
void tx_batch_clear(struct tx_batch *b);

/* Classify a SQLSTATE ("40001" → DB_RETRYABLE …). NULL or "" → DB_UNAVAILABLE. */
enum db_error db_classify(const char *sqlstate);

/* Backoff before attempt n+1 (n ≥ 1): uniform in [0, min(max, base·2^(n-1))] ms. */
int db_backoff_ms(int attempt, int base_ms, int max_ms, unsigned int rnd);

/*
 * Whether transactions under cfg send named prepared statements: the
 * per-worker policy with prepared_statements on. Each statement is then
 * prepared on the worker's connection the first time it is used (its Parse
 * riding in the same pipeline) under its table name, and executed by name;
 * the set is dropped with the connection, and a stale set (SQLSTATE 26000,
 * or 0A000 after a migration changed a result type) costs one reconnect
 * and one more run of the transaction. Otherwise statements are unnamed.
 */
int db_prepares(const struct zs_config *cfg);

/*
 * Under the per-worker policy, open the worker's connection now, before
 * its first request (a worker's start): a burst that meets fresh workers
 * then waits for no backend start-up and authentication. 0 (also under
 * per-request, which connects per request), or -1 with a warning logged:
 * the first request connects instead.
 */
int db_open_worker_connection(const struct zs_config *cfg);

/* Close the per-worker connection, if any (worker exit, recycle). */
void db_close_worker_connection(void);

/*
 * In a child just forked: let go of the per-worker connection inherited from
 * the parent without touching the parent's session (no Terminate is sent on
 * the shared socket, which stays open in the parent). The child connects
 * anew on its first transaction. Two processes on one connection interleave
 * their protocol messages: every process that forks and then runs
 * transactions calls this first.
 */
void db_forget_inherited_connection(void);

/* Open a connection with a fresh credential; NULL with a message on failure. */
PGconn *db_connect(const struct zs_config *cfg, char *err, size_t errlen);

#endif
