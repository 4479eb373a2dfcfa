/*
 * ledger.h — double-entry moves shared by transfers, captures and claims.
 *
 * Callers lock the accounts they touch with ledger_lock() (always in id
 * order, after any lot row), check what they need, then ledger_move()
 * changes the balances and appends one transfer with its two entries.
 * The functions taking a struct tx run inside a caller's transaction; the
 * rules (an account's kind, available funds, whether a move fits in bigint)
 * are pure functions of what was read.
 */
#ifndef ZS_LEDGER_H
#define ZS_LEDGER_H

#include <stdint.h>

#include "store/db.h"
#include "util.h"

/* The one issuer account (created by migration 002). */
#define LEDGER_ISSUER_ID "00000000-0000-0000-0000-000000000001"

/* Longest memo, in characters. */
#define LEDGER_MEMO_MAX 140

/* What an account is (accounts.kind), parsed once from the row. */
enum ledger_kind {
    LEDGER_KIND_UNKNOWN = 0, /* a text the schema does not allow */
    LEDGER_KIND_USER,        /* 'user': a holder's account */
    LEDGER_KIND_ISSUER,      /* 'issuer': the one account money comes from */
    LEDGER_KIND_ESCROW,      /* 'escrow': a market's escrow account */
};

/* The kind accounts.kind text names (exact, case-sensitive); UNKNOWN for
 * anything else, NULL included. */
enum ledger_kind ledger_kind_parse(const char *text);

/* The accounts.kind text of k ("user", "issuer", "escrow"), or "unknown". */
const char *ledger_kind_name(enum ledger_kind k);

struct ledger_account {
    char id[UUID_STR_LEN + 1];
    int found;
    enum ledger_kind kind;
    int issuer; /* kind == LEDGER_KIND_ISSUER */
    int escrow; /* kind == LEDGER_KIND_ESCROW */
    int64_t balance;
    int64_t held;
    int64_t credit_limit; /* how far below zero available may go (>= 0; 0 by default) */
};

/* balance - held: what the account may spend or hold, saturated at
 * INT64_MIN should held exceed balance by more than bigint can say. */
int64_t ledger_available(const struct ledger_account *a);

/*
 * What the account may still debit or hold: ledger_available() plus its
 * credit limit, computed without overflow (saturated at INT64_MIN and
 * INT64_MAX); INT64_MAX for the issuer, which has no lower bound.
 */
int64_t ledger_headroom(const struct ledger_account *a);

/*
 * 1 if `from` can pay or hold amount: the issuer always can (its balance is
 * minus the money issued, and only ledger_move_fits() bounds it); any other
 * account when balance - held - amount >= -credit_limit, i.e.
 * ledger_headroom() >= amount. 0 otherwise (the caller refuses with 422
 * insufficient_funds). An amount <= 0 is always covered.
 */
int ledger_funds_cover(const struct ledger_account *from, int64_t amount);

/* Why an account's credit limit may not be set to a value (PATCH /accounts/{id}). */
enum ledger_limit_refusal {
    LEDGER_LIMIT_OK = 0,
    LEDGER_LIMIT_NEGATIVE, /* the limit is below 0 */
    LEDGER_LIMIT_NOT_USER, /* only a user account has one: issuer and escrow keep their rules */
    LEDGER_LIMIT_IN_USE,   /* the account already uses more credit than the new limit */
};

/*
 * Whether a (locked, found) may get credit limit `limit`: LEDGER_LIMIT_OK,
 * or why not. A limit may be lowered only down to what the account already
 * owes (balance - held >= -limit afterwards): a lower one is refused, never
 * clamped, and nothing is written.
 */
enum ledger_limit_refusal ledger_limit_check(const struct ledger_account *a, int64_t limit);

/* How much credit the account uses now: max(0, held - balance), saturated. */
int64_t ledger_credit_used(const struct ledger_account *a);

/* The transfers.kind of a POST /transfer out of `from`: "issue" out of the
 * issuer, "transfer" otherwise. */
const char *ledger_transfer_kind(const struct ledger_account *from);

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
    char id[UUID_STR_LEN + 1]; /* the new transfer's id */
    char amt[24], rel[24];
    const char *p_balances[4];
    const char *p_transfer[8];
    struct tx_stmt st[3]; /* st[1].res holds created_at (RFC 3339) */
    int n;
};

/*
 * Fill m with ledger_move()'s statements (a fresh transfer id included) for
 * tx_exec_many(); the strings passed in must outlive the send. 0 or -1.
 */
int ledger_move_prepare(struct ledger_move_stmts *m, const struct zs_config *cfg, const char *from,
                        const char *to, int64_t amount, int64_t release_hold, const char *kind,
                        const char *caller, const char *memo, const char *idem_key);

/* Read a SQL_LEDGER_LOCK_ACCOUNT result into *a (found/kind/issuer/escrow/balance/held,
 * credit_limit when the result has that fourth column, else 0). */
void ledger_lock_parse(struct ledger_account *a, PGresult *res);

/*
 * Fill each a[i] (found/kind/…/credit_limit) from the row of res whose
 * first column is a[i].id, the other columns ledger_lock_account's (rows
 * of SQL_LOT_CLAIM_LOCK_ACCOUNTS, say); a[i].found = 0 when no row has
 * it (res NULL: none). Returns how many were found.
 */
int ledger_lock_parse_rows(struct ledger_account *a, int n, PGresult *res);

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
