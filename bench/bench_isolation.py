#!/usr/bin/python3
"""make bench-isolation: the noisy neighbour. Two PostgreSQL instances on one host; pgbench TPS of
the victim alone, then while the neighbour runs a CPU hog and a write hog, with isolation on and
with it off, measured side by side in one run.

Setup (one dbaasd + dbaas-agent stack, cgroup backend, as tests/integration/test_agent.py):
  isolated pair:   victim plan 1000 millicores; neighbour plan 1000 millicores + write_bps limit
  unlimited pair:  victim and neighbour plans of 2000 millicores on this 2-core machine (more
                   than the machine: the quota never binds), no IO limit
  Every plan has the same memory (1 GiB) and disk (4 GiB), so the engines' configuration (sized
  from memory and disk) is the same in both pairs; the memory limit never binds (the pgbench
  data set is about 80 MB). All four instances run for the whole benchmark; the idle pair costs
  next to nothing.

Victim workload: pgbench -i -s 5 once, then RUNS rounds (default 5; BENCH_RUNS) of, for each
pair: a solo run and a noisy run (the order of the pairs, and of solo and noisy, alternates
every round), each
`pgbench -c 2 -j 1 -T DURATION` (default 5 s; BENCH_DURATION) over 127.0.0.1 as the tenant
(PGPASSWORD). MODES (BENCH_MODES, default "tpcb select") picks the transaction mix: "tpcb" is
pgbench's default TPC-B-like mix (updates, an insert, a commit with a WAL flush per
transaction: sensitive to CPU and to the disk), "select" is -S (index lookups from shared
buffers: sensitive to CPU only).

Neighbour's hogs, started 1 s before the victim's noisy run and stopped after it:
  CPU hog:   2 connections to the neighbour, each running
             SELECT count(x) FROM (SELECT generate_series(1, 10^12) AS x) s (cancelled at the
             end; pure CPU: no temporary file, unlike generate_series in FROM)
  write hog: 1 connection to the neighbour inserting 8 MB per statement into a table (WAL
             writes and their fsyncs by the neighbour's backend), and a `dd oflag=direct`
             process (64 MiB at a time, 1 MiB blocks) that joins the neighbour's cgroups
             (cpu, cpuacct, memory, blkio) before it execs, as a process of the instance would.
Before the rounds, a write-limit check on the isolated neighbour alone (BENCH_LIMIT_CHECK=0
skips it), CHECK_WINDOW seconds each: the dd writer, then 2 connections running
SELECT count(*) FROM generate_series(1, 10^12), whose rows spill to a temporary file (as a big
sort or hash does): the neighbour's cgroup and the whole disk's write rates show which writes the
write_bps limit holds.
A solo+noisy measurement during which another dbaas-agent ran (a test run on this shared
machine) is discarded and taken again (at most twice) once that agent is gone.
During every run the victim's and the neighbour's CPU time (cpuacct.usage), the share of the
victim's CFS periods in which its quota throttled it (cpu.stat), the neighbour's written bytes
(blkio.throttle.io_service_bytes) and the whole disk's written bytes (/sys/dev/block/M:m/stat:
every process and the kernel's flusher) are read, so that the output shows what each side got.

Prints every run, then per mode and pair: median solo TPS, median noisy TPS, median of the
per-round ratios noisy/solo, and min-max. Target: the victim keeps >= 90% of its solo TPS with
isolation. Needs root. Deletes the instances through the API and stops everything it started.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psycopg2  # noqa: E402

import stack as S  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
MODES = os.environ.get("BENCH_MODES", "tpcb select").split()
WRITE_BPS = int(os.environ.get("BENCH_WRITE_BPS", str(8 << 20)))
PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
TARGET = 0.90
# The CPU hog: generate_series in the select list streams (ProjectSet); in FROM it would
# materialize every row into a temporary file (buffered writes, never fsynced: see TEMP_SQL).
CPU_SQL = "SELECT count(x) FROM (SELECT generate_series(1, 1000000000000) AS x) s"
# The write-limit check's spill: the Function Scan writes every row to a temporary file, as a big
# sort or hash would; buffered writes that are never fsynced.
SPILL_SQL = "SELECT count(*) FROM generate_series(1, 1000000000000)"
CHECK_WINDOW = 10.0  # s, each write-limit check
REDO = 2  # a solo+noisy measurement during which another dbaas-agent ran is taken again
MEM_MB, DISK_MB = 1024, 4096
HOG_WARMUP = 1.0
MiB = 1 << 20


# ---------------------------------------------------------------------------------------------
# cgroup counters of an engine, from /proc/PID/cgroup (v1)


def cgroup_dir(pid, controller):
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return "/sys/fs/cgroup/%s%s" % (controller, path)
    raise RuntimeError("no %s cgroup for pid %d" % (controller, pid))


def cpu_ns(pid):
    with open(cgroup_dir(pid, "cpuacct") + "/cpuacct.usage") as f:
        return int(f.read())


def throttled(pid):
    """(nr_periods, nr_throttled) of the engine's CFS bandwidth control."""
    with open(cgroup_dir(pid, "cpu") + "/cpu.stat") as f:
        st = dict(line.split() for line in f)
    return int(st["nr_periods"]), int(st["nr_throttled"])


def disk_written_bytes(device):
    """Bytes written to the whole disk major:minor (every process, the kernel's flusher too)."""
    with open("/sys/dev/block/%s/stat" % device) as f:
        return int(f.read().split()[6]) * 512


def written_bytes(pid):
    n = 0
    with open(cgroup_dir(pid, "blkio") + "/blkio.throttle.io_service_bytes") as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[1] == "Write":
                n += int(p[2])
    return n


# ---------------------------------------------------------------------------------------------


class Instance:
    def __init__(self, st, plan, role):
        body = st.create("postgres", plan)
        self.id, self.pw, self.role = body["id"], body["credentials"]["password"], role
        self.inst = None

    def ready(self, st):
        self.inst = st.wait_status(self.id, ("running",))
        self.ep = self.inst["endpoints"]["primary"]
        m = [m for m in self.inst["members"] if m["desired"] == "running"][0]
        self.pid, self.member = m["pid"], m

    def connect(self):
        c = psycopg2.connect(host=self.ep["host"], port=self.ep["port"], user="app", password=self.pw,
                             dbname="app", connect_timeout=10)
        c.autocommit = True
        return c

    def pgbench(self, args, timeout):
        env = dict(os.environ, PGPASSWORD=self.pw, PGCONNECT_TIMEOUT="10")
        r = subprocess.run([PGBENCH, "-h", self.ep["host"], "-p", str(self.ep["port"]), "-U", "app"] + args
                           + ["app"], env=env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("pgbench %s failed: %s" % (" ".join(args), (r.stderr or r.stdout)[-2000:]))
        return r.stdout + r.stderr


class Hogs:
    """The neighbour's CPU hog and write hog (see the module comment)."""

    def __init__(self, neighbour, scratch):
        self.n = neighbour
        self.scratch = scratch
        self.stop_ev = threading.Event()
        self.conns = []
        self.threads = []
        self.dd = None
        self.errors = []
        self.temp_limit_hits = 0
        self.lock = threading.Lock()

    def _burn(self, conn, sql):
        try:
            with conn.cursor() as cur:
                while not self.stop_ev.is_set():
                    try:
                        cur.execute(sql)
                    except psycopg2.errors.ConfigurationLimitExceeded:
                        # the plan's temp_file_limit stopped a spill: start it again
                        self.temp_limit_hits += 1
        except psycopg2.errors.QueryCanceled:
            pass
        except psycopg2.Error as e:
            if not self.stop_ev.is_set():
                self.errors.append("cpu hog: %s" % e)

    def _write(self, conn):
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS hog (v text)")
                i = 0
                while not self.stop_ev.is_set():
                    cur.execute("INSERT INTO hog SELECT repeat(md5(g::text), 64) FROM generate_series(1, 4000) g")
                    i += 1
                    if i % 16 == 0:
                        cur.execute("TRUNCATE hog")
        except psycopg2.errors.QueryCanceled:
            pass
        except psycopg2.Error as e:
            if not self.stop_ev.is_set():
                self.errors.append("write hog: %s" % e)

    def _join_neighbour(self):
        """In the dd child before exec: join the neighbour's cgroups."""
        pid = str(os.getpid())
        for ctrl in ("cpu", "cpuacct", "memory", "blkio"):
            with open(cgroup_dir(self.n.pid, ctrl) + "/cgroup.procs", "w") as f:
                f.write(pid)

    def _dd(self):
        target = os.path.join(self.scratch, "dd-hog")
        try:
            while not self.stop_ev.is_set():
                with self.lock:
                    if self.stop_ev.is_set():
                        break
                    self.dd = subprocess.Popen(["dd", "if=/dev/zero", "of=" + target, "bs=1M", "count=64",
                                                "oflag=direct", "status=none"],
                                               preexec_fn=self._join_neighbour, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                self.dd.wait()
        finally:
            try:
                os.unlink(target)
            except OSError:
                pass

    def start(self):
        for _ in range(2):
            c = self.n.connect()
            self.conns.append(c)
            self.threads.append(threading.Thread(target=self._burn, args=(c, CPU_SQL), daemon=True))
        c = self.n.connect()
        self.conns.append(c)
        self.threads.append(threading.Thread(target=self._write, args=(c,), daemon=True))
        self.threads.append(threading.Thread(target=self._dd, daemon=True))
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_ev.set()
        with self.lock:
            if self.dd is not None and self.dd.poll() is None:
                self.dd.kill()
        for c in self.conns:
            try:
                c.cancel()
            except psycopg2.Error:
                pass
        for t in self.threads:
            t.join(30)
        for c in self.conns:
            c.close()
        if self.errors:
            raise RuntimeError("; ".join(self.errors))


def write_limit_check(n, scratch, device):
    """On the isolated neighbour alone: what its cgroup and the whole disk write while (a) the dd
    writer runs in its cgroups, (b) two of its sessions spill to temporary files."""
    for what in ("dd oflag=direct", "temp-file spill"):
        hogs = Hogs(n, scratch)
        if what.startswith("dd"):
            hogs.threads.append(threading.Thread(target=hogs._dd, daemon=True))
        else:
            for _ in range(2):
                c = n.connect()
                hogs.conns.append(c)
                hogs.threads.append(threading.Thread(target=hogs._burn, args=(c, SPILL_SQL), daemon=True))
        for t in hogs.threads:
            t.start()
        try:
            time.sleep(1.0)  # under way (a workload, not a readiness wait)
            w0, d0, c0, t0 = written_bytes(n.pid), disk_written_bytes(device), cpu_ns(n.pid), time.monotonic()
            time.sleep(CHECK_WINDOW)  # the measurement window
            w1, d1, c1, t1 = written_bytes(n.pid), disk_written_bytes(device), cpu_ns(n.pid), time.monotonic()
        finally:
            hogs.stop()
        wall = t1 - t0
        print("write-limit check, %-16s: the neighbour's cgroup wrote %6.1f MiB/s (limit %d), the disk %6.1f MiB/s; "
              "neighbour %.2f CPU; spills stopped by temp_file_limit: %d"
              % (what, (w1 - w0) / MiB / wall, WRITE_BPS // MiB, (d1 - d0) / MiB / wall,
                 (c1 - c0) / 1e9 / wall, hogs.temp_limit_hits), flush=True)
        time.sleep(2.0)  # let the deleted temporary files' pages go before the next step


def tps_of(out):
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not m:
        raise RuntimeError("no tps in pgbench output: %s" % out[-1000:])
    return float(m.group(1))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2] not in "ZX"
    except OSError:
        return False


def run_victim(victim, mode, neighbour=None, scratch=None, device=None):
    """One pgbench run on the victim, with the neighbour's hogs running when neighbour is given.
    Returns (tps, usage dict)."""
    for x in (victim, neighbour):
        if x is not None and not alive(x.pid):
            raise RuntimeError("the %s's engine (pid %d) is gone" % (x.role, x.pid))
    args = ["-c", "2", "-j", "1", "-T", str(DURATION)] + (["-S"] if mode == "select" else [])
    hogs = None
    if neighbour is not None:
        hogs = Hogs(neighbour, scratch)
        hogs.start()
        time.sleep(HOG_WARMUP)  # the hogs reach their steady state (a workload, not a readiness wait)
    pids = [victim.pid] + ([neighbour.pid] if neighbour else [])
    c0 = [cpu_ns(p) for p in pids]
    th0 = throttled(victim.pid)
    w0 = written_bytes(neighbour.pid) if neighbour else 0
    d0 = disk_written_bytes(device) if device else 0
    t0 = time.monotonic()
    try:
        out = victim.pgbench(args, timeout=DURATION + 120)
    finally:
        t1 = time.monotonic()
        c1 = [cpu_ns(p) for p in pids]
        th1 = throttled(victim.pid)
        w1 = written_bytes(neighbour.pid) if neighbour else 0
        d1 = disk_written_bytes(device) if device else 0
        if hogs:
            hogs.stop()
    wall = t1 - t0
    periods = th1[0] - th0[0]
    use = {"victim_cpu": (c1[0] - c0[0]) / 1e9 / wall, "disk_wmib": (d1 - d0) / MiB / wall,
           "victim_thr": (th1[1] - th0[1]) / periods if periods else 0.0}
    if neighbour:
        use["neigh_cpu"] = (c1[1] - c0[1]) / 1e9 / wall
        use["neigh_wmib"] = (w1 - w0) / MiB / wall
    return tps_of(out), use


def main():
    S.require_root()
    if not os.access(PGBENCH, os.X_OK):
        S.die("pgbench is missing (Debian: postgresql-client-15)")
    for m in MODES:
        if m not in ("tpcb", "select"):
            S.die("unknown mode %r in BENCH_MODES (tpcb, select)" % m)
    S.become_subreaper()
    S.wait_for_quiet_machine()
    print("bench-isolation: %s" % S.machine(), flush=True)
    print("pgbench -c 2 -j 1 -T %d, scale 5; modes %s; %d rounds; neighbour write limit %d MiB/s when isolated"
          % (DURATION, ",".join(MODES), RUNS, WRITE_BPS // MiB), flush=True)
    st = S.Stack(ports="23100-23199")
    scratch = tempfile.mkdtemp(prefix="dbaas-bench-iso-", dir="/var/tmp")
    results = {}  # (mode, pair) -> {"solo": [], "noisy": [], "ratio": []}
    discarded = 0
    t_start = time.monotonic()
    try:
        st.start()
        iso_v = st.plan(cpu_millis=1000, memory_mb=MEM_MB, disk_mb=DISK_MB)
        iso_n = st.plan(cpu_millis=1000, memory_mb=MEM_MB, disk_mb=DISK_MB, write_bps=WRITE_BPS)
        off = st.plan(cpu_millis=2000, memory_mb=MEM_MB, disk_mb=DISK_MB)
        pairs = {"isolated": (Instance(st, iso_v, "victim"), Instance(st, iso_n, "neighbour")),
                 "unlimited": (Instance(st, off, "victim"), Instance(st, off, "neighbour"))}
        for v, n in pairs.values():
            v.ready(st)
            n.ready(st)
        device = None
        for name, (v, n) in pairs.items():
            with open(cgroup_dir(n.pid, "cpu") + "/cpu.cfs_quota_us") as f:
                quota = int(f.read())
            with open(cgroup_dir(n.pid, "blkio") + "/blkio.throttle.write_bps_device") as f:
                wlim = f.read().strip() or "none"
            if wlim != "none":
                device = wlim.split()[0]
            print("%s pair: victim port %d, neighbour port %d; neighbour's cgroup: cfs_quota_us=%d, "
                  "write_bps_device=%s" % (name, v.ep["port"], n.ep["port"], quota, wlim), flush=True)
            v.pgbench(["-i", "-s", "5", "-q"], timeout=300)
        if os.environ.get("BENCH_LIMIT_CHECK", "1") != "0" and device:
            S.wait_for_quiet_machine(st.agent.proc.pid)
            write_limit_check(pairs["isolated"][1], scratch, device)
        # warm-up, untimed: one short run per victim and mode
        for v, _ in pairs.values():
            for mode in MODES:
                v.pgbench(["-c", "2", "-j", "1", "-T", "2"] + (["-S"] if mode == "select" else []), timeout=120)
        for r in range(RUNS):
            order = list(pairs) if r % 2 == 0 else list(pairs)[::-1]
            for mode in MODES:
                for name in order:
                    v, n = pairs[name]
                    res = results.setdefault((mode, name), {"solo": [], "noisy": [], "ratio": [], "use": [],
                                                             "solo_use": []})
                    for attempt in range(REDO + 1):
                        S.wait_for_quiet_machine(st.agent.proc.pid)
                        foreign = S.foreign_agents_seen(st.agent.proc.pid)
                        if r % 2 == 0:
                            solo, su = run_victim(v, mode, device=device)
                            noisy, nu = run_victim(v, mode, n, scratch, device)
                        else:
                            noisy, nu = run_victim(v, mode, n, scratch, device)
                            solo, su = run_victim(v, mode, device=device)
                        foreign = S.foreign_agents_seen(st.agent.proc.pid) or foreign
                        if not foreign:
                            break
                        if attempt < REDO:
                            discarded += 1
                            print("round %d %-6s %-9s discarded (solo %.0f, noisy %.0f tps): another dbaas-agent "
                                  "ran meanwhile; measuring again" % (r + 1, mode, name, solo, noisy), flush=True)
                    res["solo"].append(solo)
                    res["noisy"].append(noisy)
                    res["ratio"].append(noisy / solo)
                    res["use"].append(nu)
                    res["solo_use"].append(su)
                    print("round %d %-6s %-9s solo %6.0f tps (victim %.2f CPU, throttled %2.0f%%) | noisy %6.0f tps "
                          "(victim %.2f CPU, throttled %2.0f%%; neighbour %.2f CPU, its cgroup wrote %.1f MiB/s, "
                          "the disk %.0f MiB/s) | ratio %.3f%s"
                          % (r + 1, mode, name, solo, su["victim_cpu"], 100 * su["victim_thr"], noisy,
                             nu["victim_cpu"], 100 * nu["victim_thr"], nu["neigh_cpu"], nu["neigh_wmib"],
                             nu["disk_wmib"], noisy / solo,
                             "  [another agent ran]" if foreign else ""), flush=True)
        restarts = 0
        for v, n in pairs.values():
            for x in (v, n):
                inst = st.get(x.id)
                m = [m for m in inst["members"] if m["desired"] == "running"][0]
                restarts += (m.get("restarts") or 0) + (m["pid"] != x.pid)
    finally:
        st.close()
        shutil.rmtree(scratch, ignore_errors=True)
        S.reap()

    print()
    print("%-6s %-9s %-22s %-22s %-22s %s" % ("mode", "pair", "solo tps", "noisy tps", "noisy/solo",
                                              "during the noisy runs: neighbour"))
    verdict = []
    for mode in MODES:
        for name in ("isolated", "unlimited"):
            res = results[(mode, name)]
            ncpu = S.median([u["neigh_cpu"] for u in res["use"]])
            nw = S.median([u["neigh_wmib"] for u in res["use"]])
            dw = S.median([u["disk_wmib"] for u in res["use"]])
            vcpu = S.median([u["victim_cpu"] for u in res["use"]])
            scpu = S.median([u["victim_cpu"] for u in res["solo_use"]])
            sthr = S.median([u["victim_thr"] for u in res["solo_use"]])
            nthr = S.median([u["victim_thr"] for u in res["use"]])
            print("%-6s %-9s %-22s %-22s %-22s %.2f CPU, cgroup wrote %.1f MiB/s, disk %.0f MiB/s; "
                  "victim %.2f CPU (solo %.2f), throttled in %.0f%% of periods (solo %.0f%%)" % (
                mode, name,
                "%.0f (%.0f-%.0f)" % (S.median(res["solo"]), min(res["solo"]), max(res["solo"])),
                "%.0f (%.0f-%.0f)" % (S.median(res["noisy"]), min(res["noisy"]), max(res["noisy"])),
                "%.1f%% (%.1f-%.1f%%)" % (100 * S.median(res["ratio"]), 100 * min(res["ratio"]),
                                          100 * max(res["ratio"])),
                ncpu, nw, dw, vcpu, scpu, 100 * nthr, 100 * sthr))
        iso = S.median(results[(mode, "isolated")]["ratio"])
        off = S.median(results[(mode, "unlimited")]["ratio"])
        verdict.append("%s: isolated=%.1f%% unlimited=%.1f%% target>=%.0f%% %s" % (
            mode, 100 * iso, 100 * off, 100 * TARGET, "met" if iso >= TARGET else "missed"))
    print("medians (min-max) of %d rounds; ratios are per round (the solo and noisy runs of one pair "
          "back to back); wall time %.0f s" % (RUNS, time.monotonic() - t_start))
    print("; ".join(verdict))
    note = S.foreign_agents_summary()
    if note:
        print("note: %s; %d measurement(s) discarded and taken again, the ones marked [another agent ran] "
              "kept after %d attempts" % (note, discarded, REDO + 1))
    if restarts:
        print("warning: an engine was restarted during the run (another agent on the machine?): "
              "figures suspect", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
