"""HA part 1 end to end: real read-only replicas seeded from their primary and streaming from it,
with engine-native health checks, on a rig of three hosts on one machine.

dbaasd runs with its embedded store; three agents (as root) advertise 127.0.0.2, 127.0.0.3 and
127.0.0.4, each with its own data directory, port range and zone, so that the three members of an
instance land on three hosts. Every engine runs on the cgroup backend; PostgreSQL also on libvirt
LXC. The tests talk to the engines with the real clients (psycopg2, pymysql, redis-py) and drive
load with pgbench and redis-benchmark. docs/ha.md describes what is checked here.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading

import psycopg2
import pymysql
import pytest
import redis

from conftest import Env, expect, free_port_range, run_ctl, start_server, uniq, wait_until
from test_agent import Agent
from test_isolation import Libvirtd

RUNNING_TIMEOUT = 180.0
PG_BIN = "/usr/lib/postgresql/15/bin"
HOSTS = (("ra", "127.0.0.2", "z1"), ("rb", "127.0.0.3", "z2"), ("rc", "127.0.0.4", "z3"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the agents need root (CI runs as root)")


class Rig:
    """dbaasd, three registered hosts and their agents, one tenant."""

    def __init__(self, backend):
        self.backend = backend
        self.lv = None
        self.srv = None
        self.env = None
        self.agents = []
        self.hosts = {}

    def start(self):
        if self.backend == "lxc":
            self.lv = Libvirtd()
            self.lv.start()
        self.srv = start_server()
        self.env = Env(self.srv)
        for name, addr, zone in HOSTS:
            host = expect(self.env.op.post("/v1/hosts", {
                "name": uniq(name), "address": addr, "zone": zone, "cpu_millis": 2000,
                "memory_mb": 8192, "disk_mb": 50000, "engines": ["postgres", "mysql", "redis"]}), 201)
            agent = Agent(self.srv, host["token"], self.backend, self.lv.uri if self.lv else None,
                          free_port_range(90), advertise=addr)
            agent.start()
            self.agents.append(agent)
            self.hosts[host["name"]] = agent
        _, tok = self.env.mk_tenant()  # no quota: unlimited
        self.client = self.env.client(tok)

    def stop(self):
        try:
            if self.env:
                for i in self.client.list_all("/v1/instances"):
                    if i["status"] not in ("deleting", "deleted"):
                        self.client.delete("/v1/instances/" + i["id"])
                for i in self.client.list_all("/v1/instances"):
                    self.wait(i["id"], ("deleted",))
        finally:
            for a in self.agents:
                a.stop()
                shutil.rmtree(a.dir, ignore_errors=True)
            if self.env:
                self.env.close()
            if self.srv:
                self.srv.close()
            if self.lv:
                self.lv.stop()

    def logs(self):
        return "\n".join("== agent %s\n%s" % (a.advertise, a.logs()[-3000:]) for a in self.agents)

    def plan(self):
        return self.env.mk_plan(cpu_millis=500, memory_mb=256, disk_mb=2048)

    def get(self, iid):
        return expect(self.client.get("/v1/instances/" + iid), 200)

    def wait(self, iid, statuses, timeout=RUNNING_TIMEOUT, cond=None):
        def ok():
            i = self.get(iid)
            if i["status"] == "failed" and "failed" not in statuses:
                pytest.fail("instance failed: %s\n%s" % (i["status_reason"], self.logs()))
            if i["status"] in statuses and (cond is None or cond(i)):
                return i
            return None
        return wait_until(ok, timeout=timeout, what="instance %s in %s" % (iid, statuses))

    def create(self, engine, replicas):
        body = expect(self.client.post("/v1/instances", {
            "name": uniq("db"), "engine": engine, "plan": self.plan(), "replicas": replicas}), 202)
        inst = self.wait(body["id"], ("running",), cond=lambda i: healthy(i, replicas))
        return inst, body["credentials"]



def running(inst):
    return [m for m in inst["members"] if m["desired"] == "running"]


def replicas_of(inst):
    return [m for m in running(inst) if m["role"] == "replica"]


def primary_of(inst):
    ps = [m for m in running(inst) if m["role"] == "primary"]
    assert len(ps) == 1, inst["members"]
    return ps[0]


def healthy(inst, n_replicas):
    """Every member runs; the replicas stream (the engine says replica, link up, lag known)."""
    ms = running(inst)
    if len(ms) != n_replicas + 1 or any(m["status"] != "running" for m in ms):
        return False
    reps = [m for m in ms if m["role"] == "replica"]
    return len(reps) == n_replicas and all(
        m["writable"] is False and isinstance(m["lag_bytes"], (int, float)) and
        isinstance(m["lag_seconds"], (int, float)) for m in reps)


def ep(member):
    return member["address"], member["port"]


# --------------------------------------------------------------------------------------------
# engine clients


class Client:
    """One engine's real client: connect, write n rows, count them, checksum them."""

    def __init__(self, engine, host, port, creds):
        self.engine = engine
        self.user, self.pw = creds["username"], creds["password"]
        self.db = creds.get("database") or creds["username"]
        if engine == "postgres":
            self.c = psycopg2.connect(host=host, port=port, user=self.user, password=self.pw,
                                      dbname=self.db, connect_timeout=10)
            self.c.autocommit = True
        elif engine == "mysql":
            self.c = pymysql.connect(host=host, port=port, user=self.user, password=self.pw,
                                     database=self.db, connect_timeout=10, autocommit=True)
        else:
            self.c = redis.Redis(host=host, port=port, username=self.user, password=self.pw,
                                 socket_timeout=10)

    def close(self):
        self.c.close()

    def sql(self, q, *args):
        with self.c.cursor() as cur:
            cur.execute(q, args or None)
            try:
                return cur.fetchall()
            except (psycopg2.ProgrammingError, pymysql.err.Error):
                return None

    def setup(self):
        if self.engine == "redis":
            return
        self.sql("CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY, v text)")

    def write(self, start, n):
        if self.engine == "redis":
            p = self.c.pipeline(transaction=False)
            for i in range(start, start + n):
                p.set("t:%d" % i, "v%d" % i)
            p.execute()
            return
        for i in range(start, start + n):
            self.sql("INSERT INTO t VALUES (%s, %s)", i, "v%d" % i)

    def count(self):
        """Rows (keys) of t; -1 while the table has not reached this member yet."""
        if self.engine == "redis":
            return sum(1 for _ in self.c.scan_iter("t:*", count=1000))
        try:
            return self.sql("SELECT count(*) FROM t")[0][0]
        except psycopg2.errors.UndefinedTable:
            return -1
        except pymysql.err.ProgrammingError as e:
            if e.args[0] != 1146:  # ER_NO_SUCH_TABLE
                raise
            return -1

    def digest(self):
        """A checksum of the whole data set the tests write (tables t and pgbench's, or all keys)."""
        h = hashlib.sha256()
        if self.engine == "redis":
            for k in sorted(self.c.scan_iter("*", count=1000)):
                h.update(k + b"=" + (self.c.dump(k) or b"") + b"\n")
            return h.hexdigest()
        if self.engine == "postgres":
            tables = [r[0] for r in self.sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
            for t in tables:
                rows = self.sql("SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) "
                                "FROM %s x" % t)
                h.update(("%s:%s\n" % (t, rows[0][0])).encode())
            return h.hexdigest()
        tables = [r[0] for r in self.sql("SHOW TABLES")]
        for t in sorted(tables):
            h.update(("%s:%s\n" % (t, self.sql("CHECKSUM TABLE `%s`" % t)[0][1])).encode())
        return h.hexdigest()

    def write_on_replica_fails(self):
        """A write on a replica fails with the engine's own read-only error."""
        try:
            if self.engine == "redis":
                self.c.set("t:on-replica", "x")
            else:
                self.sql("INSERT INTO t VALUES (%s, %s)", -1, "on-replica")
        except redis.exceptions.ReadOnlyError as e:
            return str(e)
        except psycopg2.errors.ReadOnlySqlTransaction as e:
            return str(e)
        except pymysql.err.OperationalError as e:
            assert e.args[0] == 1290, e  # ER_OPTION_PREVENTS_STATEMENT: --read-only
            return str(e)
        raise AssertionError("a write on a replica succeeded")


def wait_count(cl, n, timeout, what):
    return wait_until(lambda: cl.count() == n, timeout=timeout, interval=0.02, what=what)


@pytest.fixture(scope="module")
def rig(request):
    r = Rig(request.param)
    try:
        r.start()
        yield r
    finally:
        r.stop()


# Every engine on the cgroup backend, PostgreSQL also on libvirt LXC (pytest groups the cases by
# backend, so each module-scoped rig starts once).
MATRIX = [("cgroup", "postgres"), ("cgroup", "mysql"), ("cgroup", "redis"), ("lxc", "postgres")]
BACKENDS = ["cgroup", "lxc"]
by_engine = pytest.mark.parametrize("rig,engine", MATRIX, indirect=["rig"])
by_backend = pytest.mark.parametrize("rig", BACKENDS, indirect=True)


# --------------------------------------------------------------------------------------------
# tests


@by_engine
def test_two_replicas_stream(rig, engine):
    inst, creds = rig.create(engine, 2)
    ms = running(inst)
    assert len({m["host"] for m in ms}) == 3, "three members on three hosts: %s" % ms
    prim = primary_of(inst)
    assert prim["writable"] is True and prim["lag_bytes"] is None and prim["lag_seconds"] is None
    assert inst["endpoints"]["primary"] == {"host": prim["address"], "port": prim["port"]}
    assert sorted(map(ep, replicas_of(inst))) == sorted(
        (e["host"], e["port"]) for e in inst["endpoints"]["replicas"])

    p = Client(engine, *ep(prim), creds)
    reps = [Client(engine, *ep(m), creds) for m in replicas_of(inst)]
    try:
        p.setup()
        p.write(0, 100)
        for r in reps:
            # rows written on the primary appear on each replica within a second
            wait_count(r, 100, 1.0, "100 rows on a replica")
            assert "read" in r.write_on_replica_fails().lower()
        wait_until(lambda: all(m["lag_bytes"] == 0 for m in replicas_of(rig.get(inst["id"]))),
                   timeout=30, what="lag 0 once writes stop")
    finally:
        for c in [p] + reps:
            c.close()


@by_backend
def test_postgres_uris(rig):
    inst, creds = rig.create("postgres", 1)
    e = inst["endpoints"]
    assert "target_session_attrs=read-write" in e["uri"]
    assert "target_session_attrs=prefer-standby" in e["readonly_uri"]
    pw = creds["password"]
    c = psycopg2.connect(e["uri"], password=pw, connect_timeout=10)
    with c.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        assert cur.fetchone()[0] is False
    c.close()
    c = psycopg2.connect(e["readonly_uri"], password=pw, connect_timeout=10)
    with c.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        assert cur.fetchone()[0] is True
    c.close()
    # the create answer's uri works as it is
    c = psycopg2.connect(creds["uri"], connect_timeout=10)
    c.close()


class Load:
    """A steady writer on the primary, with the real load tool of each engine."""

    def __init__(self, engine, host, port, creds):
        self.engine, self.host, self.port, self.creds = engine, host, port, creds
        self.proc = None
        self.thread = None
        self.stop_flag = threading.Event()
        self.error = None

    def start(self):
        c = self.creds
        if self.engine == "postgres":
            env = dict(os.environ, PGPASSWORD=c["password"])
            args = [PG_BIN + "/pgbench", "-h", self.host, "-p", str(self.port), "-U", c["username"],
                    c["database"]]
            subprocess.run(args[:1] + ["-i", "-s", "2", "-q"] + args[1:], env=env, check=True,
                           capture_output=True, timeout=120)
            self.proc = subprocess.Popen(args[:1] + ["-c", "2", "-T", "600", "-n"] + args[1:], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elif self.engine == "redis":
            self.proc = subprocess.Popen(
                ["redis-benchmark", "-h", self.host, "-p", str(self.port), "--user", c["username"],
                 "-a", c["password"], "-t", "set", "-n", "100000000", "-r", "20000", "-c", "4", "-q"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            cl = Client("mysql", self.host, self.port, c)
            cl.setup()

            def loop():
                i = 1000000
                try:
                    while not self.stop_flag.is_set():
                        cl.write(i, 20)
                        i += 20
                except Exception as e:  # noqa: BLE001 - reported by stop()
                    self.error = e
                finally:
                    cl.close()
            self.thread = threading.Thread(target=loop, daemon=True)
            self.thread.start()

    def stop(self):
        self.stop_flag.set()
        if self.proc:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.thread:
            self.thread.join(30)
        assert self.error is None, self.error


@by_engine
def test_replica_added_under_load_catches_up(rig, engine):
    inst, creds = rig.create(engine, 0)
    prim = primary_of(inst)
    load = Load(engine, *ep(prim), creds)
    load.start()
    try:
        expect(rig.client.patch("/v1/instances/" + inst["id"], {"replicas": 1}), 202)
        inst = rig.wait(inst["id"], ("running",), cond=lambda i: healthy(i, 1))
    finally:
        load.stop()
    rep = replicas_of(inst)[0]
    p = Client(engine, *ep(prim), creds)
    r = Client(engine, *ep(rep), creds)
    try:
        want = p.digest()
        wait_until(lambda: r.digest() == want, timeout=60, interval=0.2,
                   what="the new replica holds the primary's data")
    finally:
        p.close()
        r.close()


@by_engine
def test_replica_engine_killed_restarts_and_catches_up(rig, engine):
    inst, creds = rig.create(engine, 1)
    rep = replicas_of(inst)[0]
    restarts = rep["restarts"]
    os.kill(rep["pid"], signal.SIGKILL)
    inst = rig.wait(inst["id"], ("running", "degraded"),
                    cond=lambda i: replicas_of(i) and replicas_of(i)[0]["restarts"] > restarts)
    inst = rig.wait(inst["id"], ("running",), cond=lambda i: healthy(i, 1))
    p = Client(engine, *ep(primary_of(inst)), creds)
    r = Client(engine, *ep(replicas_of(inst)[0]), creds)
    try:
        p.setup()
        p.write(0, 50)
        wait_count(r, 50, 30, "the restarted replica catches up")
    finally:
        p.close()
        r.close()


@by_backend
def test_postgres_replica_removed_drops_its_slot(rig):
    inst, creds = rig.create("postgres", 2)
    prim = primary_of(inst)
    p = Client("postgres", *ep(prim), creds)
    try:
        slots = {r[0] for r in p.sql("SELECT slot_name FROM pg_replication_slots")}
        assert slots == {"dbaas_m%d" % m["id"] for m in replicas_of(inst)}, slots
        expect(rig.client.patch("/v1/instances/" + inst["id"], {"replicas": 1}), 202)
        inst = rig.wait(inst["id"], ("running",),
                        cond=lambda i: len(i["members"]) == 2 and healthy(i, 1))
        wait_until(lambda: {r[0] for r in p.sql("SELECT slot_name FROM pg_replication_slots")} ==
                   {"dbaas_m%d" % replicas_of(inst)[0]["id"]}, timeout=30, what="slot dropped")
    finally:
        p.close()


def member_secret(rig, member_id):
    """The replication secret, read where the agent keeps it (its 0600 member record)."""
    for a in rig.agents:
        path = os.path.join(a.data, "members", "%d.json" % member_id)
        if os.path.exists(path):
            st = os.stat(path)
            assert st.st_mode & 0o077 == 0, "member record readable by others: %o" % st.st_mode
            with open(path) as f:
                rec = json.load(f)
            secret = (rec.get("replication") or {}).get("secret")
            assert secret, "no replication secret in %s" % path
            return secret
    raise AssertionError("no record of member %d" % member_id)


@by_backend
def test_replication_secret_never_shown(rig):
    inst, creds = rig.create("postgres", 1)
    secret = member_secret(rig, primary_of(inst)["id"])
    assert secret != creds["password"]
    seen = []
    for path in ("/v1/instances", "/v1/instances/" + inst["id"], "/v1/events",
                 "/v1/instances/%s/events" % inst["id"]):
        seen.append(rig.client.get(path).text)
        seen.append(rig.env.op.get(path).text)
    seen.append(rig.env.op.get("/metrics").text)
    for text in seen:
        assert secret not in text
    assert secret not in rig.srv.log_tail(100000)
    for a in rig.agents:
        assert secret not in a.logs()
        for log in glob.glob(os.path.join(a.data, "members", "*", "server.log")):
            with open(log, errors="replace") as f:
                assert secret not in f.read(), log
    # nor in any process's command line or environment
    for d in glob.glob("/proc/[0-9]*"):
        for name in ("cmdline", "environ"):
            try:
                with open(os.path.join(d, name), "rb") as f:
                    assert secret.encode() not in f.read(), "%s/%s" % (d, name)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass


def auth_refused(engine, member, creds):
    """Whether this member refuses creds (the engine's own authentication error)."""
    try:
        c = Client(engine, *ep(member), creds)
        try:
            c.count()
        finally:
            c.close()
    except psycopg2.OperationalError as e:
        assert "password authentication failed" in str(e), e
        return True
    except pymysql.err.OperationalError as e:
        assert e.args[0] == 1045, e  # ER_ACCESS_DENIED_ERROR
        return True
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
        assert "WRONGPASS" in str(e) or "invalid username-password" in str(e), e
        return True
    return False


def count_with(engine, member, creds):
    """The member's row count with creds, or None while it refuses them."""
    if auth_refused(engine, member, creds):
        return None
    c = Client(engine, *ep(member), creds)
    try:
        return c.count()
    finally:
        c.close()


@pytest.mark.parametrize("rig,engine", [m for m in MATRIX if m[0] == "cgroup"], indirect=["rig"])
def test_reset_password(rig, engine):
    """POST /v1/instances/{id}/reset-password: a new password that every member takes (the
    primary's account altered by its agent; a replica's through replication or, Redis, by its own
    agent), the old one refused everywhere, the data untouched, the password in no log; then the
    same through dbaasctl."""
    inst, creds = rig.create(engine, 1)
    p = Client(engine, *ep(primary_of(inst)), creds)
    try:
        p.setup()
        p.write(0, 10)
    finally:
        p.close()
    r = rig.client.post("/v1/instances/%s/reset-password" % inst["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == inst["id"] and body["password_applied"] is True, body
    new = body["credentials"]
    assert new["username"] == creds["username"] and new["password"] != creds["password"]
    for m in running(inst):
        wait_until(lambda: count_with(engine, m, new) == 10, timeout=30,
                   what="member %s takes the new password" % m["id"])
        wait_until(lambda: auth_refused(engine, m, creds), timeout=30,
                   what="member %s refuses the old password" % m["id"])
    ev = [e["kind"] for e in rig.client.list_all("/v1/events", params={"instance": inst["id"]})]
    assert "instance.password_reset" in ev, ev
    # once more through the CLI: it prints the new password once
    cli = run_ctl(["instance", "reset-password", inst["id"]], url=rig.srv.url, token=rig.client.token)
    assert cli.returncode == 0, cli.stderr
    third = re.search(r"^password: (\S+)$", cli.stdout, re.M).group(1)
    assert third not in (creds["password"], new["password"]) and "applied: yes" in cli.stdout, cli.stdout
    for m in running(inst):
        wait_until(lambda: count_with(engine, m, {"username": creds["username"], "password": third,
                                                  "database": creds.get("database")}) == 10,
                   timeout=30, what="member %s takes the CLI's password" % m["id"])
        assert auth_refused(engine, m, new)
    logs = "\n".join([a.logs() for a in rig.agents] + rig.srv.lines)
    for pw in (new["password"], third):
        assert pw not in logs


@pytest.mark.parametrize("rig", ["cgroup"], indirect=True)
def test_new_mysql_sync_primary_waits_for_its_replica_from_the_start(rig):
    """A new MariaDB sync primary has semi-synchronous replication on from the moment its agent
    reports it running, before its replica is seeded: every write is then either in the copy
    the replica is seeded from or acknowledged only by a replica. A write made while the copy
    runs holds up its BACKUP STAGE, and the primary's agent ends that write's session after 2 s
    (error 2013, never an acknowledgement; the write is in the copy). Before, the master side
    came on only once a replica had connected, so writes between the copy and the connection
    were acknowledged by nobody."""
    body = expect(rig.client.post("/v1/instances", {
        "name": uniq("db"), "engine": "mysql", "plan": rig.plan(), "replicas": 1, "sync": True}), 202)
    iid, creds = body["id"], body["credentials"]

    def primary_up():
        i = rig.get(iid)
        if i["status"] == "failed":
            pytest.fail("instance failed: %s\n%s" % (i["status_reason"], rig.logs()))
        ps = [m for m in running(i) if m["role"] == "primary" and m["status"] == "running"]
        return (i, ps[0]) if ps else None

    i, p = wait_until(primary_up, timeout=RUNNING_TIMEOUT, interval=0.05, what="the primary running")
    replica_ran = any(m["status"] == "running" for m in replicas_of(i))
    status_then = i["status"]
    c = pymysql.connect(host=p["address"], port=p["port"], user=creds["username"],
                        password=creds["password"], database=creds["database"], connect_timeout=10,
                        read_timeout=120, autocommit=True)
    with c.cursor() as cur:
        cur.execute("SELECT @@global.rpl_semi_sync_master_enabled, @@global.rpl_semi_sync_master_wait_no_slave")
        assert cur.fetchone() == (1, 1), "semi-sync not in force on a new sync primary (replica running: %s)" % replica_ran
    outcome = {}

    def write():
        try:
            with c.cursor() as cur:
                cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
                cur.execute("INSERT INTO t VALUES (1)")
            outcome["acknowledged"] = True
        except pymysql.err.OperationalError as e:
            outcome["error"] = e.args[0]
    t = threading.Thread(target=write, daemon=True)
    t.start()
    try:
        inst = rig.wait(iid, ("running",), cond=lambda i: healthy(i, 1))
    except BaseException:
        print(rig.logs())
        raise
    t.join(60)
    assert not t.is_alive(), "the write never ended\n%s" % rig.logs()
    assert outcome.get("acknowledged") or outcome.get("error") == 2013, outcome
    c.close()
    rep = replicas_of(inst)[0]

    def rows(m):
        """The rows of t on member m (None: no table t)."""
        r = Client("mysql", *ep(m), creds)
        try:
            if not r.sql("SHOW TABLES LIKE 't'"):
                return None
            return [row[0] for row in r.sql("SELECT id FROM t ORDER BY id")]
        finally:
            r.close()
    # what the primary committed, acknowledged or not, the replica has
    on_primary = rows(p)
    if outcome.get("acknowledged"):
        assert on_primary == [1], on_primary
    wait_until(lambda: rows(rep) == on_primary, timeout=30,
               what="the replica holding what the primary committed (%r)" % (on_primary,))
    # the next write is acknowledged by the streaming replica
    c = pymysql.connect(host=p["address"], port=p["port"], user=creds["username"],
                        password=creds["password"], database=creds["database"], connect_timeout=10,
                        read_timeout=30, autocommit=True)
    with c.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO t VALUES (2)")
    c.close()
    print("new sync primary: when the primary was first seen running, the instance was %s and "
          "its replica %s; the early write: %s" % (status_then, "running" if replica_ran else
                                                   "not running", outcome))
    expect(rig.client.delete("/v1/instances/" + iid), 202)
    rig.wait(iid, ("deleted",))
