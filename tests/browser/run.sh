#!/usr/bin/env bash
# run.sh — the dashboard's browser tests (TAP on stdout) against a running stack.
#
#   ZS_VAR=var/test tests/browser/run.sh
#
# Installs the npm dependencies (uPlot, playwright-core) and htdocs/vendor/
# if missing (scripts/build-dashboard), sources $ZS_VAR/stack.env for
# BASE_URL and the ports, and runs dashboard.test.mjs in Debian's headless
# Chromium (/usr/bin/chromium; apt-get install -y chromium).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
ZS_VAR=$(realpath -m -- "${ZS_VAR:-$REPO/var}")

die() { printf 'Bail out! %s\n' "$*"; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found (apt-get install -y nodejs npm)"
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || die "${CHROMIUM:-/usr/bin/chromium} not found (apt-get install -y chromium)"
"$REPO/scripts/build-dashboard" >&2 || die "scripts/build-dashboard failed"

[[ -r $ZS_VAR/stack.env ]] || die "no running stack in $ZS_VAR (no stack.env); start one with scripts/stack start"
# shellcheck source=/dev/null
. "$ZS_VAR/stack.env"
export ZS_VAR BASE_URL
export ZS_BIN=${ZS_BIN:-$REPO/build/zerosum}

exec node "$HERE/dashboard.test.mjs"
