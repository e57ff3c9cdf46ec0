"""End-to-end checks of the engine drivers (engines/engine_*.c, docs/engines.md) with real servers.

bin/engine_check does, as root, what the agent will do for one member: init, configure, exec the
server as the engine's OS user, wait for the admin-path probe, create the tenant user "app" from
a verifier of a known password. These tests then use the engine's real client (psycopg2,
pymysql, redis-py) over TCP 127.0.0.1 with that password, resize live, restart, and check the
refusals: a plan below the engine's minimum memory, and a start that fails (port taken) with
the engine's own error text.

NOTES
- Needs root (servers run as the Debian package users postgres, mysql and redis): skipped
  otherwise. Passwords go to engine_check on stdin, never on a command line.
- Every member lives in a fresh temporary directory (mode 0755 so that the engine users can
  reach it) with a free port below 32768; the fixture stops the server and removes everything,
  also when a test fails. Waits are deadlines, never bare sleeps.
"""

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN_DIR, free_port, procs_under, wait_until

ENGINE_CHECK = os.path.join(BIN_DIR, "engine_check")
ENGINES = ["postgres", "mysql", "redis"]
OS_USERS = {"postgres": "postgres", "mysql": "mysql", "redis": "redis"}
RUN_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="engine servers run as their OS users: needs root")


def engine_check(*args, password=None, check=True):
    """Run engine_check; returns the CompletedProcess (text). check: assert exit status 0."""
    p = subprocess.run([ENGINE_CHECK] + [str(a) for a in args],
                       input=(password + "\n") if password is not None else "",
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if check:
        assert p.returncode == 0, "engine_check %s: status %d: %s%s" % (
            " ".join(map(str, args)), p.returncode, p.stdout, p.stderr)
    return p


def parse_fields(line):
    return dict(kv.split("=", 1) for kv in line.split())


class Member:
    """One member directory and (while running) its server's pid."""

    def __init__(self, engine):
        self.engine = engine
        self.top = tempfile.mkdtemp(prefix="engine-%s-" % engine)
        os.chmod(self.top, 0o755)
        self.dir = os.path.join(self.top, "member")
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.pid = None

    def start(self, memory=None):
        args = ["start", self.engine, self.dir, self.port] + ([memory] if memory else [])
        t0 = time.monotonic()
        out = engine_check(*args, password=self.password).stdout.strip()
        fields = parse_fields(out)
        self.pid = int(fields["pid"])
        fields["wall_ms"] = int((time.monotonic() - t0) * 1000)
        return fields

    def stop(self):
        if self.pid:
            engine_check("stop", self.engine, self.dir, self.pid)
            self.pid = None

    def cleanup(self):
        try:
            if self.pid:
                engine_check("stop", self.engine, self.dir, self.pid, check=False)
            if os.path.exists(self.dir):
                engine_check("remove", self.engine, self.dir, check=False)
            leftover = procs_under(self.top)
            for pid in leftover:
                os.kill(pid, 9)
            assert not leftover, "processes left in %s: %r" % (self.top, leftover)
        finally:
            shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def member_factory():
    members = []

    def make(engine):
        m = Member(engine)
        members.append(m)
        return m

    yield make
    for m in members:
        m.cleanup()


# ---- the engines' real clients ----

def connect(engine, port, password):
    if engine == "postgres":
        import psycopg2
        c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password=password, dbname="app",
                             connect_timeout=10)
        c.autocommit = True
        return c
    if engine == "mysql":
        import pymysql
        return pymysql.connect(host="127.0.0.1", port=port, user="app", password=password, database="app",
                               connect_timeout=10, autocommit=True)
    import redis
    r = redis.Redis(host="127.0.0.1", port=port, username="app", password=password, socket_timeout=10)
    r.ping()
    return r


def auth_error(engine):
    if engine == "postgres":
        import psycopg2
        return psycopg2.OperationalError
    if engine == "mysql":
        import pymysql
        return pymysql.err.OperationalError
    import redis
    # redis-py reports WRONGPASS as a plain ResponseError.
    return (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError)


AUTH_FAILED = "password authentication failed|Access denied|WRONGPASS"


def sql(conn, query, *params):
    with conn.cursor() as cur:
        cur.execute(query, params or None)
        return cur.fetchall() if cur.description else None


def write_and_read(engine, conn, value):
    """Write value and read it back with the tenant's rights."""
    if engine == "redis":
        assert conn.set("k", value)
        return conn.get("k").decode()
    sql(conn, "CREATE TABLE IF NOT EXISTS t (v varchar(100))")
    sql(conn, "DELETE FROM t")
    sql(conn, "INSERT INTO t VALUES (%s)", value)
    return sql(conn, "SELECT v FROM t")[0][0]


def read_back(engine, conn):
    if engine == "redis":
        v = conn.get("k")
        return v.decode() if v is not None else None
    return sql(conn, "SELECT v FROM t")[0][0]


def memory_setting(engine, conn):
    """The plan-sized memory setting as the tenant can see it, in bytes."""
    if engine == "postgres":
        return int(sql(conn, "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'")[0][0])
    if engine == "mysql":
        return int(sql(conn, "SELECT @@innodb_buffer_pool_size")[0][0])
    return int(conn.info("memory")["maxmemory"])


def expected_memory(engine, memory_mb):
    mib = 1024 * 1024
    return {"postgres": memory_mb // 4 * mib, "mysql": memory_mb // 2 * mib, "redis": memory_mb * mib // 4 * 3}[engine]


# ---- tests ----

@pytest.mark.parametrize("engine", ENGINES)
def test_engine_end_to_end(engine, member_factory):
    m = member_factory(engine)
    timings = m.start(memory=256)
    print("%s: init %s ms, configure %s ms, start-to-probe %s ms, user %s ms, engine_check %s ms" % (
        engine, timings["init_ms"], timings["configure_ms"], timings["start_ms"], timings["user_ms"],
        timings["wall_ms"]))

    # Ownership and modes: the member directory and the engine's data are the OS user's, 0700.
    user = pwd.getpwnam(OS_USERS[engine])
    for d in (m.dir, os.path.join(m.dir, "data")):
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700, d
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid), d
    secret = os.path.join(m.dir, "admin.secret")
    if os.path.exists(secret):
        st = os.lstat(secret)
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    for name in os.listdir(m.dir):
        st = os.lstat(os.path.join(m.dir, name))
        assert stat.S_IMODE(st.st_mode) & 0o007 == 0 or stat.S_ISSOCK(st.st_mode), name
    # The server runs as the OS user, not root.
    with open("/proc/%d/status" % m.pid) as f:
        uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
    assert set(map(int, uids)) == {user.pw_uid}

    # The tenant's password works over TCP with the real client; a wrong one does not.
    t0 = time.monotonic()
    conn = connect(engine, m.port, m.password)
    assert write_and_read(engine, conn, "hello") == "hello"
    print("%s: first query %d ms after the server answered" % (engine, (time.monotonic() - t0) * 1000))
    assert memory_setting(engine, conn) == expected_memory(engine, 256)
    with pytest.raises(auth_error(engine), match=AUTH_FAILED):
        connect(engine, m.port, m.password + "x")

    # Live resize: Redis and MariaDB change memory live; PostgreSQL reports a pending restart.
    out = engine_check("resize", engine, m.dir, m.port, 512, password=m.password).stdout
    restart = parse_fields(out)["restart_needed"] == "1"
    assert restart == (engine == "postgres")
    if restart:
        assert memory_setting(engine, conn) == expected_memory(engine, 256)
    else:
        wait_until(lambda: memory_setting(engine, conn) == expected_memory(engine, 512),
                   what="%s memory resized live" % engine)
    # Resizing back to the running sizes leaves nothing pending.
    if engine == "postgres":
        out = engine_check("resize", engine, m.dir, m.port, 256, password=m.password).stdout
        assert parse_fields(out)["restart_needed"] == "0"
        engine_check("resize", engine, m.dir, m.port, 512, password=m.password)
    conn.close()

    # Restart: data survives, init is skipped, the new plan is in effect.
    m.stop()
    assert not procs_under(m.dir)
    timings = m.start(memory=512)
    assert int(timings["init_ms"]) < 200  # already initialised: nothing to do
    conn = connect(engine, m.port, m.password)
    assert read_back(engine, conn) == "hello"
    assert memory_setting(engine, conn) == expected_memory(engine, 512)
    conn.close()

    # create-user is create-or-update: a new password replaces the old one.
    new_password = secrets.token_urlsafe(18)
    engine_check("user", engine, m.dir, m.port, password=new_password)
    engine_check("user", engine, m.dir, m.port, password=new_password)  # idempotent
    with pytest.raises(auth_error(engine), match=AUTH_FAILED):
        connect(engine, m.port, m.password)
    conn = connect(engine, m.port, new_password)
    assert read_back(engine, conn) == "hello"
    conn.close()

    m.stop()
    assert not procs_under(m.dir)
    engine_check("remove", engine, m.dir)
    assert not os.path.exists(m.dir)


@pytest.mark.parametrize("engine", ENGINES)
def test_plan_below_minimum_is_refused(engine, member_factory):
    minimum = int(engine_check("min", engine).stdout)
    assert minimum > 0
    m = member_factory(engine)
    p = engine_check("start", engine, m.dir, m.port, minimum - 1, password=m.password, check=False)
    assert p.returncode == 3, p.stderr
    assert "minimum of %d MB" % minimum in p.stderr
    assert not os.path.exists(m.dir)  # refused before anything was created
    assert m.password not in p.stderr + p.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_start_reports_engine_error(engine, member_factory):
    m = member_factory(engine)
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        taken.bind(("127.0.0.1", m.port))
        taken.listen(1)
        p = engine_check("start", engine, m.dir, m.port, password=m.password, check=False)
    finally:
        taken.close()
    assert p.returncode == 1, p.stdout + p.stderr
    # The engine's own words, not just "exited with status 1".
    assert "at start: " in p.stderr
    assert "Address already in use" in p.stderr, p.stderr
    assert not procs_under(m.dir)

    # Once the port is free the same member starts (init already done).
    m.start()
    conn = connect(engine, m.port, m.password)
    assert write_and_read(engine, conn, "after") == "after"
    conn.close()
