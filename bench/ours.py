"""Our system on the network-namespace rig, for bench/bench_failover.py (and the failover tests).

NOTES
- bin/dbaasd (embedded store) runs in the root namespace and listens on the rig's control
  address (RigDbaasd: conftest's Dbaasd with another --listen): the lease datagrams share that
  address and port, so rig.cut(host) cuts a host off from both. One bin/dbaas-agent per host runs
  inside the host's namespace (nsenter: it keeps /sys/fs/cgroup, the cgroup backend works),
  advertising the host's address, with its data under DIR/<host>/data and ports 20000-20089
  (each namespace has its own ports). Hosts are registered as h0..h2 in zones z1..z3, so that an
  instance's three members land on three hosts.
- A host crash is netns.Rig.crash(): SIGKILL of the agent, its fence guard and every engine of
  the namespace. restore_hosts() starts the agent again on the same data directory (the host
  "reboots"); what it then does with its former primary is the failover's business (rejoin).
- Member ids start at a random base above 10^6 (as bench/stack.py does), so that our cgroup names
  never meet another stack's on this machine.
- close() deletes every instance through the API (the agents stop the engines and remove their
  cgroups and data), then stops the agents and dbaasd; the caller closes the rig.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import conftest  # noqa: E402
from conftest import Api, Env, expect, uniq  # noqa: E402

AGENT = os.path.join(conftest.BIN_DIR, "dbaas-agent")
PORTS = "20000-20089"
RUNNING_TIMEOUT = 180.0


def running(inst):
    return [m for m in inst["members"] if m["desired"] == "running"]


def primary_of(inst):
    ps = [m for m in running(inst) if m["role"] == "primary"]
    if len(ps) != 1:
        raise RuntimeError("not exactly one primary: %r" % inst["members"])
    return ps[0]


def healthy(inst, n_replicas):
    """Every member runs; the replicas stream (as tests/integration/test_replication.py)."""
    ms = running(inst)
    if len(ms) != n_replicas + 1 or any(m["status"] != "running" for m in ms):
        return False
    reps = [m for m in ms if m["role"] == "replica"]
    return len(reps) == n_replicas and all(
        m["writable"] is False and isinstance(m["lag_bytes"], (int, float)) and m["lag_bytes"] == 0 and
        isinstance(m["lag_seconds"], (int, float)) for m in reps)


class RigDbaasd(conftest.Dbaasd):
    """dbaasd listening on an address of the rig's bridge instead of 127.0.0.1."""

    def __init__(self, listen_addr, extra_args=()):
        super().__init__(extra_args=extra_args)
        self.listen_addr = listen_addr

    @property
    def url(self):
        return "http://%s:%d" % (self.listen_addr, self.port)

    def _spawn(self, port):
        self.port = port
        self._ready = threading.Event()
        with self._lock:
            self.lines.append("---- start #%d: dbaasd --data-dir %s --listen %s:%d"
                              % (self.starts + 1, self.data_dir, self.listen_addr, port))
        self.proc = subprocess.Popen(
            [conftest.DBAASD, "--data-dir", self.data_dir, "--listen", "%s:%d" % (self.listen_addr, port)]
            + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/")
        self._reader = threading.Thread(target=self._read, args=(self.proc, self._ready), daemon=True)
        self._reader.start()


class RigAgent:
    def __init__(self, rig, host, server, token, d):
        self.rig, self.host, self.server, self.token = rig, host, server, token
        self.dir = d
        self.data = os.path.join(d, "data")
        self.log = os.path.join(d, "agent.log")
        self.proc = None

    def start(self, timeout=60.0):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        mark = len(self.logs())
        with open(self.log, "a") as log:
            self.proc = self.rig.popen(self.host, [
                AGENT, "--server", self.server.url, "--token", self.token, "--data-dir", self.data,
                "--advertise", self.host.addr, "--ports", PORTS, "--isolation", "cgroup"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while "event=ready" not in self.logs()[mark:]:
            if self.proc.poll() is not None:
                raise RuntimeError("agent on %s exited: %s" % (self.host.addr, self.logs()[-3000:]))
            if time.monotonic() > deadline:
                raise RuntimeError("agent on %s not ready in %.0f s" % (self.host.addr, timeout))
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class RigStack:
    """dbaasd + one agent per rig host + one tenant; see NOTES."""

    def __init__(self, rig, d):
        self.rig, self.dir = rig, d
        self.srv = self.env = self.client = None
        self.agents = []
        self.created = []

    def start(self):
        if not os.access(AGENT, os.X_OK):
            raise RuntimeError("%s is missing: run make first" % AGENT)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.srv = RigDbaasd(self.rig.control_addr)
        self.srv.start()
        self._move_member_ids()
        self.env = Env(self.srv)
        ha = os.environ.get("OURS_HA")  # e.g. '{"lease_ttl_ms": 1000}': PUT /v1/ha before the agents start
        if ha:
            r = self.env.op.put("/v1/ha", json.loads(ha))
            if r.status_code != 200:
                raise RuntimeError("PUT /v1/ha %s: %d %s" % (ha, r.status_code, r.text[:300]))
        for i, h in enumerate(self.rig.hosts):
            host = expect(self.env.op.post("/v1/hosts", {
                "name": h.name, "address": h.addr, "zone": "z%d" % (i + 1), "cpu_millis": 2000,
                "memory_mb": 8192, "disk_mb": 50000, "engines": ["postgres", "mysql", "redis"]}), 201)
            a = RigAgent(self.rig, h, self.srv, host["token"], os.path.join(self.dir, h.name))
            a.start()
            self.agents.append(a)
        self.tenant_token = self.env.mk_tenant("bench")[1]
        self.client = self.env.client(self.tenant_token)
        self.plan = self.env.mk_plan(prefix="bench", cpu_millis=500, memory_mb=256, disk_mb=2048)
        return self

    def _move_member_ids(self):
        import psycopg2
        base = random.randint(10 ** 6, 10 ** 9)
        c = psycopg2.connect(host=os.path.join(self.srv.data_dir, "run"), port=5432, user="dbaas",
                             dbname="postgres", connect_timeout=10)
        try:
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute("SELECT setval(pg_get_serial_sequence('members', 'id'), %s)", (base,))
        finally:
            c.close()

    def logs(self):
        return "\n".join("== agent %s\n%s" % (a.host.addr, a.logs()[-2000:]) for a in self.agents)

    def get(self, iid, client=None):
        return expect((client or self.client).get("/v1/instances/" + iid), 200)

    def wait(self, iid, cond, what, timeout=RUNNING_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            inst = self.get(iid)
            if inst["status"] == "failed":
                raise RuntimeError("instance %s failed: %s\n%s" % (iid, inst.get("status_reason"), self.logs()))
            if cond(inst):
                return inst
            if time.monotonic() > deadline:
                raise RuntimeError("instance %s: not %s after %.0f s (status %s, %s)\n%s" % (
                    iid, what, timeout, inst["status"], inst.get("status_reason"), self.logs()))
            time.sleep(0.1)

    def create(self, engine, sync):
        """An instance with 2 replicas (and "sync": true), running with both replicas streaming
        and caught up. Returns (instance, credentials)."""
        body = {"name": uniq("fo"), "engine": engine, "plan": self.plan, "replicas": 2}
        if sync:
            body["sync"] = True
        r = self.client.post("/v1/instances", body)
        if r.status_code != 202:
            raise RuntimeError("POST /v1/instances %s: %d %s" % (body, r.status_code, r.text[:300]))
        created = r.json()
        self.created.append(created["id"])
        inst = self.wait(created["id"], lambda i: i["status"] == "running" and healthy(i, 2),
                         "running with 2 streaming replicas")
        return inst, created["credentials"]

    def delete(self, iid, timeout=180.0):
        r = self.client.delete("/v1/instances/" + iid)
        if r.status_code not in (202, 404):
            raise RuntimeError("delete %s: %d %s" % (iid, r.status_code, r.text[:300]))
        if r.status_code == 202:
            self.wait(iid, lambda i: i["status"] == "deleted", "deleted", timeout)
        if iid in self.created:
            self.created.remove(iid)

    def crash(self, addr):
        """The host crash: SIGKILL of everything in the namespace of the host with that address."""
        self.rig.crash(self.rig.host(addr))

    def restore_hosts(self):
        """Start again the agent of every crashed host."""
        for a in self.agents:
            if not a.alive():
                a.start()

    # ---- the engines, through their real clients

    def _connect_at(self, engine, host, port, creds, timeout=1):
        user, pw = creds["username"], creds["password"]
        db = creds.get("database") or user
        if engine == "postgres":
            import psycopg2
            c = psycopg2.connect(host=host, port=port, user=user, password=pw, dbname=db, connect_timeout=timeout)
            c.autocommit = True
            return c
        if engine == "mysql":
            import pymysql
            return pymysql.connect(host=host, port=port, user=user, password=pw, database=db,
                                   connect_timeout=timeout, read_timeout=60, write_timeout=60, autocommit=True)
        import redis
        r = redis.Redis(host=host, port=port, username=user, password=pw, socket_timeout=60,
                        socket_connect_timeout=timeout)
        r.ping()
        return r

    def setup_table(self, engine, inst, creds):
        if engine == "redis":
            return
        p = primary_of(inst)
        c = self._connect_at(engine, p["address"], p["port"], creds, timeout=10)
        try:
            with c.cursor() as cur:
                cur.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
        finally:
            c.close()

    def writer_fns(self, engine, iid, creds):
        """connect/write/close for bench_failover.Writer: the primary comes from GET
        /v1/instances/{id} on each (re)connection, at most every 100 ms; PostgreSQL connects with
        the endpoints' multi-host URI (target_session_attrs=read-write)."""
        api = Api(self.srv, self.tenant_token)  # the writer thread's own session
        last = [0.0]

        def connect():
            wait = last[0] + 0.1 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            last[0] = time.monotonic()
            ep = expect(api.get("/v1/instances/" + iid, timeout=2), 200)["endpoints"]
            if engine == "postgres":
                import psycopg2
                c = psycopg2.connect(ep["uri"], password=creds["password"], connect_timeout=1)
                c.autocommit = True
                return c, "%s:%s" % (c.info.host, c.info.port)
            p = ep["primary"]
            return self._connect_at(engine, p["host"], p["port"], creds), "%s:%s" % (p["host"], p["port"])

        def write(c, i):
            if engine == "redis":
                c.set("t:%d" % i, "1")
                return
            with c.cursor() as cur:
                cur.execute("INSERT INTO t (id) VALUES (%s)", (i,))

        def close(c):
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        return connect, write, close

    def ids_on(self, engine, host, port, creds, ids):
        """Which of ids are on the engine at host:port."""
        c = self._connect_at(engine, host, port, creds, timeout=10)
        try:
            if engine == "redis":
                present = set()
                ids = list(ids)
                for lo in range(0, len(ids), 1000):
                    chunk = ids[lo:lo + 1000]
                    p = c.pipeline(transaction=False)
                    for i in chunk:
                        p.exists("t:%d" % i)
                    present.update(i for i, e in zip(chunk, p.execute()) if e)
                return present
            with c.cursor() as cur:
                try:
                    cur.execute("SELECT id FROM t")
                except Exception as e:  # noqa: BLE001
                    # a replica that has not replayed the table's creation yet holds none of them
                    if getattr(e, "pgcode", None) == "42P01" or (e.args and e.args[0] == 1146):
                        return set()
                    raise
                return {r[0] for r in cur.fetchall()}
        finally:
            c.close()

    def close(self):
        try:
            if self.client is not None:
                self.restore_hosts()
                for iid in list(self.created):
                    try:
                        self.delete(iid)
                    except Exception as e:  # noqa: BLE001 - keep cleaning the others
                        sys.stderr.write("bench: could not delete %s: %r\n" % (iid, e))
        finally:
            for a in self.agents:
                a.stop()
            if self.env is not None:
                self.env.close()
            if self.srv is not None:
                self.srv.close()
            if os.environ.get("KEEP_LOGS") == "1":
                sys.stderr.write("bench: logs kept in %s\n" % self.dir)
                for a in self.agents:  # the data directories go; the logs stay
                    shutil.rmtree(a.data, ignore_errors=True)
                with open(os.path.join(self.dir, "dbaasd.log"), "w") as f:
                    f.write(self.srv.log_tail(10 ** 7) if self.srv else "")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
