/*
 * witness.h — hand each new checkpoint to a witness: an outside party that
 * keeps every signed checkpoint it is shown, so that the operator cannot
 * later show anyone a history that does not extend it (docs/VERIFY.md,
 * "Witnessing").
 *
 * Setting `witness_dir` (empty: no witness). After each run of seals the
 * jobs child writes the latest checkpoint to <dir>/checkpoints/<tree size>
 * and <dir>/latest (each written to a temporary name and renamed, 0644),
 * and when <dir> is a git work tree commits both, so the witness's
 * repository records every checkpoint it was handed, in order.
 */
#ifndef ZS_DOMAIN_WITNESS_H
#define ZS_DOMAIN_WITNESS_H

#include <stdint.h>

#include "config.h"

/*
 * Give the latest checkpoint to cfg->witness_dir if it is newer than the
 * one given last (*last_size, updated). 1 written, 0 nothing new (or no
 * witness set), -1 on an error (logged; the next call tries again).
 */
int witness_latest(const struct zs_config *cfg, int64_t *last_size);

#endif
