#!/usr/bin/env python3
"""test_rfc9162_py.py — cross-check of the server's Merkle code (fcgi/merkle.c,
through `test_merkle --dump N`) against tests/lib/rfc9162.py, an independent
Python implementation written from RFC 9162: for every size 1..70 the root,
every inclusion path and every consistency proof must be byte-identical, and
each must verify with the Python verifiers. The Python side is itself first
checked against the Certificate Transparency reference roots (the 8-leaf tree
of transparency-dev/merkle testonly/constants.go). TAP output."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rfc9162  # noqa: E402

N = 70
BUILD = os.environ.get("ZS_BUILD", "build")
count = 0
failed = 0


def ok(cond, name):
    global count, failed
    count += 1
    print(("ok" if cond else "not ok") + f" {count} - {name}")
    if not cond:
        failed += 1


CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
ct = [rfc9162.leaf_hash(bytes.fromhex(h)) for h in CT_LEAVES]
ok([rfc9162.mth(ct[:n]).hex() for n in range(1, 9)] == CT_ROOTS,
   "the Python MTH gives the CT reference roots for sizes 1..8")

leaves = [rfc9162.leaf_hash(f"leaf {i}".encode()) for i in range(N)]
out = subprocess.run([os.path.join(BUILD, "tests", "test_merkle"), "--dump", str(N)],
                     check=True, capture_output=True, text=True).stdout.splitlines()
roots = {}
bad = {"root": [], "incl": [], "cons": [], "verify": []}
seen = {"root": 0, "incl": 0, "cons": 0}
for line in out:
    kind, a, b, *path = line.split()
    seen[kind] += 1
    a = int(a)
    if kind == "root":
        roots[a] = rfc9162.mth(leaves[:a])
        if bytes.fromhex(b) != roots[a]:
            bad["root"].append(a)
        continue
    b = int(b)
    path = [bytes.fromhex(h) for h in path]
    if kind == "incl":
        if path != rfc9162.inclusion_path(a, leaves[:b]):
            bad["incl"].append((a, b))
        if not rfc9162.verify_inclusion(a, b, leaves[a], path, roots[b]):
            bad["verify"].append(("incl", a, b))
    else:
        if path != rfc9162.consistency_proof(a, leaves[:b]):
            bad["cons"].append((a, b))
        if not rfc9162.verify_consistency(a, b, roots[a], roots[b], path):
            bad["verify"].append(("cons", a, b))
        if a < b and rfc9162.verify_consistency(a, b, roots[b], roots[a], path):
            bad["verify"].append(("cons swapped", a, b))

pairs = N * (N + 1) // 2
ok(seen == {"root": N, "incl": pairs, "cons": pairs}, f"the C dumped {N} roots and {pairs} of each proof")
ok(not bad["root"], f"C roots = Python MTH for sizes 1..{N} {bad['root'][:5]}")
ok(not bad["incl"], f"C inclusion paths = Python PATH(m, D[n]) for every pair {bad['incl'][:5]}")
ok(not bad["cons"], f"C consistency proofs = Python PROOF(m, D[n]) for every pair {bad['cons'][:5]}")
ok(not bad["verify"], f"every C proof verifies with the Python verifiers {bad['verify'][:5]}")
tampered = list(rfc9162.inclusion_path(5, leaves[:13]))
tampered[1] = bytes([tampered[1][0] ^ 1]) + tampered[1][1:]
ok(not rfc9162.verify_inclusion(5, 13, leaves[5], tampered, roots[13]),
   "the Python verifier refuses a tampered path")
print(f"1..{count}")
sys.exit(1 if failed else 0)
