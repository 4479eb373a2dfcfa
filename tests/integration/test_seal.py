"""Sealing (smoke)."""
import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from zs import *

alice, ta = create_account("alice", 1000)
bob, tb = create_account("bob", 0)
for i in range(5):
    post("/transfer", {"from": alice, "to": bob, "amount": 10 + i}, token=ta)
out = seal_now()
diag(out)
diag(query("SELECT seal_no, tree_size, records, counts FROM seals ORDER BY seal_no"))
ok(query("SELECT count(*) FROM transfers WHERE sealed IS NULL")[0][0] == 0, "all sealed")
done()
