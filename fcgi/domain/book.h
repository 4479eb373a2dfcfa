/*
 * book.h — applying what matching decided to the database: the resting
 * orders read from the book, their cancellation, a remainder's hold, and
 * each fill settled as double entry with its contracts and tape row. Every
 * function runs inside the caller's transaction, the market row locked and
 * the accounts it touches locked in id order (domain/ledger.h).
 */
#ifndef ZS_DOMAIN_BOOK_H
#define ZS_DOMAIN_BOOK_H

#include <stdint.h>

#include "domain/market.h"
#include "domain/matching.h"
#include "store/db.h"

/*
 * Append the rows of res (id, account_id, side, outcome, price, remaining,
 * hold_amount, seq: the order_makers_* and order_lock columns) to m, while
 * *n < max, as complement buys when mint. 0, or -1 on a side or outcome
 * the schema does not allow.
 */
int book_load_makers(PGresult *res, struct match_order *m, int *n, int max, int mint);

/* Release a resting order's hold (cash for a buy, its remaining contracts
 * for a sell) and leave its row as it is (an amendment re-places it). 0 / -1. */
int book_release_hold(struct tx *tx, const char *market, const struct match_order *k);

/* Release a resting order's hold (cash for a buy, contracts for a sell)
 * and mark it cancelled. 0 / -1. */
int book_cancel_resting(struct tx *tx, const char *market, const struct match_order *k);

/* The same for a gtd order past its deadline: released, marked expired
 * (cancelled, end_reason 'expired') and announced in the same transaction
 * as an order.cancelled event with "reason": "expired". 0 / -1. */
int book_expire_resting(struct tx *tx, const char *market, const struct match_order *k);

/*
 * The jobs child's sweep: expire up to limit open gtd orders whose deadline
 * has passed by the database clock, one transaction each, locking as every
 * order does (the market, then the order, then its account). The number
 * expired, or -1 when the database is away (the next round retries).
 */
int book_expire_due(struct db_session *s, int limit);

/* Hold what a resting remainder needs: hold cash for a buy, rest contracts
 * of outcome for a sell. 0 / -1. */
int book_hold_rest(struct tx *tx, const char *market, const char *account, enum order_side side,
                   enum market_outcome outcome, int64_t rest, int64_t hold);

/* The incoming order whose fills book_settle_fill() applies. */
struct book_taker {
    const char *market;
    const char *account;
    const char *order_id; /* its row, inserted already */
    const char *caller;   /* recorded on the transfers it pays */
    const char *escrow;   /* the market's escrow ("" for shares) */
    enum order_side side;
    enum market_outcome outcome;
    int64_t trade_seq;
};

/*
 * Settle k->fill units of maker k against t: a mint (both pay escrow, each
 * gets a contract), or a transfer (contracts seller → buyer, cash buyer →
 * seller at the maker's price); then the trade row and the maker's
 * remaining and hold (k->hold drops by what the fill spent of it). 0 / -1.
 */
int book_settle_fill(struct tx *tx, const struct book_taker *t, struct match_order *k);

#endif
