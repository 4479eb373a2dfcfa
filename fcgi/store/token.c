/*
 * token.c — the static, dsql and rds credential providers.
 */
#include "store/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/sigv4.h"

static int mint_static(const struct zs_config *cfg, char *out, size_t outlen, char *err,
                       size_t errlen)
{
    int fd;
    ssize_t n;

    out[0] = '\0';
    if (!cfg->db_password_file[0])
        return 0;
    fd = open(cfg->db_password_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open(\"%s\") failed: %s", cfg->db_password_file, strerror(errno));
        return -1;
    }
    n = read(fd, out, outlen - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "read(\"%s\") failed: %s", cfg->db_password_file, strerror(errno));
        return -1;
    }
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return 0;
}

static int mint_aws(const struct zs_config *cfg, char *out, size_t outlen, char *err, size_t errlen)
{
    struct aws_credentials creds;
    char *tok;

    memset(&creds, 0, sizeof(creds));
    if (aws_credentials_load(&creds, err, errlen) < 0)
        return -1;
    if (strcmp(cfg->db_token_provider, "dsql") == 0)
        tok = sigv4_dsql_token(&creds, cfg->db_host, cfg->aws_region,
                               strcmp(cfg->db_user, "admin") == 0, cfg->token_expires, time(NULL));
    else
        tok = sigv4_rds_token(&creds, cfg->db_host, cfg->db_port, cfg->aws_region, cfg->db_user,
                              cfg->token_expires, time(NULL));
    aws_credentials_clear(&creds);
    if (!tok) {
        snprintf(err, errlen, "signing the %s token failed", cfg->db_token_provider);
        return -1;
    }
    if (strlen(tok) >= outlen) {
        snprintf(err, errlen, "the %s token is longer than %zu bytes", cfg->db_token_provider,
                 outlen - 1);
        OPENSSL_cleanse(tok, strlen(tok));
        free(tok);
        return -1;
    }
    strcpy(out, tok);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    return 0;
}

int token_mint(const struct zs_config *cfg, char *out, size_t outlen, char *err, size_t errlen)
{
    if (strcmp(cfg->db_token_provider, "static") == 0)
        return mint_static(cfg, out, outlen, err, errlen);
    if (strcmp(cfg->db_token_provider, "dsql") == 0 || strcmp(cfg->db_token_provider, "rds") == 0)
        return mint_aws(cfg, out, outlen, err, errlen);
    snprintf(err, errlen, "unknown db_token_provider \"%s\"", cfg->db_token_provider);
    return -1;
}
