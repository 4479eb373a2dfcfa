/*
 * iso8601.c — strict ISO 8601 / RFC 3339 instants (see iso8601.h).
 */
#include <stdio.h>
#include <string.h>

#include "iso8601.h"

/* The n decimal digits at s as a number, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days in month m (1-12) of year y, Gregorian. */
static int month_days(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* Parse the offset at s (Z, ±HH:MM, ±HHMM; ' ' for '+') into sign/hh/mm;
 * 0 or -1. Nothing may follow it. */
static int parse_offset(const char *s, char *sign, int *hh, int *mm)
{
    size_t n = strlen(s);

    if ((s[0] == 'Z' || s[0] == 'z') && n == 1) {
        *sign = '+';
        *hh = *mm = 0;
        return 0;
    }
    if (s[0] != '+' && s[0] != ' ' && s[0] != '-')
        return -1;
    *sign = s[0] == '-' ? '-' : '+';
    if (n == 6 && s[3] == ':') {
        *hh = digits(s + 1, 2);
        *mm = digits(s + 4, 2);
    } else if (n == 5) {
        *hh = digits(s + 1, 2);
        *mm = digits(s + 3, 2);
    } else {
        return -1;
    }
    return *hh < 0 || *mm < 0 || *hh > 15 || *mm > 59 ? -1 : 0;
}

int iso8601_parse(const char *in, char out[ISO8601_CANON_LEN + 1])
{
    int y, mo, d, h, mi, sec, oh, om, nfrac = 0;
    char frac[7] = "000000", sign, buf[96];
    const char *p;

    if (!in || strlen(in) < 20 || in[4] != '-' || in[7] != '-' || (in[10] != 'T' && in[10] != 't')
        || in[13] != ':' || in[16] != ':')
        return 0;
    y = digits(in, 4);
    mo = digits(in + 5, 2);
    d = digits(in + 8, 2);
    h = digits(in + 11, 2);
    mi = digits(in + 14, 2);
    sec = digits(in + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h < 0 || h > 23 || mi < 0
        || mi > 59 || sec < 0 || sec > 59)
        return 0;
    p = in + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (nfrac == 6)
                return 0;
            frac[nfrac++] = *p;
        }
        if (nfrac == 0)
            return 0;
    }
    if (parse_offset(p, &sign, &oh, &om) < 0)
        return 0;
    /* every field is in range by now: the text is exactly ISO8601_CANON_LEN long */
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%s%c%02d:%02d", y, mo, d, h, mi, sec,
             frac, sign, oh, om);
    memcpy(out, buf, ISO8601_CANON_LEN);
    out[ISO8601_CANON_LEN] = '\0';
    return 1;
}
