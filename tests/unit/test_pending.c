/*
 * test_pending.c — unit tests for fcgi/domain/pending.c: statuses parsed
 * once, the timeout bounds, who is asking, the order of a post's or void's
 * refusals, the hold arithmetic of closing one, and the deadline text.
 */
#include "tap.h"

#include "domain/pending.h"

#include <stdint.h>
#include <string.h>

#define FROM "11111111-1111-4111-8111-111111111111"
#define TO "22222222-2222-4222-8222-222222222222"
#define OTHER "33333333-3333-4333-8333-333333333333"

static void test_status(void)
{
    static const char *const names[] = { "pending", "posted", "voided", "expired" };

    for (int i = 0; i < 4; i++) {
        enum pending_status s = pending_status_parse(names[i]);

        ok(s != PENDING_STATUS_UNKNOWN, "a schema status parses");
        is_str(pending_status_name(s), names[i], "and names itself back");
    }
    is_int(pending_status_parse("Pending"), PENDING_STATUS_UNKNOWN, "case matters");
    is_int(pending_status_parse(NULL), PENDING_STATUS_UNKNOWN, "NULL is unknown");
    is_str(pending_status_name((enum pending_status)99), "unknown", "out of range names unknown");
}

static void test_timeout(void)
{
    ok(!pending_timeout_valid(0), "0 s is too short");
    ok(pending_timeout_valid(PENDING_TIMEOUT_MIN), "the minimum");
    ok(pending_timeout_valid(PENDING_TIMEOUT_DEFAULT), "the default");
    ok(pending_timeout_valid(PENDING_TIMEOUT_MAX), "the maximum");
    ok(!pending_timeout_valid(PENDING_TIMEOUT_MAX + 1), "one past the maximum");
    ok(!pending_timeout_valid(-5), "negative");
}

static void test_party(void)
{
    is_int(pending_party_of(FROM, 0, FROM, TO), PENDING_PARTY_PAYER, "payer");
    is_int(pending_party_of(TO, 0, FROM, TO), PENDING_PARTY_PAYEE, "payee");
    is_int(pending_party_of(OTHER, 0, FROM, TO), PENDING_PARTY_STRANGER, "stranger");
    is_int(pending_party_of(OTHER, 1, FROM, TO), PENDING_PARTY_ADMIN, "admin");
}

static void test_decide(void)
{
    const enum pending_status P = PENDING_STATUS_PENDING;

    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, P, 0, 100, 100), PENDING_GO,
           "the payer posts all");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_ADMIN, P, 0, 100, 40), PENDING_GO,
           "an admin posts part");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYEE, P, 0, 100, 100), PENDING_NOT_PAYER,
           "the payee may not post");
    is_int(pending_decide(PENDING_VOID, PENDING_PARTY_PAYEE, P, 0, 100, 0), PENDING_GO,
           "the payee may void");
    is_int(pending_decide(PENDING_VOID, PENDING_PARTY_PAYER, P, 0, 100, 0), PENDING_GO,
           "the payer may void");
    is_int(pending_decide(PENDING_VOID, PENDING_PARTY_STRANGER, P, 0, 100, 0), PENDING_NOT_FOUND,
           "a stranger learns nothing (void)");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_STRANGER, PENDING_STATUS_POSTED, 1, 100, 500),
           PENDING_NOT_FOUND, "a stranger learns nothing, not even the status");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, P, 0, 100, 101),
           PENDING_AMOUNT_EXCEEDS, "one more than pending");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, PENDING_STATUS_POSTED, 0, 100, 100),
           PENDING_ALREADY_POSTED, "posted twice");
    is_int(pending_decide(PENDING_VOID, PENDING_PARTY_PAYER, PENDING_STATUS_POSTED, 0, 100, 0),
           PENDING_ALREADY_POSTED, "void after post");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, PENDING_STATUS_VOIDED, 0, 100, 100),
           PENDING_ALREADY_VOIDED, "post after void");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, PENDING_STATUS_EXPIRED, 0, 100, 100),
           PENDING_EXPIRED, "expired: no post");
    is_int(pending_decide(PENDING_VOID, PENDING_PARTY_PAYER, PENDING_STATUS_EXPIRED, 0, 100, 0),
           PENDING_EXPIRED, "expired: no void");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, P, 1, 100, 100), PENDING_EXPIRE_NOW,
           "pending past its deadline: expire it");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, P, 1, 100, 101), PENDING_EXPIRE_NOW,
           "the deadline comes before the amount");
    is_int(pending_decide(PENDING_POST, PENDING_PARTY_PAYER, PENDING_STATUS_UNKNOWN, 0, 100, 100),
           PENDING_EXPIRED, "an unknown status is never acted on");
}

static void test_split(void)
{
    int64_t moved = -1, released = -1, returned = -1;

    ok(pending_close_split(100, 40, &moved, &released, &returned) == 0, "partial post splits");
    is_int(moved, 40, "40 moves");
    is_int(released, 100, "the whole hold is released");
    is_int(returned, 60, "60 goes back to available");
    ok(pending_close_split(100, 0, &moved, &released, &returned) == 0, "void splits");
    is_int(moved, 0, "nothing moves");
    is_int(released, 100, "all released");
    is_int(returned, 100, "all back");
    ok(pending_close_split(100, 100, &moved, &released, &returned) == 0, "full post");
    is_int(returned, 0, "nothing back");
    ok(pending_close_split(100, 101, &moved, &released, &returned) < 0, "over the hold refused");
    ok(pending_close_split(100, -1, &moved, &released, &returned) < 0, "negative refused");
    ok(pending_close_split(0, 0, &moved, &released, &returned) < 0, "no hold refused");
}

static void test_deadline(void)
{
    char out[40];

    ok(pending_deadline_text("2026-01-02T03:04:05.123456Z", 3600, out) == 0, "an hour later");
    is_str(out, "2026-01-02T04:04:05.123456Z", "same microseconds, an hour on");
    ok(pending_deadline_text("2026-12-31T23:59:59.000001Z", 1, out) == 0, "a year boundary");
    is_str(out, "2027-01-01T00:00:00.000001Z", "carries into the next year");
    ok(pending_deadline_text("2028-02-28T12:00:00.500000Z", 86400, out) == 0, "a leap day");
    is_str(out, "2028-02-29T12:00:00.500000Z", "lands on 29 February");
    ok(pending_deadline_text("2026-01-02 03:04:05", 1, out) < 0, "not RFC 3339 with micros");
    ok(pending_deadline_text("2026-01-02T03:04:05.123456Zjunk", 1, out) < 0, "trailing junk");
    ok(pending_deadline_text("2026-01-02T03:04:05.123456Z", -1, out) < 0, "negative timeout");
}

int main(void)
{
    test_status();
    test_timeout();
    test_party();
    test_decide();
    test_split();
    test_deadline();
    return done_testing();
}
