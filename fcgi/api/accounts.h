/*
 * accounts.h — what the account routes share (api/accounts.c, api/history.c).
 */
#ifndef ZS_API_ACCOUNTS_H
#define ZS_API_ACCOUNTS_H

#include "api/http.h"
#include "util.h"

/* Parse {id} (path parameter 0) into id and check the caller may read it
 * (its owner, or an admin); answers 404 account_not_found and returns -1
 * if not. Someone else's account is answered exactly as a missing one. */
int accounts_readable(struct request *r, char id[UUID_STR_LEN + 1]);

#endif
