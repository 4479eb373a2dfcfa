/*
 * routes.c — which handler answers which method and path, and who may call it.
 * Order matters only where a literal and a capture share a position
 * (/accounts/issuer before /accounts/{id}). The last column is the pool that
 * serves the route: nginx sends the path there, with or without one trailing
 * slash, and a worker of any other pool answers 404 (worker_dispatch()).
 */
#include "api/routes.h"

const struct route routes[] = {
    { "GET", "/healthz", handle_healthz, EP_HEALTHZ, AUTH_NONE, "default" },
    { "GET", "/metrics", handle_metrics, EP_METRICS, AUTH_NONE, "default" },
    { "POST", "/accounts", handle_account_create, EP_ACCOUNTS, AUTH_ADMIN, "default" },
    { "GET", "/accounts/issuer", handle_account_issuer, EP_ACCOUNTS, AUTH_ADMIN, "default" },
    { "GET", "/accounts/{id}", handle_account_get, EP_ACCOUNTS, AUTH_USER, "default" },
    { "PATCH", "/accounts/{id}", handle_account_patch, EP_ACCOUNTS, AUTH_ADMIN, "default" },
    { "GET", "/accounts/{id}/entries", handle_account_entries, EP_ACCOUNTS, AUTH_USER, "default" },
    { "GET", "/accounts/{id}/balance", handle_account_balance, EP_ACCOUNTS, AUTH_USER, "default" },
    { "GET", "/accounts/{id}/transfers", handle_account_transfers, EP_ACCOUNTS, AUTH_USER,
      "default" },
    { "POST", "/transfer", handle_transfer_create, EP_TRANSFER, AUTH_USER, "transfer" },
    { "POST", "/transfers/batch", handle_transfer_batch, EP_TRANSFERS, AUTH_USER, "default" },
    { "GET", "/transfers/{id}", handle_transfer_get, EP_TRANSFERS, AUTH_USER, "default" },
    { "POST", "/transfers/{id}/post", handle_transfer_post, EP_TRANSFERS, AUTH_USER, "default" },
    { "POST", "/transfers/{id}/void", handle_transfer_void, EP_TRANSFERS, AUTH_USER, "default" },
    { "POST", "/lots", handle_lot_create, EP_LOTS, AUTH_ADMIN, "default" },
    { "GET", "/lots", handle_lot_list, EP_LOTS, AUTH_NONE, "default" },
    { "GET", "/lots/{id}", handle_lot_get, EP_LOTS, AUTH_NONE, "default" },
    { "GET", "/lots/{id}/bids", handle_lot_bids, EP_LOTS, AUTH_NONE, "default" },
    { "POST", "/bid", handle_bid, EP_BID, AUTH_USER, "bid" },
    { "GET", "/proof", handle_proof, EP_PROOF, AUTH_NONE, "proof" },
    { "POST", "/proof/runs", handle_proof_run_create, EP_PROOF, AUTH_ADMIN, "proof" },
    { "GET", "/proof/runs", handle_proof_run_list, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/runs/{id}", handle_proof_run_get, EP_PROOF, AUTH_NONE, "proof" },
    { "POST", "/proof/audits", handle_proof_audit_create, EP_PROOF, AUTH_ADMIN, "proof" },
    { "GET", "/proof/audits/{id}", handle_proof_audit_get, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/activity", handle_activity, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/holds", handle_proof_holds, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/key", handle_tlog_key, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/checkpoint", handle_tlog_checkpoint, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/inclusion", handle_tlog_inclusion, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/consistency", handle_tlog_consistency, EP_PROOF, AUTH_NONE, "proof" },
    { "GET", "/proof/records", handle_tlog_records, EP_PROOF, AUTH_NONE, "proof" },
    { "POST", "/markets", handle_market_create, EP_MARKETS, AUTH_ADMIN, "default" },
    { "GET", "/markets", handle_market_list, EP_MARKETS, AUTH_NONE, "default" },
    { "GET", "/markets/{id}", handle_market_get, EP_MARKETS, AUTH_NONE, "default" },
    { "GET", "/markets/{id}/trades", handle_market_trades, EP_MARKETS, AUTH_NONE, "default" },
    { "POST", "/markets/{id}/resolve", handle_market_resolve, EP_MARKETS, AUTH_ADMIN, "default" },
    { "POST", "/markets/{id}/split", handle_market_split, EP_MARKETS, AUTH_USER, "default" },
    { "POST", "/markets/{id}/merge", handle_market_merge, EP_MARKETS, AUTH_USER, "default" },
    { "POST", "/order", handle_order_create, EP_ORDER, AUTH_USER, "order" },
    { "DELETE", "/order/{id}", handle_order_cancel, EP_ORDER, AUTH_USER, "order" },
    { "PATCH", "/order/{id}", handle_order_amend, EP_ORDER, AUTH_USER, "order" },
    /* live events: the subscribe gate (api/events.c), before nginx hands over to nchan */
    { "GET", "/events/proof", handle_events_proof, EP_OTHER, AUTH_NONE, "default" },
    { "GET", "/events/lots/{id}", handle_events_lot, EP_OTHER, AUTH_NONE, "default" },
    { "GET", "/events/markets/{id}", handle_events_market, EP_OTHER, AUTH_NONE, "default" },
    { "GET", "/events/accounts/{id}", handle_events_account, EP_OTHER, AUTH_USER, "default" },
    /* webhooks (api/webhooks.c) */
    { "POST", "/webhooks", handle_webhook_create, EP_OTHER, AUTH_ADMIN, "default" },
    { "GET", "/webhooks", handle_webhook_list, EP_OTHER, AUTH_ADMIN, "default" },
    { "DELETE", "/webhooks/{id}", handle_webhook_delete, EP_OTHER, AUTH_ADMIN, "default" },
    { "GET", "/webhooks/{id}/deliveries", handle_webhook_deliveries, EP_OTHER, AUTH_ADMIN,
      "default" },
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
