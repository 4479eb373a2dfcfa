-- zerosum — what the application role may do. Idempotent; applied last on
-- every migration run. The ledger tables get no UPDATE or DELETE at all.
GRANT USAGE ON SCHEMA public TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON accounts TO zerosum_app;
GRANT SELECT, INSERT ON transfers, entries TO zerosum_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON lots, bids, holds TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON stampede_runs TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON markets, positions, orders, trades TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON pending_transfers TO zerosum_app;
-- read-only: revocations are set by the owner through scripts/zerosum revoke-tokens
GRANT SELECT ON token_revocations TO zerosum_app;
-- sealing (fcgi/domain/seal.c): the one change to the ledger tables is the
-- sealer's `sealed` position (on PostgreSQL the guards allow only NULL → a
-- value); seals and Merkle nodes are append-only; the aggregates and the
-- lease rows are the sealer's to update
GRANT UPDATE (sealed) ON transfers, entries TO zerosum_app;
GRANT SELECT, INSERT ON seals, merkle_nodes TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON seal_accounts, seal_lots, seal_markets, leases TO zerosum_app;
-- the full pass (fcgi/domain/fullpass.c): its lease and its rows
GRANT SELECT, INSERT, UPDATE ON leases, full_audits TO zerosum_app;
-- live events (fcgi/domain/events.c): the outbox, its cursors and the
-- streams' message ids; the publisher orders, publishes and purges
GRANT SELECT, INSERT, UPDATE, DELETE ON events, event_cursors, event_publications TO zerosum_app;
-- webhooks (fcgi/domain/webhook.c): endpoints and their delivery log
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks, webhook_deliveries TO zerosum_app;
-- credit limit history (fcgi/api/account_credit.c): append-only but for the
-- sealer's `sealed` position
GRANT SELECT, INSERT ON credit_limits TO zerosum_app;
GRANT UPDATE (sealed) ON credit_limits TO zerosum_app;
