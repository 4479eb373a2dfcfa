/*
 * test_page.c — the pure parts of cursor pagination (api/page.c) and of
 * ISO 8601 instants (iso8601.c).
 */
#include "tap.h"

#include "api/page.h"
#include "iso8601.h"

static const struct page_param ABSENT = { 0, NULL };

static struct page_param given(const char *text)
{
    struct page_param p = { 1, text };
    return p;
}

static void test_limit(void)
{
    struct page_query q;
    struct page_param bad = { -1, "" };

    ok(page_query_parse(ABSENT, ABSENT, ABSENT, &q) == NULL, "no parameters: valid");
    is_int(q.limit, 10, "default limit 10");
    is_int(q.dir, PAGE_FIRST, "no cursor: the first page");
    ok(page_query_parse(given("1"), ABSENT, ABSENT, &q) == NULL && q.limit == 1, "limit=1");
    ok(page_query_parse(given("100"), ABSENT, ABSENT, &q) == NULL && q.limit == 100, "limit=100");
    ok(page_query_parse(given("007"), ABSENT, ABSENT, &q) == NULL && q.limit == 7, "limit=007");
    static const char *const refused[] = {
        "0", "101", "-1", "+5", " 5", "5 ", "", "1e2", "abc", "10.", "1000", "99999999999999999999"
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *code = page_query_parse(given(refused[i]), ABSENT, ABSENT, &q);
        ok(code && strcmp(code, "invalid_limit") == 0, refused[i]);
    }
    ok(page_query_parse(bad, ABSENT, ABSENT, &q) != NULL, "a malformed limit is refused");
}

static void test_cursors(void)
{
    struct page_query q;
    const char *id = "123E4567-E89B-12D3-A456-426614174000";
    const char *code;

    ok(page_query_parse(ABSENT, given(id), ABSENT, &q) == NULL, "starting_after a UUID");
    is_int(q.dir, PAGE_AFTER, "starting_after: PAGE_AFTER");
    is_str(q.cursor, "123e4567-e89b-12d3-a456-426614174000", "the cursor, lowercased");
    ok(page_query_parse(ABSENT, ABSENT, given(id), &q) == NULL, "ending_before a UUID");
    is_int(q.dir, PAGE_BEFORE, "ending_before: PAGE_BEFORE");
    code = page_query_parse(ABSENT, given(id), given(id), &q);
    ok(code && strcmp(code, "conflicting_cursors") == 0, "both cursors: conflicting_cursors");
    code = page_query_parse(ABSENT, given("nope"), ABSENT, &q);
    ok(code && strcmp(code, "invalid_cursor") == 0, "starting_after=nope: invalid_cursor");
    code = page_query_parse(ABSENT, ABSENT, given(""), &q);
    ok(code && strcmp(code, "invalid_cursor") == 0, "ending_before empty: invalid_cursor");
    code = page_query_parse(given("0"), given(id), ABSENT, &q);
    ok(code && strcmp(code, "invalid_limit") == 0, "a bad limit is reported first");
}

static void test_take(void)
{
    struct page_query q = { .limit = 3, .dir = PAGE_AFTER };
    int more = -1;

    is_int(page_take(&q, 4, &more), 3, "limit + 1 rows: limit of them");
    is_int(more, 1, "... and has_more");
    is_int(page_take(&q, 3, &more), 3, "exactly limit rows");
    is_int(more, 0, "... and no more");
    is_int(page_take(&q, 0, &more), 0, "no rows");
    is_int(more, 0, "... no more");
    is_int(page_row(&q, 3, 0), 0, "after: rows in order");
    is_int(page_row(&q, 3, 2), 2, "after: last row last");
    q.dir = PAGE_BEFORE;
    is_int(page_row(&q, 3, 0), 2, "before: data[0] is the farthest fetched row");
    is_int(page_row(&q, 3, 2), 0, "before: the row nearest the cursor last");
    is_int(page_row(&q, 1, 0), 0, "before: one row");
}

static void iso_ok(const char *in, const char *want)
{
    char out[ISO8601_CANON_LEN + 1] = "";
    int r = iso8601_parse(in, out);

    ok(r == 1, in);
    is_str(out, want, "canonical form");
}

static void test_iso8601(void)
{
    char out[ISO8601_CANON_LEN + 1];

    iso_ok("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000+00:00");
    iso_ok("2026-01-02t03:04:05z", "2026-01-02T03:04:05.000000+00:00");
    iso_ok("2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05.500000+00:00");
    iso_ok("2026-01-02T03:04:05.123456+02:00", "2026-01-02T03:04:05.123456+02:00");
    iso_ok("2026-01-02T03:04:05-0530", "2026-01-02T03:04:05.000000-05:30");
    iso_ok("2026-01-02T03:04:05 01:00", "2026-01-02T03:04:05.000000+01:00");
    iso_ok("2024-02-29T23:59:59Z", "2024-02-29T23:59:59.000000+00:00");
    iso_ok("2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000+00:00");
    iso_ok("0001-01-01T00:00:00+15:59", "0001-01-01T00:00:00.000000+15:59");
    static const char *const refused[] = {
        "",
        "2026-01-02",
        "2026-01-02T03:04:05",
        "2026-01-02 03:04:05Z",
        "2026-13-02T03:04:05Z",
        "2026-00-02T03:04:05Z",
        "2026-01-32T03:04:05Z",
        "2025-02-29T03:04:05Z",
        "1900-02-29T03:04:05Z",
        "2026-04-31T03:04:05Z",
        "2026-01-02T24:00:00Z",
        "2026-01-02T03:60:05Z",
        "2026-01-02T03:04:60Z",
        "0000-01-02T03:04:05Z",
        "2026-01-02T03:04:05.Z",
        "2026-01-02T03:04:05.1234567Z",
        "2026-01-02T03:04:05+16:00",
        "2026-01-02T03:04:05+01:60",
        "2026-01-02T03:04:05+1",
        "2026-01-02T03:04:05+01:00:00",
        "2026-01-02T03:04:05ZZ",
        "2026-01-02T03:04:05Z ",
        "now",
        "2026-1-02T03:04:05Z",
        "2026-01-02T03:04:5Z",
        "+2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05UTC",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        strcpy(out, "untouched");
        ok(iso8601_parse(refused[i], out) == 0 && strcmp(out, "untouched") == 0, refused[i]);
    }
    ok(iso8601_parse(NULL, out) == 0, "NULL refused");
}

int main(void)
{
    test_limit();
    test_cursors();
    test_take();
    test_iso8601();
    return done_testing();
}
