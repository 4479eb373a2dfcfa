/*
 * routes.h — the API's route table and its handlers.
 */
#ifndef ZS_ROUTES_H
#define ZS_ROUTES_H

#include <stddef.h>

#include "api/router.h"

extern const struct route routes[];
extern const size_t routes_count;

void handle_healthz(struct request *r);
void handle_metrics(struct request *r);
void handle_account_create(struct request *r);
void handle_account_issuer(struct request *r);
void handle_account_get(struct request *r);
void handle_account_entries(struct request *r);
void handle_account_patch(struct request *r);
void handle_proof_holds(struct request *r);
void handle_account_balance(struct request *r);
void handle_account_transfers(struct request *r);
void handle_lot_bids(struct request *r);
void handle_market_trades(struct request *r);
void handle_transfer_create(struct request *r);
void handle_transfer_get(struct request *r);
void handle_transfer_batch(struct request *r);
void handle_transfer_post(struct request *r);
void handle_transfer_void(struct request *r);
void handle_lot_create(struct request *r);
void handle_lot_list(struct request *r);
void handle_lot_get(struct request *r);
void handle_bid(struct request *r);
void handle_proof(struct request *r);
void handle_proof_run_create(struct request *r);
void handle_proof_run_list(struct request *r);
void handle_proof_run_get(struct request *r);
void handle_proof_audit_create(struct request *r); /* api/audits.c */
void handle_proof_audit_get(struct request *r);
void handle_activity(struct request *r);
void handle_tlog_key(struct request *r);
void handle_tlog_checkpoint(struct request *r);
void handle_tlog_inclusion(struct request *r);
void handle_tlog_consistency(struct request *r);
void handle_tlog_records(struct request *r);
void handle_market_create(struct request *r);
void handle_market_list(struct request *r);
void handle_market_get(struct request *r);
void handle_market_resolve(struct request *r);
void handle_market_split(struct request *r);
void handle_market_merge(struct request *r);
void handle_order_create(struct request *r);
void handle_order_cancel(struct request *r);
void handle_order_amend(struct request *r);

/* live events (api/events.c) */
void handle_events_proof(struct request *r);
void handle_events_lot(struct request *r);
void handle_events_market(struct request *r);
void handle_events_account(struct request *r);

/* webhooks (api/webhooks.c) */
void handle_webhook_create(struct request *r);
void handle_webhook_list(struct request *r);
void handle_webhook_delete(struct request *r);
void handle_webhook_deliveries(struct request *r);

#endif
