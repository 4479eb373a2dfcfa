/*
 * test_idempotency.c — unit tests for the fingerprint's canonical request
 * (idem_canonical_request): member order and whitespace do not matter, an
 * optional member sent as null or at its default equals omitting it (per
 * route, per the table in idempotency.c, defaults that depend on another
 * member included), and everything else still distinguishes requests.
 */
#include "tap.h"

#include "api/idempotency.h"

#include <stdlib.h>
#include <string.h>

/* The canonical text of method path body (body as JSON text); "" if it does not parse. */
static char *canon(const char *method, const char *path, const char *body)
{
    struct json_object *o = body ? json_tokener_parse(body) : NULL;
    char *s;

    if (body && !o)
        return strdup("");
    s = idem_canonical_request(method, path, o);
    json_object_put(o);
    return s ? s : strdup("");
}

/* 1 when both requests canonicalise to the same text. */
static int same(const char *path, const char *a, const char *b)
{
    char *x = canon("POST", path, a), *y = canon("POST", path, b);
    int eq = strcmp(x, y) == 0;

    free(x);
    free(y);
    return eq;
}

int main(void)
{
    char *s = canon("POST", "/transfer", "{\"to\":\"b\", \"from\":\"a\",\"amount\":5}");

    is_str(s, "POST /transfer\n{\"amount\":5,\"from\":\"a\",\"to\":\"b\"}",
           "members sorted, no whitespace");
    free(s);
    s = canon("DELETE", "/order/x", NULL);
    is_str(s, "DELETE /order/x\nnull", "no body canonicalises to null");
    free(s);

    ok(same("/transfer", "{\"from\":\"a\",\"to\":\"b\",\"amount\":5}",
            "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"memo\":null}"),
       "transfer: memo null = omitted");
    ok(!same("/transfer", "{\"from\":\"a\",\"to\":\"b\",\"amount\":5}",
             "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"memo\":\"\"}"),
       "transfer: memo \"\" is a memo");
    ok(!same("/transfer", "{\"from\":\"a\",\"to\":\"b\",\"amount\":5}",
             "{\"from\":\"a\",\"to\":\"b\",\"amount\":6}"),
       "transfer: a different amount differs");
    ok(same("/transfer", "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"pending\":true}",
            "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"pending\":true,\"timeout\":3600}"),
       "pending transfer: timeout 3600 (the default) = omitted");
    ok(!same("/transfer", "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"pending\":true}",
             "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"pending\":true,\"timeout\":60}"),
       "pending transfer: another timeout differs");
    ok(!same("/transfer", "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"memo\":\"x\"}",
             "{\"from\":\"a\",\"to\":\"b\",\"amount\":5,\"memo\":\"y\"}"),
       "transfer: a different memo differs");
    ok(!same("/accounts", "{\"name\":\"a\"}", "{\"name\":\"a\",\"memo\":null}"),
       "a member optional on another route is not dropped here");

    ok(same("/order", "{\"market\":\"m\",\"side\":\"buy\",\"price\":5,\"quantity\":1}",
            "{\"market\":\"m\",\"side\":\"buy\",\"price\":5,\"quantity\":1,\"time_in_force\":"
            "\"gtc\",\"outcome\":null}"),
       "order: time_in_force gtc and outcome null = omitted");
    ok(!same("/order", "{\"market\":\"m\",\"side\":\"buy\",\"price\":5,\"quantity\":1}",
             "{\"market\":\"m\",\"side\":\"buy\",\"price\":5,\"quantity\":1,\"time_in_force\":"
             "\"ioc\"}"),
       "order: ioc differs");
    ok(!same("/order",
             "{\"market\":\"m\",\"side\":\"buy\",\"price\":5,\"quantity\":1,\"outcome\":\"yes\"}",
             "{\"market\":\"m\",\"side\":\"buy\",\"price\":5,\"quantity\":1}"),
       "order: an outcome differs");

    ok(same("/lots",
            "{\"kind\":\"english\",\"seller\":\"s\",\"start\":1,\"increment\":1,\"ends_in\":9}",
            "{\"kind\":\"english\",\"seller\":\"s\",\"start\":1,\"increment\":1,\"ends_in\":9,"
            "\"title\":\"\",\"reserve\":null,\"snipe_window\":0,\"snipe_extend\":0}"),
       "lots: title \"\", reserve null, snipe_* 0 = omitted");
    ok(same("/lots", "{\"kind\":\"english\",\"seller\":\"s\",\"title\":null}",
            "{\"kind\":\"english\",\"seller\":\"s\"}"),
       "lots: title null = omitted");
    ok(!same("/lots", "{\"kind\":\"english\",\"seller\":\"s\",\"snipe_window\":5}",
             "{\"kind\":\"english\",\"seller\":\"s\"}"),
       "lots: snipe_window 5 differs");
    ok(same("/lots", "{\"kind\":\"drop\",\"seller\":\"s\",\"max_per_claim\":null}",
            "{\"kind\":\"drop\",\"seller\":\"s\"}"),
       "lots: max_per_claim null = omitted");

    ok(same("/markets", "{\"kind\":\"event\",\"title\":\"t\"}",
            "{\"kind\":\"event\",\"title\":\"t\",\"tick_min\":1,\"tick_max\":99}"),
       "event market: ticks 1..99 = omitted");
    ok(!same("/markets", "{\"kind\":\"event\",\"title\":\"t\"}",
             "{\"kind\":\"event\",\"title\":\"t\",\"tick_max\":1000000}"),
       "event market: tick_max 1000000 is not the event default");
    ok(same("/markets", "{\"kind\":\"shares\",\"title\":\"t\",\"owner\":\"o\",\"supply\":5}",
            "{\"kind\":\"shares\",\"title\":\"t\",\"owner\":\"o\",\"supply\":5,\"tick_max\":"
            "1000000}"),
       "shares market: tick_max 1000000 = omitted");
    ok(!same("/markets", "{\"kind\":\"shares\",\"title\":\"t\",\"owner\":\"o\",\"supply\":5}",
             "{\"kind\":\"shares\",\"title\":\"t\",\"owner\":\"o\",\"supply\":5,\"tick_max\":99}"),
       "shares market: tick_max 99 differs");

    ok(same("/proof/runs", "{\"scenario\":\"oversell\"}",
            "{\"scenario\":\"oversell\",\"n\":100,\"k\":null}"),
       "runs: n 100 and k null = omitted");
    ok(!same("/proof/runs", "{\"scenario\":\"oversell\"}", "{\"scenario\":\"oversell\",\"n\":10}"),
       "runs: n 10 differs");
    ok(!same("/proof/runs", "{\"scenario\":\"oversell\"}",
             "{\"scenario\":\"oversell\",\"n\":100.0}"),
       "runs: 100.0 is not the integer 100 (the handler refuses it anyway)");
    {
        char *a = canon("POST", "/markets/x/resolve", "{\"outcome\":\"yes\"}");
        char *b = canon("POST", "/markets/y/resolve", "{\"outcome\":\"yes\"}");
        ok(strcmp(a, b) != 0, "the path is part of the request: two markets, two requests");
        free(a);
        free(b);
    }
    return done_testing();
}
