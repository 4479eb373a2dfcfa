/*
 * accounts.h — the API's account object, shared by the account handlers
 * (api/accounts.c, api/account_credit.c).
 */
#ifndef ZS_API_ACCOUNTS_H
#define ZS_API_ACCOUNTS_H

#include <json-c/json.h>
#include <libpq-fe.h>

/* {"id", "name", "kind", "balance", "held", "available", "credit_limit",
 * "created_at"} of row `row` of a SQL_ACCOUNT_GET result (new object). */
struct json_object *account_json(PGresult *res, int row);

#endif
