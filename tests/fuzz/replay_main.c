/*
 * replay_main.c — a main() for the fuzz targets without libFuzzer: feeds
 * every file named on the command line, and every regular file in every
 * directory named (not recursive, sorted by name), to
 * LLVMFuzzerTestOneInput once, and reports TAP:
 *
 *   ok 1 - tests/fuzz/corpus/fuzz_jwt/admin.jwt
 *   ...
 *   1..N
 *
 * A target signals a failed property by abort(); the sanitizers report
 * memory errors and leaks the same way. Either ends the process before
 * the plan line, which a TAP harness reports as a failure; the input that
 * was running is named on stderr ("# crashed on: PATH") from a SIGABRT
 * handler and the sanitizers' death callback. An unreadable file is
 * "not ok".
 * Built with -fsanitize=address,undefined but without -fsanitize=fuzzer.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int ntests, nfailed;
static const char *current;         /* the input being run, for crash reports */

static void say_current(void)
{
    static const char pre[] = "# crashed on: ";

    if (!current)
        return;
    (void)!write(2, pre, sizeof(pre) - 1);
    (void)!write(2, current, strlen(current));
    (void)!write(2, "\n", 1);
    current = NULL;                 /* once, though both hooks may fire */
}

static void on_abort(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Read all of path into a malloc'd buffer (exactly size bytes, so ASan
 * catches a read past the end); *size gets the length. NULL on error. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(n ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *size = (size_t)n;
    }
    fclose(f);
    return buf;
}

static void run_one(const char *path)
{
    size_t size = 0;
    uint8_t *data = read_file(path, &size);

    ntests++;
    if (!data) {
        nfailed++;
        printf("not ok %d - %s (cannot read)\n", ntests, path);
        return;
    }
    fflush(stdout);
    current = path;
    LLVMFuzzerTestOneInput(data, size);
    current = NULL;
    free(data);
    printf("ok %d - %s\n", ntests, path);
    fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if (!d) {
        ntests++;
        nfailed++;
        printf("not ok %d - %s (cannot open)\n", ntests, dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len;
        char *p;
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        len = strlen(dir) + strlen(e->d_name) + 2;
        p = malloc(len);
        if (!p)
            break;
        snprintf(p, len, "%s/%s", dir, e->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
            if (!nn) {
                free(p);
                break;
            }
            names = nn;
        }
        names[n++] = p;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        run_one(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    signal(SIGABRT, on_abort);
    __sanitizer_set_death_callback(say_current);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            run_dir(argv[i]);
        else
            run_one(argv[i]);
    }
    printf("1..%d\n", ntests);
    return nfailed ? 1 : 0;
}
