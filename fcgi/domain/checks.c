/*
 * checks.c — the table of /proof's invariants (see checks.h).
 */
#include "domain/checks.h"

#include <string.h>

const struct check checks[] = {
    { "transfers_balanced", CHECK_EVIDENCE, SQL_PROOF_TRANSFERS_BALANCED,
      SQL_AUDIT_TRANSFERS_BALANCED, 0 },
    { "entries_have_transfers", CHECK_EVIDENCE, SQL_PROOF_ENTRIES_HAVE_TRANSFERS,
      SQL_AUDIT_ENTRIES_HAVE_TRANSFERS, 0 },
    /* balances_match_entries .. running_balances_match (col > 0): one scan of accounts,
     * account_checks in sql/queries/proof.sql */
    { "balances_match_entries", CHECK_EVIDENCE, SQL_PROOF_BALANCES_MATCH_ENTRIES,
      SQL_AUDIT_BALANCES_MATCH_ENTRIES, 0 },
    { "money_conserved", CHECK_EVIDENCE, SQL_PROOF_MONEY_CONSERVED, SQL_AUDIT_MONEY_CONSERVED, 2 },
    { "no_negative_balances", CHECK_CONSTRAINT, SQL_PROOF_NO_NEGATIVE_BALANCES,
      SQL_AUDIT_NO_NEGATIVE_BALANCES, 4 },
    { "holds_match_held", CHECK_EVIDENCE, SQL_PROOF_HOLDS_MATCH_HELD, SQL_AUDIT_HOLDS_MATCH_HELD,
      6 },
    { "pending_released", CHECK_EVIDENCE, SQL_PROOF_PENDING_RELEASED, SQL_AUDIT_PENDING_RELEASED,
      0 },
    { "order_holds_exact", CHECK_EVIDENCE, SQL_PROOF_ORDER_HOLDS_EXACT, SQL_AUDIT_ORDER_HOLDS_EXACT,
      0 },
    { "held_within_balance", CHECK_CONSTRAINT, SQL_PROOF_HELD_WITHIN_BALANCE,
      SQL_AUDIT_HELD_WITHIN_BALANCE, 8 },
    { "drop_claims_match", CHECK_EVIDENCE, SQL_PROOF_DROP_CLAIMS_MATCH, SQL_AUDIT_DROP_CLAIMS_MATCH,
      0 },
    { "english_high_is_last_bid", CHECK_EVIDENCE, SQL_PROOF_ENGLISH_HIGH_IS_LAST_BID,
      SQL_AUDIT_ENGLISH_HIGH_IS_LAST_BID, 0 },
    { "english_bids_increase", CHECK_EVIDENCE, SQL_PROOF_ENGLISH_BIDS_INCREASE,
      SQL_AUDIT_ENGLISH_BIDS_INCREASE, 0 },
    { "english_live_holds", CHECK_EVIDENCE, SQL_PROOF_ENGLISH_LIVE_HOLDS,
      SQL_AUDIT_ENGLISH_LIVE_HOLDS, 0 },
    { "settled_lots_captured_once", CHECK_EVIDENCE, SQL_PROOF_SETTLED_LOTS_CAPTURED_ONCE,
      SQL_AUDIT_SETTLED_LOTS_CAPTURED_ONCE, 0 },
    { "captures_belong_to_lots", CHECK_EVIDENCE, SQL_PROOF_CAPTURES_BELONG_TO_LOTS,
      SQL_AUDIT_CAPTURES_BELONG_TO_LOTS, 0 },
    { "dutch_paid_schedule_price", CHECK_EVIDENCE, SQL_PROOF_DUTCH_PAID_SCHEDULE_PRICE,
      SQL_AUDIT_DUTCH_PAID_SCHEDULE_PRICE, 0 },
    { "purchases_paid", CHECK_EVIDENCE, SQL_PROOF_PURCHASES_PAID, SQL_AUDIT_PURCHASES_PAID, 0 },
    { "shares_supply_conserved", CHECK_EVIDENCE, SQL_PROOF_SHARES_SUPPLY_CONSERVED,
      SQL_AUDIT_SHARES_SUPPLY_CONSERVED, 0 },
    { "positions_held_match_orders", CHECK_EVIDENCE, SQL_PROOF_POSITIONS_HELD_MATCH_ORDERS,
      SQL_AUDIT_POSITIONS_HELD_MATCH_ORDERS, 0 },
    { "event_pairs_backed", CHECK_EVIDENCE, SQL_PROOF_EVENT_PAIRS_BACKED,
      SQL_AUDIT_EVENT_PAIRS_BACKED, 0 },
    { "trade_cash_legs", CHECK_EVIDENCE, SQL_PROOF_TRADE_CASH_LEGS, SQL_AUDIT_TRADE_CASH_LEGS, 0 },
    { "no_negative_positions", CHECK_CONSTRAINT, SQL_PROOF_NO_NEGATIVE_POSITIONS,
      SQL_AUDIT_NO_NEGATIVE_POSITIONS, 0 },
    { "idempotency_keys_unique", CHECK_EVIDENCE, SQL_PROOF_IDEMPOTENCY_KEYS_UNIQUE,
      SQL_AUDIT_IDEMPOTENCY_KEYS_UNIQUE, 0 },
    /* proxy bidding (README, "Auctions"): the high follows the recorded maxima */
    { "english_proxy_price", CHECK_EVIDENCE, SQL_PROOF_ENGLISH_PROXY_PRICE,
      SQL_AUDIT_ENGLISH_PROXY_PRICE, 0 },
    /* exchange-grade orders (fill-or-kill, good-till-date) */
    { "fok_all_or_nothing", CHECK_EVIDENCE, SQL_PROOF_FOK_ALL_OR_NOTHING,
      SQL_AUDIT_FOK_ALL_OR_NOTHING, 0 },
    { "expired_orders_release", CHECK_EVIDENCE, SQL_PROOF_EXPIRED_ORDERS_RELEASE,
      SQL_AUDIT_EXPIRED_ORDERS_RELEASE, 0 },
    /* credit limits (PATCH /accounts/{id}) */
    { "within_credit_limit", CHECK_CONSTRAINT, SQL_PROOF_WITHIN_CREDIT_LIMIT,
      SQL_AUDIT_WITHIN_CREDIT_LIMIT, 10 },
    /* balance history (GET /accounts/{id}/balance?at=, /entries): the
     * running balance every entry carries */
    { "running_balances_match", CHECK_EVIDENCE, SQL_PROOF_RUNNING_BALANCES_MATCH,
      SQL_AUDIT_RUNNING_BALANCES_MATCH, 12 },
    { "sealer_keeps_up", CHECK_BOUND, SQL_PROOF_SEALER_KEEPS_UP, CHECK_NO_FULL, 0 },
    { "full_audit_passed", CHECK_BOUND, SQL_PROOF_FULL_AUDIT_PASSED, CHECK_NO_FULL, 0 },
};

const size_t checks_count = sizeof(checks) / sizeof(checks[0]);

const char *check_kind_name(enum check_kind k)
{
    return k == CHECK_CONSTRAINT ? "constraint" : k == CHECK_BOUND ? "bound" : "evidence";
}

size_t check_answered_by(size_t i, enum zs_dialect d)
{
    /* per dialect, filled once: 0 unknown, else the answering check's index + 1 */
    static size_t by[2][sizeof(checks) / sizeof(checks[0])];
    size_t *b = by[d == ZS_DIALECT_DSQL];

    if (!b[i]) {
        const char *text = sql_text(checks[i].sql, d);
        size_t j = 0;

        while (j < i
               && (!text || checks[j].kind == CHECK_BOUND
                   || strcmp(sql_text(checks[j].sql, d), text) != 0))
            j++;
        b[i] = j + 1;
    }
    return b[i] - 1;
}

size_t check_slot(size_t i, enum zs_dialect d)
{
    size_t by = check_answered_by(i, d), n = 0;

    for (size_t j = 0; j < by; j++)
        n += checks[j].kind != CHECK_BOUND && check_answered_by(j, d) == j;
    return n;
}
