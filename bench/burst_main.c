/*
 * burst_main.c — build/zerosum-burst: the drop-stampede's HTTP client.
 *
 *   zerosum-burst --host 127.0.0.1 --port PORT --requests FILE [--timeout-ms MS]
 *
 * FILE holds N requests, each its length in decimal on a line, then its
 * raw bytes (request line, headers, body), then a newline. All N
 * connections are opened, then all N requests sent at once and every answer
 * read (burst.h). The report goes to stdout as one JSON object: client,
 * requests, errors, connect_ms, send_ms, done_ms and answers[i] = {status,
 * ms, end_ms, body, error} for request i. Exit 0 when every request was
 * answered, 1 when some were not (the report says why), 2 when the burst
 * could not run (a message on stderr, no report).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burst.h"

/* The whole of path into a malloc'd buffer (*len bytes); NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (!f)
        return NULL;
    do {
        if (cap - n < 65536) {
            char *nb = realloc(buf, cap + 65536 * 4);

            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap += 65536 * 4;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        free(buf);
        fclose(f);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: zerosum-burst --host IPV4 --port PORT --requests FILE "
            "[--timeout-ms MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = NULL;
    int port = 0, timeout_ms = 60000, rc;
    char err[256], *text;
    size_t len = 0, n = 0;
    struct burst_req *reqs = NULL;
    struct burst_answer *ans;
    struct burst_stats st;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return usage();
        if (!strcmp(argv[i], "--host"))
            host = argv[++i];
        else if (!strcmp(argv[i], "--port"))
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--requests"))
            path = argv[++i];
        else if (!strcmp(argv[i], "--timeout-ms"))
            timeout_ms = atoi(argv[++i]);
        else
            return usage();
    }
    if (!path || port <= 0 || timeout_ms <= 0)
        return usage();
    text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "zerosum-burst: %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (burst_split_requests(text, len, &reqs, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum-burst: %s: %s\n", path, err);
        free(text);
        return 2;
    }
    ans = calloc(n, sizeof(*ans));
    if (!ans || burst_run(host, port, reqs, n, timeout_ms, ans, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "zerosum-burst: %s\n", ans ? err : "out of memory");
        free(ans);
        free(reqs);
        free(text);
        return 2;
    }
    burst_write_report(stdout, ans, n, &st);
    rc = fflush(stdout) == 0 && st.errors == 0 ? 0 : 1;
    for (size_t i = 0; i < n; i++)
        free(ans[i].body);
    free(ans);
    free(reqs);
    free(text);
    return rc;
}
