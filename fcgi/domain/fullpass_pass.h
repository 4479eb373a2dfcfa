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
    char owner[64];    /* the lease owner: fullpass-<pid>-<id> */
    PGconn *snap;      /* the snapshot: every read */
    PGconn *side;      /* short autocommit statements: lease, progress, verdict */
    PGconn *chk;       /* postgres: the SQL checks, on the snapshot imported (NULL: none) */
    size_t chk_next;   /* the next item (check, then node block) neither connection took yet */
    size_t chk_item;   /* the item chk runs (chk_state != 0) */
    int chk_state;     /* 0 idle, 1 its result awaited, 2 its end awaited */
    int blocks_on_chk; /* chk checks the node blocks too, after the checks */
    unsigned char *blk_h, *blk_have; /* the node blocks' buffers (fullpass_node_buffers) */
    int64_t rows;                    /* rows streamed so far */
    int64_t since;                   /* rows since the last yield */
    struct timespec last_report;
    int64_t seal_no, tree_size;
    unsigned char state_hash[32]; /* the latest seal's */
    char err[256];                /* set: the pass could not complete */
    struct fullpass_finding findings[FULLPASS_MAX_FINDINGS];
    int nfindings;
    struct fullpass_fold *fold; /* postgres: the checks folded into the streams (else NULL) */
};

/* Execute statement id on c (normal mode). The result, or NULL with p->err set. */
PGresult *fullpass_exec(struct fullpass *p, PGconn *c, enum sql_id id, const char *const *v);
/* fullpass_exec() with the result in binary format (binary = 1) or text (0). */
PGresult *fullpass_exec_as(struct fullpass *p, PGconn *c, enum sql_id id, const char *const *v,
                           int binary);

/*
 * Stream statement id on the snapshot connection (fullpass_stream.c): a
 * COPY (...) TO STDOUT statement as COPY rows, any other in single-row
 * mode. A COPY in FORMAT binary is decoded by types (fullpass_copy_binary;
 * NULL for a text-only statement), so fn always sees text. fn is called
 * with each row's fields (NULL = SQL NULL; valid only during the call; fn
 * returns 0, or -1 to stop with p->err set). Counts rows, yields every
 * full_audit_chunk_rows rows and reports progress. 0, or -1 (p->err set).
 */
typedef int (*fullpass_row_fn)(struct fullpass *p, const char *const *f, int nf, void *ctx);
int fullpass_stream(struct fullpass *p, enum sql_id id, const char *types, const char *const *v,
                    fullpass_row_fn fn, void *ctx);

/*
 * Split one COPY text-format row (len bytes, a final newline allowed) into
 * at most max fields, in place, decoding its escapes; "\N" is NULL.
 * The number of fields, or -1 when there are more than max.
 */
int fullpass_copy_split(char *row, size_t len, const char **f, int max);

/*
 * Decode one message of a COPY ... TO STDOUT (FORMAT binary) into at most
 * max text fields written to out (room for 3 x len + 24 x max bytes), by
 * types, one character a column: 'u' uuid (8-4-4-4-12 lowercase), '8' '4'
 * '2' bigint, integer, smallint (decimal), 'T' timestamptz (microseconds
 * since 1970, decimal: what (extract(epoch FROM t) * 1000000)::bigint
 * answers), 'x' bytea (lowercase hex), 't' text (as is). The text is what
 * a text-format COPY of the same columns (with those two expressions)
 * would carry, so a consumer reads either. NULL is NULL. The number of
 * fields; 0 for the header or trailer alone; -1 when malformed, or when
 * the row's column count is not types' length.
 */
int fullpass_copy_binary(const char *row, size_t len, const char *types, const char **f, int max,
                         char *out);

/*
 * One field of a binary COPY row as it came: its bytes (valid only during
 * the row's call) and length, -1 for NULL.
 */
struct fullpass_field {
    const unsigned char *b;
    int len;
};

/*
 * Split one binary COPY message into at most max raw fields, checking each
 * length against its type (the letters of fullpass_copy_binary: 'u' 16
 * bytes, '8' '4' '2' and 'T' theirs, 'x' and 't' any). Returns as
 * fullpass_copy_binary does.
 */
int fullpass_copy_fields(const char *row, size_t len, const char *types, struct fullpass_field *f,
                         int max);

/* A non-NULL field of an integer type ('8' '4' '2'; 'T': microseconds since 1970). */
int64_t fullpass_field_int(const struct fullpass_field *f, char type);

/* A non-NULL field as the text fullpass_copy_binary writes for type, NUL-terminated at out
 * (room: 2 x its length + 5, or 21 for an integer). The NUL's place. */
char *fullpass_field_text(const struct fullpass_field *f, char type, char *out);

/*
 * fullpass_stream() of a statement that must be a binary COPY (postgres):
 * fn sees each row's raw fields, checked against types, and decodes only
 * what it needs. Any other kind of result is an error.
 */
typedef int (*fullpass_raw_fn)(struct fullpass *p, const struct fullpass_field *f, int nf,
                               void *ctx);
int fullpass_stream_raw(struct fullpass *p, enum sql_id id, const char *types, const char *const *v,
                        fullpass_raw_fn fn, void *ctx);

/* The signed big-endian integer of len (2, 4 or 8) bytes at b: binary COPY and result fields. */
int64_t fullpass_be_int(const unsigned char *b, int len);

/* Renew the lease and store rows_read when a second has passed (or now). 0, or -1. */
int fullpass_report(struct fullpass *p, int now);

/* Record count violations of check, naming id (may be NULL) among the sample. */
void fullpass_fail(struct fullpass *p, const char *check, int64_t count, const char *id);

/* The hash checks (fullpass_hash.c): leaves, stored nodes, roots, chain, state. 0, or -1. */
int fullpass_verify_hashes(struct fullpass *p);
/*
 * The stored tree's levels 1 .. b are checked a block of 2^b leaves at a
 * time, all its levels in one audit_node_block (fullpass_hash.c):
 * fullpass_node_block_levels gives b for the pass's tree size,
 * fullpass_node_block_params the statement's parameters for the block at
 * leaf lo, and fullpass_node_block_check checks its binary result in the
 * pass's block buffers (fullpass_node_buffers allocates them once, for
 * either connection; fullpass_run frees them), recording what it finds.
 */
int fullpass_node_block_levels(const struct fullpass *p);
void fullpass_node_block_params(int bl, int64_t lo, char a[24], char b[24], char top[8]);
int fullpass_node_buffers(struct fullpass *p);
void fullpass_node_block_check(struct fullpass *p, int bl, int64_t lo, const PGresult *res);
/* The block at leaf lo read and checked on the snapshot connection, then a progress report. */
int fullpass_node_block(struct fullpass *p, int64_t lo);

/* The leaves (fullpass_leaves.c): every sealed record's, then the fold's rest. 0, or -1. */
int fullpass_verify_leaves(struct fullpass *p);

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
int fullpass_checks_finish(struct fullpass *p, int *helped);
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

/*
 * The fold (fullpass_fold.c): on postgres, the checks over the entries are
 * decided in C from the record streams, the rest of their rows read after.
 * fullpass_fold_begin: set p->fold up (postgres, once the latest seal is
 * known; dsql: leave it NULL). fullpass_fold_position: a record holds pos
 * (leaf: its stored leaf, NULL when missing). fullpass_fold_transfer: a
 * sealed transfer's amount and accounts with the ne entries merged with it,
 * decoded from the binary stream (overflow: some did not fit).
 * fullpass_fold_finish: read the rest, and for every folded check that found
 * anything run its SQL form (fullpass_checks_judge) for the verdict.
 * fullpass_fold_flag_all: let the SQL forms decide every folded check.
 * fullpass_fold_is_folded: 1 if check is decided by the fold (then its SQL
 * form runs only on a finding). Each int function 0, or -1 (p->err set).
 * All of them do nothing when p->fold is NULL.
 */
struct fullpass_fold;
struct fullpass_fold_transfer {
    unsigned char from[16], to[16]; /* UUID bytes */
    int has_from, has_to, has_amount;
    int64_t amount;
};
struct fullpass_fold_entry {
    unsigned char account[16];
    int64_t amount, seq, after, at; /* at: microseconds since 1970 */
    int complete;                   /* account and amount present */
    int has_run;                    /* seq, balance_after and created_at present */
};
/* An entry's fold fields from its binary COPY fields (types u, 8, 8, 8, T). */
void fullpass_fold_entry_of(const struct fullpass_field *account,
                            const struct fullpass_field *amount, const struct fullpass_field *seq,
                            const struct fullpass_field *after, const struct fullpass_field *at,
                            struct fullpass_fold_entry *e);
int fullpass_fold_begin(struct fullpass *p);
void fullpass_fold_position(struct fullpass *p, int64_t pos, const void *leaf);
void fullpass_fold_transfer(struct fullpass *p, const struct fullpass_fold_transfer *t,
                            const struct fullpass_fold_entry *e, size_t ne, int overflow);
void fullpass_fold_flag_all(struct fullpass *p);
int fullpass_fold_finish(struct fullpass *p);
void fullpass_fold_end(struct fullpass *p);
int fullpass_fold_is_folded(const char *check);

/* Run check name's full SQL form on the snapshot connection and record what it finds. 0, or -1. */
int fullpass_checks_judge(struct fullpass *p, const char *name);

/* 32 bytes from 64 hex digits (NULL or malformed: -1). */
int fullpass_unhex(const char *hex, unsigned char out[32]);

#endif
