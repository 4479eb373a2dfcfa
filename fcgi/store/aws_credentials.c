/*
 * aws_credentials.c — AWS credentials for the token providers (sigv4.h):
 * from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN) or the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
 * or ~/.aws/credentials, profile AWS_PROFILE or "default"). Every copy of a
 * secret is wiped with OPENSSL_cleanse before it is freed.
 */
#include "store/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

/* ---- credentials ------------------------------------------------------ */

/* Format a message into err (if errlen > 0). Always returns -1. */
__attribute__((format(printf, 3, 4))) static int creds_fail(char *err, size_t errlen,
                                                            const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* True if s is non-empty, shorter than a credentials key field and made only
 * of printable non-space ASCII. */
static int valid_key(const char *s)
{
    size_t n = 0;
    if (!s || !*s)
        return 0;
    for (; s[n]; n++)
        if (n >= sizeof((struct aws_credentials *)0)->access_key_id - 1
            || (unsigned char)s[n] <= ' ' || (unsigned char)s[n] > '~')
            return 0;
    return 1;
}

/* Fill out (zeroed by the caller) from the given strings; token may be NULL
 * or empty for none. where names the source for messages. Returns 0, or -1
 * with err set (the caller then clears out). */
static int creds_set(struct aws_credentials *out, const char *akid, const char *secret,
                     const char *token, const char *where, char *err, size_t errlen)
{
    if (!valid_key(akid))
        return creds_fail(err, errlen,
                          "%s: access key id is empty, too long or not printable ASCII", where);
    if (!valid_key(secret))
        return creds_fail(err, errlen,
                          "%s: secret access key is empty, too long or not printable ASCII", where);
    if (token && *token) {
        for (const char *t = token; *t; t++)
            if ((unsigned char)*t <= ' ' || (unsigned char)*t > '~')
                return creds_fail(err, errlen, "%s: session token is not printable ASCII", where);
        out->session_token = strdup(token);
        if (!out->session_token)
            return creds_fail(err, errlen, "%s: out of memory", where);
    }
    snprintf(out->access_key_id, sizeof out->access_key_id, "%s", akid);
    snprintf(out->secret_access_key, sizeof out->secret_access_key, "%s", secret);
    return 0;
}

/* Trim leading and trailing whitespace of s in place; return the new start. */
static char *trim(char *s)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Cut an INI comment off line: from a '#' or ';' that starts the line or
 * follows whitespace (so "a=b#c" keeps its '#', as the AWS SDKs do). */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if ((*p == '#' || *p == ';') && (p == line || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

/* Values read for one profile; strings malloc'd, wiped on release. */
struct profile_vals {
    char *akid;
    char *secret;
    char *token;
};

/* Replace *slot with a copy of value, wiping the old one. Returns 0 or -1. */
static int replace_secret(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    if (*slot) {
        OPENSSL_cleanse(*slot, strlen(*slot));
        free(*slot);
    }
    *slot = copy;
    return 0;
}

/* Wipe and free everything in v. */
static void profile_vals_free(struct profile_vals *v)
{
    char **slots[] = { &v->akid, &v->secret, &v->token };
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (*slots[i]) {
            OPENSSL_cleanse(*slots[i], strlen(*slots[i]));
            free(*slots[i]);
            *slots[i] = NULL;
        }
    }
}

/*
 * Read profile `profile` from the INI file fp into v. Sections with the same
 * name are merged, later keys winning. Key names are matched without regard
 * to case; unknown keys and lines without '=' are ignored. Returns 1 if the
 * section was found, 0 if not, -1 on allocation failure.
 */
static int read_profile(FILE *fp, const char *profile, struct profile_vals *v)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int in_profile = 0, found = 0, rc = 0;

    while ((n = getline(&line, &cap, fp)) >= 0) {
        char *s, *eq, *key, *value;
        strip_comment(line);
        s = trim(line);
        if (*s == '[') {
            size_t len = strlen(s);
            in_profile = 0;
            if (len >= 2 && s[len - 1] == ']') {
                s[len - 1] = '\0';
                in_profile = strcmp(trim(s + 1), profile) == 0;
                found |= in_profile;
            }
        } else if (in_profile && (eq = strchr(s, '=')) != NULL) {
            *eq = '\0';
            key = trim(s);
            value = trim(eq + 1);
            if (strcasecmp(key, "aws_access_key_id") == 0)
                rc = replace_secret(&v->akid, value);
            else if (strcasecmp(key, "aws_secret_access_key") == 0)
                rc = replace_secret(&v->secret, value);
            else if (strcasecmp(key, "aws_session_token") == 0)
                rc = replace_secret(&v->token, value);
        }
        OPENSSL_cleanse(line, cap);
        if (rc != 0)
            break;
    }
    if (line) {
        OPENSSL_cleanse(line, cap);
        free(line);
    }
    return rc != 0 ? -1 : found;
}

/* Load out (zeroed by the caller) from the shared credentials file. Returns
 * 0, or -1 with err set (the caller then clears out). */
static int creds_load_file(struct aws_credentials *out, char *err, size_t errlen)
{
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *profile = getenv("AWS_PROFILE");
    const char *home = getenv("HOME");
    char path[4096], where[4096 + 128];
    struct profile_vals v = { 0 };
    FILE *fp;
    int found, rc;

    if (!profile || !*profile)
        profile = "default";
    if (file && *file && !(file[0] == '~' && file[1] == '/')) {
        snprintf(path, sizeof path, "%s", file);
    } else {
        if (!home || !*home)
            return creds_fail(err, errlen,
                              "no AWS credentials: AWS_ACCESS_KEY_ID is unset and HOME is not set "
                              "to find the shared credentials file");
        snprintf(path, sizeof path, "%s%s", home, file && *file ? file + 1 : "/.aws/credentials");
    }

    fp = fopen(path, "re");
    if (!fp)
        return creds_fail(
            err, errlen,
            "no AWS credentials: AWS_ACCESS_KEY_ID is unset and fopen(\"%s\") failed: %s", path,
            strerror(errno));
    found = read_profile(fp, profile, &v);
    fclose(fp);

    snprintf(where, sizeof where, "profile \"%s\" in %s", profile, path);
    if (found < 0)
        rc = creds_fail(err, errlen, "%s: out of memory", where);
    else if (found == 0)
        rc = creds_fail(err, errlen, "no AWS credentials: %s not found", where);
    else if (!v.akid || !*v.akid)
        rc = creds_fail(err, errlen, "%s has no aws_access_key_id", where);
    else if (!v.secret || !*v.secret)
        rc = creds_fail(err, errlen, "%s has no aws_secret_access_key", where);
    else
        rc = creds_set(out, v.akid, v.secret, v.token, where, err, errlen);
    profile_vals_free(&v);
    return rc;
}

int aws_credentials_load(struct aws_credentials *out, char *err, size_t errlen)
{
    const char *akid = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    int rc;

    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if ((akid && *akid) || (secret && *secret)) {
        if (!akid || !*akid || !secret || !*secret)
            rc = creds_fail(err, errlen,
                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
        else
            rc = creds_set(out, akid, secret, getenv("AWS_SESSION_TOKEN"), "environment", err,
                           errlen);
    } else {
        rc = creds_load_file(out, err, errlen);
    }
    if (rc != 0)
        aws_credentials_clear(out);
    return rc;
}

void aws_credentials_clear(struct aws_credentials *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->access_key_id, sizeof c->access_key_id);
    OPENSSL_cleanse(c->secret_access_key, sizeof c->secret_access_key);
    if (c->session_token) {
        OPENSSL_cleanse(c->session_token, strlen(c->session_token));
        free(c->session_token);
        c->session_token = NULL;
    }
}
