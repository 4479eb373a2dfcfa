"""bench/run's report: the machine it ran on, the table on stdout and the
README's markdown table."""
import datetime
import os
import platform
import subprocess

from .load import loadavg


def machine():
    mem = None
    model = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/etc/debian_version") as f:
            os_name = f"Debian {f.read().strip()}"
    except OSError:
        os_name = platform.platform()
    others = 0
    try:
        out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        others = sum(1 for l in out.splitlines() if l.startswith("nginx: master process")
                     and "/var/bench-" not in l)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem": mem, "kernel": platform.release(),
            "os": os_name, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "loadavg": loadavg(), "other_zerosum_stacks_running": others}


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return str(v)


def notes(r, md=False):
    """A row's notes column: for the terminal table, or (md) for the README's."""
    n = r["name"]
    if n == "drop-stampede":
        return (f"done{' in' if md else ''} {r['done_ms']:.0f} ms (median of {r.get('bursts', 1)}), "
                f"{r['winners']}/{r['claims']} won, client {r.get('client', 'python')}")
    if n == "bid-war":
        if md:
            return f"{r['accepted']:,} accepted, {r['bid_too_low']} too low"
        return f"{r['accepted']} accepted, {r['bid_too_low']} too low, {r['errors']} errors"
    if n == "proof":
        return f"{r['entries']:,} entries" + (f", {r['requests']} requests" if md else "")
    if n == "memory":
        if md:
            return (f"VmRSS {r['rss_start_kib']:,} → {r['rss_end_kib']:,} KiB "
                    f"({len(r['workers'])} workers, {r['requests']:,} requests)")
        return (f"RSS {r['rss_start_kib']:,} -> {r['rss_end_kib']:,} KiB over "
                f"{r['requests']:,} req, {len(r['workers'])} workers"
                + ("" if r["same_workers"] else " (workers changed!)"))
    if n == "pending-round":
        return (f"{r['pending']['rounds']:,} rounds vs {r['plain']['rounds']:,} plain transfers"
                f" ({r['plain_tps']:.1f}/s)" + (f", {r['failed']} failed" if r["failed"] else ""))
    if n == "batch-round":
        return (f"{r['batch']['rounds']:,} batches of 10 vs {r['singles']['rounds']:,} rounds of 10 singles"
                f" ({r['singles_rounds_per_s']:.1f}/s)" + (f", {r['failed']} failed" if r["failed"] else ""))
    if n == "sse-fanout":
        return (f"{r['subscribers']:,} subscribers x {r['events_published']:,} events, "
                f"{r['subscribers_complete']:,} complete in order, delivery p50/p99 "
                f"{fmt(r['delivery_p50_ms'])}/{fmt(r['delivery_p99_ms'])} ms, "
                f"{r['bids_per_s_plain']:.1f} bids/s unwatched"
                + (f", median of {r['rounds']} rounds (ratios {', '.join(fmt(x, 2) for x in r['ratios_all'])})"
                   if r.get("rounds", 1) > 1 else ""))
    if n == "webhook-dead":
        a, d = r["all_alive"], r["one_dead"]
        return (f"{r['endpoints']} endpoints, {r['rate']} transfers/s: p50/p99 {fmt(a['p50_ms'])}/"
                f"{fmt(a['p99_ms'])} ms all alive vs {fmt(d['p50_ms'])}/{fmt(d['p99_ms'])} ms one dead, "
                f"{d['endpoints_complete']}/{d['live']} live complete in order")
    if n == "seal-rate":
        return (f"{r['transfer_tps']:.1f} transfers/s, {r['seals']} seals, backlog max/end "
                f"{r['backlog_max']:,}/{r['backlog_end']:,} transfers, drained in {fmt(r['drain_s'])} s")
    if md:
        return f"{r['requests']:,} requests"
    bad = sum(v for k, v in r.get("statuses", {}).items() if k != "201")
    return f"{r['requests']:,} req" + (f", {bad} non-201" if bad else "")


def table(rows):
    head = ["policy", "scenario", "tps", "p50_ms", "p99_ms", "retries/commit", "pgbench_tps", "ratio",
            "direct_tps", "ratio_direct", "invariants", "goal", "notes"]
    lines = []
    for r in rows:
        note = notes(r)
        lines.append([r["policy"], r["name"], fmt(r["tps"]), fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2),
                      fmt(r["retries_per_commit"], 3), fmt(r["pgbench_tps"]), fmt(r["ratio"], 2),
                      fmt(r.get("pgbench_direct_tps")), fmt(r.get("ratio_direct"), 2),
                      fmt(r["invariants_ok"]), fmt(r.get("goal_met")), note])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    out.append("  ".join("-" * w for w in widths))
    for l in lines:
        out.append("  ".join((x.rjust(w) if i in (2, 3, 4, 5, 6, 7, 8, 9) else x.ljust(w))
                             for i, (x, w) in enumerate(zip(l, widths))))
    return "\n".join(out)


def markdown(result):
    """The README's table for a result (bench/run --markdown FILE)."""
    m, c = result["machine"], result["config"]
    out = [f"Measured {m['date'][:16].replace('T', ' ')} UTC on {m['cpus']} vCPU ({m.get('cpu_model') or '?'}), "
           f"{m['mem']}, {m['os']}, kernel {m['kernel']}; `bench/run --seconds {c['seconds']}` "
           f"(concurrency {c['concurrency']}), build `{c.get('git', '?')}`, total {c.get('total_s', '?')} s; "
           f"load average at start {m.get('loadavg')}, other zerosum stacks running: "
           f"{m.get('other_zerosum_stacks_running')}.", "",
           ]
    if result["scenarios"]:
        out += ["| policy | scenario | tps | p50 ms | p99 ms | retries/commit | pgbench tps | ratio "
                "| direct tps | ratio direct | invariants | goal met | notes |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in result["scenarios"]:
        if r.get("tps") is None:
            out.append(f"| {r['policy']} | {r['name']} | failed: {r.get('error', '')[:80]} |||||||||||")
            continue
        note = notes(r, md=True)
        out.append(f"| {r['policy']} | {r['name']} | {fmt(r['tps'])} | {fmt(r['p50_ms'], 1)} | "
                   f"{fmt(r['p99_ms'], 1)} | {fmt(r['retries_per_commit'], 3)} | {fmt(r['pgbench_tps'])} | "
                   f"{fmt(r['ratio'], 2)} | {fmt(r.get('pgbench_direct_tps'))} | {fmt(r.get('ratio_direct'), 2)} | "
                   f"{fmt(r['invariants_ok'])} | {fmt(r.get('goal_met'))} | {note} |")
    if result.get("proof_scale", {}).get("sizes"):
        out += ["", proof_scale_table(result["proof_scale"], md=True)]
    if result.get("tlog", {}).get("records") is not None:
        out += ["", tlog_table(result["tlog"], md=True)]
    return "\n".join(out)



def proof_scale_table(ps, md=False):
    """proof-scale's figures (latest.json's proof_scale): one line per size, then the
    full pass and the writers, each with its goal and whether it was met."""
    met = ps.get("met", {})
    big = max(ps["sizes"], key=lambda z: z["entries"])
    low = min(ps["sizes"], key=lambda z: z["entries"])
    rows = [(f"/proof p50 at {z['entries']:,} entries", f"{fmt(z['p50_ms'], 1)} ms",
             f"p99 {fmt(z['p99_ms'], 1)} ms, {z['requests']} requests, sealed through seal "
             f"{z['seal_no']} (tree size {z['tree_size']:,}), {z['unsealed_transfers']:,} unsealed "
             f"transfers, consistent {fmt(z['consistent'])}") for z in ps["sizes"]]
    ratio = big["p50_ms"] / low["p50_ms"] if low.get("p50_ms") else None
    goals = [(f"p50 at {big['entries']:,} entries", f"{fmt(big['p50_ms'], 1)} ms", ps["goals"]["p50_ms_at_10m"], met.get("p50_ms_at_10m")),
             (f"p50 at {big['entries']:,} / at {low['entries']:,}", f"{fmt(ratio, 2)}x", ps["goals"]["p50_vs_200k"], met.get("p50_vs_200k")),
             ("full pass", f"{fmt(ps.get('full_audit_s'), 1)} s", ps["goals"]["full_audit_s"], met.get("full_audit_s")),
             ("writer_ratio", fmt(ps.get("writer_ratio"), 3), ps["goals"]["writer_ratio"], met.get("writer_ratio"))]
    if md:
        out = ["| proof-scale | figure | notes |", "|---|---:|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        out += ["", "| goal | this run | target | met |", "|---|---:|---|---|"]
        out += [f"| {a} | {b} | {c} | {fmt(d)} |" for a, b, c, d in goals]
        return "\n".join(out)
    out = [f"proof-scale ({ps['policy']}):"]
    out += [f"  {a}: {b}  ({c})" for a, b, c in rows]
    out += [f"  {a}: {b}  goal {c}: {'met' if d else 'NOT met'}" for a, b, c, d in goals]
    w = ps.get("writer", {}).get("tps", {})
    if w:
        out.append(f"  transfer-uniform tps without / with / without a full pass: "
                   f"{fmt(w.get('without_before'))} / {fmt(w.get('with'))} / {fmt(w.get('without_after'))}")
    return "\n".join(out)


def tlog_table(t, md=False):
    """tlog-scale's figures (latest.json's tlog), each with its goal and whether it was met."""
    met, goals = t.get("met", {}), t.get("goals", {})
    rows = [("records in the log", f"{t['records']:,}", goals.get("records", ""), met.get("records")),
            ("checkpoint: produce and sign (in the sealer)", f"{fmt(t.get('checkpoint_ms'), 2)} ms",
             f"of it signing {fmt(t.get('checkpoint_sign_ms'), 3)} ms; a one-record seal "
             f"{fmt(t.get('seal_ms'), 1)} ms (median of {t.get('seals_timed')})", None),
            ("GET /proof/checkpoint p50", f"{fmt(t.get('checkpoint_get_p50_ms'), 2)} ms",
             f"p99 {fmt(t.get('checkpoint_get_p99_ms'), 2)} ms, {t.get('checkpoint_gets')} requests", None),
            ("GET /proof/inclusion p50", f"{fmt(t.get('inclusion_p50_ms'), 2)} ms",
             f"p99 {fmt(t.get('inclusion_p99_ms'), 2)} ms, {t.get('inclusions')} transfers, "
             f"{t.get('inclusion_errors')} errors; goal {goals.get('inclusion_p50_ms', '')}",
             met.get("inclusion_p50_ms")),
            (f"zerosum-verify --replay --size {t.get('replay_records') or 0:,}", f"{fmt(t.get('replay_s'), 1)} s",
             f"{fmt(t.get('replay_rss_mb'), 1)} MB RSS, verified {fmt(t.get('replay_ok'))}; "
             f"goal {goals.get('replay', '')}", met.get("replay"))]
    if md:
        out = ["| tlog-scale | figure | notes | met |", "|---|---:|---|---|"]
        out += [f"| {a} | {b} | {c} | {'-' if d is None else fmt(d)} |" for a, b, c, d in rows]
        return "\n".join(out)
    out = [f"tlog-scale ({t['policy']}):"]
    out += [f"  {a}: {b}  ({c})" + ("" if d is None else f": {'met' if d else 'NOT met'}")
            for a, b, c, d in rows]
    return "\n".join(out)

