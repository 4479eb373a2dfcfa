/*
 * jobs.h — the periodic-jobs child: work nobody asks for, done on a clock.
 */
#ifndef ZS_JOBS_H
#define ZS_JOBS_H

#include "config.h"

/* Run the jobs every cfg->jobs_interval_ms until SIGQUIT/SIGTERM. Never returns. */
void jobs_main(const struct zs_config *cfg) __attribute__((noreturn));

/*
 * Delete at most cfg->idempotency_purge_batch expired idempotency keys in one
 * transaction (small batches keep DSQL's 3,000-row limit and never hold
 * locks long). Returns the number deleted, or -1 on failure.
 */
int jobs_purge_idempotency_keys(const struct zs_config *cfg);

#endif
