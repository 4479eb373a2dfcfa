/*
 * log.h — the daemon's error log and access log.
 *
 * The error log is stderr, which the supervisor points at log_file; the
 * access log is its own file. Both are opened O_APPEND so lines from many
 * processes interleave whole. log_reopen() is what SIGUSR1 ends up calling.
 */
#ifndef ZS_LOG_H
#define ZS_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

/* Set the level by name ("debug", "info", "warn", "error"); unknown → info. */
void log_set_level(const char *name);

/* Open (or reopen) the error log and access log paths; "" keeps stderr/none. */
int log_open(const char *error_path, const char *access_path);
int log_reopen(void);

/* Name the process in log lines ("supervisor", "worker bid", "jobs"). */
void log_set_role(const char *role);

/* One error-log line. Control bytes, DEL, bytes >= 0x80 and '\\' in the
 * formatted message become \xHH, so no argument can forge a second line. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One pre-formatted access-log line (a newline is appended). Control bytes
 * and DEL in it become \xHH; fields from a client must go through
 * log_escape() first, which also escapes the separator, quote and '\\'. */
void log_access(const char *line);

/*
 * Copy src[0..srclen) into dst (dstlen bytes, always NUL-terminated) as one
 * log field: bytes outside printable ASCII 0x21..0x7e, the field separator
 * (space), '"' and '\' become \xHH, as nginx's default log escaping writes
 * them. Output that does not fit is cut at a whole escape. Returns dst.
 */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

/* Skip formatting the arguments entirely below the current level. */
#define zs_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= log_min_level)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)

#define log_debug(...) zs_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) zs_log(LOG_INFO, __VA_ARGS__)
#define log_warn(...) zs_log(LOG_WARN, __VA_ARGS__)
#define log_error(...) zs_log(LOG_ERROR, __VA_ARGS__)

#endif
