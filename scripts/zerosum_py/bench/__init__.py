"""bench/run's benchmark (usage: zerosum_py.bench.cli).

  stack      the bench stacks (one per connection policy) and their setup
  sqlgen     the pgbench scripts: templates naming the server's statements
             (bench/sql/*.pgb) -> build/bench-sql/*.sql, the converter, the log reader
  load       wrk, pgbench and the figures made of their output
  scenarios  the scenarios, their goals, one row per scenario and policy
  report     the machine, the table, the README's markdown
  cli        arguments and the run over policies and scenarios
"""
