/*
 * tap.h — a minimal Test Anything Protocol harness for the unit tests.
 *
 * Each test binary calls ok()/is_int()/is_str() any number of times and
 * returns done_testing() from main(). Output is TAP version 13 on stdout,
 * which `prove --exec ''` reads. Header-only: every test is one .c file.
 */
#ifndef ZS_TAP_H
#define ZS_TAP_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

static int tap_count;
static int tap_failed;

static int tap_ok_(int cond, const char *file, int line, const char *name)
{
    tap_count++;
    if (cond) {
        printf("ok %d - %s\n", tap_count, name);
    } else {
        tap_failed++;
        printf("not ok %d - %s\n#   at %s:%d\n", tap_count, name, file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, name) tap_ok_(!!(cond), __FILE__, __LINE__, (name))

#define is_int(got, want, name)                                                                    \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!tap_ok_(g_ == w_, __FILE__, __LINE__, (name)))                                        \
            printf("#   got: %lld\n#   expected: %lld\n", g_, w_);                                 \
    } while (0)

#define is_str(got, want, name)                                                                    \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        int eq_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                                     \
        if (!tap_ok_(eq_, __FILE__, __LINE__, (name)))                                             \
            printf("#   got: '%s'\n#   expected: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

static int done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
