#!/usr/bin/python3
"""make bench-failover: time from a primary host's crash to the first write acknowledged by the
new primary, and acknowledged writes lost, for our system and its peers side by side
(docs/benchmarks.md).

Every system runs on the same rig (tests/integration/netns.py): three hosts as network
namespaces on a bridge; the control plane (our dbaasd, or Patroni's etcd) in the root namespace
on the rig's control address; the benchmark (the clients) in the root namespace.

Systems (ONLY=patroni,sentinel,ours; default all three):
- patroni: Patroni (Debian's package) + PostgreSQL 15 on each host, one etcd (Debian's
  etcd-server) on the control address. PATRONI_SETTINGS (name:ttl:loop_wait:retry_timeout, space
  separated) default "default:30:10:10 min:20:1:3 fast:5:1:2": Patroni's defaults, its documented
  minimums, and ttl 5 (3.0.2 does not enforce the minimums; loop_wait + 2 * retry_timeout <= ttl
  still holds). PATRONI_MODES default "async sync" (sync: synchronous_mode: true).
- sentinel: redis-server and redis-sentinel on each host (1 primary, 2 replicas, 3 sentinels,
  quorum 2). SENTINEL_SETTINGS (name:down_after_ms:failover_timeout_ms) default
  "default:30000:180000 1000ms:1000:2000 fast:200:1000".
- ours: bin/dbaasd (embedded store) on the control address, one bin/dbaas-agent per host
  (cgroup backend); per engine (OURS_ENGINES, default "postgres mysql redis") and mode
  (OURS_MODES, default "sync async") an instance with "replicas": 2 (and "sync": true). Needs the
  failover (issue 9) merged: without it every run ends in the DURATION timeout, as a failure.
  OURS_HA (a JSON object) is PUT to /v1/ha first, e.g. '{"lease_ttl_ms": 1000}'; by default the
  HA settings are dbaasd's defaults.

Per run: a fresh cluster (or instance), a writer that finds the primary as a client would
(Patroni: the libpq multi-host URI with target_session_attrs=read-write; Sentinel: asks the
sentinels for the master; ours: GET /v1/instances/{id}, its endpoints, the URI for PostgreSQL)
and writes one row/key with an increasing id every ~10 ms over one connection, recording for
every acknowledged write its time and the server that acknowledged it. After WARMUP_S of
acknowledged writes, the primary's host crashes: SIGKILL of every process of its namespace (the
namespace stays: its address answers with connection refused, as a host that restarted would).
failover_s = from the crash to the first write acknowledged by another server. The writer goes on
for POST_S, then every acknowledged id is looked up on the server of the last acknowledgement:
lost_acked counts those missing. A run whose failover does not come within DURATION seconds
(default 90) is a failure, reported as such.

RUNS (default 20) runs per system, setting and mode. Last lines, one per system and mode:
  failover <system>[-<setting>] <mode>: median_s=N p99_s=N lost_acked=N runs=N [failed=N]
(p99 is the nearest-rank 99th percentile: with 20 runs or fewer, the slowest run.)
"""

import fcntl
import json
import math
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

import netns  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
RUNS = int(os.environ.get("RUNS", "20"))
ONLY = [s for s in os.environ.get("ONLY", "patroni,sentinel,ours").replace(" ", ",").split(",") if s]
DURATION = float(os.environ.get("DURATION", "90"))
WARMUP_S = float(os.environ.get("WARMUP_S", "1.0"))
POST_S = float(os.environ.get("POST_S", "1.0"))
READY_TIMEOUT = float(os.environ.get("READY_TIMEOUT", "180"))
WRITE_INTERVAL = 0.010
PATRONI_SETTINGS = os.environ.get("PATRONI_SETTINGS", "default:30:10:10 min:20:1:3 fast:5:1:2").split()
PATRONI_MODES = os.environ.get("PATRONI_MODES", "async sync").split()
SENTINEL_SETTINGS = os.environ.get("SENTINEL_SETTINGS", "default:30000:180000 1000ms:1000:2000 fast:200:1000").split()
OURS_ENGINES = os.environ.get("OURS_ENGINES", "postgres mysql redis").split()
OURS_MODES = os.environ.get("OURS_MODES", "sync async").split()
KEEP = os.environ.get("KEEP_LOGS") == "1"  # keep the temporary directory (logs) for a look


def say(msg):
    print(msg, flush=True)


def die(msg):
    sys.stderr.write("bench-failover: %s\n" % msg)
    sys.exit(1)


def wait_for(pred, timeout, what, interval=0.05):
    """Poll pred until truthy (returned) or the deadline (RuntimeError). Exceptions from pred
    count as not yet."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001 - not ready yet, whatever the client says
            last = e
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "nproc=%d cpu=\"%s\" kernel=%s loadavg=%s date=%s" % (
        os.cpu_count(), model, os.uname().release, loadavg(), time.strftime("%Y-%m-%d %H:%M:%S %Z"))


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# The writer


class Writer(threading.Thread):
    """Writes id 1, 2, ... every WRITE_INTERVAL over one connection; reconnects (finding the
    primary again) after any error. acks: [(id, monotonic time, server)] of acknowledged writes.

    connect() -> (conn, server label) or raises; write(conn, id) raises unless acknowledged;
    close(conn) never raises."""

    def __init__(self, connect, write, close):
        super().__init__(daemon=True)
        self._connect, self._write, self._close = connect, write, close
        self.acks = []
        self.errors = 0
        self.last_error = None
        self._stop_ev = threading.Event()

    def run(self):
        conn = server = None
        n = 0
        due = time.monotonic()
        while not self._stop_ev.is_set():
            if conn is None:
                try:
                    conn, server = self._connect()
                except Exception as e:  # noqa: BLE001 - no primary reachable yet
                    self.errors += 1
                    self.last_error = repr(e)[:300]
            if conn is not None:
                n += 1
                try:
                    self._write(conn, n)
                    self.acks.append((n, time.monotonic(), server))
                except Exception as e:  # noqa: BLE001 - not acknowledged
                    self.errors += 1
                    self.last_error = repr(e)[:300]
                    self._close(conn)
                    conn = None
            due += WRITE_INTERVAL
            delay = due - time.monotonic()
            if delay > 0:
                self._stop_ev.wait(delay)
            else:
                due = time.monotonic()  # behind (a slow write): no burst to catch up
        if conn is not None:
            self._close(conn)

    def stop(self, timeout=30.0):
        self._stop_ev.set()
        self.join(timeout)
        return not self.is_alive()

    def first_ack_after(self, t, not_server):
        for i, at, srv in self.acks:
            if at >= t and srv != not_server:
                return i, at, srv
        return None


def measure(writer, crash, old_server, label):
    """Warm up, crash, wait for the new primary's first write. Returns (failover_s or None,
    server of the last ack, error or None)."""
    wait_for(lambda: len(writer.acks) >= max(1, int(WARMUP_S / WRITE_INTERVAL / 2)) and
             writer.acks[-1][1] - writer.acks[0][1] >= WARMUP_S, 60,
             "%s: the writer's first %.1f s of acknowledged writes (last error %s)" % (
                 label, WARMUP_S, writer.last_error))
    before = writer.acks[-1][2]
    if before != old_server:
        return None, None, "the writer writes to %s, not to the primary %s" % (before, old_server)
    t_crash = time.monotonic()
    crash()
    deadline = t_crash + DURATION
    first = None
    while first is None and time.monotonic() < deadline:
        first = writer.first_ack_after(t_crash, old_server)
        if first is None:
            time.sleep(0.005)
    if first is None:
        return None, None, "no write acknowledged by a new primary within DURATION=%.0f s (last error %s)" % (
            DURATION, writer.last_error)
    t_end = time.monotonic() + POST_S
    while time.monotonic() < t_end:
        time.sleep(0.05)
    return first[1] - t_crash, writer.acks[-1][2], None


# --------------------------------------------------------------------------------------------
# Engine clients (psycopg2, pymysql, redis-py: Debian's python3-* packages)


def pg_writer_fns(dsn_fn, password):
    import psycopg2

    def connect():
        c = psycopg2.connect(dsn_fn(), password=password, connect_timeout=1)
        c.autocommit = True
        return c, "%s:%s" % (c.info.host, c.info.port)

    def write(c, i):
        with c.cursor() as cur:
            cur.execute("INSERT INTO t (id) VALUES (%s)", (i,))

    def close(c):
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass
    return connect, write, close


def pg_ids(host, port, user, password, dbname):
    import psycopg2
    c = psycopg2.connect(host=host, port=port, user=user, password=password, dbname=dbname, connect_timeout=5)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT id FROM t")
            return {r[0] for r in cur.fetchall()}
    finally:
        c.close()


def redis_ids(host, port, ids, **auth):
    import redis
    r = redis.Redis(host=host, port=port, socket_timeout=10, **auth)
    present = set()
    ids = list(ids)
    try:
        for lo in range(0, len(ids), 1000):
            chunk = ids[lo:lo + 1000]
            p = r.pipeline(transaction=False)
            for i in chunk:
                p.exists("t:%d" % i)
            for i, e in zip(chunk, p.execute()):
                if e:
                    present.add(i)
    finally:
        r.close()
    return present


def lost_of(writer, present):
    """How many acknowledged writes are missing from present (the ids on the new primary); the
    missing ones are described on stdout (ids, server, time before the crash)."""
    missing = [(i, at, srv) for i, at, srv in writer.acks if i not in present]
    if missing:
        by_srv = {}
        for i, at, srv in missing:
            by_srv.setdefault(srv, []).append(i)
        say("  lost: %s" % "; ".join("%d acked by %s (ids %d-%d)" % (len(v), s, min(v), max(v))
                                     for s, v in by_srv.items()))
    return len(missing)


# --------------------------------------------------------------------------------------------
# Results


class Row:
    def __init__(self, system, mode):
        self.system, self.mode = system, mode
        self.times, self.lost, self.failed = [], 0, 0

    def line(self):
        if self.times:
            s = sorted(self.times)
            p99 = s[max(0, math.ceil(0.99 * len(s)) - 1)]
            figs = "median_s=%.2f p99_s=%.2f min_s=%.2f max_s=%.2f" % (statistics.median(s), p99, s[0], s[-1])
        else:
            figs = "median_s=n/a p99_s=n/a"
        out = "failover %s %s: %s lost_acked=%d runs=%d" % (self.system, self.mode, figs, self.lost, len(self.times))
        if self.failed:
            out += " failed=%d" % self.failed
        return out


def record(row, n, failover_s, lost, err, extra=""):
    tag = "run %s %s %d/%d:" % (row.system, row.mode, n, RUNS)
    if err:
        row.failed += 1
        say("%s FAILED: %s" % (tag, err))
        return
    row.times.append(failover_s)
    row.lost += lost
    say("%s failover_s=%.3f lost_acked=%d %s" % (tag, failover_s, lost, extra))


# --------------------------------------------------------------------------------------------
# Patroni + etcd


class Etcd:
    """One etcd member in the root namespace on the rig's control address (the DCS stays up when
    a host crashes, as our dbaasd does)."""

    def __init__(self, rig, d):
        self.rig, self.dir = rig, d
        self.url = "http://%s:2379" % rig.control_addr
        self.proc = None

    def start(self):
        a = self.rig.control_addr
        os.makedirs(self.dir, exist_ok=True)
        log = open(os.path.join(self.dir, "etcd.log"), "a")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "dcs", "--data-dir", os.path.join(self.dir, "data"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", "http://%s:2380" % a, "--initial-advertise-peer-urls", "http://%s:2380" % a,
             "--initial-cluster", "dcs=http://%s:2380" % a, "--initial-cluster-state", "new"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.rig.procs.append(self.proc)  # the rig stops it at teardown too
        import requests
        wait_for(lambda: requests.get(self.url + "/health", timeout=1).json().get("health") == "true",
                 30, "etcd healthy")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


PATRONI_YML = """\
scope: {scope}
namespace: /bench/
name: {name}
log:
  level: INFO
restapi:
  listen: {addr}:8008
  connect_address: {addr}:8008
etcd3:
  hosts: {etcd}
bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {loop_wait}
    retry_timeout: {retry_timeout}
    maximum_lag_on_failover: 1048576
    synchronous_mode: {sync}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
  initdb:
  - encoding: UTF8
  - data-checksums
  pg_hba:
  - local all all trust
  - host replication replicator {subnet} scram-sha-256
  - host all all {subnet} scram-sha-256
postgresql:
  listen: {addr}:5432
  connect_address: {addr}:5432
  use_unix_socket: true
  data_dir: {dir}/data
  bin_dir: {bin}
  pgpass: {dir}/pgpass
  authentication:
    superuser: {{username: postgres, password: {pw}}}
    replication: {{username: replicator, password: {pw}}}
    rewind: {{username: postgres, password: {pw}}}
  parameters:
    unix_socket_directories: {dir}
    shared_buffers: 16MB
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
"""


class PatroniCluster:
    """Three Patroni nodes (one per host) for one run; close() kills them and removes their data."""

    PW = "benchpw"

    def __init__(self, rig, etcd, d, scope, setting, sync):
        self.rig, self.etcd, self.dir, self.scope = rig, etcd, d, scope
        self.name, self.ttl, self.loop_wait, self.retry_timeout = setting
        self.sync = sync
        self.pw = pwd.getpwnam("postgres")

    def node_dir(self, h):
        return os.path.join(self.dir, h.name)

    def start_node(self, h):
        d = self.node_dir(h)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o700)
        os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        cfg = os.path.join(d, "patroni.yml")
        with open(cfg, "w") as f:
            f.write(PATRONI_YML.format(scope=self.scope, name=h.name, addr=h.addr, etcd=self.etcd.url.split("//")[1],
                                       ttl=self.ttl, loop_wait=self.loop_wait, retry_timeout=self.retry_timeout,
                                       sync="true" if self.sync else "false", subnet=self.rig.subnet, dir=d,
                                       bin=PG_BIN, pw=self.PW))
        os.chown(cfg, self.pw.pw_uid, self.pw.pw_gid)
        log = open(os.path.join(d, "patroni.log"), "a")
        env = {"PATH": "/usr/bin:/bin", "HOME": self.pw.pw_dir, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        self.rig.popen(h, ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups",
                           "patroni", cfg], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=d)
        log.close()

    def cluster(self, h=None):
        import requests
        hosts = [h] if h else self.rig.hosts
        for x in hosts:
            try:
                return requests.get("http://%s:8008/cluster" % x.addr, timeout=1).json()
            except Exception:  # noqa: BLE001 - that node is not up (or crashed): ask another
                continue
        return None

    def leader(self):
        c = self.cluster()
        if not c:
            return None
        ls = [m for m in c.get("members", []) if m.get("role") == "leader" and m.get("state") == "running"]
        return ls[0] if len(ls) == 1 else None

    def streaming(self, addr):
        """How many replicas stream from the leader at addr, and how many of them are sync."""
        import psycopg2
        c = psycopg2.connect(host=addr, port=5432, user="postgres", password=self.PW, dbname="postgres",
                             connect_timeout=2)
        try:
            with c.cursor() as cur:
                # application_name: Patroni names a replica's connection after its member (a
                # pg_basebackup in progress streams too, as 'pg_basebackup')
                cur.execute("SELECT count(*), count(*) FILTER (WHERE sync_state IN ('sync', 'quorum')) "
                            "FROM pg_stat_replication WHERE state = 'streaming' AND application_name = ANY(%s) "
                            "AND replay_lsn IS NOT NULL", ([h.name for h in self.rig.hosts],))
                return cur.fetchone()
        finally:
            c.close()

    def start(self):
        h0 = self.rig.hosts[0]
        self.start_node(h0)
        wait_for(lambda: self.leader(), READY_TIMEOUT, "a Patroni leader (%s)" % self.log_tails())
        for h in self.rig.hosts[1:]:
            self.start_node(h)
        leader = self.leader()

        def ready():
            n, nsync = self.streaming(leader["host"])
            c = self.cluster()
            running = [m for m in c["members"] if m.get("state") in ("running", "streaming")]
            return n >= 2 and (nsync >= 1 or not self.sync) and len(running) == 3
        wait_for(ready, READY_TIMEOUT, "two streaming replicas%s (%s)" % (
            " one of them sync" if self.sync else "", self.log_tails()))
        import psycopg2
        c = psycopg2.connect(host=leader["host"], port=5432, user="postgres", password=self.PW,
                             dbname="postgres", connect_timeout=5)
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
        c.close()
        return leader

    def log_tails(self):
        return " | ".join("%s: %s" % (h.name, tail(os.path.join(self.node_dir(h), "patroni.log"), 3).strip()
                                      .replace("\n", " / ")[-400:]) for h in self.rig.hosts)

    def close(self):
        for h in self.rig.hosts:
            self.rig.crash(h)
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_patroni(rig, tmp, rows):
    etcd = Etcd(rig, os.path.join(tmp, "etcd"))
    etcd.start()
    hosts = ",".join(h.addr for h in rig.hosts)
    dsn = "host=%s port=5432,5432,5432 user=postgres dbname=postgres target_session_attrs=read-write" % hosts
    try:
        for spec in PATRONI_SETTINGS:
            name, ttl, loop_wait, retry_timeout = spec.split(":")
            setting = (name, int(ttl), int(loop_wait), int(retry_timeout))
            for mode in PATRONI_MODES:
                row = Row("patroni-%s" % name, mode)
                rows.append(row)
                say("== patroni %s (ttl %s, loop_wait %s, retry_timeout %s), %s; loadavg %s" % (
                    name, ttl, loop_wait, retry_timeout, mode, loadavg()))
                for n in range(1, RUNS + 1):
                    scope = "b%d%s%s%d" % (os.getpid(), name, mode, n)
                    cl = PatroniCluster(rig, etcd, os.path.join(tmp, "patroni"), scope, setting, mode == "sync")
                    writer = None
                    try:
                        leader = cl.start()
                        old = "%s:5432" % leader["host"]
                        writer = Writer(*pg_writer_fns(lambda: dsn, PatroniCluster.PW))
                        writer.start()
                        t, last, err = measure(writer, lambda: rig.crash(rig.host(leader["host"])), old,
                                               row.system)
                        writer.stop()
                        lost = 0
                        if not err:
                            host = last.split(":")[0]
                            lost = lost_of(writer, pg_ids(host, 5432, "postgres", PatroniCluster.PW, "postgres"))
                        record(row, n, t, lost, err, "acked=%d new_primary=%s" % (len(writer.acks), last))
                    except Exception as e:  # noqa: BLE001 - one failed run, go on with the next
                        record(row, n, None, 0, "%r %s" % (e, cl.log_tails() if KEEP else ""))
                    finally:
                        if writer is not None:
                            writer.stop()
                        cl.close()
    finally:
        etcd.stop()


# --------------------------------------------------------------------------------------------
# Redis Sentinel


class SentinelCluster:
    """redis-server + redis-sentinel on each host (h0 primary) for one run."""

    MASTER = "m"

    def __init__(self, rig, d, down_after_ms, failover_timeout_ms):
        self.rig, self.dir = rig, d
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms

    def start(self):
        import redis
        h0 = self.rig.hosts[0]
        for h in self.rig.hosts:
            d = os.path.join(self.dir, h.name)
            os.makedirs(d, exist_ok=True)
            args = ["redis-server", "--bind", h.addr, "--port", "6379", "--protected-mode", "no", "--dir", d,
                    "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--daemonize", "no",
                    "--logfile", os.path.join(d, "redis.log")]
            if h is not h0:
                args += ["--replicaof", h0.addr, "6379"]
            self.rig.popen(h, args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def replicated():
            info = redis.Redis(host=h0.addr, port=6379, socket_timeout=1).info("replication")
            ok = [k for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
                  and v.get("state") == "online"]
            return info.get("role") == "master" and len(ok) == 2
        wait_for(replicated, READY_TIMEOUT, "two online Redis replicas")
        for h in self.rig.hosts:
            d = os.path.join(self.dir, h.name)
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("port 26379\nbind %s\nprotected-mode no\ndir %s\nlogfile %s\n"
                        "sentinel monitor %s %s 6379 2\n"
                        "sentinel down-after-milliseconds %s %d\n"
                        "sentinel failover-timeout %s %d\n"
                        "sentinel parallel-syncs %s 1\n" % (
                            h.addr, d, os.path.join(d, "sentinel.log"), self.MASTER, h0.addr,
                            self.MASTER, self.down_after_ms, self.MASTER, self.failover_timeout_ms, self.MASTER))
            self.rig.popen(h, ["redis-sentinel", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def known():
            for h in self.rig.hosts:
                m = redis.Redis(host=h.addr, port=26379, socket_timeout=1).sentinel_master(self.MASTER)
                if m.get("num-slaves") != 2 or m.get("num-other-sentinels") != 2 or m.get("is_master_down"):
                    return False
            return True
        wait_for(known, READY_TIMEOUT, "every sentinel sees 2 replicas and 2 other sentinels")
        return "%s:6379" % h0.addr

    def writer_fns(self):
        import redis
        from redis.sentinel import Sentinel
        sentinel = Sentinel([(h.addr, 26379) for h in self.rig.hosts], socket_timeout=0.5,
                            socket_connect_timeout=0.5)

        def connect():
            host, port = sentinel.discover_master(self.MASTER)
            r = redis.Redis(host=host, port=port, socket_timeout=2, socket_connect_timeout=0.5)
            r.ping()
            return r, "%s:%s" % (host, port)

        def write(r, i):
            r.set("t:%d" % i, "1")

        def close(r):
            try:
                r.close()
            except Exception:  # noqa: BLE001
                pass
        return connect, write, close

    def close(self):
        for h in self.rig.hosts:
            self.rig.crash(h)
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_sentinel(rig, tmp, rows):
    for spec in SENTINEL_SETTINGS:
        name, down_after, fo_timeout = spec.split(":")
        row = Row("sentinel-%s" % name, "async")
        rows.append(row)
        say("== sentinel %s (down-after-milliseconds %s, failover-timeout %s); loadavg %s" % (
            name, down_after, fo_timeout, loadavg()))
        for n in range(1, RUNS + 1):
            cl = SentinelCluster(rig, os.path.join(tmp, "sentinel"), int(down_after), int(fo_timeout))
            writer = None
            try:
                old = cl.start()
                writer = Writer(*cl.writer_fns())
                writer.start()
                t, last, err = measure(writer, lambda: rig.crash(rig.hosts[0]), old, row.system)
                writer.stop()
                lost = 0
                if not err:
                    host, port = last.split(":")
                    lost = lost_of(writer, redis_ids(host, int(port), [i for i, _, _ in writer.acks]))
                record(row, n, t, lost, err, "acked=%d new_primary=%s" % (len(writer.acks), last))
            except Exception as e:  # noqa: BLE001 - one failed run, go on with the next
                record(row, n, None, 0, repr(e))
            finally:
                if writer is not None:
                    writer.stop()
                cl.close()


# --------------------------------------------------------------------------------------------
# Ours: dbaasd in the root namespace, one agent per host


def timeline(inst, crashed):
    """ " detected=S fenced=S promoted=S" from the instance's failover record, in seconds after the
    crash (wall clocks: the store's and ours, on the same machine), or "" when there is none."""
    import datetime
    f = inst.get("failover") or {}
    if not crashed or not f.get("detected_at"):
        return ""
    out = ""
    for k in ("detected", "fenced", "promoted"):
        v = f.get(k + "_at")
        if v:
            at = datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            out += " %s=%.3f" % (k, at - crashed[0])
    return out


def bench_ours(rig, tmp, rows):
    import ours
    stack = ours.RigStack(rig, os.path.join(tmp, "ours"))
    try:
        stack.start()
        for engine in OURS_ENGINES:
            for mode in OURS_MODES:
                row = Row(engine, mode)
                rows.append(row)
                say("== ours %s %s; loadavg %s" % (engine, mode, loadavg()))
                for n in range(1, RUNS + 1):
                    stack.restore_hosts()
                    writer = inst = None
                    try:
                        inst, creds = stack.create(engine, mode == "sync")
                        prim = ours.primary_of(inst)
                        old = "%s:%s" % (prim["address"], prim["port"])
                        stack.setup_table(engine, inst, creds)
                        writer = Writer(*stack.writer_fns(engine, inst["id"], creds))
                        writer.start()
                        crashed = []

                        def crash():
                            crashed.append(time.time())
                            stack.crash(prim["address"])
                        t, last, err = measure(writer, crash, old, engine)
                        writer.stop()
                        lost = 0
                        if not err:
                            host, port = last.rsplit(":", 1)
                            lost = lost_of(writer, stack.ids_on(engine, host, int(port), creds,
                                                                [i for i, _, _ in writer.acks]))
                        record(row, n, t, lost, err, "acked=%d new_primary=%s%s" % (
                            len(writer.acks), last, timeline(stack.get(inst["id"]), crashed)))
                    except Exception as e:  # noqa: BLE001 - one failed run, go on with the next
                        record(row, n, None, 0, repr(e)[:2000])
                    finally:
                        if writer is not None:
                            writer.stop()
                        try:
                            stack.restore_hosts()
                            if inst is not None:
                                stack.delete(inst["id"])
                        except Exception as e:  # noqa: BLE001 - close() tries again at the end
                            say("  cleanup after run %d: %r" % (n, e))
    finally:
        stack.close()


# --------------------------------------------------------------------------------------------


def main():
    if os.geteuid() != 0:
        die("needs root (network namespaces, engines run as their own users)")
    need = {"patroni": ["patroni", "etcd", "setpriv", PG_BIN + "/postgres"], "sentinel": ["redis-server", "redis-sentinel"],
            "ours": []}
    for system in ONLY:
        for tool in need.get(system, []):
            if shutil.which(tool) is None:
                die("%s is missing: run scripts/deps.sh" % tool)
    unknown = [s for s in ONLY if s not in ("patroni", "sentinel", "ours")]
    if unknown:
        die("ONLY: unknown system(s) %s (patroni, sentinel, ours)" % ",".join(unknown))
    lock = open("/tmp/dbaas-bench-failover.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        die("another bench-failover runs on this machine (/tmp/dbaas-bench-failover.lock): one at a time")
    netns.become_subreaper()
    say("bench-failover: %s" % machine())
    say("RUNS=%d ONLY=%s DURATION=%.0f WARMUP_S=%.1f POST_S=%.1f" % (RUNS, ",".join(ONLY), DURATION, WARMUP_S, POST_S))
    tmp = tempfile.mkdtemp(prefix="dbaas-bench-failover-", dir="/tmp")
    os.chmod(tmp, 0o755)
    rows = []
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with netns.Rig(3) as rig:
            say("rig: hosts %s, control address %s, client address %s" % (
                " ".join(h.addr for h in rig.hosts), rig.control_addr, rig.client_addr))
            for system in ONLY:
                {"patroni": bench_patroni, "sentinel": bench_sentinel, "ours": bench_ours}[system](rig, tmp, rows)
    finally:
        if KEEP:
            say("logs kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        say("bench-failover: done; loadavg %s" % loadavg())
        for row in rows:
            say(row.line())
    bad = any(r.failed for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
