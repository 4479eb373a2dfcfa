/*
 * routes.c — which handler answers which method and path, and who may call it.
 * Order matters only where a literal and a capture share a position
 * (/accounts/issuer before /accounts/{id}).
 */
#include "routes.h"

const struct route routes[] = {
    { "GET",  "/healthz",                handle_healthz,          EP_HEALTHZ,   AUTH_NONE },
    { "GET",  "/metrics",                handle_metrics,          EP_METRICS,   AUTH_NONE },
    { "POST", "/accounts",               handle_account_create,   EP_ACCOUNTS,  AUTH_ADMIN },
    { "GET",  "/accounts/issuer",        handle_account_issuer,   EP_ACCOUNTS,  AUTH_ADMIN },
    { "GET",  "/accounts/{id}",          handle_account_get,      EP_ACCOUNTS,  AUTH_USER },
    { "GET",  "/accounts/{id}/entries",  handle_account_entries,  EP_ACCOUNTS,  AUTH_USER },
    { "POST", "/transfer",               handle_transfer_create,  EP_TRANSFER,  AUTH_USER },
    { "GET",  "/transfers/{id}",         handle_transfer_get,     EP_TRANSFERS, AUTH_USER },
    { "POST", "/lots",                   handle_lot_create,       EP_LOTS,      AUTH_ADMIN },
    { "GET",  "/lots",                   handle_lot_list,         EP_LOTS,      AUTH_NONE },
    { "GET",  "/lots/{id}",              handle_lot_get,          EP_LOTS,      AUTH_NONE },
    { "POST", "/bid",                    handle_bid,              EP_BID,       AUTH_USER },
    { "GET",  "/proof",                  handle_proof,            EP_PROOF,     AUTH_NONE },
    { "POST", "/proof/runs",             handle_proof_run_create, EP_PROOF,     AUTH_ADMIN },
    { "GET",  "/proof/runs",             handle_proof_run_list,   EP_PROOF,     AUTH_NONE },
    { "GET",  "/proof/runs/{id}",        handle_proof_run_get,    EP_PROOF,     AUTH_NONE },
    { "GET",  "/proof/activity",         handle_activity,         EP_PROOF,     AUTH_NONE },
    { "POST", "/markets",                handle_market_create,    EP_MARKETS,   AUTH_ADMIN },
    { "GET",  "/markets",                handle_market_list,      EP_MARKETS,   AUTH_NONE },
    { "GET",  "/markets/{id}",           handle_market_get,       EP_MARKETS,   AUTH_NONE },
    { "POST", "/markets/{id}/resolve",   handle_market_resolve,   EP_MARKETS,   AUTH_ADMIN },
    { "POST", "/order",                  handle_order_create,     EP_ORDER,     AUTH_USER },
    { "DELETE", "/order/{id}",           handle_order_cancel,     EP_ORDER,     AUTH_USER },
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
