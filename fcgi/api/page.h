/*
 * page.h — cursor pagination of every list the API returns (Stripe's
 * conventions): ?limit=1..100 (default 10), ?starting_after=ID (the items
 * after ID in list order) or ?ending_before=ID (the items just before ID),
 * never both; the answer is {"object":"list","data":[...],"has_more":bool}.
 *
 * Pages are keyset pages over an immutable total order (a per-parent seq,
 * or (created_at, id)): a cursor names a row, the next page starts strictly
 * after that row's key, so no row is seen twice and none is skipped, however
 * many rows are inserted meanwhile. No OFFSET anywhere.
 *
 * A list is described once (struct page_list: its statements and how a row
 * becomes JSON); page_answer() parses the query, runs one read transaction
 * (parent check, cursor check, page) and answers.
 */
#ifndef ZS_PAGE_H
#define ZS_PAGE_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api/http.h"
#include "api/rows.h"
#include "store/db.h"
#include "util.h"

#define PAGE_LIMIT_DEFAULT 10
#define PAGE_LIMIT_MAX 100

enum page_dir {
    PAGE_FIRST,  /* no cursor: the list from its start */
    PAGE_AFTER,  /* starting_after: the items after the cursor */
    PAGE_BEFORE, /* ending_before: the items just before the cursor */
};

struct page_query {
    int limit;
    enum page_dir dir;
    char cursor[UUID_STR_LEN + 1]; /* lowercase; empty for PAGE_FIRST */
};

/* A parameter as http_query_param() reported it: present (1) with its
 * decoded text, absent (0), or malformed (-1). */
struct page_param {
    int rc;
    const char *text;
};

/*
 * The pure part of parsing: limit, starting_after, ending_before into *q.
 * NULL when valid; otherwise the problem code (all are 400s):
 * "invalid_limit" (not digits, or outside 1..100), "invalid_cursor" (a
 * cursor that is not a UUID), "conflicting_cursors" (both given).
 */
const char *page_query_parse(struct page_param limit, struct page_param after,
                             struct page_param before, struct page_query *q);

/*
 * How many of nrows fetched rows (the statement asks for limit + 1) go into
 * data, and whether more exist beyond them (*has_more).
 */
int page_take(const struct page_query *q, int nrows, int *has_more);

/*
 * The fetched row that is data[i] (0 <= i < count = page_take()): PAGE_BEFORE
 * statements answer the rows nearest the cursor first, so data is reversed
 * back into list order; the others are already in it.
 */
int page_row(const struct page_query *q, int count, int i);

/* One list. Statements take, in this order: the parent id when the list
 * has one (has_parent), the cursor id (after/before/cursor), the row
 * limit (first/after/before). */
struct page_list {
    int has_parent;
    enum sql_id parent_sql;     /* a row back when the parent exists */
    const char *parent_missing; /* its 404 code ("account_not_found") */
    const char *parent_detail;
    enum sql_id cursor_sql; /* a row back when the cursor is an item of this list */
    enum sql_id first_sql, after_sql, before_sql;
    int tx_flags; /* TX_READ_ONLY at least */
    /* row i of res as JSON: row(res, i, ctx), or rows_object(cols) when row is NULL */
    struct json_object *(*row)(PGresult *res, int i, void *ctx);
    void *ctx;
    const struct row_col *cols;
    int ncols;
};

/* Answer r with one page of l (parent: the parent's id, or NULL): 400 on a
 * bad query or a cursor that is not in the list, 404 parent_missing when
 * the parent does not exist, else 200 with the list object. */
void page_answer(struct request *r, const struct page_list *l, const char *parent);

/* The same for a list whose parent is the route's first path parameter: a
 * parameter that is not a UUID is answered as a parent that does not exist. */
void page_answer_path(struct request *r, const struct page_list *l);

#endif
