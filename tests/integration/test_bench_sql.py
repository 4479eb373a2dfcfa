import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib")); from zs import *
# test_bench_sql — the pgbench scripts bench/run measures PostgreSQL's ceiling
# with are generated (bench/sqlgen) from templates, bench/sql/*.pgb, that
# name the server's statements (sql/queries, the binary's table) instead of
# copying them. First a plain file check: every @name line names a statement
# that exists, with its number of arguments; generation is deterministic and
# expands each name to exactly the table's text; literal SQL in a template is
# either the benchmark's own (harness) or marked /* unnamed */, and is
# reported — an unnamed statement whose text a name now has fails (re-run the
# converter). Then the order check templates cannot make on their own: with
# statement logging on, one real transfer, one English bid that outbids a
# leader, one winning drop claim, a refused claim on a sold-out drop and one
# GET /proof go through the stack; their transactions are read back from
# PostgreSQL's log, each statement mapped to its name by its normalised text,
# and compared, name by name and in order, with the templates. Then each
# generated script runs under pgbench against this stack (a few
# transactions) and /proof must stay consistent: the scripts are runnable
# and write rows that keep every invariant.
import difflib
import filecmp
import re
import subprocess

from zerosum_py.bench import sqlgen  # noqa: E402

TEMPLATE_DIR = sqlgen.TEMPLATE_DIR
PG_LOG = os.path.join(ZS_VAR, "log", "postgresql.log")


if conf_value("dialect") == "dsql":
    print("1..0 # SKIP the bench scripts mirror the postgres dialect's statements")
    sys.exit(0)


def statement_logging(on):
    """log_statement = 'all' for every session, pooled ones included.

    ALTER ROLE ... SET would reach only sessions that start afterwards, and
    PgBouncer keeps its server connections; a configuration reload reaches
    the open ones at their next command."""
    if on:
        query("ALTER SYSTEM SET log_statement = 'all'", user="postgres")
    else:
        query("ALTER SYSTEM RESET log_statement", user="postgres")
    query("SELECT pg_reload_conf()", user="postgres")
    time.sleep(0.5)


def log_size():
    try:
        return os.path.getsize(PG_LOG)
    except OSError:
        return 0


def read_log(offset):
    with open(PG_LOG, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def tx_with_param(txs, needle):
    """The transaction one of whose statements was bound to the value needle."""
    for tx in txs:
        if any(f"'{needle}'" in e["params"] for e in tx):
            return tx
    return None


def tx_proof(txs):
    for tx in txs:
        if "READ ONLY" in tx[0]["sql"] and any("current_setting('server_version')" in e["sql"] for e in tx):
            return tx
    return None


def template_text(script):
    with open(os.path.join(TEMPLATE_DIR, script[:-len(".sql")] + sqlgen.TEMPLATE_EXT), encoding="utf-8") as f:
        return f.read()


def compare(script, tx, what):
    if tx is None:
        return ok(False, f"{script}: the server's {what} transaction is in the log",
                  f"no transaction for {what} found in {PG_LOG}")
    want = sqlgen.template_keys(template_text(script), TABLE)
    same, got = sqlgen.compare(sqlgen.log_keys(tx, TABLE), want)
    diff = "\n".join(difflib.unified_diff(got, want, "server (" + what + ")", script, lineterm="", n=1))
    return ok(same, f"{script}: the same {len(got)} statements, by name and in order, as the server's {what}",
              diff[:6000])


# ---- the templates, as files ----------------------------------------------

TABLE = sqlgen.load_table(ZS_BIN)
ok(len(TABLE) > 50 and "ledger_lock_account" in TABLE, f"{ZS_BIN} sql dumps the named statements",
   f"{len(TABLE)} statements")

gen_a = os.path.join(ZS_VAR, "bench-sql")
gen_b = os.path.join(ZS_VAR, "bench-sql-again")
generated = sqlgen.generate(ZS_BIN, gen_a)
again = sqlgen.generate(ZS_BIN, gen_b)
templates = sorted(os.path.basename(t) for t in sqlgen.templates())
is_(sorted(generated), [t[:-len(sqlgen.TEMPLATE_EXT)] + ".sql" for t in templates],
    "one generated script per template")
is_([n for n in sorted(generated) if not filecmp.cmp(generated[n], again[n], shallow=False)], [],
    "generation is deterministic: two runs write the same bytes")
SQL_DIR = gen_a

for t in templates:
    with open(os.path.join(TEMPLATE_DIR, t), encoding="utf-8") as f:
        text = f.read()
    errors, unnamed = sqlgen.check_template(text, TABLE)
    ok(not errors, f"{t}: every @name exists with its number of arguments; no unmarked literal SQL; "
       "no unnamed statement a name has", "\n".join(errors))
    names = [k for k in sqlgen.template_keys(text, TABLE) if not k.startswith("sql: ")]
    ok(names, f"{t}: names the server's statements ({len(names)} named, {len(unnamed)} literal)")
    for u in unnamed:
        diag(f"{t}: literal SQL, no named statement yet: {u}")
    # each @name line became exactly the table's text, its $n replaced in order
    with open(generated[t[:-len(sqlgen.TEMPLATE_EXT)] + ".sql"], encoding="utf-8") as f:
        out = f.read()
    lines = [ln for ln in text.split("\n") if ln.lstrip().startswith("@")]
    missing = [ln for ln in lines if sqlgen.expand_directive(ln, TABLE) not in out]
    is_(missing, [], f"{t}: the generated script holds every named statement's text, arguments in place")

# The file check can fail: an unknown name, a wrong argument count, an
# unmarked copy of the server's SQL, and an unnamed statement that has a name.
def check_errors(text, table=None):
    return sqlgen.check_template(text, table or TABLE)[0]


ok(check_errors("@no_such_statement ':x';\n"), "negative control: an unknown name is an error")
ok(check_errors("@ledger_lock_account ':a' ':b';\n"), "negative control: a wrong argument count is an error")
ok(check_errors("SELECT kind, balance, held, coalesce(credit_limit, 0) FROM accounts WHERE id = ':lo' FOR UPDATE;\n"),
   "negative control: literal SQL that is neither harness nor marked unnamed is an error")
ok(not check_errors("-- harness\nSELECT 1 \\gset\n@tx_begin \\;\n/* harness */ SELECT 2;\n"),
   "harness statements pass through")
fake = dict(TABLE, bench_fake_lock={"nparams": 1, "text": "SELECT 1 FROM lots WHERE id = $1 FOR UPDATE"})
marked = sqlgen.UNNAMED_MARK + "\nSELECT 1 FROM lots WHERE id = ':lot' FOR UPDATE;\n"
is_(check_errors(marked), [], "an unnamed statement no name has is reported, not an error")
ok(check_errors(marked, fake), "negative control: an unnamed statement a name now has is an error")
conv, report = sqlgen.convert(marked, fake)
is_((conv, [r[1] for r in report]), ("@bench_fake_lock ':lot';\n", ["named"]),
    "the converter names it, recovering the argument from the aligned texts")
conv, _ = sqlgen.convert("SELECT kind, balance, held, coalesce(credit_limit, 0) FROM accounts\n"
                         "    WHERE id = ':hi' FOR UPDATE \\;\n"
                         "COMMIT;\n", TABLE)
is_(conv, "@ledger_lock_account ':hi' \\;\n@tx_commit;\n",
    "the converter keeps the round trips (\\; and ;) and ignores layout")

# the normaliser that maps a logged statement to its name
is_(sqlgen.normalise("SELECT kind FROM accounts WHERE id = $1 FOR UPDATE"),
    sqlgen.normalise("SELECT kind FROM accounts\n    WHERE id = ':lo' FOR UPDATE;"),
    "normalise: $n and a quoted pgbench :var are the same placeholder; whitespace and ';' do not matter")
is_(sqlgen.normalise("VALUES ($1::uuid, -$3::bigint)"), sqlgen.normalise("VALUES (':f'::uuid, -:a::bigint)"),
    "normalise: casts survive; ::type is not a variable")
ok(sqlgen.normalise("x = $1 AND y = 'HH24:MI:SS'") != sqlgen.normalise("x = $1 AND y = 'HH24:MI'"),
   "normalise: literals still count")

# ---- one of each, with every statement logged ------------------------------

payer, payer_tok = create_account("bench-sql-payer", fund=100000)
payee, _ = create_account("bench-sql-payee")
seller, _ = create_account("bench-sql-seller")
bidder1, bidder1_tok = create_account("bench-sql-bidder1", fund=100000)
bidder2, bidder2_tok = create_account("bench-sql-bidder2", fund=100000)
english = create_lot(kind="english", seller=seller, start=100, increment=5, ends_in=3600)
drop = create_lot(kind="drop", seller=seller, price=10, quantity=100)
sold = create_lot(kind="drop", seller=seller, price=10, quantity=1)
r = place_bid(bidder1_tok, english["id"], amount=100)
is_(r.status, 201, "setup: the English lot has a leader, so the next bid outbids someone")
r = place_bid(bidder1_tok, sold["id"])
is_(r.status, 201, "setup: a one-unit drop is sold out")

keys = {"transfer": "bench-sql-" + new_key(), "bid": "bench-sql-" + new_key(),
        "drop": "bench-sql-" + new_key(), "soldout": "bench-sql-" + new_key()}
mark = log_size()
statement_logging(True)
try:
    r_transfer = post("/transfer", {"from": payer, "to": payee, "amount": 25, "memo": "bench"},
                      token=payer_tok, key=keys["transfer"])
    r_bid = place_bid(bidder2_tok, english["id"], key=keys["bid"], amount=105)
    r_drop = place_bid(bidder2_tok, drop["id"], key=keys["drop"])
    r_soldout = place_bid(bidder2_tok, sold["id"], key=keys["soldout"])
    r_proof = get("/proof", token=admin_token())   # a token: computed, never nginx's shared copy
finally:
    statement_logging(False)

is_(r_transfer.status, 201, "the logged transfer was made")
is_(r_bid.status, 201, "the logged bid outbid the leader")
is_(r_drop.status, 201, "the logged drop claim won a unit")
is_((r_soldout.status, r_soldout.code), (409, "sold_out"), "the logged claim on the sold-out drop was refused")
is_(r_proof.status, 200, "the logged /proof answered 200")

txs = sqlgen.transactions(sqlgen.parse_log(read_log(mark)))
ok(txs, "statement logging captured the application's transactions",
   f"nothing from zerosum_app in {PG_LOG} after byte {mark}")

checks = {
    "transfer-uniform.sql": (tx_with_param(txs, keys["transfer"]), "POST /transfer"),
    "transfer-hotspot.sql": (tx_with_param(txs, keys["transfer"]), "POST /transfer"),
    "bid-war.sql": (tx_with_param(txs, keys["bid"]), "POST /bid (English, outbidding)"),
    "drop-stampede.sql": (tx_with_param(txs, keys["drop"]), "POST /bid (drop, winning claim)"),
    "drop-soldout.sql": (tx_with_param(txs, keys["soldout"]), "POST /bid (drop, sold out)"),
    "proof.sql": (tx_proof(txs), "GET /proof"),
}
scripts = sorted(generated)
is_(sorted(checks), scripts, "every bench/sql template is checked here (a new template needs its check)")
for script in scripts:
    if script in checks:
        tx, what = checks[script]
        compare(script, tx, what)

# The check can fail: the server's transfer with one statement left out, or
# one statement changed, no longer matches the script.
tx = checks["transfer-uniform.sql"][0]
if tx:
    want = sqlgen.template_keys(template_text("transfer-uniform.sql"), TABLE)
    ok(not sqlgen.compare(sqlgen.log_keys(tx[:3] + tx[4:], TABLE), want)[0],
       "negative control: a missing statement is a mismatch")
    changed = [dict(e, sql=e["sql"].replace("FOR UPDATE", "FOR NO KEY UPDATE")) for e in tx]
    ok(not sqlgen.compare(sqlgen.log_keys(changed, TABLE), want)[0],
       "negative control: a changed statement is a mismatch")
    swapped = tx[:1] + tx[2:3] + tx[1:2] + tx[3:]
    ok(not sqlgen.compare(sqlgen.log_keys(swapped, TABLE), want)[0],
       "negative control: two statements in another order are a mismatch")

# ---- the scripts run, and keep every invariant ----------------------------

PREPARED_DIR = os.path.join(ZS_VAR, "bench-sql-prepared")


def pgbench(script, transactions, clients, defines, direct=False):
    """script: a file name, or "a.sql@W b.sql@W" (a weighted mix, as bench/run runs the drop).
    direct: the -M prepared variant (sqlgen.prepared_script), straight to PostgreSQL,
    as bench/run measures pgbench_direct_tps."""
    mode, sql_dir, port = ("prepared", PREPARED_DIR, ENV["ZS_PG_PORT"]) if direct else \
        ("simple", SQL_DIR, ENV["ZS_PGB_PORT"])
    cmd = ["pgbench", "-n", "-M", mode, "-c", str(clients), "-t", str(transactions)]
    for f in script.split():
        cmd += ["-f", os.path.join(sql_dir, f)]
    cmd += ["-h", ENV["PGHOST"], "-p", port, "-U", "zerosum_app"]
    for k, v in defines.items():
        cmd += ["-D", f"{k}={v}"]
    cmd.append("zerosum")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    m = re.search(r"number of transactions actually processed: (\d+)/(\d+)", out)
    good = p.returncode == 0 and m and m.group(1) == m.group(2) and "aborted" not in out
    return ok(good, f"pgbench -M {mode} runs {script} ({transactions} x {clients} clients) without an error",
              out[-3000:])


if subprocess.run(["sh", "-c", "command -v pgbench"], capture_output=True).returncode != 0:
    diag("pgbench not installed: not running the scripts")
else:
    # bench.accounts maps n -> account id, as bench/run's setup makes it
    runners = [create_account(f"bench-sql-runner{i}", fund=1000000)[0] for i in range(1, 5)]
    query("CREATE SCHEMA IF NOT EXISTS bench")
    query("CREATE TABLE IF NOT EXISTS bench.accounts (n integer PRIMARY KEY, id uuid NOT NULL UNIQUE)")
    query("GRANT USAGE ON SCHEMA bench TO zerosum_app")
    query("GRANT SELECT ON bench.accounts TO zerosum_app")
    query("DELETE FROM bench.accounts")
    for i, aid in enumerate(runners, 1):
        query("INSERT INTO bench.accounts (n, id) VALUES (%s, %s)", (i, aid))
    body = '{"transfer":{"id":"x","amount":1,"memo":"bench"}}'
    common = {"fp": "0" * 64, "status": 201, "body": body, "primed": 0}
    pgbench("transfer-uniform.sql", 10, 2, dict(common, first=1, last=4, amount=1, release=0,
                                                 kind="transfer", memo="bench"))
    pgbench("transfer-hotspot.sql", 10, 2, dict(common, first=1, last=2, amount=1, release=0,
                                                 kind="transfer", memo="bench"))
    lot = create_lot(kind="english", seller=seller, start=100, increment=1, ends_in=3600)
    place_bid(token(runners[0]), lot["id"], amount=100)
    pgbench("bid-war.sql", 10, 2, dict(common, first=1, last=4, lot=lot["id"], qty=1, st="leading",
                                        null="NULL"))
    d = create_lot(kind="drop", seller=seller, price=3, quantity=1000)
    pgbench("drop-stampede.sql@1 drop-soldout.sql@1", 20, 2,
            dict(common, first=1, last=4, lot=d["id"], soldlot=sold["id"], seller=seller, cost=3, qty=1,
                 st="claimed", release=0, kind="purchase", memo=f"lot {d['id']}", status_soldout=409))
    pgbench("proof.sql", 1, 1, {"admin": "00000000-0000-0000-0000-000000000000"})
    r = get(f"/lots/{lot['id']}")
    is_(r.json["lot"]["seq"] if r.status == 200 else None, 21,
        "the English lot took the opening bid and the 20 pgbench bids, each numbered")
    r = get(f"/lots/{d['id']}")
    sold_n = query("SELECT count(*) FROM bids WHERE lot_id = %s", (d["id"],))[0][0]
    ok(r.status == 200 and r.json["lot"]["claimed"] == sold_n and 0 < sold_n < 40,
       "the drop sold one unit for each pgbench claim that took the winning path",
       f"{r.status} claimed={r.json['lot'].get('claimed') if r.json else None} bids={sold_n}")
    r = get(f"/lots/{sold['id']}")
    is_((r.json["lot"]["claimed"], r.json["lot"]["status"]) if r.status == 200 else None, (1, "sold_out"),
        "the sold-out drop still has its one claim")
    # the direct ceiling's scripts: the same statements, -M prepared, pipelined
    for name, path in sqlgen.generate(ZS_BIN, gen_a).items():
        with open(path, encoding="utf-8") as f:
            text = sqlgen.prepared_script(f.read())
        os.makedirs(PREPARED_DIR, exist_ok=True)
        with open(os.path.join(PREPARED_DIR, name), "w", encoding="utf-8") as f:
            f.write(text)
        code = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("--"))
        ok(":MI" not in code and "\\;" not in code and not re.search(r"'(:[A-Za-z_]\w*)'", code),
           f"{name}: the -M prepared variant has no :MI, no compound statement, no quoted :var")
    pgbench("transfer-uniform.sql", 10, 2, dict(common, first=1, last=4, amount=1, release=0,
                                                 kind="transfer", memo="bench"), direct=True)
    lot3 = create_lot(kind="english", seller=seller, start=100, increment=1, ends_in=3600)
    place_bid(token(runners[0]), lot3["id"], amount=100)
    pgbench("bid-war.sql", 10, 2, dict(common, first=1, last=4, lot=lot3["id"], qty=1, st="leading",
                                        null="NULL"), direct=True)
    r = get(f"/lots/{lot3['id']}")
    is_(r.json["lot"]["seq"] if r.status == 200 else None, 21,
        "-M prepared: the English lot took the opening bid and the 20 pgbench bids")
    d2 = create_lot(kind="drop", seller=seller, price=3, quantity=1000)
    pgbench("drop-stampede.sql@1 drop-soldout.sql@1", 20, 2,
            dict(common, first=1, last=4, lot=d2["id"], soldlot=sold["id"], seller=seller, cost=3, qty=1,
                 st="claimed", release=0, kind="purchase", memo=f"lot {d2['id']}", status_soldout=409),
            direct=True)
    pgbench("proof.sql", 1, 1, {"admin": "00000000-0000-0000-0000-000000000000"}, direct=True)
    r = get("/proof")
    bad = [c["name"] for c in (r.json or {}).get("checks", []) if not c.get("ok")]
    ok(r.status == 200 and r.json.get("consistent") is True,
       "/proof is consistent after the pgbench scripts wrote their rows", f"{r.status} failing: {bad}")
    is_(ledger_invariants(), [], "the ledger invariants hold (entries, balances, total zero)")

done()
