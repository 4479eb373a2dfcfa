/*
 * test_fullpass_copy.c — what the full pass's fast path reads and hashes
 * must be exactly what the slow path did: COPY text rows split into the
 * same values PostgreSQL stored (domain/fullpass_stream.c), binary COPY
 * rows decoded into the text a text COPY would carry, records encoded
 * into a reused buffer identical to record_encode()'s (domain/record.c),
 * and A(uuid) through its cache equal to R("account", uuid) for every
 * account, however many share a cache slot.
 */
#include "tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fullpass_pass.h"
#include "domain/record.h"

static void test_split(void)
{
    char row[] = "12\tab\\tc\t\\N\t\t\\\\N\tx\\ny\\\\z\t\\101\\x42\n";
    char last[] = "1\t\\N";
    char one[] = "\\N\n";
    char many[] = "a\tb\tc";
    const char *f[8];
    int n = fullpass_copy_split(row, strlen(row), f, 8);

    is_int(n, 7, "a row splits into its seven fields");
    is_str(f[0], "12", "a plain field");
    is_str(f[1], "ab\tc", "\\t is a tab inside a field");
    ok(f[2] == NULL, "\\N alone is NULL");
    is_str(f[3], "", "an empty field is an empty string, not NULL");
    is_str(f[4], "\\N", "an escaped backslash before N is the text \\N");
    is_str(f[5], "x\ny\\z", "\\n and \\\\ decode");
    is_str(f[6], "AB", "octal and hex escapes decode (the final newline is not data)");
    n = fullpass_copy_split(last, strlen(last), f, 8);
    ok(n == 2 && f[1] == NULL, "\\N as the last field without a newline is NULL");
    n = fullpass_copy_split(one, strlen(one), f, 8);
    ok(n == 1 && f[0] == NULL, "a row of one NULL");
    is_int(fullpass_copy_split(many, strlen(many), f, 2), -1, "more fields than room: -1");
    {
        char mixed[] = "plain\ta\\\\b\t\tend\n", trail[] = "x\t";
        n = fullpass_copy_split(mixed, strlen(mixed), f, 8);
        ok(n == 4 && strcmp(f[0], "plain") == 0 && strcmp(f[1], "a\\b") == 0
               && strcmp(f[2], "") == 0 && strcmp(f[3], "end") == 0,
           "plain fields (ended in place) and escaped ones (decoded) side by side");
        n = fullpass_copy_split(trail, strlen(trail), f, 8);
        ok(n == 2 && strcmp(f[0], "x") == 0 && strcmp(f[1], "") == 0,
           "a tab at the end leaves an empty last field");
    }
}

static void test_encode_into(void)
{
    const char *v[RT_NCOLS] = { "11111111-1111-4111-8111-111111111111",
                                "transfer",
                                "00000000-0000-0000-0000-000000000001",
                                "22222222-2222-4222-8222-222222222222",
                                "500",
                                "1700000000123456",
                                "alice",
                                "alice:k1",
                                NULL };
    struct record_entry e[2] = {
        { "44444444-4444-4444-8444-444444444444", "22222222-2222-4222-8222-222222222222", "500" },
        { "33333333-3333-4333-8333-333333333333", "00000000-0000-0000-0000-000000000001", "-500" }
    };
    struct record r;
    struct record_text b = { 0 };
    unsigned char leaf[32];
    int same = 1;

    ok(record_encode(RECORD_TRANSFER, v, e, 2, &r) == 0, "record_encode");
    for (int i = 0; i < 3; i++) { /* the buffer is reused: the second time must be as the first */
        same = same && record_encode_into(RECORD_TRANSFER, v, e, 2, &b, leaf) == 0 && b.len == r.len
            && memcmp(b.p, r.text, r.len) == 0 && memcmp(leaf, r.leaf, 32) == 0;
    }
    ok(same, "record_encode_into, three times into one buffer, equals record_encode");
    v[RT_AMOUNT] = "05";
    is_int(record_encode_into(RECORD_TRANSFER, v, e, 2, &b, leaf), -1,
           "a malformed value is refused into a reused buffer too");
    record_free(&r);
    record_text_free(&b);
}

static void test_account_cache(void)
{
    char u[40], want[65], got[65];
    int same = 1;

    /* 200,000 accounts through a 65,536-slot cache, twice: every slot is shared */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 200000; i++) {
            snprintf(u, sizeof(u), "%08x-0000-4000-8000-%012x", i, i * 7);
            same = same && record_ref("account", u, want) == 0 && record_account(u, got) == 0
                && strcmp(want, got) == 0;
        }
    ok(same, "A(uuid) through the cache equals R(account, uuid) for 200,000 accounts, twice");
    ok(record_account("00000000-0000-0000-0000-00000000000A", got) == 0
           && record_account("00000000-0000-0000-0000-00000000000a", want) == 0
           && strcmp(got, want) == 0,
       "upper and lower case are one account in the cache");
    is_int(record_account("not-a-uuid", got), -1, "a bad uuid is refused");
}

/* Append a big-endian n-byte v to b at *at. */
static void put(unsigned char *b, size_t *at, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        b[(*at)++] = (unsigned char)(v >> (8 * i));
}

static void put_field(unsigned char *b, size_t *at, const void *data, int len)
{
    put(b, at, (uint32_t)len, 4);
    if (len > 0) {
        memcpy(b + *at, data, (size_t)len);
        *at += (size_t)len;
    }
}

static void test_binary(void)
{
    static const unsigned char uuid[16] = { 0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                            0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00 };
    static const unsigned char bytes[3] = { 0x00, 0xab, 0xff };
    unsigned char b[512], i8[8], i4[4], i2[2], ts[8];
    char out[4096];
    const char *f[8];
    size_t at = 0, row_start;
    size_t hdr;
    int n;

    /* the header: signature, flags, an extension of 2 bytes */
    memcpy(b, "PGCOPY\n\377\r\n\0", 11);
    at = 11;
    put(b, &at, 0, 4);
    put(b, &at, 2, 4);
    put(b, &at, 0xbeef, 2);
    hdr = at;
    row_start = at;
    put(b, &at, 7, 2);
    put_field(b, &at, uuid, 16);
    {
        size_t k = 0;
        put(i8, &k, (uint64_t)-42, 8);
        put_field(b, &at, i8, 8);
        k = 0;
        put(i4, &k, (uint32_t)-7, 4);
        put_field(b, &at, i4, 4);
        k = 0;
        put(i2, &k, 300, 2);
        put_field(b, &at, i2, 2);
        /* 2023-11-14 22:13:20.123456 UTC = 1700000000123456 us since 1970 */
        k = 0;
        put(ts, &k, (uint64_t)(1700000000123456LL - 946684800000000LL), 8);
        put_field(b, &at, ts, 8);
    }
    put_field(b, &at, bytes, 3);
    put(b, &at, 0xffffffff, 4); /* NULL text */
    n = fullpass_copy_binary((const char *)b, at, "u842Txt", f, 8, out);
    is_int(n, 7, "the header and a first row in one message: seven fields");
    is_str(f[0], "123e4567-e89b-12d3-a456-426614174000", "uuid as 8-4-4-4-12 lowercase");
    is_str(f[1], "-42", "bigint in decimal, negative too");
    is_str(f[2], "-7", "integer");
    is_str(f[3], "300", "smallint");
    is_str(f[4], "1700000000123456", "timestamptz as microseconds since 1970");
    is_str(f[5], "00abff", "bytea as lowercase hex");
    ok(f[6] == NULL, "a NULL field is NULL");
    {
        struct fullpass_field raw[8];
        char t[64];
        n = fullpass_copy_fields((const char *)b, at, "u842Txt", raw, 8);
        is_int(n, 7, "raw fields: seven");
        ok(raw[0].len == 16 && memcmp(raw[0].b, uuid, 16) == 0, "a raw uuid is its 16 bytes");
        ok(fullpass_field_int(&raw[1], '8') == -42 && fullpass_field_int(&raw[2], '4') == -7
               && fullpass_field_int(&raw[3], '2') == 300,
           "raw integers read back signed, each at its width");
        ok(fullpass_field_int(&raw[4], 'T') == 1700000000123456LL,
           "a raw timestamptz reads as microseconds since 1970");
        ok(raw[6].len == -1, "a raw NULL has length -1");
        fullpass_field_text(&raw[0], 'u', t);
        is_str(t, "123e4567-e89b-12d3-a456-426614174000", "a raw field's text is the text form's");
        is_int(fullpass_copy_fields((const char *)b, at, "u442Txt", raw, 8), -1,
               "raw: an 8-byte field where an integer is expected: -1");
        is_int(fullpass_copy_fields((const char *)b, at - 1, "u842Txt", raw, 8), -1,
               "raw: a truncated row: -1");
    }
    n = fullpass_copy_binary((const char *)b + row_start, at - row_start, "u842Txt", f, 8, out);
    is_int(n, 7, "a row without the header");
    is_int(fullpass_copy_binary((const char *)b, hdr, "u842Txt", f, 8, out), 0,
           "the header alone: no row");
    is_int(fullpass_copy_binary((const char *)b, at, "u842Tx", f, 8, out), -1,
           "a row of more columns than types: -1");
    is_int(fullpass_copy_binary((const char *)b, at, "u842Txt", f, 6, out), -1,
           "more fields than room: -1");
    is_int(fullpass_copy_binary((const char *)b, at, "8842Txt", f, 8, out), -1,
           "a 16-byte field where a bigint is expected: -1");
    is_int(fullpass_copy_binary((const char *)b, at - 1, "u842Txt", f, 8, out), -1,
           "a truncated row: -1");
    {
        unsigned char tr[2] = { 0xff, 0xff }, one[32];
        size_t k = 0;
        is_int(fullpass_copy_binary((const char *)tr, 2, "u", f, 8, out), 0, "the trailer: no row");
        put(one, &k, 1, 2);
        put_field(one, &k, "hi\tthere", 8);
        n = fullpass_copy_binary((const char *)one, k, "t", f, 8, out);
        ok(n == 1 && strcmp(f[0], "hi\tthere") == 0, "text as is, a tab in it too (no escapes)");
    }
}

int main(void)
{
    test_split();
    test_binary();
    test_encode_into();
    test_account_cache();
    return done_testing();
}
