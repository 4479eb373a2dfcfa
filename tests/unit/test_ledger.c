/*
 * test_ledger.c — unit tests for fcgi/domain/ledger.c's rules: account
 * kinds parsed once from accounts.kind, available funds with the issuer's
 * exception, the bigint bounds of a move, a lock row read into a struct
 * ledger_account, and the statements of one move per dialect.
 */
#include "tap.h"

#include "config.h"
#include "domain/ledger.h"

#include <stdint.h>
#include <string.h>

static struct ledger_account account(enum ledger_kind kind, int64_t balance, int64_t held)
{
    struct ledger_account a;

    memset(&a, 0, sizeof(a));
    a.found = 1;
    a.kind = kind;
    a.issuer = kind == LEDGER_KIND_ISSUER;
    a.escrow = kind == LEDGER_KIND_ESCROW;
    a.balance = balance;
    a.held = held;
    return a;
}

static void test_kind(void)
{
    is_int(ledger_kind_parse("user"), LEDGER_KIND_USER, "'user' is a user account");
    is_int(ledger_kind_parse("issuer"), LEDGER_KIND_ISSUER, "'issuer' is the issuer");
    is_int(ledger_kind_parse("escrow"), LEDGER_KIND_ESCROW, "'escrow' is a market's escrow");
    is_int(ledger_kind_parse("Issuer"), LEDGER_KIND_UNKNOWN, "kinds are case-sensitive");
    is_int(ledger_kind_parse("issuer "), LEDGER_KIND_UNKNOWN, "no trailing blanks");
    is_int(ledger_kind_parse("unknown"), LEDGER_KIND_UNKNOWN, "'unknown' is not a kind");
    is_int(ledger_kind_parse(""), LEDGER_KIND_UNKNOWN, "empty is unknown");
    is_int(ledger_kind_parse(NULL), LEDGER_KIND_UNKNOWN, "NULL is unknown");
    is_str(ledger_kind_name(LEDGER_KIND_USER), "user", "name of user");
    is_str(ledger_kind_name(LEDGER_KIND_ISSUER), "issuer", "name of issuer");
    is_str(ledger_kind_name(LEDGER_KIND_ESCROW), "escrow", "name of escrow");
    is_str(ledger_kind_name(LEDGER_KIND_UNKNOWN), "unknown", "name of unknown");
    is_str(ledger_kind_name((enum ledger_kind)42), "unknown", "out of range is unknown");
    for (int k = LEDGER_KIND_USER; k <= LEDGER_KIND_ESCROW; k++)
        is_int(ledger_kind_parse(ledger_kind_name((enum ledger_kind)k)), k,
               "parse(name(k)) round-trips");
}

static void test_available(void)
{
    struct ledger_account u = account(LEDGER_KIND_USER, 100, 30);
    struct ledger_account is = account(LEDGER_KIND_ISSUER, -1000, 0);
    struct ledger_account odd = account(LEDGER_KIND_USER, INT64_MIN + 5, 10);
    struct ledger_account neg = account(LEDGER_KIND_USER, INT64_MAX - 5, -10);

    ok(ledger_available(&u) == 70, "available is balance - held");
    ok(ledger_available(&is) == -1000, "the issuer's available is its (negative) balance");
    ok(ledger_available(&odd) == INT64_MIN, "an underflow saturates at INT64_MIN");
    ok(ledger_available(&neg) == INT64_MAX, "an overflow saturates at INT64_MAX");

    ok(ledger_funds_cover(&u, 70), "exactly the available amount is covered");
    ok(!ledger_funds_cover(&u, 71), "one more than available is not");
    ok(!ledger_funds_cover(&u, 100), "held money is not available (the balance alone would do)");
    ok(ledger_funds_cover(&is, 1), "the issuer pays with a negative balance");
    ok(ledger_funds_cover(&is, INT64_MAX), "the issuer's cover is not bounded here");
    ok(!ledger_funds_cover(&odd, 1), "a saturated available covers nothing");
    {
        struct ledger_account e = account(LEDGER_KIND_ESCROW, 5, 0);
        struct ledger_account x = account(LEDGER_KIND_UNKNOWN, -1, 0);
        ok(!ledger_funds_cover(&e, 6), "an escrow account has no issuer exception");
        ok(!ledger_funds_cover(&x, 1), "an unknown kind has no issuer exception");
    }
    is_str(ledger_transfer_kind(&is), "issue", "a transfer out of the issuer is an issue");
    is_str(ledger_transfer_kind(&u), "transfer", "out of a user account it is a transfer");
}

/* Credit limits: balance - held - amount >= -credit_limit, the issuer and
 * escrow keeping their rules, and when a limit may be set. */
static void test_credit_limit(void)
{
    struct ledger_account u = account(LEDGER_KIND_USER, 100, 30);
    struct ledger_account over = account(LEDGER_KIND_USER, -40, 10);
    struct ledger_account big = account(LEDGER_KIND_USER, INT64_MAX, 0);
    struct ledger_account low = account(LEDGER_KIND_USER, INT64_MIN + 5, 10);
    struct ledger_account is = account(LEDGER_KIND_ISSUER, -1000, 0);
    struct ledger_account e = account(LEDGER_KIND_ESCROW, 5, 0);

    u.credit_limit = 50;
    ok(ledger_headroom(&u) == 120, "headroom is balance - held + credit_limit");
    ok(ledger_funds_cover(&u, 120), "a debit down to -credit_limit is covered");
    ok(!ledger_funds_cover(&u, 121), "one past the credit limit is not");
    ok(ledger_funds_cover(&u, 0) && ledger_funds_cover(&u, -5), "nothing to pay is always covered");
    over.credit_limit = 50;
    ok(ledger_headroom(&over) == 0, "an account using all its credit has no headroom");
    ok(!ledger_funds_cover(&over, 1), "…and covers nothing more");
    is_int((int)ledger_credit_used(&over), 50, "credit used is held - balance");
    is_int((int)ledger_credit_used(&u), 0, "an account in funds uses no credit");
    big.credit_limit = INT64_MAX;
    ok(ledger_headroom(&big) == INT64_MAX, "headroom saturates at INT64_MAX");
    low.credit_limit = 3;
    ok(ledger_headroom(&low) == INT64_MIN, "a saturated available stays saturated");
    is.credit_limit = 0;
    ok(ledger_headroom(&is) == INT64_MAX, "the issuer has no lower bound");
    ok(!ledger_funds_cover(&e, 6), "an escrow account never goes below zero");

    is_int(ledger_limit_check(&u, 0), LEDGER_LIMIT_OK, "a limit of 0 fits an account in funds");
    is_int(ledger_limit_check(&u, -1), LEDGER_LIMIT_NEGATIVE, "a negative limit is refused");
    is_int(ledger_limit_check(&over, 50), LEDGER_LIMIT_OK, "a limit equal to the credit used fits");
    is_int(ledger_limit_check(&over, 49), LEDGER_LIMIT_IN_USE,
           "a limit below the credit used is refused, not clamped");
    is_int(ledger_limit_check(&over, INT64_MAX), LEDGER_LIMIT_OK, "raising a limit always fits");
    is_int(ledger_limit_check(&is, 10), LEDGER_LIMIT_NOT_USER, "the issuer has no credit limit");
    is_int(ledger_limit_check(&e, 0), LEDGER_LIMIT_NOT_USER, "an escrow account has none");
}

static void test_move_fits(void)
{
    struct ledger_account a = account(LEDGER_KIND_USER, 100, 0);
    struct ledger_account b = account(LEDGER_KIND_USER, 0, 0);
    struct ledger_account full = account(LEDGER_KIND_USER, INT64_MAX - 10, 0);
    struct ledger_account is = account(LEDGER_KIND_ISSUER, INT64_MIN + 10, 0);

    ok(ledger_move_fits(&a, &b, 100), "an ordinary move fits");
    ok(!ledger_move_fits(&a, &b, 0), "a zero amount does not");
    ok(!ledger_move_fits(&a, &b, -1), "a negative amount does not");
    ok(ledger_move_fits(&a, &full, 10), "a credit up to INT64_MAX fits");
    ok(!ledger_move_fits(&a, &full, 11), "a credit past INT64_MAX does not");
    ok(ledger_move_fits(&is, &b, 10), "an issue down to INT64_MIN fits");
    ok(!ledger_move_fits(&is, &b, 11), "an issue past INT64_MIN does not");
}

/* A one-row lock result (kind, balance, held), built without a server. */
static PGresult *lock_row(const char *kind, const char *balance, const char *held)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[3];
    const char *names[3] = { "kind", "balance", "held" };
    const char *vals[3] = { kind, balance, held };

    memset(att, 0, sizeof(att));
    for (int i = 0; i < 3; i++) {
        att[i].name = (char *)names[i];
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    if (!res || !PQsetResultAttrs(res, 3, att))
        return res;
    if (kind)
        for (int i = 0; i < 3; i++)
            PQsetvalue(res, 0, i, (char *)vals[i], (int)strlen(vals[i]));
    return res;
}

static void test_lock_parse(void)
{
    struct ledger_account a;
    PGresult *res;

    memset(&a, 0, sizeof(a));
    res = lock_row("issuer", "-500", "0");
    ledger_lock_parse(&a, res);
    PQclear(res);
    ok(a.found, "a row is found");
    is_int(a.kind, LEDGER_KIND_ISSUER, "kind parsed");
    ok(a.issuer && !a.escrow, "issuer flag follows the kind");
    ok(a.balance == -500 && a.held == 0, "balance and held read");

    res = lock_row("escrow", "7", "0");
    ledger_lock_parse(&a, res);
    PQclear(res);
    is_int(a.kind, LEDGER_KIND_ESCROW, "escrow parsed");
    ok(a.escrow && !a.issuer, "escrow flag follows the kind");

    res = lock_row("user", "9223372036854775807", "3");
    ledger_lock_parse(&a, res);
    PQclear(res);
    ok(a.kind == LEDGER_KIND_USER && !a.issuer && !a.escrow, "a user account");
    ok(a.balance == INT64_MAX && a.held == 3, "bigint extremes read exactly");

    res = lock_row(NULL, NULL, NULL);
    ledger_lock_parse(&a, res);
    PQclear(res);
    ok(!a.found, "no row: not found");
}

/* The lock row's fourth column is the credit limit (coalesced to 0 by the statement). */
static void test_lock_parse_credit(void)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[4];
    const char *names[4] = { "kind", "balance", "held", "credit_limit" };
    const char *vals[4] = { "user", "-20", "5", "100" };
    struct ledger_account a;

    memset(att, 0, sizeof(att));
    for (int i = 0; i < 4; i++) {
        att[i].name = (char *)names[i];
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    PQsetResultAttrs(res, 4, att);
    for (int i = 0; i < 4; i++)
        PQsetvalue(res, 0, i, (char *)vals[i], (int)strlen(vals[i]));
    memset(&a, 0, sizeof(a));
    ledger_lock_parse(&a, res);
    PQclear(res);
    ok(a.found && a.balance == -20 && a.held == 5, "a negative balance under a limit is read");
    ok(a.credit_limit == 100, "the credit limit is read from the fourth column");
    ok(ledger_headroom(&a) == 75, "…and counts in the headroom");

    res = lock_row("user", "7", "0");
    a.credit_limit = 99;
    ledger_lock_parse(&a, res);
    PQclear(res);
    ok(a.credit_limit == 0, "a three-column row reads a limit of 0");
}

static void test_move_prepare(void)
{
    struct zs_config cfg;
    struct ledger_move_stmts m;

    memset(&cfg, 0, sizeof(cfg));
    cfg.dialect = ZS_DIALECT_POSTGRES;
    is_int(ledger_move_prepare(&m, &cfg, "a", "b", 42, 7, "capture", "user:x", NULL, "user:x:k"), 0,
           "postgres: prepared");
    is_int(m.n, 2, "postgres: two statements (the CTE appends the entries)");
    ok(m.st[0].id == SQL_LEDGER_MOVE_BALANCES && !m.st[0].sql, "first the balances, by name");
    ok(m.st[1].id == SQL_LEDGER_MOVE_RECORD && !m.st[1].sql, "then the transfer, by name");
    is_int(m.st[0].nparams, 4, "the balances take 4 parameters");
    is_int(m.st[1].nparams, 8, "the transfer takes 8 parameters");
    is_str(m.st[0].values[2], "42", "amount as text");
    is_str(m.st[0].values[3], "7", "released hold as text");
    is_str(m.st[1].values[0], m.id, "the transfer's id is the fresh one");
    ok(m.st[1].values[6] == NULL, "a NULL memo stays NULL");

    cfg.dialect = ZS_DIALECT_DSQL;
    is_int(ledger_move_prepare(&m, &cfg, "a", "b", 42, 0, "transfer", "user:x", "m", NULL), 0,
           "dsql: prepared");
    is_int(m.n, 3, "dsql: three statements");
    ok(m.st[2].id == SQL_LEDGER_MOVE_ENTRIES && !m.st[2].sql, "the entries last, by name");
    is_int(m.st[2].nparams, 4, "the entries take id, from, to, amount");
    is_str(m.st[2].values[3], "42", "…the amount fourth");
}

int main(void)
{
    test_kind();
    test_available();
    test_credit_limit();
    test_move_fits();
    test_lock_parse();
    test_lock_parse_credit();
    test_move_prepare();
    return done_testing();
}
