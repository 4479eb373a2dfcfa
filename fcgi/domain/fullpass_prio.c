/*
 * fullpass_prio.c — the background pass runs at low priority: the jobs
 * child's pass process lowers its own CPU priority to full_audit_nice, and
 * every pass gives the backends serving the connections it opened itself
 * its own priority (so `nice zerosum audit` is low priority end to end,
 * and a plain `zerosum audit`, which an operator runs in the foreground,
 * is not), on postgres, when they are processes of this machine reached
 * directly (never through a pooler: a pooled backend goes back to other
 * clients). Without the privilege to renice a backend the pass says so once
 * and goes on with that backend at normal priority.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "domain/fullpass_pass.h"
#include "log.h"

void fullpass_lower_self(const struct zs_config *cfg)
{
    int now;

    if (cfg->full_audit_nice <= 0)
        return;
    errno = 0;
    now = getpriority(PRIO_PROCESS, 0);
    if (errno == 0 && now >= cfg->full_audit_nice)
        return;
    if (setpriority(PRIO_PROCESS, 0, cfg->full_audit_nice) != 0)
        log_error("full pass: cannot lower its own priority to nice %d: %s", cfg->full_audit_nice,
                  strerror(errno));
}

/* 1 if pid is a PostgreSQL process of this machine (its command line says so). */
static int local_postgres(long pid)
{
    char path[64], cmd[16] = "";
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(cmd, 1, sizeof(cmd) - 1, f);
    fclose(f);
    cmd[n] = '\0';
    return strncmp(cmd, "postgres", 8) == 0;
}

/* 1 if c reaches its server directly on this machine: a local host, and the
 * port the server itself listens on (a pooler listens on another). */
static int direct_local(const struct zs_config *cfg, PGconn *c, const char *server_port)
{
    const char *h = PQhost(c);
    int local = h
        && (h[0] == '/' || strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0
            || strcmp(h, "::1") == 0);

    return local && atoi(server_port) == cfg->db_port;
}

void fullpass_lower_backend(struct fullpass *p, PGconn *c)
{
    static int told;
    PGresult *res;
    long pid;
    int nice;

    errno = 0;
    nice = getpriority(PRIO_PROCESS, 0);
    if (errno != 0 || nice <= 0 || p->cfg->dialect != ZS_DIALECT_POSTGRES)
        return;
    res = fullpass_exec(p, c, SQL_AUDIT_BACKEND, NULL);
    if (!res) {
        p->err[0] = '\0'; /* not a reason to stop: the pass goes on at normal priority */
        return;
    }
    pid = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    if (pid > 0 && direct_local(p->cfg, c, PQgetvalue(res, 0, 1)) && local_postgres(pid)
        && setpriority(PRIO_PROCESS, (id_t)pid, nice) != 0 && !told) {
        log_info("full pass: cannot lower the priority of its backend %ld (%s): it runs at normal "
                 "priority",
                 pid, strerror(errno));
        told = 1;
    }
    PQclear(res);
}
