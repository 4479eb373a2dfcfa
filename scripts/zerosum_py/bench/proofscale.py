"""bench/run's proof-scale scenario: /proof's latency at a small and at a
large sealed history, side by side in one run; one full re-verification
pass at the large size; and what a running full pass costs the writers.

Two stacks of their own (Stack roles proof-small and proof-large), seeded
once with COPY (seed.py) and kept. Before measuring, each is sealed by the
real sealer (`scripts/zerosum seal`), the sealer's lease is taken so nothing
more is sealed, and FRESH transfers are made over HTTP: both stacks then
have the same small unsealed backlog in front of the same kind of sealed
history, and differ only in the history's size."""
import json
import os
import subprocess
import threading
import time
import uuid

from ..stack import REPO
from .load import pct, r3, run_wrk
from .seed import seed_history
from .stack import N_USERS, BenchError, Stack, log

SMALL_TRANSFERS = 70_000       # + 10,003 fundings: ~160,000 entries (<= 200,000)
LARGE_TRANSFERS = 5_000_000    # + 10,003 fundings: ~10,020,000 entries (>= 10,000,000)
SMALL_MAX_ENTRIES = 200_000
LARGE_MIN_ENTRIES = 10_000_000
BACKLOG = 1000                 # fresh, unsealed transfers on each stack before timing
SEAL_BATCH_ROWS = 100_000      # rows per seal for the bulk catch-up (the most the setting takes)
SEAL_RETRY_S = 900             # how long a bulk seal retries behind the jobs child's own seals
FREEZER = "bench-freeze"       # the sealer lease's owner while the backlog must stay unsealed
GOALS = {"p50_ms_at_10m": 50, "p50_vs_200k": 1.5, "full_audit_s": 30, "writer_ratio": 0.9}


def zerosum_cli(stack, *args, timeout=7200, extra_env=None):
    """scripts/zerosum on the stack: (exit status, stdout, stderr, seconds)."""
    env = dict(stack.env, **(extra_env or {}))
    t0 = time.perf_counter()
    p = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), *args], env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


def cli_has(command):
    """Whether scripts/zerosum offers a command (its usage lists it)."""
    p = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), "help"], capture_output=True, text=True)
    return any(line.split()[:1] == [command] for line in (p.stdout + p.stderr).splitlines()
               if line.startswith("  ") and not line.startswith("   "))


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        try:
            j = json.loads(line)
            if isinstance(j, dict):
                return j
        except ValueError:
            continue
    return None


def freeze(stack, seconds=7200):
    """Take the sealer's lease (waits while the stack's own sealer holds it)."""
    stack.sql("INSERT INTO leases (name) VALUES ('sealer') ON CONFLICT (name) DO NOTHING")
    deadline = time.time() + 120
    while True:
        n = stack.sql(f"""WITH u AS (UPDATE leases SET owner = '{FREEZER}',
                                    expires = clock_timestamp() + make_interval(secs => {seconds})
                          WHERE name = 'sealer' AND (owner IS NULL OR owner = '{FREEZER}'
                                OR expires < clock_timestamp()) RETURNING 1)
                          SELECT count(*) FROM u""")
        if n == "1":
            return
        if time.time() > deadline:
            raise BenchError(f"{stack.name}: the sealer's lease stayed taken for 120 s")
        time.sleep(0.1)


def thaw(stack):
    stack.sql(f"UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'sealer' AND owner = '{FREEZER}'")


def seal_state(stack):
    """The stack's latest seal and its unsealed rows (transfers, entries)."""
    row = stack.sql("SELECT coalesce(max(seal_no), 0), coalesce(max(tree_size), 0) FROM seals")
    seal_no, tree_size = (int(x) for x in row.split("|"))
    ut = int(stack.sql("SELECT count(*) FROM transfers WHERE sealed IS NULL"))
    ue = int(stack.sql("SELECT count(*) FROM entries WHERE sealed IS NULL"))
    return {"seal_no": seal_no, "tree_size": tree_size, "unsealed_transfers": ut, "unsealed_entries": ue}


def seal_all(stack, quiet=False):
    """Seal everything sealable with the real sealer, in big batches."""
    thaw(stack)
    if not cli_has("seal"):
        log(f"{stack.name}: this build has no sealer (scripts/zerosum seal): the history stays unsealed")
        return {"seconds": None, "result": None, "unavailable": True}
    before = seal_state(stack) if not quiet else None
    if not quiet:
        log(f"{stack.name}: sealing ({before['unsealed_transfers']:,} unsealed transfers, "
        f"seal_batch_rows {SEAL_BATCH_ROWS:,}) with zerosum seal")
    # the stack's own settings with a bigger seal: `zerosum seal -c` on a copy
    # (scripts/zerosum seal runs the same command on the stack's file)
    with open(os.path.join(stack.var, "zerosum.conf")) as f:
        conf = [ln for ln in f if not ln.lstrip().startswith("seal_batch_rows")]
    path = os.path.join(stack.var, "bench", "seal.conf")
    with open(path + ".tmp", "w") as f:
        f.writelines(conf)
        f.write(f"\n# bench/run proof-scale: the bulk catch-up seals big batches\n"
                f"seal_batch_rows = {SEAL_BATCH_ROWS}\n")
    os.replace(path + ".tmp", path)
    t0 = time.perf_counter()
    while True:
        # exit 1 is also a statement timeout behind the jobs child's own seal
        # (it holds the lease row for its whole transaction, and on a loaded
        # machine one of its seals has taken over 20 s): try again, for as
        # long as SEAL_RETRY_S, not a fixed number of times
        p = subprocess.run([stack.bin, "seal", "-c", path], env=stack.env, capture_output=True,
                           text=True, timeout=7200)
        if p.returncode != 1 or time.perf_counter() - t0 > SEAL_RETRY_S:
            break
        log(f"{stack.name}: zerosum seal exit 1 ({p.stderr.strip().splitlines()[-1:]}), again")
        time.sleep(2)
    rc, out, err, secs = p.returncode, p.stdout, p.stderr, time.perf_counter() - t0
    if rc != 0:
        raise BenchError(f"{stack.name}: scripts/zerosum seal failed ({rc}): {(err or out).strip()[:1500]}")
    j = last_json(out) or {}
    if not quiet:
        log(f"{stack.name}: sealed in {secs:.1f} s: {j}")
    if j.get("blocked"):
        raise BenchError(f"{stack.name}: the sealer stopped at a failing check: {j['blocked']}")
    return {"seconds": round(secs, 1), "result": j}


def prepare(stack, transfers, args):
    """Start, set up, seed (once), seal."""
    stack.up()
    stack.setup(min_entries=0)
    sealer = cli_has("seal")
    seeded_s = seed_history(stack, transfers, seal=(lambda s: seal_all(s, quiet=True)) if sealer else None)
    seal = seal_all(stack)
    return {"seed_s": round(seeded_s, 1), "seal": seal}


def add_backlog(stack, args):
    """Freeze the sealer and add the backlog: on every stack only once all are
    prepared, right before timing (a backlog made before the other stack's
    first seeding, which takes an hour, would be that old when /proof is timed,
    and sealer_keeps_up would rightly fail it)."""
    freeze(stack)
    w = run_wrk(stack, 120, args.concurrency, 1, N_USERS, limit=BACKLOG)
    made = w["statuses"].get("201", 0)
    if made < BACKLOG:
        raise BenchError(f"{stack.name}: only {made} of the {BACKLOG} backlog transfers were made: {w['statuses']}")


def time_proofs(stacks, requests, budget_s):
    """GET /proof (computed: admin token) on each stack in turn, interleaved, so
    both see the same machine; returns {name: [ms...]} and {name: all consistent}.

    Quiet: a full pass the stacks' jobs children start on schedule would
    overlap the timed requests (writer_ratio measures what a pass costs), so
    each stack first finishes any queued or running pass, and the bench holds
    the full_audit lease (owner PASS_HOLDER) until the timing ends: a pass
    queued meanwhile waits for it."""
    holder, held = "bench-proof-timing", []

    def take_pass_lease(s, deadline):
        s.sql("INSERT INTO leases (name) VALUES ('full_audit') ON CONFLICT (name) DO NOTHING")
        t0 = time.time()
        while True:
            n = s.sql(f"""WITH u AS (UPDATE leases SET owner = '{holder}',
                                    expires = clock_timestamp() + interval '2 hours'
                          WHERE name = 'full_audit' AND (owner IS NULL OR owner = '{holder}'
                                OR expires < clock_timestamp())
                            AND NOT EXISTS (SELECT 1 FROM full_audits
                                            WHERE status IN ('queued', 'running')) RETURNING 1)
                          SELECT count(*) FROM u""")
            if n == "1":
                time.sleep(2)          # a pass the jobs child queued just then: let it run first
                if s.sql("SELECT count(*) FROM full_audits WHERE status IN ('queued', 'running')") == "0":
                    held.append(s)
                    log(f"{s.name}: no full pass running; the full_audit lease is held while timing "
                        f"(waited {time.time() - t0:.0f} s)")
                    return
                s.sql(f"UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'full_audit' "
                      f"AND owner = '{holder}'")
            if time.time() > deadline:
                raise BenchError(f"{s.name}: a full pass was still queued or running after "
                                 f"{time.time() - t0:.0f} s; /proof was not timed")
            time.sleep(1)

    try:
        for s in stacks:
            take_pass_lease(s, time.time() + 1800)
        for s in stacks:
            for _ in range(2):
                s.proof()                      # warm-up (not counted)
        times = {s.name: [] for s in stacks}
        oks = {s.name: True for s in stacks}
        fails = {s.name: set() for s in stacks}
        t0 = time.perf_counter()
        for i in range(requests):
            if i >= 5 and time.perf_counter() - t0 > budget_s:
                break
            for s in stacks:
                ok, ms, bad, _ = s.proof()
                times[s.name].append(ms)
                oks[s.name] = oks[s.name] and ok
                fails[s.name].update(b for b in bad if b)
    finally:
        for s in held:
            s.sql(f"UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'full_audit' "
                  f"AND owner = '{holder}'")
    return times, oks, fails


PASS_NICE = 19                 # the jobs child's full_audit_nice: a background pass's priority


def full_pass(stack, nice=0):
    """One full re-verification pass, in the foreground: (seconds, exit, verdict).

    nice: run `zerosum audit` at this CPU niceness, as the jobs child runs a
    background pass (full_audit_nice): its own postgres backends then take
    the same priority. seconds: the pass's own run, from its full_audits row
    (started_at, once it holds the full_audit lease, to finished_at), so a
    wait for a pass the jobs child was running is not counted; the command's
    wall time is in the verdict as wall_s."""
    if nice:
        t0 = time.perf_counter()
        p = subprocess.run(["nice", "-n", str(nice), os.path.join(REPO, "scripts", "zerosum"), "audit"],
                           env=stack.env, capture_output=True, text=True, timeout=7200)
        rc, out, err, secs = p.returncode, p.stdout, p.stderr, time.perf_counter() - t0
    else:
        rc, out, err, secs = zerosum_cli(stack, "audit")
    j = last_json(out)
    if j is None:
        raise BenchError(f"{stack.name}: scripts/zerosum audit gave no verdict ({rc}): {(err or out).strip()[:1500]}")
    j["wall_s"] = round(secs, 3)
    aid = str(j.get("id") or "")
    if len(aid) == 36 and all(c in "0123456789abcdef-" for c in aid):
        run = stack.sql(f"SELECT extract(epoch FROM finished_at - started_at) FROM full_audits WHERE id = '{aid}'")
        if run:
            secs = float(run)
    return secs, rc, j


def unnice(stack):
    """Give the running pass (the jobs child's or a niced `zerosum audit`) and its postgres backends
    (the stack's only postgres processes at PASS_NICE) normal priority again."""
    try:
        with open(os.path.join(stack.var, "pg", "postmaster.pid")) as f:
            postmaster = f.readline().strip()
    except OSError:
        return
    p = subprocess.run(["ps", "-eo", "pid=,ppid=,ni=,args="], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        f = line.split(None, 3)
        # the pass's backends, and the pass itself (the jobs child's pass
        # process, or a niced `zerosum audit`): the stack's only processes at PASS_NICE
        if len(f) == 4 and f[2] == str(PASS_NICE) and (f[1] == postmaster or stack.var in f[3]):
            subprocess.run(["renice", "-n", "0", "-p", f[0]], capture_output=True)


def background_pass(stack, timeout=7200):
    """One pass run by the stack's jobs child, as its scheduled passes run (at
    full_audit_nice, its backends too, paced as a background pass): queued
    with POST /proof/audits, then waited for through its full_audits row. The
    jobs child is the only one that runs it, so no lease is raced for.
    {seconds (started_at -> finished_at), status, id}."""
    status, j, text, _ = stack.call("POST", "/proof/audits", {}, stack.admin_token(), str(uuid.uuid4()))
    if status != 202 or not (j or {}).get("audit", {}).get("id"):
        raise BenchError(f"{stack.name}: POST /proof/audits: {status} {text[:300]}")
    aid = j["audit"]["id"]
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        row = stack.sql(f"SELECT status, extract(epoch FROM finished_at - started_at) FROM full_audits "
                        f"WHERE id = '{aid}'")
        st, _, secs = (row or "").partition("|")
        if st in ("passed", "failed"):
            return {"seconds": round(float(secs or 0), 2), "status": st, "id": aid}
        time.sleep(0.5)
    raise BenchError(f"{stack.name}: the pass {aid} did not finish in {timeout} s")


def writer_ratio(stack, args):
    """transfer-uniform tps while full passes run back to back, over the
    mean of the same load just before and just after without one."""
    seconds = args.seconds
    runs = {}

    def wrk():
        w = run_wrk(stack, seconds, args.concurrency, 1, N_USERS)
        return w["statuses"].get("201", 0) / (w["duration_us"] / 1e6)

    runs["without_before"] = wrk()
    stop = threading.Event()
    passes = []

    def passes_loop():
        while not stop.is_set():
            try:
                passes.append(background_pass(stack))
            except BenchError as e:
                passes.append({"error": str(e)[:300]})
                return

    th = threading.Thread(target=passes_loop, daemon=True)
    th.start()
    time.sleep(0.5)                        # the pass has begun reading
    runs["with"] = wrk()
    stop.set()
    while th.is_alive():                   # the window is over: let the pass finish at full speed
        unnice(stack)
        th.join(2)
    runs["without_after"] = wrk()
    base = (runs["without_before"] + runs["without_after"]) / 2
    return (runs["with"] / base if base else None), {k: r3(v) for k, v in runs.items()}, passes


def entries_count(stack):
    return int(stack.sql("SELECT count(*) FROM entries"))


def run_proof_scale(args, policy):
    """The scenario; returns the proof_scale object of latest.json."""
    t_start = time.time()
    small = Stack(policy, args, role="proof-small")
    large = Stack(policy, args, role="proof-large")
    prep = {}
    for s, n in ((small, SMALL_TRANSFERS), (large, args.proof_large_transfers or LARGE_TRANSFERS)):
        log(f"{s.name}: bench stack {s.var} (http://127.0.0.1:{s.port}/)")
        prep[s.name] = prepare(s, n, args)
    for s in (small, large):
        add_backlog(s, args)
    sizes = []
    try:
        state = {s.name: dict(seal_state(s), entries=entries_count(s)) for s in (small, large)}
        budget = args.proof_seconds if args.proof_seconds else max(20, 2 * args.seconds)
        times, oks, fails = time_proofs([small, large], args.proof_requests, budget)
        for s in (small, large):
            t = times[s.name]
            sizes.append({"stack": s.name, "entries": state[s.name]["entries"], "p50_ms": r3(pct(t, 50)),
                          "p99_ms": r3(pct(t, 99)), "min_ms": r3(min(t)), "max_ms": r3(max(t)),
                          "requests": len(t), "consistent": oks[s.name],
                          "failing": sorted(fails[s.name]) or None,
                          "seal_no": state[s.name]["seal_no"], "tree_size": state[s.name]["tree_size"],
                          "unsealed_transfers": state[s.name]["unsealed_transfers"],
                          "unsealed_entries": state[s.name]["unsealed_entries"],
                          "seed_s": prep[s.name]["seed_s"], "seal_s": prep[s.name]["seal"]["seconds"]})
            log(f"{s.name}: /proof p50 {sizes[-1]['p50_ms']} ms at {sizes[-1]['entries']:,} entries "
                f"({len(t)} requests, consistent {oks[s.name]})")
    finally:
        for s in (small, large):
            thaw(s)
    audit_s = audit_rc = verdict = ratio = None
    runs, passes = {}, []
    if cli_has("audit"):
        log(f"{large.name}: one full pass (scripts/zerosum audit)")
        audit_s, audit_rc, verdict = full_pass(large)
        log(f"{large.name}: full pass {audit_s:.1f} s, exit {audit_rc}: {json.dumps(verdict)[:300]}")
        log(f"{large.name}: writer_ratio: transfer-uniform {args.seconds} s without, with, without a full pass")
        ratio, runs, passes = writer_ratio(large, args)
        log(f"{large.name}: writer_ratio {ratio and round(ratio, 3)} ({runs}; passes {passes})")
    else:
        log("this build has no full pass (scripts/zerosum audit): full_audit_s and writer_ratio not measured")
    big = max(sizes, key=lambda z: z["entries"])
    low = min(sizes, key=lambda z: z["entries"])
    met = {"p50_ms_at_10m": big["entries"] >= LARGE_MIN_ENTRIES and big["p50_ms"] <= GOALS["p50_ms_at_10m"],
           "p50_vs_200k": low["entries"] <= SMALL_MAX_ENTRIES
           and big["p50_ms"] <= GOALS["p50_vs_200k"] * low["p50_ms"],
           "full_audit_s": audit_rc == 0 and audit_s is not None and audit_s <= GOALS["full_audit_s"],
           "writer_ratio": ratio is not None and ratio >= GOALS["writer_ratio"]}
    met["all"] = all(met.values())
    return {"policy": policy, "sizes": sizes, "full_audit_s": r3(audit_s),
            "full_audit": {"exit": audit_rc, "verdict": verdict}, "writer_ratio": r3(ratio),
            "writer": {"tps": runs, "seconds": args.seconds, "concurrency": args.concurrency,
                       "passes": passes},
            "goals": {"p50_ms_at_10m": f"<= {GOALS['p50_ms_at_10m']} ms at >= {LARGE_MIN_ENTRIES:,} entries",
                      "p50_vs_200k": f"<= {GOALS['p50_vs_200k']} x the p50 at <= {SMALL_MAX_ENTRIES:,} entries",
                      "full_audit_s": f"<= {GOALS['full_audit_s']} s, passed",
                      "writer_ratio": f">= {GOALS['writer_ratio']}"},
            "met": met, "invariants_ok": all(z["consistent"] for z in sizes),
            "elapsed_s": round(time.time() - t_start, 1)}
