/*
 * sql.h — the named statement table.
 *
 * Every SQL statement the daemon sends lives in sql/queries/<domain>.sql
 * under a `-- name:` header; scripts/gen-sql turns those files into
 * sql_table.h (enum sql_id, one SQL_<NAME> per statement) and sql_table.c
 * (the texts, per dialect) at build time. C code names a statement by its
 * enum and never holds SQL text of its own, so a reviewer can read, EXPLAIN
 * and time any statement by name (scripts/zerosum sql-explain NAME).
 */
#ifndef ZS_SQL_H
#define ZS_SQL_H

#include "config.h"
#include "sql_table.h"

struct sql_def {
    const char *name; /* the -- name: of the block */
    const char *file; /* the sql/queries/ file it comes from */
    int nparams;      /* $1..$n */
    const char *text; /* the postgres text (also dsql's, unless below) */
    const char *dsql; /* a dsql variant, or NULL when the text is shared */
    const char *doc;  /* the block's comment lines joined by single spaces ("" if none) */
};

extern const struct sql_def sql_table[SQL__COUNT];

/* The text of statement id for dialect d (never NULL for a valid id). */
const char *sql_text(enum sql_id id, enum zs_dialect d);

/* The statement's name, for logs ("?" for an invalid id). */
const char *sql_name(enum sql_id id);

/* The statement called name, or -1 if there is none. */
int sql_lookup(const char *name);

#endif
