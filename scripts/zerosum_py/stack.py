"""Stack discovery: the repository, a stack's runtime dir and what
`scripts/stack start` writes into it (stack.env, secrets/jwt.key), the
database connections the tools open, and the ledger's fixed accounts."""
import os
import shlex
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

# The ledger's fixed accounts (sql/migrations): the issuer every funding
# transfer comes from, and the subject of the admin tokens the tools mint.
ISSUER = "00000000-0000-0000-0000-000000000001"
ADMIN_SUB = "00000000-0000-0000-0000-000000000000"


def var_dir(explicit=None):
    """The runtime dir: explicit, else $ZS_VAR, else the repository's var/ (absolute)."""
    return os.path.abspath(explicit or os.environ.get("ZS_VAR") or os.path.join(REPO, "var"))


def load_env(var):
    """$var/stack.env as a dict (`export K=V` lines, V shell-quoted); None if unreadable."""
    env = {}
    try:
        with open(os.path.join(var, "stack.env")) as f:
            for line in f:
                line = line.strip()
                if line.startswith("export "):
                    line = line[len("export "):]
                if "=" not in line or line.startswith("#"):
                    continue
                k, v = line.split("=", 1)
                parts = shlex.split(v) if v else []
                env[k] = parts[0] if parts else ""
    except OSError:
        return None
    return env


def key_file(var):
    """The stack's JWT key ring."""
    return os.path.join(var, "secrets", "jwt.key")


def base_url(env):
    """nginx's base URL from a stack.env dict."""
    return env.get("BASE_URL") or f"http://127.0.0.1:{env.get('PORT', '8080')}"


def zs_bin():
    """The daemon binary the tools run: $ZS_BIN, else build/zerosum."""
    return os.environ.get("ZS_BIN") or os.path.join(REPO, "build", "zerosum")


def db_connect(env, via="postgres", user="zerosum", **kw):
    """A psycopg2 connection (autocommit) to the stack's database: straight to
    PostgreSQL, or through PgBouncer (via="pgbouncer"); keyword arguments go
    to psycopg2.connect."""
    import psycopg2
    port = env.get("ZS_PGB_PORT") if via == "pgbouncer" else (env.get("ZS_PG_PORT") or env.get("PGPORT"))
    conn = psycopg2.connect(host=env["PGHOST"], port=int(port), dbname=env.get("PGDATABASE") or "zerosum",
                            user=user, **kw)
    conn.autocommit = True
    return conn


def run_stack(*args, env=None):
    """scripts/stack ARGS with env (default: this process's), output captured."""
    return subprocess.run([os.path.join(REPO, "scripts", "stack"), *args],
                          env=os.environ if env is None else env, capture_output=True, text=True)
