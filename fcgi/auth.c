/*
 * auth.c — Authorization: Bearer <JWT> → r->caller.
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "jwt.h"
#include "log.h"
#include "util.h"

static unsigned char key[64];
static size_t keylen;

int auth_init(const struct zs_config *cfg, char *err, size_t errlen)
{
    return jwt_key_load(cfg->jwt_secret_file, key, sizeof(key), &keylen, err, errlen);
}

int auth_is_admin(const struct request *r)
{
    return r->authenticated && r->caller.scope == JWT_SCOPE_ADMIN;
}

static const char *const challenge = "WWW-Authenticate: Bearer realm=\"zerosum\"\r\n";

int auth_check(struct request *r, enum route_auth need)
{
    const char *h = r->authorization, *tok;
    enum jwt_status st;

    if (!h || !*h) {
        if (need == AUTH_NONE)
            return 0;
        http_problem_h(r, 401, "unauthenticated", challenge,
                       "an Authorization: Bearer token is required");
        return -1;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        http_problem_h(r, 401, "invalid_token", challenge,
                       "the Authorization header must be \"Bearer <token>\"");
        return -1;
    }
    tok = h + 7;
    while (*tok == ' ')
        tok++;
    st = jwt_verify(tok, key, keylen, time(NULL), &r->caller);
    if (st != JWT_OK) {
        log_info("request %s: token refused: %s", r->request_id, jwt_status_name(st));
        if (st == JWT_EXPIRED)
            http_problem_h(r, 401, "token_expired", challenge, "the bearer token has expired");
        else
            http_problem_h(r, 401, "invalid_token", challenge, "the bearer token is not valid");
        return -1;
    }
    /* Every principal is an account: a validly signed token whose sub is not
     * an account id (a UUID) names nobody, and must not reach SQL as one. */
    {
        char sub[UUID_STR_LEN + 1];
        if (!util_uuid_parse(r->caller.sub, sub)) {
            log_info("request %s: token refused: sub is not an account id", r->request_id);
            http_problem_h(r, 401, "invalid_token", challenge, "the bearer token is not valid");
            return -1;
        }
        memcpy(r->caller.sub, sub, sizeof(sub));
    }
    r->authenticated = 1;
    if (need == AUTH_ADMIN && r->caller.scope != JWT_SCOPE_ADMIN) {
        http_problem(r, 403, "admin_required", "this operation needs an admin token");
        return -1;
    }
    return 0;
}
