/*
 * sweep.c — the jobs child's sweeps over due rows (see tx_sweep in db.h):
 * the list in one read-only transaction, then a transaction per row, so a
 * row closed meanwhile is skipped by its own transaction's check.
 */
#include <string.h>

#include "log.h"
#include "store/db.h"

#define SWEEP_MAX 64

struct sweep_list {
    enum sql_id stmt;
    int limit, n;
    char ids[SWEEP_MAX][UUID_STR_LEN + 1];
};

static enum tx_decision list_tx(struct tx *tx, void *arg)
{
    struct sweep_list *l = arg;

    l->n = tx_exec_ids(tx, l->stmt, l->limit, l->ids, SWEEP_MAX);
    return l->n < 0 ? TX_ERROR : TX_COMMIT;
}

int tx_sweep(struct db_session *s, enum sql_id list, int limit, tx_fn one, void *ctx,
             const char *what)
{
    struct sweep_list l;
    enum tx_decision dec;
    int acted = 0;

    memset(&l, 0, sizeof(l));
    l.stmt = list;
    l.limit = limit > SWEEP_MAX ? SWEEP_MAX : limit;
    if (tx_run(s, TX_READ_ONLY, list_tx, &l, &dec) != TX_RESULT_DONE)
        return -1;
    for (int i = 0; i < l.n; i++) {
        struct tx_sweep_row row = { l.ids[i], ctx, 0 };

        if (tx_run(s, 0, one, &row, &dec) != TX_RESULT_DONE)
            return -1;
        if (row.acted) {
            log_info("%s %s", what, l.ids[i]);
            acted++;
        }
    }
    return acted;
}
