#!/usr/bin/env bash
# Run the integration suite (pytest, tests/integration) against the real binaries.
# Usage: scripts/run-integration.sh [pytest args...]
# The binaries are taken from $DBAAS_BIN_DIR when set, else from bin/; that directory is put first
# on PATH. pytest's "no tests collected" (exit 5) counts as a failure.
#
# NOTES
# - DBAAS_SANITIZED=1 (make integration-test-san, part of make test): the binaries were built with
#   ASan and UBSan. Every sanitized process, whichever test started it and whatever its exit
#   status, writes its reports to a fresh directory (ASAN_OPTIONS/UBSAN_OPTIONS log_path; the
#   processes inherit the environment). The run fails when any report is there, even if every
#   test passed: a leak found at the exit of a process whose exit status no test checks (an
#   agent stopped with SIGTERM, dbaasctl) would otherwise go unseen. LeakSanitizer runs at every
#   normal exit (not after SIGKILL); UBSan stops at the first error.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${DBAAS_BIN_DIR:-$PWD/bin}
export PATH="$bin_dir:$PWD/bin:$PATH"

reports=
if [[ ${DBAAS_SANITIZED:-0} == 1 ]]; then
    reports=$(mktemp -d /tmp/dbaas-sanitizer.XXXXXX)
    # the agent's children may report after they dropped root (before they exec the engine)
    chmod 1777 "$reports"
    export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:halt_on_error=1"
    export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
    echo "run-integration: sanitized binaries from $bin_dir, reports in $reports"
fi

rc=0
/usr/bin/python3 -m pytest -q tests/integration "$@" || rc=$?
if ((rc == 5)); then
    echo "run-integration: no tests were collected" >&2
    rc=1
fi
if [[ -n $reports ]]; then
    found=$(find "$reports" -type f | sort)
    if [[ -n $found ]]; then
        echo "run-integration: sanitizer reports:" >&2
        for f in $found; do
            echo "==== $f" >&2
            cat "$f" >&2
        done
        rc=1
    else
        echo "run-integration: no sanitizer report"
        rm -rf "$reports"
    fi
fi
exit "$rc"
