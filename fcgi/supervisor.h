/*
 * supervisor.h — the zerosum daemon's master process.
 */
#ifndef ZS_SUPERVISOR_H
#define ZS_SUPERVISOR_H

/*
 * Load the config at conf_path, bind one FastCGI socket per pool, pre-fork
 * every pool's workers and the periodic-jobs child, and supervise them
 * until SIGTERM/SIGINT (fast stop) or SIGQUIT (drain). SIGHUP reloads the
 * config and rolls the workers; SIGUSR1 reopens logs. Returns the exit
 * status for main().
 */
int supervisor_main(const char *conf_path);

#endif
