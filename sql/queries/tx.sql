-- Transaction control, sent by the runner (fcgi/db.c). BEGIN rides in the
-- first pipeline of a transaction; the isolation level is per dialect and
-- per transaction kind (README: "Choices, and why").

-- name: tx_begin
-- A read-write transaction on the postgres dialect.
BEGIN ISOLATION LEVEL READ COMMITTED;

-- name: tx_begin_snapshot
-- A read-write transaction under snapshot isolation (always on dsql).
BEGIN ISOLATION LEVEL REPEATABLE READ;

-- name: tx_begin_read
-- A read-only transaction on the postgres dialect.
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;

-- name: tx_begin_read_snapshot
-- A read-only transaction on one snapshot (always on dsql; /proof).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;

-- name: tx_commit
COMMIT;

-- name: tx_rollback
ROLLBACK;
