/*
 * accounts.h — what the account routes share: the API's account object
 * (api/accounts.c, api/account_credit.c) and the read check of the history
 * routes (api/accounts.c, api/history.c).
 */
#ifndef ZS_API_ACCOUNTS_H
#define ZS_API_ACCOUNTS_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "api/http.h"
#include "util.h"

/* {"id", "name", "kind", "balance", "held", "available", "credit_limit",
 * "created_at"} of row `row` of a SQL_ACCOUNT_GET result (new object). */
struct json_object *account_json(PGresult *res, int row);

/* Parse {id} (path parameter 0) into id and check the caller may read it
 * (its owner, or an admin); answers 404 account_not_found and returns -1
 * if not. Someone else's account is answered exactly as a missing one. */
int accounts_readable(struct request *r, char id[UUID_STR_LEN + 1]);

#endif
