/*
 * vexport.h — export-proof: collect from a zerosum URL, in one JSON bundle
 * on stdout, everything zerosum-verify --bundle needs offline: the key, the
 * latest checkpoint, every record up to it, and the inclusion (and, with
 * --since, consistency) proofs asked for. Format: docs/VERIFY.md.
 */
#ifndef ZS_VEXPORT_H
#define ZS_VEXPORT_H

#include "verify/vrun.h"

/* Write the bundle of url to stdout; the items and since come from o. Exit status (0/1). */
int vexport(const char *url, const struct vrun_opts *o);

#endif
