/*
 * cli_sql.c — `zerosum sql`: the named statement table, for people and tools.
 *
 *   zerosum sql                       every statement as one JSON array of
 *                                     {"name","file","nparams","postgres","dsql"}
 *   zerosum sql NAME [--dialect D]    the text of one statement (D: postgres|dsql)
 *
 * scripts/zerosum sql-explain and the statement test build on it.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "store/sql.h"

static int dump_all(void)
{
    struct json_object *a = json_object_new_array();

    for (int i = 0; i < SQL__COUNT; i++) {
        struct json_object *o = json_object_new_object();
        const struct sql_def *s = &sql_table[i];

        json_object_object_add(o, "name", json_object_new_string(s->name));
        json_object_object_add(o, "file", json_object_new_string(s->file));
        json_object_object_add(o, "nparams", json_object_new_int(s->nparams));
        json_object_object_add(o, "postgres", json_object_new_string(s->text));
        json_object_object_add(o, "dsql", json_object_new_string(s->dsql ? s->dsql : s->text));
        json_object_array_add(a, o);
    }
    puts(json_object_to_json_string_ext(a,
                                        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(a);
    return 0;
}

int cli_sql(int argc, char **argv)
{
    enum zs_dialect d = ZS_DIALECT_POSTGRES;
    int id;

    if (argc == 1)
        return dump_all();
    if (argc == 4 && strcmp(argv[2], "--dialect") == 0) {
        if (strcmp(argv[3], "dsql") == 0)
            d = ZS_DIALECT_DSQL;
        else if (strcmp(argv[3], "postgres") != 0)
            argc = 0;
    }
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: zerosum sql [NAME [--dialect postgres|dsql]]\n");
        return 2;
    }
    id = sql_lookup(argv[1]);
    if (id < 0) {
        fprintf(stderr, "zerosum: no statement named \"%s\" (zerosum sql lists them)\n", argv[1]);
        return 1;
    }
    puts(sql_text((enum sql_id)id, d));
    return 0;
}
