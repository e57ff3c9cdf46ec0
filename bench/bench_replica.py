#!/usr/bin/python3
"""make bench-replica: what a replica costs (docs/benchmarks.md).

Per engine (ENGINES, default "postgres mysql redis"), on the rig of tests/integration/
test_replication.py (dbaasd with its embedded store and three agents on 127.0.0.2-4, cgroup
backend, as root):

1. Seeding. A primary is filled with DATA_MB (default 1024) of data; then, RUNS times (default
   3), a replica is added with PATCH {"replicas": 1} and timed from the request until it runs,
   streams and has caught up (lag_bytes 0); it is then removed again. Beside each addition, in
   the same run and on the same disk, the primary's data directory is copied with `cp -a` (the
   plain copy the target compares with: an addition within 1.5x of it).
2. Lag. With one replica, a writer commits LAG_RATE (default 1000) small writes a second on the
   primary for LAG_SECONDS (default 20), each carrying its sequence number; a reader polls the
   replica every 5 ms for the highest sequence it sees. A write's lag is the time from its
   acknowledgement on the primary until the replica shows it (so it includes up to one poll
   interval). p50 and p99 over every write (target: p99 under 1 s for PostgreSQL and MariaDB).

The last lines, one per engine, read:
  replica <engine>: data_mb=N add_s=<median> copy_s=<median> ratio=<median> (spread a-b) lag_p50_ms=N lag_p99_ms=N writes=N
"""

import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

import stack as S  # noqa: E402
from conftest import expect  # noqa: E402
from test_replication import PG_BIN, Client, Rig, ep, healthy, primary_of, replicas_of  # noqa: E402

DATA_MB = int(os.environ.get("DATA_MB", "1024"))
RUNS = int(os.environ.get("RUNS", "3"))
LAG_RATE = int(os.environ.get("LAG_RATE", "1000"))
LAG_SECONDS = float(os.environ.get("LAG_SECONDS", "20"))
ENGINES = os.environ.get("ENGINES", "postgres mysql redis").split()


def member_data_dir(rig, member_id):
    for a in rig.agents:
        d = os.path.join(a.data, "members", str(member_id), "data")
        if os.path.isdir(d):
            return d
    S.die("no data directory for member %d" % member_id)


def dir_mb(path):
    out = subprocess.run(["du", "-sm", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def fill(engine, cl, creds, host, port, mb):
    """Put about mb MiB of data into the primary."""
    if engine == "postgres":
        # pgbench: scale 1 is about 15 MiB of tables and indexes
        env = dict(os.environ, PGPASSWORD=creds["password"])
        subprocess.run([PG_BIN + "/pgbench", "-i", "-q", "-s", str(max(1, mb // 15)), "-h", host, "-p",
                        str(port), "-U", creds["username"], creds["database"]], env=env, check=True,
                       capture_output=True, timeout=3600)
    elif engine == "mysql":
        cl.sql("CREATE TABLE IF NOT EXISTS fill (id bigint PRIMARY KEY, v varchar(1000)) ENGINE=InnoDB")
        rows = mb * 1024 // 1  # about 1 KiB a row
        step = 20000
        for lo in range(0, rows, step):
            cl.sql("INSERT INTO fill SELECT seq, REPEAT('x', 1000) FROM seq_%d_to_%d" % (lo + 1, lo + step))
    else:
        value = b"x" * 1000
        n = mb * 1024
        for lo in range(0, n, 5000):
            p = cl.c.pipeline(transaction=False)
            for i in range(lo, min(n, lo + 5000)):
                p.set("fill:%d" % i, value)
            p.execute()


def add_replica(rig, iid):
    t0 = time.monotonic()
    expect(rig.client.patch("/v1/instances/" + iid, {"replicas": 1}), 202)
    inst = rig.wait(iid, ("running",), timeout=3600,
                    cond=lambda i: healthy(i, 1) and replicas_of(i)[0]["lag_bytes"] == 0)
    return time.monotonic() - t0, inst


def remove_replica(rig, iid):
    expect(rig.client.patch("/v1/instances/" + iid, {"replicas": 0}), 202)
    rig.wait(iid, ("running",), timeout=600,
             cond=lambda i: len(i["members"]) == 1 and healthy(i, 0))


def plain_copy(src, scratch):
    dst = os.path.join(scratch, "copy")
    subprocess.run(["rm", "-rf", dst], check=True)
    t0 = time.monotonic()
    subprocess.run(["cp", "-a", src, dst], check=True)
    subprocess.run(["sync"], check=True)
    dt = time.monotonic() - t0
    subprocess.run(["rm", "-rf", dst], check=True)
    return dt


def measure_lag(engine, creds, prim, rep):
    """Lags in seconds of LAG_RATE writes/s for LAG_SECONDS: acknowledgement on the primary to
    visibility on the replica."""
    w = Client(engine, *ep(prim), creds)
    r = Client(engine, *ep(rep), creds)
    if engine != "redis":
        w.sql("CREATE TABLE IF NOT EXISTS lagprobe (seq bigint PRIMARY KEY)")
        deadline = time.monotonic() + 60
        while True:  # the table reaches the replica before the clock starts
            try:
                r.sql("SELECT count(*) FROM lagprobe")
                break
            except Exception:  # noqa: BLE001 - not there yet (each client's own error)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    acked = {}
    seen = {}
    done = threading.Event()

    def reader():
        while not done.is_set() or len(seen) < len(acked):
            if engine == "redis":
                v = r.c.get("lagprobe")
                top = int(v) if v else 0
            else:
                row = r.sql("SELECT coalesce(max(seq), 0) FROM lagprobe")
                top = int(row[0][0])
            now = time.monotonic()
            for s in range(len(seen) + 1, top + 1):
                seen[s] = now
            if done.is_set() and time.monotonic() - stop_at[0] > 30:
                break
            time.sleep(0.005)

    stop_at = [0.0]
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    n = int(LAG_RATE * LAG_SECONDS)
    t0 = time.monotonic()
    for s in range(1, n + 1):
        due = t0 + (s - 1) / LAG_RATE
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if engine == "redis":
            w.c.set("lagprobe", s)
        else:
            w.sql("INSERT INTO lagprobe VALUES (%s)", s)
        acked[s] = time.monotonic()
    rate = n / (time.monotonic() - t0)
    stop_at[0] = time.monotonic()
    done.set()
    t.join(60)
    w.close()
    r.close()
    lags = sorted(seen[s] - acked[s] for s in acked if s in seen)
    missing = n - len(lags)
    if missing:
        S.die("%d of %d writes never showed on the replica" % (missing, n))
    return lags, rate


def pct(sorted_v, p):
    return sorted_v[min(len(sorted_v) - 1, int(len(sorted_v) * p / 100.0))]


def bench_engine(rig, engine, scratch):
    body = expect(rig.client.post("/v1/instances", {
        "name": "bench-%s" % engine, "engine": engine, "replicas": 0,
        "plan": rig.env.mk_plan(cpu_millis=1000, memory_mb=3 * DATA_MB if engine == "redis" else 1024,
                                disk_mb=8 * DATA_MB)}), 202)
    inst = rig.wait(body["id"], ("running",), cond=lambda i: healthy(i, 0))
    creds = body["credentials"]
    prim = primary_of(inst)
    cl = Client(engine, *ep(prim), creds)
    t0 = time.monotonic()
    fill(engine, cl, creds, *ep(prim), DATA_MB)
    cl.close()
    src = member_data_dir(rig, prim["id"])
    print("bench: %s primary filled in %.1f s: data directory %d MiB" % (
        engine, time.monotonic() - t0, dir_mb(src)), flush=True)
    adds, copies, ratios = [], [], []
    for run in range(RUNS):
        copy_s = plain_copy(src, scratch)
        add_s, inst = add_replica(rig, body["id"])
        copies.append(copy_s)
        adds.append(add_s)
        ratios.append(add_s / copy_s)
        print("bench: %s run %d: add %.2f s, plain copy %.2f s, ratio %.2f" % (
            engine, run + 1, add_s, copy_s, add_s / copy_s), flush=True)
        if run + 1 < RUNS:
            remove_replica(rig, body["id"])
    lags, rate = measure_lag(engine, creds, primary_of(inst), replicas_of(inst)[0])
    expect(rig.client.delete("/v1/instances/" + body["id"]), 202)
    rig.wait(body["id"], ("deleted",), timeout=600)
    return ("replica %s: data_mb=%d add_s=%.2f copy_s=%.2f ratio=%.2f (spread %.2f-%.2f) "
            "lag_p50_ms=%.1f lag_p99_ms=%.1f writes=%d rate=%.0f/s runs=%d" % (
                engine, DATA_MB, statistics.median(adds), statistics.median(copies),
                statistics.median(ratios), min(ratios), max(ratios), pct(lags, 50) * 1000,
                pct(lags, 99) * 1000, len(lags), rate, RUNS))


def main():
    S.require_root()
    S.become_subreaper()
    print("bench: " + S.machine(), flush=True)
    S.wait_for_quiet_machine()
    rig = Rig("cgroup")
    lines = []
    scratch = None
    try:
        rig.start()
        scratch = os.path.join(rig.agents[0].dir, "scratch")
        os.makedirs(scratch, exist_ok=True)
        for engine in ENGINES:
            lines.append(bench_engine(rig, engine, scratch))
    finally:
        rig.stop()
    note = S.foreign_agents_summary()
    if note:
        print("bench: " + note)
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
