"""Live events when nchan's shared memory fills: the publisher evicts the
channels least recently published and delivery goes on.

nginx is reloaded with 2 MiB for nchan (ZS_NCHAN_SHM) and the outbox gets
1,500 events of ~2.5 KB on as many account channels (~6 MB: three times the
zone). Without eviction nchan refuses messages (507, or 500 on a new
channel) and the in-order publisher stalls every channel until old messages
time out an hour later. Checked here:
  - every event is published, each once, in a bounded time;
  - a channel published before the flood is evicted: its stream ids are
    forgotten, its open stream is closed, and a reconnection with its
    Last-Event-ID is told to resync (nothing is skipped silently);
  - the channels published last keep their messages, and resume;
  - a subscriber of an evicted channel gets its next event;
  - nchan's memory ends below the zone's size.
nginx is reloaded with its usual size afterwards, which empties nchan: a
Last-Event-ID still recorded but no longer in nchan is told to resync.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *
from sse_client import Sse

import socket

LOG = os.path.join(ZS_VAR, "log", "zerosum.log")
NCHAN_SOCK = os.path.join(ZS_VAR, "run", "nchan.sock")
FLOOD = 1500


def nchan(method, path):
    """One request on nchan's publisher socket: (status, body)."""
    c = http.client.HTTPConnection("localhost", timeout=10)
    c.sock = socket.socket(socket.AF_UNIX)
    c.sock.connect(NCHAN_SOCK)
    c.request(method, path, headers={"Accept": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def room():
    """nchan's stub status: stored messages, and memory used and its limit in KiB."""
    _, body = nchan("GET", "/status")
    f = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
    return {"stored": int(f["stored messages"]), "used": int(f["shared memory used"].rstrip("K")),
            "limit": int(f["shared memory limit"].rstrip("K"))}


def nchan_cursor():
    return query("SELECT pos FROM event_cursors WHERE name = 'nchan'")[0][0]


def all_published():
    return (query("SELECT count(*) FROM events WHERE pos IS NULL")[0][0] == 0
            and nchan_cursor() >= query("SELECT coalesce(max(pos), 0) FROM events")[0][0])


def restore():
    stack("restart", "nginx")


usual = room()["limit"]
watch_from = os.path.getsize(LOG)
atexit.register(restore)
r = stack("restart", "nginx", env={"ZS_NCHAN_SHM": "2M"})
is_(r.returncode, 0, "nginx reloads with ZS_NCHAN_SHM=2M")
is_(room()["limit"], 2048, "nchan's zone is 2048K (from %dK)" % usual)

# ---- a watched channel, published before the flood ---------------------------------------

alice, atok = create_account("alice", fund=100_000)
bob, btok = create_account("bob")
ok(wait_for(all_published, 15), "the outbox is published before the flood")
s = Sse(f"/events/accounts/{bob}", token=btok)
is_(s.status, 200, "bob subscribes to his account's stream")
t = post("/transfer", {"from": alice, "to": bob, "amount": 5}, token=atok)
is_(t.status, 201, "alice pays bob")
seen = [e for e in s.drain(3, 5) if e["event"] == "transfer.created"
        and e["json"]["data"]["transfer"]["id"] == t.json["transfer"]["id"]]
ok(len(seen) == 1, "bob's stream delivers the transfer", seen)
bob_id = seen[0]["id"] if seen else "1:0"
ok(wait_for(lambda: query("SELECT count(*) FROM event_publications WHERE channel = %s",
                          (f"accounts/{bob}",))[0][0] >= 1, 10),
   "bob's stream id is recorded (the gate would resume it)")

# ---- the flood ----------------------------------------------------------------------------

log_at = os.path.getsize(LOG)
query("INSERT INTO events (type, channels, payload, n)"
      " SELECT 'test.fill', 'accounts/' || gen_random_uuid(), json_build_object('pad', repeat('x', 2500))::text, 1"
      "   FROM generate_series(1, %s)", (FLOOD,))
last_pos_channel = None
t0 = time.time()
flowed = wait_for(all_published, 90, interval=0.25)
took = time.time() - t0
ok(flowed, f"all {FLOOD} events are published ({took:.1f} s; without eviction it stalls)",
   {"cursor": nchan_cursor(), "room": room()})
with open(LOG) as f:
    f.seek(log_at)
    tail = f.read()
evictions = [line for line in tail.splitlines() if "evicted" in line]
ok(evictions, "the publisher evicted channels (its log says so)", tail[-2000:])
diag(evictions[:3])
flood = query("SELECT channel FROM event_publications WHERE channel IN"
              " (SELECT channels FROM events WHERE type = 'test.fill')")
dup = query("SELECT channel, count(*) FROM event_publications WHERE channel IN"
            " (SELECT channels FROM events WHERE type = 'test.fill') GROUP BY channel HAVING count(*) > 1")
is_(dup, [], "no flood event was published twice")
ok(0 < len(flood) < FLOOD, f"the latest flood channels keep their stream ids ({len(flood)} of {FLOOD})")

# ---- the evicted channel: closed, and told to resync --------------------------------------

is_(query("SELECT count(*) FROM event_publications WHERE channel = %s", (f"accounts/{bob}",))[0][0], 0,
    "bob's channel (least recently published) was evicted: its stream ids are forgotten")
status, body = nchan("GET", f"/pub/accounts/{bob}")
ok(status == 404 or (status == 200 and json.loads(body).get("messages") == 0),
   "…and nchan holds none of its messages", body)
ok(s.ended.wait(10), "bob's open stream is closed by the eviction")
r = get(f"/events/accounts/{bob}", token=btok, headers={"Last-Event-ID": bob_id})
ok(r.status == 200 and "event: resync" in r.body, "his reconnection with the last id is told to resync", r.body)

# ---- the latest channels: kept, and resumable ---------------------------------------------

last = query("SELECT e.channels, p.msgid FROM events e JOIN event_publications p ON p.channel = e.channels"
             " WHERE e.type = 'test.fill' ORDER BY e.pos DESC LIMIT 1")
ok(last, "the last flood event's channel has its stream id")
if last:
    ch, msgid = last[0]
    status, body = nchan("GET", f"/pub/{ch}")
    ok(status == 200 and json.loads(body).get("messages") == 1, "…and nchan still holds its message", body)

# ---- delivery goes on, on an evicted channel too ------------------------------------------

s2 = Sse(f"/events/accounts/{bob}", token=btok)
is_(s2.status, 200, "bob subscribes again, without an id")
t2 = post("/transfer", {"from": alice, "to": bob, "amount": 7}, token=atok)
e2 = [e for e in s2.drain(2, 5) if e["event"] == "transfer.created"]
ok(e2 and e2[-1]["json"]["data"]["transfer"]["id"] == t2.json["transfer"]["id"],
   "his next transfer reaches him", e2)
if e2:
    s3 = Sse(f"/events/accounts/{bob}", token=btok, last_id=e2[-1]["id"])
    is_(s3.status, 200, "…and its id resumes (no resync)")
    s3.close()
s2.close()
used = room()
ok(used["used"] < used["limit"], f"nchan's memory ends below its zone ({used['used']}K of {used['limit']}K)")

# ---- back to the usual size ---------------------------------------------------------------

atexit.unregister(restore)
r = stack("restart", "nginx")
ok(r.returncode == 0 and room()["limit"] == usual, f"nginx reloads with its usual {usual}K")
ok(wait_for(all_published, 15), "the outbox is still published after the reload")

# ---- after nginx restarts, nchan is empty: a recorded id is not resumed ------------------
# The reload emptied nchan, and nothing has been published on bob's channel
# since (which would make the publisher forget its older ids): his last id
# is still recorded. nchan, asked to resume from an id it does not hold,
# would wait for its next message and skip whatever it lost; the gate asks
# nchan first.
last_bob = e2[-1]["id"] if e2 else "1:0"
is_(query("SELECT count(*) FROM event_publications WHERE channel = %s AND msgid = %s",
          (f"accounts/{bob}", last_bob))[0][0], 1, "bob's last id is still recorded after the reload")
status, body = nchan("GET", f"/pub/accounts/{bob}")
ok(status == 404 or (status == 200 and json.loads(body).get("messages") == 0),
   "…but nchan, reloaded, holds none of his messages", body)
s4 = Sse(f"/events/accounts/{bob}", token=btok, last_id=last_bob)
first = s4.next(3)
ok(s4.status == 200 and first is not None and first.get("event") == "resync",
   "his reconnection with it is told to resync", first)
s4.close()
# EventSource reconnects with the id the resync set (none: without one); the
# gate must let that through, not answer resync again at every reconnection
again = (first or {}).get("id") or None
is_(again, None, "…which clears his id (nchan holds no message of his to go on from)")
s5 = Sse(f"/events/accounts/{bob}", token=btok, last_id=again)
t3 = post("/transfer", {"from": alice, "to": bob, "amount": 3}, token=atok)
e5 = [e for e in s5.drain(3, 5) if e["event"] in ("transfer.created", "resync")]
ok(s5.status == 200 and e5 and e5[-1]["event"] == "transfer.created"
   and e5[-1]["json"]["data"]["transfer"]["id"] == t3.json["transfer"]["id"],
   "his reconnection as EventSource makes it opens the stream and gets his next transfer", e5)
s5.close()

# Reloads retire nginx's workers with an exit code, not a signal: the jobs
# child's nginx watch (docs/OPERATIONS.md, "nginx") must take none of this
# test's two reloads for a death and reload nginx again.
with open(LOG, errors="replace") as f:
    f.seek(watch_from)
    watch_lines = [l.rstrip() for l in f if " jobs " in l and " nginx: " in l]
is_(watch_lines, [], "the jobs child took none of the reloads for a dead worker")
done()
