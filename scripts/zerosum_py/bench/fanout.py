"""bench/run's live-event scenario sse-fanout: --subscribers (1,000) EventSource
subscribers on one lot's channel, /events/lots/{id}, during the bid war (the
bid-war scenario's own load, scenarios.bid_war_load), measured side by side
with the same load on a lot nobody watches.

The subscribers are raw sockets (stdlib only), spread over a few processes
(--sse-procs) so that reading ~1,000 x the event rate stays off the bidding
threads' interpreter. Each speaks the EventSource protocol over HTTP/1.0
(no chunked framing, so the stream is the bare text/event-stream body):
`id:`, `event:` and `data:` lines, a blank line ending a message; a message
is one event, or a `batch` of the channel's events of one publisher round
(data {"type":"batch","events":[...]}), each counted as itself. Per
subscriber the process keeps, for each event's outbox position ("id"): the
count, whether every one was larger than the one before (in order, no
duplicate) and a hash of the sequence, compared afterwards with the
channel's events in the outbox (same count + same hash + strictly
increasing = the same sequence). Latency, per event: the receive time of the socket
read that completed its message minus the event's `created_at` (carried in
the message: the database clock at the start of the transaction that
wrote the event, i.e. at or before its commit, so the figure is an upper
bound of commit-to-delivery), in a 0.1 ms histogram per process.

Two subscriber clients do exactly that (--sse-client): build/zerosum-subscribe
(c, the default: one process, one epoll loop, bench/sse.h), so that reading
the streams costs the shared cores little next to the server's fan-out, and
the processes below (python)."""
import json
import multiprocessing
import os
import re
import select
import selectors
import socket
import subprocess
import tempfile
import time
from datetime import datetime

from .load import pct, r3, tx_delta
from .stack import BenchError, log

HASH_MOD = (1 << 61) - 1
HIST_STEP_MS = 0.1
HIST_MAX_MS = 120_000
CONNECT_WAVE = 50             # gate requests in flight while subscribing
# One event as the publisher writes it, alone as a message's data or inside a
# `batch` message's "events" array (a JSON string in a payload has its quotes
# escaped, so it cannot match).
MSG = re.compile(rb'\{"id":(\d+),"type":"[^"]*","channel":"[^"]*","created_at":"([^"]+)"')


def seq_hash(h, pos):
    """The running hash of an outbox-position sequence (order-sensitive)."""
    return (h * 1_000_003 + pos) % HASH_MOD


def _epoch(iso):
    """'2026-12-01T17:30:00.123456Z' -> unix seconds."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _parse_block(block, created):
    """One SSE message's bytes: None without an event, else (events, first position,
    last position, hash multiplier, hash addend, out of order within, created_at
    epochs): seq_hash over the message's positions is h * multiplier + addend."""
    evs = MSG.findall(block)
    if not evs:
        return None
    ps = [int(p) for p, _ in evs]
    add = 0
    for p in ps:
        add = seq_hash(add, p)
    times = []
    for p, iso in zip(ps, evs):
        t = created.get(p)
        if t is None:
            t = created[p] = _epoch(iso[1].decode())
        times.append(t)
    bad = any(b <= a for a, b in zip(ps, ps[1:]))
    return len(ps), ps[0], ps[-1], pow(1_000_003, len(ps), HASH_MOD), add, bad, times


class _Sub:
    __slots__ = ("sock", "buf", "head", "status", "count", "last", "hash", "disorder", "closed")

    def __init__(self, sock):
        self.sock, self.buf, self.head, self.status = sock, b"", True, None
        self.count, self.last, self.hash, self.disorder, self.closed = 0, 0, 0, 0, False


def _subscriber_proc(host, port, path, n, pipe):
    """One subscriber process: n subscriptions to path; talks to the parent
    over pipe: sends ("ready", subscribed, refused), waits for ("finish",
    last_pos, deadline_s), sends ("done", stats)."""
    sel = selectors.DefaultSelector()
    subs = []
    req = (f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
           f"Cache-Control: no-cache\r\n\r\n").encode()
    hist = [0] * int(HIST_MAX_MS / HIST_STEP_MS + 1)
    created = {}
    blocks = {}   # a message's bytes -> its parse (_parse_block)
    reads = []    # (read time, the created_at of the events of the message it completed)
    stats = {"refused": 0, "closed_early": 0, "bytes": 0, "cpu_user_s": 0, "cpu_sys_s": 0}

    def on_data(s, data, now):
        s.buf += data
        if s.head:
            end = s.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            line = s.buf[:s.buf.find(b"\r\n")].split()
            s.status = int(line[1]) if len(line) > 1 and line[1].isdigit() else 0
            s.buf, s.head = s.buf[end + 4:], False
            if s.status != 200:
                stats["refused"] += 1
                s.closed = True
                return
        cut = s.buf.rfind(b"\n\n")
        if cut < 0:
            return
        done, s.buf = s.buf[:cut + 2], s.buf[cut + 2:]
        for block in done.split(b"\n\n"):
            # every subscriber reads the same messages: a message's bytes are parsed once
            info = blocks.get(block, False)
            if info is False:
                info = blocks[block] = _parse_block(block, created)
            if info is None:
                continue  # not an event (a comment, a ping)
            n, first, last, mult, add, bad, times = info
            if first <= s.last or bad:
                s.disorder += 1
            s.last = last
            s.count += n
            s.hash = (s.hash * mult + add) % HASH_MOD
            reads.append((now, times))

    def pump(timeout):
        for key, _ in sel.select(timeout):
            s = key.data
            try:
                data = s.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            now = time.time()
            if not data:
                sel.unregister(s.sock)
                s.sock.close()
                if not s.closed:
                    stats["closed_early"] += 1
                s.closed = True
                continue
            stats["bytes"] += len(data)
            on_data(s, data, now)
            if s.closed and s.status != 200:
                sel.unregister(s.sock)
                s.sock.close()

    # subscribe in waves: every request is one short FastCGI gate request
    for i in range(n):
        sock = socket.create_connection((host, port), timeout=30)
        sock.sendall(req)
        sock.setblocking(False)
        s = _Sub(sock)
        subs.append(s)
        sel.register(sock, selectors.EVENT_READ, s)
        while sum(1 for x in subs if x.head and not x.closed) >= CONNECT_WAVE:
            pump(0.5)
    deadline = time.time() + 60
    while any(x.head and not x.closed for x in subs) and time.time() < deadline:
        pump(0.2)
    pipe.send(("ready", sum(1 for x in subs if x.status == 200), stats["refused"]))
    msg = None
    while msg is None:
        pump(0.05)
        if pipe.poll():
            msg = pipe.recv()
    _, last_pos, until = msg
    while time.time() < until and any(x.last < last_pos and not x.closed for x in subs if x.status == 200):
        pump(0.05)
    # commit to delivery per event, binned once the load is over (off the bidders' CPU)
    for now, times in reads:
        for t in times:
            k = int((now - t) * 1000 / HIST_STEP_MS)
            hist[k if 0 <= k < len(hist) else (0 if k < 0 else -1)] += 1
    per_sub = [(x.count, x.hash, x.disorder, x.last, x.closed) for x in subs if x.status == 200]
    t = os.times()
    stats["cpu_user_s"], stats["cpu_sys_s"] = t.user, t.system
    for x in subs:
        try:
            x.sock.close()
        except OSError:
            pass
    pipe.send(("done", {"subs": per_sub, "hist": hist, "stats": stats}))
    pipe.close()


class Subscribers:
    """--subscribers EventSource connections on one channel, over procs processes."""

    def __init__(self, stack, path, n, procs):
        self.ctx = multiprocessing.get_context("fork")
        self.procs = []
        shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        for k in shares:
            if not k:
                continue
            parent, child = self.ctx.Pipe()
            p = self.ctx.Process(target=_subscriber_proc, args=("127.0.0.1", stack.port, path, k, child),
                                 daemon=True)
            p.start()
            child.close()
            self.procs.append((p, parent))

    def wait_ready(self, timeout=180):
        """(subscribed, refused) once every process has subscribed all of its share."""
        ok = refused = 0
        for p, pipe in self.procs:
            if not pipe.poll(timeout):
                raise BenchError("SSE subscribers: a subscriber process did not subscribe in time")
            _, a, b = pipe.recv()
            ok, refused = ok + a, refused + b
        return ok, refused

    def finish(self, last_pos, wait_s):
        """Tell the processes the channel's last position; collect their figures."""
        until = time.time() + wait_s
        for _, pipe in self.procs:
            pipe.send(("finish", last_pos, until))
        subs, hist, stats = [], None, {}
        for p, pipe in self.procs:
            if not pipe.poll(wait_s + 60):
                raise BenchError("SSE subscribers: a subscriber process did not report")
            _, r = pipe.recv()
            subs += r["subs"]
            hist = r["hist"] if hist is None else [a + b for a, b in zip(hist, r["hist"])]
            for k, v in r["stats"].items():
                stats[k] = stats.get(k, 0) + v
            p.join(10)
        return subs, hist, stats

    def kill(self):
        for p, _ in self.procs:
            if p.is_alive():
                p.kill()
                p.join(5)


class CSubscribers:
    """The same n subscriptions from build/zerosum-subscribe (bench/sse_main.c):
    the interface of Subscribers, one process. Any failure of it is a BenchError."""

    def __init__(self, stack, path, n):
        exe = os.path.join(os.path.dirname(stack.bin), "zerosum-subscribe")
        if not os.access(exe, os.X_OK):
            raise BenchError(f"{exe} not found; build it first (make)")
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(stack.port), "--path", path,
                                   "--n", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err)
        self.procs = [self.p]

    def _fail(self, what):
        self.kill()
        self.err.seek(0)
        tail = self.err.read().decode("utf-8", "replace")[-2000:]
        raise BenchError(f"zerosum-subscribe: {what} (exit {self.p.returncode})\n{tail}")

    def wait_ready(self, timeout=180):
        """(subscribed, refused) once it has subscribed all n."""
        if not select.select([self.p.stdout], [], [], timeout)[0]:
            self._fail("did not subscribe in time")
        line = self.p.stdout.readline().decode().split()
        if len(line) != 3 or line[0] != "ready":
            self._fail(f"no ready line: {line!r}")
        return int(line[1]), int(line[2])

    def finish(self, last_pos, wait_s):
        """Tell it the channel's last position; its figures as Subscribers.finish's."""
        try:
            out, _ = self.p.communicate(f"finish {last_pos} {wait_s}\n".encode(), timeout=wait_s + 60)
        except subprocess.TimeoutExpired:
            self._fail("did not report")
        try:
            r = json.loads(out)
        except ValueError:
            self._fail("no report")
        if self.p.returncode != 0:
            self._fail("failed")
        hist = [0] * int(HIST_MAX_MS / HIST_STEP_MS + 1)
        for k, v in r["hist"].items():
            hist[int(k)] = v
        subs = [(c, h, d, last, closed) for c, h, d, last, closed in r["subs"]]
        return subs, hist, {"refused": r["refused"], "closed_early": r["closed_early"], "bytes": r["bytes"],
                            "cpu_user_s": r["cpu_user_s"], "cpu_sys_s": r["cpu_sys_s"]}

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)


def hist_pct(hist, p):
    """Nearest-rank percentile (ms) of a HIST_STEP_MS histogram; None when empty."""
    total = sum(hist)
    if not total:
        return None
    rank = max(1, int(round(p / 100.0 * total + 0.5)))
    seen = 0
    for i, c in enumerate(hist):
        seen += c
        if seen >= rank:
            return round((i + 1) * HIST_STEP_MS, 1)
    return None


def channel_events(stack, channel):
    """The channel's ordered events: [(pos, created_at epoch, published_at epoch or None)]
    (the published_at of the message that carried it: a row covers first_pos..pos)."""
    rows = stack.sql(
        "SELECT e.pos, extract(epoch FROM e.created_at), extract(epoch FROM p.published_at)"
        " FROM events e LEFT JOIN event_publications p ON p.channel = '" + channel + "'"
        " AND e.pos BETWEEN coalesce(p.first_pos, p.pos) AND p.pos"
        " WHERE e.pos IS NOT NULL AND position('" + channel + "' IN e.channels) > 0 ORDER BY e.pos")
    out = []
    for line in rows.splitlines():
        a, b, c = line.split("|")
        out.append((int(a), float(b), float(c) if c else None))
    return out


def wait_published(stack, channel, stall_s=30, limit_s=900):
    """Wait until the publisher has published every event written so far (failing
    when its cursor stands still for stall_s, or after limit_s): the channel's
    events (channel_events), or None without a channel."""
    t0 = last_move = time.time()
    seen = None
    while True:
        row = stack.sql("SELECT (SELECT count(*) FROM events WHERE pos IS NULL),"
                        " (SELECT pos FROM event_cursors WHERE name = 'nchan'),"
                        " (SELECT pos FROM event_cursors WHERE name = 'ordered')")
        unordered, published, ordered = (int(x or 0) for x in row.split("|"))
        if unordered == 0 and published >= ordered:
            return channel_events(stack, channel) if channel else None
        now = time.time()
        if published != seen:
            seen, last_move = published, now
        if now - last_move > stall_s or now - t0 > limit_s:
            raise BenchError(f"the publisher did not catch up ({unordered} unordered, published "
                             f"{published} of {ordered} after {now - t0:.0f} s)")
        time.sleep(0.2)


def sc_sse_fanout(stack, args):
    """args.fanout_rounds rounds (unwatched, watched, unwatched; fanout_round),
    after an unmeasured warm-up; the round with the median ratio counts, every
    round's ratio is kept (ratios_all), and every round's subscribers must all
    have received every event in order."""
    from .scenarios import LOT_MARGIN_S, bid_war_load, new_bid_war_lot, retire_lots  # late: scenarios imports this

    # Every lot of the scenario ends at one moment after its last half (a
    # round is three halves plus subscribing and draining, ~25 s here), so that
    # none is settled and sealed in the middle of a timed half.
    n = max(1, args.fanout_rounds)
    end_t = time.monotonic() + 5 + n * (3 * args.seconds + 30) + LOT_MARGIN_S
    # warm-up: a freshly started stack's first seconds of a bid war run slower
    # (its workers' and backends' caches), which would weigh on the first
    # unwatched half alone
    warm = new_bid_war_lot(stack, end_t - time.monotonic(), "bench sse-fanout (warm-up)")
    bid_war_load(stack, args, warm, seconds=min(5, args.seconds))
    wait_published(stack, f"lots/{warm['id']}")
    lots = [warm]
    rounds = [fanout_round(stack, args, lots, end_t) for _ in range(n)]
    retire_lots(stack, lots, timeout=max(0, end_t - time.monotonic()) + 300)
    ranked = sorted(rounds, key=lambda r: (r["ratio"] is None, r["ratio"] or 0))
    med = ranked[(len(ranked) - 1) // 2]
    e = med["extra"]
    e["rounds"] = len(rounds)
    e["ratios_all"] = [r3(r["ratio"]) for r in rounds]
    e["every_event_in_order"] = all(r["extra"]["every_event_in_order"] for r in rounds)
    e["errors"] = sum(r["extra"]["errors"] for r in rounds)
    return med


def fanout_round(stack, args, lots, end_t):
    """One round: the bid war unwatched, watched by args.subscribers, unwatched
    again (each on a lot of its own that ends at end_t, appended to lots)."""
    from .scenarios import LOT_MARGIN_S, bid_war_load, new_bid_war_lot

    def live_s():
        return max(end_t - time.monotonic(), args.seconds + LOT_MARGIN_S)

    n = args.subscribers
    # 1. the bid war with nobody watching
    plain_lot = new_bid_war_lot(stack, live_s(), "bench sse-fanout (no subscribers)")
    lots.append(plain_lot)
    plain, plain_dur, _, _ = bid_war_load(stack, args, plain_lot)
    wait_published(stack, f"lots/{plain_lot['id']}")
    # 2. the same on a lot n subscribers watch
    lot = new_bid_war_lot(stack, live_s(), "bench sse-fanout (watched)")
    lots.append(lot)
    channel = f"lots/{lot['id']}"
    t0 = time.time()
    if args.sse_client == "c":
        subs = CSubscribers(stack, f"/events/{channel}", n)
    else:
        subs = Subscribers(stack, f"/events/{channel}", n, max(1, min(args.sse_procs, n)))
    try:
        ready, refused = subs.wait_ready()
        connect_s = time.time() - t0
        if ready != n:
            raise BenchError(f"only {ready} of {n} subscribers were accepted ({refused} refused)")
        log(f"{stack.policy}: sse-fanout: {n} subscribers on {channel} in {connect_s:.1f} s")
        watched, dur, m0, m1 = bid_war_load(stack, args, lot)
        events = wait_published(stack, channel)
        want_hash = 0
        for pos, _, _ in events:
            want_hash = seq_hash(want_hash, pos)
        last = events[-1][0] if events else 0
        per_sub, hist, stats = subs.finish(last, wait_s=30)
    finally:
        subs.kill()
    # 3. nobody watching again, so that a drift of the stack over the run (it
    # ages as its outbox and nchan's buffers grow) weighs on both sides alike:
    # the watched half is compared with the mean of the halves around it
    after_lot = new_bid_war_lot(stack, live_s(), "bench sse-fanout (no subscribers, after)")
    lots.append(after_lot)
    after, after_dur, _, _ = bid_war_load(stack, args, after_lot)
    wait_published(stack, f"lots/{after_lot['id']}")
    complete = sum(1 for c, h, d, _, _ in per_sub if c == len(events) and h == want_hash and d == 0)
    disorder = sum(1 for s in per_sub if s[2])
    short = [len(events) - s[0] for s in per_sub if s[0] < len(events)]
    tps_before = sum(1 for r in plain if r[0] == 201) / plain_dur
    tps_after = sum(1 for r in after if r[0] == 201) / after_dur
    tps_plain = (tps_before + tps_after) / 2
    tps = sum(1 for r in watched if r[0] == 201) / dur
    ratio = tps / tps_plain if tps_plain else None
    publish_lag = [(p - c) * 1000 for _, c, p in events if p is not None]
    messages = int(stack.sql("SELECT count(*) FROM event_publications WHERE channel = '" + channel + "'") or 0)
    lat = [r[2] for r in watched]
    return {"tps": tps, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "retries_per_commit": None,
            "pgbench": None, "ratio": ratio,
            "extra": {"subscribers": n, "subscribe_s": round(connect_s, 1), "events_published": len(events),
                      "stream_messages": messages,
                      "deliveries": sum(hist), "every_event_in_order": complete == n and len(events) > 0,
                      "subscribers_complete": complete, "subscribers_out_of_order": disorder,
                      "subscribers_short": len(short), "most_missing": max(short, default=0),
                      "subscribers_closed_early": stats.get("closed_early", 0),
                      "delivery_p50_ms": hist_pct(hist, 50), "delivery_p99_ms": hist_pct(hist, 99),
                      "delivery_max_ms": hist_pct(hist, 100),
                      "publish_lag_p50_ms": r3(pct(publish_lag, 50)), "publish_lag_p99_ms": r3(pct(publish_lag, 99)),
                      "bids_per_s_watched": round(tps, 3), "bids_per_s_plain": round(tps_plain, 3),
                      "bids_per_s_plain_before": round(tps_before, 3),
                      "bids_per_s_plain_after": round(tps_after, 3),
                      "ratio_vs_plain": round(ratio, 3) if ratio is not None else None,
                      "bids_watched": len(watched), "bids_plain": len(plain),
                      "plain_p50_ms": pct([r[2] for r in plain], 50), "plain_p99_ms": pct([r[2] for r in plain], 99),
                      "errors": sum(1 for r in watched + plain + after if r[0] is None or r[0] >= 500),
                      "received_mib": round(stats.get("bytes", 0) / 1048576, 1), "sse_procs": len(subs.procs),
                      "sse_client_cpu_user_s": round(stats.get("cpu_user_s", 0), 2),
                      "sse_client_cpu_sys_s": round(stats.get("cpu_sys_s", 0), 2),
                      "sse_client": args.sse_client,
                      "lot": lot["id"], "plain_lot": plain_lot["id"], "tx": tx_delta(m0, m1, "bid")}}

