/*
 * events.c — the outbox (see events.h).
 */
#include "domain/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"
#include "log.h"
#include "util.h"

void events_reset(struct events_buf *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->rows[i].payload);
    free(b->rows);
    memset(b, 0, sizeof(*b));
}

int events_add(struct events_buf *b, const char *type, struct json_object *payload,
               const char *chan_fmt, ...)
{
    struct event_row *e;
    va_list ap;
    int len;

    if (!payload)
        payload = json_object_new_object();
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 4;
        struct event_row *rows = realloc(b->rows, (size_t)cap * sizeof(*rows));
        if (!rows) {
            json_object_put(payload);
            return -1;
        }
        b->rows = rows;
        b->cap = cap;
    }
    e = &b->rows[b->n];
    memset(e, 0, sizeof(*e));
    va_start(ap, chan_fmt);
    len = vsnprintf(e->channels, sizeof(e->channels), chan_fmt, ap);
    va_end(ap);
    e->payload = util_json_take_text(payload);
    if (len < 0 || (size_t)len >= sizeof(e->channels) || !e->payload) {
        free(e->payload);
        return -1;
    }
    e->type = type;
    snprintf(e->n, sizeof(e->n), "%d", b->n);
    b->n++;
    return 0;
}

int events_stmts(struct events_buf *b, struct tx_stmt *st)
{
    /* the parameters point into the rows, which stay put from here on */
    for (int i = 0; i < b->n; i++) {
        struct event_row *e = &b->rows[i];

        e->values[0] = e->type;
        e->values[1] = e->channels;
        e->values[2] = e->payload;
        e->values[3] = e->n;
        st[i] = tx_stmt_named(SQL_EVENTS_APPEND, e->values);
    }
    return b->n;
}

int events_exec(struct tx *tx, struct events_buf *b)
{
    struct tx_stmt *st;
    int rc;

    if (b->n == 0)
        return 0;
    if (!(st = calloc((size_t)b->n, sizeof(*st)))) {
        tx->err = DB_FAILED;
        return -1;
    }
    events_stmts(b, st);
    rc = tx_exec_many(tx, st, b->n, 0);
    if (rc == 0)
        for (int i = 0; i < b->n; i++)
            PQclear(st[i].res);
    free(st);
    return rc;
}

struct json_object *events_obj(const char *name, ...)
{
    struct json_object *o = json_object_new_object();
    va_list ap;

    va_start(ap, name);
    for (const char *k = name; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
    }
    va_end(ap);
    return o;
}

struct json_object *events_wrap(const char *name, struct json_object *v)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, name, v);
    return o;
}

int events_buffered(const struct zs_config *cfg, const char *channel, char *last, size_t n)
{
    struct httpc_url u;
    struct httpc_resp r;
    struct json_object *o = NULL, *v;
    char err[160];
    int held = -1;

    last[0] = '\0';
    memset(&u, 0, sizeof(u));
    snprintf(u.host, sizeof(u.host), "localhost");
    if (snprintf(u.unix_path, sizeof(u.unix_path), "%s/nchan.sock", cfg->socket_dir)
            >= (int)sizeof(u.unix_path)
        || snprintf(u.path, sizeof(u.path), "/pub/%s", channel) >= (int)sizeof(u.path))
        return -1;
    if (httpc_request(&u, "GET", "Accept: application/json\r\n", NULL, 0, 2000, &r, err,
                      sizeof(err))
        < 0) {
        log_warn("events: asking nchan about channel %s: %s", channel, err);
        return -1;
    }
    if (r.status == 404) {
        held = 0; /* no such channel: nchan holds nothing of it */
    } else if (r.status == 200 && r.body && (o = json_tokener_parse(r.body))
               && json_object_object_get_ex(o, "messages", &v)
               && json_object_is_type(v, json_type_int)) {
        held = json_object_get_int(v);
        if (held > 0 && json_object_object_get_ex(o, "last_message_id", &v)
            && json_object_is_type(v, json_type_string))
            snprintf(last, n, "%s", json_object_get_string(v));
    } else {
        log_warn("events: nchan's answer about channel %s: %d without a message count", channel,
                 r.status);
    }
    if (o)
        json_object_put(o);
    httpc_free(&r);
    return held;
}
