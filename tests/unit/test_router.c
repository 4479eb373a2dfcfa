/*
 * test_router.c — unit tests for fcgi/api/router.c: {captures}, 404 versus 405
 * and the Allow text, literal-before-capture ordering (on a table of our
 * own and on the real routes[] of routes.c), the endpoint label kept for
 * metrics on unmatched paths, and worker_dispatch()'s 404/405 answers.
 */
#include "tap.h"

#include "api/router.h"
#include "api/routes.h"
#include "api/worker.h"

#include <stdio.h>
#include <string.h>

static void h_a(struct request *r)
{
    (void)r;
}
static void h_b(struct request *r)
{
    (void)r;
}
static void h_c(struct request *r)
{
    (void)r;
}
static void h_d(struct request *r)
{
    (void)r;
}
static void h_e(struct request *r)
{
    (void)r;
}
static void h_f(struct request *r)
{
    (void)r;
}

static const struct route table[] = {
    { "GET", "/items", h_a, EP_LOTS, AUTH_NONE, "t" },
    { "POST", "/items", h_b, EP_LOTS, AUTH_USER, "t" },
    { "GET", "/items/special", h_c, EP_LOTS, AUTH_NONE, "t" },
    { "GET", "/items/{id}", h_d, EP_LOTS, AUTH_NONE, "t" },
    { "DELETE", "/items/{id}", h_e, EP_LOTS, AUTH_ADMIN, "t" },
    { "GET", "/a/{x}/b/{y}", h_f, EP_MARKETS, AUTH_NONE, "t" },
};
static const size_t ntable = sizeof(table) / sizeof(table[0]);

static struct request req;
static const struct route *found;
static char allow[64];

/* Match method and path against tbl[0..n); the request is left in `req`. */
static enum router_result run(const struct route *tbl, size_t n, const char *method,
                              const char *path)
{
    memset(&req, 0, sizeof(req));
    req.endpoint = EP_OTHER;
    snprintf(req.method, sizeof(req.method), "%s", method);
    snprintf(req.path, sizeof(req.path), "%s", path);
    found = NULL;
    memset(allow, 'x', sizeof(allow));
    return router_match(tbl, n, &req, &found, allow, sizeof(allow));
}

static void test_literals_and_captures(void)
{
    is_int(run(table, ntable, "GET", "/items"), ROUTE_FOUND, "GET /items found");
    ok(found && found->handler == h_a, "GET /items → its handler");
    is_int(req.npath_params, 0, "no captures on a literal route");
    is_int(run(table, ntable, "POST", "/items"), ROUTE_FOUND, "POST /items found");
    ok(found && found->handler == h_b, "POST /items → the POST handler, not the GET one");

    is_int(run(table, ntable, "GET", "/items/42"), ROUTE_FOUND, "GET /items/42 found");
    ok(found && found->handler == h_d, "capture route answers /items/42");
    is_int(req.npath_params, 1, "one capture");
    is_str(req.path_params[0], "42", "capture holds the segment");
    is_int(req.endpoint, EP_LOTS, "endpoint set from the route");

    is_int(run(table, ntable, "GET", "/a/one/b/two"), ROUTE_FOUND, "two captures found");
    is_int(req.npath_params, 2, "two captures counted");
    is_str(req.path_params[0], "one", "first capture");
    is_str(req.path_params[1], "two", "second capture");
    is_int(req.endpoint, EP_MARKETS, "endpoint of the two-capture route");

    /* A capture holds exactly one non-empty segment. */
    is_int(run(table, ntable, "GET", "/items/42/more"), ROUTE_NOT_FOUND,
           "a capture does not swallow a further segment");
    is_int(run(table, ntable, "GET", "/items/"), ROUTE_NOT_FOUND,
           "an empty capture does not match");
    is_int(run(table, ntable, "GET", "/a//b/two"), ROUTE_NOT_FOUND,
           "an empty middle capture does not match");
    is_int(run(table, ntable, "GET", "/a/one/c/two"), ROUTE_NOT_FOUND,
           "a literal between captures must match");
    is_int(run(table, ntable, "GET", "/itemsX"), ROUTE_NOT_FOUND,
           "a literal must match the whole segment");
    is_int(run(table, ntable, "GET", "/item"), ROUTE_NOT_FOUND,
           "a prefix of a literal does not match");
    is_int(run(table, ntable, "GET", "items"), ROUTE_NOT_FOUND, "a path without a leading slash");
    is_int(run(table, ntable, "GET", ""), ROUTE_NOT_FOUND, "an empty path");
    is_int(run(table, ntable, "GET", "/"), ROUTE_NOT_FOUND, "/ is not a route here");

    {
        char longseg[200];
        memset(longseg, 'a', sizeof(longseg));
        memcpy(longseg, "/items/", 7);
        longseg[7 + 63] = '\0'; /* 63 bytes fit a 64-byte capture */
        is_int(run(table, ntable, "GET", longseg), ROUTE_FOUND, "a 63-byte capture fits");
        is_int((long long)strlen(req.path_params[0]), 63, "and is kept whole");
        longseg[7 + 63] = 'a';
        longseg[7 + 64] = '\0'; /* 64 bytes do not */
        is_int(run(table, ntable, "GET", longseg), ROUTE_NOT_FOUND,
               "a capture longer than its buffer is refused, not truncated");
    }
}

static void test_not_found_vs_bad_method(void)
{
    is_int(run(table, ntable, "GET", "/nothing"), ROUTE_NOT_FOUND, "unknown path → NOT_FOUND");
    is_str(allow, "", "allow is emptied on NOT_FOUND");
    is_int(req.endpoint, EP_OTHER, "unknown first segment keeps EP_OTHER");

    is_int(run(table, ntable, "GET", "/items/1/2/3"), ROUTE_NOT_FOUND,
           "deeper path under a known prefix → NOT_FOUND");
    is_int(req.endpoint, EP_LOTS, "…but the endpoint label follows the first segment");

    is_int(run(table, ntable, "PUT", "/items"), ROUTE_BAD_METHOD, "PUT /items → BAD_METHOD");
    is_str(allow, "GET, HEAD, POST", "Allow lists GET (then HEAD) and POST in table order");
    ok(found == NULL, "no route handed out on BAD_METHOD");

    is_int(run(table, ntable, "POST", "/items/7"), ROUTE_BAD_METHOD, "POST /items/7 → BAD_METHOD");
    is_str(allow, "GET, HEAD, DELETE", "Allow for the capture route");

    /* /items/special matches the literal (GET) and the capture (GET, DELETE):
     * GET must appear once. */
    is_int(run(table, ntable, "PATCH", "/items/special"), ROUTE_BAD_METHOD,
           "PATCH /items/special → BAD_METHOD");
    is_str(allow, "GET, HEAD, DELETE", "Allow has no duplicate GET or HEAD");

    is_int(run(table, ntable, "DELETE", "/items/special"), ROUTE_FOUND,
           "DELETE /items/special falls through to the capture route");
    ok(found && found->handler == h_e, "…its DELETE handler");
    is_str(req.path_params[0], "special", "…with the literal as the capture");

    /* Method names are case-sensitive (RFC 9110 §9.1). */
    is_int(run(table, ntable, "get", "/items"), ROUTE_BAD_METHOD, "lowercase get is not GET");

    /* A tiny Allow buffer is never overrun and stays NUL-terminated. */
    {
        char small[6];
        memset(&req, 0, sizeof(req));
        snprintf(req.method, sizeof(req.method), "PUT");
        snprintf(req.path, sizeof(req.path), "/items/3");
        memset(small, 'x', sizeof(small));
        is_int(router_match(table, ntable, &req, &found, small, sizeof(small)), ROUTE_BAD_METHOD,
               "small Allow buffer: still BAD_METHOD");
        ok(memchr(small, '\0', sizeof(small)) != NULL, "small Allow buffer is NUL-terminated");
        is_str(small, "GET", "small Allow buffer keeps what fits whole");
    }
}

/* HEAD finds the GET route of its path; it never finds a route of another method. */
static void test_head(void)
{
    is_int(run(table, ntable, "HEAD", "/items"), ROUTE_FOUND, "HEAD /items → FOUND");
    ok(found && found->handler == h_a, "…the GET handler");
    is_str(req.method, "HEAD", "…and the request stays HEAD (no body goes out)");
    is_int(run(table, ntable, "HEAD", "/items/9"), ROUTE_FOUND, "HEAD /items/9 → FOUND");
    ok(found && found->handler == h_d, "…the GET capture, not DELETE");
    is_str(req.path_params[0], "9", "…with its capture");
}

/* A concrete path for pattern: every {capture} becomes "c0ffee". */
static void concrete(const char *pattern, char *out, size_t outlen)
{
    size_t o = 0;

    for (const char *p = pattern; *p && o + 8 < outlen; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            memcpy(out + o, "c0ffee", 6);
            o += 6;
            p = end ? end : p;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* Every GET route of the real table answers HEAD, and every 405 on a path
 * that allows GET lists HEAD too: walked, not hand-listed. */
static void test_head_real_table(void)
{
    size_t gets = 0;

    for (size_t i = 0; i < routes_count; i++) {
        char path[128], name[320];
        const struct route *get_route;

        if (strcmp(routes[i].method, "GET") != 0)
            continue;
        gets++;
        concrete(routes[i].pattern, path, sizeof(path));
        run(routes, routes_count, "GET", path);
        get_route = found;
        snprintf(name, sizeof(name), "HEAD %s finds the route GET %s finds", path, path);
        is_int(run(routes, routes_count, "HEAD", path), ROUTE_FOUND, name);
        ok(found && found == get_route, "…the same route");
        snprintf(name, sizeof(name), "PUT %s: 405 whose Allow lists GET and HEAD", path);
        is_int(run(routes, routes_count, "PUT", path), ROUTE_BAD_METHOD, name);
        ok(strstr(allow, "GET") && strstr(allow, "HEAD"), allow);
    }
    ok(gets >= 10, "the real table has its GET routes");
    for (size_t i = 0; i < routes_count; i++) {
        char path[256];
        concrete(routes[i].pattern, path, sizeof(path));
        if (run(routes, routes_count, "PUT", path) == ROUTE_BAD_METHOD)
            ok(!strstr(allow, "GET") == !strstr(allow, "HEAD"), path);
    }
}

static void test_literal_before_capture(void)
{
    static const struct route capture_first[] = {
        { "GET", "/items/{id}", h_d, EP_LOTS, AUTH_NONE, "t" },
        { "GET", "/items/special", h_c, EP_LOTS, AUTH_NONE, "t" },
    };

    is_int(run(table, ntable, "GET", "/items/special"), ROUTE_FOUND, "GET /items/special found");
    ok(found && found->handler == h_c, "the literal listed first wins over the capture");
    is_int(req.npath_params, 0, "…and fills no capture");

    is_int(run(capture_first, 2, "GET", "/items/special"), ROUTE_FOUND, "capture-first table");
    ok(found && found->handler == h_d, "table order decides: the earlier capture wins");
}

/* The index in routes[] of the route for method + pattern, or -1. */
static int route_index(const char *method, const char *pattern)
{
    for (size_t i = 0; i < routes_count; i++)
        if (strcmp(routes[i].method, method) == 0 && strcmp(routes[i].pattern, pattern) == 0)
            return (int)i;
    return -1;
}

static void test_real_table(void)
{
    int issuer = route_index("GET", "/accounts/issuer");
    int byid = route_index("GET", "/accounts/{id}");

    ok(routes_count > 0, "routes[] is not empty");
    ok(issuer >= 0 && byid >= 0, "routes[] has /accounts/issuer and /accounts/{id}");
    ok(issuer < byid, "/accounts/issuer is listed before /accounts/{id}");

    /* Every literal route must be reachable: no earlier capture route of
     * the same method may shadow it. */
    for (size_t i = 0; i < routes_count; i++) {
        char name[160];
        if (strchr(routes[i].pattern, '{'))
            continue;
        snprintf(name, sizeof(name), "%s %s reaches its own handler", routes[i].method,
                 routes[i].pattern);
        ok(run(routes, routes_count, routes[i].method, routes[i].pattern) == ROUTE_FOUND
               && found == &routes[i],
           name);
    }

    is_int(run(routes, routes_count, "GET", "/accounts/issuer"), ROUTE_FOUND,
           "GET /accounts/issuer");
    ok(found && found->handler == handle_account_issuer, "→ handle_account_issuer");
    is_int(found ? (int)found->auth : -1, AUTH_ADMIN, "issuer lookup needs admin");

    is_int(run(routes, routes_count, "GET", "/accounts/5f0c6b7e-0000-4000-8000-000000000001"),
           ROUTE_FOUND, "GET /accounts/{id}");
    ok(found && found->handler == handle_account_get, "→ handle_account_get");
    is_str(req.path_params[0], "5f0c6b7e-0000-4000-8000-000000000001", "id captured");

    is_int(run(routes, routes_count, "GET", "/accounts/abc/entries"), ROUTE_FOUND,
           "GET /accounts/{id}/entries");
    ok(found && found->handler == handle_account_entries, "→ handle_account_entries");
    is_str(req.path_params[0], "abc", "entries: id captured");

    is_int(run(routes, routes_count, "GET", "/healthz"), ROUTE_FOUND, "GET /healthz");
    ok(found && found->handler == handle_healthz && found->auth == AUTH_NONE,
       "/healthz needs no auth");
    is_int(req.endpoint, EP_HEALTHZ, "/healthz endpoint label");

    is_int(run(routes, routes_count, "DELETE", "/healthz"), ROUTE_BAD_METHOD, "DELETE /healthz");
    is_str(allow, "GET, HEAD", "Allow: GET, HEAD");
    is_int(run(routes, routes_count, "GET", "/transfer"), ROUTE_BAD_METHOD, "GET /transfer");
    is_str(allow, "POST", "Allow: POST");
    is_int(req.endpoint, EP_TRANSFER, "GET /transfer is labelled transfer");
    is_int(run(routes, routes_count, "DELETE", "/accounts/issuer"), ROUTE_BAD_METHOD,
           "DELETE /accounts/issuer");
    is_str(allow, "GET, HEAD, PATCH",
           "Allow: GET, HEAD once (literal and capture both GET), and the capture's PATCH");
    is_int(run(routes, routes_count, "GET", "/accounts"), ROUTE_BAD_METHOD, "GET /accounts");
    is_str(allow, "POST", "Allow: POST");

    is_int(run(routes, routes_count, "GET", "/no/such/thing"), ROUTE_NOT_FOUND, "unknown path");
    is_int(req.endpoint, EP_OTHER, "unknown path labelled other");
}

/* worker_dispatch() on a synthetic request (no FastCGI stream): the
 * router's verdicts become 404 and 405 before any handler runs. */
static void test_dispatch(void)
{
    memset(&req, 0, sizeof(req));
    snprintf(req.method, sizeof(req.method), "GET");
    snprintf(req.path, sizeof(req.path), "/definitely/not/here");
    snprintf(req.request_id, sizeof(req.request_id), "t1");
    worker_dispatch(&req);
    is_int(req.status, 404, "dispatch: unknown path → 404");

    memset(&req, 0, sizeof(req));
    snprintf(req.method, sizeof(req.method), "PUT");
    snprintf(req.path, sizeof(req.path), "/healthz");
    snprintf(req.request_id, sizeof(req.request_id), "t2");
    worker_dispatch(&req);
    is_int(req.status, 405, "dispatch: PUT /healthz → 405");

    memset(&req, 0, sizeof(req));
    snprintf(req.method, sizeof(req.method), "POST");
    snprintf(req.path, sizeof(req.path), "/accounts");
    snprintf(req.request_id, sizeof(req.request_id), "t3");
    worker_dispatch(&req);
    is_int(req.status, 401, "dispatch: POST /accounts without a token → 401 before any body work");

    /* A worker answers only its own pool's routes: POST /transfer reaching
     * the default pool (a trailing-slash leak) is unknown there. */
    worker_set_pool("default");
    memset(&req, 0, sizeof(req));
    snprintf(req.method, sizeof(req.method), "POST");
    snprintf(req.path, sizeof(req.path), "/transfer");
    snprintf(req.request_id, sizeof(req.request_id), "t4");
    worker_dispatch(&req);
    is_int(req.status, 404, "dispatch: POST /transfer in the default pool → 404");
    memset(&req, 0, sizeof(req));
    snprintf(req.method, sizeof(req.method), "POST");
    snprintf(req.path, sizeof(req.path), "/accounts");
    snprintf(req.request_id, sizeof(req.request_id), "t5");
    worker_dispatch(&req);
    is_int(req.status, 401, "dispatch: POST /accounts in the default pool is its own route (401)");
    worker_set_pool(NULL);
}

int main(void)
{
    test_literals_and_captures();
    test_not_found_vs_bad_method();
    test_literal_before_capture();
    test_real_table();
    test_head();
    test_head_real_table();
    test_dispatch();
    return done_testing();
}
