"""bench/run's seal-rate scenario: does the stack's own sealer keep up with
transfer-uniform? Everything is sealed first; then wrk runs transfer-uniform
for --seconds while the jobs child's sealer runs as configured, the seals
table and the unsealed backlog are sampled every second, and an admin
GET /proof is timed over and over; afterwards the backlog is watched until
it is gone (or 60 s pass). --seal-rate N paces the load at N transfers a
second (16 keep-alive client threads) instead of wrk's as-fast-as-it-goes."""
import threading
import time

from .hooks import paced_transfers
from .load import pct, r3, run_wrk, tx_delta
from .proofscale import seal_all
from .stack import N_USERS, BenchError

DRAIN_S = 60         # how long the backlog may take to go once the load stops


def backlog(stack):
    """(tree size, unsealed transfers, age of the oldest unsealed one in s)."""
    row = stack.sql("SELECT coalesce((SELECT max(tree_size) FROM seals), 0),"
                    " (SELECT count(*) FROM transfers WHERE sealed IS NULL),"
                    " coalesce(extract(epoch FROM clock_timestamp() - (SELECT min(created_at)"
                    " FROM transfers WHERE sealed IS NULL)), 0)")
    size, unsealed, age = row.split("|")
    return int(size), int(unsealed), float(age)


def sc_seal_rate(stack, args):
    seal_all(stack, quiet=True)
    size0, left0, _ = backlog(stack)
    if left0:
        raise BenchError(f"{left0} transfers stayed unsealed before the load")
    stop = threading.Event()
    samples, proofs = [], []

    def sampler():
        while not stop.is_set():
            samples.append((time.perf_counter(),) + backlog(stack))
            stop.wait(1.0)

    def prover():
        while not stop.is_set():
            ok, ms, bad, _ = stack.proof()
            proofs.append((ms, ok, bad))

    threads = [threading.Thread(target=sampler), threading.Thread(target=prover)]
    m0 = stack.metrics()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    rate = getattr(args, "seal_rate", 0) or 0
    try:
        if rate:
            sent, made, dur = paced_transfers(stack, args.seconds, rate, threads=16)
        else:
            w = run_wrk(stack, args.seconds, args.concurrency, 1, N_USERS)
            dur, made = w["duration_us"] / 1e6, w["statuses"].get("201", 0)
    finally:
        t1 = time.perf_counter()
        stop.set()
        for t in threads:
            t.join()
    m1 = stack.metrics()
    size1, left1, age1 = backlog(stack)
    drain_s = None
    while time.perf_counter() - t1 < DRAIN_S:
        _, left, _ = backlog(stack)
        if left == 0:
            drain_s = round(time.perf_counter() - t1, 1)
            break
        time.sleep(0.5)
    sealed = size1 - size0
    times = [p[0] for p in proofs]
    seals = stack.sql(f"SELECT count(*), coalesce(max(records), 0) FROM seals WHERE tree_size > {size0}"
                      f" AND tree_size <= {size1}").split("|")
    return {"tps": sealed / (t1 - t0), "p50_ms": pct(times, 50), "p99_ms": pct(times, 99),
            "retries_per_commit": tx_delta(m0, m1, "transfer")["retries_per_commit"], "pgbench": None,
            "invariants_ok": all(p[1] for p in proofs) if proofs else None,
            "extra": {"transfer_tps": r3(made / dur if dur else 0.0), "transfers": made, "paced_rate": rate or None,
                      "sealed_records": sealed, "seals": int(seals[0]), "max_records_per_seal": int(seals[1]),
                      "backlog_end": left1, "backlog_max": max([s[2] for s in samples] + [left1]),
                      "oldest_unsealed_end_s": round(age1, 1), "drain_s": drain_s,
                      "proof_requests": len(times), "proof_failing_during": sorted({b for p in proofs for b in p[2] if b}),
                      "duration_s": round(t1 - t0, 1)}}
