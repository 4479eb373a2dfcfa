/*
 * token.h — minting the credential for a new database connection.
 *
 * Providers: `static` (the local password file, or no password), `dsql`
 * (an Aurora DSQL IAM token, SigV4-presigned, minted per connection) and
 * `rds` (an RDS IAM token). A credential is minted for every connection and
 * never logged.
 */
#ifndef ZS_TOKEN_H
#define ZS_TOKEN_H

#include <stddef.h>

#include "config.h"

/*
 * Write the password for a new connection into out (outlen bytes,
 * NUL-terminated; "" means no password). Returns 0, or -1 with a message
 * (never a secret) in err.
 */
int token_mint(const struct zs_config *cfg, char *out, size_t outlen, char *err, size_t errlen);

#endif
