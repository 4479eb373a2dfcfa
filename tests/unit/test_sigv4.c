/*
 * test_sigv4.c — unit tests for fcgi/sigv4.c: the SigV4 query presigner
 * against the official `get-vanilla` presign vector, the Aurora DSQL tokens
 * against reference signatures from @aws-sdk/dsql-signer and botocore, RDS IAM tokens against
 * values from @smithy/signature-v4, argument checks, and credential loading
 * from the environment and from a shared credentials file.
 *
 * Tokens are compared as parsed parameter sets plus the signature, never as
 * raw strings: SDKs differ in parameter order and in `host/?` versus `host?`.
 */
#include "store/sigv4.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DSQL_HOST "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
#define SESSION "SESSIONTOKEN/with+chars="
#define SESSION_ENC "SESSIONTOKEN%2Fwith%2Bchars%3D"

#define MAX_PARAMS 16

/* A query string split into name=value pairs (still encoded). */
struct parsed {
    int n;
    char *names[MAX_PARAMS];
    char *values[MAX_PARAMS];
    char *buf;
};

/* Split query (not modified) into out. Returns the number of parameters, or
 * -1 if there are too many or one lacks '='. Free with parsed_free(). */
static int parse_query(const char *query, struct parsed *out)
{
    char *save = NULL, *tok;
    memset(out, 0, sizeof *out);
    out->buf = strdup(query);
    for (tok = strtok_r(out->buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || out->n == MAX_PARAMS)
            return -1;
        *eq = '\0';
        out->names[out->n] = tok;
        out->values[out->n] = eq + 1;
        out->n++;
    }
    return out->n;
}

/* Free what parse_query() allocated. */
static void parsed_free(struct parsed *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

/* The value of parameter name in p, or NULL; NULL too if it appears twice. */
static const char *param(const struct parsed *p, const char *name)
{
    const char *found = NULL;
    for (int i = 0; i < p->n; i++) {
        if (strcmp(p->names[i], name) == 0) {
            if (found)
                return NULL;
            found = p->values[i];
        }
    }
    return found;
}

/* Check that token starts with prefix + "/?" and return the query part, or NULL. */
static const char *token_query(const char *token, const char *prefix)
{
    size_t n = strlen(prefix);
    if (!token || strncmp(token, prefix, n) != 0 || strncmp(token + n, "/?", 2) != 0)
        return NULL;
    return token + n + 2;
}

/* True if the names in p, the trailing X-Amz-Signature aside, are in strictly
 * ascending byte order (the signature is appended after signing). */
static int names_sorted(const struct parsed *p)
{
    for (int i = 1; i < p->n - 1; i++)
        if (strcmp(p->names[i - 1], p->names[i]) >= 0)
            return 0;
    return 1;
}

/* Seconds since the epoch of the given UTC time. */
static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { 0 };
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return timegm(&tm);
}

/* Fill c with the example credentials and the given session token (or none). */
static void example_creds(struct aws_credentials *c, const char *session)
{
    memset(c, 0, sizeof *c);
    strcpy(c->access_key_id, AKID);
    strcpy(c->secret_access_key, SECRET);
    c->session_token = session ? strdup(session) : NULL;
}

/* The official SigV4 test-suite `get-vanilla` request, presigned in the query. */
static void test_get_vanilla(void)
{
    struct aws_credentials c;
    struct parsed p;
    char *q;

    example_creds(&c, NULL);
    q = sigv4_presign_query(&c, "example.amazonaws.com", "service", "us-east-1", NULL, 0, 3600,
                            utc(2015, 8, 30, 12, 36, 0));
    ok(q != NULL, "get-vanilla: presign returns a query");
    is_int(parse_query(q ? q : "", &p), 6, "get-vanilla: six parameters");
    is_str(param(&p, "X-Amz-Signature"),
           "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
           "get-vanilla: signature matches the official vector");
    is_str(param(&p, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256", "get-vanilla: algorithm");
    is_str(param(&p, "X-Amz-Credential"),
           "AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request",
           "get-vanilla: credential scope, slashes encoded");
    is_str(param(&p, "X-Amz-Date"), "20150830T123600Z", "get-vanilla: date");
    is_str(param(&p, "X-Amz-Expires"), "3600", "get-vanilla: expires");
    is_str(param(&p, "X-Amz-SignedHeaders"), "host", "get-vanilla: signed headers");
    ok(param(&p, "X-Amz-Security-Token") == NULL, "get-vanilla: no security token without one");
    parsed_free(&p);
    free(q);
    aws_credentials_clear(&c);
}

/* The four DSQL reference tokens (@aws-sdk/dsql-signer and botocore agree on them). */
static void test_dsql_reference(void)
{
    static const struct {
        int admin;
        const char *session;
        const char *signature;
    } cases[] = {
        { 0, NULL, "cac39927094dc5e01619fefe34cea863c68ac817a10f39ce32c23ef57ef0e55b" },
        { 1, NULL, "9ea0011bbd175e34a41500b8d7c9a593a34e9d73577f04e749f40c0a1fd32ad1" },
        { 0, SESSION, "0e707ffa88ef602aaa56f8e1dbf2689d748d89b0121611319643375f975b6f98" },
        { 1, SESSION, "e49250f5c32e8fd611cbde8ee8e72bb721decbb935b3b737ded6c8d8125bf68d" },
    };
    time_t at = utc(2025, 1, 2, 3, 4, 5);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct aws_credentials c;
        struct parsed p;
        char name[128], *tok;
        const char *q;

        snprintf(name, sizeof name, "dsql %s%s", cases[i].admin ? "DbConnectAdmin" : "DbConnect",
                 cases[i].session ? " with session token" : "");
        example_creds(&c, cases[i].session);
        tok = sigv4_dsql_token(&c, DSQL_HOST, "us-east-1", cases[i].admin, 900, at);
        q = token_query(tok, DSQL_HOST);
        ok(q != NULL, name);
        is_int(parse_query(q ? q : "", &p), cases[i].session ? 8 : 7, "  parameter count");
        is_str(param(&p, "X-Amz-Signature"), cases[i].signature,
               "  signature matches the SDK reference");
        is_str(param(&p, "Action"), cases[i].admin ? "DbConnectAdmin" : "DbConnect", "  action");
        is_str(param(&p, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256", "  algorithm");
        is_str(param(&p, "X-Amz-Credential"),
               "AKIDEXAMPLE%2F20250102%2Fus-east-1%2Fdsql%2Faws4_request", "  credential");
        is_str(param(&p, "X-Amz-Date"), "20250102T030405Z", "  date");
        is_str(param(&p, "X-Amz-Expires"), "900", "  expires");
        is_str(param(&p, "X-Amz-SignedHeaders"), "host", "  signed headers");
        is_str(param(&p, "X-Amz-Security-Token"), cases[i].session ? SESSION_ENC : NULL,
               "  security token RFC 3986 encoded (or absent)");
        ok(names_sorted(&p), "  parameters sorted by name");
        ok(strcmp(p.names[p.n - 1], "X-Amz-Signature") == 0, "  signature last");
        parsed_free(&p);
        free(tok);
        aws_credentials_clear(&c);
    }
}

/* RDS IAM tokens. The expected signatures come from @smithy/signature-v4
 * (the signer behind @aws-sdk/rds-signer) given the same request: host
 * header "HOST:PORT", query Action=connect & DBUser, frozen clock. */
static void test_rds(void)
{
    static const char *host = "mydb.cluster-abc.eu-west-1.rds.amazonaws.com";
    time_t at = utc(2025, 1, 2, 3, 4, 5);
    struct aws_credentials c;
    struct parsed p;
    char *tok;
    const char *q;

    example_creds(&c, NULL);
    tok = sigv4_rds_token(&c, host, 5432, "eu-west-1", "app user+1", 900, at);
    q = token_query(tok, "mydb.cluster-abc.eu-west-1.rds.amazonaws.com:5432");
    ok(q != NULL, "rds: token starts with HOST:PORT/?");
    is_int(parse_query(q ? q : "", &p), 8, "rds: parameter count");
    is_str(param(&p, "Action"), "connect", "rds: action");
    is_str(param(&p, "DBUser"), "app%20user%2B1", "rds: user encoded (space is %20, + is %2B)");
    is_str(param(&p, "X-Amz-Credential"),
           "AKIDEXAMPLE%2F20250102%2Feu-west-1%2Frds-db%2Faws4_request",
           "rds: credential scope names rds-db");
    is_str(param(&p, "X-Amz-Signature"),
           "1ad492a5f4db3a87ddece04509b4a86719d873de634b5da82e379c55178e874b", "rds: signature");
    ok(names_sorted(&p), "rds: parameters sorted");
    parsed_free(&p);
    free(tok);
    aws_credentials_clear(&c);

    example_creds(&c, SESSION);
    tok = sigv4_rds_token(&c, host, 5432, "eu-west-1", "app user+1", 900, at);
    q = token_query(tok, "mydb.cluster-abc.eu-west-1.rds.amazonaws.com:5432");
    is_int(parse_query(q ? q : "", &p), 9, "rds with session token: parameter count");
    is_str(param(&p, "X-Amz-Security-Token"), SESSION_ENC, "rds with session token: token encoded");
    is_str(param(&p, "X-Amz-Signature"),
           "c4a9ff1aef094714b81a510d0d6b69c0cd2429ea3ee2fe1e528b2f52aca19aa3",
           "rds with session token: signature");
    parsed_free(&p);
    free(tok);

    ok(sigv4_rds_token(&c, host, 0, "eu-west-1", "u", 900, at) == NULL, "rds: port 0 refused");
    ok(sigv4_rds_token(&c, host, 65536, "eu-west-1", "u", 900, at) == NULL,
       "rds: port 65536 refused");
    ok(sigv4_rds_token(&c, host, 5432, "eu-west-1", "", 900, at) == NULL,
       "rds: empty user refused");
    ok(sigv4_rds_token(&c, host, 5432, "eu-west-1", NULL, 900, at) == NULL,
       "rds: NULL user refused");
    aws_credentials_clear(&c);
}

/* Encoding of extra parameters, sorting, and argument checks. */
static void test_presign_edges(void)
{
    time_t at = utc(2025, 1, 2, 3, 4, 5);
    const char *params[] = { "Zeta", "x y/z~._-", "Alpha", "é&=" };
    struct aws_credentials c;
    struct parsed p;
    char *q;

    example_creds(&c, NULL);
    q = sigv4_presign_query(&c, "h.example", "svc", "us-west-2", params, 2, 60, at);
    is_int(parse_query(q ? q : "", &p), 8, "edges: two extra parameters plus six");
    is_str(p.n ? p.names[0] : NULL, "Alpha", "edges: sorted by name, bytewise");
    is_str(p.n > 1 ? p.names[p.n - 2] : NULL, "Zeta", "edges: Zeta after the X-Amz- names");
    ok(names_sorted(&p), "edges: all names sorted");
    is_str(param(&p, "Alpha"), "%C3%A9%26%3D", "edges: UTF-8 and reserved bytes %XX uppercase");
    is_str(param(&p, "Zeta"), "x%20y%2Fz~._-", "edges: unreserved kept, space and slash encoded");
    parsed_free(&p);
    free(q);

    q = sigv4_presign_query(&c, "h.example", "svc", "us-west-2", NULL, 0, SIGV4_MAX_EXPIRES, at);
    ok(q != NULL, "edges: expires of 7 days accepted");
    free(q);
    ok(sigv4_presign_query(&c, "h.example", "svc", "us-west-2", NULL, 0, 0, at) == NULL,
       "edges: expires 0 refused");
    ok(sigv4_presign_query(&c, "h.example", "svc", "us-west-2", NULL, 0, SIGV4_MAX_EXPIRES + 1, at)
           == NULL,
       "edges: expires over 7 days refused");
    ok(sigv4_dsql_token(&c, "", "us-east-1", 0, 900, at) == NULL, "edges: empty host refused");
    ok(sigv4_dsql_token(&c, "https://h.example", "us-east-1", 0, 900, at) == NULL,
       "edges: host with a scheme refused");
    ok(sigv4_dsql_token(&c, "h.example\nx-evil: 1", "us-east-1", 0, 900, at) == NULL,
       "edges: host with a newline refused");
    ok(sigv4_dsql_token(&c, "h.example", "us/east-1", 0, 900, at) == NULL,
       "edges: region with a slash refused");
    ok(sigv4_dsql_token(&c, "h.example", "", 0, 900, at) == NULL, "edges: empty region refused");
    ok(sigv4_dsql_token(NULL, "h.example", "us-east-1", 0, 900, at) == NULL,
       "edges: NULL credentials refused");
    aws_credentials_clear(&c);
    ok(sigv4_dsql_token(&c, "h.example", "us-east-1", 0, 900, at) == NULL,
       "edges: cleared credentials refused");
}

/* Remove every credential-related variable from the environment. */
static void env_reset(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
}

/* True if err is non-empty and mentions none of the secrets. */
static int err_clean(const char *err)
{
    return err[0] && !strstr(err, SECRET) && !strstr(err, "FILESECRET") && !strstr(err, "TOO LONG")
        && !strstr(err, "SESSIONTOKEN");
}

static void test_credentials_env(void)
{
    struct aws_credentials c;
    char err[512];

    env_reset();
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", SESSION, 1);
    is_int(aws_credentials_load(&c, err, sizeof err), 0, "env: credentials load");
    is_str(c.access_key_id, AKID, "env: access key id");
    is_str(c.secret_access_key, SECRET, "env: secret access key");
    is_str(c.session_token, SESSION, "env: session token");
    aws_credentials_clear(&c);
    ok(c.session_token == NULL && c.access_key_id[0] == '\0' && c.secret_access_key[0] == '\0',
       "clear: secrets wiped and token freed");
    aws_credentials_clear(&c);
    ok(1, "clear: second clear is harmless");

    unsetenv("AWS_SESSION_TOKEN");
    is_int(aws_credentials_load(&c, err, sizeof err), 0, "env: loads without a session token");
    ok(c.session_token == NULL, "env: no session token");
    aws_credentials_clear(&c);

    unsetenv("AWS_ACCESS_KEY_ID");
    is_int(aws_credentials_load(&c, err, sizeof err), -1, "env: secret without key id fails");
    ok(err_clean(err), "env: error message carries no secret");
    ok(c.session_token == NULL && c.secret_access_key[0] == '\0',
       "env: failure leaves out cleared");

    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "TOO LONG secret with spaces", 1);
    is_int(aws_credentials_load(&c, err, sizeof err), -1, "env: malformed secret refused");
    ok(err_clean(err), "env: that error message carries no secret");
    env_reset();
}

/* Write text to a new temporary file; return its path (static buffer). */
static const char *write_temp(const char *text)
{
    static char path[] = "/tmp/zs_test_sigv4_XXXXXX";
    int fd;
    strcpy(path + strlen(path) - 6, "XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror("write_temp");
        exit(1);
    }
    close(fd);
    return path;
}

static void test_credentials_file(void)
{
    static const char ini[] = "# shared credentials for the unit test\n"
                              "[default]\n"
                              "aws_access_key_id = AKIDDEFAULT\n"
                              "aws_secret_access_key = FILESECRETDEFAULT\n"
                              "\n"
                              "  [ work ]   ; a comment after the section\n"
                              "\taws_access_key_id=AKIDWORK   # inline comment\n"
                              "AWS_SECRET_ACCESS_KEY   =   FILESECRET/work+key=\n"
                              "; full-line comment\n"
                              "aws_session_token = " SESSION "\n"
                              "region = eu-west-1\n"
                              "not a key value line\n"
                              "[nokey]\n"
                              "aws_access_key_id = AKIDNOKEY\n"
                              "[other]\n"
                              "aws_access_key_id = AKIDOTHER\n"
                              "aws_secret_access_key = FILESECRETOTHER\n";
    struct aws_credentials c;
    char err[512];
    const char *path;

    env_reset();
    path = write_temp(ini);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);

    is_int(aws_credentials_load(&c, err, sizeof err), 0, "file: default profile loads");
    is_str(c.access_key_id, "AKIDDEFAULT", "file: default access key id");
    is_str(c.secret_access_key, "FILESECRETDEFAULT", "file: default secret");
    ok(c.session_token == NULL, "file: default has no session token");
    aws_credentials_clear(&c);

    setenv("AWS_PROFILE", "work", 1);
    is_int(aws_credentials_load(&c, err, sizeof err), 0, "file: AWS_PROFILE=work loads");
    is_str(c.access_key_id, "AKIDWORK", "file: whitespace and inline comment tolerated");
    is_str(c.secret_access_key, "FILESECRET/work+key=", "file: key names case-insensitive");
    is_str(c.session_token, SESSION, "file: session token");
    aws_credentials_clear(&c);

    setenv("AWS_PROFILE", "missing", 1);
    is_int(aws_credentials_load(&c, err, sizeof err), -1, "file: missing profile fails");
    ok(strstr(err, "missing") != NULL, "file: error names the profile");
    ok(err_clean(err), "file: error carries no secret");

    setenv("AWS_PROFILE", "nokey", 1);
    is_int(aws_credentials_load(&c, err, sizeof err), -1, "file: profile without secret fails");
    ok(strstr(err, "aws_secret_access_key") != NULL, "file: error names the missing key");
    ok(err_clean(err), "file: that error carries no secret");

    setenv("AWS_PROFILE", "other", 1);
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    is_int(aws_credentials_load(&c, err, sizeof err), 0, "file: environment wins over file");
    is_str(c.access_key_id, AKID, "file: key id from environment");
    aws_credentials_clear(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    unlink(path);
    is_int(aws_credentials_load(&c, err, sizeof err), -1, "file: missing file fails");
    ok(strstr(err, path) != NULL, "file: error names the path");
    ok(err_clean(err), "file: that error carries no secret");
    env_reset();
}

/* Extract the X-Amz-Signature of a DSQL token (malloc'd) or NULL. */
static char *dsql_signature(const struct aws_credentials *c, const char *region, time_t at)
{
    char *tok = sigv4_dsql_token(c, DSQL_HOST, region, 0, 900, at), *sig = NULL;
    struct parsed p;
    const char *q = token_query(tok, DSQL_HOST);

    if (q && parse_query(q, &p) > 0) {
        const char *v = param(&p, "X-Amz-Signature");
        sig = v ? strdup(v) : NULL;
        parsed_free(&p);
    }
    free(tok);
    return sig;
}

/* The signing key is derived once per secret, day, region and service and
 * reused; a change of any of them derives a new one, and every token still
 * matches the reference. */
static void test_signing_key_cache(void)
{
    struct aws_credentials c, other;
    time_t at = utc(2025, 1, 2, 3, 4, 5);
    unsigned long n0;
    char *a, *b, *d, *e, *f;

    example_creds(&c, NULL);
    example_creds(&other, NULL);
    other.secret_access_key[0] ^= 1;
    a = dsql_signature(&c, "us-east-1", at); /* may derive (another test ran first) */
    n0 = sigv4_keys_derived();
    b = dsql_signature(&c, "us-east-1", at + 60); /* same day: the cached key */
    is_int((int)(sigv4_keys_derived() - n0), 0,
           "key cache: the same day's key is not derived again");
    is_str(a, "cac39927094dc5e01619fefe34cea863c68ac817a10f39ce32c23ef57ef0e55b",
           "key cache: the reference signature");
    ok(b && strcmp(a ? a : "", b) != 0, "key cache: another time signs differently");
    d = dsql_signature(&other, "us-east-1", at); /* another secret */
    is_int((int)(sigv4_keys_derived() - n0), 1, "key cache: another secret derives its own key");
    ok(d && strcmp(a ? a : "", d) != 0, "key cache: ...and signs differently");
    e = dsql_signature(&c, "us-west-2", at);         /* another region */
    f = dsql_signature(&c, "us-east-1", at + 86400); /* the next day */
    is_int((int)(sigv4_keys_derived() - n0), 3, "key cache: another region or day derives anew");
    free(a);
    a = dsql_signature(&c, "us-east-1", at); /* back to the first: derived again, same token */
    is_str(a, "cac39927094dc5e01619fefe34cea863c68ac817a10f39ce32c23ef57ef0e55b",
           "key cache: back to the first secret, the reference signature again");
    ok(e && f && strcmp(e, f) != 0, "key cache: region and day tokens differ");
    free(a);
    free(b);
    free(d);
    free(e);
    free(f);
    aws_credentials_clear(&c);
    aws_credentials_clear(&other);
}

int main(void)
{
    test_get_vanilla();
    test_dsql_reference();
    test_rds();
    test_presign_edges();
    test_signing_key_cache();
    test_credentials_env();
    test_credentials_file();
    return done_testing();
}
