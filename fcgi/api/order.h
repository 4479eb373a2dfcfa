/*
 * order.h — POST /order's typed request, shared by its parser
 * (api/order_parse.c) and its transaction (api/order.c).
 */
#ifndef ZS_API_ORDER_H
#define ZS_API_ORDER_H

#include <stdint.h>

#include "api/http.h"
#include "domain/market.h"
#include "domain/matching.h"
#include "domain/order_terms.h"
#include "util.h"

struct order_req {
    char market[UUID_STR_LEN + 1];
    enum order_side side;
    int has_outcome; /* "outcome" given (yes | no) */
    enum market_outcome outcome;
    int64_t price; /* the limit: "price", or a market order's "protection_price" */
    int64_t quantity;
    struct order_terms terms; /* type, time in force, post-only */
    enum order_stp stp;
    int64_t expires_us;  /* gtd: the deadline, microseconds since the epoch */
    char expires_at[32]; /* gtd: the same, RFC 3339 UTC */
};

/* Validate r's body into q (a struct order_req). 0, or -1 after answering
 * 422 with a stable code (nothing written). */
int order_parse(struct request *r, void *q);

#endif
