/*
 * vcheck.c — named checks and the JSON verdict (see vcheck.h).
 */
#include "vcheck.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

void vcheck_add(struct vcheck_list *l, const char *name, int ok, const char *fmt, ...)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        struct vcheck *items = realloc(l->items, sizeof *items * (size_t)cap);
        if (!items)
            abort();
        l->items = items;
        l->cap = cap;
    }
    struct vcheck *c = &l->items[l->n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->ok = ok ? 1 : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
}

int vcheck_all_ok(const struct vcheck_list *l)
{
    if (l->n == 0)
        return 0;
    for (int i = 0; i < l->n; i++)
        if (!l->items[i].ok)
            return 0;
    return 1;
}

int vcheck_failed(const struct vcheck_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!l->items[i].ok && strcmp(l->items[i].name, name) == 0)
            return 1;
    return 0;
}

void vcheck_print(const struct vcheck_list *l, const char *origin, int have_size, uint64_t size,
                  FILE *out)
{
    json_object *v = json_object_new_object(), *checks = json_object_new_array();
    json_object *failed = json_object_new_array(), *cp = json_object_new_object();
    for (int i = 0; i < l->n; i++) {
        const struct vcheck *c = &l->items[i];
        fprintf(out, "%s %s: %s\n", c->ok ? "ok  " : "FAIL", c->name, c->detail);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "ok", json_object_new_boolean(c->ok));
        json_object_object_add(o, "detail", json_object_new_string(c->detail));
        json_object_array_add(checks, o);
        if (!c->ok)
            json_object_array_add(failed, json_object_new_string(c->name));
    }
    json_object_object_add(cp, "origin", origin ? json_object_new_string(origin) : NULL);
    json_object_object_add(cp, "size", have_size ? json_object_new_int64((int64_t)size) : NULL);
    json_object_object_add(v, "ok", json_object_new_boolean(vcheck_all_ok(l)));
    json_object_object_add(v, "checkpoint", cp);
    json_object_object_add(v, "checks", checks);
    json_object_object_add(v, "failed", failed);
    fprintf(
        out, "%s\n",
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(out);
    json_object_put(v);
}

void vcheck_free(struct vcheck_list *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}
