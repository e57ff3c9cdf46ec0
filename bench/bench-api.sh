#!/usr/bin/env bash
# make bench-api: wrk against a real dbaasd with its embedded store on loopback.
#   1. creates: POST /v1/instances with unique names (fills the store past 1,000 instances)
#   2. GET /v1/instances/{id}
#   3. GET /v1/instances?limit=100 (the list, with > 1,000 instances in the store)
# Creates run against TENANTS tenants (default 8) and against one tenant: a tenant's creates
# are serialized by its quota check, so one tenant alone is bound by commit latency.
# Each is run RUNS times (default 5) for DURATION seconds; prints the median and the range of
# req/s, p50 and p99. Stops everything it started.
set -euo pipefail
KEEP=${KEEP:-}
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
PORT=${PORT:-18480}
U=http://127.0.0.1:$PORT
DIR=$(mktemp -d /tmp/dbaas-bench.XXXXXX)
chmod 755 "$DIR"

bin/dbaasd --data-dir "$DIR" --listen "127.0.0.1:$PORT" 2>"$DIR/dbaasd.log" &
pid=$!
cleanup() {
    kill -TERM $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    [[ -n $KEEP ]] || rm -rf "$DIR"
}
trap cleanup EXIT

deadline=$((SECONDS + 60))
until curl -fsS "$U/healthz" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "dbaasd not ready" >&2; exit 1; }
    kill -0 $pid || { cat "$DIR/dbaasd.log" >&2; exit 1; }
    sleep 0.1
done
OP=$(cat "$DIR/operator.token")
api() { curl -fsS -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' "$@"; }
# TENANTS tenants, each with a token and a quota of 1,000,000 instances (so that the quota check,
# a row lock on the tenant held until commit, is on the path).
TENANTS=${TENANTS:-8}
TOKENS=""
for t in $(seq 1 "$TENANTS"); do
    api -X POST "$U/v1/tenants" -d "{\"name\":\"bench$t\"}" >/dev/null
    api -X PUT "$U/v1/tenants/bench$t/quota" -d '{"max_instances":1000000}' >/dev/null
    tok=$(api -X POST "$U/v1/tenants/bench$t/tokens" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    TOKENS+="${TOKENS:+,}$tok"
done
TN=${TOKENS%%,*}
api -X POST "$U/v1/plans" -d '{"name":"bench","cpu_millis":100,"memory_mb":128,"disk_mb":128}' >/dev/null

# One wrk run; prints "rps p50_ms p99_ms errors".
run_wrk() {
    local script=$1 path=$2 out
    out=$(BENCH_TOKEN=$TN BENCH_TOKENS=${BENCH_TOKENS:-$TOKENS} BENCH_PATH=$path BENCH_PREFIX=${BENCH_PREFIX:-b} \
          wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "bench/$script" "$U$path" 2>&1)
    echo "$out" > "$DIR/wrk-last.txt"
    /usr/bin/python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(v):
    n = float(re.match(r"[\d.]+", v).group())
    return n / 1000 if v.endswith("us") else n * 1000 if v.endswith("s") and not v.endswith("ms") else n
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
errs = len(re.findall(r"unexpected status", out))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errs + (int(non2xx.group(1)) if non2xx else 0)}")
PY
}

summary() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import statistics, sys
name, rows = sys.argv[1], [list(map(float, l.split())) for l in sys.argv[2].strip().splitlines()]
def col(i): return [r[i] for r in rows]
def fmt(i, unit, nd):
    v = col(i)
    return f"{statistics.median(v):.{nd}f}{unit} (range {min(v):.{nd}f}-{max(v):.{nd}f})"
print(f"{name}: runs={len(rows)} req/s={fmt(0,'',0)} p50={fmt(1,' ms',2)} p99={fmt(2,' ms',2)} errors={int(sum(col(3)))}")
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); wrk -t2 -c$CONNS -d${DURATION}s; $(date -u +%F)"
rows=""
for i in $(seq 1 "$RUNS"); do
    rows+="$(BENCH_PREFIX=r$i run_wrk create.lua /v1/instances)"$'\n'
done
summary "create POST /v1/instances ($TENANTS tenants)" "$rows"
rows=""
for i in $(seq 1 "$RUNS"); do
    rows+="$(BENCH_PREFIX=s$i BENCH_TOKENS=$TN run_wrk create.lua /v1/instances)"$'\n'
done
summary "create POST /v1/instances (1 tenant)" "$rows"

count=$(api "$U/metrics" | awk -F' ' '/^dbaas_instances\{status="pending"\}/ {print $2}')
echo "instances in the store: $count"
ID=$(curl -fsS -H "Authorization: Bearer $TN" "$U/v1/instances?limit=1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

rows=""
for i in $(seq 1 "$RUNS"); do rows+="$(run_wrk get.lua "/v1/instances/$ID")"$'\n'; done
summary "get GET /v1/instances/{id}" "$rows"

rows=""
for i in $(seq 1 "$RUNS"); do rows+="$(run_wrk get.lua "/v1/instances?limit=100")"$'\n'; done
summary "list GET /v1/instances?limit=100" "$rows"
