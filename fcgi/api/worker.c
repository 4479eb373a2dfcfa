/*
 * worker.c — the FastCGI accept loop of one pre-forked worker.
 *
 * Signals only set flags. SIGQUIT and SIGUSR1 are blocked everywhere but
 * around the kernel's accept(), so no system call in libpq or libfcgi sees
 * EINTR (libfcgi drops a connection whose request it was reading when a
 * read or select() is interrupted). The worker accepts the connection
 * itself and hands it to libfcgi, which then only reads the request: its
 * own accept() is pointed at /dev/null and can never block.
 *
 * A blocking accept() on the pool's shared socket is woken one waiter per
 * connection, the longest-waiting first: no thundering herd, and a new
 * worker gets its turn. The race a flag alone leaves open, a SIGQUIT
 * landing between the flag check and accept(), which would then block until
 * one more request arrived (and serve it with the old configuration during
 * a roll), is closed by the handler itself: it puts /dev/null in place of
 * the listening descriptor (dup2() is async-signal-safe), so an accept()
 * entered after it fails at once with ENOTSOCK, and one already waiting
 * returns EINTR.
 */
#include "api/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api/auth.h"
#include "store/db.h"
#include "api/http.h"
#include "log.h"
#include "metrics.h"
#include "api/routes.h"

static volatile sig_atomic_t quit_requested;
static const char *serving_pool; /* NULL: every route (tests, fuzzing) */
static volatile sig_atomic_t reopen_requested;
static int quit_listen_fd = -1; /* the listening descriptor on_quit() replaces */
static int quit_null_fd = -1;   /* /dev/null, what it is replaced with */

static void on_quit(int sig)
{
    int saved = errno;

    (void)sig;
    quit_requested = 1;
    FCGX_ShutdownPending();
    if (quit_listen_fd >= 0 && quit_null_fd >= 0)
        dup2(quit_null_fd, quit_listen_fd); /* no accept() may block after this */
    errno = saved;
}

static void on_usr1(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

static void install_signals(sigset_t *handled)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: accept() must see EINTR */
    sa.sa_handler = on_quit;
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);

    sigemptyset(handled);
    sigaddset(handled, SIGQUIT);
    sigaddset(handled, SIGUSR1);
}

static uint64_t elapsed_us(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - start->tv_sec) * 1000000u
        + (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000);
}

void worker_set_pool(const char *pool)
{
    serving_pool = pool;
}

void worker_dispatch(struct request *r)
{
    const struct route *route = NULL;
    char allow[64], hdr[96];

    switch (router_match(routes, routes_count, r, &route, allow, sizeof(allow))) {
    case ROUTE_NOT_FOUND:
        http_problem(r, 404, "not_found", "no such resource: %s", r->path);
        return;
    case ROUTE_BAD_METHOD:
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
        http_problem_h(r, 405, "method_not_allowed", hdr, "%s is not allowed here; use %s",
                       r->method, allow);
        return;
    case ROUTE_FOUND:
        break;
    }
    /* A route exists only in its own pool: whatever path reached another
     * pool (a trailing slash, an nginx location that leaks) is unknown here. */
    if (serving_pool && strcmp(route->pool, serving_pool) != 0) {
        log_warn("request %s: %s %s reached pool %s, served by pool %s; answering 404",
                 r->request_id, r->method, r->path, serving_pool, route->pool);
        http_problem(r, 404, "not_found", "no such resource: %s", r->path);
        return;
    }
    if (auth_check(r, route->auth) < 0)
        return;
    if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0
        || strcmp(r->method, "PATCH") == 0) {
        if (http_parse_json_body(r) < 0)
            return;
    } else if (r->body_len > 0) {
        http_problem(r, 400, "unexpected_body", "%s requests take no body", r->method);
        return;
    }
    route->handler(r);
    if (!r->status) {
        log_error("request %s: handler for %s %s answered nothing", r->request_id, r->method,
                  r->path);
        http_problem(r, 500, "internal_error", "the server could not complete the request");
    }
}

/* One access-log line; method and path come from the client, so they are
 * escaped (log_escape()): a line is always exactly one request. */
static void access_line(const struct request *r, const char *pool, uint64_t us)
{
    char line[1024], method[8 * 4 + 1], path[200 * 4 + 1];

    log_escape(method, sizeof(method), r->method, strlen(r->method));
    log_escape(path, sizeof(path), r->path, strnlen(r->path, 200));
    snprintf(line, sizeof(line), "%s %s %s %d attempts=%d %.3fms pool=%s pid=%d", r->request_id,
             method, path, r->status, r->attempts, (double)us / 1000.0, pool, (int)getpid());
    log_access(line);
}

/*
 * Accept the next connection, with the handled signals unblocked only
 * around accept() itself. The connection's descriptor, or -1 with errno.
 */
static int accept_connection(int listen_fd, const sigset_t *handled)
{
    int fd, saved;

    sigprocmask(SIG_UNBLOCK, handled, NULL);
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    saved = errno;
    sigprocmask(SIG_BLOCK, handled, NULL);
    errno = saved;
    return fd;
}

/* Whether accept() failed for this one connection only: try the next. */
static int accept_transient(int e)
{
    return e == EINTR || e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED || e == EPROTO;
}

void worker_main(const struct zs_config *cfg, const char *pool, int listen_fd)
{
    FCGX_Request fcgi;
    sigset_t handled;
    char err[256], role[32];
    long served = 0;

    snprintf(role, sizeof(role), "worker %s", pool);
    log_set_role(role);
    worker_set_pool(pool);
    install_signals(&handled);
    sigprocmask(SIG_BLOCK, &handled, NULL);
    /* A blocking socket (O_NONBLOCK belongs to the open file, which the
     * whole pool shares). */
    if (fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) & ~O_NONBLOCK) < 0
        || (quit_null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        log_error("preparing the listening socket failed: %s", strerror(errno));
        _exit(70);
    }
    quit_listen_fd = listen_fd;

    if (FCGX_Init() != 0) {
        log_error("FCGX_Init() failed");
        _exit(70);
    }
    /* libfcgi may install handlers of its own; ours win. */
    install_signals(&handled);
    if (auth_init(cfg, err, sizeof(err)) < 0) {
        log_error("loading the JWT key failed: %s", err);
        _exit(78);
    }
    /* libfcgi's own accept() (after a request it could not read) meets
     * /dev/null and fails at once: only accept_connection() waits. */
    if (FCGX_InitRequest(&fcgi, quit_null_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("FCGX_InitRequest() failed");
        _exit(70);
    }
    (void)db_open_worker_connection(cfg); /* per-worker: connected before the first request */

    for (;;) {
        struct request r;
        int conn;

        if (reopen_requested) {
            reopen_requested = 0;
            log_reopen();
        }
        if (quit_requested)
            break;
        conn = accept_connection(listen_fd, &handled);
        if (conn < 0) {
            if (quit_requested)
                break;
            if (accept_transient(errno))
                continue; /* SIGUSR1 (its flag is looked at above), or a client gone */
            log_error("accept() failed: %s", strerror(errno));
            _exit(71);
        }
        if (reopen_requested) { /* came while accept() waited: this request's line too */
            reopen_requested = 0;
            log_reopen();
        }
        /* libfcgi reads the request from the open connection (keepConnection
         * keeps FCGX_Accept_r()'s opening FCGX_Finish_r() from closing it);
         * when it cannot, it closes it and its accept() fails on /dev/null. */
        fcgi.ipcFd = conn;
        fcgi.keepConnection = 1;
        if (FCGX_Accept_r(&fcgi) < 0) {
            if (fcgi.ipcFd >= 0)
                close(fcgi.ipcFd);
            fcgi.ipcFd = -1;
            continue;
        }

        if (http_read(&r, &fcgi, cfg) == 0)
            worker_dispatch(&r);
        {
            uint64_t us = elapsed_us(&r.start);
            metrics_count_request(r.endpoint, r.status, us);
            access_line(&r, pool, us);
        }
        http_request_free(&r);
        FCGX_Finish_r(&fcgi);
        if (fcgi.ipcFd >= 0) { /* a kept connection (fastcgi_keep_conn): not used here */
            close(fcgi.ipcFd);
            fcgi.ipcFd = -1;
        }

        if (cfg->max_requests > 0 && ++served >= cfg->max_requests) {
            log_info("recycling after %ld requests", served);
            metrics_inc(worker_recycles);
            break;
        }
    }
    db_close_worker_connection();
    _exit(0);
}
