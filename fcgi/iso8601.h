/*
 * iso8601.h — strict parsing of an instant written in ISO 8601 (the
 * RFC 3339 profile), for query parameters such as ?at=.
 */
#ifndef ZS_ISO8601_H
#define ZS_ISO8601_H

/* "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM" */
#define ISO8601_CANON_LEN 32

/*
 * Parse `in`: YYYY-MM-DD, 'T' (or 't'), HH:MM:SS, an optional fraction of
 * 1 to 6 digits after '.', then 'Z' (or 'z') or an offset ±HH:MM or ±HHMM
 * (at most 15:59, what PostgreSQL's timestamptz accepts). A ' ' stands for
 * the offset's '+' (a '+' sent unencoded in a query string decodes to a
 * space). The date must exist (leap years included), hours 00-23, minutes
 * and seconds 00-59 (no leap second), year 0001-9999; nothing may follow.
 * 1 and the canonical form in out (offset +00:00 for Z, fraction padded to
 * six digits) when valid, 0 otherwise (out untouched). NULL is invalid.
 */
int iso8601_parse(const char *in, char out[ISO8601_CANON_LEN + 1]);

#endif
