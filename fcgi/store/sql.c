/*
 * sql.c — lookups in the generated named statement table (see sql.h).
 */
#include "store/sql.h"

#include <string.h>

const char *sql_text(enum sql_id id, enum zs_dialect d)
{
    const struct sql_def *s;

    if ((unsigned)id >= SQL__COUNT)
        return NULL;
    s = &sql_table[id];
    return d == ZS_DIALECT_DSQL && s->dsql ? s->dsql : s->text;
}

const char *sql_name(enum sql_id id)
{
    return (unsigned)id < SQL__COUNT ? sql_table[id].name : "?";
}

int sql_lookup(const char *name)
{
    for (int i = 0; i < SQL__COUNT; i++)
        if (strcmp(sql_table[i].name, name) == 0)
            return i;
    return -1;
}
