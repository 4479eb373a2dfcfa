"""The load generators (wrk, pgbench, the threaded keep-alive client's
scenarios use zerosum_py.client.Api.send) and the figures made of them."""
import json
import os
import re
import subprocess
import tempfile
import time
import uuid

from . import sqlgen
from .stack import BENCH, BenchError

BODY_SAMPLE_TRANSFER = (
    '{"transfer":{"id":"0c73e251-616e-4f7d-8e2e-0fa6d4de0819","from":"250f6581-bde6-4284-adba-'
    '60a2bbb627c6","to":"d36777bc-7148-4ecb-add9-7ecc531e734e","amount":1,"memo":"bench",'
    '"kind":"transfer","created_at":"2026-11-22T05:02:48.069458Z"}}')


def pct(values, p):
    """Nearest-rank percentile of a list (p in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def r3(x):
    return None if x is None else round(x, 3)



def tx_delta(m0, m1, endpoint):
    def d(name):
        return m1.get((name, endpoint), 0) - m0.get((name, endpoint), 0)
    commits, retries, attempts = d("zerosum_tx_commits_total"), d("zerosum_tx_retries_total"), d("zerosum_tx_attempts_total")
    rts = d("zerosum_tx_round_trips_total")
    return {"commits": commits, "retries": retries, "attempts": attempts, "round_trips": rts,
            "retries_per_commit": (retries / commits) if commits else None,
            "round_trips_per_commit": round(rts / commits, 3) if commits else None}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None



def run_wrk(stack, seconds, concurrency, first, last, limit=0, timeout_s=10):
    """wrk with bench/wrk/transfer.lua; returns its JSON summary.

    limit > 0: a fixed number of requests instead of a duration. Each wrk
    thread stops sending at its share, but wrk's main thread sleeps for the
    whole -d, so we watch the server's request counter and interrupt wrk
    (SIGINT makes it report and run done()) once the requests are answered;
    "duration_us" is then replaced by the time it took to get there."""
    out = tempfile.NamedTemporaryFile(prefix="zs-bench-wrk-", suffix=".json", delete=False)
    out.close()
    threads = max(1, min(2, concurrency))
    env = dict(os.environ, BENCH_ACCOUNTS=stack.accounts_file, BENCH_FIRST=str(first),
               BENCH_LAST=str(last), BENCH_RUN=uuid.uuid4().hex[:12], BENCH_OUT=out.name,
               BENCH_LIMIT=str(-(-limit // threads) if limit else 0))
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
           "--timeout", f"{timeout_s}s", "-s", os.path.join(BENCH, "wrk", "transfer.lua"),
           f"http://127.0.0.1:{stack.port}"]
    elapsed = None
    if limit:
        base = stack.requests("transfer")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        target = base + threads * -(-limit // threads)
        last_n, last_change = base, time.perf_counter()
        while proc.poll() is None:
            time.sleep(0.2)
            n = stack.requests("transfer")
            now = time.perf_counter()
            if n != last_n:
                last_n, last_change = n, now
            # done: every thread's share answered, or nothing moved for 15 s
            if n >= target or now - last_change > 15:
                elapsed = (last_change if n >= target else now) - t0
                proc.send_signal(2)
                break
        stdout, stderr = proc.communicate()
        rc = proc.returncode
    else:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        stdout, stderr, rc = p.stdout, p.stderr, p.returncode
    try:
        with open(out.name) as f:
            res = json.load(f)
    except (OSError, ValueError):
        raise BenchError(f"wrk failed (exit {rc}):\n{stdout}{stderr}")
    finally:
        os.unlink(out.name)
    if rc != 0:
        raise BenchError(f"wrk exit {rc}:\n{stdout}{stderr}")
    if elapsed is not None:
        res["duration_us"] = int(elapsed * 1e6)
    return res


def run_pgbench(stack, script, concurrency, seconds=None, transactions=None, defines=None, direct=False):
    """pgbench on build/bench-sql/<script>, generated from the template
    bench/sql/<scenario>.pgb for the stack's binary (or a list of (script,
    weight): a weighted mix, as pgbench -f a.sql@W), through PgBouncer with
    -M simple; direct: straight to PostgreSQL with -M prepared, on the same
    statements in pipelines (build/bench-sql-prepared, sqlgen.prepared_script);
    tps and more."""
    scripts = [(script, None)] if isinstance(script, str) else script
    try:
        generated = sqlgen.generate_prepared(stack.bin) if direct else sqlgen.scripts_for(stack.bin)
    except (OSError, sqlgen.TemplateError) as e:
        raise BenchError(f"the pgbench scripts cannot be generated: {e}")
    mode = "prepared" if direct else "simple"
    cmd = ["pgbench", "-n", "-M", mode, "-c", str(concurrency), "-j", str(max(1, min(2, concurrency)))]
    for name, weight in scripts:
        cmd += ["-f", generated[name] + (f"@{weight}" if weight else "")]
    port = stack.pg_port if direct else stack.pgb_port
    cmd += ["-h", stack.pgsock, "-p", str(port), "-U", "zerosum_app"]
    cmd += ["-T", str(seconds)] if seconds else ["-t", str(transactions)]
    for k, v in (defines or {}).items():
        cmd += ["-D", f"{k}={v}"]
    cmd.append("zerosum")
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout + p.stderr
    m = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out, re.M)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    if p.returncode != 0 or not m or "aborted" in out:
        raise BenchError(f"pgbench -M {mode} {scripts} failed (exit {p.returncode}):\n{out[-3000:]}")
    return {"tps": float(m.group(1)), "mode": mode, "via": "postgres" if direct else "pgbouncer",
            "transactions": int(processed.group(1)) if processed else None,
            "failed": int(failed.group(1)) if failed else 0,
            "latency_avg_ms": float(lat.group(1)) if lat else None,
            "scripts": [f"{n}@{w}" if w else n for n, w in scripts]}



def run_pgbench_both(stack, script, concurrency, **kw):
    """run_pgbench() through PgBouncer (-M simple), then directly (-M
    prepared): the first run's figures, with the second's under "direct"."""
    pg = run_pgbench(stack, script, concurrency, **kw)
    pg["direct"] = run_pgbench(stack, script, concurrency, direct=True, **kw)
    return pg


def burst_request(stack, method, path, body, token, key):
    """One request as raw HTTP/1.1 bytes for build/zerosum-burst: the headers
    the threaded client (zerosum_py.client.Api.send) sends, keep-alive."""
    data = json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\n"
            f"Accept-Encoding: identity\r\nAccept: application/json\r\n"
            f"Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


def burst_binary(stack):
    """build/zerosum-burst beside the stack's binary (make all builds both)."""
    return os.path.join(os.path.dirname(stack.bin), "zerosum-burst")


def run_burst(stack, requests, timeout_s=60):
    """Send every raw request (bytes, burst_request()) at once from
    build/zerosum-burst, each on a connection of its own opened beforehand
    (bench/burst.h): its report, with answers[i] = {status, code, ms, end_ms,
    body, error} for requests[i]. Any failure of the client, and any request
    it got no answer to, is a BenchError: a burst with holes measures nothing."""
    exe = burst_binary(stack)
    if not os.access(exe, os.X_OK):
        raise BenchError(f"{exe} not found; build it first (make)")
    with tempfile.NamedTemporaryFile(prefix="zs-bench-burst-", suffix=".req", delete=False) as f:
        for r in requests:
            f.write(b"%d\n%s\n" % (len(r), r))
    try:
        p = subprocess.run([exe, "--host", "127.0.0.1", "--port", str(stack.port), "--requests", f.name,
                            "--timeout-ms", str(int(timeout_s * 1000))], capture_output=True)
    finally:
        os.unlink(f.name)
    err = p.stderr.decode("utf-8", "replace")
    try:
        rep = json.loads(p.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise BenchError(f"zerosum-burst failed (exit {p.returncode}), no report:\n{err[-2000:]}")
    if p.returncode != 0 or rep.get("errors") or len(rep.get("answers", ())) != len(requests):
        bad = [f"#{i}: {a.get('error')}" for i, a in enumerate(rep.get("answers", ())) if a.get("error")]
        raise BenchError(f"zerosum-burst exit {p.returncode}, {rep.get('errors')} of {len(requests)} "
                         f"requests unanswered: {'; '.join(bad[:5])}\n{err[-1000:]}")
    for a in rep["answers"]:
        try:
            j = json.loads(a["body"]) if a.get("body") else None
        except ValueError:
            j = None
        a["code"] = j.get("code") if isinstance(j, dict) else None
    return rep
