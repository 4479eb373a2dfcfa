"""bench/run's two-phase and linked-batch rounds, each measured side by side
with its one-step equivalent in the same run (same stack, concurrency and
duration), so the figure is a ratio:

  pending-round  a pending transfer then its post (two requests, one round)
                 against a plain POST /transfer; ratio = rounds/s / transfers/s
  batch-round    one POST /transfers/batch of 10 items against 10 single
                 POST /transfer sent one after another; ratio = batches/s /
                 (rounds of 10 singles)/s, i.e. how much faster the same 10
                 moves are as one linked batch

Each half is a closed loop: `concurrency` threads with a keep-alive
connection each, for `seconds`; bench accounts 1..N_USERS pay their
neighbour 1 unit (spread over the accounts, no hot spot)."""
import threading
import time
import uuid

from .load import pct, tx_delta
from .stack import N_USERS

BATCH_ITEMS = 10


def _loop(stack, seconds, concurrency, step):
    """Run step(conn, k) -> (conn, ok, ms) on every thread until the deadline:
    (rounds that succeeded, failures, duration s, round latencies ms)."""
    lock = threading.Lock()
    state = {"k": 0}
    lat, bad = [], [0]
    deadline = [0.0]

    def worker():
        conn, mine, fails = None, [], 0
        while time.perf_counter() < deadline[0]:
            with lock:
                k = state["k"]
                state["k"] += 1
            conn, good, ms = step(conn, k)
            if good:
                mine.append(ms)
            else:
                fails += 1
        if conn is not None:
            conn.close()
        with lock:
            lat.extend(mine)
            bad[0] += fails

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat), bad[0], time.perf_counter() - t0, lat


def _pair(stack, k):
    n = 1 + k % N_USERS
    m = 1 + (n % N_USERS)
    return stack.ids[n], stack.ids[m], stack.tokens[n]


def _plain(stack, run):
    def step(conn, k):
        frm, to, tok = _pair(stack, k)
        conn, a = stack.api.send(conn, "POST", "/transfer", {"from": frm, "to": to, "amount": 1}, tok,
                                 f"{run}-t{k}")
        return conn, a.status == 201, a.ms
    return step


def _pending_post(stack, run):
    def step(conn, k):
        frm, to, tok = _pair(stack, k)
        conn, a = stack.api.send(conn, "POST", "/transfer",
                                 {"from": frm, "to": to, "amount": 1, "pending": True}, tok, f"{run}-p{k}")
        if a.status != 201:
            return conn, False, a.ms
        pid = ((a.json or {}).get("transfer") or {}).get("id")
        conn, b = stack.api.send(conn, "POST", f"/transfers/{pid}/post", {}, tok, f"{run}-q{k}")
        return conn, b.status == 200, a.ms + b.ms
    return step


def _round(stack, k):
    """Round k of the batch scenario: one payer and its BATCH_ITEMS payees (the
    same for the batch and for the singles it is measured against)."""
    frm, _, tok = _pair(stack, k)
    to = [_pair(stack, k * BATCH_ITEMS + i)[1] for i in range(BATCH_ITEMS)]
    return frm, tok, [t if t != frm else _pair(stack, k)[1] for t in to]


def _singles(stack, run):
    def step(conn, k):
        frm, tok, to = _round(stack, k)
        ms, good = 0.0, True
        for i, t in enumerate(to):
            conn, a = stack.api.send(conn, "POST", "/transfer", {"from": frm, "to": t, "amount": 1}, tok,
                                     f"{run}-s{k}-{i}")
            ms += a.ms
            good = good and a.status == 201
        return conn, good, ms
    return step


def _batch(stack, run):
    def step(conn, k):
        frm, tok, to = _round(stack, k)
        items = [{"from": frm, "to": t, "amount": 1} for t in to]
        conn, a = stack.api.send(conn, "POST", "/transfers/batch", {"transfers": items}, tok, f"{run}-b{k}")
        return conn, a.status == 201, a.ms
    return step


def _half(stack, args, step, endpoint):
    m0 = stack.metrics()
    n, fails, dur, lat = _loop(stack, args.seconds, args.concurrency, step)
    m1 = stack.metrics()
    return {"rounds": n, "failed": fails, "duration_s": round(dur, 3), "tps": n / dur if dur else 0.0,
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "tx": tx_delta(m0, m1, endpoint)}


def sc_pending_round(stack, args):
    run = uuid.uuid4().hex[:12]
    plain = _half(stack, args, _plain(stack, run), "transfer")
    two = _half(stack, args, _pending_post(stack, run), "transfers")
    ratio = two["tps"] / plain["tps"] if plain["tps"] else None
    return {"tps": two["tps"], "p50_ms": two["p50_ms"], "p99_ms": two["p99_ms"],
            "retries_per_commit": two["tx"]["retries_per_commit"], "pgbench": None, "ratio": ratio,
            "extra": {"round": "pending transfer + post", "plain_tps": round(plain["tps"], 3),
                      "plain_p50_ms": plain["p50_ms"], "plain_p99_ms": plain["p99_ms"],
                      "ratio_vs_plain": round(ratio, 3) if ratio is not None else None,
                      "pending": two, "plain": plain, "failed": two["failed"] + plain["failed"]}}


def sc_batch_round(stack, args):
    run = uuid.uuid4().hex[:12]
    singles = _half(stack, args, _singles(stack, run), "transfer")
    batch = _half(stack, args, _batch(stack, run), "transfers")
    ratio = batch["tps"] / singles["tps"] if singles["tps"] else None
    return {"tps": batch["tps"], "p50_ms": batch["p50_ms"], "p99_ms": batch["p99_ms"],
            "retries_per_commit": batch["tx"]["retries_per_commit"], "pgbench": None, "ratio": ratio,
            "extra": {"round": f"one batch of {BATCH_ITEMS} vs {BATCH_ITEMS} single transfers",
                      "singles_rounds_per_s": round(singles["tps"], 3),
                      "singles_p50_ms": singles["p50_ms"], "singles_p99_ms": singles["p99_ms"],
                      "ratio_vs_singles": round(ratio, 3) if ratio is not None else None,
                      "batch": batch, "singles": singles, "failed": batch["failed"] + singles["failed"]}}
