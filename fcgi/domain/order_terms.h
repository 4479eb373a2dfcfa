/*
 * order_terms.h — the terms an order is placed with beyond price and
 * quantity (type, time in force, post-only, self-trade mode, deadline),
 * and the pure rules on how they combine. No database and no I/O: the
 * handler parses each member once (api/order_parse.c), asks
 * order_terms_check() whether they agree, and only then opens a
 * transaction.
 */
#ifndef ZS_DOMAIN_ORDER_TERMS_H
#define ZS_DOMAIN_ORDER_TERMS_H

#include <stdint.h>

#include "domain/matching.h"

enum order_type {
    ORDER_LIMIT,  /* matches up to its price; the remainder follows its time in force */
    ORDER_MARKET, /* matches up to its protection price; never rests */
};

/* Parse "limit" / "market"; 0, or -1 if it names neither. */
int order_type_parse(const char *s, enum order_type *out);
const char *order_type_name(enum order_type t);

/* What the request said, member by member (has_*: the member was given). */
struct order_terms {
    enum order_type type;
    int has_price, has_protection, has_tif, has_expires;
    enum order_tif tif; /* when has_tif; order_terms_check() sets the default */
    int post_only;
};

/*
 * Check that the terms agree, and fill in the default time in force (gtc
 * for a limit order, ioc for a market order). NULL when they do; else the
 * stable 422 code ("missing_field" or "conflicting_fields") with *detail a
 * sentence naming the members. The rules:
 *   - a limit order has "price" and no "protection_price";
 *   - a market order has "protection_price" and no "price", and its time
 *     in force is ioc or fok (it never rests);
 *   - "expires_at" is given exactly when the time in force is gtd;
 *   - "post_only" only on a limit order that may rest (gtc or gtd).
 */
const char *order_terms_check(struct order_terms *t, const char **detail);

/*
 * An RFC 3339 timestamp ("2026-01-02T03:04:05Z", optional fraction up to 6
 * digits, "Z" or "+hh:mm"/"-hh:mm") as microseconds since the Unix epoch,
 * UTC. Every field is range-checked (a 30 February is refused), years
 * 1970..9999. 0, or -1 when s is not one.
 */
int order_time_parse(const char *s, int64_t *us);

/* us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into out (at least 28 bytes). 0 / -1. */
int order_time_text(int64_t us, char *out, size_t len);

#endif
