/*
 * test_publish_room.c — when the publisher makes room in nchan's memory
 * (fcgi/domain/publish_room.c): nchan's stub status read, and how many
 * messages an eviction gives back.
 */
#include <stdio.h>
#include <string.h>

#include "domain/publish_recover.h"
#include "tap.h"

/* What nchan 1.3.6's nchan_stub_status answers (this machine's). */
static const char STATUS[] = "total published messages: 1210\n"
                             "stored messages: 1199\n"
                             "shared memory used: 2036K\n"
                             "shared memory limit: 2048K\n"
                             "channels: 1199\n"
                             "subscribers: 3\n"
                             "redis pending commands: 0\n"
                             "nchan version: 1.3.6\n";

static void test_parse(void)
{
    struct nchan_room r = { 0 };

    ok(publish_parse_room(STATUS, &r) == 0, "a stub status parses");
    ok(r.stored == 1199 && r.used_k == 2036 && r.limit_k == 2048,
       "stored messages, memory used and the limit (KiB)");
    ok(publish_parse_room("total published messages: 3\nstored messages: 1\n", &r) < 0,
       "a status without the memory figures is refused");
    ok(publish_parse_room("stored messages: 1\nshared memory used: 1K\nshared memory limit: 0K\n",
                          &r)
           < 0,
       "a zero limit is refused");
    ok(publish_parse_room("stored messages: x\nshared memory used: 1K\nshared memory limit: 8K\n",
                          &r)
           < 0,
       "a field without a number is refused");
    ok(publish_parse_room(NULL, &r) < 0, "no body is refused");
}

static void test_target(void)
{
    struct nchan_room r = { 1000, 700, 1000 };

    ok(publish_room_target(&r, 0) == 0, "below 80%: nothing to evict");
    r.used_k = 800;
    /* down to 60%: (800 - 600) / 800 of the messages */
    ok(publish_room_target(&r, 0) == 250, "at 80%: a quarter of the messages (down to 60%)");
    r.used_k = 1000;
    ok(publish_room_target(&r, 0) == 400, "full: 40% of the messages");
    r.used_k = 500;
    ok(publish_room_target(&r, 1) == 125, "a refusal below 60%: an eighth of the messages");
    r.used_k = 700;
    ok(publish_room_target(&r, 1) == 142, "a refusal between the marks: down to 60%");
    r.stored = 0;
    r.used_k = 1000;
    ok(publish_room_target(&r, 1) == 0, "no message stored: nothing to evict");
    r.stored = 3;
    r.used_k = 990;
    ok(publish_room_target(&r, 0) == 1, "at least one message when any is to go");
}

int main(void)
{
    test_parse();
    test_target();
    return done_testing();
}
