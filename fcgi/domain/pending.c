/*
 * pending.c — the rules of pending (two-phase) transfers: statuses, who may
 * post or void, the order of refusals, the hold arithmetic, the deadline.
 * Pure functions; the statements are in pending_store.c.
 */
#include "domain/pending.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {
    [PENDING_STATUS_UNKNOWN] = "unknown", [PENDING_STATUS_PENDING] = "pending",
    [PENDING_STATUS_POSTED] = "posted",   [PENDING_STATUS_VOIDED] = "voided",
    [PENDING_STATUS_EXPIRED] = "expired",
};

enum pending_status pending_status_parse(const char *text)
{
    if (!text)
        return PENDING_STATUS_UNKNOWN;
    for (int s = PENDING_STATUS_PENDING; s <= PENDING_STATUS_EXPIRED; s++)
        if (strcmp(text, status_names[s]) == 0)
            return (enum pending_status)s;
    return PENDING_STATUS_UNKNOWN;
}

const char *pending_status_name(enum pending_status s)
{
    if ((unsigned)s > PENDING_STATUS_EXPIRED)
        s = PENDING_STATUS_UNKNOWN;
    return status_names[s];
}

int pending_timeout_valid(int64_t t)
{
    return t >= PENDING_TIMEOUT_MIN && t <= PENDING_TIMEOUT_MAX;
}

enum pending_party pending_party_of(const char *sub, int is_admin, const char *from, const char *to)
{
    if (is_admin)
        return PENDING_PARTY_ADMIN;
    if (strcmp(sub, from) == 0)
        return PENDING_PARTY_PAYER;
    if (strcmp(sub, to) == 0)
        return PENDING_PARTY_PAYEE;
    return PENDING_PARTY_STRANGER;
}

enum pending_verdict pending_decide(enum pending_action action, enum pending_party party,
                                    enum pending_status status, int due, int64_t amount,
                                    int64_t post_amount)
{
    if (party == PENDING_PARTY_STRANGER)
        return PENDING_NOT_FOUND;
    if (action == PENDING_POST && party == PENDING_PARTY_PAYEE)
        return PENDING_NOT_PAYER;
    switch (status) {
    case PENDING_STATUS_POSTED:
        return PENDING_ALREADY_POSTED;
    case PENDING_STATUS_VOIDED:
        return PENDING_ALREADY_VOIDED;
    case PENDING_STATUS_EXPIRED:
        return PENDING_EXPIRED;
    case PENDING_STATUS_PENDING:
        break;
    default:
        return PENDING_EXPIRED; /* a status the schema does not allow: never act on it */
    }
    if (due)
        return PENDING_EXPIRE_NOW;
    if (action == PENDING_POST && post_amount > amount)
        return PENDING_AMOUNT_EXCEEDS;
    return PENDING_GO;
}

int pending_close_split(int64_t amount, int64_t post_amount, int64_t *moved, int64_t *released,
                        int64_t *returned)
{
    if (amount <= 0 || post_amount < 0 || post_amount > amount)
        return -1;
    *moved = post_amount;
    *released = amount;
    *returned = amount - post_amount;
    return 0;
}

int pending_deadline_text(const char *created_at, int64_t seconds, char out[40])
{
    struct tm tm;
    char buf[128];
    int y, mo, d, h, mi, s, us, n = 0;
    time_t t;

    if (sscanf(created_at, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ%n", &y, &mo, &d, &h, &mi, &s, &us, &n) != 7
        || n == 0 || created_at[n] != '\0' || seconds < 0 || seconds > PENDING_TIMEOUT_MAX)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    t += (time_t)seconds;
    if (!gmtime_r(&t, &tm))
        return -1;
    if (us < 0 || us > 999999 || tm.tm_year + 1900 > 9999)
        return -1;
    /* A buffer wide enough for any int, then the 27 characters it holds. */
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
    if (strlen(buf) >= 40)
        return -1;
    memcpy(out, buf, strlen(buf) + 1);
    return 0;
}
