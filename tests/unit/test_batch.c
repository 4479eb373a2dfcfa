/*
 * test_batch.c — unit tests for linked batches: an item's fields validated
 * as POST /transfer validates them (api/transfer.c), the caller rule, the
 * lock order (domain/linked.c: every account once, ascending id), and the
 * running balance simulation (each item sees the ones before it; the first
 * failure and its code).
 */
#include "tap.h"

#include "api/validate.h"
#include "domain/linked.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#define A "11111111-1111-4111-8111-111111111111"
#define B "22222222-2222-4222-8222-222222222222"
#define C "33333333-3333-4333-8333-333333333333"
#define D "0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

/* Parse one item from JSON text: its code, or "ok". */
static const char *item_code(const char *text, struct transfer_req *q)
{
    static struct transfer_refusal e;
    struct json_object *o = json_tokener_parse(text);
    const char *code = "ok";

    if (transfer_fields_parse(o, q, &e) < 0)
        code = e.code;
    json_object_put(o);
    return code;
}

static void test_item_validation(void)
{
    struct transfer_req q;

    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" B "\",\"amount\":5}", &q), "ok",
           "a plain item");
    ok(!q.pending && q.amount == 5 && strcmp(q.from, A) == 0, "its fields");
    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" B "\",\"amount\":5,\"pending\":true,"
                     "\"timeout\":60}",
                     &q),
           "ok", "a pending item");
    ok(q.pending && q.timeout == 60, "pending with its timeout");
    is_str(item_code("[1]", &q), "invalid_transfer", "not an object");
    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" B "\"}", &q), "missing_field", "no amount");
    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" B "\",\"amount\":0}", &q), "invalid_amount",
           "amount 0");
    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" A "\",\"amount\":1}", &q), "same_account",
           "same account");
    is_str(item_code("{\"from\":\"x\",\"to\":\"" A "\",\"amount\":1}", &q), "invalid_account_id",
           "not a uuid");
    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" B "\",\"amount\":1,\"y\":1}", &q),
           "unknown_field", "an unknown member");
    is_str(item_code("{\"from\":\"" A "\",\"to\":\"" B "\",\"amount\":1,\"timeout\":9}", &q),
           "timeout_without_pending", "timeout without pending");
}

static void test_authorization(void)
{
    struct jwt_claims user, admin;
    struct transfer_refusal e;
    struct transfer_req q;

    memset(&user, 0, sizeof(user));
    memset(&admin, 0, sizeof(admin));
    snprintf(user.sub, sizeof(user.sub), "%s", A);
    admin.scope = JWT_SCOPE_ADMIN;
    item_code("{\"from\":\"" A "\",\"to\":\"" B "\",\"amount\":5}", &q);
    is_int(transfer_may(&user, &q, &e), 0, "a user spends their own account");
    is_int(transfer_may(&admin, &q, &e), -1, "an admin does not spend a user's");
    item_code("{\"from\":\"" B "\",\"to\":\"" A "\",\"amount\":5}", &q);
    ok(transfer_may(&user, &q, &e) == -1 && e.status == 403
           && strcmp(e.code, "not_account_owner") == 0,
       "nor a user someone else's: 403 not_account_owner");
    item_code("{\"from\":\"" LEDGER_ISSUER_ID "\",\"to\":\"" A "\",\"amount\":5}", &q);
    is_int(transfer_may(&admin, &q, &e), 0, "an admin issues");
}

static void test_lock_order(void)
{
    struct linked_item it[3] = {
        { .from = C, .to = A, .amount = 1 },
        { .from = A, .to = D, .amount = 1 },
        { .from = B, .to = C, .amount = 1 },
    };
    struct ledger_account acc[6];
    int n = linked_accounts(it, 3, acc);

    is_int(n, 4, "four distinct accounts among six mentions");
    ok(strcmp(acc[0].id, D) == 0 && strcmp(acc[1].id, A) == 0 && strcmp(acc[2].id, B) == 0
           && strcmp(acc[3].id, C) == 0,
       "locked in ascending id order, whatever the items' order");
    ok(strcmp(acc[it[0].from_ix].id, C) == 0 && strcmp(acc[it[0].to_ix].id, A) == 0
           && strcmp(acc[it[1].to_ix].id, D) == 0 && strcmp(acc[it[2].from_ix].id, B) == 0,
       "each item points at its own accounts");
    ok(!acc[0].found && acc[0].balance == 0, "rows start unread");
    is_int(linked_accounts(it, 0, acc), -1, "no items");
    is_int(linked_accounts(it, LINKED_MAX + 1, acc), -1, "too many items");
    ok(LINKED_ROWS_MAX <= 3000, "the most rows a batch writes fits one DSQL transaction");
}

/* acc filled as the locked rows would be: every account a user with balance bal. */
static int rows(struct linked_item *it, int n, struct ledger_account *acc, int64_t bal)
{
    int k = linked_accounts(it, n, acc);

    for (int i = 0; i < k; i++) {
        acc[i].found = 1;
        acc[i].kind = LEDGER_KIND_USER;
        acc[i].balance = bal;
    }
    return k;
}

static void test_simulation(void)
{
    struct ledger_account acc[8];
    struct linked_outcome out;

    /* item 1 spends what item 0 credited */
    struct linked_item chain[2] = { { .from = A, .to = B, .amount = 20 },
                                    { .from = B, .to = C, .amount = 50 } };
    rows(chain, 2, acc, 30);
    out = linked_simulate(chain, 2, acc, 0);
    is_int(out.fail, LINKED_OK, "item 1 spends what item 0 credited");
    is_int(acc[chain[0].from_ix].balance, 10, "A: 30 - 20");
    is_int(acc[chain[1].from_ix].balance, 0, "B: 30 + 20 - 50");
    is_int(acc[chain[1].to_ix].balance, 80, "C: 30 + 50");

    /* without the credit first, it fails at index 0 */
    struct linked_item rev[2] = { { .from = B, .to = C, .amount = 50 },
                                  { .from = A, .to = B, .amount = 20 } };
    rows(rev, 2, acc, 30);
    out = linked_simulate(rev, 2, acc, 0);
    ok(out.fail == LINKED_INSUFFICIENT_FUNDS && out.index == 0 && out.available == 30,
       "the other order fails at item 0, available 30");

    /* debits accumulate on one payer */
    struct linked_item two[3] = { { .from = A, .to = B, .amount = 20 },
                                  { .from = A, .to = C, .amount = 10 },
                                  { .from = A, .to = B, .amount = 1 } };
    rows(two, 3, acc, 30);
    out = linked_simulate(two, 3, acc, 0);
    ok(out.fail == LINKED_INSUFFICIENT_FUNDS && out.index == 2 && out.available == 0,
       "the third item sees the first two debits");

    /* a pending item's hold counts for the next */
    struct linked_item hold[2] = { { .from = A, .to = B, .amount = 25, .pending = 1 },
                                   { .from = A, .to = C, .amount = 6 } };
    rows(hold, 2, acc, 30);
    out = linked_simulate(hold, 2, acc, 0);
    ok(out.fail == LINKED_INSUFFICIENT_FUNDS && out.index == 1 && out.available == 5,
       "a hold from an earlier item lowers the available funds");
    rows(hold, 2, acc, 31);
    out = linked_simulate(hold, 2, acc, 0);
    ok(out.fail == LINKED_OK && acc[hold[0].from_ix].held == 25
           && acc[hold[0].from_ix].balance == 25,
       "31 covers both: held 25, balance 25");

    /* the codes, in POST /transfer's order */
    struct linked_item one[1] = { { .from = A, .to = B, .amount = 1 } };
    rows(one, 1, acc, 5);
    acc[one[0].to_ix].found = 0;
    is_int(linked_simulate(one, 1, acc, 0).fail, LINKED_TO_NOT_FOUND, "unknown payee");
    acc[one[0].from_ix].found = 0;
    is_int(linked_simulate(one, 1, acc, 0).fail, LINKED_FROM_NOT_FOUND, "unknown payer first");
    rows(one, 1, acc, 5);
    acc[one[0].to_ix].kind = LEDGER_KIND_ESCROW;
    is_int(linked_simulate(one, 1, acc, 0).fail, LINKED_ESCROW, "an escrow account");
    rows(one, 1, acc, 5);
    acc[one[0].from_ix].kind = LEDGER_KIND_ISSUER;
    is_int(linked_simulate(one, 1, acc, 0).fail, LINKED_ADMIN_REQUIRED, "issuing needs an admin");
    is_int(linked_simulate(one, 1, acc, 1).fail, LINKED_OK, "an admin issues");
    one[0].pending = 1;
    is_int(linked_simulate(one, 1, acc, 1).fail, LINKED_PENDING_FROM_ISSUER,
           "no pending item out of the issuer");
    one[0].pending = 0;
    one[0].amount = 10;
    rows(one, 1, acc, INT64_MAX - 5);
    is_int(linked_simulate(one, 1, acc, 0).fail, LINKED_OUT_OF_RANGE,
           "a payee past bigint is out of range");
}

int main(void)
{
    test_item_validation();
    test_authorization();
    test_lock_order();
    test_simulation();
    return done_testing();
}
