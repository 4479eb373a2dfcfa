/*
 * idempotency.h — exactly-once mutations under client retries.
 *
 * The key row is claimed inside the same transaction as the effect and
 * finished (status and body stored) before COMMIT, so a concurrent
 * duplicate blocks on the row (or, under snapshot isolation, conflicts and
 * retries) and then replays the stored answer: there is no invisible
 * in-flight marker. Keys are scoped to the caller ("user:<sub>" or
 * "admin:<sub>"); the fingerprint is SHA-256 of "METHOD PATH\n" plus the
 * canonical JSON body, so member order and whitespace do not matter.
 */
#ifndef ZS_IDEMPOTENCY_H
#define ZS_IDEMPOTENCY_H

#include "db.h"
#include "http.h"

enum idem_outcome {
    IDEM_NEW,          /* claimed: do the work, then idem_finish() */
    IDEM_REPLAY,       /* same request finished before: replay status and body */
    IDEM_IN_FLIGHT,    /* same key still pending: 409 + Retry-After */
    IDEM_MISMATCH,     /* same key, different request: 422 */
};

struct idem {
    char caller[80];
    const char *key;
    char scoped[80 + 1 + 256];   /* "caller:key", recorded on the rows it creates */
    char fingerprint[65];
    enum idem_outcome outcome;
    int status;        /* stored status, for IDEM_REPLAY */
    char *body;        /* stored body (malloc'd), for IDEM_REPLAY */
    char now[40];      /* the transaction's now(), RFC 3339, after a claim */
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

/*
 * Inside a transaction: claim the key, or learn why not (i->outcome).
 * Returns 0 on success (whatever the outcome) or -1 when a statement
 * failed (tx->err says why). Frees a body left by an earlier attempt.
 */
int idem_claim(struct tx *tx, struct idem *i);

/*
 * The claim as a statement for a pipeline (tx_exec_many), and reading its
 * result afterwards: idem_claim() is these two with one round trip.
 * idem_claim_result() takes ownership of res; on a conflict it looks the
 * stored key up (one more round trip). 0, or -1 on a failed statement.
 */
void idem_claim_stmt(struct idem *i, struct tx_stmt *st);
int idem_claim_result(struct tx *tx, struct idem *i, PGresult *res);

/* The finishing UPDATE as a pipeline statement; body must outlive the send. */
void idem_finish_stmt(struct idem *i, int status, const char *body, struct tx_stmt *st);

/* Inside the same transaction: store the final status and body. 0 / -1. */
int idem_finish(struct tx *tx, struct idem *i, int status, const char *body);

/* Answer r for IDEM_REPLAY, IDEM_IN_FLIGHT or IDEM_MISMATCH. */
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
