/*
 * log.c — error log (stderr) and access log, both append-only files.
 *
 * Every line is exactly one event: whatever a client sent (a path with a
 * percent-encoded newline, a method with a quote) is escaped before it is
 * written, so nobody can forge a line or split a field.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;

static char error_path[512];
static char access_path[512];
static int access_fd = -1;
static char role[32] = "zerosum";

void log_set_level(const char *name)
{
    if (strcmp(name, "debug") == 0)
        log_min_level = LOG_DEBUG;
    else if (strcmp(name, "warn") == 0)
        log_min_level = LOG_WARN;
    else if (strcmp(name, "error") == 0)
        log_min_level = LOG_ERROR;
    else
        log_min_level = LOG_INFO;
}

void log_set_role(const char *r)
{
    snprintf(role, sizeof(role), "%s", r);
}

int log_reopen(void)
{
    int rc = 0;

    if (error_path[0]) {
        int fd = open(error_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            rc = -1;
        } else {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
    }
    if (access_path[0]) {
        int fd = open(access_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            rc = -1;
        } else {
            if (access_fd >= 0)
                close(access_fd);
            access_fd = fd;
        }
    }
    return rc;
}

int log_open(const char *err_path, const char *acc_path)
{
    snprintf(error_path, sizeof(error_path), "%s", err_path ? err_path : "");
    snprintf(access_path, sizeof(access_path), "%s", acc_path ? acc_path : "");
    return log_reopen();
}

/* What escape() rewrites as \xHH: */
enum escape_mode {
    ESC_LINE,    /* control bytes and DEL (a line already escaped field by field) */
    ESC_MESSAGE, /* those, bytes >= 0x80 and '\\' */
    ESC_FIELD    /* those, ' ' and '"' */
};

static int needs_escape(unsigned char c, enum escape_mode mode)
{
    if (c < 0x20 || c == 0x7f)
        return 1;
    if (mode == ESC_LINE)
        return 0;
    if (c > 0x7f || c == '\\')
        return 1;
    return mode == ESC_FIELD && (c == ' ' || c == '"');
}

/* Escape src[0..srclen) into dst (dstlen bytes, NUL-terminated), whole escapes only. */
static char *escape(char *dst, size_t dstlen, const char *src, size_t srclen,
                    enum escape_mode field)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (dstlen == 0)
        return dst;
    for (size_t i = 0; i < srclen; i++) {
        unsigned char c = (unsigned char)src[i];
        if (!needs_escape(c, field)) {
            if (o + 1 >= dstlen)
                break;
            dst[o++] = (char)c;
        } else {
            if (o + 4 >= dstlen)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return dst;
}

char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    return escape(dst, dstlen, src, srclen, ESC_FIELD);
}

static void timestamp(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    char line[2048], msg[1024], ts[64];
    int n, m;
    va_list ap;
    int saved = errno;

    timestamp(ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "%s [%d] %s %s: ", ts, (int)getpid(), role, names[level]);
    va_start(ap, fmt);
    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    if (m >= (int)sizeof(msg))
        m = (int)sizeof(msg) - 1;
    escape(line + n, sizeof(line) - (size_t)n - 1, msg, (size_t)m, ESC_MESSAGE);
    n += (int)strlen(line + n);
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
    errno = saved;
}

void log_access(const char *text)
{
    char line[2048];
    char ts[64];
    int n;

    if (access_fd < 0)
        return;
    timestamp(ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "%s ", ts);
    escape(line + n, sizeof(line) - (size_t)n - 1, text, strlen(text), ESC_LINE);
    n += (int)strlen(line + n);
    line[n++] = '\n';
    (void)!write(access_fd, line, (size_t)n);
}
