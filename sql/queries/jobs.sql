-- The periodic-jobs child's own statements (fcgi/jobs.c): the purge of
-- expired idempotency keys and the stampede runs queued by POST /proof/runs.

-- name: jobs_purge_keys
-- Delete up to $2 answered idempotency keys older than $1 seconds (the
-- child repeats it until a batch comes back short).
DELETE FROM idempotency_keys k USING (
  SELECT caller, key FROM idempotency_keys
   WHERE state = 'done' AND created_at < now() - make_interval(secs => $1::int)
   LIMIT $2::int) old
 WHERE k.caller = old.caller AND k.key = old.key;

-- name: jobs_run_claim
-- Take the oldest queued stampede run (none: no row).
UPDATE stampede_runs SET status = 'running', started_at = now()
 WHERE id = (SELECT id FROM stampede_runs WHERE status = 'queued'
             ORDER BY created_at LIMIT 1)
 RETURNING id, scenario, n, coalesce(k::text, '');

-- name: jobs_run_finish
-- Record run $1's outcome: status $2, summary $3 (JSON text).
UPDATE stampede_runs SET status = $2, summary = $3, finished_at = now() WHERE id = $1;

-- name: jobs_run_fail_running
-- At the child's start: every run still running was interrupted by a
-- restart ($1 is NULL; $2, $3 as for jobs_run_finish).
UPDATE stampede_runs SET status = $2, summary = $3, finished_at = now()
 WHERE status = 'running' AND $1::uuid IS NULL;
