"""The full re-verification pass (fcgi/domain/fullpass.c): POST /proof/audits,
GET /proof/audits/{id}, `scripts/zerosum audit`, and tampers with SEALED
history that keep every live relation consistent.

Mixed activity is built through the API (transfers, pending transfers, a
credit limit, a
settled English lot with a released and a captured hold, a drop claim, a
shares market with a fill), then everything sealable is sealed through the
real sealer (zs.seal_now) and the sealer is frozen, so nothing is sealed
while the tests tamper. A pass over the untouched history passes, reading
rows. Each tamper then changes sealed rows as the PostgreSQL superuser (the
append-only triggers off for that transaction only, session_replication_role
= replica) together with everything the live checks compare them with —
entries, balances, the sealed aggregates — so that only the sealed log can
tell: the next pass must fail naming the check(s) and the rows, and /proof
must answer 409 naming full_audit_passed. The inverse update restores it and
the next pass passes again.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

ADMIN = admin_token()


def must(r, status, what):
    if r.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {r}")
    return r.json


def run_pass(what):
    """Queue a pass through the API and wait for its verdict (the admin's view)."""
    r = post("/proof/audits", {}, token=ADMIN)
    a = must(r, 202, f"POST /proof/audits ({what})")["audit"]
    ok(a["status"] == "queued" and a["rows_read"] is None and a["finished_at"] is None,
       f"{what}: the pass is queued", a)
    done_ = wait_for(lambda: get(f"/proof/audits/{a['id']}", token=ADMIN).json["audit"]["status"]
                     in ("passed", "failed"), timeout=90, interval=0.2)
    ok(done_, f"{what}: the pass finished")
    return get(f"/proof/audits/{a['id']}", token=ADMIN).json["audit"]


def failed_checks(a):
    """The checks a failed pass names in its detail ("failed x: n rows; y: m rows")."""
    d = (a.get("detail") or "")
    d = d[len("failed "):] if d.startswith("failed ") else ""
    return {part.split(":")[0].strip() for part in d.split(";") if part.strip()}


def tamper(statements):
    """Run statements as the superuser in one transaction, append-only triggers off."""
    conn = db(user="postgres")
    try:
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            for sql, params in statements:
                cur.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def proof_names_full_audit(what):
    """/proof answers 409 naming full_audit_passed: the latest finished pass failed."""
    r = get("/proof", token=ADMIN)
    bad = [c["name"] for c in r.json["checks"] if not c["ok"]]
    ok(r.status == 409 and bad == ["full_audit_passed"],
       f"{what}: /proof answers 409 naming full_audit_passed only", r.body[:600])


def proof_healthy(what):
    r = get("/proof", token=ADMIN)
    ok(r.status == 200 and r.json.get("consistent") is True, f"{what}: /proof is 200", r.body[:600])


def expect_failure(what, checks, row_id):
    a = run_pass(what)
    got = failed_checks(a)
    ok(a["status"] == "failed" and got == set(checks) and a["failed_check"] in checks,
       f"{what}: the pass fails naming {sorted(checks)}", a)
    ok(row_id is None or row_id in (a.get("sample") or ""), f"{what}: its sample names the row {row_id}", a)
    anon = get(f"/proof/audits/{a['id']}").json["audit"]
    ok("sample" not in anon and "requested_by" not in anon and anon["failed_check"] == a["failed_check"],
       f"{what}: an anonymous reader gets the verdict without the ids", anon)
    proof_names_full_audit(what)


def expect_pass(what):
    a = run_pass(what)
    ok(a["status"] == "passed" and a["failed_check"] is None and a["rows_read"] > 0,
       f"{what}: the pass passes", a)
    return a


# ---- mixed activity ----------------------------------------------------------

alice, t_alice = create_account("fp-alice", 10_000)
bob, t_bob = create_account("fp-bob", 10_000)
carol, t_carol = create_account("fp-carol", 10_000)
seller, _ = create_account("fp-seller", 0)

L = must(post("/lots", {"kind": "english", "seller": seller, "title": "fp settles", "start": 200,
                        "increment": 10, "ends_in": 2}, token=ADMIN), 201, "lot")["lot"]["id"]
lot_made = time.time()
must(post("/bid", {"lot": L, "amount": 200}, token=t_bob), 201, "bob bids")
must(post("/bid", {"lot": L, "amount": 220}, token=t_carol), 201, "carol outbids")
T_ab = must(post("/transfer", {"from": alice, "to": bob, "amount": 100}, token=t_alice), 201,
            "alice -> bob")["transfer"]["id"]
must(post("/transfer", {"from": bob, "to": carol, "amount": 50}, token=t_bob), 201, "bob -> carol")
# a memo COPY must escape (tab, newline, backslash, a literal \N, non-ASCII): the
# pass reads it back as COPY text on postgres and must hash what the sealer hashed
must(post("/transfer", {"from": carol, "to": alice, "amount": 3, "memo": "a\tb\nc\\d \\N \\x41 é"},
          token=t_carol), 201, "carol -> alice, an awkward memo")
P = must(post("/transfer", {"from": alice, "to": carol, "amount": 40, "pending": True}, token=t_alice),
         201, "pending")["transfer"]["id"]
must(post(f"/transfers/{P}/post", {"amount": 25}, token=t_alice), 200, "post 25")
must(request("PATCH", f"/accounts/{carol}", body={"credit_limit": 30}, token=ADMIN, key=new_key()), 200,
     "a credit limit (a `limit` record once sealed)")
D = must(post("/lots", {"kind": "drop", "seller": seller, "title": "fp drop", "price": 30, "quantity": 2,
                        "max_per_claim": 2}, token=ADMIN), 201, "drop")["lot"]["id"]
must(post("/bid", {"lot": D, "quantity": 2}, token=t_alice), 201, "the drop sells out")
M = must(post("/markets", {"kind": "shares", "title": "fp shares", "owner": alice, "supply": 100,
                           "tick_min": 1, "tick_max": 1000}, token=ADMIN), 201, "market")["market"]["id"]
must(post("/order", {"market": M, "side": "sell", "price": 7, "quantity": 5, "time_in_force": "gtc"},
          token=t_alice), 201, "alice sells 5 @ 7")
must(post("/order", {"market": M, "side": "buy", "price": 7, "quantity": 5, "time_in_force": "gtc"},
          token=t_bob), 201, "bob buys 5 @ 7")
time.sleep(max(0.0, lot_made + 3.0 - time.time()))
ok(wait_for(lambda: get(f"/lots/{L}").json["lot"]["status"] == "settled", 15), "the English lot settles")

out = seal_now()
diag(f"zerosum seal: {out.strip()}")
seal_freeze()  # nothing is sealed while the tests tamper (and restore)

size = query("SELECT coalesce(max(tree_size), 0) FROM seals")[0][0]
ok(size > 0, f"history is sealed (tree size {size})")
for table in ("transfers", "holds", "bids", "lots", "trades", "orders", "pending_transfers", "credit_limits"):
    ok(query(f"SELECT count(*) FROM {table} WHERE sealed IS NOT NULL")[0][0] > 0, f"some {table} are sealed")

# ---- a pass over the untouched history ---------------------------------------

a = expect_pass("untouched history")
is_((a["seal_no"], a["tree_size"]), tuple(query("SELECT seal_no, tree_size FROM seals ORDER BY seal_no DESC LIMIT 1")[0]),
    "the pass covered the latest seal")
ok(a["started_at"] is not None and a["finished_at"] is not None, "it says when it ran", a)
proof_healthy("untouched history")

cli = subprocess.run([os.path.join(REPO, "scripts", "zerosum"), "audit"], env=dict(os.environ, ZS_VAR=ZS_VAR),
                     capture_output=True, text=True, timeout=120)
v = json.loads(cli.stdout.strip().splitlines()[-1]) if cli.stdout.strip() else {}
ok(cli.returncode == 0 and v.get("status") == "passed" and v.get("rows_read", 0) > 0,
   "scripts/zerosum audit: exit 0, passed", cli.stdout + cli.stderr)
is_(query("SELECT status, requested_by FROM full_audits WHERE id = %s", (v.get("id"),)),
    [("passed", "cli")], "the CLI's pass is a full_audits row")

# ---- tamper: an old sealed transfer, its entries and both balances -----------

amt = query("SELECT amount FROM transfers WHERE id = %s AND sealed IS NOT NULL", (T_ab,))[0][0]


def shift_transfer(tid, frm, to, d):
    after = ("UPDATE entries SET balance_after = balance_after + %s WHERE account_id = %s AND seq >= "
             "(SELECT seq FROM entries WHERE transfer_id = %s AND account_id = %s)")
    return [("UPDATE transfers SET amount = amount + %s WHERE id = %s", (d, tid)),
            (after, (-d, frm, tid, frm)), (after, (d, to, tid, to)),
            ("UPDATE entries SET amount = amount - %s WHERE transfer_id = %s AND account_id = %s", (d, tid, frm)),
            ("UPDATE entries SET amount = amount + %s WHERE transfer_id = %s AND account_id = %s", (d, tid, to)),
            ("UPDATE accounts SET balance = balance - %s WHERE id = %s", (d, frm)),
            ("UPDATE accounts SET balance = balance + %s WHERE id = %s", (d, to)),
            ("UPDATE seal_accounts SET balance = balance - %s, last_balance = last_balance - %s"
             " WHERE account_id = %s", (d, d, frm)),
            ("UPDATE seal_accounts SET balance = balance + %s, last_balance = last_balance + %s"
             " WHERE account_id = %s", (d, d, to))]


tamper(shift_transfer(T_ab, alice, bob, 7))
is_(ledger_invariants(), [], "transfer tamper: every live relation still holds")
expect_failure("transfer tamper", {"sealed_leaves_match", "seal_state_matches"}, T_ab)
tamper(shift_transfer(T_ab, alice, bob, -7))
is_(query("SELECT amount FROM transfers WHERE id = %s", (T_ab,))[0][0], amt, "transfer restored")
expect_pass("transfer restored")

# ---- tamper: a sealed (released) hold's amount -------------------------------

H, h_amt = query("SELECT id::text, amount FROM holds WHERE lot_id = %s AND state = 'released'"
                 " AND sealed IS NOT NULL", (L,))[0]
tamper([("UPDATE holds SET amount = amount + 5 WHERE id = %s", (H,))])
expect_failure("hold tamper", {"sealed_leaves_match"}, H)
tamper([("UPDATE holds SET amount = %s WHERE id = %s", (h_amt, H))])
expect_pass("hold restored")

# ---- tamper: a sealed credit limit -------------------------------------------

C = query("SELECT id::text FROM credit_limits WHERE account_id = %s AND sealed IS NOT NULL", (carol,))[0][0]
tamper([("UPDATE credit_limits SET credit_limit = 300 WHERE id = %s", (C,))])
expect_failure("credit limit tamper", {"sealed_leaves_match"}, C)
tamper([("UPDATE credit_limits SET credit_limit = 30 WHERE id = %s", (C,))])
expect_pass("credit limit restored")

# ---- tamper: a sealed trade's price and its cash transfer --------------------

TR, price, qty, cash = query("SELECT id::text, price, quantity, cash_a::text FROM trades"
                             " WHERE market_id = %s AND sealed IS NOT NULL", (M,))[0]
buyer, sellr = bob, alice
tamper([("UPDATE trades SET price = price + 1 WHERE id = %s", (TR,))] + shift_transfer(cash, buyer, sellr, qty))
is_(ledger_invariants(), [], "trade tamper: every live relation still holds")
expect_failure("trade tamper", {"sealed_leaves_match", "seal_state_matches"}, TR)
tamper([("UPDATE trades SET price = %s WHERE id = %s", (price, TR))] + shift_transfer(cash, buyer, sellr, -qty))
expect_pass("trade restored")

# ---- tamper: a stored Merkle node -------------------------------------------

node = query("SELECT hash FROM merkle_nodes WHERE level = 1 AND idx = 0")[0][0]
tamper([("UPDATE merkle_nodes SET hash = sha256(hash) WHERE level = 1 AND idx = 0", ())])
a = run_pass("node tamper")
ok(a["status"] == "failed" and a["failed_check"] == "merkle_nodes_match"
   and failed_checks(a) <= {"merkle_nodes_match", "seal_roots_match"},
   "node tamper: the pass fails naming merkle_nodes_match", a)
proof_names_full_audit("node tamper")
tamper([("UPDATE merkle_nodes SET hash = %s WHERE level = 1 AND idx = 0", (node,))])
expect_pass("node restored")
# every stored level's last node: the pass checks the lower levels a block of leaves
# at a time and the few top ones level by level, so both ways and the block's edge
# are each tampered with
top = query("SELECT max(level) FROM merkle_nodes")[0][0]
ok(top >= 3, "the tree has levels enough for both ways (the top two go level by level)", top)
for lvl in range(2, top + 1):
    idx, node = query("SELECT idx, hash FROM merkle_nodes WHERE level = %s ORDER BY idx DESC LIMIT 1",
                      (lvl,))[0]
    tamper([("UPDATE merkle_nodes SET hash = sha256(hash) WHERE level = %s AND idx = %s", (lvl, idx))])
    a = run_pass(f"level {lvl} node tamper")
    ok(a["status"] == "failed" and a["failed_check"] == "merkle_nodes_match",
       f"a level {lvl} node tampered: the pass fails naming merkle_nodes_match", a)
    tamper([("UPDATE merkle_nodes SET hash = %s WHERE level = %s AND idx = %s", (node, lvl, idx))])
expect_pass("nodes restored")

# A node past the tree's last complete subtree (the pass reads the nodes a
# level and a range at a time: one outside every range must still be seen),
# and a node whose children are gone.
size = query("SELECT tree_size FROM seals ORDER BY seal_no DESC LIMIT 1")[0][0]
tamper([("INSERT INTO merkle_nodes (level, idx, hash) VALUES (1, %s, sha256('stray'))", (size,))])
a = run_pass("stray node")
ok(a["status"] == "failed" and "merkle_nodes_match" in failed_checks(a),
   "a stray interior node far past the last subtree: merkle_nodes_match", a)
tamper([("DELETE FROM merkle_nodes WHERE level = 1 AND idx = %s", (size,))])
expect_pass("stray node removed")
kids = query("SELECT idx, hash FROM merkle_nodes WHERE level = 0 AND idx IN (0, 1) ORDER BY idx")
tamper([("DELETE FROM merkle_nodes WHERE level = 0 AND idx = 1", ())])
a = run_pass("orphaned node")
ok(a["status"] == "failed" and "merkle_nodes_match" in failed_checks(a),
   "an interior node whose right child is gone: merkle_nodes_match", a)
tamper([("INSERT INTO merkle_nodes (level, idx, hash) VALUES (0, 1, %s)", (kids[1][1],))])
expect_pass("child restored")

# ---- tamper: a seal's root ---------------------------------------------------

root = query("SELECT root FROM seals WHERE seal_no = 1")[0][0]
tamper([("UPDATE seals SET root = sha256(root) WHERE seal_no = 1", ())])
a = run_pass("root tamper")
ok(a["status"] == "failed" and failed_checks(a) == {"seal_roots_match", "seal_chain_intact"}
   and "1" in (a.get("sample") or "").split(","),
   "root tamper: the pass fails naming seal_roots_match and seal_chain_intact, seal 1", a)
proof_names_full_audit("root tamper")
tamper([("UPDATE seals SET root = %s WHERE seal_no = 1", (root,))])
expect_pass("root restored")
proof_healthy("everything restored")

# ---- tampers each only a check the pass decides in C can see (postgres) ------
# On postgres the pass folds transfers_balanced, entries_have_transfers,
# balances_match_entries, running_balances_match, the per-account
# seal_aggregates_match and positions_contiguous into its one read of the
# entries (fullpass_fold.c), and runs their SQL forms only to name the rows
# once the fold found something: each tamper below fails the pass only if
# the fold sees it.


def expect_named(what, must_name, exactly=None, row_id=None):
    """A pass fails naming must_name (and exactly these checks, when given)."""
    a = run_pass(what)
    got = failed_checks(a)
    ok(a["status"] == "failed" and must_name in got and (exactly is None or got == set(exactly)),
       f"{what}: the pass fails naming {must_name}" + (f" (exactly {sorted(exactly)})" if exactly else ""), a)
    if row_id is not None:
        ok(a["failed_check"] != must_name or row_id in (a.get("sample") or ""),
           f"{what}: its sample names the row {row_id}", a)
    return a


E_alice = query("SELECT id, transfer_id, sealed FROM entries WHERE transfer_id = %s AND account_id = %s",
                (T_ab, alice))[0]
H_pos = query("SELECT sealed FROM holds WHERE id = %s", (H,))[0][0]
T_pos = query("SELECT sealed FROM transfers WHERE id = %s", (T_ab,))[0][0]

# a sealed transfer's amount alone: its entries no longer debit and credit it
tamper([("UPDATE transfers SET amount = amount + 1 WHERE id = %s", (T_ab,))])
expect_named("transfer amount tamper", "transfers_balanced", {"transfers_balanced", "sealed_leaves_match"}, T_ab)
tamper([("UPDATE transfers SET amount = amount - 1 WHERE id = %s", (T_ab,))])

# a sealed entry's balance_after (not in any leaf): only the running balances
tamper([("UPDATE entries SET balance_after = balance_after + 1 WHERE id = %s", (E_alice[0],))])
expect_named("balance_after tamper", "running_balances_match", {"running_balances_match"}, E_alice[0])
tamper([("UPDATE entries SET balance_after = balance_after - 1 WHERE id = %s", (E_alice[0],))])

# a sealed entry's amount with its running balances and the sealed aggregate
# shifted along, the account's balance left: the balance is not its entries' sum
shift = [("UPDATE entries SET amount = amount + %s WHERE id = %s", None),
         ("UPDATE entries SET balance_after = balance_after + %s WHERE account_id = %s AND seq >= "
          "(SELECT seq FROM entries WHERE id = %s)", None),
         ("UPDATE seal_accounts SET balance = balance + %s, last_balance = last_balance + %s"
          " WHERE account_id = %s", None)]
tamper([(shift[0][0], (-2, E_alice[0])), (shift[1][0], (-2, alice, E_alice[0])), (shift[2][0], (-2, -2, alice))])
expect_named("entry sum tamper", "balances_match_entries")
tamper([(shift[0][0], (2, E_alice[0])), (shift[1][0], (2, alice, E_alice[0])), (shift[2][0], (2, 2, alice))])

# the sealed per-account aggregate's entry count
tamper([("UPDATE seal_accounts SET entries = entries + 1 WHERE account_id = %s", (alice,))])
expect_named("aggregate count tamper", "seal_aggregates_match", row_id=alice)
tamper([("UPDATE seal_accounts SET entries = entries - 1 WHERE account_id = %s", (alice,))])

# the aggregate's last sealed entry (what the live running_balances_match checks
# an account's first unsealed entry against): each of its three values
last = query("SELECT last_seq, last_balance, last_at FROM seal_accounts WHERE account_id = %s", (alice,))[0]
ok(last[0] is not None and last == query(
    "SELECT seq, balance_after, created_at FROM entries WHERE account_id = %s AND sealed IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1", (alice,))[0], "alice's aggregate keeps her last sealed entry", last)
for col, change in (("last_seq", "last_seq - 1"), ("last_balance", "last_balance + 1"),
                    ("last_at", "last_at - interval '1 microsecond'")):
    tamper([(f"UPDATE seal_accounts SET {col} = {change} WHERE account_id = %s", (alice,))])
    expect_named(f"aggregate {col} tamper", "seal_aggregates_match", {"seal_aggregates_match"}, alice)
    tamper([(f"UPDATE seal_accounts SET {col} = %s WHERE account_id = %s",
             (last[("last_seq", "last_balance", "last_at").index(col)], alice))])
# not kept (an aggregate from before they were): nothing to check, nothing wrong
tamper([("UPDATE seal_accounts SET last_seq = NULL, last_balance = NULL, last_at = NULL"
         " WHERE account_id = %s", (alice,))])
expect_pass("aggregate without its last entry")
tamper([("UPDATE seal_accounts SET last_seq = %s, last_balance = %s, last_at = %s WHERE account_id = %s",
         last + (alice,))])

# a sealed entry moved to a transfer that does not exist
ghost = str(uuid.uuid4())
tamper([("UPDATE entries SET transfer_id = %s WHERE id = %s", (ghost, E_alice[0]))])
expect_named("entry transfer tamper", "entries_have_transfers", row_id=E_alice[0])
tamper([("UPDATE entries SET transfer_id = %s WHERE id = %s", (E_alice[1], E_alice[0]))])

# a sealed hold moved onto a sealed transfer's position
tamper([("UPDATE holds SET sealed = %s WHERE id = %s", (T_pos, H))])
expect_named("position tamper", "positions_contiguous")
tamper([("UPDATE holds SET sealed = %s WHERE id = %s", (H_pos, H))])
expect_pass("fold tampers restored")

# ---- who may ask, and unknown passes ------------------------------------------

is_problem(post("/proof/audits", {}, token=t_alice), 403, "admin_required", "POST /proof/audits as a user: 403")
r = post("/proof/audits", {})
is_(r.status, 401, "POST /proof/audits anonymously: 401")
is_problem(post("/proof/audits", {"now": True}, token=ADMIN), 422, "unknown_field", "an unknown field: 422")
is_problem(get(f"/proof/audits/{uuid.uuid4()}"), 404, "audit_not_found", "an unknown pass: 404")
is_problem(get("/proof/audits/not-a-uuid"), 404, "audit_not_found", "a malformed id: 404")
k = new_key()
r1, r2 = post("/proof/audits", {}, token=ADMIN, key=k), post("/proof/audits", {}, token=ADMIN, key=k)
ok(r1.status == 202 and r2.status == 202 and r1.json == r2.json
   and r2.headers.get("idempotent-replayed") == "true", "the same Idempotency-Key replays the same pass", r2.body)
wait_for(lambda: query("SELECT count(*) FROM full_audits WHERE status IN ('queued', 'running')")[0][0] == 0,
         timeout=60, interval=0.2)

seal_thaw()
done()
