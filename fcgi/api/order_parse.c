/*
 * order_parse.c — POST /order's body, member by member, into a struct
 * order_req (api/order.h); then the terms must agree
 * (domain/order_terms.c). Every refusal is a 422 with a stable code and
 * nothing written.
 */
#include <string.h>

#include "api/order.h"

/* A string member parsed by parse(s, out); 0 when valid, -1 otherwise. */
#define PARSE_MEMBER(v, parse, out)                                                                \
    (json_object_is_type((v), json_type_string) ? parse(json_object_get_string(v), (out)) : -1)

/* The member name of r's body, or NULL when absent (JSON null counts as absent
 * only where allow_null). */
static struct json_object *member(struct request *r, const char *name, int allow_null)
{
    struct json_object *v;

    if (!json_object_object_get_ex(r->json, name, &v))
        return NULL;
    if (allow_null && json_object_is_type(v, json_type_null))
        return NULL;
    return v;
}

/* "market", "side", "outcome", "quantity": 0, or -1 after answering. */
static int parse_basics(struct request *r, struct order_req *q)
{
    struct json_object *v;

    v = member(r, "market", 0);
    if (!v || !json_object_is_type(v, json_type_string)
        || !util_uuid_parse(json_object_get_string(v), q->market)) {
        http_problem(r, 422, "invalid_market_id", "\"market\" must be a market id");
        return -1;
    }
    v = member(r, "side", 0);
    if (!v || PARSE_MEMBER(v, order_side_parse, &q->side) < 0) {
        http_problem(r, 422, "invalid_side", "\"side\" must be \"buy\" or \"sell\"");
        return -1;
    }
    if ((v = member(r, "outcome", 1))) {
        if (PARSE_MEMBER(v, market_outcome_parse, &q->outcome) < 0
            || q->outcome == OUTCOME_SHARES) {
            http_problem(r, 422, "invalid_outcome", "\"outcome\" must be \"yes\" or \"no\"");
            return -1;
        }
        q->has_outcome = 1;
    }
    return 0;
}

/* "type", "price" / "protection_price": 0, or -1 after answering. */
static int parse_price(struct request *r, struct order_req *q)
{
    struct order_terms *t = &q->terms;
    struct json_object *v;

    t->type = ORDER_LIMIT;
    if ((v = member(r, "type", 0)) && PARSE_MEMBER(v, order_type_parse, &t->type) < 0) {
        http_problem(r, 422, "invalid_type", "\"type\" must be \"limit\" or \"market\"");
        return -1;
    }
    if ((v = member(r, "protection_price", 0))) {
        if (util_json_int64(v, 1, &q->price) < 0 || q->price > 1000000000) {
            http_problem(r, 422, "invalid_protection_price",
                         "\"protection_price\" must be an integer within the market's ticks");
            return -1;
        }
        t->has_protection = 1;
    }
    v = member(r, "price", 0);
    /* a limit order without a price is refused as it always was */
    if ((v || t->type == ORDER_LIMIT) && !t->has_protection
        && (!v || util_json_int64(v, 1, &q->price) < 0 || q->price > 1000000000)) {
        http_problem(r, 422, "invalid_price",
                     "\"price\" must be an integer within the market's ticks");
        return -1;
    }
    t->has_price = v != NULL;
    return 0;
}

/* "time_in_force", "expires_at", "post_only", "stp": 0, or -1 after answering. */
static int parse_terms(struct request *r, struct order_req *q)
{
    struct order_terms *t = &q->terms;
    struct json_object *v;

    if ((v = member(r, "time_in_force", 0))) {
        if (PARSE_MEMBER(v, order_tif_parse, &t->tif) < 0) {
            http_problem(r, 422, "invalid_time_in_force",
                         "\"time_in_force\" must be \"gtc\", \"ioc\", \"fok\" or \"gtd\"");
            return -1;
        }
        t->has_tif = 1;
    }
    if ((v = member(r, "expires_at", 0))) {
        if (!json_object_is_type(v, json_type_string)
            || order_time_parse(json_object_get_string(v), &q->expires_us) < 0
            || order_time_text(q->expires_us, q->expires_at, sizeof(q->expires_at)) < 0) {
            http_problem(r, 422, "invalid_expires_at",
                         "\"expires_at\" must be an RFC 3339 time, such as "
                         "\"2030-01-02T03:04:05Z\"");
            return -1;
        }
        t->has_expires = 1;
    }
    if ((v = member(r, "post_only", 0))) {
        if (!json_object_is_type(v, json_type_boolean)) {
            http_problem(r, 422, "invalid_post_only", "\"post_only\" must be true or false");
            return -1;
        }
        t->post_only = json_object_get_boolean(v);
    }
    q->stp = STP_CANCEL_MAKER;
    if ((v = member(r, "stp", 0)) && PARSE_MEMBER(v, order_stp_parse, &q->stp) < 0) {
        http_problem(r, 422, "invalid_stp",
                     "\"stp\" must be \"cancel_maker\", \"cancel_taker\" or \"cancel_both\"");
        return -1;
    }
    return 0;
}

int order_parse(struct request *r, void *req)
{
    static const char *const allowed[] = {
        "market",           "side",       "outcome",   "price", "quantity", "time_in_force", "type",
        "protection_price", "expires_at", "post_only", "stp",   NULL
    };
    struct order_req *q = req;
    struct json_object *v;
    const char *code, *detail;

    if (http_json_refuse_unknown(r, allowed) < 0 || parse_basics(r, q) < 0 || parse_price(r, q) < 0)
        return -1;
    v = member(r, "quantity", 0);
    if (!v || util_json_int64(v, 1, &q->quantity) < 0 || q->quantity > 1000000000) {
        http_problem(r, 422, "invalid_quantity",
                     "\"quantity\" must be an integer from 1 to 1000000000");
        return -1;
    }
    if (parse_terms(r, q) < 0)
        return -1;
    if ((code = order_terms_check(&q->terms, &detail))) {
        http_problem(r, 422, code, "%s", detail);
        return -1;
    }
    return 0;
}
