/*
 * nginx_watch.c — reload nginx after one of its workers died (see the header).
 *
 * nginx's master logs every worker that a signal ended, at alert level:
 *
 *   2026/12/02 19:45:15 [alert] 12775#12775: worker process 1082 exited on signal 9
 *
 * while a worker that a reload or quit retired exits with a code instead.
 * So the watch reads the error log's new lines once a tick and, for each
 * such line, sends SIGHUP to the master that wrote it (the pid before '#',
 * checked to still be an nginx master). Reloads never look like deaths.
 * The watch starts at the log's end when the jobs child starts, and starts
 * over when the log was rotated or truncated.
 */
#include "nginx_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define WATCH_READ_MAX (256 * 1024) /* bytes read per tick; a flood is skipped */

static off_t offset = -1; /* where the next unread line starts; -1: not opened yet */
static ino_t inode;

/* Is pid an nginx master process? */
static int is_master(long pid)
{
    char path[64], title[64];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, title, sizeof(title) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    title[n] = '\0';
    return strncmp(title, "nginx: master process", 21) == 0;
}

/* Masters to reload after this tick's lines: one reload for several deaths. */
static long masters[8];
static int nmasters;

/* One line of the error log: note its master if it tells of a worker a signal ended. */
static void on_line(const char *line)
{
    const char *alert = strstr(line, "[alert] ");
    const char *what;
    long master, worker;
    int sig;
    char *end;

    if (alert == NULL)
        return;
    master = strtol(alert + 8, &end, 10);
    if (end == alert + 8 || *end != '#')
        return;
    what = strstr(end, ": worker process ");
    if (what == NULL
        || sscanf(what, ": worker process %ld exited on signal %d", &worker, &sig) != 2)
        return;
    log_warn("nginx: worker %ld died on signal %d", worker, sig);
    for (int i = 0; i < nmasters; i++)
        if (masters[i] == master)
            return;
    if (nmasters < (int)(sizeof(masters) / sizeof(masters[0])))
        masters[nmasters++] = master;
}

static void reload(long master)
{
    if (master <= 1 || !is_master(master))
        log_warn("nginx: master %ld is gone, nothing to reload", master);
    else if (kill((pid_t)master, SIGHUP) == 0)
        log_warn("nginx: reloaded nginx (master %ld) so nchan's channels deliver again", master);
    else
        log_error("nginx: reloading nginx (master %ld) failed: %s", master, strerror(errno));
}

void nginx_watch_poll(const struct zs_config *cfg)
{
    static char buf[WATCH_READ_MAX + 1];
    struct stat st;
    char *line, *nl;
    ssize_t n;
    int fd;

    if (cfg->nginx_error_log[0] == '\0')
        return;
    fd = open(cfg->nginx_error_log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* nginx has not started yet */
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    if (offset < 0) /* the jobs child's start: only what comes next */
        offset = st.st_size;
    else if (st.st_ino != inode || st.st_size < offset) /* rotated or truncated */
        offset = 0;
    inode = st.st_ino;
    if (st.st_size - offset > WATCH_READ_MAX) {
        log_warn("nginx: skipped %lld bytes of %s", (long long)(st.st_size - offset),
                 cfg->nginx_error_log);
        offset = st.st_size;
    }
    n = pread(fd, buf, WATCH_READ_MAX, offset);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        on_line(line);
    }
    offset += line - buf; /* a line still being written is read next tick */
    for (int i = 0; i < nmasters; i++)
        reload(masters[i]);
    nmasters = 0;
}
