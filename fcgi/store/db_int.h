/*
 * db_int.h — what the transaction runner's files share (db.c: pipelines
 * and the runner; db_simple.c: a round as one simple-protocol Query). Not
 * for use outside fcgi/store/.
 */
#ifndef ZS_STORE_DB_INT_H
#define ZS_STORE_DB_INT_H

#include "store/db.h"

/* What one result of a round answers (see tx_exec_many). */
enum slot_kind { SLOT_BEGIN, SLOT_PREAMBLE, SLOT_PREPARE, SLOT_STMT, SLOT_COMMIT };
struct slot {
    enum slot_kind kind;
    int idx; /* SLOT_STMT: index into s[]; SLOT_PREPARE: statement id */
};

/* Note res's failure (NULL: the connection's) in tx: SQLSTATE, class, context. */
void db_record_failure(struct tx *tx, PGresult *res);

/* Take the result of one slot: keep a statement's (*resp set to NULL), note BEGIN/COMMIT/Parse. */
void db_take_result(struct tx *tx, struct tx_stmt *s, struct slot sl, PGresult **resp);

/* Append text, its parameters written in as literals, to the round being built. 0, or -1. */
int db_round_add(struct tx *tx, const char *text, int nparams, const char *const *values);

/*
 * Send the round built by db_round_add() (sent: what queueing it answered,
 * 0 or -1) as one simple-protocol Query and take its ns results into
 * slots' statements of s[0..n). 0, or -1 (tx->err says why; no s[].res
 * is kept then).
 */
int db_round_exec(struct tx *tx, struct tx_stmt *s, int n, const struct slot *slots, int sent,
                  int ns);

#endif
