/*
 * idempotency.h — exactly-once mutations under client retries.
 *
 * A single-transaction mutation claims its key inside the same transaction
 * as the effect and finishes it (status and body stored) before COMMIT. A
 * concurrent duplicate on PostgreSQL waits for the uncommitted key row at
 * most idempotency_wait_ms (SET LOCAL lock_timeout around the claim), then
 * answers 409 idempotency_key_in_flight without holding its worker; on the
 * dsql dialect nothing waits (optimistic concurrency): the later commit
 * fails with 40001 and its retry replays the first answer.
 *
 * A mutation that spans several transactions (market resolution) claims its
 * key in the first and commits it 'pending', and finishes it in the last:
 * a later claim of a pending key is IDEM_PENDING, which the operation
 * itself resumes (or answers as in flight while its owner still runs).
 *
 * Keys are scoped to the caller ("user:<sub>" or "admin:<sub>"); the
 * fingerprint is SHA-256 of "METHOD PATH\n" plus the canonical JSON of the
 * body with its defaults applied (idem_canonical_request), so member order,
 * whitespace, and optional members sent as null or at their default do
 * not matter.
 */
#ifndef ZS_IDEMPOTENCY_H
#define ZS_IDEMPOTENCY_H

#include "store/db.h"
#include "api/http.h"

enum idem_outcome {
    IDEM_NEW,       /* claimed: do the work, then idem_finish() */
    IDEM_REPLAY,    /* same request finished before: replay status and body */
    IDEM_IN_FLIGHT, /* same key still being processed: 409 + Retry-After */
    IDEM_PENDING,   /* same request claimed by a multi-transaction operation that
                          committed its first step and has not finished: resume it */
    IDEM_MISMATCH,  /* same key, different request: 422 */
};

struct idem {
    char caller[80];
    const char *key;
    char scoped[80 + 1 + 256]; /* "caller:key", recorded on the rows it creates */
    char fingerprint[65];
    enum idem_outcome outcome;
    int status;         /* stored status, for IDEM_REPLAY */
    char *body;         /* stored body (malloc'd), for IDEM_REPLAY */
    char now[40];       /* the transaction's now(), RFC 3339, after a claim */
    int lock_wait_ms;   /* postgres: wait this long for a concurrent claim; -1: no SET */
    char lock_wait[16]; /* "<n>ms", the parameter of the brief wait */
    const char *lock_params[1];
    int claim_at; /* index of the INSERT among the claim statements */
    int claim_n;  /* how many claim statements */
    /* parameters of the pipelined statements (must outlive the send) */
    const char *claim_params[3];
    const char *finish_params[4];
    char finish_status[16];
};

/*
 * Check that the request carries an Idempotency-Key (400
 * missing_idempotency_key otherwise) and compute the caller scope and the
 * fingerprint of r->json. Returns 0, or -1 after answering.
 */
int idem_prepare(struct request *r, struct idem *i);

/* The most statements idem_claim_stmts() fills. */
#define IDEM_CLAIM_STMTS 3

/*
 * Inside a transaction: claim the key, or learn why not (i->outcome).
 * Returns 0 on success (whatever the outcome) or -1 when a statement
 * failed (tx->err says why). Frees a body left by an earlier attempt.
 */
int idem_claim(struct tx *tx, struct idem *i);

/*
 * The claim as statements for a pipeline (tx_exec_many): fills st[0..n)
 * and returns n (at most IDEM_CLAIM_STMTS). On the postgres dialect the
 * INSERT runs under SET LOCAL lock_timeout, reset right after it.
 * idem_claim() is these with one round trip.
 */
int idem_claim_stmts(struct idem *i, struct tx_stmt *st);

/*
 * After the pipeline that carried the claim failed: 1 if the failure is
 * the claim's wait for a concurrent holder of the key timing out (55P03 on
 * the claim, while waiting for another transaction's row: the error has a
 * context), and then i->outcome is IDEM_IN_FLIGHT and the transaction is to
 * be rolled back; 0 for any other failure. A claim that timed out on any
 * other lock (a table's, the relation-extension lock) is made retryable
 * (tx->err = DB_RETRYABLE): a new key is never answered 409.
 */
int idem_claim_timed_out(struct tx *tx, struct idem *i);

/*
 * After the pipeline succeeded: read the claim's results from st (the
 * statements idem_claim_stmts() filled, whose results it takes over) and
 * set i->outcome; on a conflict it looks the stored key up (one more round
 * trip). 0, or -1 on a failed statement.
 */
int idem_claim_result(struct tx *tx, struct idem *i, struct tx_stmt *st);

/*
 * The canonical text that the fingerprint hashes: "METHOD PATH\n" and the
 * canonical JSON of body without the optional members that are null or at
 * their default for this route (one table in idempotency.c). malloc'd, or
 * NULL when out of memory.
 */
char *idem_canonical_request(const char *method, const char *path, struct json_object *body);

/* The finishing UPDATE as a pipeline statement; body must outlive the send. */
void idem_finish_stmt(struct idem *i, int status, const char *body, struct tx_stmt *st);

/* Inside the same transaction: store the final status and body. 0 / -1. */
int idem_finish(struct tx *tx, struct idem *i, int status, const char *body);

/* Answer r for IDEM_REPLAY, IDEM_IN_FLIGHT/IDEM_PENDING (409) or IDEM_MISMATCH. */
void idem_respond(struct request *r, const struct idem *i);

/*
 * Answer a mutation whose transaction ran (tx_run() returned 0): a rollback
 * without a body of its own replays or refuses through the key
 * (idem_respond); anything else sends status and body, as problem+json
 * from 400 up.
 */
void idem_answer(struct request *r, enum tx_decision d, const struct idem *i, int status,
                 const char *body);

/* Release what idem_claim() kept. */
void idem_free(struct idem *i);

#endif
