#!/usr/bin/env bash
# Run each libFuzzer target given (bin-fuzz/fuzz/fuzz_*) for FUZZ_SECONDS (default 30), one at
# a time, from its seed corpus tests/fuzz/corpus/<target> (read only: new inputs go to a
# scratch directory that is removed afterwards). Any crash, leak, timeout or sanitizer report
# fails the run; the failing input is kept under /tmp and named in the output. Prints one line
# per target: executions, seconds, coverage (libFuzzer's final stats).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
rc=0
for bin in "$@"; do
    name=$(basename "$bin")
    seeds=tests/fuzz/corpus/$name
    work=$(mktemp -d "/tmp/dbaas-fuzz-$name.XXXXXX")
    log=$work.log
    [[ -d $seeds ]] || { echo "run-fuzz: no seed corpus $seeds" >&2; rc=1; continue; }
    if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$work-" "$work" "$seeds" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        echo "fuzz $name: ok execs=${execs:-?} seconds=$seconds cov=${cov:-?}"
        rm -rf "$work" "$log"
    else
        echo "fuzz $name: FAILED (log $log, inputs $work-*)" >&2
        tail -60 "$log" >&2
        rm -rf "$work"
        rc=1
    fi
done
exit "$rc"
