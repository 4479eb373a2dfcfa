/*
 * pending.h — the HTTP side of pending (two-phase) transfers: POST /transfer
 * with "pending": true (its mutation ops), the post and void routes
 * (routes.h), and GET /transfers/{id}'s view of one.
 */
#ifndef ZS_API_PENDING_H
#define ZS_API_PENDING_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api/mutation.h"

/* POST /transfer with "pending": true (parse and authorize are transfer.c's). */
extern const struct mutation_ops pending_create_ops;

/* A SQL_PENDING_GET row as the API shows a pending transfer (owned by the caller). */
struct json_object *pending_row_json(PGresult *res);

#endif
