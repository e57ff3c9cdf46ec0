#!/usr/bin/env bash
# Run the integration suite (pytest, tests/integration) against the real binaries.
# Usage: scripts/run-integration.sh [pytest args...]
# The binaries are taken from $DBAAS_BIN_DIR when set, else from bin/; that directory is put first
# on PATH. pytest's "no tests collected" (exit 5) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${DBAAS_BIN_DIR:-$PWD/bin}
export PATH="$bin_dir:$PWD/bin:$PATH"

rc=0
/usr/bin/python3 -m pytest -q tests/integration "$@" || rc=$?
if ((rc == 5)); then
    echo "run-integration: no tests were collected" >&2
    exit 1
fi
exit "$rc"
