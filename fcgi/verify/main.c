/*
 * main.c — zerosum-verify: check a zerosum log from its URL or from a bundle
 * file, or write such a bundle (export-proof). docs/VERIFY.md is its manual.
 *
 *   zerosum-verify [--url] URL | --bundle FILE  [--key VKEY|FILE] [--state DIR]
 *                  [--no-pin] [--since FILE] [--replay] [--size N] [--transfer ID]...
 *                  [--bid ID]... [--fill ID]... [--cacert FILE]
 *   zerosum-verify export-proof --url URL [--transfer ID]... [--bid ID]...
 *                  [--fill ID]... [--since FILE] [--cacert FILE]  > bundle.json
 *
 * Exit 0 when everything verifies, 1 otherwise; the last stdout line of a
 * verification is its JSON verdict.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/vexport.h"
#include "verify/vhttp.h"
#include "verify/vrun.h"

/* Print the usage to stderr and return the exit status 1. */
static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "zerosum-verify: %s\n", msg);
    fprintf(stderr,
            "usage: zerosum-verify [--url] URL | --bundle FILE [--key VKEY|FILE] [--state DIR]\n"
            "                      [--no-pin] [--since FILE] [--replay] [--size N]\n"
            "                      [--transfer ID]...\n"
            "                      [--bid ID]... [--fill ID]... [--cacert FILE]\n"
            "       zerosum-verify export-proof --url URL [--transfer ID]... [--bid ID]...\n"
            "                      [--fill ID]... [--since FILE] [--cacert FILE]\n");
    return 1;
}

/* Options shared by both modes. */
struct cli {
    const char *url, *bundle;
    struct vrun_opts run;
};

/* Parse argv into c: 0, or -1 with a message printed. */
static int parse(int argc, char **argv, int first, struct cli *c)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int item = !strcmp(a, "--transfer") || !strcmp(a, "--bid") || !strcmp(a, "--fill");
        if (!strcmp(a, "--replay"))
            c->run.replay = 1;
        else if (!strcmp(a, "--no-pin"))
            c->run.no_pin = 1;
        else if (a[0] != '-' && !c->url)
            c->url = a;
        else if (!v)
            return usage("an option lacks its value"), -1;
        else if (item) {
            if (c->run.n_items == VRUN_MAX_ITEMS)
                return usage("too many records asked for"), -1;
            c->run.item_kind[c->run.n_items] = a + 2;
            c->run.item_id[c->run.n_items++] = v;
            i++;
        } else if (!strcmp(a, "--url"))
            c->url = v, i++;
        else if (!strcmp(a, "--bundle"))
            c->bundle = v, i++;
        else if (!strcmp(a, "--key"))
            c->run.key = v, i++;
        else if (!strcmp(a, "--state"))
            c->run.state_dir = v, i++;
        else if (!strcmp(a, "--since"))
            c->run.since = v, i++;
        else if (!strcmp(a, "--size")) {
            char *end;
            errno = 0;
            c->run.size = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] < '1' || v[0] > '9')
                return usage("--size needs a tree size (a positive integer)"), -1;
            i++;
        } else if (!strcmp(a, "--cacert"))
            vhttp_set_cafile(v), i++;
        else
            return usage("unknown option"), -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli c = { 0 };
    int export = argc > 1 && strcmp(argv[1], "export-proof") == 0;
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return usage(NULL), 0;
    if (parse(argc, argv, export ? 2 : 1, &c) < 0)
        return 1;
    if (export)
        return c.url && !c.bundle ? vexport(c.url, &c.run) : usage("export-proof needs --url");
    if (!c.url == !c.bundle)
        return usage("give a URL or --bundle FILE (one of them)");
    struct vsource src = { .url = c.url };
    char err[300];
    if (c.bundle && vsource_open_bundle(&src, c.bundle, err, sizeof err) < 0) {
        struct vcheck_list l = { 0 };
        vcheck_add(&l, "bundle", 0, "%s", err);
        vcheck_print(&l, NULL, 0, 0, stdout);
        vcheck_free(&l);
        return 1;
    }
    int status = vrun(&src, &c.run);
    vsource_close(&src);
    return status;
}
