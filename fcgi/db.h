/*
 * db.h — database connections under the configured policy, and the
 * transaction runner.
 *
 * tx_run() opens (or reuses) a connection whose password was just minted by
 * the token provider, runs a caller's function inside BEGIN … COMMIT, and
 * retries the whole transaction on 40001 / 40P01 with exponential backoff
 * and full jitter, a bounded number of times. A lost or refused connection
 * answers 503 with Retry-After; anything else is a logged 500 and no libpq
 * text ever reaches the client.
 */
#ifndef ZS_DB_H
#define ZS_DB_H

#include <stdint.h>

#include <libpq-fe.h>

#include "http.h"
#include "sql.h"

enum db_error {
    DB_OK,
    DB_RETRYABLE,      /* 40001 serialization failure, 40P01 deadlock */
    DB_UNAVAILABLE,    /* connection lost or refused, server shutting down */
    DB_FAILED,         /* anything else: constraint, syntax, … */
};

struct tx {
    struct request *r;
    PGconn *conn;
    enum db_error err;
    char sqlstate[6];
    int attempt;                   /* 1-based */
    /* BEGIN is not sent on its own: it rides with the first statements. */
    const char *begin_sql;
    enum zs_dialect dialect;       /* which text of a named statement to send */
    int begun;                     /* BEGIN has been sent and succeeded */
    int commit_sent;               /* a COMMIT went out in a pipeline */
    int committed;                 /* …and succeeded */
    int rounds;                    /* round trips made in this attempt */
    int revoked;                   /* the bearer token's revocation check refused it */
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
    PGresult *res;                 /* out: the result, owned by the caller */
    enum sql_id id;                /* used when sql is NULL */
};

/* The pipeline statement id with its parameters (values must outlive the send). */
struct tx_stmt tx_stmt_named(enum sql_id id, const char *const *values);

enum tx_decision {
    TX_COMMIT,                     /* commit the work */
    TX_ROLLBACK,                   /* business rejection: roll back, do not retry */
    TX_ERROR,                      /* a tx_exec() failed; tx->err says why */
};

typedef enum tx_decision (*tx_fn)(struct tx *tx, void *arg);

enum tx_flags {
    TX_READ_ONLY = 1,              /* BEGIN … READ ONLY */
    TX_SNAPSHOT = 2,               /* REPEATABLE READ even on the postgres dialect */
};

/*
 * Run fn(tx, arg) in a transaction, retrying on 40001/40P01.
 * Returns 0 when fn's decision was carried out (committed or rolled back;
 * *decision says which), or -1 when the request has already been answered
 * with 503 (unavailable, retries exhausted), 422 amount_out_of_range (a
 * statement failed with SQLSTATE 22003: a sum beyond bigint, rolled back)
 * or 500 (other failure).
 * fn is called again from scratch on every attempt and must reset any
 * state it keeps in arg.
 */
int tx_run(struct request *r, int flags, tx_fn fn, void *arg, enum tx_decision *decision);

/*
 * Execute one parameterised statement (text params; NULL values are SQL
 * NULL). Returns the result (caller PQclear()s it) when its status is
 * COMMAND_OK or TUPLES_OK; otherwise NULL with tx->err and tx->sqlstate set
 * and the error logged at debug level.
 */
PGresult *tx_exec(struct tx *tx, const char *sql, int nparams, const char *const *values);

/*
 * Finish a read handler after tx_run() (rc is its result), taking ownership
 * of out: rc < 0 means the request was answered already and out is
 * released; a NULL out answers 404 with missing_code; otherwise 200 with
 * {key: out}, or out itself when key is NULL.
 */
void tx_answer_read(struct request *r, int rc, struct json_object *out, const char *key,
                    const char *missing_code, const char *missing_detail);

/* tx_exec() of the named statement id; its parameter count comes from the table. */
PGresult *tx_exec_named(struct tx *tx, enum sql_id id, const char *const *values);

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

/* Close the per-worker connection, if any (worker exit, recycle). */
void db_close_worker_connection(void);

/* Open a connection with a fresh credential; NULL with a message on failure. */
PGconn *db_connect(const struct zs_config *cfg, char *err, size_t errlen);

#endif
