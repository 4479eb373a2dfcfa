/*
 * pending.h — pending (two-phase) transfers: the rules and the expiry.
 *
 * A pending transfer holds its amount on the payer (accounts.held) and moves
 * nothing. It ends exactly once: posted (some or all of the amount moves as
 * one ordinary double-entry transfer, the whole hold is released), voided
 * (the hold is released), or expired (the same, once its deadline has passed
 * by the database clock). The rules here are pure functions of what was
 * read under the pending row's lock; pending_expire_due() is the jobs
 * child's sweep.
 */
#ifndef ZS_PENDING_H
#define ZS_PENDING_H

#include <stdint.h>

#include "store/db.h"

/* "timeout" of POST /transfer with "pending": true, in seconds. */
#define PENDING_TIMEOUT_MIN 1
#define PENDING_TIMEOUT_MAX 604800 /* 7 days */
#define PENDING_TIMEOUT_DEFAULT 3600

/* pending_transfers.status, parsed once from the row. */
enum pending_status {
    PENDING_STATUS_UNKNOWN = 0,
    PENDING_STATUS_PENDING,
    PENDING_STATUS_POSTED,
    PENDING_STATUS_VOIDED,
    PENDING_STATUS_EXPIRED,
};

/* The status the text names (exact); UNKNOWN for anything else, NULL included. */
enum pending_status pending_status_parse(const char *text);

/* The text of s ("pending", "posted", "voided", "expired"), or "unknown". */
const char *pending_status_name(enum pending_status s);

/* 1 if t is an accepted timeout (PENDING_TIMEOUT_MIN..MAX seconds). */
int pending_timeout_valid(int64_t t);

/* Who is asking, relative to one pending transfer. */
enum pending_party {
    PENDING_PARTY_STRANGER = 0,
    PENDING_PARTY_PAYER,
    PENDING_PARTY_PAYEE,
    PENDING_PARTY_ADMIN,
};

/* The party of caller sub (admin if is_admin) to a transfer from → to. */
enum pending_party pending_party_of(const char *sub, int is_admin, const char *from,
                                    const char *to);

enum pending_action {
    PENDING_POST,
    PENDING_VOID,
};

/* What a post or void must do, decided from the locked row. */
enum pending_verdict {
    PENDING_GO,             /* do it */
    PENDING_NOT_FOUND,      /* a stranger: 404, as for an id that does not exist */
    PENDING_NOT_PAYER,      /* the payee posting: 403 */
    PENDING_ALREADY_POSTED, /* 409 */
    PENDING_ALREADY_VOIDED, /* 409 */
    PENDING_EXPIRED,        /* 409: expired already */
    PENDING_EXPIRE_NOW,     /* 409 too, after expiring it: still pending, deadline passed */
    PENDING_AMOUNT_EXCEEDS, /* post amount over the pending amount: 422 */
};

/*
 * The verdict for action by party on a transfer in status (due: its deadline
 * has passed), posting post_amount (> 0) of amount. The order: who (a
 * stranger learns nothing, the payee may void but not post), then the
 * status (closed, or due), then the amount.
 */
enum pending_verdict pending_decide(enum pending_action action, enum pending_party party,
                                    enum pending_status status, int due, int64_t amount,
                                    int64_t post_amount);

/*
 * The hold arithmetic of closing a pending transfer of amount: *moved
 * leaves the payer for the payee (post_amount when posting, 0 otherwise),
 * *released is what the payer's held drops by (always the whole amount),
 * *returned what goes back to the payer's available funds. 0, or -1 if
 * post_amount is outside 0..amount (0: void or expiry).
 */
int pending_close_split(int64_t amount, int64_t post_amount, int64_t *moved, int64_t *released,
                        int64_t *returned);

/*
 * created_at + seconds, both RFC 3339 UTC with microseconds
 * ("2026-01-02T03:04:05.123456Z"), into out (40 bytes): the deadline the
 * database computes from the same values. 0, or -1 on a malformed input.
 */
int pending_deadline_text(const char *created_at, int64_t seconds, char out[40]);

/*
 * Expire up to limit pending transfers whose deadline has passed (jobs
 * child): each in its own transaction, under the row's lock, releasing its
 * hold. The number expired, or -1 when the database is away.
 */
int pending_expire_due(struct db_session *s, int limit);

/*
 * Inside tx, with pending transfer id (from → to) locked and found still
 * pending and due: release its hold on from and mark it expired at now by
 * `by`, with its transfer.expired event. 0 or -1.
 */
int pending_expire_locked(struct tx *tx, const char *id, const char *from, const char *to,
                          int64_t amount, const char *by);

#endif
