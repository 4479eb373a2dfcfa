"""The pgbench scripts, generated from templates that name the server's statements.

A template (bench/sql/<scenario>.pgb) is a pgbench script in which the
server's statements are not copied but named, one line each:

    @ledger_lock_account ':lo' \\;        a statement of a compound (one round trip)
    @tx_commit ;                         the last (or only) statement of a round trip
    @lot_lock ':lot' \\gset l_            the last statement, its row stored by \\gset

`@NAME ARG...` expands to the named statement's postgres text exactly as the
server sends it (the JSON dump of the binary's table, `zerosum sql`), with
$1..$n replaced by the n arguments in order, followed by the terminator
(` \\;`, `;`, ` \\gset [prefix]` or ` \\aset`). An argument is a pgbench
variable (`':name'`, quoted: the scripts run with -M simple; or `:name`) or
an SQL literal (`'text'`, `NULL`, `42`). Every other line passes through
unchanged: meta-commands (\\set, \\if ...), comments, and the benchmark's own
statements, marked as today (a command after a `-- harness` comment line, or a
statement of a compound starting with `/* harness`). A server statement that
has no name yet may stay literal SQL when it starts with the comment
`/* unnamed`: the check reports it, and fails once a named statement has the
same text (re-run `bench/sqlgen convert`).

  generate(bin, outdir)      every template -> OUTDIR/<scenario>.sql
  check_template(text, tbl)  problems of one template (names, arguments, literals)
  convert(text, tbl)         a hand-written script (or a template) -> template text
  template_keys / log_keys   the statements, as names, of a template and of a
                             transaction read from PostgreSQL's statement log

bench/sqlgen is the command line; bench/README.md describes the scheme.
"""
import json
import os
import re
import subprocess

from ..stack import REPO

TEMPLATE_DIR = os.path.join(REPO, "bench", "sql")
TEMPLATE_EXT = ".pgb"
DEFAULT_OUT = os.path.join(REPO, "build", "bench-sql")
UNNAMED_MARK = "/* unnamed: no named statement has this text yet */"

_NAME = r"[a-z][a-z0-9_]*"
_ARG = r"'(?:[^']|'')*'|[^\s'\\;]+"
_TERM = r"\\;|;|\\[ga]set(?:\s+\w+)?"
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)@(?P<name>%s)(?P<args>(?:\s+(?:%s))*)\s*(?P<term>%s)\s*$"
                        % (_NAME, _ARG, _TERM))
_PARAM = re.compile(r"\$(\d+)")


class TemplateError(Exception):
    pass


# ---- the statement table -------------------------------------------------

def load_table(binary):
    """{name: {"nparams": n, "text": postgres text}} from `BINARY sql`."""
    p = subprocess.run([binary, "sql"], capture_output=True, text=True)
    if p.returncode != 0:
        raise TemplateError(f"{binary} sql failed (exit {p.returncode}): {p.stderr.strip()}")
    return {s["name"]: {"nparams": s["nparams"], "text": s["postgres"]} for s in json.loads(p.stdout)}


def by_normalised(table):
    """{normalised text: [names]} (several names may share one text)."""
    out = {}
    for name, s in table.items():
        out.setdefault(normalise(s["text"]), []).append(name)
    return out


# ---- normalised text, PostgreSQL's statement log -------------------------

def shape(sql):
    """Whitespace runs become one space, none after `(` or before `)`; no trailing `;`."""
    s = re.sub(r"\s+", " ", sql.strip())
    s = re.sub(r"\(\s+", "(", s)
    s = re.sub(r"\s+\)", ")", s)
    return s.rstrip(";").rstrip()


def normalise(sql):
    """shape(), with server parameters $n and pgbench variables (:name, ':name') as `?`."""
    s = re.sub(r"\$\d+", "?", sql)
    s = re.sub(r"':[A-Za-z_][A-Za-z0-9_]*'", "?", s)
    s = re.sub(r"(?<![:A-Za-z0-9_]):[A-Za-z_][A-Za-z0-9_]*", "?", s)
    return shape(s)


_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(?P<pid>\d+)\] "
    r"(?:(?P<user>[^@\s]*)@(?P<db>\S*) )?"
    r"(?P<level>LOG|DETAIL|ERROR|STATEMENT|WARNING|HINT|CONTEXT|FATAL|PANIC|NOTICE):  (?P<msg>.*)$")
_STATEMENT = re.compile(r"^(?:execute [^:]*|statement): (?P<sql>.*)$", re.S)


def parse_log(text, user="zerosum_app"):
    """Statements in log order, [{"pid", "sql", "params"}], for one database user,
    from a log written with log_statement = 'all' and the prefix '%m [%p] %q%u@%d '.
    Lines that do not start with the prefix continue the previous message."""
    entries, cur = [], None
    for line in text.split("\n"):
        m = _LOG_LINE.match(line)
        if not m:
            if cur is not None and line.startswith("\t"):
                cur["_buf"].append(line[1:])
            continue
        if cur is not None:
            _close(cur, entries)
            cur = None
        if m.group("user") != user:
            continue
        pid, level = int(m.group("pid")), m.group("level")
        if level == "LOG":
            cur = {"pid": pid, "_kind": "LOG", "_buf": [m.group("msg")]}
        elif level == "DETAIL" and entries and entries[-1]["pid"] == pid:
            cur = {"pid": pid, "_kind": "DETAIL", "_buf": [m.group("msg")]}
    if cur is not None:
        _close(cur, entries)
    return entries


def _close(cur, entries):
    text = "\n".join(cur["_buf"])
    if cur["_kind"] == "LOG":
        m = _STATEMENT.match(text)
        if m:
            entries.append({"pid": cur["pid"], "sql": m.group("sql"), "params": ""})
    elif text.startswith("parameters: "):
        for e in reversed(entries):         # the last statement of the same backend
            if e["pid"] == cur["pid"]:
                e["params"] = text[len("parameters: "):]
                break


def transactions(entries):
    """Each backend's statements split into BEGIN ... COMMIT/ROLLBACK blocks, in
    the order of their BEGINs; statements outside a block are left out."""
    open_tx, out = {}, []
    for e in entries:
        first = e["sql"].split(None, 1)[0].upper() if e["sql"].strip() else ""
        if first in ("BEGIN", "START"):
            open_tx[e["pid"]] = tx = [e]
            out.append(tx)
        elif e["pid"] in open_tx:
            open_tx[e["pid"]].append(e)
            if first in ("COMMIT", "ROLLBACK", "END"):
                del open_tx[e["pid"]]
    return out


def log_keys(tx, table):
    """A logged transaction's statements as [[names]] (one list of candidate
    names each; [] for a statement no name has)."""
    idx = by_normalised(table)
    return [(idx.get(normalise(e["sql"]), []), normalise(e["sql"])) for e in tx]


# ---- scripts and templates, split into round trips and statements --------

def commands(text):
    """A pgbench script's SQL commands: [{"lines": (first, last), "raw": text,
    "harness": bool}], in order. A command ends with `;` at the end of a line
    (not `\\;`) or with a trailing \\gset / \\aset; comment and meta-command
    lines between commands are skipped (a `-- harness` comment marks the next)."""
    out, buf, harness, first = [], [], False, 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not buf:
            if not stripped:
                continue
            if stripped.startswith("--"):
                harness = harness or stripped.lower().startswith("-- harness")
                continue
            if stripped.startswith("\\"):
                continue
            first = i
        code = re.sub(r"\s--\s.*$", "", line)
        buf.append(line)
        end = re.search(r"\\[ga]set(\s+\w+)?\s*$", code) or \
            (code.rstrip().endswith(";") and not code.rstrip().endswith("\\;"))
        if end:
            out.append({"lines": (first, i), "raw": "\n".join(buf), "harness": harness})
            buf, harness = [], False
    if buf and "".join(buf).strip():
        out.append({"lines": (first, len(lines) - 1), "raw": "\n".join(buf), "harness": harness})
    return out


def statements(cmd):
    """A command's statements (split at `\\;`): [{"lead", "body", "trail", "term",
    "kind", "line"}]; line: where the body starts (1-based); lead/trail are the whitespace around the body, term its terminator
    (`\\;`, `;`, `\\gset x`, or '' for a last one without). kind: "harness",
    "named" (an @NAME line), "unnamed" (marked literal SQL) or "literal"."""
    parts = re.split(r"\\;", cmd["raw"])
    out, offset = [], 0
    for k, part in enumerate(parts):
        start, offset = offset, offset + len(part) + 2
        term = "\\;" if k < len(parts) - 1 else ""
        if k == len(parts) - 1:
            m = re.search(r"(;|\\[ga]set(?:\s+\w+)?)(\s*(?:--\s.*)?)$", part)
            if m:
                term, part = m.group(1), part[:m.start()] + m.group(2)
        body = part.strip()
        if not body:
            continue
        lead = part[:len(part) - len(part.lstrip())]
        trail = part[len(part.rstrip()):]
        if cmd["harness"] or body.startswith("/* harness"):
            kind = "harness"
        elif body.startswith("@"):
            kind = "named"
        elif body.startswith("/* unnamed"):
            kind = "unnamed"
        else:
            kind = "literal"
        line = cmd["lines"][0] + 1 + cmd["raw"][:start + len(lead)].count("\n")
        out.append({"lead": lead, "body": body, "trail": trail, "term": term, "kind": kind, "line": line})
    return out


def strip_mark(body):
    """The SQL of an unnamed statement, without its leading /* unnamed ... */."""
    return re.sub(r"^/\*\s*unnamed.*?\*/\s*", "", body, flags=re.S)


def parse_directive(line):
    """(name, [args], term) of an @NAME line, or TemplateError."""
    m = _DIRECTIVE.match(line)
    if not m:
        raise TemplateError("malformed line (want: @name ARG... followed by \\; or ; or \\gset)")
    return m.group("name"), re.findall(_ARG, m.group("args")), re.sub(r"\s+", " ", m.group("term"))


def expand_directive(line, table):
    """The text an @NAME line stands for (its indentation dropped)."""
    name, args, term = parse_directive(line)
    s = table.get(name)
    if s is None:
        raise TemplateError(f"no statement named {name} (zerosum sql lists them)")
    if len(args) != s["nparams"]:
        raise TemplateError(f"{name} takes {s['nparams']} argument(s), {len(args)} given")
    text = _PARAM.sub(lambda m: args[int(m.group(1)) - 1], s["text"])
    return text + (";" if term == ";" else " " + term)


def expand(text, table, where="template"):
    """A template's pgbench script; TemplateError (with where:line) on a bad @ line."""
    out = []
    for i, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("@"):
            try:
                out.append(expand_directive(line, table))
            except TemplateError as e:
                raise TemplateError(f"{where}:{i}: {e}") from None
        else:
            out.append(line)
    return "\n".join(out)


def header(src):
    return (f"-- Generated by bench/sqlgen from bench/sql/{os.path.basename(src)} and the server's\n"
            "-- named statements (zerosum sql): do not edit; edit the template.\n")


def templates(srcdir=TEMPLATE_DIR):
    return sorted(os.path.join(srcdir, f) for f in os.listdir(srcdir) if f.endswith(TEMPLATE_EXT))


def generate(binary, outdir=DEFAULT_OUT, srcdir=TEMPLATE_DIR, table=None):
    """Write OUTDIR/<scenario>.sql for every template (only files whose text
    changes, each atomically); returns {scenario.sql: path}."""
    table = table or load_table(binary)
    os.makedirs(outdir, exist_ok=True)
    out = {}
    for src in templates(srcdir):
        with open(src, encoding="utf-8") as f:
            text = header(src) + expand(f.read(), table, os.path.relpath(src, REPO))
        name = os.path.basename(src)[:-len(TEMPLATE_EXT)] + ".sql"
        path = os.path.join(outdir, name)
        try:
            with open(path, encoding="utf-8") as f:
                same = f.read() == text
        except FileNotFoundError:
            same = False
        if not same:
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
        out[name] = path
    return out


PREPARED_OUT = os.path.join(REPO, "build", "bench-sql-prepared")
# pgbench -M prepared turns every :name into a parameter, inside quotes too:
# the to_char formats' :MI and :SS would become parameters. An empty quoted
# literal after the colon ("" prints nothing in a to_char format) keeps the
# same output without a colon followed by a name.
_TO_CHAR_COLON = re.compile(r"(?<=HH24):(MI):(SS)")
_QUOTED_VAR = re.compile(r"'(:[A-Za-z_][A-Za-z0-9_]*)'")
_BARE_NULL = re.compile(r"(?<!')(?<![\w:]):null\b(?!')")


def prepared_script(text):
    """A generated (-M simple) script as pgbench -M prepared can run it, the
    same statements with the same round trips where pgbench can express
    them: each `\\;` group becomes a \\startpipeline … \\endpipeline (pgbench
    refuses compound statements outside -M simple); a trailing \\gset, which
    pgbench refuses inside a pipeline, leaves its statement just after the
    pipeline (one more round trip: only the harness's next-transaction
    SELECT and the lot row's lock take it); ':var' literals become bare
    :var parameters, untyped as the server sends its own, and a bare :null
    (SQL text in -M simple) the keyword NULL."""
    lines = text.split("\n")
    out, i = [], 0
    for cmd in commands(text):
        first, last = cmd["lines"]
        out += lines[i:first]
        i = last + 1
        sts = statements(cmd)
        gset = sts and sts[-1]["term"].startswith("\\")
        piped, tail = (sts[:-1], sts[-1]) if gset else (sts, None)
        if len(piped) > 1:
            out.append("\\startpipeline")
            out += [st["body"] + ";" for st in piped]
            out.append("\\endpipeline")
        else:
            out += [st["body"] + ";" for st in piped]
        if tail:
            out.append(tail["body"] + " " + tail["term"])
    out += lines[i:]
    text = "\n".join(out)
    text = _TO_CHAR_COLON.sub(r':""\1:""\2', text)
    # an unquoted :null is SQL text in -M simple (the keyword NULL), a value
    # (the string 'NULL') as a parameter: write the keyword
    text = _BARE_NULL.sub("NULL", text)
    return _QUOTED_VAR.sub(r"\1", text)


def generate_prepared(binary, outdir=PREPARED_OUT):
    """generate() into build/bench-sql, then each script's prepared_script()
    into OUTDIR; returns {scenario.sql: path}."""
    simple = scripts_for(binary)
    os.makedirs(outdir, exist_ok=True)
    out = {}
    for name, path in simple.items():
        with open(path, encoding="utf-8") as f:
            text = prepared_script(f.read())
        dest = os.path.join(outdir, name)
        with open(dest + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(dest + ".tmp", dest)
        out[name] = dest
    return out


_GENERATED = {}


def scripts_for(binary, outdir=DEFAULT_OUT):
    """generate() once per process and binary: {scenario.sql: path}."""
    key = (os.path.realpath(binary), outdir)
    if key not in _GENERATED:
        _GENERATED[key] = generate(binary, outdir)
    return _GENERATED[key]


def check_template(text, table):
    """(errors, unnamed) of one template: errors are bad @ lines, unmarked
    literal SQL, and unnamed statements a name now has (convert again);
    unnamed lists the marked literal statements that have no name yet."""
    errors, unnamed = [], []
    idx = by_normalised(table)
    try:
        expand(text, table)
    except TemplateError as e:
        errors.append(str(e))
    for cmd in commands(text):
        for st in statements(cmd):
            where = f"line {st['line']}"
            if st["kind"] == "literal":
                errors.append(f"{where}: literal SQL not marked /* unnamed */ nor harness: {st['body'][:60]}")
            elif st["kind"] == "unnamed":
                names = idx.get(normalise(strip_mark(st["body"])))
                if names:
                    errors.append(f"{where}: unnamed statement is {names[0]} now (re-run bench/sqlgen convert)")
                else:
                    unnamed.append(f"{where}: {shape(strip_mark(st['body']))[:70]}")
    return errors, unnamed


def template_keys(text, table):
    """The server's statements a template claims, in order, as names (a marked
    literal statement: the name with its text if there is one, else 'sql: <text>')."""
    idx = by_normalised(table)
    out = []
    for cmd in commands(text):
        for st in statements(cmd):
            if st["kind"] == "named":
                out.append(parse_directive(st["body"] + " " + (st["term"] or ";"))[0])
            elif st["kind"] in ("unnamed", "literal"):
                n = normalise(strip_mark(st["body"]))
                out.append((idx.get(n) or ["sql: " + n])[0])
    return out


def round_trips(text):
    """A template's round trips as lists of statement kinds/names (for people)."""
    out = []
    for cmd in commands(text):
        sts = [st for st in statements(cmd) if st["kind"] != "harness"]
        if sts:
            out.append([st["body"].split()[0] if st["kind"] == "named" else st["kind"] for st in sts])
    return out


def compare(server, template):
    """server: log_keys(); template: template_keys(). (equal?, server names as
    shown, using the template's name where the server's text has several)."""
    shown = []
    for k, (names, text) in enumerate(server):
        want = template[k] if k < len(template) else None
        if want in names:
            shown.append(want)
        elif names:
            shown.append("|".join(names))
        else:
            shown.append("sql: " + text)
    return shown == template, shown


# ---- the converter ------------------------------------------------------

def _pattern(text):
    """A regex matching shape(SCRIPT TEXT) for the shape of a named statement,
    one group per parameter (a repeated $n must be the same argument)."""
    out, seen = [], set()
    pos = 0
    s = shape(text)
    for m in _PARAM.finditer(s):
        out.append(re.escape(s[pos:m.start()]))
        n = m.group(1)
        if n in seen:
            out.append(f"(?P=p{n})")
        else:
            seen.add(n)
            out.append(rf"(?P<p{n}>'(?:[^']|'')*'|:[A-Za-z_]\w*|[A-Za-z0-9_.+-]+)")
        pos = m.end()
    out.append(re.escape(s[pos:]))
    return re.compile("".join(out))


def name_statement(sql, table, _cache={}):
    """[(name, [args])] of the named statements whose text, with its $n
    replaced by pgbench arguments, is sql (whitespace aside), in table order."""
    s, hits = shape(sql), []
    for name, st in table.items():
        key = (name, st["text"])
        if key not in _cache:
            _cache[key] = _pattern(st["text"])
        m = _cache[key].fullmatch(s)
        if m:
            hits.append((name, [m.group(f"p{i}") for i in range(1, st["nparams"] + 1)]))
    return hits


def convert(text, table):
    """(template text, report): every non-harness statement of a pgbench
    script (or a template: @ lines stay, unnamed ones are tried again) that a
    named statement has becomes an @NAME line; the rest stays literal SQL,
    marked /* unnamed */. report: [(line, what, detail)] with what in
    named/unnamed/ambiguous."""
    lines = text.split("\n")
    out, report, at = [], [], 0
    for cmd in commands(text):
        first, last = cmd["lines"]
        out.extend(lines[at:first])
        pieces = []
        for st in statements(cmd):
            body = st["body"]
            if st["kind"] in ("unnamed", "literal"):
                sql = strip_mark(body)
                hits = name_statement(sql, table)
                where = st["line"]
                if hits:
                    name, args = hits[0]
                    body = "@" + name + "".join(" " + a for a in args)
                    if len(hits) > 1:
                        report.append((where, "ambiguous", f"{name} (also {', '.join(h[0] for h in hits[1:])})"))
                    report.append((where, "named", name))
                else:
                    body = UNNAMED_MARK + "\n" + sql
                    report.append((where, "unnamed", shape(sql)[:70]))
            term = st["term"]
            if body.startswith("@"):
                term = term or ";"
                piece = st["lead"] + body + ("" if term == ";" else " ") + term
            else:
                piece = st["lead"] + body + st["trail"] + term
            pieces.append(piece)
        out.append("".join(pieces))
        at = last + 1
    out.extend(lines[at:])
    return "\n".join(out), report
