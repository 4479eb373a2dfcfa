-- zerosum — guards only PostgreSQL can enforce, on top of the core schema.
--
-- The application keeps every invariant without these (the dsql profile
-- proves it); these make PostgreSQL refuse a buggy or hostile writer too.

-- migrate: 101 foreign_keys
ALTER TABLE transfers
    ADD CONSTRAINT transfers_from_fk FOREIGN KEY (from_account) REFERENCES accounts (id),
    ADD CONSTRAINT transfers_to_fk FOREIGN KEY (to_account) REFERENCES accounts (id);
ALTER TABLE entries
    ADD CONSTRAINT entries_transfer_fk FOREIGN KEY (transfer_id) REFERENCES transfers (id),
    ADD CONSTRAINT entries_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);

-- migrate: 102 one_issuer
CREATE UNIQUE INDEX IF NOT EXISTS accounts_one_issuer ON accounts (kind) WHERE kind = 'issuer';

-- migrate: 103 balanced_transfers
-- A deferred constraint trigger: at commit, every transfer touched by the
-- transaction has at least two entries, they sum to zero, and they are
-- exactly its two legs: the payer debited and the payee credited by its amount.
CREATE OR REPLACE FUNCTION zerosum_check_transfer_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tid   uuid;
    n     bigint;
    s     numeric;
    legs  bigint;
BEGIN
    IF TG_TABLE_NAME = 'entries' THEN
        tid := NEW.transfer_id;
    ELSE
        tid := NEW.id;
    END IF;
    SELECT count(*), coalesce(sum(e.amount), 0),
           count(*) FILTER (WHERE (e.account_id = t.from_account AND e.amount = -t.amount)
                               OR (e.account_id = t.to_account AND e.amount = t.amount))
      INTO n, s, legs
      FROM entries e JOIN transfers t ON t.id = e.transfer_id
     WHERE e.transfer_id = tid;
    IF n < 2 OR s <> 0 OR legs <> n THEN
        RAISE EXCEPTION 'transfer % is unbalanced: % entries summing to %, % of them its legs',
            tid, n, s, legs
            USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER transfers_balanced
    AFTER INSERT ON transfers DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION zerosum_check_transfer_balanced();
CREATE CONSTRAINT TRIGGER entries_balanced
    AFTER INSERT ON entries DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION zerosum_check_transfer_balanced();

-- migrate: 104 immutable_ledger
-- Entries and transfers are history: never updated, never deleted.
CREATE OR REPLACE FUNCTION zerosum_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '42501';
END;
$$;
CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION zerosum_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION zerosum_refuse_change();
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION zerosum_refuse_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION zerosum_refuse_change();

-- migrate: 105 auction_foreign_keys
ALTER TABLE lots
    ADD CONSTRAINT lots_seller_fk FOREIGN KEY (seller) REFERENCES accounts (id);
ALTER TABLE bids
    ADD CONSTRAINT bids_lot_fk FOREIGN KEY (lot_id) REFERENCES lots (id),
    ADD CONSTRAINT bids_bidder_fk FOREIGN KEY (bidder) REFERENCES accounts (id);
ALTER TABLE holds
    ADD CONSTRAINT holds_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id),
    ADD CONSTRAINT holds_lot_fk FOREIGN KEY (lot_id) REFERENCES lots (id),
    ADD CONSTRAINT holds_bid_fk FOREIGN KEY (bid_id) REFERENCES bids (id);

-- migrate: 106 one_active_hold_per_bidder
CREATE UNIQUE INDEX IF NOT EXISTS holds_one_active ON holds (lot_id, account_id) WHERE state = 'active';

-- migrate: 107 market_foreign_keys
ALTER TABLE markets
    ADD CONSTRAINT markets_owner_fk FOREIGN KEY (owner) REFERENCES accounts (id),
    ADD CONSTRAINT markets_escrow_fk FOREIGN KEY (escrow) REFERENCES accounts (id);
ALTER TABLE positions
    ADD CONSTRAINT positions_market_fk FOREIGN KEY (market_id) REFERENCES markets (id),
    ADD CONSTRAINT positions_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE orders
    ADD CONSTRAINT orders_market_fk FOREIGN KEY (market_id) REFERENCES markets (id),
    ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE trades
    ADD CONSTRAINT trades_market_fk FOREIGN KEY (market_id) REFERENCES markets (id);

-- migrate: 108 balanced_transfers_once
-- The balanced-transfer check (103) fires once per transfer, not once per
-- entry as well: the deferred trigger on transfers checks, at commit, every
-- transfer this transaction inserted, with all its entries. Entries added to
-- any other transfer (one committed earlier, or one this transaction did not
-- insert at its top level) are checked at the end of their INSERT statement,
-- at once, by a statement-level trigger that costs one primary-key probe per
-- new entry on the common path. A transfer counts as this transaction's own
-- only when both its xmin and its created_at (now()) say so.
DROP TRIGGER IF EXISTS entries_balanced ON entries;
CREATE OR REPLACE FUNCTION zerosum_check_entries_of_old_transfers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tid   uuid;
    n     bigint;
    s     numeric;
    legs  bigint;
BEGIN
    FOR tid IN
        SELECT DISTINCT ne.transfer_id
          FROM new_entries ne LEFT JOIN transfers t ON t.id = ne.transfer_id
         WHERE t.id IS NULL OR t.xmin <> pg_current_xact_id()::xid OR t.created_at <> now()
    LOOP
        SELECT count(*), coalesce(sum(e.amount), 0),
               count(*) FILTER (WHERE (e.account_id = t.from_account AND e.amount = -t.amount)
                                   OR (e.account_id = t.to_account AND e.amount = t.amount))
          INTO n, s, legs
          FROM entries e JOIN transfers t ON t.id = e.transfer_id
         WHERE e.transfer_id = tid;
        IF n < 2 OR s <> 0 OR legs <> n THEN
            RAISE EXCEPTION 'transfer % is unbalanced: % entries summing to %, % of them its legs',
                tid, n, s, legs
                USING ERRCODE = '23514';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
CREATE TRIGGER entries_of_old_transfers_balanced
    AFTER INSERT ON entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION zerosum_check_entries_of_old_transfers();

-- migrate: 109 sealing_the_ledger
-- Transfers and entries stay history: the one change allowed is the
-- sealer's, which sets `sealed` once, from NULL, and nothing else.
CREATE OR REPLACE FUNCTION zerosum_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.sealed IS NULL AND NEW.sealed IS NOT NULL
       AND (to_jsonb(OLD) - 'sealed') = (to_jsonb(NEW) - 'sealed') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '42501';
END;
$$;

-- migrate: 110 entries_running_backfill
-- Schema migration 092 on PostgreSQL: the append-only guard is relaxed for
-- this one UPDATE (filling seq and balance_after where they are NULL,
-- nothing else), the entries are numbered and summed as 092 says, and the
-- guard is put back exactly as 109 left it.
CREATE OR REPLACE FUNCTION zerosum_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.sealed IS NULL AND NEW.sealed IS NOT NULL
       AND (to_jsonb(OLD) - 'sealed') = (to_jsonb(NEW) - 'sealed') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'entries' AND OLD.seq IS NULL
       AND OLD.balance_after IS NULL AND NEW.seq IS NOT NULL AND NEW.balance_after IS NOT NULL
       AND (to_jsonb(OLD) - 'seq' - 'balance_after') = (to_jsonb(NEW) - 'seq' - 'balance_after') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '42501';
END;
$$;
UPDATE entries SET seq = w.seq, balance_after = w.balance_after
  FROM (SELECT id, row_number() OVER o AS seq, (sum(amount) OVER o)::bigint AS balance_after
          FROM entries WINDOW o AS (PARTITION BY account_id ORDER BY created_at, id)) w
 WHERE entries.id = w.id AND entries.seq IS NULL;
CREATE OR REPLACE FUNCTION zerosum_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.sealed IS NULL AND NEW.sealed IS NOT NULL
       AND (to_jsonb(OLD) - 'sealed') = (to_jsonb(NEW) - 'sealed') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '42501';
END;
$$;

-- migrate: 210 proxy_bid_checks
-- A maximum is positive and never below the amount its bid shows; the
-- leader's hidden maximum covers the visible high; a buy-now price is positive.
ALTER TABLE bids
    ADD CONSTRAINT bids_max_amount_check CHECK (max_amount IS NULL OR max_amount >= amount);
ALTER TABLE lots
    ADD CONSTRAINT lots_high_max_check CHECK (high_max IS NULL OR high_max >= high_amount),
    ADD CONSTRAINT lots_buy_now_check CHECK (buy_now IS NULL OR buy_now > 0);

-- migrate: 230 order_terms_checks
-- The order terms of migration 220, as constraints (the dsql profile has
-- the application's validation alone): known values, a gtd order has its
-- deadline and only it, and the remainder rule agrees with the term.
ALTER TABLE orders ADD CONSTRAINT orders_terms_known CHECK (
    (tif IS NULL OR tif IN ('gtc', 'ioc', 'fok', 'gtd'))
    AND (order_type IS NULL OR order_type IN ('limit', 'market'))
    AND (stp IS NULL OR stp IN ('cancel_maker', 'cancel_taker', 'cancel_both'))
    AND (end_reason IS NULL OR end_reason = 'expired'));
ALTER TABLE orders ADD CONSTRAINT orders_terms_agree CHECK (
    (tif IS NULL OR time_in_force = CASE WHEN tif IN ('gtc', 'gtd') THEN 'gtc' ELSE 'ioc' END)
    AND ((tif = 'gtd') = (expires_at IS NOT NULL) OR tif IS NULL)
    AND (order_type IS DISTINCT FROM 'market' OR tif IN ('ioc', 'fok'))
    AND (end_reason IS NULL OR (status = 'cancelled' AND expires_at IS NOT NULL)));

-- migrate: 255 credit_limits_append_only
-- The credit limit history (schema 250) is history like transfers: the
-- one change allowed is the sealer's `sealed`, once, from NULL.
DROP TRIGGER IF EXISTS credit_limits_immutable ON credit_limits;
CREATE TRIGGER credit_limits_immutable BEFORE UPDATE OR DELETE ON credit_limits
    FOR EACH ROW EXECUTE FUNCTION zerosum_refuse_change();
DROP TRIGGER IF EXISTS credit_limits_no_truncate ON credit_limits;
CREATE TRIGGER credit_limits_no_truncate BEFORE TRUNCATE ON credit_limits
    FOR EACH STATEMENT EXECUTE FUNCTION zerosum_refuse_change();

-- migrate: 440 unsealed_index_vacuum
-- The live checks read the unsealed rows through the partial indexes
-- `*_unsealed ... WHERE sealed IS NULL`. Sealing a row UPDATEs it, leaving
-- its old version's entry in that index until a vacuum removes it: at the
-- default scale factor (20% of the table) a 10M-entry table would carry
-- 2M dead entries there, which every /proof and every seal then walks, a
-- cost that grows with history. So the history tables are vacuumed after a
-- fixed number of changed rows, whatever their size, with their indexes
-- always (PostgreSQL skips the index pass when few heap pages changed,
-- which would leave exactly those entries), and after inserts too (the
-- visibility map the index-only scans of those indexes rely on).
ALTER TABLE transfers SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 100000,
    vacuum_index_cleanup = on);
ALTER TABLE entries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 100000,
    vacuum_index_cleanup = on);
ALTER TABLE holds SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    vacuum_index_cleanup = on);
ALTER TABLE bids SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    vacuum_index_cleanup = on);
ALTER TABLE lots SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    vacuum_index_cleanup = on);
ALTER TABLE trades SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    vacuum_index_cleanup = on);
ALTER TABLE orders SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    vacuum_index_cleanup = on);
ALTER TABLE pending_transfers SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000, vacuum_index_cleanup = on);
ALTER TABLE credit_limits SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000, vacuum_index_cleanup = on);

-- migrate: 441 seal_accounts_last_backfill
-- The last sealed entry of every aggregate from before migration 413 kept
-- it, so the live running_balances_match reads it instead of looking each
-- backlog account's predecessor up in history from the first /proof on
-- (one probe of entries_by_account_seq per account: 150 ms for 10,004
-- accounts at 10M entries). On DSQL, whose transactions write
-- at most 3,000 rows, the sealer fills them in as it seals (seal.sql,
-- seal_fold_accounts). A row a sealer filled meanwhile is left as it is.
UPDATE seal_accounts s SET (last_seq, last_balance, last_at) =
    (SELECT x.seq, x.balance_after, x.created_at FROM entries x
      WHERE x.account_id = s.account_id AND x.sealed IS NOT NULL AND x.seq IS NOT NULL
      ORDER BY x.seq DESC LIMIT 1)
 WHERE s.last_seq IS NULL;
