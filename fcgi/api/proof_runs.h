/*
 * proof_runs.h — the stampede runs of /proof (proof_runs.c).
 */
#ifndef ZS_PROOF_RUNS_H
#define ZS_PROOF_RUNS_H

#include <json-c/json.h>
#include <libpq-fe.h>

/*
 * Row i of a stampede run query as JSON: id, scenario, n, k, status,
 * summary (whole for an admin, full; else its numbers and verdicts only),
 * created_at, then started_at when with_started, then finished_at.
 */
struct json_object *proof_run_json(PGresult *res, int i, int full, int with_started);

#endif
