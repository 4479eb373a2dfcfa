/*
 * events.c — the subscribe gate: GET /events/lots/{id}, /events/markets/{id},
 * /events/accounts/{id} and /events/proof (docs/OPERATIONS.md, "Live events").
 *
 * nginx sends a subscriber here first. The gate checks the channel exists,
 * that the caller may read it (an account's channel: its owner or an admin,
 * as GET /accounts/{id}), and that a Last-Event-ID (header, or
 * ?last_event_id= for WebSocket clients) is one nchan still buffers for the
 * channel. Then it answers with X-Accel-Redirect to nginx's internal nchan
 * subscriber location, which holds the connection from there on: a watcher
 * costs no worker. A Last-Event-ID nchan no longer buffers gets the
 * documented `resync` event (EventSource) or 409 resync_required
 * (WebSocket): nchan itself would replay from its oldest message and hide
 * the gap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_tx.h"
#include "api/auth.h"
#include "api/routes.h"
#include "domain/events.h"
#include "util.h"

struct gate {
    const char *kind; /* "lots", "markets", "accounts", "proof" */
    const char *id;   /* NULL for proof */
    char channel[96]; /* "lots/<id>", "proof" */
    const char *last; /* the Last-Event-ID, or NULL */
    int exists, resumable;
    long after;      /* messages recorded after the Last-Event-ID's */
    char latest[48]; /* the channel's latest message id ("" none) */
};

static enum tx_decision gate_tx(struct tx *tx, void *arg)
{
    struct gate *g = arg;
    char secs[16];
    const char *pe[2] = { g->kind, g->id }, *pr[3] = { g->channel, g->last, secs },
               *pl[1] = { g->channel };
    struct tx_stmt st[3] = { tx_stmt_named(SQL_EVENTS_CHANNEL_EXISTS, pe),
                             tx_stmt_named(SQL_EVENTS_LAST_ON_CHANNEL, pl),
                             tx_stmt_named(SQL_EVENTS_RESUME, pr) };
    int n = g->last ? 3 : 2;

    snprintf(secs, sizeof(secs), "%d", tx->cfg->events_buffer_s);
    if (tx_exec_many(tx, st, n, 0) < 0)
        return TX_ERROR;
    g->exists = PQntuples(st[0].res) == 1 && strcmp(PQgetvalue(st[0].res, 0, 0), "t") == 0;
    snprintf(g->latest, sizeof(g->latest), "%s",
             PQntuples(st[1].res) == 1 ? PQgetvalue(st[1].res, 0, 0) : "");
    /* resumable: recorded, young enough, and not pushed out by later messages */
    g->after =
        n == 3 && PQntuples(st[2].res) == 1 ? strtol(PQgetvalue(st[2].res, 0, 1), NULL, 10) : 0;
    g->resumable = n == 3 && PQntuples(st[2].res) == 1 && g->after < tx->cfg->events_buffer;
    for (int i = 0; i < n; i++)
        PQclear(st[i].res);
    return TX_COMMIT;
}

/* "<time>:<tag>", the form of nchan's message ids. */
static int msgid_valid(const char *s)
{
    size_t t = strspn(s, "0123456789"), g;

    if (t == 0 || t > 12 || s[t] != ':')
        return 0;
    g = strspn(s + t + 1, "0123456789");
    return g > 0 && g <= 6 && s[t + 1 + g] == '\0';
}

static int is_websocket(const struct request *r)
{
    const char *up = FCGX_GetParam("HTTP_UPGRADE", r->fcgi->envp);

    return up && strcasecmp(up, "websocket") == 0;
}

/* The documented resync answer: a last id nchan no longer has. */
static void answer_resync(struct request *r, const struct gate *g)
{
    char body[512];
    int n;

    if (is_websocket(r)) {
        http_problem(r, 409, "resync_required",
                     "events after this Last-Event-ID are no longer buffered: read the state from"
                     " the API, then subscribe without one");
        return;
    }
    /* id: sets the client's last id to the channel's latest (or clears it),
     * so its reconnection after `retry` resumes from there. */
    n = snprintf(
        body, sizeof(body),
        "retry: 1000\nid: %s\nevent: resync\ndata: {\"type\":\"resync\",\"channel\":\"%s\","
        "\"last_event_id\":\"%s\"}\n\n",
        g->latest, g->channel, g->last);
    http_respond_raw(r, 200, "text/event-stream; charset=utf-8", body, (size_t)n,
                     "X-Accel-Buffering: no\r\n");
}

/* Check, then hand the subscriber to nchan (kind, id: the channel). */
static void gate(struct request *r, const char *kind, const char *id)
{
    char last[64], uri[160], headers[256];
    const char *hdr = FCGX_GetParam("HTTP_LAST_EVENT_ID", r->fcgi->envp);
    struct gate g;
    enum tx_decision d;
    int q;

    memset(&g, 0, sizeof(g));
    g.kind = kind;
    g.id = id;
    snprintf(g.channel, sizeof(g.channel), id ? "%s/%s" : "%s", kind, id);
    q = http_query_param(r, "last_event_id", last, sizeof(last));
    if (hdr && *hdr)
        g.last = hdr;
    else if (q == 1 && last[0])
        g.last = last;
    if (q < 0 || (g.last && !msgid_valid(g.last))) {
        http_problem(r, 400, "invalid_last_event_id",
                     "Last-Event-ID must be an event id this stream sent (\"<time>:<tag>\")");
        return;
    }
    if (api_tx_run(r, TX_READ_ONLY, gate_tx, &g, &d) < 0)
        return;
    if (!g.exists) {
        http_problem(r, 404, "unknown_channel", "no such channel");
        return;
    }
    /* recorded, but does nchan still hold it? Not after an nginx restart
     * or a killed worker (its channels start empty) until the channel's
     * next message makes the publisher forget the older ids: it holds the
     * id's message and every one recorded after it, or resuming would
     * skip what it lost. The resync then goes on from nchan's own latest
     * (none: no id at all), never from a recorded id nchan lacks, which
     * would be refused again at every reconnection. */
    if (g.last && g.resumable) {
        char held_last[sizeof(g.latest)];
        if (events_buffered(r->cfg, g.channel, held_last, sizeof(held_last)) < g.after + 1) {
            g.resumable = 0;
            snprintf(g.latest, sizeof(g.latest), "%s", held_last);
        }
    }
    if (g.last && !g.resumable) {
        answer_resync(r, &g);
        return;
    }
    /* nginx's internal redirect keeps only the arguments it is given */
    snprintf(uri, sizeof(uri), "/.nchan/sub/%s%s%s", g.channel, g.last ? "?last_event_id=" : "",
             g.last ? g.last : "");
    snprintf(headers, sizeof(headers), "X-Accel-Redirect: %s\r\nX-Accel-Buffering: no\r\n", uri);
    http_respond_raw(r, 200, "text/plain", "", 0, headers);
}

/* Parse {id}: a UUID, else the channel is unknown. */
static int channel_id(struct request *r, char id[UUID_STR_LEN + 1])
{
    if (!util_uuid_parse(r->path_params[0], id)) {
        http_problem(r, 404, "unknown_channel", "no such channel");
        return -1;
    }
    return 0;
}

void handle_events_lot(struct request *r)
{
    char id[UUID_STR_LEN + 1];

    if (channel_id(r, id) == 0)
        gate(r, "lots", id);
}

void handle_events_market(struct request *r)
{
    char id[UUID_STR_LEN + 1];

    if (channel_id(r, id) == 0)
        gate(r, "markets", id);
}

/* An account's channel is private: its owner or an admin (as GET /accounts/{id});
 * anyone else is answered as for a channel that does not exist. */
void handle_events_account(struct request *r)
{
    char id[UUID_STR_LEN + 1];

    if (!util_uuid_parse(r->path_params[0], id)
        || (!auth_is_admin(r) && strcmp(r->caller.sub, id) != 0)) {
        http_problem(r, 404, "unknown_channel", "no such channel");
        return;
    }
    gate(r, "accounts", id);
}

void handle_events_proof(struct request *r)
{
    gate(r, "proof", NULL);
}
