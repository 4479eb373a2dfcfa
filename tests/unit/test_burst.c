/*
 * test_burst.c — bench/burst.c: the requests file, the response parser (at
 * every split point), the JSON report, and a real burst against a server
 * forked here (keep-alive answers with a length, chunked ones, one
 * connection closed unanswered, one port with no listener).
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst.h"
#include "tap.h"

#define N_BURST 24

static void test_split(void)
{
    struct burst_req *v = NULL;
    size_t n = 0;
    char err[128];
    const char good[] = "3\nabc\n2\nd\n\n";

    is_int(burst_split_requests(good, sizeof(good) - 1, &v, &n, err, sizeof(err)), 0,
           "split: two requests");
    is_int(n, 2, "split: count");
    ok(v && v[0].len == 3 && !memcmp(v[0].data, "abc", 3), "split: first request's bytes");
    ok(v && v[1].len == 2 && !memcmp(v[1].data, "d\n", 2), "split: a newline inside a request");
    free(v);
    ok(burst_split_requests("3\nab\n", 5, &v, &n, err, sizeof(err)) < 0, "split: too short");
    ok(burst_split_requests("3\nabcX", 6, &v, &n, err, sizeof(err)) < 0,
       "split: no newline after the bytes");
    ok(burst_split_requests("x\nabc\n", 6, &v, &n, err, sizeof(err)) < 0, "split: no length");
    ok(strstr(err, "request 1") != NULL, "split: the error names the request");
    ok(burst_split_requests("", 0, &v, &n, err, sizeof(err)) < 0, "split: empty file");
    ok(burst_split_requests("0\n\n", 3, &v, &n, err, sizeof(err)) < 0, "split: empty request");
}

/* Every proper prefix of resp needs more; the whole takes want bytes. */
static void parse_case(const char *name, const char *resp, size_t want, int status,
                       const char *body)
{
    size_t len = strlen(resp);
    struct burst_resp r;
    int prefixes_ok = 1;
    ssize_t took;
    char label[160];

    for (size_t i = 0; i < want; i++) {
        took = burst_parse_response(resp, i, 0, &r);
        free(r.body);
        if (took != 0)
            prefixes_ok = 0;
    }
    snprintf(label, sizeof(label), "parse %s: every prefix needs more", name);
    ok(prefixes_ok, label);
    took = burst_parse_response(resp, len, 0, &r);
    snprintf(label, sizeof(label), "parse %s: bytes taken", name);
    is_int(took, want, label);
    snprintf(label, sizeof(label), "parse %s: status", name);
    is_int(r.status, status, label);
    snprintf(label, sizeof(label), "parse %s: body", name);
    is_str(r.body, body, label);
    free(r.body);
}

static void test_parse(void)
{
    const char *cl = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                     "Content-Length: 9\r\n\r\n{\"a\":\"b\"}";
    const char *ch = "HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
    char two[512];
    struct burst_resp r;

    parse_case("content-length", cl, strlen(cl), 201, "{\"a\":\"b\"}");
    parse_case("chunked", ch, strlen(ch), 409, "hello world");
    snprintf(two, sizeof(two), "%s%s", cl, ch);
    parse_case("pipelined", two, strlen(cl), 201, "{\"a\":\"b\"}");
    parse_case("lower-case name", "HTTP/1.1 503 X\r\ncontent-length: 2\r\n\r\nok", 39, 503, "ok");
    parse_case("204", "HTTP/1.1 204 No Content\r\n\r\n", 27, 204, "");

    is_int(burst_parse_response("HTTP/1.0 200 OK\r\n\r\nrest", 23, 0, &r), 0,
           "parse: no length, not closed: more");
    free(r.body);
    is_int(burst_parse_response("HTTP/1.0 200 OK\r\n\r\nrest", 23, 1, &r), 23,
           "parse: no length, closed: up to the end");
    is_str(r.body, "rest", "parse: no length: the body");
    free(r.body);
    is_int(burst_parse_response("HELLO THERE\r\n\r\n", 15, 0, &r), -1, "parse: not HTTP");
    is_int(burst_parse_response("HTTP/1.1 2x1 OK\r\n\r\n", 19, 0, &r), -1, "parse: bad status");
    is_int(burst_parse_response(cl, strlen(cl) - 1, 1, &r), -1,
           "parse: closed before the length's end");
    is_int(burst_parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 51,
                                0, &r),
           -1, "parse: a bad chunk size");
    is_int(burst_parse_response("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 38, 0, &r), -1,
           "parse: a bad Content-Length");
}

/* f's text (an open_memstream) parsed as JSON. */
static struct json_object *parse_stream(FILE *f, char **buf)
{
    fclose(f);
    return json_tokener_parse(*buf);
}

static void test_json(void)
{
    const char s[] = "q\"b\\s\n\t\x01\x7f \xc3\xa9 end";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_object *o;

    burst_json_string(f, s, sizeof(s) - 1);
    o = parse_stream(f, &buf);
    ok(o && json_object_is_type(o, json_type_string), "json: a string");
    is_str(o ? json_object_get_string(o) : NULL, s, "json: the same bytes back");
    json_object_put(o);
    free(buf);
}

/* The forked server: accepts n connections one after the other, answers each
 * request "POST /r/<i>" by i: 201 with a length, 409 chunked, or (i == 5)
 * closes without an answer; keeps the others open until the client closes. */
static void serve(int lfd, int n)
{
    int fds[N_BURST];

    for (int k = 0; k < n; k++) {
        char req[2048], out[512], body[128];
        size_t got = 0;
        int i = -1;

        fds[k] = accept(lfd, NULL, NULL);
        if (fds[k] < 0)
            _exit(3);
        while (got < sizeof(req) - 1 && !memmem(req, got, "\r\n\r\nx", 5)) {
            ssize_t r = read(fds[k], req + got, sizeof(req) - 1 - got);

            if (r <= 0)
                _exit(4);
            got += (size_t)r;
        }
        req[got] = '\0';
        if (sscanf(req, "POST /r/%d ", &i) != 1)
            _exit(5);
        snprintf(body, sizeof(body), "{\"i\":%d,\"q\":\"a\\\"b\"}", i);
        if (i == 5) {
            close(fds[k]);
            fds[k] = -1;
            continue;
        }
        if (i % 2 == 0)
            snprintf(out, sizeof(out), "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
        else
            snprintf(out, sizeof(out),
                     "HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\n%.3s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                     body, strlen(body) - 3, body + 3);
        if (write(fds[k], out, strlen(out)) != (ssize_t)strlen(out))
            _exit(6);
    }
    for (int k = 0; k < n; k++) {
        char c;

        if (fds[k] >= 0)
            while (read(fds[k], &c, 1) > 0)
                ;
    }
    _exit(0);
}

static int listener(int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0
        || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_burst(void)
{
    static char texts[N_BURST][128];
    struct burst_req reqs[N_BURST];
    struct burst_answer ans[N_BURST];
    struct burst_stats st;
    char err[128], *buf = NULL;
    size_t len = 0;
    int port = 0, lfd = listener(&port), status = -1, right = 0, late = 0;
    pid_t pid;
    FILE *f;
    struct json_object *o, *v;

    ok(lfd >= 0, "burst: a listener");
    pid = fork();
    if (pid == 0)
        serve(lfd, N_BURST);
    close(lfd);
    for (int i = 0; i < N_BURST; i++) {
        snprintf(texts[i], sizeof(texts[i]),
                 "POST /r/%d HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx", i);
        reqs[i] = (struct burst_req){ texts[i], strlen(texts[i]) };
    }
    memset(ans, 0, sizeof(ans));
    is_int(burst_run("127.0.0.1", port, reqs, N_BURST, 10000, ans, &st, err, sizeof(err)), 0,
           "burst: runs");
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "burst: the server saw every request");
    for (int i = 0; i < N_BURST; i++) {
        char want[128];

        snprintf(want, sizeof(want), "{\"i\":%d,\"q\":\"a\\\"b\"}", i);
        if (i != 5 && ans[i].status == (i % 2 ? 409 : 201) && ans[i].body
            && !strcmp(ans[i].body, want) && ans[i].ms >= 0 && ans[i].end_ms <= st.done_ms)
            right++;
        late += ans[i].end_ms > st.done_ms;
    }
    is_int(right, N_BURST - 1, "burst: every answer on its own request, status and body");
    is_int(late, 0, "burst: done_ms is the last answer");
    is_int(ans[5].status, 0, "burst: the unanswered request has no status");
    ok(strstr(ans[5].error, "closed") != NULL, "burst: ... and says the connection closed");
    is_int(st.errors, 1, "burst: one error");
    ok(st.done_ms > 0 && st.send_ms >= 0 && st.send_ms <= st.done_ms, "burst: its times");

    f = open_memstream(&buf, &len);
    burst_write_report(f, ans, N_BURST, &st);
    o = parse_stream(f, &buf);
    ok(o && json_object_object_get_ex(o, "answers", &v) && json_object_array_length(v) == N_BURST,
       "report: one answer per request");
    ok(o && json_object_object_get_ex(o, "client", &v) && !strcmp(json_object_get_string(v), "c"),
       "report: the client");
    ok(o && json_object_object_get_ex(o, "errors", &v) && json_object_get_int(v) == 1,
       "report: the errors");
    json_object_put(o);
    free(buf);
    for (int i = 0; i < N_BURST; i++)
        free(ans[i].body);

    /* nothing listening: an error per request, not a failed burst */
    lfd = listener(&port);
    close(lfd);
    memset(ans, 0, sizeof(ans));
    is_int(burst_run("127.0.0.1", port, reqs, 2, 2000, ans, &st, err, sizeof(err)), 0,
           "refused: runs");
    is_int(st.errors, 2, "refused: both requests unanswered");
    ok(strstr(ans[0].error, "connect") != NULL, "refused: the error says connect");
    ok(burst_run("localhost", port, reqs, 1, 100, ans, &st, err, sizeof(err)) < 0,
       "burst: a host that is not an IPv4 address is refused");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_split();
    test_parse();
    test_json();
    test_burst();
    return done_testing();
}
