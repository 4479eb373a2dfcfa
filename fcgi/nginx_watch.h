/*
 * nginx_watch.h — reload nginx after one of its workers died.
 *
 * nchan keeps channels in shared memory, each owned by one worker. When a
 * worker dies (a crash, a SIGKILL) and the master respawns it, nchan's
 * memstore is left half-owned: some channels stop delivering to their
 * subscribers, old and new alike, until nginx reloads (nchan issue #477;
 * reproduced here with Debian's libnginx-mod-nchan). The jobs child reads
 * nginx's error log once a tick and sends the master SIGHUP when the log
 * says a signal ended one of its workers.
 */
#ifndef ZS_NGINX_WATCH_H
#define ZS_NGINX_WATCH_H

#include "config.h"

/* Reads the error log's new lines; a no-op when nginx_error_log is empty. */
void nginx_watch_poll(const struct zs_config *cfg);

#endif
