/*
 * vcheck.h — the verifier's list of named checks and its verdict: one
 * human-readable line per check on stdout, then, as the LAST line, the JSON
 * verdict {"ok", "checkpoint": {"origin", "size"}, "checks": [{"name", "ok",
 * "detail"}], "failed": [names]}.
 */
#ifndef ZS_VCHECK_H
#define ZS_VCHECK_H

#include <stdint.h>
#include <stdio.h>

struct vcheck {
    char name[96];
    int ok;
    char detail[400];
};

struct vcheck_list {
    struct vcheck *items;
    int n, cap;
};

/* Append a check named name with a printf-style detail; out of memory aborts. */
void vcheck_add(struct vcheck_list *l, const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 when the list has at least one check and every check passed. */
int vcheck_all_ok(const struct vcheck_list *l);

/* 1 when the list has a check named name that failed. */
int vcheck_failed(const struct vcheck_list *l, const char *name);

/*
 * Print the per-check lines and the final JSON verdict line to out. origin
 * may be NULL (then null), size is printed when have_size.
 */
void vcheck_print(const struct vcheck_list *l, const char *origin, int have_size, uint64_t size,
                  FILE *out);

/* Release the list's memory. */
void vcheck_free(struct vcheck_list *l);

#endif
