/*
 * util.c — UUIDs, strict JSON integers, canonical JSON, SHA-256.
 */
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"

/* Each byte's hex value, or -1: spelt out by the preprocessor, 256 entries. */
#define HX(c)                                                                                      \
    ((c) >= '0' && (c) <= '9'       ? (c) - '0'                                                    \
         : (c) >= 'a' && (c) <= 'f' ? (c) - 'a' + 10                                               \
         : (c) >= 'A' && (c) <= 'F' ? (c) - 'A' + 10                                               \
                                    : -1)
#define HX4(c) HX(c), HX((c) + 1), HX((c) + 2), HX((c) + 3)
#define HX16(c) HX4(c), HX4((c) + 4), HX4((c) + 8), HX4((c) + 12)
#define HX64(c) HX16(c), HX16((c) + 16), HX16((c) + 32), HX16((c) + 48)
const signed char util_hex_table[256] = { HX64(0), HX64(64), HX64(128), HX64(192) };
#undef HX64
#undef HX16
#undef HX4
#undef HX

int util_uuid_parse(const char *s, char out[UUID_STR_LEN + 1])
{
    static const char lower[] = "0123456789abcdef";

    if (!s)
        return 0;
    for (int i = 0; i < UUID_STR_LEN; i++) {
        int v;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
            out[i] = '-';
            continue;
        }
        if ((v = util_hexval(s[i])) < 0) /* the NUL of a short string too */
            return 0;
        out[i] = lower[v];
    }
    if (s[UUID_STR_LEN] != '\0')
        return 0;
    out[UUID_STR_LEN] = '\0';
    return 1;
}

int util_uuid_v4(char out[UUID_STR_LEN + 1])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, UUID_STR_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

int util_json_int64(struct json_object *v, int64_t min_value, int64_t *out)
{
    int64_t n;

    if (!v || !json_object_is_type(v, json_type_int))
        return -1;
    n = json_object_get_int64(v);
    /* json-c stores 2^63.. 2^64-1 as uint64 and clamps get_int64 to INT64_MAX */
    if (n == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
        return -1;
    if (n < min_value)
        return -1;
    *out = n;
    return 0;
}

const char *util_json_unknown_member(struct json_object *obj, const char *const *allowed)
{
    json_object_object_foreach(obj, name, val)
    {
        int known = 0;
        (void)val;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, name) == 0) {
                known = 1;
                break;
            }
        if (!known)
            return name;
    }
    return NULL;
}

void util_buf_addn(struct util_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 256);
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void util_buf_add(struct util_buf *b, const char *s)
{
    util_buf_addn(b, s, strlen(s));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon(struct util_buf *b, struct json_object *v)
{
    const char *s;

    switch (json_object_get_type(v)) {
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(v), i = 0;
        const char **names = calloc(n ? n : 1, sizeof(*names));
        if (!names) {
            b->oom = 1;
            return;
        }
        json_object_object_foreach(v, name, val)
        {
            (void)val;
            names[i++] = name;
        }
        qsort(names, n, sizeof(*names), cmp_names);
        util_buf_addn(b, "{", 1);
        for (i = 0; i < n; i++) {
            struct json_object *key = json_object_new_string(names[i]);
            if (i)
                util_buf_addn(b, ",", 1);
            s = json_object_to_json_string_ext(key, JSON_C_TO_STRING_PLAIN);
            util_buf_addn(b, s, strlen(s));
            json_object_put(key);
            util_buf_addn(b, ":", 1);
            canon(b, json_object_object_get(v, names[i]));
        }
        util_buf_addn(b, "}", 1);
        free(names);
        return;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);
        util_buf_addn(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                util_buf_addn(b, ",", 1);
            canon(b, json_object_array_get_idx(v, i));
        }
        util_buf_addn(b, "]", 1);
        return;
    }
    case json_type_null:
        util_buf_addn(b, "null", 4);
        return;
    default:
        s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        util_buf_addn(b, s, strlen(s));
        return;
    }
}

char *util_json_canonical(struct json_object *v)
{
    struct util_buf b = { NULL, 0, 0, 0 };

    canon(&b, v);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (!b.p)
        return strdup("");
    return b.p;
}

static size_t parsed_members(struct json_object *v)
{
    size_t n = 0;

    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, name, child)
        {
            (void)name;
            n += 1 + parsed_members(child);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            n += parsed_members(json_object_array_get_idx(v, i));
    }
    return n;
}

int util_json_has_duplicate_keys(const char *text, size_t len, struct json_object *parsed)
{
    size_t colons = 0;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ':') {
            colons++;
        }
    }
    return colons > parsed_members(parsed);
}

void util_sha256_hex(const void *data, size_t len, char out[65])
{
    /* fetched once: EVP_sha256() looks the implementation up on every call */
    static EVP_MD *alg;
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;

    if (!alg && !(alg = EVP_MD_fetch(NULL, "SHA256", NULL)))
        abort();
    /* a fingerprint that is not the hash would match what it should not */
    if (!EVP_Digest(data, len, md, &mdlen, alg, NULL) || mdlen != sizeof(md))
        abort();
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

char *util_json_take_text(struct json_object *o)
{
    char *s = strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

struct json_object *util_json_string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static volatile sig_atomic_t child_stop;

static void child_on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

int util_child_stopping(void)
{
    return child_stop;
}

void util_child_keep(pid_t *pid, const char *what, const char *role,
                     void (*child_main)(const struct zs_config *cfg, pid_t parent),
                     const struct zs_config *cfg)
{
    pid_t parent = getpid();
    int st;

    if (*pid > 0) {
        if (waitpid(*pid, &st, WNOHANG) == 0)
            return;
        log_warn("%s (pid %d) left (status %d); starting another", what, (int)*pid, st);
    }
    *pid = fork();
    if (*pid < 0) {
        log_error("%s: fork() failed: %s", what, strerror(errno));
        *pid = 0;
        return;
    }
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* the parent's death ends it: the next one resumes */
        if (getppid() != parent)
            _exit(0);
        signal(SIGTERM, child_on_term);
        signal(SIGQUIT, child_on_term);
        signal(SIGPIPE, SIG_IGN);
        log_set_role(role);
        child_main(cfg, parent); /* never returns */
    }
    log_info("%s started (pid %d)", what, (int)*pid);
}

void util_child_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}
