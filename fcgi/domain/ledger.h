/*
 * ledger.h — double-entry moves shared by transfers, captures and claims.
 *
 * Callers lock the accounts they touch with ledger_lock() (always in id
 * order, after any lot row), check what they need, then ledger_move()
 * changes the balances and appends one transfer with its two entries.
 * Every function here runs inside a caller's transaction.
 */
#ifndef ZS_LEDGER_H
#define ZS_LEDGER_H

#include <stdint.h>

#include "store/db.h"
#include "util.h"

/* The one issuer account (created by migration 002). */
#define LEDGER_ISSUER_ID "00000000-0000-0000-0000-000000000001"

/* SQL expression formatting a timestamptz column as RFC 3339 UTC with microseconds. */
#define LEDGER_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Longest memo, in characters. */
#define LEDGER_MEMO_MAX 140

struct ledger_account {
    char id[UUID_STR_LEN + 1];
    int found;
    int issuer;
    int escrow;                        /* a market's escrow account */
    int64_t balance;
    int64_t held;
};

/*
 * Lock accounts a[0..n) (SELECT … FOR UPDATE, one row at a time in
 * ascending id order, whatever order the caller listed them in) and fill
 * found/issuer/balance/held. Duplicate ids are locked once (each copy is
 * filled). Any n. 0 or -1.
 */
int ledger_lock(struct tx *tx, struct ledger_account *a, int n);

/*
 * Move amount from `from` to `to`: balances change, and one transfers row
 * (kind, caller, memo, idem_key "caller:key" or NULL) plus two entries are appended. If release_hold > 0,
 * `from`'s held also drops by that much (capturing a hold). Both accounts
 * must already be locked and checked. The new transfer id and created_at
 * (RFC 3339) are written to id_out / created_out when non-NULL
 * (created_out: 40 bytes). 0 or -1.
 */
int ledger_move(struct tx *tx, const char *from, const char *to, int64_t amount,
                int64_t release_hold, const char *kind, const char *caller, const char *memo,
                const char *idem_key, char id_out[UUID_STR_LEN + 1], char *created_out);

/* The statements of one move, for callers that pipeline them with others. */
struct ledger_move_stmts {
    char id[UUID_STR_LEN + 1];       /* the new transfer's id */
    char amt[24], rel[24];
    const char *p_balances[4];
    const char *p_transfer[8];
    struct tx_stmt st[3];            /* st[1].res holds created_at (RFC 3339) */
    int n;
};

/*
 * Fill m with ledger_move()'s statements (a fresh transfer id included) for
 * tx_exec_many(); the strings passed in must outlive the send. 0 or -1.
 */
int ledger_move_prepare(struct ledger_move_stmts *m, const struct zs_config *cfg,
                        const char *from, const char *to, int64_t amount, int64_t release_hold,
                        const char *kind, const char *caller, const char *memo,
                        const char *idem_key);

/* Read a SQL_LEDGER_LOCK_ACCOUNT result into *a (found/issuer/escrow/balance/held). */
void ledger_lock_parse(struct ledger_account *a, PGresult *res);

/*
 * 1 if moving amount (> 0) from `from` to `to` (both locked, balances as
 * read) keeps both balances within bigint: from.balance - amount and
 * to.balance + amount computed with checked arithmetic. 0 otherwise: the
 * caller refuses with 422 amount_out_of_range before writing anything.
 */
int ledger_move_fits(const struct ledger_account *from, const struct ledger_account *to,
                     int64_t amount);

/* Change an account's held by delta (positive holds, negative releases). 0 or -1. */
int ledger_adjust_held(struct tx *tx, const char *account, int64_t delta);

#endif
