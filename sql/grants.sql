-- zerosum — what the application role may do. Idempotent; applied last on
-- every migration run. The ledger tables get no UPDATE or DELETE at all.
GRANT USAGE ON SCHEMA public TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON accounts TO zerosum_app;
GRANT SELECT, INSERT ON transfers, entries TO zerosum_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON lots, bids, holds TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON stampede_runs TO zerosum_app;
GRANT SELECT, INSERT, UPDATE ON markets, positions, orders, trades TO zerosum_app;
-- A request never waits forever: a statement the database cannot finish in
-- 10 s is cancelled (the worker answers 503 with Retry-After), and a
-- connection left idle inside a transaction (a stuck client) releases its
-- locks after 30 s.
ALTER ROLE zerosum_app SET statement_timeout = '10s';
ALTER ROLE zerosum_app SET idle_in_transaction_session_timeout = '30s';
