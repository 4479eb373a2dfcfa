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
-- the full pass (fcgi/domain/fullpass.c): reads the seals, keeps its lease and its rows
GRANT SELECT ON seals, merkle_nodes, seal_accounts, seal_lots, seal_markets TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON leases, full_audits TO zerosum_app;
