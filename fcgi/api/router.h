/*
 * router.h — matching a method and path against the route table.
 *
 * Patterns are literal segments and `{name}` captures ("/accounts/{id}").
 * A path that matches some route but not its method is a 405 with the
 * methods that would have matched, for the Allow header. HEAD matches every
 * GET route (RFC 9110 §9.3.2), and an Allow that lists GET lists HEAD too.
 */
#ifndef ZS_ROUTER_H
#define ZS_ROUTER_H

#include "api/http.h"

enum route_auth { AUTH_NONE, AUTH_USER, AUTH_ADMIN };

typedef void (*route_handler)(struct request *r);

struct route {
    const char *method;
    const char *pattern;
    route_handler handler;
    enum metrics_endpoint endpoint;
    enum route_auth auth;
    const char *pool; /* the worker pool that serves it (nginx routes there) */
};

enum router_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/*
 * Find the route for r->method and r->path in table[0..n). On ROUTE_FOUND,
 * *out is the route and r->path_params hold the captures. On
 * ROUTE_BAD_METHOD, allow holds "GET, HEAD, POST" style text (allowlen bytes).
 * A HEAD request finds the GET route of its path (the method in r stays
 * HEAD, so the answer leaves without its body).
 * On ROUTE_NOT_FOUND but a pattern's endpoint matched the first segment,
 * r->endpoint is still set for metrics.
 */
enum router_result router_match(const struct route *table, size_t n, struct request *r,
                                const struct route **out, char *allow, size_t allowlen);

#endif
