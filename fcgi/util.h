/*
 * util.h — small helpers shared by the handlers: UUIDs, strict JSON field
 * access, canonical JSON and SHA-256 hex.
 */
#ifndef ZS_UTIL_H
#define ZS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include <json-c/json.h>

#define UUID_STR_LEN 36

/* A hex digit's value (either case), or -1: a table, for the full pass's millions of fields. */
extern const signed char util_hex_table[256];
static inline int util_hexval(char c)
{
    return util_hex_table[(unsigned char)c];
}

/* 1 if s is a UUID in 8-4-4-4-12 hex form; out (37 bytes) gets it lowercased. */
int util_uuid_parse(const char *s, char out[UUID_STR_LEN + 1]);

/* A random (version 4) UUID into out. 0, or -1 if the CSPRNG failed. */
int util_uuid_v4(char out[UUID_STR_LEN + 1]);

/*
 * A JSON integer in 1..INT64_MAX (min_value may be 0 to allow zero).
 * Doubles, exponents, strings, booleans, null, and integers that json-c had
 * to clamp (beyond int64) are refused. 0 on success, -1 otherwise.
 */
int util_json_int64(struct json_object *v, int64_t min_value, int64_t *out);

/*
 * The first member of obj whose name is not in allowed (NULL-terminated),
 * or NULL if there is none. The returned name is lent from obj.
 */
const char *util_json_unknown_member(struct json_object *obj, const char *const *allowed);

/*
 * Canonical JSON of v: object members sorted by name (bytewise), no
 * whitespace, strings escaped as json-c does. malloc'd; caller frees.
 * Two bodies that differ only in member order or whitespace give the same
 * text.
 */
char *util_json_canonical(struct json_object *v);

/*
 * 1 if the JSON text (already parsed by json-c into `parsed`) names some
 * member twice in one object. json-c keeps the last of duplicate members
 * silently; we refuse such bodies instead. Every ':' outside a string is a
 * member separator, so the text has more members than the parsed tree
 * exactly when a name repeated.
 */
int util_json_has_duplicate_keys(const char *text, size_t len, struct json_object *parsed);

/*
 * The compact JSON text of o as a malloc'd string (caller frees), taking
 * ownership of o (it is released). NULL if out of memory.
 */
char *util_json_take_text(struct json_object *o);

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void util_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * A growable NUL-terminated text buffer ({0} is empty). After an allocation
 * failure oom stays set and further appends do nothing; the caller frees p.
 */
struct util_buf {
    char *p;
    size_t len, cap;
    int oom;
};

/* Append n bytes of s to b. */
void util_buf_addn(struct util_buf *b, const char *s, size_t n);

/* Append the NUL-terminated string s to b. */
void util_buf_add(struct util_buf *b, const char *s);

struct zs_config;

/*
 * Keep a helper process of the caller running: when *pid is not a live child
 * (never started, or it exited and is reaped here), fork and run
 * child_main(cfg, parent pid) in the child, which never returns. what names it
 * in the log ("events: publisher" logs "events: publisher started (pid N)").
 * The child first dies with its parent (PR_SET_PDEATHSIG; a parent already
 * gone ends it at once), ignores SIGPIPE, takes SIGTERM and SIGQUIT as
 * util_child_stopping(), and logs as role.
 */
void util_child_keep(pid_t *pid, const char *what, const char *role,
                     void (*child_main)(const struct zs_config *cfg, pid_t parent),
                     const struct zs_config *cfg);

/* In a child util_child_keep() started (and its own children): told to stop. */
int util_child_stopping(void);

/* Stop the helper *pid (SIGTERM), wait for it, and forget it. */
void util_child_stop(pid_t *pid);

/* Append a JSON string for a NUL-terminated C string (for hand-built SQL-free JSON). */
struct json_object *util_json_string_or_null(const char *s);

#endif
