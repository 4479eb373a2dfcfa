/*
 * order_terms.c — the pure rules on an order's terms (see order_terms.h).
 */
#include "domain/order_terms.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const type_names[] = { "limit", "market" };

int order_type_parse(const char *s, enum order_type *out)
{
    int i = market_enum_lookup(type_names, 2, s);

    if (i < 0)
        return -1;
    *out = (enum order_type)i;
    return 0;
}

const char *order_type_name(enum order_type t)
{
    return type_names[t == ORDER_MARKET];
}

const char *order_terms_check(struct order_terms *t, const char **detail)
{
    if (t->type == ORDER_LIMIT) {
        if (t->has_protection) {
            *detail = "\"protection_price\" belongs to a market order; a limit order has \"price\"";
            return "conflicting_fields";
        }
        if (!t->has_price) {
            *detail = "a limit order needs \"price\"";
            return "missing_field";
        }
        if (!t->has_tif)
            t->tif = TIF_GTC;
    } else {
        if (t->has_price) {
            *detail = "a market order takes \"protection_price\", not \"price\"";
            return "conflicting_fields";
        }
        if (!t->has_protection) {
            *detail = "a market order needs \"protection_price\"";
            return "missing_field";
        }
        if (!t->has_tif)
            t->tif = TIF_IOC;
        if (t->tif != TIF_IOC && t->tif != TIF_FOK) {
            *detail = "a market order never rests: its \"time_in_force\" is ioc or fok";
            return "conflicting_fields";
        }
    }
    if (t->tif == TIF_GTD && !t->has_expires) {
        *detail = "a gtd order needs \"expires_at\"";
        return "missing_field";
    }
    if (t->tif != TIF_GTD && t->has_expires) {
        *detail = "\"expires_at\" belongs to a gtd order";
        return "conflicting_fields";
    }
    if (t->post_only && (t->type == ORDER_MARKET || !order_tif_rests(t->tif))) {
        *detail = "\"post_only\" is for a limit order that may rest (gtc or gtd)";
        return "conflicting_fields";
    }
    *detail = NULL;
    return NULL;
}

/* n decimal digits at s into *v; 0, or -1. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : d[m - 1];
}

/* "hh:mm" after a sign at s: the offset east of UTC in seconds, or -1. */
static int offset_seconds(const char *s, int *off)
{
    int h, m;

    if (digits(s + 1, 2, &h) < 0 || s[3] != ':' || digits(s + 4, 2, &m) < 0 || s[6] != '\0'
        || h > 23 || m > 59)
        return -1;
    *off = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

int order_time_parse(const char *s, int64_t *us)
{
    int y, mo, d, h, mi, sec, off = 0, frac = 0, nf = 0;
    struct tm tm;
    const char *p;
    time_t t;

    if (strlen(s) < 20 || digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0
        || s[7] != '-' || digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't')
        || digits(s + 11, 2, &h) < 0 || s[13] != ':' || digits(s + 14, 2, &mi) < 0 || s[16] != ':'
        || digits(s + 17, 2, &sec) < 0)
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59
        || sec > 59)
        return -1;
    p = s + 19;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, nf++)
            if (nf < 6)
                frac = frac * 10 + (*p - '0');
            else
                return -1;
        if (nf == 0)
            return -1;
        for (int i = nf; i < 6; i++)
            frac *= 10;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        off = 0;
    else if ((*p != '+' && *p != '-') || offset_seconds(p, &off) < 0)
        return -1;
    tm = (struct tm){ .tm_year = y - 1900,
                      .tm_mon = mo - 1,
                      .tm_mday = d,
                      .tm_hour = h,
                      .tm_min = mi,
                      .tm_sec = sec };
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *us = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

int order_time_text(int64_t us, char *out, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    int n;

    if (us < 0 || !gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
        return -1;
    n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    return n > 0 && (size_t)n < len ? 0 : -1;
}
