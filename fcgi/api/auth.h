/*
 * auth.h — who is calling: bearer JWTs checked against the server's key
 * ring and token policy (fcgi/jwt.h), and per-account revocation.
 *
 * Revocation is a "valid after" time per subject (token_revocations, with
 * subject '*' for every token): a token whose iat is before it is refused.
 * It is checked inside the request's own transaction: the transaction
 * runner (db.c) sends auth_revocation_sql right after BEGIN, in the same
 * pipeline as the handler's first statements, so it costs no round trip,
 * and a revoked token makes that statement fail, which aborts everything
 * after it in the pipeline (COMMIT included). A request that never opens a
 * transaction reads and writes nothing, so it needs no check.
 */
#ifndef ZS_AUTH_H
#define ZS_AUTH_H

#include "api/http.h"
#include "api/router.h"

/*
 * Load the key ring from cfg->jwt_secret_file and take the token policy
 * (issuer, audience, leeway, maximum lifetime) from cfg. 0, or -1 with a
 * message in err. The ring is re-read whenever the file changes (checked by
 * stat() on every authenticated request), so a rotation reaches running
 * workers at their next request.
 */
int auth_init(const struct zs_config *cfg, char *err, size_t errlen);

/*
 * Authenticate r for a route needing `need`. AUTH_NONE always passes (a
 * valid token, if sent, still sets r->caller). On failure answers 401
 * (missing, malformed, forged, unknown kid, wrong iss/aud, not yet valid,
 * expired, too long-lived, alg none) or 403 (scope) with an RFC 6750
 * WWW-Authenticate challenge, and returns -1.
 */
int auth_check(struct request *r, enum route_auth need);

/* True when the caller holds the admin scope. */
int auth_is_admin(const struct request *r);

/*
 * The revocation check is the named statement SQL_AUTH_TOKEN_REVOKED: no
 * rows change; it returns one row, and fails with SQLSTATE
 * AUTH_REVOKED_SQLSTATE when the token is revoked. Parameters: $1 the
 * token's sub (canonical UUID), $2 its iat.
 */
#define AUTH_REVOKED_SQLSTATE "22P02"

/*
 * When r carries a verified token, point values[0..2) at its parameters
 * (iat printed into iat_buf) and return 1; otherwise return 0 (no check).
 */
int auth_revocation_params(const struct request *r, const char *values[2], char iat_buf[24]);

/* Answer 401 token_revoked (with its challenge) and log it. */
void auth_answer_revoked(struct request *r);

#endif
