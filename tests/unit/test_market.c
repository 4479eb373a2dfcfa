/*
 * test_market.c — unit tests for fcgi/domain/market.c: the cost basis that
 * travels with contracts, payouts on resolution (win, lose, cancel,
 * overflow), and the kind/status/outcome/resolution parsers.
 */
#include "tap.h"

#include "domain/market.h"

#include <stdint.h>

static void test_cost_share(void)
{
    is_int(market_cost_share(10, 100, 3), 30, "3 of 10 carry 30 of 100");
    is_int(market_cost_share(3, 100, 1), 33, "the floor share");
    is_int(market_cost_share(3, 100, 3), 100, "the last of them carry all of it");
    is_int(market_cost_share(2, 100, 5), 100, "more than held: all of it");
    is_int(market_cost_share(0, 0, 1), 0, "nothing held: no basis");
    is_int(market_cost_share(1000000000000LL, INT64_MAX, 999999999999LL),
           9223372036845552434LL, /* floor((2^63 - 1) * 999999999999 / 10^12), worked out apart */
           "no overflow in the product");
}

static void test_payout(void)
{
    int64_t pay = -7;

    is_int(market_payout(RESOLUTION_YES, OUTCOME_YES, 5, &pay), 0, "a winner is paid");
    is_int(pay, 500, "…100 per contract");
    is_int(market_payout(RESOLUTION_YES, OUTCOME_NO, 5, &pay), 0, "a loser");
    is_int(pay, 0, "…gets nothing");
    is_int(market_payout(RESOLUTION_NO, OUTCOME_NO, 2, &pay), 0, "NO wins");
    is_int(pay, 200, "…100 each");
    is_int(market_payout(RESOLUTION_CANCEL, OUTCOME_NO, 3, &pay), 0, "cancel, NO");
    is_int(pay, 150, "…50 per contract, whatever it cost");
    is_int(market_payout(RESOLUTION_CANCEL, OUTCOME_YES, 3, &pay), 0, "cancel, YES");
    is_int(pay, 150, "…50 per contract too: a pair pays its 100 back");
    is_int(market_payout(RESOLUTION_CANCEL, OUTCOME_SHARES, 3, &pay), 0, "cancel, shares");
    is_int(pay, 0, "…nothing (only event markets resolve)");
    is_int(market_payout(RESOLUTION_YES, OUTCOME_YES, INT64_MAX / 100 + 1, &pay), -1,
           "a payout past bigint refused");
    is_int(market_payout(RESOLUTION_YES, OUTCOME_YES, INT64_MAX / 100, &pay), 0,
           "the largest that fits");
    is_int(market_payout(RESOLUTION_CANCEL, OUTCOME_YES, INT64_MAX / 50 + 1, &pay), -1,
           "a cancel payout past bigint refused");
    is_int(market_payout(RESOLUTION_CANCEL, OUTCOME_YES, -1, &pay), -1,
           "a negative quantity refused");
}

static void test_pairs_amount(void)
{
    int64_t amount = -7;

    is_int(market_pairs_amount(3, &amount), 0, "3 pairs");
    is_int(amount, 300, "…move 300");
    is_int(market_pairs_amount(MARKET_PAIRS_MAX, &amount), 0, "the most pairs at once");
    is_int(amount, MARKET_PAIRS_MAX * 100, "…100 each");
    is_int(market_pairs_amount(MARKET_PAIRS_MAX + 1, &amount), -1, "more refused");
    is_int(market_pairs_amount(0, &amount), -1, "zero refused");
    is_int(market_pairs_amount(-5, &amount), -1, "negative refused");
    is_int(market_pairs_amount(INT64_MAX, &amount), -1, "an absurd count refused");
}

static void test_enums(void)
{
    enum market_kind k;
    enum market_status s;
    enum market_outcome o;
    enum market_resolution r;

    is_int(market_kind_parse("event", &k), 0, "event parses");
    is_int(k, MARKET_EVENT, "…as MARKET_EVENT");
    is_int(market_kind_parse("bond", &k), -1, "bond refused");
    is_int(market_status_parse("resolving", &s), 0, "resolving parses");
    is_int(s, MARKET_RESOLVING, "…as MARKET_RESOLVING");
    is_int(market_status_parse("", &s), -1, "empty status refused");
    is_int(market_outcome_parse("no", &o), 0, "no parses");
    is_int(o, OUTCOME_NO, "…as OUTCOME_NO");
    is_int(market_outcome_parse("cancel", &o), -1, "cancel is no position outcome");
    is_int(market_resolution_parse("", &r), 0, "\"\" is no resolution");
    is_int(r, RESOLUTION_NONE, "…RESOLUTION_NONE");
    is_int(market_resolution_parse("cancel", &r), 0, "cancel parses");
    is_int(r, RESOLUTION_CANCEL, "…as RESOLUTION_CANCEL");
    is_str(market_kind_name(MARKET_SHARES), "shares", "shares' name");
    is_str(market_status_name(MARKET_CANCELLED), "cancelled", "cancelled's name");
    is_str(market_outcome_name(OUTCOME_YES), "yes", "yes' name");
    is_str(market_resolution_name(RESOLUTION_NO), "no", "no's name");
    is_int(market_outcome_complement(OUTCOME_YES), OUTCOME_NO, "YES ↔ NO");
    is_int(market_outcome_complement(OUTCOME_NO), OUTCOME_YES, "NO ↔ YES");
    is_int(market_outcome_complement(OUTCOME_SHARES), OUTCOME_SHARES, "shares stay");
    is_int(market_resolution_status(RESOLUTION_CANCEL), MARKET_CANCELLED, "cancel → cancelled");
    is_int(market_resolution_status(RESOLUTION_YES), MARKET_RESOLVED, "yes → resolved");
}

int main(void)
{
    test_cost_share();
    test_payout();
    test_pairs_amount();
    test_enums();
    return done_testing();
}
