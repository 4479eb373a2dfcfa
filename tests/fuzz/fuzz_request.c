/*
 * fuzz_request.c — libFuzzer target for request parsing and validation:
 * the JSON body parser (http_parse_json_body), the body validators of
 * POST /transfer, /bid and /lots, the idempotency fingerprint of the parsed
 * body, the query-string reader (http_query_param) and the router with the
 * real route table.
 *
 * Input layout: byte 0 selects the mode, the rest is the payload.
 *
 *   bit 7 clear — body mode. The payload is the request body.
 *     bits 0-1  validator: 0 transfer, 1 bid, 2 lot spec, 3 all three
 *     bits 2-4  Content-Type variant (ctypes[] below)
 *   bit 7 set — route mode. The payload up to the first '?' is the path,
 *     the rest the query string (both cut at a NUL and at the caps of
 *     struct request, as http_read() would refuse longer ones).
 *     bits 0-2  method (methods[] below)
 *     bits 3-6  output buffer size given to http_query_param (outlens[])
 *
 * No FastCGI connection: r.fcgi is NULL, so answers only record r.status.
 * Properties checked (abort() on violation): a refused body leaves
 * r.json NULL and a 4xx status; a validator that returns -1 has answered
 * 422, one that returns 0 has not answered and its output obeys the
 * documented ranges; an accepted body holds no string value with U+0000;
 * the fingerprint is deterministic; router captures are NUL-terminated and
 * bounded; a query http_query_check() refuses spells its NUL as %00.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "api/http.h"
#include "domain/ledger.h"
#include "api/router.h"
#include "api/routes.h"
#include "util.h"
#include "api/validate.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_request: property failed: %s (%s:%d)\n",    \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

static const char *const ctypes[8] = {
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json;",
    "application/jsonx",
    "text/plain",
    "",
    "application/problem+json",
};

static const char *const methods[8] = {
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get",
};

static const size_t outlens[16] = { 0, 1, 2, 3, 4, 8, 16, 24, 32, 37, 40, 48, 64, 65, 128, 256 };

static const char *const query_names[] = { "limit", "after", "lot", "before", "l", "" };

static struct zs_config cfg;
static int cfg_ready;

static void request_init(struct request *r)
{
    if (!cfg_ready) {
        config_defaults(&cfg);
        cfg_ready = 1;
    }
    memset(r, 0, sizeof(*r));
    r->fcgi = NULL;
    r->cfg = &cfg;
    r->endpoint = EP_OTHER;
    snprintf(r->request_id, sizeof(r->request_id), "fuzz");
}

static int is_uuid_lower(const char *s)
{
    char tmp[UUID_STR_LEN + 1];

    return util_uuid_parse(s, tmp) && strcmp(tmp, s) == 0;
}

static void check_transfer(struct request *r)
{
    struct transfer_req q;

    r->status = 0;
    if (transfer_parse(r, &q) < 0) {
        CHECK(r->status == 422);
        return;
    }
    CHECK(r->status == 0);
    CHECK(is_uuid_lower(q.from) && is_uuid_lower(q.to));
    CHECK(strcmp(q.from, q.to) != 0);
    CHECK(q.amount >= 1);
    if (q.memo) {
        size_t chars = 0;
        for (const char *c = q.memo; *c; c++)
            chars += ((unsigned char)*c & 0xc0) != 0x80;
        CHECK(chars <= LEDGER_MEMO_MAX);
    }
}

static void check_bid(struct request *r)
{
    struct bid_req q;

    r->status = 0;
    if (bid_parse(r, &q) < 0) {
        CHECK(r->status == 422);
        return;
    }
    CHECK(r->status == 0);
    CHECK(is_uuid_lower(q.lot));
    CHECK(!q.has_amount || q.amount >= 1);
    CHECK(!q.has_max_price || q.max_price >= 1);
    CHECK(!q.has_quantity || (q.quantity >= 1 && q.quantity <= 1000000));
}

static void check_lot(struct request *r)
{
    struct lot_spec s;

    r->status = 0;
    if (parse_lot_spec(r, &s) < 0) {
        CHECK(r->status == 422);
        return;
    }
    CHECK(r->status == 0);
    CHECK(is_uuid_lower(s.seller));
    CHECK(!s.title || strlen(s.title) <= 200);
    if (strcmp(s.kind, "english") == 0) {
        CHECK(s.start >= 1 && s.increment >= 1 && s.ends_in >= 1 && s.ends_in <= 366 * 86400);
        CHECK(s.snipe_window >= 0 && s.snipe_window <= 86400);
        CHECK(s.snipe_extend >= 0 && s.snipe_extend <= 86400);
    } else if (strcmp(s.kind, "dutch") == 0) {
        CHECK(s.start >= 1 && s.floor >= 1 && s.floor <= s.start && s.step >= 1);
        CHECK(s.interval >= 1 && s.interval <= 366 * 86400);
    } else {
        CHECK(strcmp(s.kind, "drop") == 0);
        CHECK(s.price >= 1 && s.quantity >= 1 && s.quantity <= 1000000);
        CHECK(s.max_per_claim >= 0 && s.max_per_claim <= 1000000);
    }
}

/* 1 if some string value in v holds a NUL (json-c keeps a value's length). */
static int has_nul_value(struct json_object *v)
{
    if (json_object_is_type(v, json_type_string))
        return strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v);
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, name, child) {
            (void)name;
            if (has_nul_value(child))
                return 1;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (has_nul_value(json_object_array_get_idx(v, i)))
                return 1;
    }
    return 0;
}

/*
 * The idempotency fingerprint: canonical text and its SHA-256, twice; and
 * the canonical text of an accepted body is itself a body the server
 * accepts, with the same canonical text.
 */
static void check_fingerprint(struct json_object *obj)
{
    char h1[65], h2[65];
    char *c1 = util_json_canonical(obj);
    char *c2 = util_json_canonical(obj);
    struct request again;

    CHECK(c1 && c2 && strcmp(c1, c2) == 0);
    util_sha256_hex(c1, strlen(c1), h1);
    util_sha256_hex(c2, strlen(c2), h2);
    CHECK(strlen(h1) == 64 && strcmp(h1, h2) == 0);
    free(c2);

    request_init(&again);
    snprintf(again.content_type, sizeof(again.content_type), "application/json");
    again.body = c1;                   /* owned by again now */
    again.body_len = strlen(c1);
    if (http_parse_json_body(&again) < 0) {
        fprintf(stderr, "canonical text refused (%d): %s\n", again.status, c1);
        CHECK(0);
    }
    c2 = util_json_canonical(again.json);
    CHECK(c2 && strcmp(c1, c2) == 0);
    free(c2);
    http_request_free(&again);
}

static void body_mode(uint8_t sel, const uint8_t *data, size_t size)
{
    struct request r;

    request_init(&r);
    snprintf(r.method, sizeof(r.method), "POST");
    snprintf(r.path, sizeof(r.path), "/transfer");
    snprintf(r.content_type, sizeof(r.content_type), "%s", ctypes[(sel >> 2) & 7]);
    if (size > (size_t)cfg.body_max)
        size = (size_t)cfg.body_max;      /* http_read() answers 413 above this */
    /* Exactly size + 1 bytes, as http_read() allocates, so ASan sees overreads. */
    r.body = malloc(size + 1);
    if (!r.body)
        return;
    memcpy(r.body, data, size);
    r.body[size] = '\0';
    r.body_len = size;

    if (http_parse_json_body(&r) < 0) {
        CHECK(r.json == NULL);
        CHECK(r.status == 400 || r.status == 415);
        http_request_free(&r);
        return;
    }
    CHECK(r.status == 0 && r.json && json_object_is_type(r.json, json_type_object));
    CHECK(!has_nul_value(r.json));        /* U+0000 never gets past the parser */

    switch (sel & 3) {
    case 0: check_transfer(&r); break;
    case 1: check_bid(&r); break;
    case 2: check_lot(&r); break;
    default:
        check_transfer(&r);
        check_bid(&r);
        check_lot(&r);
        break;
    }
    check_fingerprint(r.json);
    http_request_free(&r);
}

static void route_mode(uint8_t sel, const uint8_t *data, size_t size)
{
    struct request r;
    const struct route *route = NULL;
    char allow[64];
    size_t plen, qlen, outlen, pathlen;
    const uint8_t *q;

    request_init(&r);
    snprintf(r.method, sizeof(r.method), "%s", methods[sel & 7]);

    /* C strings end at a NUL, as FastCGI params do. */
    {
        const uint8_t *nul = memchr(data, '\0', size);
        if (nul)
            size = (size_t)(nul - data);
    }
    q = memchr(data, '?', size);
    plen = q ? (size_t)(q - data) : size;
    qlen = q ? size - plen - 1 : 0;
    if (plen >= sizeof(r.path) || qlen >= sizeof(r.query))
        return;                           /* http_read() answers 414 */
    memcpy(r.path, data, plen);
    r.path[plen] = '\0';
    if (q)
        memcpy(r.query, q + 1, qlen);
    r.query[qlen] = '\0';
    /* http_read(): strip one trailing slash except for "/" */
    pathlen = strlen(r.path);
    if (pathlen > 1 && r.path[pathlen - 1] == '/')
        r.path[pathlen - 1] = '\0';
    if (r.path[0] == '\0')
        snprintf(r.path, sizeof(r.path), "/");  /* http_read()'s default */
    if (http_query_check(r.query) < 0) {
        CHECK(strstr(r.query, "%00") != NULL);  /* the only way to spell a NUL */
        return;                           /* http_read() answers 400 invalid_string */
    }

    switch (router_match(routes, routes_count, &r, &route, allow, sizeof(allow))) {
    case ROUTE_FOUND:
        CHECK(route && route >= routes && route < routes + routes_count);
        CHECK(strcmp(route->method, r.method) == 0);
        CHECK(r.npath_params >= 0 && r.npath_params <= HTTP_MAX_PATH_PARAMS);
        for (int i = 0; i < r.npath_params; i++) {
            size_t n = strnlen(r.path_params[i], sizeof(r.path_params[i]));
            CHECK(n > 0 && n < sizeof(r.path_params[i]));
            CHECK(strchr(r.path_params[i], '/') == NULL);
        }
        break;
    case ROUTE_BAD_METHOD: {
        char hdr[96];
        CHECK(strnlen(allow, sizeof(allow)) < sizeof(allow) && allow[0] != '\0');
        /* worker_dispatch()'s answer, including the path in the detail */
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
        http_problem_h(&r, 405, "method_not_allowed", hdr, "%s is not allowed here; use %s",
                       r.method, allow);
        CHECK(r.status == 405);
        break;
    }
    case ROUTE_NOT_FOUND:
        http_problem(&r, 404, "not_found", "no such resource: %s", r.path);
        CHECK(r.status == 404);
        break;
    default:
        CHECK(0);
    }

    /* Exact-size heap buffer so an overflow by one byte is caught. */
    outlen = outlens[(sel >> 3) & 15];
    for (size_t i = 0; i < sizeof(query_names) / sizeof(query_names[0]); i++) {
        /* ASan lets malloc(0)'s byte be written: for outlen 0 point past a 1-byte block */
        char *buf = malloc(outlen ? outlen : 1), *out = outlen ? buf : buf + 1;
        int rc;
        if (!buf)
            return;
        rc = http_query_param(&r, query_names[i], out, outlen);
        CHECK(rc >= -1 && rc <= 1);
        if (rc == 1 && outlen)
            CHECK(strnlen(out, outlen) < outlen);
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80)
        route_mode(data[0], data + 1, size - 1);
    else
        body_mode(data[0], data + 1, size - 1);
    return 0;
}
