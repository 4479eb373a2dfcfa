/*
 * page.c — cursor pagination (see page.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_tx.h"
#include "api/page.h"

const char *page_query_parse(struct page_param limit, struct page_param after,
                             struct page_param before, struct page_query *q)
{
    q->limit = PAGE_LIMIT_DEFAULT;
    q->dir = PAGE_FIRST;
    q->cursor[0] = '\0';
    if (limit.rc != 0) {
        const char *s = limit.text;
        long n = 0;
        size_t len = limit.rc > 0 && s ? strlen(s) : 0;
        if (len == 0 || len > 3)
            return "invalid_limit";
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)s[i]))
                return "invalid_limit";
            n = n * 10 + (s[i] - '0');
        }
        if (n < 1 || n > PAGE_LIMIT_MAX)
            return "invalid_limit";
        q->limit = (int)n;
    }
    if (after.rc != 0 && before.rc != 0)
        return "conflicting_cursors";
    if (after.rc != 0 || before.rc != 0) {
        struct page_param c = after.rc != 0 ? after : before;
        if (c.rc < 0 || !util_uuid_parse(c.text, q->cursor))
            return "invalid_cursor";
        q->dir = after.rc != 0 ? PAGE_AFTER : PAGE_BEFORE;
    }
    return NULL;
}

int page_take(const struct page_query *q, int nrows, int *has_more)
{
    *has_more = nrows > q->limit;
    return nrows > q->limit ? q->limit : nrows;
}

int page_row(const struct page_query *q, int count, int i)
{
    return q->dir == PAGE_BEFORE ? count - 1 - i : i;
}

struct page_tx {
    const struct page_list *l;
    const struct page_query *q;
    const char *parent;
    int parent_missing, bad_cursor;
    struct json_object *data;
    int has_more;
};

/* 1 if statement id (values p) answers a row, 0 if not, -1 on error. */
static int has_row(struct tx *tx, enum sql_id id, const char *const *p)
{
    PGresult *res = tx_exec_named(tx, id, p);
    int n;

    if (!res)
        return -1;
    n = PQntuples(res) > 0;
    PQclear(res);
    return n;
}

static enum tx_decision page_tx(struct tx *tx, void *arg)
{
    struct page_tx *t = arg;
    const struct page_list *l = t->l;
    char lim[16];
    /* [parent], cursor, limit; a list without a parent starts at p + 1 */
    const char *p[3] = { t->parent, t->q->cursor, lim };
    const char *const *v = l->has_parent ? p : p + 1;
    enum sql_id page_sql;
    PGresult *res;
    int n, count;

    if (t->data) {
        json_object_put(t->data);
        t->data = NULL;
    }
    t->parent_missing = t->bad_cursor = 0;
    if (l->has_parent) {
        n = has_row(tx, l->parent_sql, p);
        if (n < 0)
            return TX_ERROR;
        t->parent_missing = !n;
        if (t->parent_missing)
            return TX_COMMIT;
    }
    if (t->q->dir != PAGE_FIRST) {
        n = has_row(tx, l->cursor_sql, v);
        if (n < 0)
            return TX_ERROR;
        t->bad_cursor = !n;
        if (t->bad_cursor)
            return TX_COMMIT;
    }
    snprintf(lim, sizeof(lim), "%d", t->q->limit + 1);
    if (t->q->dir == PAGE_FIRST) {
        p[1] = lim; /* no cursor parameter */
        page_sql = l->first_sql;
    } else {
        page_sql = t->q->dir == PAGE_AFTER ? l->after_sql : l->before_sql;
    }
    res = tx_exec_named(tx, page_sql, v);
    if (!res)
        return TX_ERROR;
    count = page_take(t->q, PQntuples(res), &t->has_more);
    t->data = json_object_new_array();
    for (int i = 0; i < count; i++) {
        int row = page_row(t->q, count, i);
        json_object_array_add(
            t->data, l->row ? l->row(res, row, l->ctx) : rows_object(res, row, l->cols, l->ncols));
    }
    PQclear(res);
    return TX_COMMIT;
}

/* The query parameter name of r as a struct page_param (text in buf). */
static struct page_param param(struct request *r, const char *name, char *buf, size_t len)
{
    struct page_param p = { http_query_param(r, name, buf, len), buf };
    return p;
}

void page_answer(struct request *r, const struct page_list *l, const char *parent)
{
    char lb[64], ab[64], bb[64];
    struct page_query q;
    struct page_tx t = { l, &q, parent, 0, 0, NULL, 0 };
    const char *code = page_query_parse(param(r, "limit", lb, sizeof(lb)),
                                        param(r, "starting_after", ab, sizeof(ab)),
                                        param(r, "ending_before", bb, sizeof(bb)), &q);
    enum tx_decision d;
    struct json_object *o;

    if (code) {
        if (strcmp(code, "invalid_limit") == 0)
            http_problem(r, 400, code, "limit must be an integer from 1 to %d", PAGE_LIMIT_MAX);
        else if (strcmp(code, "conflicting_cursors") == 0)
            http_problem(r, 400, code, "give starting_after or ending_before, not both");
        else
            http_problem(r, 400, code, "a cursor is the id of an item of this list");
        return;
    }
    if (api_tx_run(r, l->tx_flags, page_tx, &t, &d) < 0) {
        json_object_put(t.data);
        return;
    }
    if (t.parent_missing) {
        http_problem(r, 404, l->parent_missing, "%s", l->parent_detail);
        return;
    }
    if (t.bad_cursor) {
        http_problem(r, 400, "invalid_cursor", "%s is not an item of this list", q.cursor);
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "object", json_object_new_string("list"));
    json_object_object_add(o, "data", t.data);
    json_object_object_add(o, "has_more", json_object_new_boolean(t.has_more));
    http_respond_json(r, 200, o, NULL);
}

void page_answer_path(struct request *r, const struct page_list *l)
{
    char id[UUID_STR_LEN + 1];

    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, l->parent_missing, "%s", l->parent_detail);
        return;
    }
    page_answer(r, l, id);
}
