"""Witnessing: each new checkpoint is handed to the witness directory.

The test stack's witness_dir is $ZS_VAR/witness (scripts/stack). After a
seal the jobs child writes the latest signed checkpoint to
<dir>/checkpoints/<tree size> and <dir>/latest; when <dir> is a git work
tree it commits them, so the witness's history holds every checkpoint it
was shown, in order. The checkpoints it holds must each verify and each be
consistent with the next (checked here with the independent RFC 9162 code).
"""
import os
import base64
import subprocess
import time
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *  # noqa: E402,F403
import rfc9162  # noqa: E402

WITNESS = os.path.join(ZS_VAR, "witness")


def git(*args):
    return subprocess.run(["git", "-C", WITNESS, *args], capture_output=True, text=True, check=True).stdout


def latest_size():
    rows = query("SELECT tree_size, checkpoint FROM seals ORDER BY seal_no DESC LIMIT 1")
    return rows[0] if rows else (0, None)


def transfer_some(n):
    a, _ = create_account("witnessed", 0)
    for i in range(n):
        r = post("/transfer", {"from": ISSUER, "to": a, "amount": 10 + i}, token=admin_token())
        if r.status != 201:
            raise RuntimeError(f"transfer: {r}")


T_START = time.time() - 0.5

# ---- a plain directory ----------------------------------------------------

# a seal of this suite's own: the stack may hold seals of suites before it,
# which the witness may already hold
seen0 = latest_size()[0]
transfer_some(3)
ok(wait_for(lambda: latest_size()[0] > seen0 and os.path.exists(os.path.join(WITNESS, "latest"))
            and open(os.path.join(WITNESS, "latest")).read() == latest_size()[1], timeout=20),
   "the witness directory's latest is the latest seal's signed checkpoint")
size, note = latest_size()
path = os.path.join(WITNESS, "checkpoints", str(size))
ok(os.path.exists(path) and open(path).read() == note, f"checkpoints/{size} holds it too")
is_(oct(os.stat(path).st_mode & 0o777), "0o644", "written 0644 (the witness reads it)")
r = get("/proof/checkpoint")
ok(r.status == 200, "GET /proof/checkpoint answers")

# ---- a git work tree: every checkpoint handed over is committed ------------

if not os.path.isdir(os.path.join(WITNESS, ".git")):
    subprocess.run(["git", "init", "-q", WITNESS], check=True)
    git("-c", "user.name=w", "-c", "user.email=w@localhost", "commit", "-q", "--allow-empty", "-m", "witness")
before = int(git("rev-list", "--count", "HEAD").strip())
seen = latest_size()[0]
transfer_some(2)
ok(wait_for(lambda: latest_size()[0] > seen, timeout=20), "a new seal after the witness became a repository")
ok(wait_for(lambda: int(git("rev-list", "--count", "HEAD").strip()) > before, timeout=20),
   "the jobs child committed the new checkpoint in the witness repository")
msg = git("log", "-1", "--format=%s").strip()
ok(msg.startswith("zerosum checkpoint "), "the commit names the checkpoint", msg)
committed = int(msg.rsplit(" ", 1)[1])
files = git("show", "--name-only", "--format=", "HEAD").split()
ok("latest" in files and f"checkpoints/{committed}" in files, "it commits latest and the new checkpoint (and any written before)", files)
# the next seal may be between writing its checkpoint and committing it
ok(wait_for(lambda: git("status", "--porcelain").strip() == "", timeout=20), "nothing is left uncommitted",
   git("status", "--porcelain"))

# ---- a restarted jobs child hands over the checkpoint the witness holds ----
# (it forgets what it witnessed; rewriting the same files leaves git nothing
# to commit, which is not a failure to log and retry every tick)

LOG = os.path.join(ZS_VAR, "log", "zerosum.log")
head = git("rev-parse", "HEAD").strip()
mark = os.path.getsize(LOG)
stack("restart", "workers")
time.sleep(4)  # several sealing ticks of the new jobs child, nothing new to seal
with open(LOG, errors="replace") as f:
    f.seek(mark)
    failed = [line for line in f if "witness:" in line]
is_(failed, [], "the restarted jobs child logs no witness failure for a checkpoint already committed")
if latest_size()[0] == committed:
    is_(git("rev-parse", "HEAD").strip(), head, "and commits nothing new")

# ---- what the witness holds verifies, and each extends the one before ------

key = get("/proof/key").json
# Only the checkpoints handed over while this suite ran (files written
# since it started; a size the re-derived log passes again is rewritten): suites before it on
# the same stack rewrite sealed history on purpose (test_verify re-derives
# the log), and the witness rightly holds checkpoints the new log does not
# extend.
cdir = os.path.join(WITNESS, "checkpoints")
sizes = sorted(int(f) for f in os.listdir(cdir) if os.stat(os.path.join(cdir, f)).st_mtime >= T_START)
# ...and of those, the ones the log still serves as its checkpoint at that
# size (a re-derived log signs other checkpoints at the same sizes)
sizes = [z for z in sizes
         if get(f"/proof/checkpoint?size={z}").text == open(os.path.join(cdir, str(z))).read()]
ok(len(sizes) >= 2, "the witness holds at least two checkpoints", sizes)
roots = {}
for s in sizes:
    lines = open(os.path.join(WITNESS, "checkpoints", str(s))).read().split("\n")
    ok(lines[0] == key["origin"] and int(lines[1]) == s, f"checkpoint {s}: origin and size lines", lines[:2])
    roots[s] = base64.b64decode(lines[2])
bad = []
for a, b in zip(sizes, sizes[1:]):
    c = get(f"/proof/consistency?from={a}&to={b}").json or {}
    path = [bytes.fromhex(h) for h in c.get("path", [])]
    if not rfc9162.verify_consistency(a, b, roots[a], roots[b], path):
        bad.append((a, b))
is_(bad, [], "every checkpoint the witness holds is consistent with the next one it holds")
done()
