/*
 * linked.h — linked batches: transfers applied in order, all or none.
 *
 * POST /transfers/batch locks every account its items name, once each and
 * in ascending id order (the order every other writer of accounts uses),
 * before any write; then decides every item in C from the locked rows, item
 * i seeing the balances after items 0..i-1, and writes only if all of them
 * pass. The rules here are pure functions of the items and the rows read.
 */
#ifndef ZS_LINKED_H
#define ZS_LINKED_H

#include <stdint.h>

#include "domain/ledger.h"

/*
 * Items per batch. Aurora DSQL modifies at most 3,000 rows in one
 * transaction; an item writes at most LINKED_ROWS_PER_ITEM (an immediate
 * transfer: its transfers row, two entries and two account rows; a pending
 * one: its pending_transfers row and the payer's account row), the
 * idempotency key one more: 100 items are at most 501 rows.
 */
#define LINKED_MAX 100
#define LINKED_ROWS_PER_ITEM 5
#define LINKED_ROWS_MAX (LINKED_MAX * LINKED_ROWS_PER_ITEM + 1)

/* One item as the rules see it. */
struct linked_item {
    const char *from, *to; /* canonical (lowercase) UUID texts, different */
    int64_t amount;        /* > 0 */
    int pending;           /* a hold on the payer, nothing moves */
    int from_ix, to_ix;    /* set by linked_accounts(): indexes into its acc */
};

/*
 * The accounts items it[0..n) name, each once, into acc (room for 2n),
 * sorted ascending by id (strcmp of the canonical text, which is the
 * database's uuid order): the order they are locked in. Each item's
 * from_ix / to_ix is set. Every acc[k] is zeroed but for its id. The
 * number of accounts, or -1 when n is outside 1..LINKED_MAX.
 */
int linked_accounts(struct linked_item *it, int n, struct ledger_account *acc);

/* Why an item cannot be applied (in the order they are checked). */
enum linked_fail {
    LINKED_OK = 0,
    LINKED_FROM_NOT_FOUND,
    LINKED_TO_NOT_FOUND,
    LINKED_ESCROW,              /* either side is a market's escrow account */
    LINKED_ADMIN_REQUIRED,      /* issuing money, not an admin */
    LINKED_PENDING_FROM_ISSUER, /* a pending item out of a non-user account */
    LINKED_INSUFFICIENT_FUNDS,
    LINKED_OUT_OF_RANGE, /* a balance would leave bigint */
};

struct linked_outcome {
    enum linked_fail fail;
    int index;         /* the first failing item (fail != LINKED_OK) */
    int64_t available; /* its payer's available funds just before it */
};

/*
 * Apply it[0..n) in order to acc (as linked_accounts() built it, filled
 * from the locked rows): an immediate item moves balance from payer to
 * payee, a pending one raises the payer's held. Each item is checked as
 * POST /transfer checks one (is_admin: the caller's scope) against the
 * state the items before it left. Stops at the first failing item; acc is
 * then the state before it.
 */
struct linked_outcome linked_simulate(const struct linked_item *it, int n,
                                      struct ledger_account *acc, int is_admin);

#endif
