"""Live events: the outbox, the nchan streams behind the subscribe gate, and
exactly-once delivery across a dropped connection and a publisher crash.

A real SSE client (http.client reading the stream) subscribes through nginx
like a browser's EventSource: GET /events/… answered by the gate, then held
by nchan. Checked here:
  - an API call's event reaches a subscriber within a second;
  - an event is written iff its effect commits: a refused transfer writes
    none, an accepted one exactly one, in the same transaction;
  - every event has one position (the outbox order), and a channel's
    stream ids follow it;
  - Last-Event-ID after a dropped connection resumes with every later event
    exactly once, in order; an id nchan no longer buffers gets the
    documented `resync` event; a malformed one 400 invalid_last_event_id;
  - unknown channels answer 404 unknown_channel; an account's channel needs
    its owner's (or an admin's) token;
  - a publisher that died after publishing but before recording is not
    repeated by the next one, nor is a whole batch a publisher killed before
    its record left in nchan, and killing the jobs child in a burst of bids
    loses no event and repeats none.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *
from sse_client import Sse

import re
import signal
import socket

LOG = os.path.join(ZS_VAR, "log", "zerosum.log")
NCHAN_SOCK = os.path.join(ZS_VAR, "run", "nchan.sock")


def events_of(channel):
    """(pos, type) of the channel's ordered events, in order."""
    return query("SELECT pos, type FROM events WHERE pos IS NOT NULL AND"
                 " (' ' || channels || ' ') LIKE %s ORDER BY pos", (f"% {channel} %",))


def published(channel):
    return wait_for(lambda: query("SELECT count(*) FROM events WHERE pos IS NULL")[0][0] == 0
                    and query("SELECT pos FROM event_cursors WHERE name = 'nchan'")[0][0]
                    >= query("SELECT coalesce(max(pos), 0) FROM events")[0][0], 15)


def message_of(channel, pos):
    """The stream message id event pos went out in on channel (a row covers first_pos..pos)."""
    r = query("SELECT msgid FROM event_publications WHERE channel = %s"
              " AND %s BETWEEN coalesce(first_pos, pos) AND pos", (channel, pos))
    return r[0][0] if len(r) == 1 else r


seller, _ = create_account("seller")
alice, atok = create_account("alice", fund=1_000_000)
bob, btok = create_account("bob", fund=1_000_000)
carol, ctok = create_account("carol")

# ---- an API call's event within a second ---------------------------------------------

lot = create_lot(kind="english", seller=seller, start=100, increment=10, ends_in=3600)["id"]
s = Sse(f"/events/lots/{lot}")
is_(s.status, 200, "GET /events/lots/{id}: 200, held open")
ok(s.resp.getheader("content-type", "").startswith("text/event-stream"), "…as text/event-stream")
t0 = time.time()
r = place_bid(atok, lot, amount=100)
is_(r.status, 201, "a bid is accepted")
e = s.next(5)
lat = time.time() - t0
ok(e is not None and e.get("event") == "bid.accepted", "the subscriber sees bid.accepted", e)
ok(lat < 1.0, f"within a second of the API call ({lat * 1000:.0f} ms)")
if e:
    ok(re.fullmatch(r"\d+:\d+", e.get("id", "")) is not None, "the stream id is nchan's <time>:<tag>", e)
    j = e["json"]
    is_((j["type"], j["channel"], j["data"]["bid"]["id"]), ("bid.accepted", f"lots/{lot}", r.json["bid"]["id"]),
        "the data names the event, the channel and the bid")
    is_(j["data"]["bid"], r.json["bid"], "…the bid as the answer has it")
    want = {k: v for k, v in r.json["lot"].items()
            if k in ("id", "kind", "status", "seq", "ended") or (v is not None and k in (
                "high_amount", "high_bidder", "min_next_bid", "ends_at"))}
    is_(j["data"]["lot"], want, "…and of the lot what a bid moves, as the answer has it (not its fixed terms)")
    is_(query("SELECT pos FROM events WHERE type = 'bid.accepted' AND payload LIKE %s",
              (f'%{r.json["bid"]["id"]}%',)), [(j["id"],)], "its \"id\" is the event's outbox position")

# outbid: the previous leader's private channel hears of it; the lot's channel gets
# only bob's bid.accepted, which names the new leader (every event on a lot's channel is
# fanned out to each of its watchers, so it carries nothing they can read off the one before)
sa = Sse(f"/events/accounts/{alice}", token=atok)
is_(sa.status, 200, "the owner subscribes to their account's channel")
r = place_bid(btok, lot, amount=150)
is_(r.status, 201, "bob outbids alice")
got = s.drain(2, 3)
is_([x["event"] for x in got], ["bid.accepted"], "the lot channel: bob's bid.accepted, and no bid.outbid")
ok(got and got[0]["json"]["data"]["lot"]["high_bidder"] == bob and got[0]["json"]["data"]["lot"]["high_amount"] == 150,
   "…which names bob as the leader at 150", got)
is_(query("SELECT channels FROM events WHERE type = 'bid.outbid' AND payload LIKE %s AND payload LIKE %s",
          (f'%{lot}%', '%"new_amount":150%')),
    [(f"accounts/{alice}",)], "the outbox: alice's bid.outbid is on her channel alone")
e = sa.next(5)
ok(e is not None and e["event"] == "bid.outbid" and e["json"]["data"]["bidder"] == alice
   and e["json"]["data"]["amount"] == 100, "alice's channel: bid.outbid with her old amount", e)
sa.close()

# ---- an event iff its effect commits ---------------------------------------------------

# only the parties' own events count: the jobs child writes others (proof.status, a
# settlement of a lot another suite left) at any time
def parties_events():
    return query("SELECT count(*) FROM events WHERE (' ' || channels || ' ') LIKE %s"
                 " OR (' ' || channels || ' ') LIKE %s", (f"% accounts/{carol} %", f"% accounts/{alice} %"))[0][0]


before = parties_events()
r = post("/transfer", {"from": carol, "to": alice, "amount": 5}, token=ctok)
is_problem(r, 422, "insufficient_funds", "a transfer carol cannot pay is refused")
r2 = post("/transfer", {"from": alice, "to": carol, "amount": 5, "memo": "x" * 141}, token=atok)
is_problem(r2, 422, "invalid_memo", "a transfer with a bad memo is refused")
is_(parties_events(), before, "refused transfers write no event")
r = post("/transfer", {"from": alice, "to": carol, "amount": 7}, token=atok)
is_(r.status, 201, "a transfer alice can pay goes through")
tid = r.json["transfer"]["id"]
rows = query("SELECT type, channels FROM events WHERE payload LIKE %s", (f"%{tid}%",))
is_(rows, [("transfer.created", f"accounts/{alice} accounts/{carol}")],
    "…and writes exactly one transfer.created for both parties' channels")
# replaying its key writes no second event
key = new_key()
r1 = post("/transfer", {"from": alice, "to": carol, "amount": 3}, token=atok, key=key)
r2 = post("/transfer", {"from": alice, "to": carol, "amount": 3}, token=atok, key=key)
is_((r1.status, r2.status, r1.body == r2.body), (201, 201, True), "a replayed key answers the same")
is_(query("SELECT count(*) FROM events WHERE payload LIKE %s", (f'%{r1.json["transfer"]["id"]}%',))[0][0], 1,
    "…and its effect has one event")

# ---- the gate's refusals ---------------------------------------------------------------

is_problem(get("/events/nope"), 404, "not_found", "an unknown channel kind: 404 not_found (no such path)")
is_problem(get("/events/lots/not-a-uuid"), 404, "unknown_channel", "a malformed lot id: 404 unknown_channel")
is_problem(get(f"/events/lots/{uuid.uuid4()}"), 404, "unknown_channel", "a lot that does not exist: 404")
is_problem(get(f"/events/markets/{uuid.uuid4()}"), 404, "unknown_channel", "a market that does not exist: 404")
is_problem(get(f"/events/accounts/{alice}"), 401, "unauthenticated", "an account channel without a token: 401")
is_problem(get(f"/events/accounts/{alice}", token=btok), 404, "unknown_channel",
           "…with someone else's token: answered as a channel that does not exist")
is_problem(get(f"/events/accounts/{alice}", token="x.y.z"), 401, "invalid_token", "…with a bad token: 401")
sa = Sse(f"/events/accounts/{alice}", token=admin_token())
is_(sa.status, 200, "an admin may watch any account")
sa.close()
for bad in ("abc", "12", "1:2:3", "-1:0", "1:x"):
    is_problem(get(f"/events/lots/{lot}", headers={"Last-Event-ID": bad}), 400, "invalid_last_event_id",
               f"Last-Event-ID {bad!r}: 400 invalid_last_event_id")
is_problem(get(f"/events/lots/{lot}?last_event_id=zz"), 400, "invalid_last_event_id",
           "?last_event_id=zz: 400 invalid_last_event_id")

# ---- resume after a dropped connection: every later event once, in order ---------------

last = s.drain(10, 0.5)  # nothing pending
s2 = Sse(f"/events/lots/{lot}")
r = place_bid(atok, lot, amount=200)
first = s2.next(5)
ok(first is not None and first["event"] == "bid.accepted", "a second subscriber sees the next bid", first)
s2.close()
later = []
for i, (tok, amount) in enumerate([(btok, 250), (atok, 300), (btok, 350)]):
    later.append(place_bid(tok, lot, amount=amount).json["bid"]["id"])
published(f"lots/{lot}")
s3 = Sse(f"/events/lots/{lot}", last_id=first["id"])
is_(s3.status, 200, "reconnecting with Last-Event-ID is accepted")
# resuming goes on after the whole message first came in (it may have carried several events)
first_end = query("SELECT pos FROM event_publications WHERE channel = %s AND msgid = %s",
                  (f"lots/{lot}", first["id"]))[0][0]
want = [p for p, _ in events_of(f"lots/{lot}") if p > first_end]
got = s3.drain(len(want), 5)
extra = s3.next(1.0)
is_([g["json"]["id"] for g in got], want, "every later event once, in outbox order")
ok(extra is None, "…and nothing more", extra)
ids = [g["id"] for g in got]
# events of one message (a `batch`) share its id; the messages' ids increase
ok(all(tuple(map(int, a.split(":"))) <= tuple(map(int, b.split(":"))) for a, b in zip(ids, ids[1:]))
   and ids and tuple(map(int, first["id"].split(":"))) < tuple(map(int, ids[0].split(":"))),
   "the stream ids increase with the outbox order", ids)
is_([g["json"]["data"]["bid"]["id"] for g in got if g["event"] == "bid.accepted"], later,
    "the three bids made while disconnected")
s3.close()
# the same with ?last_event_id= (WebSocket clients cannot set headers)
s4 = Sse(f"/events/lots/{lot}", query_id=first["id"])
is_([g["json"]["id"] for g in s4.drain(len(want), 5)], want, "?last_event_id= resumes the same way")
s4.close()

# an id nchan no longer has: the documented resync event, with the latest id to go on from
r = get(f"/events/lots/{lot}", headers={"Last-Event-ID": "1:0"})
is_(r.status, 200, "a Last-Event-ID the buffer no longer holds: 200 …")
ok(r.headers.get("content-type", "").startswith("text/event-stream") and "event: resync" in r.body
   and f'"channel":"lots/{lot}"' in r.body, "… with the resync event, then the stream ends", r.body)
latest = query("SELECT msgid FROM event_publications WHERE channel = %s ORDER BY pos DESC LIMIT 1",
               (f"lots/{lot}",))[0][0]
ok(f"id: {latest}\n" in r.body, "…which sets the client's id to the channel's latest", r.body)
r = get(f"/events/lots/{lot}", headers={"Last-Event-ID": "1:0", "Upgrade": "websocket", "Connection": "Upgrade"})
ok(r.status in (409, 400), "a WebSocket handshake with a lost id is refused (409 resync_required)", r)

# ---- the proof channel -----------------------------------------------------------------

sp = Sse("/events/proof")
is_(sp.status, 200, "GET /events/proof: 200 for anyone")
sp.close()
ok(query("SELECT count(*) FROM events WHERE type = 'proof.status'")[0][0] >= 1,
   "the jobs child announced the /proof status (proof.status)")


# ---- a publisher that died between publishing and recording ----------------------------

def publisher_pid():
    pids = re.findall(r"events: publisher started \(pid (\d+)\)", open(LOG).read())
    return int(pids[-1]) if pids else None


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        s_ = f.read()
    return int(s_[s_.rindex(")") + 2:].split()[1])


def steal_lease(owner):
    """Take the publisher's lease whoever holds it, as a publisher that found it lapsed would:
    the one that held it can no longer record anything (its renewals fail)."""
    return query("UPDATE leases SET owner = %s, expires = clock_timestamp() + interval '1 hour'"
                 " WHERE name = 'events' RETURNING name", (owner,))


def nchan_publish(channel, body):
    c = http.client.HTTPConnection("localhost")
    c.sock = socket.socket(socket.AF_UNIX)
    c.sock.connect(NCHAN_SOCK)
    c.request("POST", f"/pub/{channel}", body=body, headers={"Accept": "application/json",
                                                              "X-EventSource-Event": "bid.accepted"})
    return json.loads(c.getresponse().read())


published(f"lots/{lot}")
s5 = Sse(f"/events/lots/{lot}")
ok(steal_lease("test-freeze"), "the test takes the publisher's lease (the publisher stops)")
time.sleep(0.5)  # its round in flight, if any, ends
r = place_bid(atok, lot, amount=400)
is_(r.status, 201, "a bid while the publisher is held")
# The publisher's ordering pipeline commits even without the lease (it cannot wait for the
# lease's answer): every statement after the lease must then act on nothing.
time.sleep(0.3)  # several of its polls
is_(query("SELECT count(*) FROM events WHERE pos IS NULL AND payload LIKE %s",
          (f'%{r.json["bid"]["id"]}%',))[0][0], 1,
    "a publisher without the lease gives no event a position")
# As a publisher would: order it, publish it to the channel, then die before recording it.
with db() as conn, conn.cursor() as cur:
    cur.execute("SELECT pos FROM event_cursors WHERE name = 'ordered'")
    base = cur.fetchone()[0]
    cur.execute("UPDATE events SET pos = %s WHERE pos IS NULL AND type = 'bid.accepted' AND payload LIKE %s"
                " RETURNING type, payload, to_char(created_at AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", (base + 1, f'%{r.json["bid"]["id"]}%'))
    typ, payload, at = cur.fetchone()
    cur.execute("UPDATE event_cursors SET pos = %s WHERE name = 'ordered'", (base + 1,))
    conn.commit()
msg = '{"id":%d,"type":"%s","channel":"lots/%s","created_at":"%s","data":%s}' % (base + 1, typ, lot, at, payload)
nchan_publish(f"lots/{lot}", msg)
nchan_publish(f"accounts/{alice}", msg.replace(f"lots/{lot}", f"accounts/{alice}"))
e = s5.next(5)
ok(e is not None and e["json"]["id"] == base + 1, "the subscriber got the event the dead publisher sent", e)
pid = publisher_pid()
jobs = parent_of(pid)
os.kill(jobs, signal.SIGKILL)
ok(wait_for(lambda: publisher_pid() != pid, 20), "the jobs child (killed) is replaced, with a new publisher")
query("UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'events' AND owner = 'test-freeze'")
r = place_bid(btok, lot, amount=450)
got = s5.drain(1, 10)
published(f"lots/{lot}")
is_([g["json"]["id"] for g in got][:1], [p for p, _ in events_of(f"lots/{lot}") if p > base + 1][:1],
    "the next event follows at once: the new publisher recorded the dead one's instead of repeating it")
ok(wait_for(lambda: "recorded, not published again" in open(LOG).read(), 5),
   "…as its log says", None)
s5.close()

# ---- kill -9 the jobs child in a burst of bids: none lost, none repeated ---------------

lot2 = create_lot(kind="english", seller=seller, start=10, increment=1, ends_in=3600)["id"]
s6 = Sse(f"/events/lots/{lot2}")
results = []


def burst():
    for i in range(30):
        results.append(place_bid(atok if i % 2 == 0 else btok, lot2, amount=10 + i).status)


th = threading.Thread(target=burst)
th.start()
time.sleep(0.3)
pid = publisher_pid()
os.kill(parent_of(pid), signal.SIGKILL)
th.join()
is_(results, [201] * 30, "30 bids accepted while the jobs child was killed")
published(f"lots/{lot2}")
want = [p for p, _ in events_of(f"lots/{lot2}")]
got = s6.drain(len(want), 20)
extra = s6.next(1.0)
is_([g["json"]["id"] for g in got], want, f"the subscriber got all {len(want)} events once, in order")
ok(extra is None, "…and no repeat", extra)
s6.close()

# ---- a round's events for a channel go out as one message: `batch` -------------------
# nchan's cost is per message fanned out, so a publisher round sends each channel ONE
# message with all of its events of the round. The test holds the publisher back (its
# lease) while bids write several events, so that its next round carries them all.

def held_burst(bids):
    """Place bids [(token, lot, amount)] while the publisher is held; then let it go."""
    ok(steal_lease("test-burst"), "the test holds the publisher back (its lease)")
    time.sleep(0.5)  # its round in flight, if any, ends
    for tok, lt, amount in bids:
        is_(place_bid(tok, lt, amount=amount).status, 201, f"bid {amount} accepted while held")
    query("UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'events' AND owner = 'test-burst'")


lot4 = create_lot(kind="english", seller=seller, start=10, increment=1, ends_in=3600)["id"]
ch4 = f"lots/{lot4}"
s9 = Sse(f"/events/{ch4}")
is_(place_bid(atok, lot4, amount=10).status, 201, "a first bid on another lot")
e1 = s9.next(5)
ok(e1 is not None and (e1["message"], e1["size"], e1["json"]["type"]) == ("bid.accepted", 1, "bid.accepted"),
   "a round with one event for a channel sends it as ever: event bid.accepted, the event as data", e1)
published(ch4)
held_burst([(btok if i % 2 == 0 else atok, lot4, 11 + i) for i in range(8)])
published(ch4)
burst1 = [p for p, _ in events_of(ch4) if p > e1["json"]["id"]]
got = s9.drain(len(burst1), 10)
is_([g["json"]["id"] for g in got], burst1, f"the subscriber gets the burst's {len(burst1)} events, in order")
is_({(g["message"], g["size"], g["id"]) for g in got}, {("batch", len(burst1), got[0]["id"] if got else None)},
    "…in ONE message: event `batch`, data {\"type\":\"batch\",\"events\":[…]}, one id")
ok(len(burst1) >= 7 and all(g["json"]["channel"] == ch4 for g in got),
   "…each inner event as a single one would be (8 bid.accepted)", [g["event"] for g in got])
b1 = got[0]["id"] if got else None
is_(query("SELECT coalesce(first_pos, pos), pos FROM event_publications WHERE channel = %s AND msgid = %s",
          (ch4, b1)), [(burst1[0], burst1[-1])] if burst1 else [],
    "event_publications: one row for the message, covering its first to its last event")
sa = Sse(f"/events/accounts/{alice}", token=atok)
held_burst([(btok, lot4, 20), (atok, lot4, 21), (btok, lot4, 22)])
published(ch4)
burst2 = [p for p, _ in events_of(ch4) if p > burst1[-1]]
got2 = s9.drain(len(burst2), 10)
is_([g["json"]["id"] for g in got2], burst2, "a second burst: the next message, its events in order")
ok(got2 and len({g["id"] for g in got2}) == 1 and got2[0]["id"] != b1, "…one message, a new id", got2)
mine = [p for p, _ in events_of(f"accounts/{alice}") if p > burst1[-1]]
gota = sa.drain(len(mine), 10)
is_([g["json"]["id"] for g in gota], mine, "alice's own channel gets her share of the round, in order")
ok(all(g["json"]["channel"] == f"accounts/{alice}" for g in gota), "…each event naming her channel", gota)
sa.close()
# resume from a batch message's id: after the whole message, no gap and no duplicate
s10 = Sse(f"/events/{ch4}", last_id=b1)
is_([g["json"]["id"] for g in s10.drain(len(burst2), 5)], burst2,
    "Last-Event-ID of a batch message: every event after that message, once, in order")
extra = s10.next(1.0)
ok(extra is None, "…and nothing more", extra)
s10.close()
s11 = Sse(f"/events/{ch4}", last_id=e1["id"])
is_([g["json"]["id"] for g in s11.drain(len(burst1) + len(burst2), 5)], burst1 + burst2,
    "Last-Event-ID of the message before it: both bursts' events, once, in order")
extra = s11.next(1.0)
ok(extra is None, "…and nothing more", extra)
s11.close()
s9.close()

# ---- a publisher killed mid-batch: its messages are recorded, not published again ------
# The publisher publishes a round's whole batch to nchan, then records it in one
# transaction. The test makes that moment deterministic: it holds the publisher back
# (its lease) while bids write several events, locks the `nchan` cursor's row so the
# batch's record waits, lets the publisher go, sees the whole batch arrive unrecorded,
# and kills the publisher there. The next one must find the k messages in nchan.

def dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


lot3 = create_lot(kind="english", seller=seller, start=10, increment=1, ends_in=3600)["id"]
s7 = Sse(f"/events/lots/{lot3}")
is_(place_bid(atok, lot3, amount=10).status, 201, "a first bid on a new lot")
e0 = s7.next(5)
ok(e0 is not None and e0.get("event") == "bid.accepted", "…its event is delivered (and recorded)", e0)
published(f"lots/{lot3}")
ok(steal_lease("test-hold"), "the test holds the publisher back (its lease)")
for i in range(8):
    is_(place_bid(btok if i % 2 == 0 else atok, lot3, amount=11 + i).status, 201, f"bid {i + 2} accepted")
hold = db()
hold.autocommit = False
hcur = hold.cursor()
hcur.execute("SELECT pos FROM event_cursors WHERE name = 'nchan' FOR UPDATE")
cursor_before = hcur.fetchone()[0]
query("UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'events' AND owner = 'test-hold'")
ok(wait_for(lambda: query("SELECT count(*) FROM events WHERE pos IS NULL")[0][0] == 0, 10),
   "the publisher orders the waiting events (one round)")
batch = [p for p, _ in events_of(f"lots/{lot3}") if p > e0["json"]["id"]]
ok(len(batch) >= 7, f"the lot's batch: {len(batch)} events (8 bid.accepted)")
got = s7.drain(len(batch), 10)
is_([g["json"]["id"] for g in got], batch, "the publisher published the whole batch to nchan before recording any")
is_(query("SELECT pos FROM event_cursors WHERE name = 'nchan'")[0][0], cursor_before,
    "…and has recorded none of it: its record waits on the test's lock")
pid = publisher_pid()
os.kill(pid, signal.SIGKILL)
ok(wait_for(lambda: dead(pid), 10), "the publisher is killed mid-batch")
hold.rollback()
hold.close()
query("UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'events' AND owner = %s", (f"events-{pid}",))
ok(wait_for(lambda: publisher_pid() != pid, 20), "a new publisher starts")
ok(wait_for(lambda: query("SELECT pos FROM event_cursors WHERE name = 'nchan'")[0][0] >= batch[-1], 20),
   "the new publisher records the batch")
is_([message_of(f"lots/{lot3}", p) for p in batch], [g["id"] for g in got],
    "…under the message ids nchan gave the dead publisher's messages (read back, not published again)")
is_([(g["message"], g["size"]) for g in got[:1]], [("batch", len(batch))],
    "…the dead publisher's round was one `batch` message on the lot's channel")
is_(place_bid(btok, lot3, amount=100).status, 201, "a bid after the recovery")
published(f"lots/{lot3}")
after = [p for p, _ in events_of(f"lots/{lot3}") if p > batch[-1]]
nxt = s7.drain(len(after), 10)
extra = s7.next(1.0)
is_([g["json"]["id"] for g in nxt], after, "the live subscriber's next events are the new bid's: no repeat")
ok(extra is None, "…and nothing more", extra)
s8 = Sse(f"/events/lots/{lot3}", last_id=e0["id"])
is_(s8.status, 200, "a subscriber resuming from before the batch (Last-Event-ID)")
got8 = s8.drain(len(batch) + len(after), 10)
extra = s8.next(1.0)
is_([g["json"]["id"] for g in got8], batch + after, "…gets every later event exactly once, in order")
ok(extra is None, "…and no repeat", extra)
s7.close()
s8.close()

# ---- retention -------------------------------------------------------------------------

ok(query("SELECT count(*) FROM events WHERE pos IS NULL")[0][0] == 0, "no event is left unordered")
ok(query("SELECT count(*) = count(DISTINCT pos) FROM events")[0][0], "positions are unique")

# The purge runs every jobs_interval_ms: with nothing old enough it must read
# nothing, however long the outbox (it walked all of it before
# events_by_age). 50,000 published events and stream ids, none past
# retention, in a transaction rolled back: the purge's own statements read
# at most a handful of rows.
table = {t["name"]: t["postgres"] for t in json.loads(
    subprocess.run([ZS_BIN, "sql"], check=True, capture_output=True, text=True).stdout)}


def rows_read(plan):
    """Rows every node of an EXPLAIN ANALYZE (JSON) plan produced or filtered out."""
    n = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
    return n + sum(rows_read(p) for p in plan.get("Plans", []))


conn = db()
conn.autocommit = False
with conn.cursor() as cur:
    cur.execute("INSERT INTO events (type, channels, payload, n, pos)"
                " SELECT 'test.purge', 'proof', '{}', 1, m + g FROM generate_series(1, 50000) g,"
                " (SELECT coalesce(max(pos), 0) m FROM events) x")
    cur.execute("UPDATE event_cursors SET pos = (SELECT max(pos) FROM events) WHERE name = 'nchan'")
    cur.execute("INSERT INTO event_publications (channel, msgid, pos)"
                " SELECT 'proof', 'purge:' || g, g FROM generate_series(1, 50000) g")
    cur.execute("ANALYZE events")
    cur.execute("ANALYZE event_publications")
    for name, params in (("events_purge", ("345600", "500")), ("events_purge_publications", ("3660", "500"))):
        sql = table[name].strip().rstrip(";").replace("$1", f"'{params[0]}'").replace("$2", f"'{params[1]}'")
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0][0]["Plan"]
        ok(rows_read(plan) < 100, f"{name} with nothing past retention reads {rows_read(plan)} rows of 50,000+",
           json.dumps(plan)[:1500])
conn.rollback()
conn.close()
s.close()
done()
