/*
 * worker.h — a pre-forked FastCGI worker: accept, answer, repeat.
 */
#ifndef ZS_WORKER_H
#define ZS_WORKER_H

#include "config.h"

/*
 * Serve requests from listen_fd until SIGQUIT (finish the request in hand,
 * then exit), SIGTERM (default action: exit now) or max_requests. Never
 * returns; exits 0 on a clean stop.
 */
void worker_main(const struct zs_config *cfg, const char *pool, int listen_fd)
    __attribute__((noreturn));

/* Handle one request already read into r (exposed for tests). */
struct request;
void worker_dispatch(struct request *r);

/*
 * Name the pool this process serves (worker_main() does it). From then on
 * worker_dispatch() answers 404 to a route that belongs to another pool,
 * so a path nginx sent to the wrong pool never runs there. NULL: no check.
 */
void worker_set_pool(const char *pool);

#endif
