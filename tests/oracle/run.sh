#!/bin/sh
# run.sh — run the live DSQL token oracle: zerosum's `dsql-token` against
# npm's @aws-sdk/dsql-signer (see oracle.mjs). Installs the locked npm
# dependencies on first use. Prints TAP; exits non-zero on any mismatch.
#
#   ZS_BIN=build/zerosum tests/oracle/run.sh    (ZS_BIN defaults to that)
#   ORACLE_SEED=N ORACLE_CASES=N                 (replay or widen a run)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ZS_BIN=${ZS_BIN:-$root/build/zerosum}
export ZS_BIN

if ! command -v node >/dev/null 2>&1; then
    echo "Bail out! node is not installed (needed for the oracle)"
    exit 1
fi

if [ ! -d "$here/node_modules/@aws-sdk/dsql-signer" ]; then
    log=$(mktemp)
    if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
        sed 's/^/# /' "$log"
        rm -f "$log"
        echo "Bail out! npm ci failed in $here"
        exit 1
    fi
    rm -f "$log"
fi

exec node "$here/oracle.mjs"
