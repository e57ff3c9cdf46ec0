#!/usr/bin/env bash
# Run cmocka unit test binaries and total their test cases.
# Usage: scripts/run-unit.sh [-v] BINARY...   (make unit-test passes $(UNIT_TESTS))
#
# Prints one line per binary, the full output of any binary that fails (all of them with -v),
# then exactly one summary line "N passed, N failed" counting individual cmocka test cases.
# Exits 1 if any test case failed or any binary misbehaved, 2 on a usage error.
#
# Counting: cmocka writes "Running N test(s)" and one "[       OK ] name" per passing case to
# stdout (its summary goes to stderr). A case that did not pass is failed, so a binary that dies
# part-way (ASan abort, timeout) counts its unfinished cases as failed. A binary that exits
# non-zero although every case passed (a leak reported at exit) or that cannot be run at all
# adds one failure of its own.
set -uo pipefail

verbose=0
if [[ ${1:-} == -v ]]; then
    verbose=1
    shift
fi
if (($# == 0)); then
    echo "usage: $0 [-v] BINARY..." >&2
    exit 2
fi

# Seconds one binary may run before it is killed and counted as failed.
timeout_s=${UNIT_TIMEOUT:-300}

# Plain cmocka output on stdout, whatever the caller's environment says.
export CMOCKA_MESSAGE_OUTPUT=stdout
unset CMOCKA_TEST_ABORT CMOCKA_XML_FILE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

total_passed=0
total_failed=0

for bin in "$@"; do
    name=$(basename "$bin")
    if [[ ! -x $bin ]]; then
        echo "FAIL $name: not found or not executable: $bin"
        total_failed=$((total_failed + 1))
        continue
    fi

    timeout --kill-after=10 "$timeout_s" "$bin" >"$tmp/out" 2>"$tmp/err"
    rc=$?

    total=$(sed -n 's/^\[==========\] Running \([0-9][0-9]*\) test(s)\.$/\1/p' "$tmp/out" | head -n 1)
    passed=$(grep -c '^\[       OK \] ' "$tmp/out")
    note=""
    if [[ -z $total ]]; then
        # Not even the start line: count the binary itself as one failure.
        total=$((passed + 1))
        note=" (no cmocka output)"
    fi
    failed=$((total - passed))
    if ((rc != 0 && failed == 0)); then
        failed=1
        note=" (exited with status $rc after its tests passed)"
    elif ((rc == 124 || rc == 137)); then
        note=" (timed out after ${timeout_s}s)"
    elif ((rc > 128)); then
        note=" (killed by signal $((rc - 128)))"
    fi

    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    if ((failed == 0)); then
        echo "ok   $name: $passed passed"
    else
        echo "FAIL $name: $passed passed, $failed failed$note"
    fi
    if ((failed != 0 || verbose)); then
        sed 's/^/    /' "$tmp/out"
        sed 's/^/    /' "$tmp/err"
    fi
done

echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
