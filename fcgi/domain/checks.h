/*
 * checks.h — the invariants /proof reports, as a table shared by everything
 * that verifies them: the live /proof (api/proof.c), the sealer, which
 * seals nothing unless every check holds in its snapshot (domain/seal.c),
 * and the full pass over all history (domain/fullpass.c).
 *
 * A check's statement (sql/queries/proof.sql, proof_<name>) answers one
 * row: observed bigint and sample text (nullable). observed is the number
 * of violating rows (expected 0) unless its description, the statement's
 * comment lines (sql_table[sql].doc), says otherwise; expected is 0 for
 * every check (a check sharing a scan reads its own pair of columns: col). Its full form (sql/queries/audit.sql, audit_<name>) answers
 * the same row over all history: the full pass runs it.
 */
#ifndef ZS_DOMAIN_CHECKS_H
#define ZS_DOMAIN_CHECKS_H

#include <stddef.h>

#include "store/sql.h"

enum check_kind {
    CHECK_EVIDENCE,   /* two facts kept independently agree */
    CHECK_CONSTRAINT, /* restates a schema constraint */
    CHECK_BOUND,      /* an operational bound: the sealer's backlog, the full pass's age.
                       * Its statement takes the bound ($1, seconds) and answers observed,
                       * sample and failing (bool); expected is the bound. Never a reason
                       * to refuse sealing. */
};

struct check {
    const char *name;
    enum check_kind kind;
    enum sql_id sql;  /* the live form: current state, sealed aggregates, unsealed rows */
    enum sql_id full; /* the full-history form (sql/queries/audit.sql, audit_<name>), or
                       * CHECK_NO_FULL: a bound on the present, with no history form */
    int col;          /* observed and sample are columns col and col + 1 of sql's row: 0,
                       * but for the checks that share one scan (several statements of one
                       * text, sql/queries/proof.sql account_checks) */
};

/* The zero value of `full` (a row that names no full form): the full pass skips the check.
 * Statement 0 is never an audit statement (sql/queries/accounts.sql comes first). */
#define CHECK_NO_FULL ((enum sql_id)0)

extern const struct check checks[];
extern const size_t checks_count;

/* "evidence", "constraint" or "bound", as /proof labels a check. */
const char *check_kind_name(enum check_kind k);

/* The check whose run of its statement answers check i on dialect d: the first in the
 * table whose statement has the same text as check i's (i itself for most). A run of
 * each distinct text, read at every check's col, answers what one run per check would
 * (one snapshot, the same text). */
size_t check_answered_by(size_t i, enum zs_dialect d);

/* Where the statement answering evidence or constraint check i comes among those checks'
 * distinct statements, in table order (the sealer queues each once): 0, 1, ... */
size_t check_slot(size_t i, enum zs_dialect d);

#endif
