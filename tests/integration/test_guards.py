"""The PostgreSQL guards (sql/postgres-guards.sql, sql/grants.sql): even the
owner role cannot commit an unbalanced transfer or rewrite history, and the
application role has no UPDATE or DELETE on the ledger at all.

Each refusal is paired with a control that the same kind of statement
succeeds when it is legitimate, so a refusal caused by a typo in the test
cannot pass for a guard."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import uuid

import psycopg2


def in_tx(statements, user="zerosum"):
    """Run statements in one transaction and COMMIT. Returns None, or the
    psycopg2 error (with .pgcode) that refused them; always rolls back on error."""
    conn = db(user)
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
        conn.commit()
        return None
    except psycopg2.Error as e:
        conn.rollback()
        return e
    finally:
        conn.close()


def refused(err, pgcode, words, name):
    msg = (getattr(err, "pgerror", None) or str(err or "")).strip()
    return ok(err is not None and err.pgcode == pgcode and all(w in msg for w in words), name,
              f"got: {getattr(err, 'pgcode', None)} {msg!r}\nexpected: {pgcode} containing {words}")


a, _ = create_account("guard-a", 1000)
b, _ = create_account("guard-b", 1000)
some_transfer, some_entry = query(
    "SELECT transfer_id::text, id::text FROM entries WHERE account_id = %s LIMIT 1", (a,))[0]


def new_transfer(tid, amount=5):
    return ("INSERT INTO transfers (id, from_account, to_account, amount, kind, caller)"
            " VALUES (%s, %s, %s, %s, 'transfer', 'test:guards')", (tid, a, b, amount))


def entry(tid, account, amount):
    """One entry, with the account's next seq and the running balance after it (as the
    server writes them: running_balances_match holds for what the guards accept)."""
    return ("INSERT INTO entries (transfer_id, account_id, amount, seq, balance_after)"
            " SELECT %s, %s, %s, coalesce(max(seq), 0) + 1, coalesce((SELECT l.balance_after FROM entries l"
            " WHERE l.account_id = %s ORDER BY l.seq DESC LIMIT 1), 0) + %s FROM entries WHERE account_id = %s",
            (tid, account, amount, account, amount, account))


def moves(amount):
    """Balance updates that keep accounts equal to their entries."""
    return [("UPDATE accounts SET balance = balance - %s WHERE id = %s", (amount, a)),
            ("UPDATE accounts SET balance = balance + %s WHERE id = %s", (amount, b))]


# ---- the balanced-transfer constraint trigger (deferred, at COMMIT) --------

fp = ledger_fingerprint()
tid = str(uuid.uuid4())
err = in_tx([new_transfer(tid), entry(tid, a, -5)])
refused(err, "23514", ["unbalanced"], "owner: a transfer with one entry is refused at commit")
is_(query("SELECT count(*) FROM transfers WHERE id = %s", (tid,))[0][0], 0,
    "one entry: the transfer row is not there")

# refused at COMMIT, not at the INSERT: the statements themselves succeed
conn = db()
conn.autocommit = False
tid = str(uuid.uuid4())
with conn.cursor() as cur:
    cur.execute(*new_transfer(tid))
    cur.execute(*entry(tid, a, -5))
    cur.execute("SELECT count(*) FROM entries WHERE transfer_id = %s", (tid,))
    inside = cur.fetchone()[0]
try:
    conn.commit()
    commit_err = None
except psycopg2.Error as e:
    commit_err = e
    conn.rollback()
conn.close()
ok(inside == 1 and commit_err is not None and commit_err.pgcode == "23514",
   "one entry: the INSERTs succeed and the COMMIT is what fails (deferred trigger)",
   (inside, commit_err))

tid = str(uuid.uuid4())
err = in_tx([new_transfer(tid), entry(tid, a, -5), entry(tid, b, 4)])
refused(err, "23514", ["unbalanced"], "owner: two entries summing to -1 are refused")
tid = str(uuid.uuid4())
err = in_tx([new_transfer(tid)])
refused(err, "23514", ["unbalanced"], "owner: a transfer with no entries is refused")
is_(ledger_fingerprint(), fp, "unbalanced transfers: nothing was written")
tid = str(uuid.uuid4())
err = in_tx([new_transfer(tid), entry(tid, a, -5), entry(tid, b, 5)] + moves(5))
ok(err is None, "setup for the next check: a balanced transfer commits", err)
err = in_tx([entry(tid, b, 3)])
refused(err, "23514", ["unbalanced"], "owner: adding a third entry to a committed transfer is refused")

# control: the same statements, balanced, commit (so the refusals above are the guard's)
bal = (balance(a)[0], balance(b)[0])
tid = str(uuid.uuid4())
err = in_tx([new_transfer(tid, 7), entry(tid, a, -7), entry(tid, b, 7)] + moves(7))
ok(err is None, "control: a balanced transfer with two entries commits", err)
is_((balance(a)[0], balance(b)[0]), (bal[0] - 7, bal[1] + 7), "control: balances moved by 7")

# entries added later to a committed transfer, in one statement, summing to
# zero but not its legs: refused (checked at once, not at commit)
tid2 = str(uuid.uuid4())
err = in_tx([new_transfer(tid2, 4), entry(tid2, a, -4), entry(tid2, b, 4)] + moves(4))
ok(err is None, "setup: another balanced transfer commits", err)
err = in_tx([("INSERT INTO entries (transfer_id, account_id, amount) VALUES (%s, %s, 3), (%s, %s, -3)",
              (tid2, a, tid2, b))])
refused(err, "23514", ["unbalanced"],
        "owner: a zero-sum pair of non-legs added to a committed transfer is refused")

# ---- the check fires once per transfer, not once per entry -----------------
# The server's own statement (ledger_move_record: the transfer and its two
# entries in one statement), three times in one transaction as the
# superuser with track_functions = 'pl'; SET CONSTRAINTS ALL IMMEDIATE runs
# the deferred checks before the count is read; then everything is rolled back.
move_sql = next(s["postgres"] for s in json.loads(
    subprocess.run([ZS_BIN, "sql"], capture_output=True, text=True, check=True).stdout)
    if s["name"] == "ledger_move_record")
conn = db("postgres")
conn.autocommit = False
with conn.cursor() as cur:
    cur.execute("SET track_functions = 'pl'")
    cur.execute("PREPARE zs_move AS " + move_sql)
    for _ in range(3):
        cur.execute("EXECUTE zs_move (%s, %s, %s, 1, 'transfer', 'test:guards', NULL, NULL)",
                    (str(uuid.uuid4()), a, b))
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cur.execute("SELECT funcname, calls FROM pg_stat_xact_user_functions"
                " WHERE funcname LIKE 'zerosum_check%' ORDER BY funcname")
    calls = dict(cur.fetchall())
conn.rollback()
conn.close()
diag(f"guard function calls for 3 transfers (6 entries): {calls}")
is_(calls.get("zerosum_check_transfer_balanced"), 3,
    "the deferred balanced-transfer check fires once per transfer (3 for 3 transfers, not 9)")
ok(calls.get("zerosum_check_entries_of_old_transfers", 0) <= 3,
   "the entries' check fires at most once per INSERT statement", calls)

# ---- the ledger is append-only, even for the owner -------------------------

fp = ledger_fingerprint()
err = in_tx([("UPDATE entries SET amount = amount * 2 WHERE id = %s", (some_entry,))])
refused(err, "42501", ["UPDATE", "append-only"], "owner: UPDATE of an entry is refused")
err = in_tx([("UPDATE entries SET account_id = %s WHERE id = %s", (b, some_entry))])
refused(err, "42501", ["UPDATE", "append-only"], "owner: moving an entry to another account is refused")
err = in_tx([("DELETE FROM entries WHERE id = %s", (some_entry,))])
refused(err, "42501", ["DELETE", "append-only"], "owner: DELETE of an entry is refused")
err = in_tx([("UPDATE transfers SET amount = amount + 1 WHERE id = %s", (some_transfer,))])
refused(err, "42501", ["UPDATE", "append-only"], "owner: UPDATE of a transfer is refused")
err = in_tx([("DELETE FROM transfers WHERE id = %s", (some_transfer,))])
refused(err, "42501", ["DELETE", "append-only"], "owner: DELETE of a transfer is refused")
err = in_tx([("TRUNCATE entries", None)])
refused(err, "42501", ["TRUNCATE"], "owner: TRUNCATE entries is refused")
err = in_tx([("TRUNCATE transfers CASCADE", None)])
refused(err, "42501", ["TRUNCATE"], "owner: TRUNCATE transfers is refused")
is_(ledger_fingerprint(), fp, "append-only: nothing changed")
# the credit limit history (migration 255): append-only (the sealer alone sets `sealed`)
lim_id = str(uuid.uuid4())
is_(in_tx([("INSERT INTO credit_limits (id, account_id, credit_limit) VALUES (%s, %s, 5)", (lim_id, a))]),
    None, "owner: a credit limit history row may be added")
err = in_tx([("UPDATE credit_limits SET credit_limit = 50 WHERE id = %s", (lim_id,))])
refused(err, "42501", ["UPDATE", "append-only"], "owner: UPDATE of a credit limit row is refused")
err = in_tx([("DELETE FROM credit_limits WHERE id = %s", (lim_id,))])
refused(err, "42501", ["DELETE", "append-only"], "owner: DELETE of a credit limit row is refused")
err = in_tx([("TRUNCATE credit_limits", None)])
refused(err, "42501", ["TRUNCATE"], "owner: TRUNCATE credit_limits is refused")
is_(query("SELECT amount FROM entries WHERE id = %s", (some_entry,)), [(1000,)],
    "append-only: the entry still says +1000")
fp = ledger_fingerprint()

# ---- account CHECKs --------------------------------------------------------

err = in_tx([("UPDATE accounts SET balance = -1 WHERE id = %s", (a,))])
refused(err, "23514", ["accounts_within_credit_limit"], "owner: a negative user balance is refused")
err = in_tx([("UPDATE accounts SET held = balance + 1 WHERE id = %s", (a,))])
refused(err, "23514", ["accounts_within_credit_limit"], "owner: held above balance is refused")
# credit limits (migration 096): balance - held >= -credit_limit, only user accounts have one
err = in_tx([("UPDATE accounts SET credit_limit = 10, balance = -11 WHERE id = %s", (a,))])
refused(err, "23514", ["accounts_within_credit_limit"], "owner: a balance past the credit limit is refused")
err = in_tx([("UPDATE accounts SET credit_limit = -1 WHERE id = %s", (a,))])
refused(err, "23514", ["accounts_credit_limit_valid"], "owner: a negative credit limit is refused")
err = in_tx([("UPDATE accounts SET credit_limit = 1 WHERE id = %s", (ISSUER,))])
refused(err, "23514", ["accounts_credit_limit_valid"], "owner: the issuer has no credit limit")
err = in_tx([("UPDATE accounts SET held = -1 WHERE id = %s", (a,))])
refused(err, "23514", ["held"], "owner: negative held is refused")
err = in_tx([("INSERT INTO accounts (id, name, kind) VALUES (%s, 'second issuer', 'issuer')",
              (str(uuid.uuid4()),))])
refused(err, "23505", ["accounts_one_issuer"], "owner: a second issuer is refused")
tid = str(uuid.uuid4())
err = in_tx([("INSERT INTO transfers (id, from_account, to_account, amount, kind, caller)"
              " VALUES (%s, %s, %s, 0, 'transfer', 't')", (tid, a, b)),
             entry(tid, a, 1), entry(tid, b, -1)])
refused(err, "23514", ["amount"], "owner: a transfer of amount 0 is refused")
tid = str(uuid.uuid4())
ghost = str(uuid.uuid4())
err = in_tx([("INSERT INTO transfers (id, from_account, to_account, amount, kind, caller)"
              " VALUES (%s, %s, %s, 5, 'transfer', 't')", (tid, a, ghost)),
             entry(tid, a, -5), entry(tid, ghost, 5)])
refused(err, "23503", ["foreign key"], "owner: a transfer to an account that does not exist is refused")
is_(ledger_fingerprint(), fp, "refused CHECKs: nothing changed")

# ---- the application role ------------------------------------------------

err = in_tx([("UPDATE entries SET amount = amount WHERE id = %s", (some_entry,))], user="zerosum_app")
refused(err, "42501", ["permission denied", "entries"], "zerosum_app: UPDATE entries is permission denied")
err = in_tx([("DELETE FROM entries WHERE id = %s", (some_entry,))], user="zerosum_app")
refused(err, "42501", ["permission denied", "entries"], "zerosum_app: DELETE FROM entries is permission denied")
err = in_tx([("UPDATE transfers SET memo = 'x' WHERE id = %s", (some_transfer,))], user="zerosum_app")
refused(err, "42501", ["permission denied", "transfers"], "zerosum_app: UPDATE transfers is permission denied")
err = in_tx([("DELETE FROM transfers WHERE id = %s", (some_transfer,))], user="zerosum_app")
refused(err, "42501", ["permission denied", "transfers"], "zerosum_app: DELETE FROM transfers is permission denied")
err = in_tx([("DELETE FROM accounts WHERE id = %s", (b,))], user="zerosum_app")
refused(err, "42501", ["permission denied", "accounts"], "zerosum_app: DELETE FROM accounts is permission denied")
err = in_tx([("ALTER TABLE entries DISABLE TRIGGER entries_immutable", None)], user="zerosum_app")
refused(err, "42501", ["owner"], "zerosum_app: cannot disable the immutability trigger")
rows = query("SELECT amount FROM entries WHERE id = %s", (some_entry,), user="zerosum_app")
is_(rows, [(1000,)], "control: zerosum_app can read entries (the connection and role work)")
is_(ledger_fingerprint(), fp, "zerosum_app refusals: nothing changed")

is_(ledger_invariants(), [], "ledger invariants hold at the end")
done()
