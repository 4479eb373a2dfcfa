/*
 * vrun.c — one verification run (see vrun.h): the checkpoint and its
 * signature, the key pinned on first use, consistency with the pinned and
 * the --since checkpoints, inclusion of the asked-for records, the replay,
 * then the pin advanced and the verdict printed.
 */
#include "verify/vrun_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "merkle.h"
#include "note.h"
#include "verify/vrecord.h"
#include "verify/vreplay.h"

long vrun_read_file(const char *path, char **buf)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0, r;
    char *b = malloc(cap + 1);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b)
        return -1;
    b[n] = 0;
    *buf = b;
    return (long)n;
}

/* (see vrun_int.h) */
int vrun_write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    return bad || rename(tmp, path) < 0 ? -1 : 0;
}

/* mkdir -p with mode 0700: 0, or -1. */
int vrun_make_dirs(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* The default state directory: $HOME/.zerosum-verify/<origin, %-escaped>. */
static void default_dir(const char *origin, char *out, size_t outlen)
{
    const char *home = getenv("HOME");
    int n = snprintf(out, outlen, "%s/.zerosum-verify/", home && *home ? home : ".");
    for (const char *p = origin; *p && n > 0 && (size_t)n + 4 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
            || c == '-' || c == '_')
            out[n++] = (char)c;
        else
            n += snprintf(out + n, outlen - (size_t)n, "%%%02X", c);
    }
    out[n] = 0;
}

/* A public key from vkey text or PEM text, named origin when PEM. */
static struct note_key *key_from_text(const char *origin, const char *text, size_t len, char *err,
                                      size_t errlen)
{
    if (strstr(text, "-----BEGIN"))
        return note_key_from_public_pem(origin, text, len, err, errlen);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    char *v = strndup(text, len);
    struct note_key *k = v ? note_key_from_vkey(v, err, errlen) : NULL;
    free(v);
    return k;
}

/* The key from --key (a file's contents or the text itself), the pin, or first use. */
static int load_key(struct run *r)
{
    char err[200] = "", path[PATH_MAX + 8], *text = NULL, *pinned = NULL;
    snprintf(path, sizeof path, "%s/key", r->dir);
    long plen = r->o->no_pin ? -1 : vrun_read_file(path, &pinned);
    const char *how;
    if (r->o->key) {
        long n = vrun_read_file(r->o->key, &text);
        r->key = n >= 0
            ? key_from_text(r->cp.origin, text, (size_t)n, err, sizeof err)
            : key_from_text(r->cp.origin, r->o->key, strlen(r->o->key), err, sizeof err);
        how = "given with --key";
    } else if (plen >= 0) {
        r->key = key_from_text(r->cp.origin, pinned, (size_t)plen, err, sizeof err);
        how = "pinned";
    } else if (vsource_vkey(r->src, &text, err, sizeof err) == 0) {
        r->key = key_from_text(r->cp.origin, text, strlen(text), err, sizeof err);
        how = "served by the log, pinned on first use";
    } else {
        how = "";
    }
    free(text);
    if (r->key)
        r->vkey = note_vkey(r->key);
    int ok = r->key && r->vkey;
    if (ok && plen >= 0) {
        size_t n = (size_t)plen;
        while (n > 0 && (pinned[n - 1] == '\n' || pinned[n - 1] == ' '))
            n--;
        r->key_pinned = 1;
        if (r->o->key && (strlen(r->vkey) != n || memcmp(r->vkey, pinned, n) != 0)) {
            vcheck_add(&r->checks, "key", 0, "the key given differs from the one pinned in %s",
                       path);
            free(pinned);
            return -1;
        }
    }
    free(pinned);
    if (!ok)
        vcheck_add(&r->checks, "key", 0, "no usable key: %s", err);
    else
        vcheck_add(&r->checks, "key", 1, "%s (%s): %s", how, r->key_pinned ? path : "new", r->vkey);
    return ok ? 0 : -1;
}

/* Verify a signed note by the run's key and parse its checkpoint: 0, or -1 with why. */
int vrun_signed_checkpoint(struct run *r, const char *note, size_t len, struct checkpoint *cp,
                           const char **why)
{
    size_t body = 0;
    if (!note_verify(r->key, note, len, &body)) {
        *why = "its signature by the key does not verify (or the note is malformed)";
        return -1;
    }
    if (note_checkpoint_parse(note, body, cp) < 0) {
        *why = "its body is not a checkpoint";
        return -1;
    }
    return 0;
}

/* Fetch the checkpoint, find its origin, the state dir and the key, verify the signature. */
int vrun_checkpoint_and_key(struct run *r)
{
    char err[200];
    if (vsource_checkpoint(r->src, r->o->size, &r->note, &r->note_len, err, sizeof err) < 0) {
        vcheck_add(&r->checks, "checkpoint", 0, "%s", err);
        return -1;
    }
    const char *sep = strstr(r->note, "\n\n");
    if (!sep || note_checkpoint_parse(r->note, (size_t)(sep - r->note) + 1, &r->cp) < 0) {
        vcheck_add(&r->checks, "checkpoint", 0, "not a signed checkpoint note");
        return -1;
    }
    if (r->o->size && r->cp.size != r->o->size) {
        vcheck_add(&r->checks, "checkpoint", 0,
                   "the checkpoint has size %llu, not the %llu asked for",
                   (unsigned long long)r->cp.size, r->o->size);
        return -1;
    }
    vcheck_add(&r->checks, "checkpoint", 1, "origin %s, size %llu", r->cp.origin,
               (unsigned long long)r->cp.size);
    if (r->o->state_dir)
        snprintf(r->dir, sizeof r->dir, "%s", r->o->state_dir);
    else
        default_dir(r->cp.origin, r->dir, sizeof r->dir);
    if (load_key(r) < 0)
        return -1;
    const char *why;
    struct checkpoint cp;
    if (vrun_signed_checkpoint(r, r->note, r->note_len, &cp, &why) < 0) {
        vcheck_add(&r->checks, "signature", 0, "the checkpoint: %s", why);
        return -1;
    }
    r->cp = cp;
    char root[65];
    merkle_hex(cp.root, root);
    vcheck_add(&r->checks, "signature", 1, "signed by %s: size %llu, root %s",
               note_key_name(r->key), (unsigned long long)cp.size, root);
    return 0;
}

/* Load a saved checkpoint (the pin, or --since): 1 loaded, 0 none, -1 failed (check added). */
int vrun_load_saved(struct run *r, const char *name, const char *path, struct checkpoint *out)
{
    char *text = NULL;
    long n = vrun_read_file(path, &text);
    if (n < 0) {
        if (strcmp(name, "pin") == 0)
            return 0;
        vcheck_add(&r->checks, name, 0, "cannot read %s", path);
        return -1;
    }
    const char *why;
    int rc = vrun_signed_checkpoint(r, text, (size_t)n, out, &why);
    free(text);
    if (rc < 0) {
        vcheck_add(&r->checks, name, 0, "the checkpoint in %s: %s", path, why);
        return -1;
    }
    return 1;
}

/* Read the path array of a proof into path (at most MERKLE_MAX_PATH): its length, or -1. */
int vrun_proof_path(json_object *proof, unsigned char path[][32])
{
    json_object *arr;
    if (!json_object_object_get_ex(proof, "path", &arr)
        || !json_object_is_type(arr, json_type_array)
        || json_object_array_length(arr) > MERKLE_MAX_PATH)
        return -1;
    int n = (int)json_object_array_length(arr);
    for (int i = 0; i < n; i++) {
        json_object *h = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(h, json_type_string)
            || merkle_unhex(json_object_get_string(h), (size_t)json_object_get_string_len(h),
                            path[i])
                < 0)
            return -1;
    }
    return n;
}
