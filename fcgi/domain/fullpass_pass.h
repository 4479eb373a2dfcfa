/*
 * fullpass_pass.h — what the parts of one full pass share (internal to
 * domain/fullpass*.c): the pass's two connections, its counters, its
 * findings, and the statement helpers that stream a named statement in
 * single-row mode with the pass's yields and progress reports.
 */
#ifndef ZS_DOMAIN_FULLPASS_PASS_H
#define ZS_DOMAIN_FULLPASS_PASS_H

#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "config.h"
#include "domain/fullpass.h"
#include "store/sql.h"

#define FULLPASS_MAX_FINDINGS 16

/* One failed check: how many rows, which (ids), and the first detail. */
struct fullpass_finding {
    char check[64];
    int64_t count;
    char sample[FULLPASS_SAMPLE_MAX];
    int nsample;
};

struct fullpass {
    const struct zs_config *cfg;
    const char *id;
    char owner[64]; /* the lease owner: fullpass-<pid>-<id> */
    PGconn *snap;   /* the snapshot: every read */
    PGconn *side;   /* short autocommit statements: lease, progress, verdict */
    int64_t rows;   /* rows streamed so far */
    int64_t since;  /* rows since the last yield */
    struct timespec last_report;
    int64_t seal_no, tree_size;
    unsigned char state_hash[32]; /* the latest seal's */
    char err[256];                /* set: the pass could not complete */
    struct fullpass_finding findings[FULLPASS_MAX_FINDINGS];
    int nfindings;
};

/* Execute statement id on c (normal mode). The result, or NULL with p->err set. */
PGresult *fullpass_exec(struct fullpass *p, PGconn *c, enum sql_id id, const char *const *v);

/*
 * Stream statement id on the snapshot connection in single-row mode: fn
 * is called with each one-row result (fn returns 0, or -1 to stop with
 * p->err set). Counts rows, yields every full_audit_chunk_rows rows and
 * reports progress. 0, or -1 (p->err set).
 */
typedef int (*fullpass_row_fn)(struct fullpass *p, const PGresult *row, void *ctx);
int fullpass_stream(struct fullpass *p, enum sql_id id, const char *const *v, fullpass_row_fn fn,
                    void *ctx);

/* Renew the lease and store rows_read when a second has passed (or now). 0, or -1. */
int fullpass_report(struct fullpass *p, int now);

/* Record count violations of check, naming id (may be NULL) among the sample. */
void fullpass_fail(struct fullpass *p, const char *check, int64_t count, const char *id);

/* The hash checks (fullpass_hash.c): leaves, stored nodes, roots, chain, state. 0, or -1. */
int fullpass_verify_hashes(struct fullpass *p);

/* 32 bytes from 64 hex digits (NULL or malformed: -1). */
int fullpass_unhex(const char *hex, unsigned char out[32]);

#endif
