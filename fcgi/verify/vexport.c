/*
 * vexport.c — the proof bundle of a URL, streamed to stdout (see vexport.h).
 */
#include "verify/vexport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "verify/vsource.h"

/* Print a JSON string value of text (json-c escaping). */
static void put_string(const char *text, size_t len)
{
    json_object *s = json_object_new_string_len(text, (int)len);
    fputs(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN), stdout);
    json_object_put(s);
}

/* vsource_records callback: one {"index","record"} element. */
static int put_record(void *ctx, uint64_t index, const char *text, size_t len)
{
    printf("%s{\"index\":%llu,\"record\":", index ? ",\n" : "", (unsigned long long)index);
    put_string(text, len);
    putchar('}');
    return 0;
}

/* The size of the checkpoint note in file path (unverified), or 0. */
static uint64_t saved_size(const char *path)
{
    char *text = NULL;
    struct checkpoint cp;
    long n = vrun_read_file(path, &text);
    const char *sep = n > 0 ? strstr(text, "\n\n") : NULL;
    uint64_t size =
        sep && note_checkpoint_parse(text, (size_t)(sep - text) + 1, &cp) == 0 ? cp.size : 0;
    free(text);
    return size;
}

/* The proofs asked for, as the "inclusions" and "consistency" members. */
static int put_proofs(struct vsource *src, const struct vrun_opts *o, uint64_t size)
{
    char err[300];
    printf("],\n\"inclusions\":[");
    for (int i = 0; i < o->n_items; i++) {
        json_object *p =
            vsource_inclusion(src, o->item_kind[i], o->item_id[i], size, err, sizeof err);
        if (!p) {
            fprintf(stderr, "zerosum-verify: %s\n", err);
            return -1;
        }
        json_object *e = json_object_new_object();
        json_object_object_add(e, "kind", json_object_new_string(o->item_kind[i]));
        json_object_object_add(e, "id", json_object_new_string(o->item_id[i]));
        json_object_object_add(e, "proof", p);
        printf("%s%s", i ? ",\n" : "", json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
        json_object_put(e);
    }
    printf("],\n\"consistency\":[");
    uint64_t from = o->since ? saved_size(o->since) : 0;
    if (o->since && from == 0) {
        fprintf(stderr, "zerosum-verify: %s holds no checkpoint\n", o->since);
        return -1;
    }
    if (from > 0 && from < size) {
        json_object *p = vsource_consistency(src, from, size, err, sizeof err);
        if (!p) {
            fprintf(stderr, "zerosum-verify: %s\n", err);
            return -1;
        }
        fputs(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN), stdout);
        json_object_put(p);
    }
    printf("]}\n");
    return 0;
}

int vexport(const char *url, const struct vrun_opts *o)
{
    struct vsource src = { .url = url };
    char err[300], *note = NULL;
    size_t len;
    struct checkpoint cp;
    json_object *key = vsource_get_json(url, "/proof/key", err, sizeof err);
    if (!key || vsource_checkpoint(&src, 0, &note, &len, err, sizeof err) < 0) {
        fprintf(stderr, "zerosum-verify: %s\n", err);
        json_object_put(key);
        return 1;
    }
    const char *sep = strstr(note, "\n\n");
    if (!sep || note_checkpoint_parse(note, (size_t)(sep - note) + 1, &cp) < 0) {
        fprintf(stderr, "zerosum-verify: the checkpoint served is malformed\n");
        json_object_put(key);
        free(note);
        return 1;
    }
    printf("{\"format\":\"zerosum-proof-bundle/v1\",\n\"url\":");
    put_string(url, strlen(url));
    printf(",\n\"key\":%s,\n\"checkpoint\":",
           json_object_to_json_string_ext(key, JSON_C_TO_STRING_PLAIN));
    put_string(note, len);
    printf(",\n\"records\":[");
    int rc = vsource_records(&src, cp.size, put_record, NULL, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "zerosum-verify: %s\n", err);
    else
        rc = put_proofs(&src, o, cp.size);
    fflush(stdout);
    json_object_put(key);
    free(note);
    return rc == 0 ? 0 : 1;
}
