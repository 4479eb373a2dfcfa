"""bench/run's tlog-scale scenario: what the verifiable log (issue 15) costs
at >= 10,000,000 records: producing and signing a checkpoint (the seal's
checkpoint step, the Ed25519 signature timed on its own), GET
/proof/checkpoint, GET /proof/inclusion, and a full `zerosum-verify
--replay` of the log's first ~1,000,000 records against the signed
checkpoint of that size (--size).

A stack of its own (Stack role tlog-large), its history seeded once with
COPY and sealed by the real sealer as it grows (seed.py, as proof-scale's
histories), and kept between runs: one record per transfer, so
TLOG_TRANSFERS transfers + the 10,003 fundings make 10,000,003 records."""
import json
import os
import statistics
import subprocess
import time
import urllib.error
import urllib.request

from ..stack import REPO
from .load import pct, r3
from .proofscale import cli_has, freeze, last_json, seal_all, thaw
from .seed import seed_history
from .stack import N_BENCH, N_USERS, BenchError, Stack, log

TLOG_TRANSFERS = 9_990_000     # + 10,003 fundings: 10,000,003 records (one per transfer)
TLOG_MIN_RECORDS = 10_000_000
REPLAY_RECORDS = 1_000_000     # the replay: the first seal's size at or past this
INCLUSION_GOAL_MS = 20         # GET /proof/inclusion p50 at >= TLOG_MIN_RECORDS
INCLUSIONS = 100               # sealed transfers asked for, spread over the whole log
CHECKPOINT_GETS = 20
SEALS_TIMED = 5                # one-transfer seals whose checkpoint step is timed


def prepare(stack, transfers):
    """Start, set up, seed (once), seal everything: {seed_s, seal_s}."""
    stack.up()
    stack.setup(min_entries=0)
    if not cli_has("seal"):
        raise BenchError("this build has no sealer (scripts/zerosum seal): no log to measure")
    seeded_s = seed_history(stack, transfers, seal=lambda s: seal_all(s, quiet=True))
    seal = seal_all(stack)
    return {"seed_s": round(seeded_s, 1), "seal_s": seal["seconds"]}


def one_transfer(stack, k):
    """POST /transfer of 1 unit between two bench accounts (a fresh key): the status."""
    a, b = 1 + k % N_USERS, 1 + (k + 1) % N_USERS
    st, _, text, _ = stack.call("POST", "/transfer", {"from": stack.ids[a], "to": stack.ids[b],
                                                      "amount": 1}, token=stack.tokens[a],
                                key=f"tlog-scale-{time.time_ns()}-{k}")
    if st != 201:
        raise BenchError(f"{stack.name}: POST /transfer answered {st}: {text[:300]}")


def time_checkpoints(stack):
    """SEALS_TIMED times: one fresh transfer (made while the sealer's lease is
    held, so the jobs child cannot seal it first), then `zerosum seal` on the
    stack's own settings seals it: the sealer's own clock of its checkpoint
    step (checkpoint_us: state commitment, root, seal hash, signature) and of
    the signature alone (sign_us), and the whole one-record seal's wall time."""
    cps, signs, walls, sizes = [], [], [], []
    conf = os.path.join(stack.var, "zerosum.conf")
    for k in range(SEALS_TIMED * 3):
        if len(cps) == SEALS_TIMED:
            break
        freeze(stack, 120)
        one_transfer(stack, k)
        thaw(stack)
        t0 = time.perf_counter()
        p = subprocess.run([stack.bin, "seal", "-c", conf], env=stack.env, capture_output=True,
                           text=True, timeout=600)
        wall = (time.perf_counter() - t0) * 1000
        j = last_json(p.stdout) or {}
        if p.returncode != 0 or "checkpoint_us" not in j:
            raise BenchError(f"{stack.name}: zerosum seal ({p.returncode}): {(p.stderr or p.stdout)[:800]}")
        if j.get("seals") != 1 or j.get("records", 0) < 1:
            continue                       # the jobs child sealed it between thaw and seal: again
        cps.append(j["checkpoint_us"] / 1000)
        signs.append(j["sign_us"] / 1000)
        walls.append(wall)
        sizes.append(j["tree_size"])
    if not cps:
        raise BenchError(f"{stack.name}: no seal of one fresh transfer could be timed")
    return {"checkpoint_ms": r3(statistics.median(cps)), "checkpoint_sign_ms": r3(statistics.median(signs)),
            "seal_ms": r3(statistics.median(walls)), "seals_timed": len(cps),
            "checkpoint_ms_all": [r3(x) for x in cps], "checkpoint_sign_ms_all": [r3(x) for x in signs],
            "seal_tree_sizes": sizes}


def get_ms(base, path):
    """GET base+path anonymously: (status, ms)."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=60) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, (time.perf_counter() - t0) * 1000


def time_reads(stack, size):
    """GET /proof/checkpoint (CHECKPOINT_GETS) and GET /proof/inclusion?transfer=
    for INCLUSIONS sealed transfers spread evenly over the log's positions,
    anonymous, paced under nginx's /proof rate limit."""
    base = f"http://127.0.0.1:{stack.port}"
    step = max(1, size // INCLUSIONS)
    ids = (stack.sql(f"SELECT string_agg(id::text, ',' ORDER BY sealed) FROM transfers"
                     f" WHERE sealed IS NOT NULL AND sealed % {step} = 0") or "").split(",")
    inc, bad = [], 0
    for tid in [i for i in ids if i][:INCLUSIONS]:
        st, ms = get_ms(base, f"/proof/inclusion?transfer={tid}")
        if st == 200:
            inc.append(ms)
        else:
            bad += 1
        time.sleep(0.03)
    cps, cp_bad = [], 0
    for _ in range(CHECKPOINT_GETS):
        st, ms = get_ms(base, "/proof/checkpoint")
        if st == 200:
            cps.append(ms)
        else:
            cp_bad += 1
        time.sleep(0.03)
    return {"checkpoint_get_p50_ms": r3(pct(cps, 50)) if cps else None,
            "checkpoint_get_p99_ms": r3(pct(cps, 99)) if cps else None, "checkpoint_gets": len(cps),
            "checkpoint_get_errors": cp_bad,
            "inclusion_p50_ms": r3(pct(inc, 50)) if inc else None,
            "inclusion_p99_ms": r3(pct(inc, 99)) if inc else None, "inclusions": len(inc),
            "inclusion_errors": bad}


def time_replay(stack, want=REPLAY_RECORDS):
    """`zerosum-verify URL --replay --no-pin --size N`, N the first seal's tree
    size at or past `want`: every record of [0, N) downloaded, hashed into the
    tree and folded into the state, against the checkpoint signed at N."""
    verify = os.path.join(REPO, "build", "zerosum-verify")
    if not os.access(verify, os.X_OK):
        raise BenchError(f"{verify} not found; build it first (make)")
    # a size the log signed a checkpoint at (a history sealed before the
    # sealer signed checkpoints has seals without one)
    n = int(stack.sql(f"SELECT coalesce(min(tree_size), 0) FROM seals WHERE tree_size >= {want}"
                      " AND checkpoint IS NOT NULL") or 0)
    if n == 0:
        n = int(stack.sql("SELECT coalesce(max(tree_size), 0) FROM seals WHERE checkpoint IS NOT NULL") or 0)
    t0 = time.perf_counter()
    p = subprocess.Popen([verify, f"http://127.0.0.1:{stack.port}", "--replay", "--no-pin",
                          "--size", str(n)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t0
    verdict = last_json(out) or {}
    return {"replay_records": n, "replay_s": round(secs, 1), "replay_rss_mb": round(ru.ru_maxrss / 1024, 1),
            "replay_ok": p.returncode == 0 and verdict.get("ok") is True,
            "replay_failed": verdict.get("failed")}


def run_tlog_scale(args, policy):
    """The scenario; returns the tlog object of latest.json."""
    t_start = time.time()
    stack = Stack(policy, args, role="tlog-large")
    log(f"{stack.name}: bench stack {stack.var} (http://127.0.0.1:{stack.port}/)")
    prep = prepare(stack, args.tlog_transfers or TLOG_TRANSFERS)
    log(f"{stack.name}: the checkpoint step of {SEALS_TIMED} one-transfer seals")
    seals = time_checkpoints(stack)
    freeze(stack)                          # nothing sealed while reading: one tree size
    try:
        records = int(stack.sql("SELECT coalesce(max(tree_size), 0) FROM seals"))
        log(f"{stack.name}: {CHECKPOINT_GETS} checkpoints, {INCLUSIONS} inclusion proofs at {records:,} records")
        reads = time_reads(stack, records)
        log(f"{stack.name}: zerosum-verify --replay of the first ~{REPLAY_RECORDS:,} records (--size)")
        replay = time_replay(stack)
    finally:
        thaw(stack)
    out = {"policy": policy, "records": records, "transfers": records - N_BENCH}
    out.update(seals)
    out.update(reads)
    out.update(replay)
    out["goals"] = {"records": f">= {TLOG_MIN_RECORDS:,} records in the log",
                    "inclusion_p50_ms": f"<= {INCLUSION_GOAL_MS} ms at >= {TLOG_MIN_RECORDS:,} records",
                    "replay": f"zerosum-verify --replay of >= {REPLAY_RECORDS:,} records verifies"}
    met = {"records": records >= TLOG_MIN_RECORDS,
           "inclusion_p50_ms": records >= TLOG_MIN_RECORDS and out["inclusion_p50_ms"] is not None
           and out["inclusion_p50_ms"] <= INCLUSION_GOAL_MS and out["inclusion_errors"] == 0,
           "replay": out["replay_ok"] and out["replay_records"] >= REPLAY_RECORDS}
    met["all"] = all(met.values())
    out["met"] = met
    out.update({"seed_s": prep["seed_s"], "seal_s": prep["seal_s"],
                "elapsed_s": round(time.time() - t_start, 1)})
    log(f"{stack.name}: {json.dumps(out)}")
    return out
