"""zerosum_py — the Python side of everything that talks to a zerosum stack.

  stack      where a stack is: its runtime dir, stack.env, ports, key ring,
             database connections, and the ledger's fixed accounts
  tokens     bearer tokens: the key ring and the one HS256 minting routine
  client     the HTTP client (one-shot and keep-alive), the barrier-released
             burst and the bounded same-key re-send
  metrics    the /metrics counters the tools read
  stampede   scripts/stampede: the concurrency scenarios and their verifiers
  bench      bench/run: the benchmark scenarios, load generators, report

scripts/stampede, bench/run, bench/profile and tests/lib/zs.py import it with
the repository's scripts/ directory on sys.path.
"""
