/*
 * lots.h — the lot endpoints (POST /lots, GET /lots, GET /lots/{id}) and
 * the public JSON of a lot, which POST /bid answers with too. The lot
 * model and its rules are the auction domain's (domain/auction.h).
 */
#ifndef ZS_LOTS_H
#define ZS_LOTS_H

#include <json-c/json.h>
#include <libpq-fe.h>

/*
 * The public JSON of row `row` of a result that selected the lot columns
 * (any lot statement of sql/queries/auction.sql). Caller owns it; NULL
 * when the row holds a kind or status the schema does not allow.
 */
struct json_object *lots_json(PGresult *res, int row);

#endif
