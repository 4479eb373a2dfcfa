-- zerosum — the DSQL-compatible core schema.
--
-- Everything here runs on PostgreSQL and on Amazon Aurora DSQL: no triggers,
-- no PL/pgSQL, no sequences or SERIAL, no jsonb, no foreign keys (DSQL does
-- not enforce them), UUID keys, one DDL statement per migration step where
-- DSQL needs it. PostgreSQL-only guards live in postgres-guards.sql.
-- Money is bigint minor units. Versions are applied in order by scripts/migrate.

-- migrate: 001 accounts
CREATE TABLE IF NOT EXISTS accounts (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind        text        NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'issuer')),
    balance     bigint      NOT NULL DEFAULT 0,
    held        bigint      NOT NULL DEFAULT 0 CHECK (held >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- only the issuer may go negative (its balance is minus the money issued)
    CONSTRAINT accounts_balance_nonnegative CHECK (kind = 'issuer' OR balance >= 0),
    -- held is between 0 and balance; the issuer never holds
    CONSTRAINT accounts_held_within_balance CHECK (kind = 'issuer' OR held <= balance),
    CONSTRAINT accounts_issuer_holds_nothing CHECK (kind = 'user' OR held = 0)
);

-- migrate: 002 the_issuer
-- The one issuer, at a fixed id, so "one issuer per deployment" holds by construction.
INSERT INTO accounts (id, name, kind)
VALUES ('00000000-0000-0000-0000-000000000001', 'issuer', 'issuer')
ON CONFLICT (id) DO NOTHING;

-- migrate: 003 transfers
CREATE TABLE IF NOT EXISTS transfers (
    id            uuid        PRIMARY KEY,
    from_account  uuid        NOT NULL,
    to_account    uuid        NOT NULL,
    amount        bigint      NOT NULL CHECK (amount > 0),
    kind          text        NOT NULL CHECK (kind IN ('transfer', 'issue', 'capture', 'purchase')),
    caller        text        NOT NULL,
    memo          text        CHECK (memo IS NULL OR length(memo) <= 140),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transfers_distinct_accounts CHECK (from_account <> to_account)
);

-- migrate: 004 entries
CREATE TABLE IF NOT EXISTS entries (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    transfer_id  uuid        NOT NULL,
    account_id   uuid        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount <> 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- migrate: 005 entries_by_account
CREATE INDEX IF NOT EXISTS entries_by_account ON entries (account_id, created_at DESC, id DESC);

-- migrate: 006 entries_by_transfer
CREATE INDEX IF NOT EXISTS entries_by_transfer ON entries (transfer_id);

-- migrate: 007 idempotency_keys
-- One row per (caller, key): the fingerprint of the canonical request, and
-- once finished the status and body to replay. Written in the same
-- transaction as the effect, so a concurrent duplicate waits for it (or, on
-- snapshot isolation, conflicts and retries) and then sees it.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    caller       text        NOT NULL,
    key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint  text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('pending', 'done')),
    status       integer,
    body         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);

-- migrate: 008 idempotency_keys_by_age
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);
