/*
 * rows.h — result rows as JSON objects, described by a column table.
 *
 * A read handler names its columns once, in select-list order:
 *
 *     static const struct row_col bid_cols[] = {
 *         { "id", ROW_TEXT }, { "amount", ROW_I64 }, { "created_at", ROW_TEXT },
 *     };
 *     json_object_object_add(out, "bids", rows_array(res, bid_cols, ROW_COLS(bid_cols), -1));
 *
 * instead of writing one json_object_object_add() per column per handler.
 */
#ifndef ZS_ROWS_H
#define ZS_ROWS_H

#include <json-c/json.h>
#include <libpq-fe.h>

enum row_type {
    ROW_TEXT, /* a string (SQL NULL: JSON null) */
    ROW_I64,  /* a bigint (SQL NULL: JSON null) */
    ROW_INT,  /* an int (SQL NULL: JSON null) */
    ROW_BOOL, /* a boolean, "t" or "f" (SQL NULL: JSON null) */
};

struct row_col {
    const char *name; /* the member name */
    enum row_type type;
};

#define ROW_COLS(cols) ((int)(sizeof(cols) / sizeof((cols)[0])))

/* Row `row` of res as an object: column i is member cols[i].name. New reference. */
struct json_object *rows_object(PGresult *res, int row, const struct row_col *cols, int ncols);

/* The first limit rows of res (every row when limit < 0) as an array of rows_object(). */
struct json_object *rows_array(PGresult *res, const struct row_col *cols, int ncols, int limit);

#endif
