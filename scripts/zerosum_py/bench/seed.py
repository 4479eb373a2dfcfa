"""bench/run's bulk history seeding for proof-scale: millions of balanced
transfers between the bench accounts, streamed to PostgreSQL with COPY FROM
STDIN, every guard on.

The rows are generated here and piped into one psql session as a script:
per batch one transaction that COPYs the transfers, then their entries (a
debit of the payer and a credit of the payee each), then each account's net
change into a temporary table, UPDATEs the balances from it and records the
batch in bench.history_seed; COMMIT. Nothing is disabled: the foreign keys
and the statement-level entries trigger run during the COPY, the deferred
balanced-transfer trigger at COMMIT, and the balance CHECKs on the UPDATE.
The rows are left unsealed (`sealed` NULL), for the real sealer to seal.

created_at and the entries' ids take their defaults (now(), gen_random_uuid()),
as the server's own inserts do, so a batch's rows share its transaction's
time: the history is in order after the accounts' funding (an earlier
transaction) and batch after batch.

An interrupted seeding resumes: bench.history_seed says how many transfers
the committed batches hold, and a batch commits whole or not at all."""
import random
import subprocess
import threading
import time

from .stack import FUND, N_USERS, BenchError, log, running_entries_sql

BATCH = 20_000           # transfers per seeding transaction (40,000 entries), sealed after each


def seeded(stack):
    """Transfers the bulk seeding has committed on this stack so far."""
    stack.sql("CREATE TABLE IF NOT EXISTS bench.history_seed ("
              " batch integer PRIMARY KEY, transfers integer NOT NULL,"
              " seconds numeric, done_at timestamptz NOT NULL DEFAULT now())")
    return int(stack.sql("SELECT coalesce(sum(transfers), 0) FROM bench.history_seed"))


def _uuid4(bits):
    """A random UUID (version 4, RFC 4122 variant) in canonical text form."""
    h = "%032x" % ((bits & ~(0xF000 << 64) & ~(0xC << 60)) | (0x4000 << 64) | (0x8 << 60))
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _batch_script(ids, batches, rng):
    """Yield the psql script of `batches` seeding transactions, in chunks of text.

    ids: account id by bench n (1..N_USERS used). Each transfer moves 1..100
    units between two distinct accounts picked at random."""
    users = [ids[n] for n in range(1, N_USERS + 1)]
    nu = len(users)
    getbits = rng.getrandbits
    for b, count in batches:
        delta = {}
        transfers, entries = [], []
        for i in range(count):
            fi = getbits(32) % nu
            ti = (fi + 1 + getbits(32) % (nu - 1)) % nu
            f, t = users[fi], users[ti]
            amount = 1 + getbits(16) % 100
            tid = _uuid4(getbits(128))
            transfers.append(f"{tid}\t{f}\t{t}\t{amount}\ttransfer\tuser:{f}\tbench history\t"
                             f"user:{f}:hist-{b}-{i}\n")
            entries.append(f"{2 * i}\t{tid}\t{f}\t-{amount}\n{2 * i + 1}\t{tid}\t{t}\t{amount}\n")
            delta[f] = delta.get(f, 0) - amount
            delta[t] = delta.get(t, 0) + amount
        yield (f"\\echo batch {b} ({count} transfers)\nBEGIN;\n"
               "COPY transfers (id, from_account, to_account, amount, kind, caller, memo, idem_key)"
               " FROM STDIN;\n")
        yield "".join(transfers)
        transfers = None
        yield ("\\.\nCREATE TEMP TABLE seed_raw (ord bigint, transfer_id uuid, account_id uuid,"
               " amount bigint) ON COMMIT DROP;\nCOPY seed_raw FROM STDIN;\n")
        yield "".join(entries)
        entries = None
        yield "\\.\n" + running_entries_sql("SELECT * FROM seed_raw") + "\n"
        yield ("CREATE TEMP TABLE seed_delta (id uuid PRIMARY KEY, delta bigint NOT NULL)"
               " ON COMMIT DROP;\nCOPY seed_delta FROM STDIN;\n")
        yield "".join(f"{a}\t{d}\n" for a, d in delta.items() if d)
        yield ("\\.\nUPDATE accounts a SET balance = a.balance + d.delta FROM seed_delta d"
               " WHERE a.id = d.id;\n"
               f"INSERT INTO bench.history_seed (batch, transfers, seconds)"
               f" VALUES ({b}, {count}, extract(epoch FROM clock_timestamp() - now()));\n"
               "COMMIT;\n")


def _psql_stream(stack, chunks):
    """Pipe a generated script into one psql session; raise on failure."""
    p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", stack.pgsock,
                          "-p", str(stack.pg_port), "-U", "zerosum", "-d", "zerosum", "-f", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, bufsize=1 << 20)
    out = []

    def reader():
        for line in p.stdout:
            out.append(line.strip())

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        for chunk in chunks:
            p.stdin.write(chunk)
        p.stdin.close()
    except BrokenPipeError:
        pass
    err = p.stderr.read()
    rc = p.wait()
    th.join()
    if rc != 0:
        raise BenchError(f"{stack.name}: seeding failed (psql exit {rc}): {err.strip()[:2000]}")


def seed_history(stack, target_transfers, seal=None, stage=BATCH):
    """Bring the stack's bulk-seeded history to target_transfers transfers.

    seal: called with the stack after every committed batch of `stage`
    transfers (the real sealer), so the unsealed backlog never exceeds one
    batch — the sealer checks the whole backlog in every seal, so sealing a
    big backlog at once costs its size times the number of seals.
    Needs the bench accounts (Stack.setup). Returns the seconds spent (0 when
    the history was already there)."""
    have = seeded(stack)
    if have >= target_transfers:
        return 0.0
    if not stack.ids:
        raise BenchError("seed_history needs the bench accounts (Stack.setup) first")
    # Funding is 1,000,000,000 per account and a transfer moves at most 100,
    # so no account can run dry whatever the order: the CHECKs will not trip.
    if target_transfers * 100 >= FUND:
        raise BenchError(f"{target_transfers:,} transfers could overdraw a bench account")
    t0 = time.time()
    log(f"{stack.name}: seeding the history from {have:,} to {target_transfers:,} transfers "
        f"({2 * target_transfers:,} entries) with COPY, every guard on"
        + (f", sealing every {stage:,}" if seal else "") + " (once per stack)")
    nb = int(stack.sql("SELECT coalesce(max(batch), 0) FROM bench.history_seed"))
    rng = random.Random()
    t_copy = t_seal = 0.0
    while have < target_transfers:
        nb += 1
        count = min(stage, target_transfers - have)
        t1 = time.time()
        _psql_stream(stack, _batch_script(stack.ids, [(nb, count)], rng))
        t_copy += time.time() - t1
        have += count
        if seal:
            t1 = time.time()
            seal(stack)
            t_seal += time.time() - t1
        if nb % 10 == 0 or have >= target_transfers:
            log(f"{stack.name}:   {have:,} transfers ({time.time() - t0:.0f} s: COPY {t_copy:.0f} s, "
                f"sealing {t_seal:.0f} s)")
    log(f"{stack.name}: history COPY done in {time.time() - t0:.0f} s; VACUUM ANALYZE")
    stack.sql("VACUUM ANALYZE accounts; VACUUM ANALYZE transfers; VACUUM ANALYZE entries;", timeout=3600)
    have = seeded(stack)
    if have < target_transfers:
        raise BenchError(f"{stack.name}: seeding stopped at {have:,} of {target_transfers:,} transfers")
    took = time.time() - t0
    log(f"{stack.name}: seeded {target_transfers:,} transfers in {took:.0f} s")
    return took
