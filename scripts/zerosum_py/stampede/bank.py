"""bank: Jepsen's bank workload — writers moving money between M accounts
while readers check, from one database snapshot each, that the total never
changes (run_bank), and the pure verifier of its record (verify_bank)."""
import os
import random
import sys
import threading
import time
import uuid

from . import harness as h
from ..client import retry_wait
from ..stack import REPO, db_connect, load_env
from .checks import Checks, is_error, no_unresolved, nonneg, replays_identical

SCRIPT = os.path.join(REPO, "scripts", "stampede")   # re-run under /usr/bin/python3 for psycopg2

BANK_FUND = 10000              # each bank account's opening balance (minor units)
BANK_MAX_READS = 200_000       # snapshot reads kept per run (readers stop there)
BANK_HELP = """\
bank: Jepsen's bank workload. Creates --accounts M fresh accounts (through the
API, each funded BANK_FUND = 10000 from the issuer: a known total T = M x
10000), then for --seconds S runs --clients C writer threads sending random
POST /transfer between them (random amounts, about a quarter of them larger
than any opening balance, so insufficient_funds happens) while --readers R
reader threads read all M balances from ONE snapshot and check that every
read sums to T and shows no negative balance.

Where the reads come from: the database, not HTTP. GET /accounts/{id} reads
one account per request (M requests are M snapshots) and /proof does not list
balances, so each read is a read-only REPEATABLE READ transaction on
PostgreSQL as the owner role `zerosum` (psycopg2; the socket and ports come
from $ZS_VAR/stack.env; --read-via postgres (default) or pgbouncer). In that
one snapshot it selects the M accounts' balance and held, and the sum of
their ledger entries: a read is bad unless it has M rows, balances sum to T,
entries sum to T, and no balance is negative (nor held outside 0..balance).

Writers retry a request with the same Idempotency-Key after a 5xx, a
transport failure, 429 or 409 idempotency_key_in_flight, for at most
--retry-for seconds; the final answer must be 201 or 422 insufficient_funds.
After the writers stop, as cross-checks over HTTP and in the ledger: one more
snapshot read; the sum of GET /accounts/{id} balances equals T (none
negative); GET /proof is consistent; the transfers among the M accounts in
the ledger are exactly the 201 answers (by transfer id, each idempotency key
once) and move exactly the acknowledged amounts; a few answered requests
re-sent with their keys replay identically. The summary line adds "reads",
"bad_reads", "read_errors" (reads that failed to run, e.g. while the database
restarted; not bad), "transfers_ok", "transfers_rejected" and "total".
Bounded: S <= 600 s, at most --max-transfers transfers and 200,000 reads,
C <= 200, R <= 16."""


def add_bank_arguments(p):
    g = p.add_argument_group("bank scenario", BANK_HELP)
    g.add_argument("--accounts", type=int, dest="n", help="bank: accounts M (default 10; the same as --n)")
    g.add_argument("--clients", type=int, default=8, help="bank: writer threads C (default 8)")
    g.add_argument("--readers", type=int, default=2, help="bank: snapshot reader threads (default 2)")
    g.add_argument("--seconds", type=float, default=10.0, help="bank: seconds of writing (default 10)")
    g.add_argument("--max-transfers", type=int, default=100000, dest="max_transfers",
                   help="bank: stop after this many transfers (default 100000)")
    g.add_argument("--retry-for", type=float, default=30.0, dest="retry_for",
                   help="bank: seconds a writer keeps re-sending one transfer (default 30)")
    g.add_argument("--read-via", choices=("postgres", "pgbouncer"), default="postgres", dest="read_via",
                   help="bank: snapshot reads straight to PostgreSQL (default) or through PgBouncer")


def check_bank_arguments(p, a):
    if a.scenario != "bank":
        return
    if a.n < 2:
        p.error("bank: --accounts must be at least 2")
    if not 1 <= a.clients <= 200:
        p.error("bank: --clients must be from 1 to 200")
    if not 1 <= a.readers <= 16:
        p.error("bank: --readers must be from 1 to 16")
    if not 0.5 <= a.seconds <= 600:
        p.error("bank: --seconds must be from 0.5 to 600")
    if not 1 <= a.max_transfers <= 10_000_000:
        p.error("bank: --max-transfers must be from 1 to 10000000")
    if not 1 <= a.retry_for <= 600:
        p.error("bank: --retry-for must be from 1 to 600 seconds")


def _bank_db(env, via):
    """psycopg2 connection for snapshot reads, as the owner role, autocommit (we send BEGIN)."""
    return db_connect(env, via, connect_timeout=3, application_name="stampede-bank")


def _bank_read(conn, ids):
    """One snapshot: [rows, sum balance, sum entries, negatives, bad held, ms]."""
    t0 = time.monotonic()
    with conn.cursor() as cur:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cur.execute("SELECT balance, held FROM accounts WHERE id = ANY(%s::uuid[])", (ids,))
            rows = cur.fetchall()
            cur.execute("SELECT coalesce(sum(amount), 0) FROM entries WHERE account_id = ANY(%s::uuid[])", (ids,))
            esum = int(cur.fetchone()[0])
        finally:
            try:
                cur.execute("COMMIT")
            except Exception:  # noqa: BLE001 — the connection is gone; the caller reconnects
                pass
    return [len(rows), int(sum(b for b, _ in rows)), esum, sum(1 for b, _ in rows if b < 0),
            sum(1 for b, h in rows if h < 0 or h > b), round((time.monotonic() - t0) * 1000, 2)]


def _bad_read(r, m, total):
    return r[0] != m or r[1] != total or r[2] != total or r[3] != 0 or r[4] != 0


def verify_bank(rec):
    """rec: n, total, readers, answers [{from, to, amount, key, status, code, transfer, error,
    replayed, attempts}], reads [[rows, Σbalance, Σentries, negatives, bad held, ms]],
    final_read, http_accounts {id: account}, ledger [[id, idem_key, amount, from, to]],
    unresolved, replays, proof, proof_detail."""
    c = Checks()
    m, total, answers = rec["n"], rec["total"], rec["answers"]
    reads = rec["reads"]
    bad = [r for r in reads if _bad_read(r, m, total)]
    c.check("reads_ran", rec["readers"] == 0 or len(reads) >= 1, "no snapshot read completed during the run")
    c.check("reads_sum_to_total", not [r for r in reads if r[1] != total],
            f"snapshot reads whose balances do not sum to {total}: {[r[1] for r in reads if r[1] != total][:5]}")
    c.check("reads_entries_sum_to_total", not [r for r in reads if r[2] != total],
            f"snapshot reads whose entries do not sum to {total}: {[r[2] for r in reads if r[2] != total][:5]}")
    c.check("reads_complete", not [r for r in reads if r[0] != m],
            f"snapshot reads without {m} accounts: {[r[0] for r in reads if r[0] != m][:5]}")
    c.check("reads_nonnegative", not [r for r in reads if r[3] or r[4]],
            f"snapshot reads with a negative balance or held outside 0..balance: {[r for r in reads if r[3] or r[4]][:5]}")
    fr = rec.get("final_read")
    c.check("final_read_consistent", fr is not None and not _bad_read(fr, m, total),
            f"the snapshot read after the writers stopped: {fr} (want {m} rows summing to {total})")
    ok_, rej, errs, other = [], [], [], []
    for a in answers:
        if is_error(a):
            errs.append(a)
        elif a["status"] == 201:
            ok_.append(a)
        elif a["status"] == 422 and a["code"] == "insufficient_funds":
            rej.append(a)
        else:
            other.append(a)
    c.check("no_errors", not errs, f"{len(errs)} transfers ended without a final answer: "
            f"{[(a['status'], a['error']) for a in errs][:3]}")
    c.check("rejections_insufficient_funds", not other,
            f"{len(other)} final answers were neither 201 nor 422 insufficient_funds: "
            f"{[(a['status'], a['code']) for a in other][:5]}")
    c.check("some_transfers", len(ok_) >= 1, "no transfer was accepted")
    wrong = [a for a in ok_ if not isinstance(a.get("transfer"), dict)
             or (a["transfer"].get("from"), a["transfer"].get("to"), a["transfer"].get("amount"))
             != (a["from"], a["to"], a["amount"])]
    c.check("acks_match_requests", not wrong, f"{len(wrong)} 201 answers name another transfer than asked")
    ledger = rec.get("ledger")
    if ledger is None:
        c.check("ledger_matches_acks", False, "the ledger could not be read")
    else:
        acked = {a["transfer"]["id"]: a for a in ok_ if isinstance(a.get("transfer"), dict)}
        shown = {row[0]: row for row in ledger}
        keys = {}
        for row in ledger:
            keys[row[1]] = keys.get(row[1], 0) + 1
        unknown_keys = {f"user:{a['from']}:{a['key']}" for a in errs}
        extra = [r for i, r in shown.items() if i not in acked and r[1] not in unknown_keys]
        lost = [i for i in acked if i not in shown]
        c.check("ledger_matches_acks", not extra and not lost,
                f"{len(lost)} acknowledged transfers missing from the ledger {lost[:3]}, "
                f"{len(extra)} ledger transfers nobody was told about {extra[:3]}")
        c.check("keys_once", all(n == 1 for n in keys.values()) and len(ledger) == len(shown),
                f"idempotency keys with more than one transfer: {[k for k, n in keys.items() if n != 1][:3]}")
        moved = sum(r[2] for r in ledger if r[0] in acked)
        told = sum(a["amount"] for a in acked.values())
        c.check("moved_equals_acked", moved == told and all(
            shown[i][2] == a["amount"] and f"user:{a['from']}:{a['key']}" == shown[i][1]
            for i, a in acked.items() if i in shown),
            f"the ledger moved {moved} for the acknowledged transfers, the answers say {told}")
    accts = rec.get("http_accounts") or {}
    vals = list(accts.values())
    hsum = sum(v.get("balance", 0) for v in vals if v)
    c.check("http_sum_total", len(vals) == m and all(v is not None for v in vals) and hsum == total,
            f"sum of GET /accounts/{{id}} balances {hsum} over {sum(1 for v in vals if v)} of {m} accounts,"
            f" want {total}")
    nonneg(c, accts)
    replays_identical(c, rec, "transfer")
    c.check("proof_consistent", rec.get("proof") in ("consistent", "unavailable"),
            rec.get("proof_detail") or rec.get("proof"))
    no_unresolved(c, rec, "transfers'")
    return {"accepted": len(ok_), "rejected": len(rej) + len(other), "errors": len(errs),
            "reads": len(reads), "bad_reads": len(bad), "read_errors": rec.get("read_errors", 0),
            "transfers_ok": len(ok_), "transfers_rejected": len(rej), "total": total,
            "accounts": m, "clients": rec.get("clients"), "readers": rec.get("readers"),
            "read_via": rec.get("read_via")}, c


def _bank_send(api, job, retry_for, note_retry, flight):
    """Send one transfer; re-send it (same key) until a final answer or retry_for seconds pass."""
    t0 = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        flight(+1)
        a = api.call(job["method"], job["path"], job["body"], job["token"], job["key"])
        flight(-1)
        retry = a.failed or a.status == 429 or a.code == "idempotency_key_in_flight"
        if not retry or time.monotonic() - t0 >= retry_for:
            return a, attempts
        note_retry()
        time.sleep(max(0.05, retry_wait(a, 1.0) * random.random()))


def run_bank(stack, args):
    import importlib.util
    if importlib.util.find_spec("psycopg2") is None:   # the snapshot reads need it
        py = "/usr/bin/python3"        # Debian's python3-psycopg2 (scripts/stack install)
        if os.environ.get("ZS_STAMPEDE_REEXEC") or os.path.realpath(sys.executable) == os.path.realpath(py) \
                or not os.access(py, os.X_OK):
            raise h.SetupError("bank needs psycopg2 (apt-get install python3-psycopg2)")
        h.log(f"psycopg2 is not importable by {sys.executable}; re-running under {py}")
        sys.stderr.flush()
        os.environ["ZS_STAMPEDE_REEXEC"] = "1"
        os.execv(py, [py, SCRIPT, *sys.argv[1:]])
    env = load_env(stack.var)
    if not env or not env.get("PGHOST"):
        raise h.SetupError(f"bank reads the database: no PGHOST in {stack.var}/stack.env (pass --var)")
    m, fund = args.n, BANK_FUND
    total = m * fund
    run = uuid.uuid4().hex[:8]
    h.log(f"bank {run}: {m} accounts funded {fund} each (total {total}), {args.clients} writers,"
        f" {args.readers} snapshot readers via {args.read_via}, {args.seconds:g} s")
    users = stack.create_users(f"bank-{run}", [fund] * m)
    ids = [aid for aid, _ in users]
    try:
        conn = _bank_db(env, args.read_via)
        first = _bank_read(conn, ids)
        conn.close()
    except Exception as e:  # noqa: BLE001
        raise h.SetupError(f"snapshot read ({args.read_via}): {type(e).__name__}: {e}")
    if _bad_read(first, m, total):
        raise h.SetupError(f"the accounts do not start at {total}: {first}")

    lock = threading.Lock()
    stop = threading.Event()
    state = {"sent": 0, "in_flight": 0, "max_in_flight": 0, "client_retries": 0, "read_errors": 0}
    answers, reads, jobs, finals = [], [], [], []

    def note_retry():
        with lock:
            state["client_retries"] += 1

    def flight(d):
        with lock:
            state["in_flight"] += d
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])

    def writer(seed):
        rnd = random.Random(seed)
        while not stop.is_set():
            with lock:
                if state["sent"] >= args.max_transfers:
                    return
                state["sent"] += 1
            i, j = rnd.sample(range(m), 2)
            amount = rnd.randint(1, fund) if rnd.random() < 0.75 else rnd.randint(fund + 1, 4 * fund)
            job = {"method": "POST", "path": "/transfer", "token": users[i][1], "key": str(uuid.uuid4()),
                   "body": {"from": ids[i], "to": ids[j], "amount": amount}}
            a, attempts = _bank_send(stack.api, job, args.retry_for, note_retry, flight)
            r = {"from": ids[i], "to": ids[j], "amount": amount, "key": job["key"], "status": a.status,
                 "code": a.code, "error": a.error, "attempts": attempts,
                 "replayed": a.headers.get("idempotent-replayed") == "true",
                 "transfer": (a.json or {}).get("transfer") if a.status == 201 and isinstance(a.json, dict) else None}
            with lock:
                answers.append(r)
                jobs.append(job)
                finals.append(a)

    def reader():
        conn = None
        while not stop.is_set() and len(reads) < BANK_MAX_READS:
            try:
                if conn is None:
                    conn = _bank_db(env, args.read_via)
                r = _bank_read(conn, ids)
                with lock:
                    reads.append(r)
            except Exception:  # noqa: BLE001 — a lost connection is a failed read, not a bad one
                with lock:
                    state["read_errors"] += 1
                try:
                    conn and conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                stop.wait(0.1)
        if conn is not None:
            conn.close()

    before = stack.tx_retries("transfer")
    writers = [threading.Thread(target=writer, args=(random.getrandbits(32),), daemon=True)
               for _ in range(args.clients)]
    readers = [threading.Thread(target=reader, daemon=True) for _ in range(args.readers)]
    t0 = time.monotonic()
    for t in readers + writers:
        t.start()
    stop.wait(args.seconds)
    stop.set()
    for t in writers:          # a writer may still be re-sending its last transfer
        t.join(args.retry_for + 2 * args.timeout + 5)
    duration_ms = int((time.monotonic() - t0) * 1000)
    for t in readers:
        t.join(30)
    after = stack.tx_retries("transfer")
    with lock:                 # a straggler past its join no longer writes into the record
        answers, reads, jobs, finals = list(answers), list(reads), list(jobs), list(finals)
    h.log(f"bank {run}: {len(answers)} transfers ({sum(1 for a in answers if a['status'] == 201)} accepted),"
        f" {len(reads)} snapshot reads ({state['read_errors']} failed to run) in {duration_ms} ms")

    final_read, ledger = None, None
    for attempt in range(20):          # the database may still be coming back
        try:
            conn = _bank_db(env, args.read_via)
            try:
                final_read = _bank_read(conn, ids)
                with conn.cursor() as cur:
                    cur.execute("SELECT id::text, idem_key, amount, from_account::text, to_account::text"
                                " FROM transfers WHERE kind = 'transfer' AND from_account = ANY(%s::uuid[])"
                                " AND to_account = ANY(%s::uuid[])", (ids, ids))
                    ledger = [list(r) for r in cur.fetchall()]
            finally:
                conn.close()
            break
        except Exception as e:  # noqa: BLE001
            h.log(f"final read failed ({type(e).__name__}: {e}); retrying")
            time.sleep(0.5)
    unresolved = sum(1 for a in finals if a.failed)
    replays = h.replays(stack, jobs, finals)
    proof, proof_detail = stack.proof()
    rec = {"n": m, "total": total, "fund": fund, "seconds": args.seconds, "clients": args.clients,
           "readers": args.readers, "read_via": args.read_via, "answers": answers, "reads": reads,
           "read_errors": state["read_errors"], "final_read": final_read,
           "http_accounts": stack.accounts(ids), "ledger": ledger, "unresolved": unresolved,
           "replays": replays, "proof": proof, "proof_detail": proof_detail}
    head, c = verify_bank(rec)
    retries = h.delta(before, after)
    figures = {"duration_ms": duration_ms, "retries": retries, "client_retries": state["client_retries"],
               "max_in_flight": state["max_in_flight"], "unknown": unresolved}
    return head, figures, proof, c, rec

