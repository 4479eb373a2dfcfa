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
    -- escrow: a market's escrow account; it holds what the market owes and
    -- is moved only by the market's own fills and payouts
    kind        text        NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'issuer', 'escrow')),
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
    kind          text        NOT NULL CHECK (kind IN ('transfer', 'issue', 'capture', 'purchase',
                                                       'trade', 'mint', 'payout', 'refund')),
    caller        text        NOT NULL,
    memo          text        CHECK (memo IS NULL OR length(memo) <= 140),
    -- "caller:key" of the request that made it (NULL for system moves such
    -- as captures), so /proof can show no key produced two transfers
    idem_key      text,
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

-- migrate: 009 lots
-- One row per auction. The lot row is the contention point of a lot: every
-- bid or claim locks it first (then accounts by id), so its counters
-- (seq, qty_claimed, high_*) are kept under that lock, and /proof checks
-- them against the bids and holds kept independently.
CREATE TABLE IF NOT EXISTS lots (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('english', 'dutch', 'drop')),
    seller          uuid        NOT NULL,
    title           text        NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    status          text        NOT NULL DEFAULT 'live'
                                CHECK (status IN ('live', 'settled', 'unsold', 'sold_out')),
    -- english
    start_price     bigint      CHECK (start_price > 0),
    increment       bigint      CHECK (increment > 0),
    reserve         bigint      CHECK (reserve > 0),
    snipe_window    integer     NOT NULL DEFAULT 0 CHECK (snipe_window >= 0),
    snipe_extend    integer     NOT NULL DEFAULT 0 CHECK (snipe_extend >= 0),
    -- dutch (start_price shared)
    floor_price     bigint      CHECK (floor_price > 0),
    step            bigint      CHECK (step > 0),
    interval_s      integer     CHECK (interval_s > 0),
    -- drop
    price           bigint      CHECK (price > 0),
    max_per_claim   integer     CHECK (max_per_claim > 0),
    qty_total       integer     NOT NULL DEFAULT 1 CHECK (qty_total > 0),
    qty_claimed     integer     NOT NULL DEFAULT 0 CHECK (qty_claimed >= 0 AND qty_claimed <= qty_total),
    -- current state
    high_amount     bigint,
    high_bidder     uuid,
    high_bid        uuid,
    seq             bigint      NOT NULL DEFAULT 0,
    starts_at       timestamptz NOT NULL DEFAULT now(),
    ends_at         timestamptz,
    settled_at      timestamptz,
    winner          uuid,
    clearing_price  bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- migrate: 010 lots_due
CREATE INDEX IF NOT EXISTS lots_due ON lots (status, ends_at);

-- migrate: 011 bids
-- Every accepted bid or claim, numbered per lot by seq under the lot lock.
CREATE TABLE IF NOT EXISTS bids (
    id           uuid        PRIMARY KEY,
    lot_id       uuid        NOT NULL,
    bidder       uuid        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount > 0),
    quantity     integer     NOT NULL DEFAULT 1 CHECK (quantity > 0),
    seq          bigint      NOT NULL CHECK (seq > 0),
    status       text        NOT NULL CHECK (status IN ('leading', 'outbid', 'won', 'lost', 'claimed')),
    transfer_id  uuid,
    idem_key     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lot_id, seq)
);

-- migrate: 012 holds
-- Funds reserved for a leading English bid. accounts.held equals the sum
-- of the account's active holds (checked by /proof).
CREATE TABLE IF NOT EXISTS holds (
    id           uuid        PRIMARY KEY,
    account_id   uuid        NOT NULL,
    lot_id       uuid        NOT NULL,
    bid_id       uuid        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount > 0),
    state        text        NOT NULL CHECK (state IN ('active', 'released', 'captured')),
    transfer_id  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- migrate: 013 holds_by_lot
CREATE INDEX IF NOT EXISTS holds_by_lot ON holds (lot_id, state);

-- migrate: 014 holds_by_account
CREATE INDEX IF NOT EXISTS holds_by_account ON holds (account_id, state);

-- migrate: 015 transfers_by_time
CREATE INDEX IF NOT EXISTS transfers_by_time ON transfers (created_at DESC);

-- migrate: 016 stampede_runs
-- Stampedes started from the dashboard (POST /proof/runs): queued by the
-- API, run by the periodic-jobs child, verdict stored here.
CREATE TABLE IF NOT EXISTS stampede_runs (
    id            uuid        PRIMARY KEY,
    scenario      text        NOT NULL CHECK (scenario IN ('oversell', 'double-spend', 'bid-war',
                                                           'phantom-shares', 'event-market')),
    n             integer     NOT NULL CHECK (n BETWEEN 1 AND 1000),
    k             integer     CHECK (k BETWEEN 1 AND 1000),
    status        text        NOT NULL CHECK (status IN ('queued', 'running', 'passed', 'failed')),
    summary       text,
    requested_by  text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);

-- migrate: 017 stampede_runs_by_time
CREATE INDEX IF NOT EXISTS stampede_runs_by_time ON stampede_runs (created_at DESC);

-- migrate: 018 bids_by_lot_seq
CREATE INDEX IF NOT EXISTS bids_by_lot ON bids (lot_id, seq);

-- migrate: 019 markets
-- Limit-order markets. `shares`: a fixed supply issued to the owner's
-- position at creation. `event`: yes/no contracts minted in complementary
-- pairs, 100 per pair held by the market's escrow account until resolution.
-- The market row is the market's serialisation point (orders lock it first,
-- then accounts by id), so each market is its own contention domain.
CREATE TABLE IF NOT EXISTS markets (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('shares', 'event')),
    title           text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    owner           uuid        NOT NULL,
    escrow          uuid,
    total_supply    bigint      CHECK (total_supply > 0),
    tick_min        integer     NOT NULL CHECK (tick_min > 0),
    tick_max        integer     NOT NULL CHECK (tick_max >= tick_min),
    status          text        NOT NULL DEFAULT 'open'
                                CHECK (status IN ('open', 'resolving', 'resolved', 'cancelled')),
    outcome         text        CHECK (outcome IN ('yes', 'no', 'cancel')),
    seq             bigint      NOT NULL DEFAULT 0,
    last_price      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);

-- migrate: 020 positions
-- What an account holds in a market: `shares`, or `yes` / `no` contracts.
-- held: units reserved by resting sell orders. cost: the mint price carried
-- with the contracts (event markets), refunded if the market is cancelled.
CREATE TABLE IF NOT EXISTS positions (
    market_id   uuid    NOT NULL,
    account_id  uuid    NOT NULL,
    outcome     text    NOT NULL CHECK (outcome IN ('shares', 'yes', 'no')),
    quantity    bigint  NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    held        bigint  NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= quantity),
    cost        bigint  NOT NULL DEFAULT 0 CHECK (cost >= 0),
    PRIMARY KEY (market_id, account_id, outcome)
);

-- migrate: 021 orders
CREATE TABLE IF NOT EXISTS orders (
    id             uuid        PRIMARY KEY,
    market_id      uuid        NOT NULL,
    account_id     uuid        NOT NULL,
    side           text        NOT NULL CHECK (side IN ('buy', 'sell')),
    outcome        text        NOT NULL CHECK (outcome IN ('shares', 'yes', 'no')),
    price          integer     NOT NULL CHECK (price > 0),
    quantity       bigint      NOT NULL CHECK (quantity > 0),
    remaining      bigint      NOT NULL CHECK (remaining >= 0 AND remaining <= quantity),
    time_in_force  text        NOT NULL CHECK (time_in_force IN ('gtc', 'ioc')),
    status         text        NOT NULL CHECK (status IN ('open', 'filled', 'cancelled')),
    -- cash reserved on accounts.held for a resting buy: remaining x price
    hold_amount    bigint      NOT NULL DEFAULT 0 CHECK (hold_amount >= 0),
    seq            bigint      NOT NULL,
    idem_key       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- migrate: 022 orders_book
CREATE INDEX IF NOT EXISTS orders_book ON orders (market_id, status, outcome, side, price, seq);

-- migrate: 023 trades
-- One row per fill. kind `transfer`: contracts or shares move from seller
-- to buyer, cash by one transfer (cash_a). kind `mint`: a yes buyer and a no
-- buyer each pay their leg into escrow (cash_a, cash_b) and a pair is made.
CREATE TABLE IF NOT EXISTS trades (
    id            uuid        PRIMARY KEY,
    market_id     uuid        NOT NULL,
    seq           bigint      NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('transfer', 'mint')),
    outcome       text        NOT NULL CHECK (outcome IN ('shares', 'yes', 'no')),
    price         integer     NOT NULL CHECK (price > 0),
    quantity      bigint      NOT NULL CHECK (quantity > 0),
    buyer         uuid        NOT NULL,
    seller        uuid        NOT NULL,
    taker_order   uuid        NOT NULL,
    maker_order   uuid        NOT NULL,
    cash_a        uuid        NOT NULL,
    cash_b        uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- migrate: 024 trades_by_market
CREATE INDEX IF NOT EXISTS trades_by_market ON trades (market_id, seq);

-- migrate: 030 markets_resolution_owner
-- A resolution runs as several transactions under one Idempotency-Key:
-- the first claims the key (committed 'pending') and names it here, each
-- batch adds what it paid and extends the lease of the process running it,
-- and the last closes the market and finishes the key in one transaction.
-- A resolution whose lease has lapsed (its process died, or failed with a
-- 503) is resumed by a retry with the same key or by the jobs child.
-- Nullable and without defaults: one plain ADD COLUMN per statement, as
-- Aurora DSQL allows; NULL counters read as 0.
ALTER TABLE markets ADD COLUMN IF NOT EXISTS resolve_caller text;
ALTER TABLE markets ADD COLUMN IF NOT EXISTS resolve_key text;
ALTER TABLE markets ADD COLUMN IF NOT EXISTS resolve_lease timestamptz;
ALTER TABLE markets ADD COLUMN IF NOT EXISTS resolve_paid bigint;
ALTER TABLE markets ADD COLUMN IF NOT EXISTS resolve_settled bigint;

-- migrate: 060 token_revocations
-- Bearer-token revocation: a token whose iat is before its subject's
-- valid_after (or before the '*' row's, which covers every token) is refused
-- with 401 token_revoked. Written only by the owner (scripts/zerosum
-- revoke-tokens); the application reads it inside every authenticated
-- request's transaction (fcgi/auth.h). One row per subject ever revoked.
CREATE TABLE IF NOT EXISTS token_revocations (
    subject     text        PRIMARY KEY CHECK (subject = '*' OR length(subject) = 36),
    valid_after bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- migrate: 061 markets_resolution_driver
-- Which driver (a random id per process driving it) holds a resolution's
-- lease, so that a driver releasing its lease after a failure never drops
-- the lease of one that has taken over since.
ALTER TABLE markets ADD COLUMN IF NOT EXISTS resolve_owner text;

-- migrate: 070 pending_transfers
-- Two-phase transfers (POST /transfer with "pending": true). While
-- `pending`, amount is held on from_account (accounts.held); nothing has
-- moved. Posting moves posted_amount (1..amount) by one ordinary transfer
-- (transfer_id) and releases the whole hold; voiding, or expiring once
-- expires_at (database clock) has passed, releases it and moves nothing.
-- The row is the transfer's serialisation point: post, void and expiry lock
-- it first (then accounts by id), and only a `pending` row changes.
CREATE TABLE IF NOT EXISTS pending_transfers (
    id             uuid        PRIMARY KEY,
    from_account   uuid        NOT NULL,
    to_account     uuid        NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    status         text        NOT NULL CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    posted_amount  bigint      CHECK (posted_amount > 0 AND posted_amount <= amount),
    transfer_id    uuid,
    caller         text        NOT NULL,
    memo           text        CHECK (memo IS NULL OR length(memo) <= 140),
    idem_key       text,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    resolved_by    text,
    CONSTRAINT pending_transfers_distinct_accounts CHECK (from_account <> to_account)
);

-- migrate: 071 pending_transfers_due
CREATE INDEX IF NOT EXISTS pending_transfers_due ON pending_transfers (status, expires_at);

-- migrate: 072 pending_transfers_by_account
CREATE INDEX IF NOT EXISTS pending_transfers_by_account ON pending_transfers (from_account, status);

-- migrate: 080 sealed_positions
-- Sealing (fcgi/domain/seal.c, docs/PROOF-FORMAT.md). A history row is
-- sealed once the sealer has verified it, folded it into the sealed
-- aggregates below and given it its place in one total order: `sealed` is
-- that position (the Merkle leaf index of its record; an entry carries its
-- transfer's). NULL: not sealed yet. Only the sealer writes it, once, and
-- only on a row in a final state: transfers, entries and trades at once;
-- holds once released or captured; orders once filled or cancelled;
-- pending transfers once closed; a lot, with its bids, once closed.
ALTER TABLE transfers ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE entries ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE holds ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE bids ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE lots ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE trades ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS sealed bigint;
ALTER TABLE pending_transfers ADD COLUMN IF NOT EXISTS sealed bigint;

-- migrate: 081 unsealed_indexes
-- The unsealed rows, which the live /proof and the sealer read: partial
-- indexes, so their size follows the backlog and current state, never the
-- history. Each holds what its readers look rows up by.
CREATE INDEX IF NOT EXISTS transfers_unsealed ON transfers (created_at, id) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS entries_unsealed ON entries (account_id) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS holds_unsealed ON holds (account_id) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS bids_unsealed ON bids (lot_id, seq) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS lots_unsealed ON lots (status) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS trades_unsealed ON trades (market_id, seq) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS orders_unsealed ON orders (account_id) WHERE sealed IS NULL;
CREATE INDEX IF NOT EXISTS pending_transfers_unsealed ON pending_transfers (from_account) WHERE sealed IS NULL;

-- migrate: 082 lookup_indexes
-- Lookups the per-row checks make from an unsealed (or freshly sealed) row
-- into history: another row with its idempotency key, the hold or pending
-- transfer a transfer settled, and the rows in position order.
CREATE INDEX IF NOT EXISTS transfers_by_idem_key ON transfers (idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS bids_by_idem_key ON bids (idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_by_idem_key ON orders (idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS holds_by_transfer ON holds (transfer_id) WHERE transfer_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS pending_transfers_by_transfer ON pending_transfers (transfer_id) WHERE transfer_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS transfers_by_seal ON transfers (sealed) WHERE sealed IS NOT NULL;

-- migrate: 083 seals
-- One row per seal: the positions it sealed ([tree_size - records,
-- tree_size)), what it sealed by kind, the Merkle root of the whole log at
-- tree_size, the state commitment (docs/PROOF-FORMAT.md), and its hash,
-- which chains it to the previous seal. checkpoint: the signed note.
CREATE TABLE IF NOT EXISTS seals (
    seal_no     bigint      PRIMARY KEY CHECK (seal_no > 0),
    tree_size   bigint      NOT NULL UNIQUE CHECK (tree_size > 0),
    records     integer     NOT NULL CHECK (records > 0),
    counts      text        NOT NULL,
    root        bytea       NOT NULL,
    state_hash  bytea       NOT NULL,
    prev_hash   bytea       NOT NULL,
    hash        bytea       NOT NULL,
    checkpoint  text,
    oldest_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- migrate: 084 merkle_nodes
-- The RFC 9162 tree over the sealed records: level 0 holds the leaf
-- hashes (idx = position), level k > 0 the root of the perfect subtree of
-- 2^k leaves starting at idx * 2^k, stored once that subtree is complete.
-- Any inclusion or consistency proof reads O(log n) of them.
CREATE TABLE IF NOT EXISTS merkle_nodes (
    level  smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    idx    bigint   NOT NULL CHECK (idx >= 0),
    hash   bytea    NOT NULL,
    PRIMARY KEY (level, idx)
);

-- migrate: 085 seal_aggregates
-- What the sealed history adds up to, kept by the sealer in the same
-- transaction as the rows it seals. The live /proof checks current state
-- against these plus the unsealed rows; the full pass re-adds history and
-- compares.
CREATE TABLE IF NOT EXISTS seal_accounts (
    account_id  uuid    PRIMARY KEY,
    balance     bigint  NOT NULL,
    entries     bigint  NOT NULL CHECK (entries >= 0)
);
CREATE TABLE IF NOT EXISTS seal_lots (
    lot_id    uuid    PRIMARY KEY,
    claimed   bigint  NOT NULL CHECK (claimed >= 0),
    captured  bigint  NOT NULL CHECK (captured >= 0),
    bids      bigint  NOT NULL CHECK (bids >= 0)
);
CREATE TABLE IF NOT EXISTS seal_markets (
    market_id  uuid    PRIMARY KEY,
    fills      bigint  NOT NULL CHECK (fills >= 0),
    quantity   bigint  NOT NULL CHECK (quantity >= 0),
    pairs      bigint  NOT NULL CHECK (pairs >= 0)
);

-- migrate: 086 leases
-- One holder at a time for a background role (the sealer, the full pass):
-- a process takes the row when it is free or its lease has lapsed
-- (clock_timestamp()), renews it while it works, and releases it only if
-- it still holds it.
CREATE TABLE IF NOT EXISTS leases (
    name     text        PRIMARY KEY,
    owner    text,
    expires  timestamptz
);

-- migrate: 087 full_audits
-- Full re-verification passes of all history against the seals (the jobs
-- child runs one every full_audit_interval_s; an admin may ask for one with
-- POST /proof/audits). failed_check/sample name what failed, as /proof does.
CREATE TABLE IF NOT EXISTS full_audits (
    id            uuid        PRIMARY KEY,
    status        text        NOT NULL CHECK (status IN ('queued', 'running', 'passed', 'failed')),
    requested_by  text        NOT NULL,
    seal_no       bigint,
    tree_size     bigint,
    rows_read     bigint,
    failed_check  text,
    sample        text,
    detail        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);

-- migrate: 088 full_audits_by_time
CREATE INDEX IF NOT EXISTS full_audits_by_time ON full_audits (created_at DESC);

-- migrate: 089 sealed_lookup_indexes
-- The sealed rows of every record kind by position, for reading the log
-- back in order (GET /proof/records, the full pass); transfers have theirs
-- (082).
CREATE INDEX IF NOT EXISTS holds_by_seal ON holds (sealed) WHERE sealed IS NOT NULL;
CREATE INDEX IF NOT EXISTS bids_by_seal ON bids (sealed) WHERE sealed IS NOT NULL;
CREATE INDEX IF NOT EXISTS lots_by_seal ON lots (sealed) WHERE sealed IS NOT NULL;
CREATE INDEX IF NOT EXISTS trades_by_seal ON trades (sealed) WHERE sealed IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_by_seal ON orders (sealed) WHERE sealed IS NOT NULL;
CREATE INDEX IF NOT EXISTS pending_transfers_by_seal ON pending_transfers (sealed) WHERE sealed IS NOT NULL;

-- migrate: 090 seals_totals
-- What all seals up to and including this one sealed, by kind, in the
-- format of `counts`: the live /proof reads the latest seal's totals plus
-- the unsealed rows, so its counts cost one row however many seals exist.
ALTER TABLE seals ADD COLUMN IF NOT EXISTS totals text;
UPDATE seals SET totals = w.totals FROM (
 SELECT seal_no, 'transfer=' || sum(n[1]) OVER o || ' entry=' || sum(n[2]) OVER o
     || ' hold=' || sum(n[3]) OVER o || ' bid=' || sum(n[4]) OVER o || ' lot=' || sum(n[5]) OVER o
     || ' fill=' || sum(n[6]) OVER o || ' order=' || sum(n[7]) OVER o
     || ' pending=' || sum(n[8]) OVER o AS totals
 FROM (SELECT seal_no, ARRAY[split_part(split_part(counts, 'transfer=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'entry=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'hold=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'bid=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'lot=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'fill=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'order=', 2), ' ', 1)::bigint,
         split_part(split_part(counts, 'pending=', 2), ' ', 1)::bigint] AS n FROM seals) c
 WINDOW o AS (ORDER BY seal_no)) w
 WHERE seals.seal_no = w.seal_no AND seals.totals IS NULL;

-- migrate: 091 entries_running_balance
-- Balance history (GET /accounts/{id}/balance?at=, /entries). seq numbers
-- an account's entries 1, 2, 3… in the order they were written, and
-- balance_after is the account's balance right after the entry. Both are
-- written with the entry, which follows the UPDATE of its account row in
-- the same transaction (ledger_move_balances): that row is locked until
-- COMMIT (on snapshot isolation, changed since the snapshot: 40001, the
-- transaction is retried), so the next seq and the balance read are the
-- account's, with nothing in between. An entry's created_at is never before
-- the account's previous entry's, so an account's entries are in time
-- order too and the balance at an instant is the last one at or before it.
ALTER TABLE entries ADD COLUMN IF NOT EXISTS seq bigint;
ALTER TABLE entries ADD COLUMN IF NOT EXISTS balance_after bigint;

-- migrate: 092 entries_running_backfill
-- Existing entries, numbered per account in (created_at, id) order (the
-- order GET /accounts/{id}/entries showed them in), each with the running
-- sum of its account's amounts. On PostgreSQL the append-only guard (104,
-- 109) refuses this UPDATE; there the guards' migration 110 does it.
UPDATE entries SET seq = w.seq, balance_after = w.balance_after
  FROM (SELECT id, row_number() OVER o AS seq, (sum(amount) OVER o)::bigint AS balance_after
          FROM entries WINDOW o AS (PARTITION BY account_id ORDER BY created_at, id)) w
 WHERE entries.id = w.id AND entries.seq IS NULL
   AND to_regproc('zerosum_refuse_change') IS NULL;

-- migrate: 093 entries_by_account_seq
-- An account's entries by seq: the next seq, cursor pages, the last entry.
CREATE UNIQUE INDEX IF NOT EXISTS entries_by_account_seq ON entries (account_id, seq);

-- migrate: 094 hold_history_indexes
-- What held was at an instant, from the rows that record when each hold
-- began and ended: an account's lot holds, resting buy orders (with the
-- fills that reduced them) and pending transfers, by creation time.
CREATE INDEX IF NOT EXISTS holds_by_account_time ON holds (account_id, created_at);
CREATE INDEX IF NOT EXISTS orders_buys_by_account_time ON orders (account_id, created_at) WHERE side = 'buy';
CREATE INDEX IF NOT EXISTS trades_by_maker_order ON trades (maker_order);
CREATE INDEX IF NOT EXISTS trades_by_taker_order ON trades (taker_order);
CREATE INDEX IF NOT EXISTS pending_transfers_by_account_time ON pending_transfers (from_account, created_at);

-- migrate: 095 list_order_indexes
-- Cursor pages of the lists ordered by (created_at, id): lots, markets,
-- stampede runs (a lot's bids, a market's trades and an account's entries
-- page by their per-parent seq).
CREATE INDEX IF NOT EXISTS lots_by_time ON lots (created_at, id);
CREATE INDEX IF NOT EXISTS markets_by_time ON markets (created_at, id);
CREATE INDEX IF NOT EXISTS stampede_runs_by_time_id ON stampede_runs (created_at, id);

-- migrate: 096 credit_limits
-- Credit limits (PATCH /accounts/{id}, admin only): how far below zero a
-- user account's available funds may go, so every debit and every hold
-- keeps balance - held >= -credit_limit. NULL reads as 0 (a plain ADD
-- COLUMN, nullable and without a default, as Aurora DSQL allows). Only a
-- user account may have one: the issuer has no lower bound (its balance is
-- minus the money issued) and an escrow account never goes below zero.
-- The two CHECKs this replaces (balance >= 0, held <= balance) are what the
-- new one says for a limit of 0. Each statement can run again (dsql runs
-- them one per transaction): a constraint is dropped before it is added.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS credit_limit bigint;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_credit_limit_valid;
ALTER TABLE accounts ADD CONSTRAINT accounts_credit_limit_valid
    CHECK (credit_limit IS NULL OR (credit_limit >= 0 AND (kind = 'user' OR credit_limit = 0)));
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_within_credit_limit;
ALTER TABLE accounts ADD CONSTRAINT accounts_within_credit_limit
    CHECK (kind = 'issuer' OR held - coalesce(credit_limit, 0) <= balance);
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_balance_nonnegative;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_held_within_balance;

-- migrate: 200 proxy_bids
-- Proxy bidding on English lots (README, "Auctions"). A bid's max_amount is
-- its bidder's hidden maximum (NULL: a plain bid, whose maximum is its
-- amount); proxy marks a counter-bid placed automatically for the leader.
-- Neither is public: the API never shows max_amount, and the bid's record
-- commits to it only inside its `private` hash (docs/PROOF-FORMAT.md).
ALTER TABLE bids ADD COLUMN IF NOT EXISTS max_amount bigint;
ALTER TABLE bids ADD COLUMN IF NOT EXISTS proxy boolean;

-- migrate: 201 lot_terms
-- A lot's leader's hidden maximum (high_max, NULL when the leader's bid is
-- plain: their maximum is high_amount), its buy-now price, and its
-- increment table ("from:step,from:step…", ascending, first from 0) used
-- in place of `increment` when set.
ALTER TABLE lots ADD COLUMN IF NOT EXISTS high_max bigint;
ALTER TABLE lots ADD COLUMN IF NOT EXISTS buy_now bigint;
ALTER TABLE lots ADD COLUMN IF NOT EXISTS increments text;

-- migrate: 220 order_terms
-- Exchange-grade order terms (fcgi/api/order.c, README "Orders").
-- time_in_force keeps what the order does with a remainder: 'gtc' (rests:
-- gtc and gtd) or 'ioc' (cancelled: ioc, fok, market). tif is the term the
-- order was placed with ('gtc', 'ioc', 'fok', 'gtd'; NULL on rows older
-- than this column: read time_in_force). order_type: 'limit' or 'market'
-- (NULL: limit); a market order's price is its protection price.
-- expires_at: a gtd order's deadline (database clock). stp: the
-- self-trade prevention mode it matched with. end_reason: 'expired' when
-- the jobs child (or a cancel or amend that found it due) expired it.
-- Nullable, without defaults or constraints: plain ADD COLUMNs, as Aurora
-- DSQL allows (the postgres dialect adds the CHECKs, migration 230).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS tif text;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS order_type text;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS post_only boolean;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS stp text;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS end_reason text;

-- migrate: 221 orders_expiring
-- The jobs child's sweep: open gtd orders by deadline.
CREATE INDEX IF NOT EXISTS orders_expiring ON orders (expires_at)
 WHERE status = 'open' AND expires_at IS NOT NULL;

-- migrate: 222 trades_by_order
-- The fills of one order, as taker or maker: the order checks of /proof
-- (fok_all_or_nothing, expired_orders_release) look them up per order.
CREATE INDEX IF NOT EXISTS trades_by_taker_order ON trades (taker_order);
CREATE INDEX IF NOT EXISTS trades_by_maker_order ON trades (maker_order);

-- migrate: 240 entries_by_seal
-- Sealed entries by position (an entry carries its transfer's), so the full
-- pass reads every sealed transfer's entries merged with the transfers in
-- position order instead of one index probe per transfer.
CREATE INDEX IF NOT EXISTS entries_by_seal ON entries (sealed) WHERE sealed IS NOT NULL;

-- migrate: 250 credit_limit_history
-- Every credit limit ever set (PATCH /accounts/{id}, written in the same
-- transaction as accounts.credit_limit, after the account row's lock), so
-- the verifiable log carries the limits its balances were allowed under: a
-- row is sealed as a `limit` record (docs/PROOF-FORMAT.md). created_at is
-- the clock after the lock, so one account's rows are in the order their
-- limits took effect. No foreign key or CHECK beyond NOT NULL (Aurora DSQL
-- has neither); the value is the one accounts_credit_limit_valid accepted.
CREATE TABLE IF NOT EXISTS credit_limits (
    id           uuid        PRIMARY KEY,
    account_id   uuid        NOT NULL,
    credit_limit bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    sealed       bigint
);

-- migrate: 251 credit_limits_unsealed
-- The sealer's candidates and the live backlog: unsealed rows by time.
CREATE INDEX IF NOT EXISTS credit_limits_unsealed ON credit_limits (created_at, id) WHERE sealed IS NULL;

-- migrate: 252 credit_limits_by_seal
-- Sealed rows by position (the log endpoints, the full pass).
CREATE INDEX IF NOT EXISTS credit_limits_by_seal ON credit_limits (sealed) WHERE sealed IS NOT NULL;

-- migrate: 253 credit_limits_backfill
-- A limit set before this history existed becomes its first row.
INSERT INTO credit_limits (id, account_id, credit_limit)
 SELECT gen_random_uuid(), a.id, a.credit_limit FROM accounts a
 WHERE coalesce(a.credit_limit, 0) > 0
   AND NOT EXISTS (SELECT 1 FROM credit_limits c WHERE c.account_id = a.id);

-- migrate: 300 events
-- The outbox (fcgi/domain/events.c): one row per event, written by the
-- transaction that made the effect, so an event exists iff its effect
-- committed. channels: the space-separated stream channels it goes to
-- ("lots/<id> accounts/<id>"); payload: a JSON object. at: the database
-- clock when the row was written (after the effect's locks were taken, so
-- two effects serialised on one row are written in that order); n: its
-- place among the events of its transaction (at may tie). pos: NULL
-- until the publisher, the one holder of the `events` lease, gives it the
-- next position of the one total order (1, 2, …): the event's id.
CREATE TABLE IF NOT EXISTS events (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    type        text        NOT NULL CHECK (length(type) BETWEEN 3 AND 64),
    channels    text        NOT NULL CHECK (length(channels) <= 1000),
    payload     text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    n           integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    pos         bigint      CHECK (pos > 0)
);

-- migrate: 301 events_unordered
CREATE INDEX IF NOT EXISTS events_unordered ON events (at, n, id) WHERE pos IS NULL;

-- migrate: 302 events_by_pos
CREATE UNIQUE INDEX IF NOT EXISTS events_by_pos ON events (pos);

-- migrate: 303 event_cursors
-- How far the events have gone: `ordered` (the last position given),
-- `nchan` (the last position published to the streams), `proof` (state:
-- the /proof status the jobs child last announced). One writer each, under
-- the `events` lease (`proof`: the sealer's).
CREATE TABLE IF NOT EXISTS event_cursors (
    name   text    PRIMARY KEY,
    pos    bigint  NOT NULL DEFAULT 0 CHECK (pos >= 0),
    state  text
);

-- migrate: 304 event_publications
-- The streams' own message ids: one row per (channel, event) published to
-- nchan, with the id nchan gave the message ("<time>:<tag>"). The
-- subscribe gate (GET /events/…) resumes a Last-Event-ID only while its row
-- is here, i.e. while nchan still buffers the message; older ones are told
-- to resync.
CREATE TABLE IF NOT EXISTS event_publications (
    channel       text        NOT NULL,
    msgid         text        NOT NULL,
    pos           bigint      NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, msgid)
);

-- migrate: 305 event_publications_by_channel
CREATE INDEX IF NOT EXISTS event_publications_by_channel ON event_publications (channel, pos);

-- migrate: 306 webhooks
-- Webhook endpoints (fcgi/domain/webhook.c). events: the subscribed types,
-- space-separated, or "*". cursor: the last event position delivered (or
-- given up after webhook_max_age_s); deliveries go one at a time, in
-- order, per endpoint. attempts/failing_since/next_at: the retry state of
-- the event after cursor (exponential backoff).
CREATE TABLE IF NOT EXISTS webhooks (
    id             uuid        PRIMARY KEY,
    url            text        NOT NULL CHECK (length(url) <= 1000),
    events         text        NOT NULL CHECK (length(events) <= 2000),
    secret         text        NOT NULL,
    created_by     text        NOT NULL,
    cursor         bigint      NOT NULL DEFAULT 0,
    attempts       integer     NOT NULL DEFAULT 0,
    failing_since  timestamptz,
    next_at        timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);

-- migrate: 307 webhook_deliveries
-- Every delivery attempt: the HTTP status (NULL: no answer, error says
-- why), or outcome 'given_up' when the event stopped being retried.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id           uuid        PRIMARY KEY,
    webhook_id   uuid        NOT NULL,
    pos          bigint      NOT NULL,
    type         text        NOT NULL,
    attempt      integer     NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('delivered', 'failed', 'given_up')),
    status       integer,
    error        text,
    duration_ms  integer     NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);

-- migrate: 308 webhook_deliveries_by_hook
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, at DESC, id);

-- migrate: 400 transfer_kinds_split_merge
-- Split and merge on event markets (POST /markets/{id}/split|merge): a
-- split pays 100 per YES+NO pair from the caller into the market's escrow
-- (a transfer of kind 'split'), a merge pays 100 per pair burned back out
-- of it ('merge'). The kind CHECK gains the two words; each statement can
-- run again (dsql runs them one per transaction): dropped before added.
ALTER TABLE transfers DROP CONSTRAINT IF EXISTS transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check
    CHECK (kind IN ('transfer', 'issue', 'capture', 'purchase', 'trade', 'mint', 'payout',
                    'refund', 'split', 'merge'));

-- migrate: 410 event_publications_first_pos
-- A stream message may carry several of its channel's events (a publisher
-- round's, in order: docs/OPERATIONS.md, "Live events"): its row in
-- event_publications covers the channel's events from first_pos to pos
-- (NULL: one event, pos). One row per message, so the subscribe gate's
-- "fewer than events_buffer messages since" counts messages.
ALTER TABLE event_publications ADD COLUMN IF NOT EXISTS first_pos bigint;

-- migrate: 411 events_by_age
-- The retention purge (events_purge, events_purge_publications) asks for
-- rows older than a cutoff every jobs_interval_ms. Without an index on the
-- age it walked the whole outbox each time to find none (136 ms a second
-- at 315,000 events, linear in the retention window): now it reads only
-- the rows it deletes.
CREATE INDEX IF NOT EXISTS events_by_age ON events (created_at);

-- migrate: 412 event_publications_by_age
CREATE INDEX IF NOT EXISTS event_publications_by_age ON event_publications (published_at);

-- migrate: 413 seal_accounts_last
-- Each account's last sealed entry, as the sealer seals it: its seq,
-- balance_after and created_at (of the sealed entry with the highest seq).
-- The live running_balances_match then checks the first unsealed entry of
-- an account against these instead of looking its predecessor up in
-- entries_by_account_seq (sql/queries/proof.sql, account_checks); the full
-- pass re-reads them (seal_aggregates_match). NULL: not known (an aggregate
-- from before this migration), in which case the live check looks the entry
-- up as before and the sealer fills them in the next time it seals one of
-- the account's entries (seal_fold_accounts).
ALTER TABLE seal_accounts ADD COLUMN IF NOT EXISTS last_seq bigint;
ALTER TABLE seal_accounts ADD COLUMN IF NOT EXISTS last_balance bigint;
ALTER TABLE seal_accounts ADD COLUMN IF NOT EXISTS last_at timestamptz;
