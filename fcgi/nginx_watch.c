/*
 * nginx_watch.c — reload nginx after one of its workers died (see the header).
 *
 * A worker is "running" while its title is "nginx: worker process"; a
 * graceful stop (reload, quit) retitles it "... is shutting down" first.
 * A running worker seen one tick and gone the next, under the same master,
 * died: SIGHUP the master, whose new workers start nchan afresh. For a few
 * seconds after that the watch only looks, so the workers its own reload
 * retires are never taken for a death. A graceful stop too quick for one
 * tick to see costs at most one extra reload.
 */
#include "nginx_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define WATCH_MAX 64    /* workers followed; more are ignored */
#define WATCH_GRACE_S 5 /* after a reload, adopt without judging */

static pid_t master;
static pid_t running[WATCH_MAX];
static int nrunning;
static time_t quiet_until;

/* The whole of a small /proc file, NUL-terminated; -1 when unreadable. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

static pid_t read_master(const char *pid_file)
{
    char buf[32];
    long v;

    if (read_small(pid_file, buf, sizeof(buf)) <= 0)
        return 0;
    v = strtol(buf, NULL, 10);
    return v > 1 && kill((pid_t)v, 0) == 0 ? (pid_t)v : 0;
}

/* Is pid a worker that is running (not shutting down)? */
static int is_running_worker(pid_t pid)
{
    char path[64], title[128];

    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    if (read_small(path, title, sizeof(title)) <= 0)
        return 0;
    return strncmp(title, "nginx: worker process", 21) == 0
        && strstr(title, "shutting down") == NULL;
}

/* The master's children now, into out; their count, or -1 when unreadable. */
static int list_children(pid_t m, pid_t *out)
{
    char path[64], buf[1024], *p, *end;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)m, (long)m);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
    for (p = buf; n < WATCH_MAX; p = end) {
        long v = strtol(p, &end, 10);

        if (end == p)
            break;
        out[n++] = (pid_t)v;
    }
    return n;
}

static int listed(const pid_t *set, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return 1;
    return 0;
}

void nginx_watch_poll(const struct zs_config *cfg)
{
    pid_t m, dead = 0, kids[WATCH_MAX];
    int n;

    if (cfg->nginx_pid_file[0] == '\0')
        return;
    m = read_master(cfg->nginx_pid_file);
    if (m != master) { /* nginx (re)started, stopped or upgraded: start over */
        master = m;
        nrunning = 0;
    }
    if (m == 0)
        return;
    n = list_children(m, kids);
    if (n < 0)
        return;
    if (time(NULL) >= quiet_until)
        for (int i = 0; i < nrunning && dead == 0; i++)
            if (!listed(kids, n, running[i]))
                dead = running[i];
    if (dead != 0) {
        if (kill(m, SIGHUP) == 0) {
            log_warn("nginx: worker %ld died; reloaded nginx (master %ld) so nchan's channels "
                     "deliver again",
                     (long)dead, (long)m);
            quiet_until = time(NULL) + WATCH_GRACE_S;
        } else {
            log_error("nginx: worker %ld died, and reloading nginx (master %ld) failed: %s",
                      (long)dead, (long)m, strerror(errno));
        }
        nrunning = 0;
        return;
    }
    nrunning = 0;
    for (int i = 0; i < n; i++)
        if (is_running_worker(kids[i]))
            running[nrunning++] = kids[i];
}
