/*
 * auth.h — who is calling: bearer JWTs checked against the server secret.
 */
#ifndef ZS_AUTH_H
#define ZS_AUTH_H

#include "http.h"
#include "router.h"

/* Load the JWT key from cfg->jwt_secret_file. 0, or -1 with a message in err. */
int auth_init(const struct zs_config *cfg, char *err, size_t errlen);

/*
 * Authenticate r for a route needing `need`. AUTH_NONE always passes (a
 * valid token, if sent, still sets r->caller). On failure answers 401
 * (missing, malformed, forged, expired, alg none) or 403 (scope) and
 * returns -1.
 */
int auth_check(struct request *r, enum route_auth need);

/* True when the caller holds the admin scope. */
int auth_is_admin(const struct request *r);

#endif
