/*
 * rows.c — result rows as JSON objects (see rows.h).
 */
#include "api/rows.h"

#include <stdlib.h>

static struct json_object *cell(PGresult *res, int row, int col, enum row_type t)
{
    const char *v;

    if (PQgetisnull(res, row, col))
        return NULL;
    v = PQgetvalue(res, row, col);
    switch (t) {
    case ROW_I64:
        return json_object_new_int64(strtoll(v, NULL, 10));
    case ROW_INT:
        return json_object_new_int(atoi(v));
    case ROW_BOOL:
        return json_object_new_boolean(v[0] == 't');
    case ROW_TEXT:
        break;
    }
    return json_object_new_string(v);
}

struct json_object *rows_object(PGresult *res, int row, const struct row_col *cols, int ncols)
{
    struct json_object *o = json_object_new_object();

    for (int c = 0; c < ncols; c++)
        json_object_object_add(o, cols[c].name, cell(res, row, c, cols[c].type));
    return o;
}

struct json_object *rows_array(PGresult *res, const struct row_col *cols, int ncols, int limit)
{
    struct json_object *a = json_object_new_array();
    int n = PQntuples(res);

    if (limit >= 0 && limit < n)
        n = limit;
    for (int i = 0; i < n; i++)
        json_object_array_add(a, rows_object(res, i, cols, ncols));
    return a;
}
