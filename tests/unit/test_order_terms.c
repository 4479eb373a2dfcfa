/*
 * test_order_terms.c — unit tests for fcgi/domain/order_terms.c: how an
 * order's type, time in force, deadline and post-only combine (each rule
 * refused with its code, defaults filled in), and the RFC 3339 parser and
 * formatter behind "expires_at".
 */
#include "tap.h"

#include "domain/order_terms.h"

#include <string.h>

static const char *check(enum order_type type, int price, int prot, int has_tif, enum order_tif tif,
                         int expires, int post_only, enum order_tif *out)
{
    struct order_terms t;
    const char *detail, *code;

    memset(&t, 0, sizeof(t));
    t.type = type;
    t.has_price = price;
    t.has_protection = prot;
    t.has_tif = has_tif;
    t.tif = tif;
    t.has_expires = expires;
    t.post_only = post_only;
    code = order_terms_check(&t, &detail);
    if (out)
        *out = t.tif;
    if (code)
        ok(detail && *detail, "a refusal names its members");
    return code;
}

static void test_terms(void)
{
    enum order_tif tif;

    is_str(check(ORDER_LIMIT, 1, 0, 0, TIF_GTC, 0, 0, &tif) ? "refused" : "ok", "ok",
           "a plain limit order is fine");
    is_int(tif, TIF_GTC, "limit: gtc by default");
    ok(check(ORDER_MARKET, 0, 1, 0, TIF_GTC, 0, 0, &tif) == NULL, "market with protection is fine");
    is_int(tif, TIF_IOC, "market: ioc by default");
    ok(check(ORDER_MARKET, 0, 1, 1, TIF_FOK, 0, 0, NULL) == NULL, "market fok is fine");
    is_str(check(ORDER_MARKET, 0, 1, 1, TIF_GTC, 0, 0, NULL), "conflicting_fields", "market gtc");
    is_str(check(ORDER_MARKET, 0, 1, 1, TIF_GTD, 1, 0, NULL), "conflicting_fields", "market gtd");
    is_str(check(ORDER_MARKET, 1, 1, 0, TIF_GTC, 0, 0, NULL), "conflicting_fields",
           "market with price");
    is_str(check(ORDER_MARKET, 0, 0, 0, TIF_GTC, 0, 0, NULL), "missing_field",
           "market without protection");
    is_str(check(ORDER_LIMIT, 1, 1, 0, TIF_GTC, 0, 0, NULL), "conflicting_fields",
           "limit with protection");
    is_str(check(ORDER_LIMIT, 0, 0, 0, TIF_GTC, 0, 0, NULL), "missing_field",
           "limit without price");
    is_str(check(ORDER_LIMIT, 1, 0, 1, TIF_GTD, 0, 0, NULL), "missing_field",
           "gtd without expires_at");
    ok(check(ORDER_LIMIT, 1, 0, 1, TIF_GTD, 1, 0, NULL) == NULL, "gtd with expires_at is fine");
    is_str(check(ORDER_LIMIT, 1, 0, 0, TIF_GTC, 1, 0, NULL), "conflicting_fields",
           "expires_at on a gtc order");
    is_str(check(ORDER_LIMIT, 1, 0, 1, TIF_IOC, 1, 0, NULL), "conflicting_fields",
           "expires_at on an ioc order");
    ok(check(ORDER_LIMIT, 1, 0, 0, TIF_GTC, 0, 1, NULL) == NULL, "post-only gtc is fine");
    ok(check(ORDER_LIMIT, 1, 0, 1, TIF_GTD, 1, 1, NULL) == NULL, "post-only gtd is fine");
    is_str(check(ORDER_LIMIT, 1, 0, 1, TIF_IOC, 0, 1, NULL), "conflicting_fields", "post-only ioc");
    is_str(check(ORDER_LIMIT, 1, 0, 1, TIF_FOK, 0, 1, NULL), "conflicting_fields", "post-only fok");
    is_str(check(ORDER_MARKET, 0, 1, 0, TIF_GTC, 0, 1, NULL), "conflicting_fields",
           "post-only market");
}

static void test_type_enum(void)
{
    enum order_type t;

    is_int(order_type_parse("market", &t), 0, "market parses");
    is_int(t, ORDER_MARKET, "…as ORDER_MARKET");
    is_int(order_type_parse("stop", &t), -1, "stop refused");
    is_str(order_type_name(ORDER_LIMIT), "limit", "limit's name");
}

static void test_time(void)
{
    int64_t us;
    char buf[32];

    is_int(order_time_parse("1970-01-01T00:00:00Z", &us), 0, "the epoch parses");
    is_int(us, 0, "…as 0");
    is_int(order_time_parse("2030-01-02T03:04:05.5Z", &us), 0, "a fraction parses");
    is_int(us, 1893553445500000LL, "…scaled to microseconds");
    is_int(order_time_parse("2030-01-02T05:04:05+02:00", &us), 0, "an offset parses");
    is_int(us, 1893553445000000LL, "…as the instant it names");
    is_int(order_time_parse("2030-01-01T22:04:05-05:00", &us), 0, "a negative offset parses");
    is_int(us, 1893553445000000LL, "…likewise");
    is_int(order_time_parse("2028-02-29T00:00:00Z", &us), 0, "29 February of a leap year");
    is_int(order_time_parse("2027-02-29T00:00:00Z", &us), -1, "29 February of another year");
    is_int(order_time_parse("2030-02-30T00:00:00Z", &us), -1, "30 February");
    is_int(order_time_parse("2030-13-01T00:00:00Z", &us), -1, "month 13");
    is_int(order_time_parse("2030-01-01T24:00:00Z", &us), -1, "hour 24");
    is_int(order_time_parse("2030-01-01T00:00:60Z", &us), -1, "second 60");
    is_int(order_time_parse("2030-01-01 00:00:00Z", &us), -1, "a space for T");
    is_int(order_time_parse("2030-01-01T00:00:00", &us), -1, "no zone");
    is_int(order_time_parse("2030-01-01T00:00:00.Z", &us), -1, "an empty fraction");
    is_int(order_time_parse("2030-01-01T00:00:00.1234567Z", &us), -1, "7 fraction digits");
    is_int(order_time_parse("2030-01-01T00:00:00Zjunk", &us), -1, "trailing text");
    is_int(order_time_parse("2030-01-01T00:00:00+2:00", &us), -1, "a short offset");
    is_int(order_time_parse("1969-12-31T23:59:59Z", &us), -1, "before 1970");
    is_int(order_time_parse("", &us), -1, "empty");
    is_int(order_time_text(1893553445500000LL, buf, sizeof(buf)), 0, "formats");
    is_str(buf, "2030-01-02T03:04:05.500000Z", "…in UTC with microseconds");
    is_int(order_time_text(0, buf, 10), -1, "a short buffer is refused");
}

int main(void)
{
    test_terms();
    test_type_enum();
    test_time();
    return done_testing();
}
