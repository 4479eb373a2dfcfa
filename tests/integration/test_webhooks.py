"""Webhooks: registration (admin), signed deliveries in order per endpoint,
retries with backoff and a delivery log, a dead endpoint that costs only its
own queue, deletion and `zerosum webhook replay`.

The endpoints are loopback HTTP servers this test starts: a healthy one, one
that fails its first two attempts (500), one subscribed to transfer.created
only, and a dead port nothing listens on.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import hashlib
import hmac
import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A loopback endpoint: records (arrival time, headers, body); fails the first `fail` posts."""

    def __init__(self, fail=0):
        self.got, self.fail, self.lock = [], fail, threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    failing = outer.fail > 0
                    outer.fail -= 1 if failing else 0
                    if not failing:
                        outer.got.append((time.time(), dict(self.headers), body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def ids(self):
        with self.lock:
            return [json.loads(b)["id"] for _, _, b in self.got]


def dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here any more: connections are refused
    return f"http://127.0.0.1:{port}/hook"


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read()
    return int(st[st.rindex(")") + 2:].split()[1])


def verify(secret, headers, body):
    sig = headers.get("zerosum-signature", "")
    parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
    want = hmac.new(secret.encode(), parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts.get("v1", "")) and abs(time.time() - int(parts["t"])) < 60


A = admin_token()
hooks_before = query("SELECT count(*) FROM webhooks")[0][0]
alice, atok = create_account("wh-alice", fund=100_000)
bob, btok = create_account("wh-bob")

# ---- registration -----------------------------------------------------------------------

for body, code, name in [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "invalid_url", "an ftp:// URL"),
        ({"url": "not a url", "events": ["*"]}, "invalid_url", "not a URL"),
        ({"url": "http://", "events": ["*"]}, "invalid_url", "a URL without a host"),
        ({"url": 7, "events": ["*"]}, "invalid_url", "a number for url"),
        ({"url": "http://127.0.0.1:9/x", "events": []}, "invalid_events", "no events"),
        ({"url": "http://127.0.0.1:9/x", "events": ["Transfer"]}, "invalid_events", "a type that is no dotted name"),
        ({"url": "http://127.0.0.1:9/x", "events": "*"}, "invalid_events", "events not a list"),
        ({"url": "http://127.0.0.1:9/x"}, "missing_field", "no events member"),
        ({"url": "http://127.0.0.1:9/x", "events": ["*"], "x": 1}, "unknown_field", "an unknown member")]:
    is_problem(post("/webhooks", body, token=A), 422, code, f"POST /webhooks with {name}: 422 {code}")
is_(query("SELECT count(*) FROM webhooks")[0][0], hooks_before, "…and nothing was registered")
is_problem(post("/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, token=atok), 403, "admin_required",
           "a user token may not register one")

live, flaky, typed = Receiver(), Receiver(fail=2), Receiver()
hooks = {}
for name, url, events in [("live", live.url, ["*"]), ("flaky", flaky.url, ["transfer.created"]),
                          ("typed", typed.url, ["transfer.created", "bid.accepted"]), ("dead", dead_url(), ["*"])]:
    r = post("/webhooks", {"url": url, "events": events}, token=A)
    is_(r.status, 201, f"POST /webhooks ({name}): 201")
    hooks[name] = r.json["webhook"]
    ok(r.json["webhook"]["secret"].startswith("whsec_") and len(r.json["webhook"]["secret"]) == 70,
       f"…with its signing secret ({name})")
listed = get("/webhooks", token=A)
is_(listed.status, 200, "GET /webhooks: 200")
ok({h["id"] for h in hooks.values()} <= {h["id"] for h in listed.json["webhooks"]}
   and all("secret" not in h for h in listed.json["webhooks"]), "…lists the four, never their secrets")

# ---- deliveries ---------------------------------------------------------------------------

t0 = time.time()
tids = []
for i in range(5):
    r = post("/transfer", {"from": alice, "to": bob, "amount": 10 + i}, token=atok)
    tids.append(r.json["transfer"]["id"])
lot = create_lot(kind="english", seller=bob, start=100, increment=10, ends_in=3600)["id"]
is_(place_bid(atok, lot, amount=100).status, 201, "five transfers and a bid")
ok(wait_for(lambda: len(live.ids()) >= 6 and "bid.accepted" in [json.loads(b)["type"] for _, _, b in live.got], 15),
   "the healthy endpoint receives them", live.ids())
lat = max(t for t, _, _ in live.got) - t0
ok(lat < 5, f"…promptly, though another endpoint is dead ({lat:.2f} s for all six)")
ids = live.ids()
is_(ids, sorted(ids), "…in event order")
is_(len(ids), len(set(ids)), "…each once")


def mine(e):
    """An event of this suite's own (on a shared stack "*" also sees what the jobs
    child does meanwhile, e.g. the capture of a lot another suite left)."""
    d = e.get("data") or {}
    return ((e["type"] == "transfer.created" and (d.get("transfer") or {}).get("id") in tids)
            or (e["type"] == "bid.accepted" and (d.get("bid") or {}).get("lot") == lot))


own = [e for e in (json.loads(b) for _, _, b in live.got) if mine(e)]
types = [e["type"] for e in own]
is_(types[:6], ["transfer.created"] * 5 + ["bid.accepted"],
    "…transfer.created ×5 then bid.accepted (\"*\": proof.status too, when it changes)")
ok(all(verify(hooks["live"]["secret"], h, b) for _, h, b in live.got),
   "every delivery carries a valid zerosum-signature (HMAC-SHA256 of \"t.body\")")
ok(not verify(hooks["typed"]["secret"], live.got[0][1], live.got[0][2]), "…which another endpoint's secret does not verify")
first_own = next(i for i, (_, _, b) in enumerate(live.got) if mine(json.loads(b)))
body0 = json.loads(live.got[first_own][2])
ok(set(body0) >= {"id", "type", "created_at", "data"} and body0["data"]["transfer"]["id"] == tids[0],
   "the body is the event: its id, type, created_at and data", body0)
is_(live.got[first_own][1].get("zerosum-event-id"), str(body0["id"]), "…and the zerosum-event-id header names it")

# Waiting for this suite's own six, not for any six: on a shared stack the
# typed endpoint also gets the transfers the jobs child makes meanwhile.
ok(wait_for(lambda: sum(1 for _, _, b in typed.got if mine(json.loads(b))) >= 6, 15),
   "the typed endpoint gets its types", typed.ids())
is_(sorted({json.loads(b)["type"] for _, _, b in typed.got}), ["bid.accepted", "transfer.created"],
    "…and only those")

# flaky: 500 twice, then delivered, in order, retried with backoff (1 s, 2 s)
ok(wait_for(lambda: len(flaky.ids()) >= 5, 20), "the flaky endpoint gets its events after two failures", flaky.ids())
is_(flaky.ids()[:5], sorted(flaky.ids()[:5]), "…still in order")
d = get(f"/webhooks/{hooks['flaky']['id']}/deliveries", token=A)
is_(d.status, 200, "GET /webhooks/{id}/deliveries: 200")
first = sorted((x for x in d.json["deliveries"] if x["event_id"] == flaky.ids()[0]), key=lambda x: x["attempt"])
is_([(x["attempt"], x["outcome"], x["status"]) for x in first], [(1, "failed", 500), (2, "failed", 500), (3, "delivered", 200)],
    "…its first event: two failed attempts then delivered, each logged")
gaps = [(parse_ts(b["at"]) - parse_ts(a["at"])).total_seconds() for a, b in zip(first, first[1:])]
ok(len(gaps) == 2 and gaps[0] >= 0.9 and gaps[1] >= 1.9, "…after 1 s, then 2 s (exponential backoff)", gaps)

# dead: failures logged, retried later, nobody else slowed
d = get(f"/webhooks/{hooks['dead']['id']}/deliveries", token=A)
ok(d.status == 200 and d.json["deliveries"] and all(x["outcome"] == "failed" and x["status"] is None
                                                     and x["error"] for x in d.json["deliveries"]),
   "the dead endpoint's attempts are logged as failed, with no status and the error", d.json)
row = [h for h in get("/webhooks", token=A).json["webhooks"] if h["id"] == hooks["dead"]["id"]][0]
ok(row["failed_attempts"] >= 1 and parse_ts(row["next_attempt_at"]).timestamp() > time.time() - 1,
   "…and its next attempt waits (backoff)", row)

# ---- every process on a database connection of its own ----------------------------------
# The deliverer forks one process per endpoint. Under the per-worker policy a
# process keeps its connection between transactions, and a fork copies it: a
# child that used the inherited one would interleave its protocol messages
# with the deliverer's on one session (results read by the wrong process,
# deliveries out of order, connections torn down). An endpoint that accepts
# and never answers keeps its process alive through a whole attempt, long
# enough to look at its file descriptors. (The suite runs per-request by default,
# where nothing is kept between transactions; ZS_POLICY=per-worker is where a
# shared connection would bite.)

LOG = os.path.join(ZS_VAR, "log", "zerosum.log")


def sockets_of(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                t = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if t.startswith("socket:["):
                out.add(t)
    except OSError:
        pass
    return out


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                    kids.append(int(d))
            except (OSError, ValueError):
                pass
    return kids


silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
held = []
threading.Thread(target=lambda: [held.append(silent.accept()[0]) for _ in iter(int, 1)], daemon=True).start()
r = post("/webhooks", {"url": f"http://127.0.0.1:{silent.getsockname()[1]}/hook", "events": ["*"]}, token=A)
is_(r.status, 201, "POST /webhooks (an endpoint that accepts and never answers): 201")
hooks["silent"] = r.json["webhook"]
deliverer = int(re.findall(r"webhooks: deliverer started \(pid (\d+)\)", open(LOG).read())[-1])
# every socket the deliverer and the jobs child hold from now on (their database
# connections: they have no other socket), sampled until the endpoint process is seen
seen, sampling = set(), [True]


def sample():
    while sampling[0]:
        seen.update(sockets_of(deliverer) | sockets_of(parent_of(deliverer)))
        time.sleep(0.01)


threading.Thread(target=sample, daemon=True).start()
time.sleep(0.2)
post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=atok)
ok(wait_for(lambda: len(held) >= 1, 10), "the deliverer's attempt reaches the silent endpoint")
time.sleep(0.3)
kids = [k for k in children_of(deliverer) if sockets_of(k)]
sampling[0] = False
ok(kids, "…from an endpoint process of the deliverer's, still waiting for the answer", kids)
shared = {k: sockets_of(k) & seen for k in kids}
ok(all(not v for v in shared.values()),
   "no endpoint process holds a database connection of the deliverer's or the jobs child's", shared)
# what a shared session does, as the log shows it (a BEGIN inside another process's
# transaction, a pipeline read by the wrong process, a prepared set that is not its own)
clash = re.compile(r"\] (webhooks|events) WARN: .*(there is already a transaction in progress"
                   r"|cannot exit pipeline mode|SQLSTATE 42P05)")
is_([l for l in open(LOG) if clash.search(l)][:5], [],
    "the deliverer, its endpoint processes and the publisher never share a database session")

# ---- dead endpoints never take the slots of those that answer ---------------------------
# Sixteen more endpoints that accept and never answer: once each has failed, they
# are retrying, and each attempt holds an endpoint process for the whole
# webhook_timeout_ms (5 s). Retrying endpoints may hold only a quarter of the
# deliverer's slots, so an endpoint that answers, registered now, is served at
# once instead of queueing behind them.
silent_port = silent.getsockname()[1]
for i in range(16):
    r = post("/webhooks", {"url": f"http://127.0.0.1:{silent_port}/hook/{i}", "events": ["*"]}, token=A)
    hooks[f"silent{i}"] = r.json["webhook"]
silent_ids = [h["id"] for k, h in hooks.items() if k.startswith("silent")]
post("/transfer", {"from": alice, "to": bob, "amount": 2}, token=atok)
ok(wait_for(lambda: query("SELECT count(*) FROM webhooks WHERE id = ANY(%s::uuid[]) AND attempts >= 1",
                          (silent_ids,))[0][0] == len(silent_ids), 40),
   f"all {len(silent_ids)} silent endpoints have failed once (timed out) and are retrying")
fresh = Receiver()
r = post("/webhooks", {"url": fresh.url, "events": ["transfer.created"]}, token=A)
hooks["fresh"] = r.json["webhook"]
t0 = time.time()
tid = post("/transfer", {"from": alice, "to": bob, "amount": 3}, token=atok).json["transfer"]["id"]
got = wait_for(lambda: any(json.loads(b)["data"]["transfer"]["id"] == tid for _, _, b in fresh.got), 15)
took = time.time() - t0
ok(got and took < 2.5, f"an endpoint that answers gets its event while they retry ({took:.2f} s; an "
   f"attempt at a silent one lasts 5 s)")

upto = query("SELECT pos FROM event_cursors WHERE name = 'ordered'")[0][0]
ok(wait_for(lambda: query("SELECT cursor FROM webhooks WHERE id = %s", (hooks["live"]["id"],))[0][0] >= upto, 15),
   "the healthy endpoint has caught up with those transfers")

# ---- replay, delete ---------------------------------------------------------------------

n_before = len(live.ids())
out = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), "webhook", "replay", hooks["live"]["id"],
                      "--from", str(ids[2])], env=dict(os.environ, ZS_VAR=ZS_VAR), capture_output=True, text=True)
is_(out.returncode, 0, "scripts/zerosum webhook replay: exit 0", )
ok(wait_for(lambda: len(live.ids()) >= n_before + len([i for i in ids if i >= ids[2]]), 15),
   "…the endpoint receives the range again")
is_(live.ids()[n_before:n_before + 4], [i for i in ids if i >= ids[2]][:4], "…in order, from the given event")
bad = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), "webhook", "replay", str(uuid.uuid4()), "--from", "1"],
                     env=dict(os.environ, ZS_VAR=ZS_VAR), capture_output=True, text=True)
is_(bad.returncode, 1, "…an unknown webhook: exit 1")

r = request("DELETE", f"/webhooks/{hooks['dead']['id']}", token=A, key=new_key())
is_(r.status, 200, "DELETE /webhooks/{id}: 200")
is_problem(request("DELETE", f"/webhooks/{hooks['dead']['id']}", token=A, key=new_key()), 404, "webhook_not_found",
           "…again: 404 webhook_not_found")
is_problem(get(f"/webhooks/{uuid.uuid4()}/deliveries", token=A), 404, "webhook_not_found",
           "deliveries of an unknown webhook: 404 webhook_not_found")
ok(hooks["dead"]["id"] not in [h["id"] for h in get("/webhooks", token=A).json["webhooks"]], "…and it is no longer listed")
for h in hooks.values():
    request("DELETE", f"/webhooks/{h['id']}", token=A, key=new_key())
done()
