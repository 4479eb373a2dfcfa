/*
 * auth.c — Authorization: Bearer <JWT> → r->caller.
 */
#include "api/auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "jwt.h"
#include "log.h"
#include "util.h"

static struct jwt_keyring ring;
static struct jwt_policy policy;
static char ring_path[ZS_PATH_MAX];
static struct stat ring_seen;   /* the file as it was when ring was last (re)read */
static struct stat ring_failed; /* a version that failed to load (logged once) */

/* Same file, same contents as far as stat() can tell. */
static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
        && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
        && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int auth_init(const struct zs_config *cfg, char *err, size_t errlen)
{
    struct stat st;

    snprintf(ring_path, sizeof(ring_path), "%s", cfg->jwt_secret_file);
    policy.issuer = cfg->jwt_issuer;
    policy.audience = cfg->jwt_audience;
    policy.leeway = cfg->jwt_leeway;
    policy.max_lifetime = cfg->jwt_max_lifetime;
    memset(&ring_failed, 0, sizeof(ring_failed));
    if (stat(ring_path, &st) != 0)
        memset(&st, 0, sizeof(st));
    if (jwt_keyring_load(ring_path, &ring, err, errlen) < 0)
        return -1;
    ring_seen = st;
    return 0;
}

/* Re-read the key ring if its file changed since it was read; keep the old one on failure. */
static void refresh_ring(void)
{
    struct jwt_keyring fresh;
    struct stat st;
    char err[256];

    if (stat(ring_path, &st) != 0 || same_file(&st, &ring_seen) || same_file(&st, &ring_failed))
        return;
    if (jwt_keyring_load(ring_path, &fresh, err, sizeof(err)) < 0) {
        log_error("key ring changed but cannot be read; keeping the old one: %s", err);
        ring_failed = st;
        return;
    }
    OPENSSL_cleanse(&ring, sizeof(ring));
    ring = fresh;
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    ring_seen = st;
    log_info("key ring re-read: %d key(s), current kid %s", ring.n, ring.keys[0].kid);
}

int auth_is_admin(const struct request *r)
{
    return r->authenticated && r->caller.scope == JWT_SCOPE_ADMIN;
}

/* RFC 6750 §3: no error attribute when no credentials were sent. */
static const char *const challenge = "WWW-Authenticate: Bearer realm=\"zerosum\"\r\n";

/*
 * 401 with code and detail, and the invalid_token challenge carrying the
 * detail (RFC 6750 §3: error_description is a quoted-string of printable
 * ASCII without '"' or '\\', so those become '\'').
 */
static void refuse(struct request *r, const char *code, const char *detail)
{
    char hdr[320], desc[200];
    size_t i;

    for (i = 0; detail[i] && i < sizeof(desc) - 1; i++)
        desc[i] = detail[i] == '"' || detail[i] == '\\' ? '\'' : detail[i];
    desc[i] = '\0';
    snprintf(hdr, sizeof(hdr),
             "WWW-Authenticate: Bearer realm=\"zerosum\", error=\"invalid_token\", "
             "error_description=\"%s\"\r\n",
             desc);
    http_problem_h(r, 401, code, hdr, "%s", detail);
}

/* Problem code and detail for a refused token. */
static void refuse_status(struct request *r, enum jwt_status st)
{
    switch (st) {
    case JWT_EXPIRED:
        refuse(r, "token_expired", "the bearer token has expired");
        return;
    case JWT_NOT_YET_VALID:
        refuse(r, "token_not_yet_valid",
               "the bearer token is not valid yet (nbf or iat is in the future)");
        return;
    case JWT_UNKNOWN_KID:
        refuse(r, "invalid_token", "the bearer token names no signing key (kid) known here");
        return;
    case JWT_BAD_SIGNATURE:
        refuse(r, "invalid_token", "the bearer token's signature does not verify");
        return;
    case JWT_BAD_ALG:
        refuse(r, "invalid_token", "the bearer token must be signed with HS256");
        return;
    case JWT_BAD_CLAIMS:
        refuse(r, "invalid_token",
               "the bearer token lacks a required claim (iss, aud, sub, scope, iat, exp) or has "
               "one of the wrong type");
        return;
    case JWT_BAD_ISSUER:
        refuse(r, "invalid_token", "the bearer token was not issued by this service (iss)");
        return;
    case JWT_BAD_AUDIENCE:
        refuse(r, "invalid_token", "the bearer token is not meant for this service (aud)");
        return;
    case JWT_BAD_LIFETIME:
        refuse(r, "invalid_token",
               "the bearer token's lifetime (exp - iat) is longer than allowed");
        return;
    case JWT_OK:
    case JWT_MALFORMED:
        break;
    }
    refuse(r, "invalid_token", "the bearer token is not a well-formed JWT");
}

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
        refuse(r, "invalid_token", "the Authorization header must be \"Bearer <token>\"");
        return -1;
    }
    tok = h + 7;
    while (*tok == ' ')
        tok++;
    refresh_ring();
    st = jwt_verify(tok, &ring, &policy, time(NULL), &r->caller);
    if (st != JWT_OK) {
        log_info("request %s: token refused: %s", r->request_id, jwt_status_name(st));
        refuse_status(r, st);
        return -1;
    }
    /* Every principal is an account: a validly signed token whose sub is not
     * an account id (a UUID) names nobody, and must not reach SQL as one. */
    {
        char sub[UUID_STR_LEN + 1];
        if (!util_uuid_parse(r->caller.sub, sub)) {
            log_info("request %s: token refused: sub is not an account id", r->request_id);
            refuse(r, "invalid_token", "the bearer token's subject is not an account id");
            return -1;
        }
        memcpy(r->caller.sub, sub, sizeof(sub));
    }
    r->authenticated = 1;
    if (need == AUTH_ADMIN && r->caller.scope != JWT_SCOPE_ADMIN) {
        http_problem_h(r, 403, "admin_required",
                       "WWW-Authenticate: Bearer realm=\"zerosum\", error=\"insufficient_scope\", "
                       "scope=\"admin\"\r\n",
                       "this operation needs an admin token");
        return -1;
    }
    return 0;
}

int auth_revocation_params(const struct request *r, const char *values[2], char iat_buf[24])
{
    if (!r || !r->authenticated)
        return 0;
    snprintf(iat_buf, 24, "%" PRId64, r->caller.iat);
    values[0] = r->caller.sub;
    values[1] = iat_buf;
    return 1;
}

void auth_answer_revoked(struct request *r)
{
    log_info("request %s: token refused: revoked (iat %" PRId64 ")", r->request_id, r->caller.iat);
    refuse(r, "token_revoked",
           "the bearer token was revoked (it was issued before its "
           "subject's tokens were revoked)");
}
