/*
 * fuzz_fingerprint.c — libFuzzer target for the idempotency fingerprint:
 * util_json_canonical() and util_sha256_hex() (util.c), which
 * idem_prepare() hashes as "METHOD PATH\n<canonical body>".
 *
 * The input is parsed with json-c twice: as the server parses bodies
 * (strict, UTF-8 validated, depth capped at the json_max_depth default) and
 * leniently (json-c's default flags, same cap), so the canonicaliser also
 * meets values only the lenient parser makes (NaN, comments, ...).
 *
 * Properties, for every value that parses (abort() on violation):
 *  - the canonical text exists and holds no raw control byte;
 *  - the SHA-256 of the canonical text is the same every time;
 *  - member order does not matter: a copy with every object's members
 *    inserted in reverse order canonicalises to the same text;
 * and for the strict parse, the one the server uses:
 *  - the canonical text re-parses to a value whose canonical text is
 *    identical;
 *  - whitespace does not matter: json-c's pretty-printed form of the value
 *    canonicalises to the same text.
 * The last two do not hold for the lenient parse, and need not: json-c
 * trims a dangling exponent ("18446744073709551616e" becomes a double
 * whose text is "18446744073709551616"), and that text re-parses as a
 * saturated uint64 (corpus: lenient-dangling-exponent).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "util.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_fingerprint: property failed: %s (%s:%d)\n", \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int depth_cap;

/*
 * Parse text[0..len) as one JSON value with the given flags; trailing
 * whitespace allowed, anything else after the value is a failure. A bare
 * number needs a terminator, so one space is fed when json-c asks for more.
 * Returns a new reference or NULL.
 */
static struct json_object *parse(const char *text, size_t len, int flags)
{
    struct json_tokener *tok;
    struct json_object *obj;
    enum json_tokener_error err;
    size_t end = len;

    if (len > INT_MAX)
        return NULL;
    tok = json_tokener_new_ex(depth_cap);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, flags);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    err = json_tokener_get_error(tok);
    if (!obj && err == json_tokener_continue) {
        /* all of text consumed; the space only ends a bare number */
        obj = json_tokener_parse_ex(tok, " ", 1);
        err = json_tokener_get_error(tok);
    } else if (obj && err == json_tokener_success) {
        end = json_tokener_get_parse_end(tok);
        while (end < len && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n'
                             || text[end] == '\r'))
            end++;
    }
    if (obj && (err != json_tokener_success || end != len)) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

/* A copy of v with every object's members added in reverse order. */
static struct json_object *reversed(struct json_object *v)
{
    struct json_object *out;

    switch (json_object_get_type(v)) {
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(v), i = 0;
        const char **names = calloc(n ? n : 1, sizeof(*names));
        CHECK(names != NULL);
        json_object_object_foreach(v, name, val) {
            (void)val;
            names[i++] = name;
        }
        out = json_object_new_object();
        while (i-- > 0)
            json_object_object_add(out, names[i], reversed(json_object_object_get(v, names[i])));
        free(names);
        return out;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);
        out = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++)
            json_object_array_add(out, reversed(json_object_array_get_idx(v, i)));
        return out;
    }
    default:
        return json_object_get(v);      /* scalars are shared (refcounted) */
    }
}

static void check(const char *text, size_t len, int flags)
{
    struct json_object *obj = parse(text, len, flags), *again, *rev, *pretty;
    char *c1, *c2, *c3, *c4;
    char h1[65], h2[65];
    const char *ptext;
    size_t plen = 0;

    if (!obj)
        return;

    c1 = util_json_canonical(obj);
    CHECK(c1 != NULL);
    for (const char *c = c1; *c; c++)
        CHECK((unsigned char)*c >= 0x20);

    /* the fingerprint is stable */
    util_sha256_hex(c1, strlen(c1), h1);
    util_sha256_hex(c1, strlen(c1), h2);
    CHECK(strlen(h1) == 64 && strcmp(h1, h2) == 0);

    /* member order does not matter */
    rev = reversed(obj);
    c3 = util_json_canonical(rev);
    CHECK(c3 != NULL);
    if (strcmp(c1, c3) != 0) {
        fprintf(stderr, "canonical: %s\nreversed: %s\n", c1, c3);
        CHECK(strcmp(c1, c3) == 0);
    }
    free(c3);
    json_object_put(rev);

    if (!(flags & JSON_TOKENER_STRICT)) {
        free(c1);
        json_object_put(obj);
        return;
    }

    /* idempotent: canonical(parse(canonical(x))) == canonical(x) */
    again = parse(c1, strlen(c1), flags);
    if (!again) {
        fprintf(stderr, "canonical text does not re-parse: %s\n", c1);
        CHECK(again != NULL);
    }
    c2 = util_json_canonical(again);
    CHECK(c2 != NULL);
    if (strcmp(c1, c2) != 0) {
        fprintf(stderr, "canonical: %s\nre-canonical: %s\n", c1, c2);
        CHECK(strcmp(c1, c2) == 0);
    }

    util_sha256_hex(c2, strlen(c2), h2);
    CHECK(strcmp(h1, h2) == 0);

    /* whitespace does not matter */
    ptext = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PRETTY
                                              | JSON_C_TO_STRING_SPACED, &plen);
    CHECK(ptext != NULL);
    pretty = parse(ptext, plen, flags);
    if (!pretty) {
        fprintf(stderr, "pretty form does not re-parse: %s\n", ptext);
        CHECK(pretty != NULL);
    }
    c4 = util_json_canonical(pretty);
    CHECK(c4 != NULL);
    if (strcmp(c1, c4) != 0) {
        fprintf(stderr, "canonical: %s\npretty: %s\n", c1, c4);
        CHECK(strcmp(c1, c4) == 0);
    }
    free(c4);
    json_object_put(pretty);

    free(c1);
    free(c2);
    json_object_put(again);
    json_object_put(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!depth_cap) {
        struct zs_config cfg;
        config_defaults(&cfg);
        depth_cap = cfg.json_max_depth;
    }
    check((const char *)data, size, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    check((const char *)data, size, 0);
    return 0;
}
