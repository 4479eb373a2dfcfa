/*
 * supervisor.c — binds the pools' sockets, pre-forks and respawns workers.
 *
 * The model is nginx's master and php-fpm's pools: signal handlers only set
 * flags; the main loop sleeps in sigsuspend(), reaps, respawns and acts on
 * the flags. A pool whose workers keep dying is throttled: after
 * respawn_max deaths within respawn_window seconds its respawns wait until
 * the window has passed.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "jobs.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "api/worker.h"

#define MAX_CHILDREN 256
#define JOBS_POOL (-1)
#define DEATH_RING 64

struct child {
    pid_t pid;
    int pool; /* index into pools[], or JOBS_POOL */
    int generation;
};

struct pool_rt {
    char name[16];
    char path[ZS_PATH_MAX];
    int fd;
    int size;
    time_t deaths[DEATH_RING];
    int ndeaths;
};

static struct zs_config cfg;
static char conf_file[ZS_PATH_MAX];
static struct pool_rt pools[ZS_MAX_POOLS];
static int npools;
static struct child children[MAX_CHILDREN];
static int generation;

static volatile sig_atomic_t got_chld, got_term, got_quit, got_hup, got_usr1, got_alrm;

static void on_signal(int sig)
{
    switch (sig) {
    case SIGCHLD:
        got_chld = 1;
        break;
    case SIGTERM:
    case SIGINT:
        got_term = 1;
        break;
    case SIGQUIT:
        got_quit = 1;
        break;
    case SIGHUP:
        got_hup = 1;
        break;
    case SIGUSR1:
        got_usr1 = 1;
        break;
    case SIGALRM:
        got_alrm = 1;
        break;
    }
}

static void install_signals(sigset_t *blocked)
{
    static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGALRM };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigemptyset(blocked);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(blocked, sigs[i]);
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigprocmask(SIG_BLOCK, blocked, NULL);
}

/* Child side of fork(): default dispositions, empty mask, then run. */
static void reset_signals_in_child(void)
{
    static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGALRM };
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int bind_socket(struct pool_rt *p)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(p->path) >= sizeof(sa.sun_path)) {
        log_error("socket path \"%s\" is too long", p->path);
        return -1;
    }
    strcpy(sa.sun_path, p->path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        log_error("socket() failed for pool \"%s\": %s", p->name, strerror(errno));
        return -1;
    }
    unlink(p->path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        log_error("bind(\"%s\") failed: %s", p->path, strerror(errno));
        close(fd);
        return -1;
    }
    /* nginx workers run as another user; the directory guards access. */
    chmod(p->path, 0666);
    if (listen(fd, 1024) < 0) {
        log_error("listen(\"%s\") failed: %s", p->path, strerror(errno));
        close(fd);
        return -1;
    }
    p->fd = fd;
    return 0;
}

/* Make pools[] match cfg.pools: bind new pools, resize existing ones. */
static int sync_pools(void)
{
    for (int i = 0; i < cfg.npools; i++) {
        int j;
        for (j = 0; j < npools; j++)
            if (strcmp(pools[j].name, cfg.pools[i].name) == 0)
                break;
        if (j == npools) {
            struct pool_rt *p = &pools[npools];
            memset(p, 0, sizeof(*p));
            snprintf(p->name, sizeof(p->name), "%s", cfg.pools[i].name);
            if ((size_t)snprintf(p->path, sizeof(p->path), "%s/fcgi-%s.sock", cfg.socket_dir,
                                 cfg.pools[i].name)
                >= sizeof(p->path)) {
                log_error("socket_dir \"%s\" is too long", cfg.socket_dir);
                return -1;
            }
            if (bind_socket(p) < 0)
                return -1;
            npools++;
        }
        pools[j].size = cfg.pools[i].size;
    }
    return 0;
}

static int count_children(int pool, int gen)
{
    int n = 0;

    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid > 0 && children[i].pool == pool && children[i].generation == gen)
            n++;
    return n;
}

static int live_children(void)
{
    int n = 0;

    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid > 0)
            n++;
    return n;
}

static pid_t spawn(int pool)
{
    int slot;
    pid_t pid;

    for (slot = 0; slot < MAX_CHILDREN; slot++)
        if (children[slot].pid == 0)
            break;
    if (slot == MAX_CHILDREN) {
        log_error("no room for another child (max %d)", MAX_CHILDREN);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        log_error("fork() failed while spawning \"%s\": %s",
                  pool == JOBS_POOL ? "jobs" : pools[pool].name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        reset_signals_in_child();
        for (int i = 0; i < npools; i++)
            if (i != pool)
                close(pools[i].fd);
        if (pool == JOBS_POOL)
            jobs_main(&cfg);
        worker_main(&cfg, pools[pool].name, pools[pool].fd);
    }
    children[slot].pid = pid;
    children[slot].pool = pool;
    children[slot].generation = generation;
    metrics_inc(worker_spawns);
    return pid;
}

/* Deaths of this pool within the window; prunes older ones. */
static int recent_deaths(struct pool_rt *p, time_t now)
{
    int n = 0;

    for (int i = 0; i < p->ndeaths && i < DEATH_RING; i++)
        if (now - p->deaths[i] < cfg.respawn_window)
            n++;
    return n;
}

static void note_death(struct pool_rt *p, time_t now)
{
    p->deaths[p->ndeaths % DEATH_RING] = now;
    p->ndeaths++;
}

/* Bring every pool (and the jobs child) of the current generation to size. */
static void fill_pools(void)
{
    time_t now = time(NULL);
    int throttled = 0;

    for (int i = 0; i < npools; i++) {
        if (recent_deaths(&pools[i], now) >= cfg.respawn_max) {
            throttled = 1;
            continue;
        }
        while (count_children(i, generation) < pools[i].size)
            if (spawn(i) < 0) {
                throttled = 1;
                break;
            }
    }
    if (count_children(JOBS_POOL, generation) == 0)
        if (spawn(JOBS_POOL) < 0)
            throttled = 1;
    if (throttled)
        alarm(1);
}

static void reap(int stopping)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i;
        for (i = 0; i < MAX_CHILDREN; i++)
            if (children[i].pid == pid)
                break;
        if (i == MAX_CHILDREN)
            continue;
        const char *name = children[i].pool == JOBS_POOL ? "jobs" : pools[children[i].pool].name;
        int old = children[i].generation != generation;
        children[i].pid = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            log_debug("%s child %d exited", name, (int)pid);
            continue;
        }
        if (stopping || old)
            continue;
        metrics_inc(worker_deaths);
        if (WIFSIGNALED(status))
            log_warn("%s worker %d killed by signal %d (%s); respawning", name, (int)pid,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            log_warn("%s worker %d exited with status %d; respawning", name, (int)pid,
                     WEXITSTATUS(status));
        if (children[i].pool != JOBS_POOL) {
            struct pool_rt *p = &pools[children[i].pool];
            note_death(p, time(NULL));
            if (recent_deaths(p, time(NULL)) == cfg.respawn_max)
                log_error("pool \"%s\": %d deaths in %d s; throttling respawns", p->name,
                          cfg.respawn_max, cfg.respawn_window);
        }
    }
}

static void signal_children(int sig, int only_old)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid > 0 && (!only_old || children[i].generation != generation))
            kill(children[i].pid, sig);
}

/*
 * Wait until no child is left or the deadline passes; 0 when all are gone.
 * A drain (hurry_on_term) gives up early when a SIGTERM arrives during it.
 */
static int wait_children(int seconds, int hurry_on_term)
{
    struct timespec start, now, nap = { 0, 20 * 1000 * 1000 };

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        reap(1);
        if (live_children() == 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= seconds)
            return -1;
        if (hurry_on_term && got_term)
            return -1; /* a TERM during a drain means: hurry */
        nanosleep(&nap, NULL);
    }
}

/*
 * A roll's deadline: the old generation had drain_timeout seconds after the
 * SIGQUIT of a reload; what is still alive then gets SIGTERM, and SIGKILL 5 s
 * later, so no child of an old configuration outlives a roll for long (a
 * worker stuck in a request, a jobs child waiting on a child of its own).
 * Checked on every wakeup; the alarm keeps waking the loop while it lasts.
 */
static time_t roll_deadline;
static int roll_termed;

static void roll_enforce(void)
{
    time_t now = time(NULL);
    int old = 0;

    if (!roll_deadline)
        return;
    for (int i = 0; i < MAX_CHILDREN; i++)
        old += children[i].pid > 0 && children[i].generation != generation;
    if (old == 0) {
        roll_deadline = 0;
        return;
    }
    if (now >= roll_deadline + 5) {
        log_warn("SIGHUP: %d old children still alive after SIGTERM; killing them", old);
        signal_children(SIGKILL, 1);
        roll_deadline = 0;
        return;
    }
    if (now >= roll_deadline && !roll_termed) {
        roll_termed = 1;
        log_warn("SIGHUP: %d old children still alive after %d s; terminating them", old,
                 cfg.drain_timeout);
        signal_children(SIGTERM, 1);
    }
    alarm(1);
}

static void cleanup(void)
{
    for (int i = 0; i < npools; i++) {
        close(pools[i].fd);
        unlink(pools[i].path);
    }
    unlink(cfg.pid_file);
}

static void shutdown_children(int graceful)
{
    if (graceful) {
        log_info("SIGQUIT: draining workers (up to %d s)", cfg.drain_timeout);
        signal_children(SIGQUIT, 0);
        if (wait_children(cfg.drain_timeout, 1) == 0)
            return;
        log_warn("drain timed out; terminating the rest");
    }
    signal_children(SIGTERM, 0);
    if (wait_children(5, 0) == 0)
        return;
    log_warn("children still alive after SIGTERM; killing them");
    signal_children(SIGKILL, 0);
    wait_children(5, 0);
}

static void reload(void)
{
    struct zs_config next;
    char err[512];

    config_defaults(&next);
    if (config_load(&next, conf_file, err, sizeof(err)) < 0) {
        log_error("SIGHUP: reload failed, keeping the old config: %s", err);
        return;
    }
    if (strcmp(next.socket_dir, cfg.socket_dir) != 0)
        log_warn("SIGHUP: socket_dir changes need a restart; keeping \"%s\"", cfg.socket_dir);
    snprintf(next.socket_dir, sizeof(next.socket_dir), "%s", cfg.socket_dir);
    cfg = next;
    log_set_level(cfg.log_level);
    if (sync_pools() < 0)
        log_error("SIGHUP: binding a new pool failed");
    generation++;
    log_info("SIGHUP: config reloaded; rolling workers to generation %d", generation);
    fill_pools();
    signal_children(SIGQUIT, 1); /* old generation finishes in-flight work */
    roll_deadline = time(NULL) + cfg.drain_timeout;
    roll_termed = 0;
    alarm(1);
}

static int write_pid_file(void)
{
    char buf[32];
    int fd, n;
    FILE *f = fopen(cfg.pid_file, "r");

    if (f) {
        long old = 0;
        if (fscanf(f, "%ld", &old) == 1 && old > 0 && kill((pid_t)old, 0) == 0) {
            fclose(f);
            log_error("another supervisor (pid %ld) owns \"%s\"", old, cfg.pid_file);
            return -1;
        }
        fclose(f);
    }
    fd = open(cfg.pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open(\"%s\") failed: %s", cfg.pid_file, strerror(errno));
        return -1;
    }
    n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Create the bearer-token key ring at its first start; an existing one is kept. */
static int ensure_jwt_key(void)
{
    char err[256], kid[JWT_KID_MAX + 1];

    if (access(cfg.jwt_secret_file, F_OK) == 0)
        return 0;
    if (jwt_keyring_create(cfg.jwt_secret_file, time(NULL), kid, sizeof(kid), err, sizeof(err))
        < 0) {
        log_error("generating the JWT key ring failed: %s", err);
        return -1;
    }
    log_info("generated a new JWT key ring at \"%s\" (mode 0600, kid %s)", cfg.jwt_secret_file,
             kid);
    return 0;
}

int supervisor_main(const char *conf_path)
{
    char err[512];
    sigset_t blocked, none;

    snprintf(conf_file, sizeof(conf_file), "%s", conf_path);
    config_defaults(&cfg);
    if (config_load(&cfg, conf_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum: %s\n", err);
        return 78;
    }
    log_set_level(cfg.log_level);
    log_set_role("supervisor");
    if (log_open(cfg.log_file, cfg.access_log) < 0) {
        fprintf(stderr, "zerosum: cannot open log files: %s\n", strerror(errno));
        return 73;
    }
    install_signals(&blocked);
    if (write_pid_file() < 0)
        return 75;
    if (ensure_jwt_key() < 0 || metrics_init() < 0 || sync_pools() < 0) {
        cleanup();
        return 71;
    }
    log_info("starting: %d pools, policy %s, dialect %s", npools,
             config_policy_name(cfg.connection_policy), config_dialect_name(cfg.dialect));
    fill_pools();

    sigemptyset(&none);
    for (;;) {
        if (!(got_chld || got_term || got_quit || got_hup || got_usr1 || got_alrm))
            sigsuspend(&none);
        if (got_term || got_quit) {
            int graceful = got_quit && !got_term;
            shutdown_children(graceful);
            break;
        }
        if (got_chld) {
            got_chld = 0;
            reap(0);
            fill_pools();
        }
        if (got_alrm) {
            got_alrm = 0;
            fill_pools();
        }
        roll_enforce();
        if (got_hup) {
            got_hup = 0;
            reload();
        }
        if (got_usr1) {
            got_usr1 = 0;
            log_reopen();
            signal_children(SIGUSR1, 0);
            log_info("SIGUSR1: logs reopened");
        }
    }
    log_info("stopped");
    cleanup();
    return 0;
}
