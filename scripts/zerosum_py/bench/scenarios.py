"""bench/run's scenarios: each measures zerosum over HTTP and pgbench on the
same statements (bench/sql), and says whether its goal was met."""
import os
import threading
import time
import uuid

from ..stack import ADMIN_SUB
from .load import (BODY_SAMPLE_TRANSFER, burst_request, loadavg, pct, r3, run_burst, run_pgbench_both,
                   run_wrk, tx_delta)
from .fanout import sc_sse_fanout
from .hooks import sc_webhook_dead
from .rounds import sc_batch_round, sc_pending_round
from .sealrate import sc_seal_rate
from .stack import HOT_A, HOT_B, MEMORY_MAX_REQUESTS, N_USERS, PROOF_MIN_ENTRIES, SELLER, BenchError, log

SCENARIOS = ("transfer-uniform", "transfer-hotspot", "bid-war", "drop-stampede", "proof", "memory",
             "pending-round", "batch-round", "sse-fanout", "webhook-dead", "seal-rate")


def sc_transfer(stack, args, name):
    first, last = (1, N_USERS) if name == "transfer-uniform" else (HOT_A, HOT_B)
    m0 = stack.metrics()
    w = run_wrk(stack, args.seconds, args.concurrency, first, last)
    m1 = stack.metrics()
    dur = w["duration_us"] / 1e6
    ok201 = w["statuses"].get("201", 0)
    txd = tx_delta(m0, m1, "transfer")
    pg = run_pgbench_both(stack, f"{name}.sql", args.concurrency, seconds=args.seconds, defines={
        "primed": 0, "first": first, "last": last, "amount": 1, "release": 0, "kind": "transfer",
        "memo": "bench", "status": 201, "fp": "0" * 64, "body": BODY_SAMPLE_TRANSFER})
    tps = ok201 / dur if dur else 0.0
    return {"tps": tps, "p50_ms": w["latency_us"]["p50"] / 1000, "p99_ms": w["latency_us"]["p99"] / 1000,
            "retries_per_commit": txd["retries_per_commit"], "pgbench": pg,
            "extra": {"requests": w["requests"], "statuses": w["statuses"], "wrk_errors": w["errors"],
                      "duration_s": round(dur, 3), "mean_ms": round(w["latency_us"]["mean"] / 1000, 3),
                      "p90_ms": w["latency_us"]["p90"] / 1000, "max_ms": w["latency_us"]["max"] / 1000,
                      "tx": txd, "accounts": last - first + 1,
                      "db_connects": m1.get(("zerosum_db_connects_total", ""), 0)
                      - m0.get(("zerosum_db_connects_total", ""), 0)}}


def bid_war_load(stack, args, lot, seconds=None):
    """The bid war's load: args.concurrency keep-alive threads bid on lot for
    `seconds` (args.seconds), bid k offering 100 + k as bidder k mod
    args.bidders. (results [(status, code, ms, amount)], duration s, metrics
    before, metrics after)."""
    bidders = list(range(1, args.bidders + 1))
    api = stack.api
    lock = threading.Lock()
    state = {"k": 0}
    results = []
    run = uuid.uuid4().hex[:12]
    deadline = [0.0]

    def worker():
        conn = None
        mine = []
        while time.perf_counter() < deadline[0]:
            with lock:
                k = state["k"]
                state["k"] += 1
            n = bidders[k % len(bidders)]
            amount = 100 + k
            conn, a = api.send(conn, "POST", "/bid", {"lot": lot["id"], "amount": amount},
                               stack.tokens[n], f"{run}-{k}")
            mine.append((a.status, a.code, a.ms, amount))
        if conn is not None:
            conn.close()
        with lock:
            results.extend(mine)

    m0 = stack.metrics()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    t0 = time.perf_counter()
    deadline[0] = t0 + (seconds or args.seconds)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dur = time.perf_counter() - t0
    return results, dur, m0, stack.metrics()


LOT_MARGIN_S = 30  # a bench lot ends this long after its load should be over


def new_bid_war_lot(stack, live_s, title="bench bid-war"):
    """An English lot that ends live_s seconds from now (no anti-snipe window),
    so that retire_lots can see it settled and sealed once its load is over."""
    return stack.create_lot({"kind": "english", "seller": stack.ids[SELLER], "start": 100, "increment": 1,
                             "ends_in": int(live_s), "title": title})


def retire_lots(stack, lots, timeout=300):
    """Wait until every one of lots has ended, been settled and been sealed
    with its bids: a bench run leaves no live lot behind. The sealer's checks
    read every bid of every live lot once a second (so does /proof), and a
    stack that kept a week-long lot per run (75 live lots, 84,490 bids after
    a few sse-fanout runs) ran every later scenario slower. A lot past its end
    is read once (GET /lots/{id}: close-on-read settles it) in case the jobs
    child's sweep has not come by yet. True when all are sealed."""
    ids = ",".join(f"'{lot['id']}'" for lot in lots)
    t0, left, read = time.time(), len(lots), set()
    while time.time() - t0 < timeout:
        rows = stack.sql(f"SELECT id, now() >= ends_at, sealed IS NOT NULL FROM lots WHERE id IN ({ids})")
        left = 0
        for line in rows.splitlines():
            lid, ended, sealed = line.split("|")
            if sealed == "t":
                continue
            left += 1
            if ended == "t" and lid not in read:
                stack.call("GET", f"/lots/{lid}")
                read.add(lid)
        if left == 0:
            return True
        time.sleep(1)
    log(f"{stack.name}: {left} of {len(lots)} bench lots not yet settled and sealed after {timeout} s")
    return False


def sc_bid_war(stack, args):
    # both lots end after the pgbench runs (through PgBouncer and direct), so
    # neither is settled and sealed while one of them is timed
    lot = new_bid_war_lot(stack, 3 * args.seconds + LOT_MARGIN_S)
    results, dur, m0, m1 = bid_war_load(stack, args, lot)
    accepted = [r for r in results if r[0] == 201]
    too_low = sum(1 for r in results if r[0] == 409 and r[1] == "bid_too_low")
    errors = sum(1 for r in results if r[0] is None or r[0] >= 500)
    other = len(results) - len(accepted) - too_low - errors
    txd = tx_delta(m0, m1, "bid")
    status, j, _, _ = stack.call("GET", f"/lots/{lot['id']}")
    final = (j or {}).get("lot", {})
    lot_ok = (status == 200 and final.get("seq") == len(accepted)
              and final.get("high_amount") == max((r[3] for r in accepted), default=None))
    # pgbench: its own lot, with a leader so every bid takes the outbid path
    lot2 = new_bid_war_lot(stack, 2 * args.seconds + LOT_MARGIN_S, "bench bid-war (pgbench)")
    s, _, text, _ = stack.call("POST", "/bid", {"lot": lot2["id"], "amount": 100}, stack.tokens[1],
                               str(uuid.uuid4()))
    if s != 201:
        raise BenchError(f"opening bid on the pgbench lot: {s} {text[:200]}")
    pg = run_pgbench_both(stack, "bid-war.sql", args.concurrency, seconds=args.seconds, defines={
        "primed": 0, "first": 1, "last": args.bidders, "lot": lot2["id"], "qty": 1, "st": "leading", "null": "NULL",
        "status": 201, "fp": "0" * 64, "body": BODY_SAMPLE_TRANSFER})
    retire_lots(stack, [lot, lot2])
    lat = [r[2] for r in results]
    return {"tps": len(accepted) / dur, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "retries_per_commit": txd["retries_per_commit"], "pgbench": pg,
            "extra": {"bidders": args.bidders, "requests": len(results), "accepted": len(accepted),
                      "bid_too_low": too_low, "errors": errors, "other": other,
                      "duration_s": round(dur, 3), "accepted_p50_ms": pct([r[2] for r in accepted], 50),
                      "accepted_p99_ms": pct([r[2] for r in accepted], 99), "tx": txd,
                      "lot": lot["id"], "lot_consistent": lot_ok, "final_high": final.get("high_amount")}}


def drop_burst_python(stack, lot, buyers, run):
    """The burst from len(buyers) Python threads, each connected, then
    released together by one barrier: ([(status, code, ms, end_ms)], done_ms, {})."""
    n = len(buyers)
    api = stack.api
    release = []
    barrier = threading.Barrier(n, action=lambda: release.append(time.perf_counter()))
    answers = [None] * n

    def worker(i):
        try:
            conn = api.connection(60)
            conn.connect()
        except OSError:
            conn = None
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        conn, a = api.send(conn, "POST", "/bid", {"lot": lot["id"]}, stack.tokens[buyers[i]], f"{run}-{i}")
        if conn is not None:
            conn.close()
        answers[i] = (a.status, a.code, a.ms, a.t_end)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_rel = release[0] if release else min(a[3] - a[2] / 1000 for a in answers)
    done_ms = (max(a[3] for a in answers) - t_rel) * 1000
    return [a[:3] + ((a[3] - t_rel) * 1000,) for a in answers], done_ms, {}


def drop_burst_c(stack, lot, buyers, run):
    """The burst from build/zerosum-burst: every connection opened, then
    every claim sent at once from one epoll loop (bench/burst.h):
    ([(status, code, ms, end_ms)], done_ms, the client's own figures)."""
    reqs = [burst_request(stack, "POST", "/bid", {"lot": lot["id"]}, stack.tokens[b], f"{run}-{i}")
            for i, b in enumerate(buyers)]
    rep = run_burst(stack, reqs)
    return ([(a["status"], a["code"], a["ms"], a["end_ms"]) for a in rep["answers"]], rep["done_ms"],
            {"connect_ms": rep["connect_ms"], "send_ms": rep["send_ms"]})


DROP_CLIENTS = {"c": drop_burst_c, "python": drop_burst_python}


def sell_out(stack, lot, buyer):
    """Claim what is left of the pgbench drop (1,000,000 units: it never sells
    out by itself). A live drop's claims cannot be sealed, so every run used
    to leave its pgbench claims in every live check's and seal's backlog for
    good (33,863 after a session's runs: ~190 ms of the sealer's checks every
    second, competing with the next burst for the same two cores)."""
    status, j, text, _ = stack.call("GET", f"/lots/{lot['id']}")
    left = ((j or {}).get("lot") or {}).get("units_left")
    if status != 200 or not left:
        return
    status, _, text, _ = stack.call("POST", "/bid", {"lot": lot["id"], "quantity": left},
                                    token=stack.tokens[buyer], key=f"sell-out-{lot['id']}")
    if status != 201:
        raise BenchError(f"selling out the pgbench drop {lot['id']} ({left} units left): {status} {text[:300]}")


def drop_burst(stack, args, seller, buyers):
    """One burst at a new drop of args.units: its answers, done_ms, client
    figures, tx delta and what the lot shows afterwards."""
    lot = stack.create_lot({"kind": "drop", "seller": seller, "price": 100, "quantity": args.units,
                            "title": "bench drop-stampede"})
    run = uuid.uuid4().hex[:12]
    m0 = stack.metrics()
    answers, done_ms, client_extra = DROP_CLIENTS[args.burst_client](stack, lot, buyers, run)
    m1 = stack.metrics()
    status, j, _, _ = stack.call("GET", f"/lots/{lot['id']}")
    final = (j or {}).get("lot", {})
    wins = sum(1 for a in answers if a[0] == 201)
    return {"lot": lot, "answers": answers, "done_ms": done_ms, "client": client_extra,
            "tx": tx_delta(m0, m1, "bid"), "wins": wins,
            "sold_out": sum(1 for a in answers if a[0] == 409 and a[1] == "sold_out"),
            "errors": sum(1 for a in answers if a[0] is None or a[0] >= 500),
            "last_win_ms": max((a[3] for a in answers if a[0] == 201), default=0),
            "final": final, "lot_ok": status == 200 and final.get("claimed") == args.units
            and final.get("status") == "sold_out"}


def sc_drop(stack, args):
    """args.bursts bursts of args.claims claims, each at a new drop of
    args.units (every one must have exactly K winners); tps, done_ms and the
    client figures are the median burst's (by done_ms): one burst of ~200 ms
    on two shared cores moves by a factor of two with scheduling alone, the
    first one after a (re)start most (PgBouncer's server connections and
    the backends' caches are cold). p50/p99 are over every answer."""
    seller = stack.ids[SELLER]
    n, k = args.claims, args.units
    buyers = list(range(301, 301 + n))
    bursts = [drop_burst(stack, args, seller, buyers) for _ in range(max(1, args.bursts))]
    med = sorted(bursts, key=lambda b: b["done_ms"])[(len(bursts) - 1) // 2]
    lot = med["lot"]
    # pgbench: the same mix of claims, K winning (a drop that cannot sell out
    # in the run) to N - K refused (the stampede's lot, sold out by now)
    lot2 = stack.create_lot({"kind": "drop", "seller": seller, "price": 1, "quantity": 1000000,
                             "title": "bench drop-stampede (pgbench)"})
    pg = run_pgbench_both(stack, [("drop-stampede.sql", k), ("drop-soldout.sql", n - k)], args.concurrency,
                     seconds=args.seconds, defines={
                         "primed": 0, "first": 301, "last": 300 + n, "lot": lot2["id"], "soldlot": lot["id"],
                         "seller": seller, "cost": 1, "qty": 1, "st": "claimed", "release": 0,
                         "kind": "purchase", "memo": f"lot {lot2['id']}", "status": 201,
                         "status_soldout": 409, "fp": "0" * 64, "body": BODY_SAMPLE_TRANSFER})
    sell_out(stack, lot2, buyers[0])
    lat = [a[2] for b in bursts for a in b["answers"]]
    done_ms = med["done_ms"]
    return {"tps": n / (done_ms / 1000) if done_ms else None, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "retries_per_commit": med["tx"]["retries_per_commit"], "pgbench": pg,
            "extra": {"client": args.burst_client, **med["client"],
                      "claims": n, "units": k, "bursts": len(bursts), "done_ms": round(done_ms, 1),
                      "done_ms_all": [round(b["done_ms"], 1) for b in bursts],
                      "winners": med["wins"],
                      # the sell-out chain: the last winner's answer, from the release
                      "last_win_ms": round(med["last_win_ms"], 1),
                      "sold_out": med["sold_out"], "errors": sum(b["errors"] for b in bursts),
                      "exactly_k_won": all(b["wins"] == k and b["lot_ok"] for b in bursts),
                      "lot_claimed": med["final"].get("claimed"), "lot_status": med["final"].get("status"),
                      "tx": med["tx"], "lot": lot["id"]}}


def sc_proof(stack, args):
    stack.seed_entries(PROOF_MIN_ENTRIES)
    entries = int(stack.sql("SELECT count(*) FROM entries"))
    if entries > 2 * PROOF_MIN_ENTRIES:
        log(f"{stack.policy}: the bench ledger has grown to {entries:,} entries (every run adds to it); "
            f"/proof slows with it; bench/run --reset starts over at {PROOF_MIN_ENTRIES:,}")
    warm_ok, warm_ms, _, _ = stack.proof()          # warm-up (not counted)
    m0 = stack.metrics()
    times, oks = [], []
    budget = args.proof_seconds if args.proof_seconds else max(20, 2 * args.seconds)
    t0 = time.perf_counter()
    for i in range(args.proof_requests):
        # a slow /proof is cut short (3 requests at least): the figure is the
        # per-request latency, which a few samples of several seconds show
        if i >= 3 and time.perf_counter() - t0 > budget:
            break
        ok, ms, bad, _ = stack.proof()
        times.append(ms)
        oks.append(ok)
    m1 = stack.metrics()
    pg = run_pgbench_both(stack, "proof.sql", 1, transactions=len(times),
                     defines={"admin": ADMIN_SUB})
    return {"tps": len(times) / (sum(times) / 1000), "p50_ms": pct(times, 50), "p99_ms": pct(times, 99),
            "retries_per_commit": tx_delta(m0, m1, "proof")["retries_per_commit"], "pgbench": pg,
            "invariants_ok": all(oks),
            "extra": {"requests": len(times), "entries": entries, "min_ms": round(min(times), 1),
                      "max_ms": round(max(times), 1), "pgbench_latency_avg_ms": pg["latency_avg_ms"]}}


def sc_memory(stack, args):
    conf = os.path.join(stack.var, "zerosum.conf")
    line = f"max_requests = {MEMORY_MAX_REQUESTS}"
    with open(conf) as f:
        text = f.read()

    def roll(new_text):
        old = set(stack.pool_pids("transfer"))
        with open(conf, "w") as f:
            f.write(new_text)
        stack.stack("restart", "workers")
        deadline = time.time() + 30
        while time.time() < deadline:
            now = stack.pool_pids("transfer")
            if now and not (set(now) & old):
                break
            time.sleep(0.2)
        else:
            raise BenchError("the transfer pool's workers did not roll after SIGHUP")
        stack.wait_healthy()

    roll(text.rstrip("\n") + f"\n# bench/run memory scenario (removed afterwards)\n{line}\n")
    try:
        run_wrk(stack, 60, args.concurrency, 1, N_USERS, limit=2000)      # warm-up
        pids0 = stack.pool_pids("transfer")
        rss0 = {p: stack.rss_kib(p) for p in pids0}
        m0 = stack.metrics()
        w = run_wrk(stack, 3600, args.concurrency, 1, N_USERS, limit=args.memory_requests)
        m1 = stack.metrics()
        pids1 = stack.pool_pids("transfer")
        rss1 = {p: stack.rss_kib(p) for p in pids1}
    finally:
        roll(text)
    dur = w["duration_us"] / 1e6
    same = pids0 == pids1
    growth = {str(p): (rss1.get(p) or 0) - (rss0.get(p) or 0) for p in pids0} if same else None
    return {"tps": w["statuses"].get("201", 0) / dur, "p50_ms": w["latency_us"]["p50"] / 1000,
            "p99_ms": w["latency_us"]["p99"] / 1000,
            "retries_per_commit": tx_delta(m0, m1, "transfer")["retries_per_commit"], "pgbench": None,
            "extra": {"requests": w["requests"], "statuses": w["statuses"], "workers": pids0,
                      "same_workers": same, "rss_start_kib": sum(v or 0 for v in rss0.values()),
                      "rss_end_kib": sum(v or 0 for v in rss1.values()),
                      "rss_start_kib_by_pid": {str(k): v for k, v in rss0.items()},
                      "rss_end_kib_by_pid": {str(k): v for k, v in rss1.items()},
                      "rss_growth_kib_by_pid": growth,
                      "flat": same and growth is not None and all(g <= 1024 for g in growth.values()),
                      "requests_per_worker": w["requests"] / max(1, len(pids0)),
                      "max_requests": MEMORY_MAX_REQUESTS}}


GOALS = {
    "transfer-uniform": "ratio >= 0.5 (per-request), >= 0.75 (per-worker)",
    "transfer-hotspot": "tps >= 0.5 x uniform tps, retries_per_commit <= 0.05",
    "bid-war": "retries_per_commit <= 0.1, p99 <= 100 ms",
    "drop-stampede": "done in <= 300 ms, exactly K winners",
    "proof": "p50 <= 200 ms at >= 1,000,000 entries",
    "memory": "RSS flat over the requests (each worker grows <= 1 MiB)",
    "pending-round": "pending + post >= 0.4 x plain transfers/s, every round succeeded",
    "batch-round": "a batch of 10 >= 2 x the rate of 10 singles, every round succeeded",
    "sse-fanout": "every subscriber gets every event in order, delivery p99 <= 250 ms, "
                  "bids/s watched >= 0.9 x unwatched",
    "webhook-dead": "the live endpoints get every event in order; their delivery p50 and p99 with one "
                    "endpoint dead <= 1.5 x all alive",
    "seal-rate": "the sealer keeps up: records sealed/s >= transfers/s, the backlog gone within 60 s "
                 "of the load's end",
}


def goal_met(row, rows):
    n, x = row["name"], row
    if n == "transfer-uniform":
        return x["ratio"] is not None and x["ratio"] >= (0.5 if x["policy"] == "per-request" else 0.75)
    if n == "transfer-hotspot":
        uni = [r for r in rows if r["name"] == "transfer-uniform" and r["policy"] == x["policy"]]
        rpc = x["retries_per_commit"] or 0
        return bool(uni) and x["tps"] >= 0.5 * uni[0]["tps"] and rpc <= 0.05
    if n == "bid-war":
        return (x["retries_per_commit"] or 0) <= 0.1 and x["p99_ms"] is not None and x["p99_ms"] <= 100
    if n == "drop-stampede":
        return x["done_ms"] <= 300 and x["exactly_k_won"]
    if n == "proof":
        return x["p50_ms"] <= 200 and x["entries"] >= PROOF_MIN_ENTRIES
    if n == "memory":
        return bool(x.get("flat"))
    if n == "pending-round":
        return x["ratio_vs_plain"] is not None and x["ratio_vs_plain"] >= 0.4 and x["failed"] == 0
    if n == "batch-round":
        return x["ratio_vs_singles"] is not None and x["ratio_vs_singles"] >= 2 and x["failed"] == 0
    if n == "sse-fanout":
        return (x["every_event_in_order"] and x["delivery_p99_ms"] is not None and x["delivery_p99_ms"] <= 250
                and x["ratio_vs_plain"] is not None and x["ratio_vs_plain"] >= 0.9)
    if n == "webhook-dead":
        return (x["live_every_event_in_order"] and x["p50_ratio"] is not None and x["p50_ratio"] <= 1.5
                and x["p99_ratio"] is not None and x["p99_ratio"] <= 1.5)
    if n == "seal-rate":
        return x["tps"] >= x["transfer_tps"] and x["drain_s"] is not None
    return None


def run_scenario(stack, args, name):
    la0 = loadavg()
    t0 = time.time()
    if name in ("transfer-uniform", "transfer-hotspot"):
        r = sc_transfer(stack, args, name)
    elif name == "bid-war":
        r = sc_bid_war(stack, args)
    elif name == "drop-stampede":
        r = sc_drop(stack, args)
    elif name == "proof":
        r = sc_proof(stack, args)
    elif name == "pending-round":
        r = sc_pending_round(stack, args)
    elif name == "batch-round":
        r = sc_batch_round(stack, args)
    elif name == "sse-fanout":
        r = sc_sse_fanout(stack, args)
    elif name == "webhook-dead":
        r = sc_webhook_dead(stack, args)
    elif name == "seal-rate":
        r = sc_seal_rate(stack, args)
    else:
        r = sc_memory(stack, args)
    pg = r.pop("pgbench")
    inv = r.pop("invariants_ok", None)
    if name == "proof":
        # the timed requests were /proof themselves, after every write (the
        # pgbench proof script only reads): no need for another
        ok, proof_ms, bad = inv, None, None
    else:
        ok, proof_ms, bad, _ = stack.proof()
    row = {"name": name, "policy": stack.policy, "tps": r3(r["tps"]), "p50_ms": r3(r["p50_ms"]),
           "p99_ms": r3(r["p99_ms"]), "retries_per_commit": r3(r["retries_per_commit"]),
           "pgbench_tps": r3(pg["tps"]) if pg else None,
           "ratio": r3(r["tps"] / pg["tps"]) if pg and pg["tps"] else None,
           "pgbench_direct_tps": r3(pg["direct"]["tps"]) if pg and pg.get("direct") else None,
           "ratio_direct": r3(r["tps"] / pg["direct"]["tps"])
           if pg and pg.get("direct") and pg["direct"]["tps"] else None,
           "invariants_ok": ok and (inv is None or inv)}
    if r.get("ratio") is not None:   # a side-by-side round: its ratio is to its one-step equivalent
        row["ratio"] = r3(r["ratio"])
    row.update(r["extra"])
    if pg:
        row["pgbench"] = pg
    row["proof_after_ms"] = round(proof_ms, 1) if proof_ms is not None else None
    if bad:
        row["proof_failing"] = bad
    row["loadavg_before"] = la0
    row["elapsed_s"] = round(time.time() - t0, 1)
    row["goal"] = GOALS[name]
    return row

