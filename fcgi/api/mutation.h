/*
 * mutation.h — the one mutation runner.
 *
 * Every mutating endpoint is the same six steps: parse the body into a
 * typed request, authorize the caller, claim the Idempotency-Key, apply
 * the domain operation, store the answer under the key, commit — with the
 * whole transaction retried on 40001/40P01. mutation_run() does all of it
 * once; a handler supplies a small ops table and writes none of the key,
 * rollback or retry plumbing:
 *
 *     static const struct mutation_ops transfer_ops = {
 *         .name = "transfer", .req_size = sizeof(struct transfer_req),
 *         .parse = transfer_parse, .authorize = transfer_authorize,
 *         .apply = transfer_apply,
 *     };
 *     void handle_transfer_create(struct request *r) { mutation_run(r, &transfer_ops); }
 *
 * apply() sends its first statements through mut_begin(), which carries
 * the key claim (and BEGIN) in the same round trip, and ends with either
 * mut_commit() — its last statements, the stored answer and COMMIT in one
 * round trip — or mut_refuse(), the one way to refuse: stored under the key
 * (a terminal business answer a retry must replay) or not (rolled back).
 * A key that was not new (replay, different request, in flight) is
 * answered by the runner; apply() just returns what mut_begin() said.
 */
#ifndef ZS_MUTATION_H
#define ZS_MUTATION_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "store/db.h"
#include "api/http.h"
#include "api/idempotency.h"

struct mutation;

struct mutation_ops {
    const char *name; /* for logs */
    size_t req_size;  /* the handler's typed request, zeroed before parse */
    int tx_flags;     /* TX_SNAPSHOT … (db.h) */
    /* Validate r into req. 0, or -1 after answering (http_problem: nothing written). */
    int (*parse)(struct request *r, void *req);
    /* Who may do it, decided before the database; may be NULL. 0, or -1 after answering. */
    int (*authorize)(struct request *r, const void *req);
    /* One attempt of the transaction (called again from scratch on a retry). */
    enum tx_decision (*apply)(struct mutation *m, struct tx *tx, void *req);
};

/* Run the mutation ops describes for r, and answer it. */
void mutation_run(struct request *r, const struct mutation_ops *ops);

/*
 * The first round trip of apply(): BEGIN, the key claim, then st[0..n).
 * Returns 1 when the key is new — go on, st[i].res hold the results (the
 * caller PQclear()s them). Returns 0 when apply() must stop and return
 * *d: the key was not new (the runner answers), or a statement failed
 * (TX_ERROR). Up to MUT_FIRST_MAX statements ride in a fixed pipeline;
 * more (a linked batch's account locks) are sent the same way from the heap.
 */
#define MUT_FIRST_MAX 8
int mut_begin(struct mutation *m, struct tx *tx, struct tx_stmt *st, int n, enum tx_decision *d);

/*
 * The last round trip: st[0..n), the stored answer (status, body — whose
 * ownership it takes) and COMMIT. TX_COMMIT, or TX_ERROR. Up to
 * MUT_LAST_MAX statements ride in a fixed pipeline; more (a linked batch's
 * writes) are sent the same way from the heap.
 */
#define MUT_LAST_MAX 16
enum tx_decision mut_commit(struct mutation *m, struct tx *tx, struct tx_stmt *st, int n,
                            int status, struct json_object *body);

/*
 * Announce an effect of this attempt: event type (a dotted literal such as
 * "transfer.created") with payload (ownership taken; NULL: {}) for the
 * space-separated channels chan_fmt makes ("lots/%s accounts/%s"). mut_commit()
 * appends it to the outbox in its round trip, in the transaction of the
 * effect; a refusal or a retried attempt drops it. 0, or -1 (out of
 * memory: the caller returns TX_ERROR). See domain/events.h.
 */
int mut_event(struct mutation *m, const char *type, struct json_object *payload,
              const char *chan_fmt, ...) __attribute__((format(printf, 4, 5)));

enum mut_store {
    MUT_ROLLBACK, /* not stored: the transaction rolls back, a retry may differ */
    MUT_STORED,   /* terminal: stored under the key and committed, a retry replays it */
};

/*
 * Refuse from apply(): answer status with problem+json {code, detail} plus
 * the members of extra (an object, ownership taken, or NULL). Returns the
 * decision apply() must return.
 */
enum tx_decision mut_refuse(struct mutation *m, struct tx *tx, enum mut_store store, int status,
                            const char *code, struct json_object *extra, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* {name: v}, for mut_refuse()'s extra. */
struct json_object *mut_extra_i64(const char *name, int64_t v);

/* The request being run (the caller's identity, the config). */
struct request *mut_request(const struct mutation *m);

/* The claim's now(), RFC 3339 UTC, valid after mut_begin() returned 1. */
const char *mut_now(const struct mutation *m);

/* The caller scope ("user:<sub>"), recorded on the rows the mutation writes. */
const char *mut_caller(const struct mutation *m);

/* "caller:key", recorded on the rows the mutation creates. */
const char *mut_scoped_key(const struct mutation *m);

#endif
