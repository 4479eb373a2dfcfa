"""sqlcheck — compare bench/sql/*.sql (pgbench scripts) with the statements the
server really executes, as PostgreSQL logs them with log_statement = 'all'.

Used by tests/integration/test_bench_sql.py, and on its own to show what the
server ran (the starting point when a script must be brought up to date):

    bench/sqlcheck.py LOGFILE [--user zerosum_app]   # one transaction a block
    bench/sqlcheck.py --script bench/sql/transfer-uniform.sql

Normalisation, applied to both sides before comparing:
  - server parameters `$1`, `$2` ... and pgbench variables `:name` (quoted
    `':name'` too, as the scripts run under `pgbench -M simple`) become `?`;
  - runs of whitespace become one space; no space after `(` or before `)`;
  - a trailing `;` is dropped.
A pgbench compound command (`a \\; b`: one round trip) counts as its
statements in order. Script statements preceded by a comment line starting with `-- harness`, and
statements of a compound that begin with the comment `/* harness`, are
the benchmark's own (e.g. picking random accounts and generating the ids the
worker generates in C) and are not compared.
"""
import re
import sys

_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(?P<pid>\d+)\] "
    r"(?:(?P<user>[^@\s]*)@(?P<db>\S*) )?"
    r"(?P<level>LOG|DETAIL|ERROR|STATEMENT|WARNING|HINT|CONTEXT|FATAL|PANIC|NOTICE):  (?P<msg>.*)$")
_STATEMENT = re.compile(r"^(?:execute [^:]*|statement): (?P<sql>.*)$", re.S)


def parse_log(text, user="zerosum_app"):
    """Statements in log order: [{"pid", "sql", "params"}] for one database user.

    Lines that do not start with the log_line_prefix ('%m [%p] %q%u@%d ')
    continue the previous message (PostgreSQL indents them with a tab)."""
    entries = []
    cur = None
    for line in text.split("\n"):
        m = _LOG_LINE.match(line)
        if not m:
            if cur is not None and line.startswith("\t"):
                cur["_buf"].append(line[1:])
            continue
        if cur is not None:
            _close(cur, entries)
            cur = None
        level, msg = m.group("level"), m.group("msg")
        if m.group("user") != user:
            continue
        if level == "LOG":
            cur = {"pid": int(m.group("pid")), "_kind": "LOG", "_buf": [msg]}
        elif level == "DETAIL" and entries and entries[-1]["pid"] == int(m.group("pid")):
            cur = {"pid": int(m.group("pid")), "_kind": "DETAIL", "_buf": [msg]}
    if cur is not None:
        _close(cur, entries)
    return entries


def _close(cur, entries):
    text = "\n".join(cur["_buf"])
    if cur["_kind"] == "LOG":
        m = _STATEMENT.match(text)
        if m:
            entries.append({"pid": cur["pid"], "sql": m.group("sql"), "params": ""})
    elif cur["_kind"] == "DETAIL" and text.startswith("parameters: "):
        # the DETAIL belongs to the last statement of the same backend
        for e in reversed(entries):
            if e["pid"] == cur["pid"]:
                e["params"] = text[len("parameters: "):]
                break


def transactions(entries):
    """Split each backend's statements into BEGIN ... COMMIT/ROLLBACK blocks,
    in the order their BEGINs appear. Statements outside a block are left out."""
    open_tx = {}
    out = []
    for e in entries:
        first = e["sql"].lstrip().split(None, 1)[0].upper() if e["sql"].strip() else ""
        if first in ("BEGIN", "START"):
            tx = [e]
            open_tx[e["pid"]] = tx
            out.append(tx)
        elif e["pid"] in open_tx:
            open_tx[e["pid"]].append(e)
            if first in ("COMMIT", "ROLLBACK", "END"):
                del open_tx[e["pid"]]
    return out


def normalise(sql):
    s = sql.strip()
    s = re.sub(r"\$\d+", "?", s)                                  # server parameters
    s = re.sub(r"':[A-Za-z_][A-Za-z0-9_]*'", "?", s)             # pgbench ':var' (simple mode)
    s = re.sub(r"(?<![:A-Za-z0-9_]):[A-Za-z_][A-Za-z0-9_]*", "?", s)  # pgbench :var
    s = re.sub(r"\s+", " ", s)
    s = re.sub(r"\(\s+", "(", s)
    s = re.sub(r"\s+\)", ")", s)
    s = s.rstrip(";").rstrip()
    return s


def parse_script(path):
    """SQL commands of a pgbench script: [(sql, harness?)] in order.

    A command ends with ';' at the end of a line, or with a trailing
    \\gset / \\aset meta-command (which takes the semicolon's place).
    Lines starting with a backslash are meta-commands (\\set ...), skipped."""
    out = []
    buf = []
    harness = False
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not buf:
                if not stripped:
                    continue
                if stripped.startswith("--"):
                    if stripped.lower().startswith("-- harness"):
                        harness = True
                    continue
                if stripped.startswith("\\"):
                    continue
            code = re.sub(r"\s--\s.*$", "", line) if " -- " in line else line
            m = re.search(r"\\[ga]set(\s+\w+)?\s*$", code)
            if m:
                buf.append(code[:m.start()])
                out.append((" ".join(buf), harness))
                buf, harness = [], False
                continue
            buf.append(code)
            if code.rstrip().endswith(";") and not code.rstrip().endswith("\\;"):
                out.append((" ".join(buf), harness))
                buf, harness = [], False
    if buf and " ".join(buf).strip():
        out.append((" ".join(buf), harness))
    return out


def split_compound(sql):
    """A pgbench compound command `a \\; b \\; c` (one round trip, as the
    server's pipelined batches) is several statements."""
    return [part for part in re.split(r"\\;", sql) if part.strip()]


def script_commands(path):
    """The script's round trips: [[normalised statement, ...], ...], harness left out
    (a whole command after a `-- harness` line, or a statement in a compound that
    starts with the comment `/* harness`)."""
    out = []
    for s, h in parse_script(path):
        if h:
            continue
        parts = [normalise(x) for x in split_compound(s) if not x.strip().startswith("/* harness")]
        if parts:
            out.append(parts)
    return out


def script_statements(path):
    """The normalised statements a script claims the server executes, in order."""
    return [x for cmd in script_commands(path) for x in cmd]


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("logfile", nargs="?")
    ap.add_argument("--user", default="zerosum_app")
    ap.add_argument("--script")
    a = ap.parse_args(argv)
    if a.script:
        for s in script_statements(a.script):
            print(s)
        return 0
    if not a.logfile:
        ap.error("LOGFILE or --script is required")
    with open(a.logfile, errors="replace") as f:
        txs = transactions(parse_log(f.read(), a.user))
    for tx in txs:
        print(f"-- backend {tx[0]['pid']}: {len(tx)} statements")
        for e in tx:
            print(normalise(e["sql"]) + ";")
            if e["params"]:
                print(f"--   {e['params'][:300]}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
