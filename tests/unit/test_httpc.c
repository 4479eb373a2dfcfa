/*
 * test_httpc.c — unit tests for fcgi/httpc.c's kept-alive connections,
 * against a small HTTP server forked on a unix socket: answers framed by
 * Content-Length, by chunks (with a body that looks like a last chunk),
 * a 304 with no length at all, all on one connection, and pipelined
 * (three requests out before the first answer is read); a new connection
 * after Connection: close and after the peer closed an idle one; a TLS URL
 * refused; and httpc_header's look-ups.
 */
#include "tap.h"

#include "httpc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNKED_BODY "x\r\n0\r\n\r\ny"

/*
 * Read one request head (and its body, by Content-Length) from fd into buf,
 * where *have bytes wait from before (pipelined requests); the request is
 * moved to buf2 and what follows it kept in buf. Its path, or NULL at EOF.
 */
static char *read_request(int fd, char *buf, size_t *have, char *buf2, size_t cap)
{
    size_t got = *have, want;
    char *end, *cl, *sp;

    while (!(buf[got] = '\0', end = strstr(buf, "\r\n\r\n"))) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    cl = strcasestr(buf, "\r\ncontent-length:");
    want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
    while (got < want) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    memcpy(buf2, buf, want);
    buf2[want] = '\0';
    memmove(buf, buf + want, got - want);
    *have = got - want;
    sp = strchr(buf2, ' ');
    if (!sp)
        return NULL;
    sp[1 + strcspn(sp + 1, " ")] = '\0';
    return sp + 1;
}

/* The server: answers by path, each answer naming its connection (X-Conn); closes tell `told`. */
static void serve(int lfd, int told)
{
    char buf[8192], req[8192], ans[512];
    int conns = 0;

    for (;;) {
        int fd = accept(lfd, NULL, NULL), open = 1;
        size_t have = 0;
        if (fd < 0)
            _exit(1);
        conns++;
        while (open) {
            char *got = read_request(fd, buf, &have, req, sizeof(buf)), path[64];
            if (!got)
                break;
            snprintf(path, sizeof(path), "%s", got);
            if (strcmp(path, "/closing") == 0 && !read_request(fd, buf, &have, req, sizeof(buf)))
                break; /* /closing: the request pipelined behind it is in, then it closes */
            if (strcmp(path, "/cl") == 0)
                snprintf(ans, sizeof(ans),
                         "HTTP/1.1 200 OK\r\nX-Conn: %d\r\nContent-Length: 5\r\n\r\nhello", conns);
            else if (strcmp(path, "/chunked") == 0)
                snprintf(ans, sizeof(ans),
                         "HTTP/1.1 200 OK\r\nX-Conn: %d\r\nTransfer-Encoding: chunked\r\n"
                         "X-Message-Id:  17:3 \r\n\r\n9\r\n" CHUNKED_BODY "\r\n0\r\n\r\n",
                         conns);
            else if (strcmp(path, "/hostile") == 0) /* a chunk size that wraps a size_t */
                snprintf(ans, sizeof(ans),
                         "HTTP/1.1 200 OK\r\nX-Conn: %d\r\nTransfer-Encoding: chunked\r\n"
                         "\r\nfffffffffffffffe\r\nxy\r\n0\r\n\r\n",
                         conns);
            else if (strcmp(path, "/304") == 0)
                snprintf(ans, sizeof(ans), "HTTP/1.1 304 Not Modified\r\nX-Conn: %d\r\n\r\n",
                         conns);
            else if (strcmp(path, "/close") == 0 || strcmp(path, "/closing") == 0)
                snprintf(ans, sizeof(ans),
                         "HTTP/1.1 200 OK\r\nX-Conn: %d\r\nConnection: close\r\n"
                         "Content-Length: 2\r\n\r\nok",
                         conns);
            else /* /bye: a framed answer, then the server drops the idle connection */
                snprintf(ans, sizeof(ans),
                         "HTTP/1.1 200 OK\r\nX-Conn: %d\r\nContent-Length: 3\r\n\r\nbye", conns);
            if (write(fd, ans, strlen(ans)) < 0)
                break;
            open = strcmp(path, "/cl") == 0 || strcmp(path, "/chunked") == 0
                || strcmp(path, "/304") == 0;
        }
        close(fd);
        if (write(told, "c", 1) < 0)
            _exit(1);
    }
}

/* One kept request to path: the status, with X-Conn in *conn and the body in body. */
static int get(struct httpc_keep *k, struct httpc_url *u, const char *path, int *conn, char *body,
               size_t n)
{
    struct httpc_resp r;
    char err[160], v[16];
    int status;

    snprintf(u->path, sizeof(u->path), "%s", path);
    if (httpc_keep_request(k, u, "GET", NULL, NULL, 0, 2000, &r, err, sizeof(err)) < 0) {
        printf("# %s: %s\n", path, err);
        return -1;
    }
    status = r.status;
    *conn = httpc_header(&r, "x-conn", v, sizeof(v)) == 0 ? atoi(v) : -1;
    snprintf(body, n, "%s", r.body);
    httpc_free(&r);
    return status;
}

int main(void)
{
    char dir[] = "/tmp/zs-httpc-XXXXXX", body[64], v[16];
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct httpc_url u = { 0 };
    struct httpc_keep k;
    struct httpc_resp r = { 0 };
    int lfd, told[2], conn = 0;
    pid_t pid;

    if (!mkdtemp(dir) || pipe(told) < 0)
        return 1;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s.sock", dir);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 4) < 0)
        return 1;
    if ((pid = fork()) == 0)
        serve(lfd, told[1]);
    close(lfd);
    snprintf(u.host, sizeof(u.host), "localhost");
    snprintf(u.unix_path, sizeof(u.unix_path), "%s", sun.sun_path);
    httpc_keep_init(&k);

    is_int(get(&k, &u, "/cl", &conn, body, sizeof(body)), 200, "a Content-Length answer");
    is_str(body, "hello", "…its body");
    is_int(conn, 1, "…on the first connection");
    is_int(get(&k, &u, "/chunked", &conn, body, sizeof(body)), 200, "a chunked answer");
    is_str(body, CHUNKED_BODY, "…decoded, a body that looks like a last chunk included");
    is_int(conn, 1, "…on the same connection: its end found by the chunks, not by the close");
    is_int(get(&k, &u, "/304", &conn, body, sizeof(body)), 304, "a 304 without Content-Length");
    is_int(conn, 1, "…on the same connection: it ends at its header");
    is_int(get(&k, &u, "/close", &conn, body, sizeof(body)), 200,
           "an answer with Connection: close");
    is_int(conn, 1, "…still the first connection");
    is_int(get(&k, &u, "/cl", &conn, body, sizeof(body)), 200, "the next request");
    is_int(conn, 2, "…on a new connection");
    is_int(get(&k, &u, "/bye", &conn, body, sizeof(body)), 200,
           "an answer after which the peer closes");
    {
        char c;
        ok(read(told[0], &c, 1) == 1 && read(told[0], &c, 1) == 1,
           "the server closed both connections");
    }
    is_int(get(&k, &u, "/cl", &conn, body, sizeof(body)), 200,
           "a request after the peer closed the idle connection succeeds");
    is_int(conn, 3, "…on a new connection, not a failed send on the dead one");

    {
        const char *paths[3] = { "/cl", "/chunked", "/304" };
        int st[3] = { 0, 0, 0 }, cn[3] = { 0, 0, 0 }, sent = 0;
        char err[160];
        for (int i = 0; i < 3; i++) {
            snprintf(u.path, sizeof(u.path), "%s", paths[i]);
            sent += httpc_keep_send(&k, &u, "GET", NULL, NULL, 0, 2000, err, sizeof(err)) == 0;
        }
        is_int(sent, 3, "three requests sent pipelined, before any answer is read");
        is_int(k.inflight, 3, "…three in flight");
        for (int i = 0; i < 3; i++) {
            if (httpc_keep_recv(&k, 2000, &r, err, sizeof(err)) == 0) {
                st[i] = r.status;
                cn[i] = httpc_header(&r, "X-Conn", v, sizeof(v)) == 0 ? atoi(v) : -1;
                if (i == 1)
                    snprintf(body, sizeof(body), "%s", r.body);
                httpc_free(&r);
            }
        }
        ok(st[0] == 200 && st[1] == 200 && st[2] == 304, "…answered in order (200, 200, 304)");
        is_str(body, CHUNKED_BODY, "…the chunked one whole, between the others");
        ok(cn[0] == 3 && cn[1] == 3 && cn[2] == 3, "…all on the one kept connection");
        ok(httpc_keep_recv(&k, 2000, &r, err, sizeof(err)) < 0, "no fourth answer is awaited");
    }

    {
        char err[160];
        int a, b2, c2;
        snprintf(u.path, sizeof(u.path), "/closing");
        a = httpc_keep_send(&k, &u, "GET", NULL, NULL, 0, 2000, err, sizeof(err));
        snprintf(u.path, sizeof(u.path), "/cl");
        b2 = httpc_keep_send(&k, &u, "GET", NULL, NULL, 0, 2000, err, sizeof(err));
        ok(a == 0 && b2 == 0, "Connection: close with a request pipelined behind it");
        a = httpc_keep_recv(&k, 2000, &r, err, sizeof(err));
        ok(a == 0 && r.status == 200, "…the closing answer is taken");
        httpc_free(&r);
        ok(httpc_keep_send(&k, &u, "GET", NULL, NULL, 0, 2000, err, sizeof(err)) < 0,
           "…no new request goes out while the one behind it is not accounted for");
        b2 = httpc_keep_recv(&k, 2000, &r, err, sizeof(err));
        ok(b2 < 0, "…the request behind it fails: never an answer from another connection");
        c2 = get(&k, &u, "/cl", &conn, body, sizeof(body));
        ok(c2 == 200 && conn == 4, "…then the next request goes on a new connection");
    }
    /* a hostile peer's chunk size near SIZE_MAX: refused, never a wrapped
     * offset (which looped forever on the same chunk, or moved memory past
     * the buffer) */
    is_int(get(&k, &u, "/hostile", &conn, body, sizeof(body)), -1,
           "a chunk size that would wrap the offset is refused");

    u.tls = 1;
    snprintf(u.path, sizeof(u.path), "/cl");
    ok(httpc_keep_request(&k, &u, "GET", NULL, NULL, 0, 2000, &r, body, sizeof(body)) < 0,
       "a TLS URL is refused on a kept connection");
    httpc_keep_close(&k);
    is_int(k.fd, -1, "httpc_keep_close leaves no connection");

    r.head = strdup("HTTP/1.1 200 OK\r\nEtag: 1\r\nX-Message-Id:\t 1796157139:2  \r\nLong: "
                    "0123456789abcdef");
    ok(httpc_header(&r, "x-message-id", v, sizeof(v)) == 0 && strcmp(v, "1796157139:2") == 0,
       "httpc_header: case-insensitive, the value trimmed");
    ok(httpc_header(&r, "Etag", v, sizeof(v)) == 0 && strcmp(v, "1") == 0, "…another header");
    ok(httpc_header(&r, "X-Message", v, sizeof(v)) < 0, "…a prefix of a name is not the name");
    ok(httpc_header(&r, "Long", v, sizeof(v)) < 0, "…a value that does not fit is refused");
    ok(httpc_header(&r, "HTTP/1.1 200 OK", v, sizeof(v)) < 0, "…the status line is no header");
    httpc_free(&r);

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(sun.sun_path);
    rmdir(dir);
    return done_testing();
}
