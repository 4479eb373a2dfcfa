"""Bearer-token lifecycle through the real stack: what `zerosum token` mints,
key rotation by kid (scripts/zerosum rotate-key) and revocation
(scripts/zerosum revoke-tokens), each checked with real requests through
nginx and the workers, and with the ledger before and after every refusal.

Rotation: a token of the old key keeps working after one rotation (the old
key is the previous one), a token of the new key works at once on every
pool, and after a second rotation the first key is neither current nor
previous: its tokens get 401. Revocation: a token issued before the
account's tokens were revoked gets 401 token_revoked — on reads, on
mutations (nothing written, not even an idempotency key) and on public
routes — while one issued after works; the admin subject and the '*' row
(every token) work the same way.

This suite rotates the stack's key ring; tokens minted afterwards (every
other suite mints its own) use the new current key.
"""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

import base64
import stat
import subprocess
import time
import uuid

CLI = os.path.join(REPO, "scripts", "zerosum")
CLI_ENV = dict(os.environ, ZS_VAR=ZS_VAR, ZS_BIN=ZS_BIN)


def cli(*args):
    return subprocess.run([CLI, *args], env=CLI_ENV, capture_output=True, text=True)


def parts(tok):
    dec = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    h, p, _ = tok.split(".")
    return dec(h), dec(p)


def me(aid, tok):
    return get(f"/accounts/{aid}", token=tok)


def all_pools_accept(aid, tok, peer):
    """A read on the default pool (twice per worker) and a transfer on the transfer pool."""
    reads = [me(aid, tok).status for _ in range(6)]
    r = post("/transfer", {"from": aid, "to": peer, "amount": 1}, token=tok)
    return reads, r.status


alice, t_alice = create_account("tokens-alice", 10_000)
bob, t_bob = create_account("tokens-bob", 10_000)
carol, t_carol = create_account("tokens-carol", 10_000)

# ---- what `zerosum token` mints ------------------------------------------------------

r = cli("token", alice, "--ttl", "600")
ok(r.returncode == 0, "scripts/zerosum token mints", r.stderr)
h, p = parts(r.stdout.strip())
kids = [k for k, _ in jwt_keys()]
is_((h.get("alg"), h.get("typ"), h.get("kid")), ("HS256", "JWT", kids[0]),
    "header: HS256, JWT, the ring's current kid")
now = int(time.time())
ok(p.get("iss") == "zerosum" and p.get("aud") == "zerosum" and p.get("sub") == alice
   and p.get("scope") == "user" and abs(p.get("iat", 0) - now) <= 2 and p.get("nbf") == p.get("iat")
   and p.get("exp") == p.get("iat") + 600, "claims: iss, aud, sub, scope, iat = nbf = now, exp = iat + ttl", p)
is_(me(alice, r.stdout.strip()).status, 200, "the minted token is accepted")
r = cli("token", alice, "--ttl", str(30 * 86400 + 1))
ok(r.returncode != 0 and "jwt_max_lifetime" in r.stderr, "a ttl over jwt_max_lifetime is refused by the CLI",
   r.stderr)
st = os.stat(KEY_FILE)
is_(oct(stat.S_IMODE(st.st_mode)), "0o600", "the key ring is 0600")
is_(os.path.dirname(KEY_FILE), os.path.join(ZS_VAR, "secrets"), "the key ring lives under var/secrets/")

# ---- rotation --------------------------------------------------------------------------

k0 = kids[0]
t_old = token(alice)
ok(parts(t_old)[0]["kid"] == k0, f"a token minted before rotation carries kid {k0}")
is_(me(alice, t_old).status, 200, "before rotation: accepted")

r = cli("rotate-key")
ok(r.returncode == 0, "scripts/zerosum rotate-key", r.stderr)
k1 = r.stdout.strip()
ring = [k for k, _ in jwt_keys()]
is_(ring, [k1, k0], "after rotation the ring is [new, old]")
ok(k1 != k0, f"the new kid {k1} differs from the old")
is_(oct(stat.S_IMODE(os.stat(KEY_FILE).st_mode)), "0o600", "the rotated ring is 0600")
ok(not os.path.exists(KEY_FILE + ".tmp"), "no temporary file is left behind")

t_new = token(alice)
is_(parts(t_new)[0]["kid"], k1, "a token minted after rotation carries the new kid")
reads, tstatus = all_pools_accept(alice, t_new, bob)
ok(all(s == 200 for s in reads) and tstatus == 201,
   "the new key's token is accepted at once by every worker (reads 200, transfer 201)", (reads, tstatus))
reads, tstatus = all_pools_accept(alice, t_old, bob)
ok(all(s == 200 for s in reads) and tstatus == 201,
   "the old key's token keeps working after one rotation (nobody logged out)", (reads, tstatus))

r = cli("rotate-key")
ok(r.returncode == 0, "rotate again", r.stderr)
k2 = r.stdout.strip()
is_([k for k, _ in jwt_keys()], [k2, k1], "after the second rotation the ring is [k2, k1]; k0 is gone")
before = ledger_fingerprint()
r = me(alice, t_old)
is_problem(r, 401, "invalid_token", "a token of k0 (neither current nor previous): 401 invalid_token")
ok("signing key" in (r.json or {}).get("detail", ""), "the detail says the key is not known", r)
ok('error="invalid_token"' in r.headers.get("www-authenticate", ""), "with an RFC 6750 challenge", r.headers)
r = post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=t_old)
is_problem(r, 401, "invalid_token", "k0 token on /transfer: 401 invalid_token")
forged = sign_jwt(std_claims(alice), kid=k2, key=os.urandom(32))
r = post("/transfer", {"from": alice, "to": bob, "amount": 1}, token=forged)
is_problem(r, 401, "invalid_token", "current kid but a key that is neither current nor previous: 401")
is_(ledger_fingerprint(), before, "the refused requests wrote nothing")
reads, tstatus = all_pools_accept(alice, t_new, bob)
ok(all(s == 200 for s in reads) and tstatus == 201, "the k1 token (now previous) still works", (reads, tstatus))

# ---- revocation ------------------------------------------------------------------------

t_bob_before = token(bob)
t_carol_before = token(carol)
is_(me(bob, t_bob_before).status, 200, "bob's token works before revocation")
r = cli("revoke-tokens", bob.upper())
ok(r.returncode == 0, "scripts/zerosum revoke-tokens BOB (any case)", r.stderr)
valid_after = json.loads(r.stdout)["valid_after"]
is_(query("SELECT valid_after FROM token_revocations WHERE subject = %s", (bob,)), [(valid_after,)],
    "the revocation is recorded for bob's canonical id")

before = ledger_fingerprint()
r = me(bob, t_bob_before)
is_problem(r, 401, "token_revoked", "a token issued before the revocation: 401 token_revoked")
ok('error="invalid_token"' in r.headers.get("www-authenticate", ""), "challenge error=invalid_token (RFC 6750)",
   r.headers)
key = str(uuid.uuid4())
r = post("/transfer", {"from": bob, "to": carol, "amount": 5}, token=t_bob_before, key=key)
is_problem(r, 401, "token_revoked", "revoked token on POST /transfer: 401 token_revoked")
r = post("/transfer", {"from": bob, "to": carol, "amount": 5}, token=t_bob_before, key=key)
is_problem(r, 401, "token_revoked", "...and again with the same key: still 401, nothing was stored")
r = get("/lots", token=t_bob_before)
is_problem(r, 401, "token_revoked", "revoked token on a public route (GET /lots): 401, like any bad token")
is_(ledger_fingerprint(), before, "the revoked requests wrote nothing (no transfer, entry or idempotency key)")
is_(me(carol, t_carol_before).status, 200, "carol's token, issued at the same time, still works (per account)")

wait_for(lambda: time.time() >= valid_after, timeout=3, interval=0.05)
t_bob_after = token(bob)
is_(me(bob, t_bob_after).status, 200, "a token issued after the revocation works")
bob_before = balance(bob)[0]
r = post("/transfer", {"from": bob, "to": carol, "amount": 5}, token=t_bob_after)
is_(r.status, 201, "...and moves money")
is_(balance(bob)[0], bob_before - 5, "bob's balance moved by exactly that transfer")

r = cli("revoke-tokens", str(uuid.uuid4()))
ok(r.returncode != 0 and "no account" in r.stderr, "revoking an unknown account is refused", r.stderr)
r = cli("revoke-tokens", "not-an-id")
ok(r.returncode != 0, "revoking something that is not an account id is refused", r.stderr)

# admin tokens: the admin subject, and only it, so --admin revokes them all
r = subprocess.run([ZS_BIN, "token", carol, "--admin", "--key-file", KEY_FILE],
                   capture_output=True, text=True)
ok(r.returncode != 0 and not r.stdout and ADMIN_SUB in r.stderr,
   "zerosum token ID --admin refuses a subject other than the admin subject", r.stdout + r.stderr)
admin_before = token(ADMIN_SUB, admin=True)
is_(post("/accounts", {"name": "tokens-pre-admin"}, token=admin_before).status, 201, "the admin token works")
r = cli("revoke-tokens", "--admin")
ok(r.returncode == 0, "scripts/zerosum revoke-tokens --admin", r.stderr)
admin_after_at = json.loads(r.stdout)["valid_after"]
before = ledger_fingerprint()
r = post("/accounts", {"name": "tokens-revoked-admin"}, token=admin_before)
is_problem(r, 401, "token_revoked", "an admin token issued before --admin: 401 token_revoked")
is_(ledger_fingerprint(), before, "no account was created")
wait_for(lambda: time.time() >= admin_after_at, timeout=3, interval=0.05)
is_(post("/accounts", {"name": "tokens-new-admin"}, token=token(ADMIN_SUB, admin=True)).status, 201,
    "a new admin token works")

# every token: the '*' row
t_carol_old = token(carol)
r = cli("revoke-tokens", "--all")
ok(r.returncode == 0, "scripts/zerosum revoke-tokens --all", r.stderr)
all_at = json.loads(r.stdout)["valid_after"]
is_problem(me(carol, t_carol_old), 401, "token_revoked", "--all: carol's older token is revoked")
is_problem(me(alice, t_new), 401, "token_revoked", "--all: alice's older token is revoked")
wait_for(lambda: time.time() >= all_at, timeout=3, interval=0.05)
is_(me(carol, token(carol)).status, 200, "--all: a token issued after it works")
query("DELETE FROM token_revocations WHERE subject IN ('*', %s)", (ADMIN_SUB,))
is_(me(alice, t_new).status, 200, "deleting the '*' row (owner SQL) lifts the global revocation")

problems = ledger_invariants()
ok(not problems, "ledger invariants hold", problems)
done()
