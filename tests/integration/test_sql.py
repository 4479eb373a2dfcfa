"""The named statement table (sql/queries/*.sql → fcgi/store/sql.h): every statement
the daemon can send parses and plans against the migrated schema of this
stack's dialect, with the parameter count the table records, and the
table is exactly what the files define (no statement is lost or doubled by
the generator). PREPARE checks text, names, types and parameters without
running anything."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import glob
import json
import re
import subprocess

import psycopg2

dialect = os.environ.get("ZS_DIALECT", "postgres")
table = json.loads(subprocess.run([ZS_BIN, "sql"], check=True, capture_output=True,
                                  text=True).stdout)

# The files, read independently of the generator: every "-- name:" once per name.
names_in_files = []
for path in sorted(glob.glob(os.path.join(REPO, "sql", "queries", "*.sql"))):
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^--\s*name:\s*(\S+)\s*$", line)
            if m and m.group(1) not in names_in_files:
                names_in_files.append(m.group(1))
is_([s["name"] for s in table], names_in_files,
    "the table holds every named statement of sql/queries/, in file order, once")

# The control: PREPARE refuses a statement that does not parse, so a pass
# below means something.
conn = db()
conn.autocommit = True
cur = conn.cursor()
try:
    cur.execute("PREPARE zs_bad AS SELECT no_such_column FROM accounts")
    ok(False, "control: PREPARE refuses an unknown column")
except psycopg2.Error as e:
    is_(e.pgcode, "42703", "control: PREPARE refuses an unknown column")

tx_control = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SET LOCAL)\b")
for s in table:
    text = s[dialect]
    if tx_control.match(text):
        # transaction control and SET cannot be PREPAREd; each runs as itself
        # (SET LOCAL inside a transaction of its own)
        try:
            if text.startswith("SET LOCAL"):
                cur.execute("BEGIN")
            cur.execute(text)
            if not text.startswith(("COMMIT", "ROLLBACK")):
                cur.execute("ROLLBACK")
            ok(True, f"{s['name']}: runs")
        except psycopg2.Error as e:
            ok(False, f"{s['name']}: runs", str(e))
        continue
    if text == "SET TRANSACTION SNAPSHOT":
        # the full pass appends the id pg_export_snapshot() gave its first
        # connection (postgres only): adopt one exported here
        if dialect != "postgres":
            ok(True, f"{s['name']}: postgres only")
            continue
        other = db()
        try:
            oc = other.cursor()
            oc.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            oc.execute("SELECT pg_export_snapshot()")
            sid = oc.fetchone()[0]
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute(f"{text} '{sid}'")
            cur.execute("ROLLBACK")
            ok(True, f"{s['name']}: adopts an exported snapshot")
        except psycopg2.Error as e:
            cur.execute("ROLLBACK")
            ok(False, f"{s['name']}: adopts an exported snapshot", str(e))
        finally:
            other.close()
        continue
    copy = re.match(r"^COPY \((.*)\) TO STDOUT(?: \(FORMAT binary\))?$", text, re.S)
    if copy:
        # COPY cannot be PREPAREd: its query can (the full pass's streams,
        # text or binary)
        text = copy.group(1)
    try:
        cur.execute(f"PREPARE zs_check AS {text}")
        cur.execute("SELECT cardinality(parameter_types) FROM pg_prepared_statements"
                    " WHERE name = 'zs_check'")
        is_(cur.fetchone()[0], s["nparams"], f"{s['name']}: prepares on {dialect} with "
            f"{s['nparams']} parameter(s)")
    except psycopg2.Error as e:
        ok(False, f"{s['name']}: prepares on {dialect}", f"{e.pgcode}: {e}")
    finally:
        try:
            cur.execute("DEALLOCATE zs_check")
        except psycopg2.Error:
            pass
conn.close()

# sql-explain, the reviewer's tool, explains and times a statement by name,
# with parameters, and refuses a name that is not in the table.
issuer = ISSUER
cli = [os.path.join(REPO, "scripts", "zerosum"), "sql-explain"]
env = dict(os.environ, ZS_BIN=ZS_BIN)
out = subprocess.run(cli + ["ledger_lock_account", "--analyze", issuer], capture_output=True,
                     text=True, env=env)
ok(out.returncode == 0 and "LockRows" in out.stdout and "actual time" in out.stdout,
   "sql-explain --analyze ledger_lock_account: its plan, run and timed",
   out.stdout + out.stderr)
out = subprocess.run(cli + ["no_such_statement"], capture_output=True, text=True, env=env)
ok(out.returncode != 0 and "no statement named" in out.stderr,
   "sql-explain refuses an unknown name", out.stderr)

# The generator refuses malformed files, naming the file and line.
import tempfile
gen = os.path.join(REPO, "scripts", "gen-sql")
bad_cases = {
    "skipped parameter": "-- name: a\nSELECT $2;\n",
    "two statements in one block": "-- name: a\nSELECT 1; SELECT 2;\n",
    "a name defined twice": "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n",
    "one dialect only": "-- name: a\n-- dialect: dsql\nSELECT 1;\n",
    "dialects with different parameters":
        "-- name: a\n-- dialect: postgres\nSELECT $1;\n-- name: a\n-- dialect: dsql\nSELECT 1;\n",
    "text before the first name": "SELECT 1;\n",
    "an unknown fragment": "-- name: a\nSELECT {{cols}} FROM t;\n",
    "a fragment naming a fragment": "-- fragment: x\n{{y}}\n-- fragment: y\n1\n-- name: a\nSELECT {{x}};\n",
    "a fragment defined twice": "-- fragment: x\n1\n-- fragment: x\n2\n-- name: a\nSELECT {{x}};\n",
    "a fragment with a dialect": "-- fragment: x\n-- dialect: dsql\n1\n-- name: a\nSELECT {{x}};\n",
}
with tempfile.TemporaryDirectory() as tmp:
    for what, text in bad_cases.items():
        path = os.path.join(tmp, "bad.sql")
        with open(path, "w") as f:
            f.write(text)
        out = subprocess.run([gen, os.path.join(tmp, "out"), path], capture_output=True, text=True)
        ok(out.returncode == 1 and "bad.sql:" in out.stderr, f"gen-sql refuses {what}", out.stderr)
    good = os.path.join(tmp, "good.sql")
    with open(good, "w") as f:
        f.write("-- name: a\n-- dialect: postgres\nSELECT $1::int;\n"
                "-- name: a\n-- dialect: dsql\nSELECT $1::bigint;\n")
    out = subprocess.run([gen, os.path.join(tmp, "out"), good], capture_output=True, text=True)
    c = open(os.path.join(tmp, "out", "sql_table.c")).read() if out.returncode == 0 else ""
    ok('"SELECT $1::int"' in c and '"SELECT $1::bigint"' in c,
       "gen-sql keeps both dialects' texts of one name", out.stderr + c)
    with open(good, "w") as f:
        f.write("-- name: a\nSELECT {{cols}} FROM t WHERE id = $1;\n"
                "-- fragment: cols\n-- a select list written once\nx, y\n")
    out = subprocess.run([gen, os.path.join(tmp, "out"), good], capture_output=True, text=True)
    c = open(os.path.join(tmp, "out", "sql_table.c")).read() if out.returncode == 0 else ""
    ok('"SELECT x, y FROM t WHERE id = $1"' in c and '"cols"' not in c and "SQL_COLS" not in c,
       "gen-sql pastes a fragment into the statements naming it (and makes no statement of it)",
       out.stderr + c)
done()
