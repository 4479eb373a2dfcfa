-- Live events (fcgi/domain/events.c, fcgi/domain/publish.c): the outbox
-- every effect appends to in its own transaction, the publisher that gives
-- the events their one total order and hands them to the nchan streams,
-- the subscribe gate's look-ups and the purge.

-- name: events_append
-- Append event type $1 for channels $2 (space-separated) with payload $3
-- (JSON text), the $4th event of its transaction, in the transaction of
-- its effect.
INSERT INTO events (type, channels, payload, n) VALUES ($1, $2, $3, $4::int);

-- name: events_setup
-- The publisher's lease row and the cursors, created the first time.
INSERT INTO leases (name) VALUES ('events') ON CONFLICT (name) DO NOTHING;

-- name: events_cursors_setup
INSERT INTO event_cursors (name) VALUES ('ordered'), ('nchan'), ('proof')
    ON CONFLICT (name) DO NOTHING;

-- name: events_lease_take
-- Take or renew the publisher's lease as owner $1 for $2 ms: one row
-- updated means this transaction holds it (and commits only while it does).
UPDATE leases SET owner = $1, expires = clock_timestamp() + $2::integer * interval '1 millisecond'
 WHERE name = 'events' AND (owner IS NULL OR owner = $1 OR expires < clock_timestamp());

-- name: events_lease_release
UPDATE leases SET owner = NULL, expires = NULL WHERE name = 'events' AND owner = $1;

-- name: events_nchan_advance
-- As holder $2 of the lease (nothing otherwise): move the `nchan` cursor
-- to event $1, the last one a round published.
UPDATE event_cursors SET pos = $1 WHERE name = 'nchan' AND pos < $1
   AND EXISTS (SELECT 1 FROM leases WHERE name = 'events' AND owner = $2);

-- name: events_waiting
-- The publisher's idle probe (read-only, no lease): whether any event
-- waits for a position, or has one but is not yet published.
SELECT EXISTS (SELECT 1 FROM events WHERE pos IS NULL)
    OR (SELECT pos FROM event_cursors WHERE name = 'ordered')
       > (SELECT pos FROM event_cursors WHERE name = 'nchan');

-- name: events_order_held
-- As holder $1 of the lease (nothing otherwise): give the next positions
-- after the `ordered` cursor to at most $2 events without one, in the
-- order they were written (at, n, id); returns the positions given. The
-- first statement of the ordering pipeline after events_lease_take, so it
-- needs no answer from the one before it.
UPDATE events SET pos = o.pos
  FROM (SELECT e.id, c.pos + row_number() OVER (ORDER BY e.at, e.n, e.id) AS pos
          FROM (SELECT id, at, n FROM events WHERE pos IS NULL ORDER BY at, n, id
                 LIMIT $2::int) e,
               event_cursors c, leases l
         WHERE c.name = 'ordered' AND l.name = 'events' AND l.owner = $1) o
 WHERE events.id = o.id
RETURNING events.pos;

-- name: events_ordered_advance
-- As holder $1 of the lease (nothing otherwise): move the `ordered` cursor
-- to the last position given (events_order_held just gave every position
-- past it, in this transaction).
UPDATE event_cursors SET pos = (SELECT max(e.pos) FROM events e WHERE e.pos > event_cursors.pos)
 WHERE name = 'ordered'
   AND EXISTS (SELECT 1 FROM events e WHERE e.pos > event_cursors.pos)
   AND EXISTS (SELECT 1 FROM leases WHERE name = 'events' AND owner = $1);

-- name: events_unpublished
-- As holder $1 of the lease (none otherwise): at most $2 ordered events
-- after the `nchan` cursor, in order, each with that cursor. (The cursor
-- is a scalar subquery, not a join, so that it bounds the index scan of
-- events_by_pos instead of filtering every event before it.)
SELECT e.pos, e.type, e.channels, e.payload,
       to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       (SELECT pos FROM event_cursors WHERE name = 'nchan')
  FROM events e
 WHERE e.pos > (SELECT pos FROM event_cursors WHERE name = 'nchan')
   AND EXISTS (SELECT 1 FROM leases WHERE name = 'events' AND owner = $1)
 ORDER BY e.pos LIMIT $2::int;

-- name: events_published
-- Record that nchan message $2 on channel $1 carries the channel's events
-- from position $4 to $3 (one message per channel and publisher round),
-- as holder $5 of the lease (nothing otherwise).
INSERT INTO event_publications (channel, msgid, pos, first_pos)
SELECT $1::text, $2::text, $3::bigint, $4::bigint FROM leases WHERE name = 'events' AND owner = $5
    ON CONFLICT (channel, msgid) DO NOTHING;

-- name: events_forget_channel
-- Channel $1's buffer was lost or emptied by nchan before event $2 was
-- published (nginx restarted, or every message had timed out): nothing
-- older resumes any more. As holder $3 of the lease (nothing otherwise).
DELETE FROM event_publications WHERE channel = $1 AND pos < $2
   AND EXISTS (SELECT 1 FROM leases WHERE name = 'events' AND owner = $3);

-- name: events_evict_candidates
-- Room in nchan's memory (fcgi/domain/publish_room.c): at most $2
-- channels with stream message ids, least recently published first, with
-- how many ids each has; never the proof channel, nor those of the round
-- about to be published ($1, a text array).
SELECT channel, count(*) FROM event_publications
 WHERE channel <> 'proof' AND channel <> ALL($1::text[])
 GROUP BY channel ORDER BY max(pos) LIMIT $2::int;

-- name: events_evict_forget
-- As holder $3 of the lease (nothing otherwise): forget up to $2 stream
-- message ids of channels $1 (a text array) about to be deleted from
-- nchan, so the subscribe gate answers their Last-Event-IDs with resync
-- (repeated until a batch comes back short).
DELETE FROM event_publications p USING (
  SELECT channel, msgid FROM event_publications WHERE channel = ANY($1::text[]) LIMIT $2::int) old
 WHERE p.channel = old.channel AND p.msgid = old.msgid
   AND EXISTS (SELECT 1 FROM leases WHERE name = 'events' AND owner = $3);

-- name: events_last_on_channel
-- The latest message published on channel $1 and the last event it
-- carries (none: no row).
SELECT msgid, pos FROM event_publications WHERE channel = $1 ORDER BY pos DESC LIMIT 1;

-- name: events_resume
-- The subscribe gate: message $2 of channel $1, if nchan still buffers it
-- (published less than $3 seconds ago), with how many messages were
-- published on the channel after it (nchan keeps the latest
-- events_buffer messages; a row is one message).
SELECT p.pos, (SELECT count(*) FROM event_publications q WHERE q.channel = $1 AND q.pos > p.pos)
  FROM event_publications p
 WHERE p.channel = $1 AND p.msgid = $2 AND p.published_at > now() - make_interval(secs => $3::int);

-- name: events_channel_exists
-- The subscribe gate: whether the thing channel kind $1 ("lots",
-- "markets", "accounts", "proof") names by id $2 exists.
SELECT CASE $1
         WHEN 'lots' THEN EXISTS (SELECT 1 FROM lots WHERE id = $2::uuid)
         WHEN 'markets' THEN EXISTS (SELECT 1 FROM markets WHERE id = $2::uuid)
         WHEN 'accounts' THEN EXISTS (SELECT 1 FROM accounts WHERE id = $2::uuid)
         ELSE $1 = 'proof' END;

-- name: events_purge
-- Delete up to $2 published events older than $1 seconds (the jobs child
-- repeats it until a batch comes back short).
DELETE FROM events e USING (
  SELECT id FROM events
   WHERE pos <= (SELECT pos FROM event_cursors WHERE name = 'nchan')
     AND created_at < now() - make_interval(secs => $1::int)
   LIMIT $2::int) old
 WHERE e.id = old.id;

-- name: events_purge_publications
-- Delete up to $2 stream message ids older than $1 seconds (nchan no
-- longer buffers them).
DELETE FROM event_publications p USING (
  SELECT channel, msgid FROM event_publications
   WHERE published_at < now() - make_interval(secs => $1::int)
   LIMIT $2::int) old
 WHERE p.channel = old.channel AND p.msgid = old.msgid;

-- name: events_proof_status
-- Announce /proof status $1 (detail payload $2) on the proof channel when
-- it differs from the last one announced; returns a row when it did.
UPDATE event_cursors SET state = $1 WHERE name = 'proof' AND state IS DISTINCT FROM $1
RETURNING state;
