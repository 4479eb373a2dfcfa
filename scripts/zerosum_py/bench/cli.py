"""bench/run — zerosum's benchmark: every scenario against PostgreSQL's own
ceiling (pgbench running the very same statements), for both connection
policies, on a bench stack of its own.

usage: bench/run [--seconds N] [--policy per-request|per-worker|both]
                 [--scenarios a,b,...] [--concurrency C] [--bidders N]
                 [--claims N] [--units K] [--proof-requests N]
                 [--memory-requests N] [--out FILE] [--stop]

Scenarios, run one after another (default: all):
  transfer-uniform  POST /transfer between random pairs of 10,000 funded accounts (wrk)
  transfer-hotspot  POST /transfer between the same two accounts, both directions (wrk)
  bid-war           --bidders (300) bidders, ascending amounts, one English lot (threaded client)
  drop-stampede     --claims (200) claims released together on a --units (10) unit drop
                    (from build/zerosum-burst; --burst-client python: from threads),
                    --bursts (5) times, each at a new drop: the median burst counts
  proof             GET /proof latency, sequential, with >= 1,000,000 ledger entries
  memory            transfer workers' VmRSS before/after --memory-requests (100,000) transfers
  pending-round     a pending transfer + its post against a plain transfer, side by side
  batch-round       a linked batch of 10 against 10 single transfers, side by side
  sse-fanout        the bid war's load with --subscribers (1,000) EventSource subscribers on
                    its lot's channel, side by side with the same load unwatched; after a
                    warm-up, --fanout-rounds (3) rounds, the median one counting
  webhook-dead      --webhook-endpoints (10) webhook receivers under --webhook-rate (20)
                    transfers/s, all alive and then one dead, side by side
  seal-rate         records sealed/s by the stack's own sealer while transfer-uniform runs,
                    the unsealed backlog, GET /proof p50 meanwhile
  proof-scale       GET /proof p50 at ~160,000 and >= 10,000,000 sealed entries side by side,
                    one full pass at the large size, writer throughput during a full pass
                    (two stacks of its own, run once whatever --policy: per-worker unless
                    --policy per-request; the first run seeds 10M entries: minutes)
  tlog-scale        the verifiable log at >= 10,000,000 records: a checkpoint produced and
                    signed, GET /proof/checkpoint, GET /proof/inclusion p50, and
                    zerosum-verify --replay of the first 1,000,000 records (a stack of its
                    own, seeded once: the first run takes hours)

Each policy gets its own stack, started if it is not up and left running
(--stop stops them): ZS_VAR=var/bench-<policy>, nginx on 18900/18901,
PostgreSQL 15900/15901, PgBouncer 16900/16901, ZS_BIN=build/zerosum (the
optimised build; ZS_BIN overrides). A stack whose supervisor runs an older
binary than ZS_BIN is restarted. The setup (10,003 funded accounts, the
1,000,000-entry ledger) is written once into the stack's database and reused.
proof-scale's two stacks are var/bench-proof-small and var/bench-proof-large
(nginx 18902/18903, sockets 15902/15903 and 16902/16903), tlog-scale's is
var/bench-tlog-large (18904, 15904, 16904); --ports moves all.

Output: a table on stdout and var/bench/latest.json (also a timestamped copy);
--out FILE writes elsewhere. bench/README.md explains every figure.
Needs: wrk, pgbench, psql (scripts/stack install); Python stdlib only.
"""
import argparse
import datetime
import json
import os
import subprocess
import time

from ..stack import REPO
from . import sqlgen
from .report import fmt, machine, markdown, proof_scale_table, table, tlog_table
from .proofscale import run_proof_scale
from .tlogscale import run_tlog_scale
from .scenarios import SCENARIOS, goal_met, run_scenario
from .stack import N_USERS, POLICIES, BenchError, Stack, bench_pools, log

ALL_SCENARIOS = SCENARIOS + ("proof-scale", "tlog-scale")
PROOF_ROLES = ("proof-small", "proof-large")
TLOG_ROLE = "tlog-large"


def main():
    ap = argparse.ArgumentParser(description="zerosum benchmark (see bench/README.md)",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "20")),
                    help="duration of each timed run, HTTP and pgbench alike (default 20)")
    ap.add_argument("--policy", default="both", choices=POLICIES + ("both",))
    ap.add_argument("--scenarios", default=",".join(ALL_SCENARIOS),
                    help="comma-separated subset of: " + ", ".join(ALL_SCENARIOS))
    ap.add_argument("--concurrency", type=int, default=16,
                    help="HTTP connections in flight and pgbench clients (default 16)")
    ap.add_argument("--bidders", type=int, default=300)
    ap.add_argument("--subscribers", type=int, default=1000,
                    help="sse-fanout: EventSource subscribers on the watched lot (default 1,000)")
    ap.add_argument("--fanout-rounds", type=int, default=3,
                    help="sse-fanout: rounds of unwatched, watched, unwatched; the median ratio counts"
                         " (default 3)")
    ap.add_argument("--sse-procs", type=int, default=2,
                    help="sse-fanout: processes the subscribers are spread over (default 2; python client)")
    ap.add_argument("--sse-client", choices=("c", "python"), default="c",
                    help="sse-fanout: the subscribers' client: build/zerosum-subscribe (c, default)"
                         " or Python processes (python)")
    ap.add_argument("--webhook-endpoints", type=int, default=10,
                    help="webhook-dead: loopback endpoints registered with [\"*\"] (default 10)")
    ap.add_argument("--webhook-rate", type=int, default=20,
                    help="webhook-dead: transfers per second of its paced load (default 20)")
    ap.add_argument("--webhook-drain-s", type=int, default=60,
                    help="webhook-dead: how long the live endpoints may take to catch up (default 60)")
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--units", type=int, default=10)
    ap.add_argument("--bursts", type=int, default=5,
                    help="drop-stampede: bursts, each at a new drop; tps from the median burst (default 5)")
    ap.add_argument("--burst-client", default="c", choices=("c", "python"),
                    help="drop-stampede's client: build/zerosum-burst, one epoll loop in C (default), "
                         "or one Python thread per claim released by a barrier")
    ap.add_argument("--proof-requests", type=int, default=20,
                    help="sequential GET /proof requests (default 20)")
    ap.add_argument("--proof-seconds", type=int, default=0,
                    help="stop the proof requests after this long, 3 at least "
                         "(default max(20, 2 x --seconds))")
    ap.add_argument("--memory-requests", type=int, default=100_000,
                    help="transfers sent while the transfer workers' RSS is watched (default 100,000)")
    ap.add_argument("--proof-large-transfers", type=int, default=0, metavar="N",
                    help="proof-scale: transfers in the large history (default 5,000,000: "
                         "~10,020,000 entries); the stack keeps what it has if it has more")
    ap.add_argument("--tlog-transfers", type=int, default=0, metavar="N",
                    help="tlog-scale: transfers in its history (default 9,990,000: 10,000,003 "
                         "records); the stack keeps what it has if it has more")
    ap.add_argument("--seal-rate", type=int, default=0, metavar="N",
                    help="seal-rate: pace the transfers at N a second (default 0: wrk, unpaced)")
    ap.add_argument("--out", default=os.path.join(REPO, "var", "bench", "latest.json"))
    ap.add_argument("--ports", default="18900,15900,16900", metavar="HTTP,PG,PGB",
                    type=lambda v: tuple(int(x) for x in v.split(",")),
                    help="the per-request stack's nginx, PostgreSQL and PgBouncer ports; the "
                         "per-worker stack's are each one more (default 18900,15900,16900)")
    ap.add_argument("--min-entries", type=int, default=None, metavar="N",
                    help="entries the ledger is seeded to when a bench stack is set up (default "
                         "1,000,000, what the proof scenario needs; 0 seeds nothing, for a quick "
                         "run of the other scenarios)")
    ap.add_argument("--var-suffix", default="", metavar="S",
                    help="the stacks live in var/bench-<policy>S (default: no suffix)")
    ap.add_argument("--stop", action="store_true", help="stop the bench stacks and exit")
    ap.add_argument("--markdown", metavar="JSON",
                    help="print a result file (e.g. var/bench/latest.json) as bench/README.md's table and exit")
    ap.add_argument("--reset", action="store_true",
                    help="delete the bench stacks first (var/bench-<policy>) and start afresh")
    args = ap.parse_args()

    policies = POLICIES if args.policy == "both" else (args.policy,)
    if args.markdown:
        with open(args.markdown) as f:
            print(markdown(json.load(f)))
        return 0
    if args.stop:
        for p in policies:
            Stack(p, args).stop()
            log(f"{p}: bench stack stopped")
        for role in PROOF_ROLES + (TLOG_ROLE,):
            Stack(proof_policy(args), args, role=role).stop()
        return 0
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in ALL_SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}")
    if args.subscribers < 1 or args.sse_procs < 1 or args.webhook_endpoints < 2 or args.webhook_rate < 1:
        ap.error("--subscribers, --sse-procs, --webhook-rate must be >= 1; --webhook-endpoints >= 2")
    if args.seconds < 1 or args.concurrency < 1 or args.bidders < 2 or not (1 <= args.units <= args.claims):
        ap.error("--seconds, --concurrency must be >= 1; --bidders >= 2; 1 <= --units <= --claims")
    if args.claims > N_USERS - 300 or args.bidders > N_USERS:
        ap.error(f"--claims at most {N_USERS - 300} (buyers are bench accounts 301..), --bidders at most {N_USERS}")
    for tool in ("wrk", "pgbench", "psql"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            ap.error(f"{tool} not found; run: scripts/stack install (or apt-get install -y wrk postgresql-client-15)")

    binary = os.path.realpath(os.environ.get("ZS_BIN") or os.path.join(REPO, "build", "zerosum"))
    try:
        for path in sqlgen.scripts_for(binary).values():
            log(f"pgbench script {os.path.relpath(path, REPO)} (from bench/sql, bench/sqlgen)")
    except (OSError, sqlgen.TemplateError) as e:
        ap.error(f"the pgbench scripts cannot be generated from bench/sql/*.pgb: {e}")

    t_start = time.time()
    result = {"machine": machine(),
              "config": {"seconds": args.seconds, "concurrency": args.concurrency,
                         "policies": list(policies), "scenarios": scenarios, "bidders": args.bidders,
                         "claims": args.claims, "units": args.units, "burst_client": args.burst_client,
                         "proof_requests": args.proof_requests, "memory_requests": args.memory_requests,
                         "pools": os.environ.get("ZS_POOLS") or bench_pools(args.concurrency),
                         "binary": os.path.realpath(os.environ.get("ZS_BIN") or
                                                    os.path.join(REPO, "build", "zerosum")),
                         "git": subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                               capture_output=True, text=True).stdout.strip(),
                         "pgbench": "through PgBouncer (transaction pooling) as zerosum_app, "
                                    "-M simple, persistent connections, same concurrency and duration",
                         "pgbench_direct": "straight to PostgreSQL as zerosum_app, -M prepared, each "
                                           "round trip a pipeline (a \\gset statement just after it), "
                                           "same statements, concurrency and duration",
                         "http": "wrk 4 (transfers, memory), build/zerosum-burst (drop-stampede; "
                                 "--burst-client python: threads), bench/run's threaded client "
                                 "(bid-war, proof); keep-alive connections to nginx"},
              "scenarios": []}
    rows = result["scenarios"]
    failed = []
    per_policy = [n for n in scenarios if n in SCENARIOS]
    for p in policies if per_policy else ():
        stack = Stack(p, args)
        if args.reset:
            log(f"{p}: --reset: deleting {stack.var}")
            stack.reset()
        log(f"{p}: bench stack {stack.var} (http://127.0.0.1:{stack.port}/)")
        stack.up()
        if args.min_entries is None:
            stack.setup()
        else:
            stack.setup(args.min_entries)
        for name in per_policy:
            log(f"{p}: {name} ...")
            try:
                row = run_scenario(stack, args, name)
            except BenchError as e:
                log(f"{p}: {name} FAILED: {e}")
                failed.append(f"{p}/{name}")
                rows.append({"name": name, "policy": p, "tps": None, "p50_ms": None, "p99_ms": None,
                             "retries_per_commit": None, "pgbench_tps": None, "ratio": None,
                             "invariants_ok": None, "error": str(e)[:2000]})
                continue
            rows.append(row)
            log(f"{p}: {name}: tps {fmt(row['tps'])}, p50 {fmt(row['p50_ms'], 2)} ms, "
                f"p99 {fmt(row['p99_ms'], 2)} ms, pgbench {fmt(row['pgbench_tps'])}, "
                f"ratio {fmt(row['ratio'], 2)}, pgbench direct {fmt(row.get('pgbench_direct_tps'))}, "
                f"ratio_direct {fmt(row.get('ratio_direct'), 2)}, invariants {fmt(row['invariants_ok'])} "
                f"({row['elapsed_s']} s)")
    for r in rows:
        if r.get("tps") is not None:
            r["goal_met"] = goal_met(r, rows)
    for name, roles, run_fn, key in (("proof-scale", PROOF_ROLES, run_proof_scale, "proof_scale"),
                                     ("tlog-scale", (TLOG_ROLE,), run_tlog_scale, "tlog")):
        if name in scenarios and not own_stacks_scenario(args, name, roles, run_fn, result, key):
            failed.append(name)
    result["config"]["total_s"] = round(time.time() - t_start, 1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    with open(args.out + ".tmp", "w") as f:
        f.write(text)
    os.replace(args.out + ".tmp", args.out)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    with open(os.path.join(os.path.dirname(args.out), f"bench-{stamp}.json"), "w") as f:
        f.write(text)
    good = [r for r in rows if r.get("tps") is not None]
    if good:
        print(table(good))
    if result.get("proof_scale", {}).get("sizes"):
        print(proof_scale_table(result["proof_scale"]))
    if result.get("tlog", {}).get("records") is not None:
        print(tlog_table(result["tlog"]))
    for r in rows:
        if r.get("error"):
            print(f"FAILED {r['policy']}/{r['name']}: {r['error'].splitlines()[0]}")
    m = result["machine"]
    print(f"\n{m['cpus']} CPUs, {m['mem']}, {m['os']}, kernel {m['kernel']}; {m['date']}; "
          f"{args.seconds} s per run, concurrency {args.concurrency}; total {result['config']['total_s']} s")
    if m.get("other_zerosum_stacks_running"):
        print(f"note: {m['other_zerosum_stacks_running']} other zerosum stack(s) were running on this machine")
    print(f"wrote {args.out}")
    bad_inv = [f"{r['policy']}/{r['name']}" for r in good if r.get("invariants_ok") is False]
    if result.get("proof_scale", {}).get("invariants_ok") is False:
        bad_inv.append("proof-scale")
    if bad_inv:
        print(f"INVARIANTS FAILED after: {', '.join(bad_inv)}")
    return 1 if failed or bad_inv else 0



def own_stacks_scenario(args, name, roles, run_fn, result, key):
    """Run a scenario with stacks of its own (roles; deleted first on --reset)
    into result[key]: True, or False when it failed (the error stored there)."""
    pp = proof_policy(args)
    if args.reset:
        for role in roles:
            st = Stack(pp, args, role=role)
            log(f"{role}: --reset: deleting {st.var}")
            st.reset()
    log(f"{name} ({pp}) ...")
    try:
        result[key] = run_fn(args, pp)
        return True
    except BenchError as e:
        log(f"{name} FAILED: {e}")
        result[key] = {"policy": pp, "error": str(e)[:2000]}
        return False


def proof_policy(args):
    """proof-scale and tlog-scale run once, on one policy: per-worker unless only
    per-request is asked for."""
    return "per-request" if args.policy == "per-request" else "per-worker"


def run():
    """bench/run's process: main() with BenchError and ^C as exit statuses."""
    try:
        return main()
    except BenchError as e:
        log(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
