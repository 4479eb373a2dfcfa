/*
 * pgresult.h — candidate results for the sealer's unit tests, built without
 * a server (libpq's PQmakeEmptyPGresult / PQsetvalue).
 */
#ifndef ZS_TEST_PGRESULT_H
#define ZS_TEST_PGRESULT_H

#include <string.h>

#include <libpq-fe.h>

/* A result of ncols unnamed text columns and nrows rows v[row][col] (NULL: SQL NULL). */
static PGresult *table(int ncols, int nrows, const char *const *v)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[32];

    memset(att, 0, sizeof(att));
    for (int i = 0; i < ncols; i++) {
        att[i].name = (char *)"c";
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    if (!res || !PQsetResultAttrs(res, ncols, att))
        return res;
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            const char *x = v[r * ncols + c];
            PQsetvalue(res, r, c, (char *)(x ? x : ""), x ? (int)strlen(x) : -1);
        }
    return res;
}

#endif
