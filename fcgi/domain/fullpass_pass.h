/*
 * fullpass_pass.h — what the parts of one full pass share (internal to
 * domain/fullpass*.c): the pass's two connections, its counters, its
 * findings, and the statement helpers that stream a named statement in
 * COPY text rows or single-row mode with the pass's yields and progress reports.
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
    char owner[64];  /* the lease owner: fullpass-<pid>-<id> */
    PGconn *snap;    /* the snapshot: every read */
    PGconn *side;    /* short autocommit statements: lease, progress, verdict */
    PGconn *chk;     /* postgres: the SQL checks, on the snapshot imported (NULL: none) */
    size_t chk_next; /* the check chk runs or sends next */
    int chk_state;   /* 0 idle, 1 its result awaited, 2 its end awaited */
    int64_t rows;    /* rows streamed so far */
    int64_t since;   /* rows since the last yield */
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
 * Stream statement id on the snapshot connection (fullpass_stream.c): a
 * COPY (...) TO STDOUT statement as COPY text rows, any other in single-row
 * mode. fn is called with each row's fields (NULL = SQL NULL; valid only
 * during the call; fn returns 0, or -1 to stop with p->err set). Counts
 * rows, yields every full_audit_chunk_rows rows and reports progress.
 * 0, or -1 (p->err set).
 */
typedef int (*fullpass_row_fn)(struct fullpass *p, const char *const *f, int nf, void *ctx);
int fullpass_stream(struct fullpass *p, enum sql_id id, const char *const *v, fullpass_row_fn fn,
                    void *ctx);

/*
 * Split one COPY text-format row (len bytes, a final newline allowed) into
 * at most max fields, in place, decoding its escapes; "\N" is NULL.
 * The number of fields, or -1 when there are more than max.
 */
int fullpass_copy_split(char *row, size_t len, const char **f, int max);

/* Renew the lease and store rows_read when a second has passed (or now). 0, or -1. */
int fullpass_report(struct fullpass *p, int now);

/* Record count violations of check, naming id (may be NULL) among the sample. */
void fullpass_fail(struct fullpass *p, const char *check, int64_t count, const char *id);

/* The hash checks (fullpass_hash.c): leaves, stored nodes, roots, chain, state. 0, or -1. */
int fullpass_verify_hashes(struct fullpass *p);

/*
 * The SQL checks (fullpass_checks.c). fullpass_checks_open: on postgres,
 * export the snapshot and open p->chk on it (0; -1: none, run them with
 * fullpass_checks_run after the records). fullpass_checks_poll: drive p->chk
 * (wait: until every check is done). fullpass_checks_run: every check on the
 * snapshot connection, one after another. Each 0, or -1 (p->err set).
 * fullpass_check_rank: a check's place in the report order (-1: not one of
 * these). ms: the statement timeout.
 */
int fullpass_checks_open(struct fullpass *p, const char *ms);
int fullpass_checks_poll(struct fullpass *p, int wait);
int fullpass_checks_run(struct fullpass *p);
void fullpass_checks_close(struct fullpass *p);
int fullpass_check_rank(const char *name);

/*
 * On postgres, give the backend serving c this process's own CPU priority
 * when that is lowered (nice > 0), c reaches a server of this machine
 * directly (not a pooler) and the process may; otherwise leave it (told
 * once in the log).
 */
void fullpass_lower_backend(struct fullpass *p, PGconn *c);

/* 32 bytes from 64 hex digits (NULL or malformed: -1). */
int fullpass_unhex(const char *hex, unsigned char out[32]);

#endif
