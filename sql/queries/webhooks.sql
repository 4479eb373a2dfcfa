-- Webhooks (fcgi/api/webhooks.c, fcgi/domain/webhook.c): the admin's
-- endpoints and the deliverer's per-endpoint cursor, retries and log.

-- name: webhook_create
-- Register endpoint $1 (url $2, events $3, secret $4, by $5); it is
-- delivered the events ordered after now.
INSERT INTO webhooks (id, url, events, secret, created_by, cursor)
VALUES ($1, $2, $3, $4, $5, (SELECT pos FROM event_cursors WHERE name = 'ordered'))
RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), cursor;

-- name: webhook_list
-- Every endpoint that is not deleted, oldest first (no secrets).
SELECT id, url, events, cursor, attempts,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       to_char(next_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  FROM webhooks WHERE deleted_at IS NULL ORDER BY created_at, id;

-- name: webhook_delete
-- Delete endpoint $1 (it stops being delivered); returns it if it was live.
UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id;

-- name: webhook_exists
SELECT 1 FROM webhooks WHERE id = $1;

-- name: webhook_deliveries
-- Endpoint $1's latest $2 delivery attempts, newest first.
SELECT pos, type, attempt, outcome, status, error, duration_ms,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY at DESC, id LIMIT $2::int;

-- name: webhook_due
-- The deliverer: at most $1 live endpoints whose next attempt is due, and
-- whether each is retrying (its last attempt failed).
SELECT id, attempts > 0 FROM webhooks WHERE deleted_at IS NULL AND next_at <= now() ORDER BY next_at LIMIT $1::int;

-- name: webhook_next
-- Endpoint $1's state and its next event: the first published event after
-- its cursor whose type it subscribed to (none: no event columns).
SELECT w.url, w.secret, w.attempts, w.cursor,
       coalesce(extract(epoch FROM now() - w.failing_since), 0)::bigint,
       e.pos, e.type, e.payload,
       to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  FROM webhooks w
  LEFT JOIN LATERAL (
       SELECT pos, type, payload, created_at FROM events
        WHERE pos > w.cursor AND pos <= (SELECT pos FROM event_cursors WHERE name = 'ordered')
          AND (w.events = '*' OR position(' ' || type || ' ' IN ' ' || w.events || ' ') > 0)
        ORDER BY pos LIMIT 1) e ON true
 WHERE w.id = $1 AND w.deleted_at IS NULL;

-- name: webhook_done
-- Endpoint $1 is past event $2 (delivered, or given up): the next one is due now.
UPDATE webhooks SET cursor = $2, attempts = 0, failing_since = NULL, next_at = now()
 WHERE id = $1 AND cursor < $2;

-- name: webhook_idle
-- Endpoint $1 has nothing to deliver: look again in $2 ms.
UPDATE webhooks SET next_at = now() + $2::integer * interval '1 millisecond' WHERE id = $1;

-- name: webhook_retry
-- Attempt $2 at the event after endpoint $1's cursor failed: retry in $3 seconds.
UPDATE webhooks SET attempts = $2, failing_since = coalesce(failing_since, now()),
       next_at = now() + make_interval(secs => $3::int)
 WHERE id = $1;

-- name: webhook_log
-- Log attempt $5 of event $3 ($4) to endpoint $2 as delivery $1: outcome
-- $6, HTTP status $7, error $8, $9 ms.
INSERT INTO webhook_deliveries (id, webhook_id, pos, type, attempt, outcome, status, error, duration_ms)
VALUES ($1, $2, $3, $4, $5::int, $6, $7::int, $8, $9::int);

-- name: webhook_replay
-- `zerosum webhook replay`: endpoint $1 delivers again from the event after
-- position $2 (its retry state cleared). Returns it when it exists.
UPDATE webhooks SET cursor = $2, attempts = 0, failing_since = NULL, next_at = now()
 WHERE id = $1 AND deleted_at IS NULL RETURNING id;
