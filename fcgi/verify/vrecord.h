/*
 * vrecord.h — the verifier's parser of canonical records v1
 * (docs/PROOF-FORMAT.md, "Canonical record encoding"), written from the
 * document, independent of the server's encoder.
 *
 * Parsing is strict: the header line, then every line of the kind in its
 * order, each `name value` ending in LF, integers in canonical decimal
 * (no leading zero, no '+', no "-0"), refs as 64 lowercase hex digits,
 * enumerated words from their list only, absent values as "-" only where the
 * format allows it, a transfer's entry lines sorted strictly by entry ref,
 * and nothing after the last line. Anything else is refused with a reason.
 */
#ifndef ZS_VRECORD_H
#define ZS_VRECORD_H

#include <stddef.h>
#include <stdint.h>

#define VREC_REF_LEN 64
#define VREC_MAX_FIELDS 24

enum vrec_kind {
    VREC_TRANSFER,
    VREC_HOLD,
    VREC_BID,
    VREC_LOT,
    VREC_FILL,
    VREC_ORDER,
    VREC_PENDING,
    VREC_LIMIT,
    VREC_KINDS
};

/* Field indexes, per kind, in record order (the header line is not a field). */
enum { TR_REF, TR_KIND, TR_FROM, TR_TO, TR_AMOUNT, TR_AT, TR_PRIVATE };
enum { HO_REF, HO_ACCOUNT, HO_LOT, HO_BID, HO_AMOUNT, HO_STATE, HO_TRANSFER, HO_AT, HO_ENDED };
enum {
    BI_REF,
    BI_LOT,
    BI_BIDDER,
    BI_AMOUNT,
    BI_QUANTITY,
    BI_SEQ,
    BI_STATUS,
    BI_TRANSFER,
    BI_AT,
    BI_PRIVATE
};
enum {
    LO_REF,
    LO_KIND,
    LO_SELLER,
    LO_STATUS,
    LO_START_PRICE,
    LO_INCREMENT,
    LO_RESERVE,
    LO_FLOOR_PRICE,
    LO_STEP,
    LO_INTERVAL_S,
    LO_PRICE,
    LO_QTY_TOTAL,
    LO_QTY_CLAIMED,
    LO_SEQ,
    LO_HIGH_AMOUNT,
    LO_WINNER,
    LO_CLEARING_PRICE,
    LO_STARTS_AT,
    LO_ENDS_AT,
    LO_SETTLED_AT
};
enum {
    FI_REF,
    FI_MARKET,
    FI_KIND,
    FI_OUTCOME,
    FI_PRICE,
    FI_QUANTITY,
    FI_BUYER,
    FI_SELLER,
    FI_CASH_A,
    FI_CASH_B,
    FI_SEQ,
    FI_AT
};
enum {
    OR_REF,
    OR_MARKET,
    OR_ACCOUNT,
    OR_SIDE,
    OR_OUTCOME,
    OR_PRICE,
    OR_QUANTITY,
    OR_REMAINING,
    OR_STATUS,
    OR_TIF,
    OR_AT,
    OR_PRIVATE
};
enum {
    PE_REF,
    PE_FROM,
    PE_TO,
    PE_AMOUNT,
    PE_STATUS,
    PE_POSTED_AMOUNT,
    PE_TRANSFER,
    PE_EXPIRES,
    PE_AT,
    PE_PRIVATE
};

enum { LI_REF, LI_ACCOUNT, LI_CREDIT_LIMIT, LI_AT };

struct vrec_entry {
    char ref[VREC_REF_LEN + 1];
    char account[VREC_REF_LEN + 1];
    int64_t amount;
};

/*
 * One parsed record. For field i: present[i] is 0 when the value was "-";
 * text[i] holds the value as written (refs, words); num[i] its integer for
 * integer fields.
 */
struct vrec {
    enum vrec_kind kind;
    int nfields;
    unsigned char present[VREC_MAX_FIELDS];
    char text[VREC_MAX_FIELDS][VREC_REF_LEN + 1];
    int64_t num[VREC_MAX_FIELDS];
    struct vrec_entry *entries; /* transfers only; malloc'd, vrec_free releases it */
    int n_entries;
};

/*
 * Parse the len bytes at text (need not be NUL-terminated) into *out.
 * Returns 0, or -1 with a one-line reason in err (errlen bytes). On success
 * the caller releases out with vrec_free(); on failure nothing is left to free.
 */
int vrec_parse(const char *text, size_t len, struct vrec *out, char *err, size_t errlen);

/* Release what vrec_parse allocated in r (r itself is the caller's). */
void vrec_free(struct vrec *r);

/* The kind's name as the header line spells it ("transfer", "fill" ...). */
const char *vrec_kind_name(enum vrec_kind k);

/*
 * R(kind, uuid): lowercase hex SHA-256 of "zerosum/v1 <kind> <uuid>" into
 * out (65 bytes). The uuid is canonicalised to lowercase 8-4-4-4-12 first.
 * Returns 0, or -1 when uuid is not a UUID.
 */
int vrec_ref(const char *kind, const char *uuid, char out[VREC_REF_LEN + 1]);

#endif
