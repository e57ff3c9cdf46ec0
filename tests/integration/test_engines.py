"""End-to-end checks of the engine drivers (engines/engine_*.c, docs/engines.md) with real servers.

bin/engine_check does, as root, what the agent will do for one member: init, configure, exec the
server as the engine's OS user, wait for the admin-path probe, create the tenant user "app" from
a verifier of a known password. These tests then use the engine's real client (psycopg2,
pymysql, redis-py) over TCP 127.0.0.1 with that password, resize live, restart, and check the
refusals: a plan below the engine's minimum memory, and a start that fails (port taken) with
the engine's own error text.

Replication (HA part 1): `engine_check repl` builds a primary and a replica of one instance on
this machine (two members, two ports), seeds the replica with the driver's seed plan, and checks
from C what the drivers promise (see engine_check.c); the tests here assert on what it printed,
then check again from Python with the real clients: the replica has the data and refuses
writes, the replication secret is in no command line, environment or log, a health probe of a
stopped (SIGSTOP) server returns within its deadline, and the replica reports its link down
when the primary stops.

NOTES
- Needs root (servers run as the Debian package users postgres, mysql and redis): skipped
  otherwise. Passwords go to engine_check on stdin, never on a command line.
- Every member lives in a fresh temporary directory (mode 0755 so that the engine users can
  reach it) with a free port below 32768; the fixture stops the server and removes everything,
  also when a test fails. Waits are deadlines, never bare sleeps.
"""

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
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
            leftover = procs_under(self.top)  # (pid, command line, cwd) each
            for pid, _, _ in leftover:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            assert not leftover, "processes left in %s: %r" % (self.top, leftover)
        finally:
            shutil.rmtree(self.top, ignore_errors=True)


def _factory(cls):
    """A fixture's body: make(engine) builds cls(engine); all are cleaned up at the end."""
    made = []

    def make(engine):
        made.append(cls(engine))
        return made[-1]

    yield make
    for x in made:
        x.cleanup()


@pytest.fixture
def member_factory():
    yield from _factory(Member)


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


def assert_auth_refused(engine, port, password):
    """A connection with a wrong password is refused by the engine's own authentication (not
    by a closed port, a timeout or anything else): PostgreSQL's "password authentication
    failed", MariaDB's error 1045, Redis's WRONGPASS."""
    assert port_open(port), "port %d is not open: a refusal would prove nothing" % port
    if engine == "postgres":
        import psycopg2
        with pytest.raises(psycopg2.OperationalError, match='password authentication failed for user "app"'):
            connect(engine, port, password)
    elif engine == "mysql":
        import pymysql
        with pytest.raises(pymysql.err.OperationalError) as ei:
            connect(engine, port, password)
        assert ei.value.args[0] == 1045 and "Access denied for user 'app'" in ei.value.args[1], ei.value
    else:
        import redis
        # redis-py 4.3 (Debian 12) reports WRONGPASS as a ResponseError; later ones as an
        # AuthenticationError. Either way the server's WRONGPASS reply.
        with pytest.raises((redis.exceptions.ResponseError, redis.exceptions.AuthenticationError),
                           match="^WRONGPASS"):
            connect(engine, port, password)


def port_open(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


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
    assert_auth_refused(engine, m.port, m.password + "x")

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
    assert_auth_refused(engine, m.port, m.password)
    conn = connect(engine, m.port, new_password)
    assert read_back(engine, conn) == "hello"
    conn.close()

    m.stop()
    assert not procs_under(m.dir)
    engine_check("remove", engine, m.dir)
    assert not os.path.exists(m.dir)


def mysql_root(m, query):
    """query as root@localhost over the member's admin socket (unix_socket authentication)."""
    sock = os.path.join(m.dir, "mysqld.%d.sock" % m.port)
    p = subprocess.run(["mariadb", "-S", sock, "-u", "root", "-N", "-B", "-e", query], capture_output=True,
                       text=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, "as root: %s: %s" % (query, p.stderr)
    return p.stdout


def mysql_refused(conn, query, code):
    """query fails with MariaDB error `code` (an access refusal, not any other failure)."""
    import pymysql
    with pytest.raises((pymysql.err.OperationalError, pymysql.err.InternalError, pymysql.err.ProgrammingError)) as ei:
        sql(conn, query)
    assert ei.value.args[0] == code, "%s: %r" % (query, ei.value.args)


def test_mariadb_tenant_owns_its_databases_not_the_server(member_factory):
    """The MariaDB tenant is a database owner that makes its own databases and application
    accounts, and can reach neither the system schemas nor the accounts the agent and
    replication use (engines/engine_mariadb_tenant.c)."""
    import pymysql
    m = member_factory("mysql")
    m.start(memory=256)
    conn = connect("mysql", m.port, m.password)
    accounts = mysql_root(m, "SELECT CONCAT(User, '@', Host) FROM mysql.user ORDER BY 1")

    # A database owner: databases, tables, routines, its own application accounts.
    sql(conn, "CREATE DATABASE shop")
    sql(conn, "CREATE TABLE shop.orders (id int PRIMARY KEY, v text)")
    sql(conn, "INSERT INTO shop.orders VALUES (1, 'one')")
    sql(conn, "CREATE PROCEDURE shop.n() SELECT COUNT(*) FROM shop.orders")
    sql(conn, "CALL mysql.dbaas_create_user('web', 'web-password-1')")
    sql(conn, "GRANT SELECT, INSERT ON shop.* TO 'web'@'%'")
    web = pymysql.connect(host="127.0.0.1", port=m.port, user="web", password="web-password-1",
                          database="shop", connect_timeout=10, autocommit=True)
    assert sql(web, "SELECT v FROM orders") == (("one",),)
    mysql_refused(web, "DELETE FROM orders", 1142)
    web.close()
    sql(conn, "CALL mysql.dbaas_set_password('web', 'web-password-2')")
    pymysql.connect(host="127.0.0.1", port=m.port, user="web", password="web-password-2",
                    connect_timeout=10).close()

    # Not the server's: the system schemas, other accounts, roles, definers.
    for query, code in [
            ("SELECT COUNT(*) FROM mysql.global_priv", 1142),
            ("DELETE FROM mysql.global_priv WHERE User = 'root'", 1142),
            ("UPDATE mysql.user SET Host = 'x' WHERE 0", 1142),
            ("DROP DATABASE mysql", 1044),
            ("DROP DATABASE sys", 1044),
            ("UPDATE sys.sys_config SET value = value WHERE 0", 1142),
            ("TRUNCATE performance_schema.events_statements_summary_by_digest", 1142),
            ("DROP USER 'root'@'localhost'", 1227),
            ("ALTER USER 'root'@'localhost' IDENTIFIED BY 'x'", 1227),
            ("RENAME USER 'root'@'localhost' TO 'x'@'localhost'", 1227),
            ("SET PASSWORD FOR 'root'@'localhost' = PASSWORD('x')", 1044),
            ("CREATE USER 'x'@'%'", 1227),
            ("CREATE ROLE r", 1227),
            ("GRANT SELECT ON mysql.* TO 'web'@'%'", 1044),
            ("REVOKE PROCESS ON *.* FROM 'app'@'%'", 1045),
            ("CREATE DEFINER = 'root'@'localhost' PROCEDURE shop.p() SELECT 1", 1227),
            ("SET GLOBAL read_only = OFF", 1227),
            ("CALL mysql.dbaas_drop_user('root')", 1644),
            ("CALL mysql.dbaas_drop_user('app')", 1644),
            ("CALL mysql.dbaas_drop_user('mariadb.sys')", 1644),
            ("CALL mysql.dbaas_set_password('root', 'x-password-1')", 1644),
            ("CALL mysql.dbaas_create_user('dbaas_repl', 'x-password-1')", 1644),
            ("CALL mysql.dbaas_create_user('web2', 'short')", 1644)]:
        mysql_refused(conn, query, code)
    # A failed create leaves no account behind.
    assert "web2@%" not in mysql_root(m, "SELECT CONCAT(User, '@', Host) FROM mysql.user")
    sql(conn, "SET SESSION sql_mode = ''")
    mysql_refused(conn, "GRANT SELECT ON shop.* TO 'new'@'%' IDENTIFIED BY 'new-password-1'", 1410)

    # A grant on every database, to an application account or to PUBLIC, still stops at the
    # system schemas.
    sql(conn, "GRANT ALL PRIVILEGES ON `%`.* TO 'web'@'%'")
    sql(conn, "GRANT ALL PRIVILEGES ON `%`.* TO PUBLIC")
    web = pymysql.connect(host="127.0.0.1", port=m.port, user="web", password="web-password-2",
                          connect_timeout=10, autocommit=True)
    assert sql(web, "SELECT COUNT(*) FROM shop.orders") == ((1,),)
    for who in (conn, web):
        mysql_refused(who, "SELECT COUNT(*) FROM mysql.global_priv", 1142)
        mysql_refused(who, "DROP DATABASE mysql", 1044)
    web.close()
    sql(conn, "CALL mysql.dbaas_drop_user('web')")
    with pytest.raises(pymysql.err.OperationalError) as ei:
        pymysql.connect(host="127.0.0.1", port=m.port, user="web", password="web-password-2", connect_timeout=10)
    assert ei.value.args[0] == 1045
    conn.close()

    # The agent's accounts are all still there and its admin path works.
    assert mysql_root(m, "SELECT CONCAT(User, '@', Host) FROM mysql.user ORDER BY 1") == accounts
    engine_check("user", "mysql", m.dir, m.port, password=m.password)

    # An account made by an earlier driver (global privileges, CREATE USER among them) loses
    # them at the next start; its data stays.
    mysql_root(m, "GRANT CREATE USER, INSERT, UPDATE, DELETE ON *.* TO 'app'@'%' WITH GRANT OPTION")
    m.stop()
    m.start(memory=256)
    grants = mysql_root(m, "SHOW GRANTS FOR 'app'@'%'")
    assert "ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD" in grants and "CREATE USER" not in grants, grants
    assert re.search(r"GRANT PROCESS, SHOW DATABASES ON \*\.\* TO `app`@`%`", grants), grants
    conn = connect("mysql", m.port, m.password)
    assert sql(conn, "SELECT v FROM shop.orders") == (("one",),)
    mysql_refused(conn, "DROP USER 'root'@'localhost'", 1227)
    conn.close()


def pg_admin(m, dbname="postgres"):
    """A superuser session of the member over its socket, as the agent makes one (root is mapped
    to the superuser "postgres" by peer authentication)."""
    import psycopg2
    c = psycopg2.connect(host=m.dir, port=m.port, user="postgres", dbname=dbname,
                         connect_timeout=10)
    c.autocommit = True
    return c


def pg_login(m, user, password, dbname="app"):
    import psycopg2
    c = psycopg2.connect(host="127.0.0.1", port=m.port, user=user, password=password, dbname=dbname,
                         connect_timeout=10)
    c.autocommit = True
    return c


def pg_refused(conn, query, code, *params):
    """query fails with SQLSTATE `code` (42501: insufficient privilege), not any other failure."""
    import psycopg2
    with pytest.raises(psycopg2.Error) as ei:
        sql(conn, query, *params)
    assert ei.value.pgcode == code, "%s: %s %s" % (query, ei.value.pgcode, ei.value)


PG_ROLES = ("SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,"
            " rolreplication, rolbypassrls, rolpassword FROM pg_authid ORDER BY 1")


def test_postgres_tenant_owns_its_databases_not_the_server(member_factory):
    """The PostgreSQL tenant owns its databases and makes its applications' login roles through
    the dbaas.* functions (engines/engine_postgres_tenant.c), and reaches neither the server
    (files, programs, configuration, replication, other sessions) nor the roles of the agent and
    replication."""
    import psycopg2
    from psycopg2.extensions import encrypt_password
    m = member_factory("postgres")
    m.start(memory=256)
    admin = pg_admin(m)
    # The replication role as repl_setup makes it; a role the tenant did not make.
    sql(admin, "CREATE ROLE dbaas_repl WITH LOGIN REPLICATION NOINHERIT PASSWORD %s",
        secrets.token_urlsafe(18))
    sql(admin, "CREATE ROLE other WITH LOGIN")
    roles = sql(admin, PG_ROLES)
    conn = connect("postgres", m.port, m.password)  # database app
    tenant = pg_login(m, "app", m.password, "postgres")  # where the functions are
    pw1, pw2, pw3 = ("pw-" + secrets.token_urlsafe(15) for _ in range(3))

    # A database owner: databases, trusted extensions, its own sessions, its application roles.
    sql(conn, "CREATE TABLE orders (id int PRIMARY KEY, v text)")
    sql(conn, "INSERT INTO orders VALUES (1, 'one')")
    sql(conn, "CREATE DATABASE shop")
    shop = pg_login(m, "app", m.password, "shop")
    sql(shop, "CREATE EXTENSION pgcrypto")
    assert len(sql(shop, "SELECT gen_random_bytes(4)")[0][0]) == 4
    shop.close()
    sql(tenant, "SELECT dbaas.create_user(%s, %s)", "web", pw1)
    assert sql(admin, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
                      " rolcanlogin FROM pg_roles WHERE rolname = 'web'") == [
                          (False, False, False, False, False, True)]
    assert sql(admin, "SELECT roleid FROM pg_auth_members WHERE member = 'web'::regrole") == []
    sql(conn, "GRANT SELECT ON orders TO web")
    web = pg_login(m, "web", pw1)
    assert sql(web, "SELECT v FROM orders") == [("one",)]
    pg_refused(web, "INSERT INTO orders VALUES (2, 'two')", "42501")
    web.close()
    web = pg_login(m, "web", pw1, "postgres")
    pg_refused(web, "SELECT dbaas.create_user('web2', 'web2-password')", "42501")
    web.close()
    sql(conn, "SET ROLE web")  # the tenant administers its roles
    sql(conn, "RESET ROLE")
    # A SCRAM verifier instead of the password: the server never sees the clear text.
    sql(tenant, "SELECT dbaas.set_password(%s, %s)", "web",
        encrypt_password(pw2, "web", tenant, "scram-sha-256"))
    pg_login(m, "web", pw2).close()
    with pytest.raises(psycopg2.OperationalError, match='authentication failed for user "web"'):
        pg_login(m, "web", pw1)
    sql(tenant, "SELECT dbaas.set_password(%s, %s)", "web", pw3)
    pg_login(m, "web", pw3).close()
    second = pg_login(m, "app", m.password)
    assert sql(conn, "SELECT pg_terminate_backend(%s)", second.get_backend_pid()) == [(True,)]

    # Not through the functions: the agent's, replication's, its own, predefined or other roles,
    # reserved or malformed names, short passwords, MD5 hashes.
    for query, code in [
            ("SELECT dbaas.drop_user('postgres')", "42501"),
            ("SELECT dbaas.drop_user('dbaas_repl')", "42501"),
            ("SELECT dbaas.drop_user('app')", "42501"),
            ("SELECT dbaas.drop_user('other')", "42501"),
            ("SELECT dbaas.drop_user('pg_execute_server_program')", "42501"),
            ("SELECT dbaas.set_password('postgres', 'x-password-1')", "42501"),
            ("SELECT dbaas.set_password('dbaas_repl', 'x-password-1')", "42501"),
            ("SELECT dbaas.set_password('app', 'x-password-1')", "42501"),
            ("SELECT dbaas.set_password('pg_monitor', 'x-password-1')", "42501"),
            ("SELECT dbaas.create_user('pg_web', 'x-password-1')", "42602"),
            ("SELECT dbaas.create_user('dbaas_web', 'x-password-1')", "42602"),
            ("SELECT dbaas.create_user('Web', 'x-password-1')", "42602"),
            ("SELECT dbaas.create_user('web\"; DROP ROLE postgres; --', 'x-password-1')", "42602"),
            ("SELECT dbaas.create_user('web2', 'short')", "22023"),
            ("SELECT dbaas.create_user('web2', 'md5' || md5('x'))", "22023"),
            ("SELECT dbaas.app_role('web')", "42501"),
            ("ALTER FUNCTION dbaas.drop_user(text) OWNER TO app", "42501"),
            ("CREATE FUNCTION dbaas.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "42501"),
            ("CREATE TABLE public.t (id int)", "42501"),
            ("CREATE SCHEMA mine", "42501")]:
        pg_refused(tenant, query, code)
    # A failed statement that held a password is re-raised without it.
    pg_refused(tenant, "SELECT dbaas.create_user('other', %s)", "42710", pw1)

    # Not the server's: its files and programs, its configuration, replication, other roles and
    # the agent's sessions, untrusted extensions and languages, connections elsewhere.
    for query, code in [
            ("ALTER SYSTEM SET work_mem = '1MB'", "42501"),
            ("SET log_statement = 'all'", "42501"),
            ("COPY (SELECT 1) TO PROGRAM 'id'", "42501"),
            ("COPY orders FROM '/etc/passwd'", "42501"),
            ("COPY orders TO '/tmp/orders'", "42501"),
            ("SELECT pg_read_file('/etc/passwd')", "42501"),
            ("SELECT pg_ls_dir('.')", "42501"),
            ("SELECT lo_import('/etc/passwd')", "42501"),
            ("LOAD '/tmp/x.so'", "42501"),
            ("CREATE FUNCTION f() RETURNS int LANGUAGE c AS '/tmp/x.so', 'f'", "42501"),
            ("CREATE EXTENSION file_fdw", "42501"),
            ("CREATE EXTENSION dblink", "42501"),
            ("CREATE EXTENSION postgres_fdw", "42501"),
            ("CREATE EXTENSION adminpack", "42501"),
            ("CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1' PUBLICATION p", "42501"),
            ("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()", "42501"),
            ("CREATE ROLE x", "42501"),
            ("ALTER ROLE app CREATEROLE", "42501"),
            ("ALTER ROLE app SUPERUSER", "42501"),
            ("ALTER ROLE app REPLICATION", "42501"),
            ("ALTER ROLE app BYPASSRLS", "42501"),
            ("ALTER ROLE postgres PASSWORD 'x-password-1'", "42501"),
            ("ALTER ROLE dbaas_repl NOLOGIN", "42501"),
            ("DROP ROLE dbaas_repl", "42501"),
            ("SELECT rolpassword FROM pg_authid", "42501"),
            ("GRANT pg_execute_server_program TO app", "42501"),
            ("GRANT pg_read_server_files TO web", "42501"),
            ("GRANT postgres TO app", "42501"),
            ("SET ROLE postgres", "42501"),
            ("SET SESSION AUTHORIZATION postgres", "42501"),
            ("SELECT pg_terminate_backend(%d)" % admin.get_backend_pid(), "42501"),
            ("SELECT pg_cancel_backend(%d)" % admin.get_backend_pid(), "42501"),
            ("SELECT pg_reload_conf()", "42501"),
            ("SELECT pg_promote()", "42501"),
            ("SELECT pg_create_physical_replication_slot('x')", "42501"),
            ("CHECKPOINT", "42501"),
            ("CREATE DATABASE copy TEMPLATE postgres", "42501")]:
        pg_refused(conn, query, code)
    assert sql(admin, "SELECT 1") == [(1,)]  # the agent's session survived
    with pytest.raises(psycopg2.OperationalError,
                       match='pg_hba.conf rejects connection .*user "app"'):
        psycopg2.connect(host=m.dir, port=m.port, user="app", password=m.password, dbname="app")

    # Dropping: the tenant clears what it granted, then drops the role.
    sql(conn, "DROP OWNED BY web")
    sql(tenant, "SELECT dbaas.drop_user(%s)", "web")
    with pytest.raises(psycopg2.OperationalError, match='authentication failed for user "web"'):
        pg_login(m, "web", pw3)
    pg_refused(tenant, "SELECT dbaas.drop_user('web')", "42501")
    assert sql(admin, PG_ROLES) == roles  # no other role changed
    with open(os.path.join(m.dir, "server.log"), errors="replace") as f:
        log = f.read()
    for pw in (pw1, pw2, pw3):
        assert pw not in log
    tenant.close()
    conn.close()

    # A server made by an earlier driver, without the functions, gets them at the next
    # create_user (every start).
    sql(admin, "DROP SCHEMA dbaas CASCADE")
    admin.close()
    engine_check("user", "postgres", m.dir, m.port, password=m.password)
    tenant = pg_login(m, "app", m.password, "postgres")
    sql(tenant, "SELECT dbaas.create_user(%s, %s)", "web", pw1)
    pg_login(m, "web", pw1).close()
    tenant.close()


def redis_admin(m):
    """The agent's admin session of a Redis member (its socket, ACL user dbaas-admin)."""
    import redis
    with open(os.path.join(m.dir, "admin.secret")) as f:
        secret = f.read().strip()
    return redis.Redis(unix_socket_path=os.path.join(m.dir, "redis.%d.sock" % m.port),
                       username="dbaas-admin", password=secret, socket_timeout=10)


def crc64_jones(data):
    """The CRC-64 that Redis puts at the end of a DUMP payload (reflected, as src/crc64.c)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def test_redis_tenant_has_its_data_not_the_server(member_factory):
    """The Redis tenant runs what an application needs, and none of what reaches the server's
    configuration, files, replication, other sessions or the network (RD_TENANT_RULES in
    engines/engine_redis.c); a corrupt DUMP payload is refused, not loaded."""
    import redis
    m = member_factory("redis")
    m.start(memory=256)
    admin = redis_admin(m)
    users = admin.acl_list()
    r = connect("redis", m.port, m.password)

    # An application's commands.
    assert r.acl_whoami() == "app"
    r.client_setname("web")
    assert r.client_getname() == "web" and r.client_id() > 0
    assert r.execute_command("CLIENT", "INFO").startswith(b"id=")
    r.set("k", "v")
    r.hset("h", mapping={"aa": "x", "bb": "y"})
    assert sorted(r.keys("*")) == [b"h", b"k"]
    assert sorted(r.scan(0, count=100)[1]) == [b"h", b"k"]
    assert r.info("server")["redis_version"].startswith("7.")
    assert r.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    r.execute_command("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('get', "
                      "function(keys) return redis.call('GET', keys[1]) end)")
    assert r.execute_command("FCALL", "get", 1, "k") == b"v"
    p = r.pubsub()
    p.subscribe("ch")
    assert p.get_message(timeout=10)["type"] == "subscribe"
    assert r.publish("ch", "hi") == 1
    assert p.get_message(timeout=10)["data"] == b"hi"
    p.close()
    assert r.execute_command("WAIT", 0, 100) == 0
    dump = r.dump("h")
    r.restore("h2", 0, dump)
    assert r.hgetall("h2") == {b"aa": b"x", b"bb": b"y"}

    # Refused by the ACL: configuration, users, shutdown, replication, persistence, other
    # sessions, the network. The listener sees no connection from MIGRATE.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    target = listener.getsockname()[1]
    for cmd in [("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "GET", "masterauth"),
                ("ACL", "SETUSER", "x", "on"), ("ACL", "SAVE"), ("ACL", "LOG"),
                ("SHUTDOWN", "NOSAVE"), ("MIGRATE", "127.0.0.1", target, "k", 0, 1000),
                ("REPLICAOF", "127.0.0.1", target), ("FAILOVER",), ("SAVE",), ("BGSAVE",),
                ("BGREWRITEAOF",), ("MONITOR",), ("CLIENT", "LIST"), ("CLIENT", "KILL", "ID", 1),
                ("CLIENT", "PAUSE", 1000), ("CLIENT", "UNPAUSE"), ("CLIENT", "UNBLOCK", 1),
                ("RESTORE-ASKING", "k2", 0, dump), ("SLOWLOG", "GET")]:
        # redis-py turns the server's "-NOPERM this user has no permissions ..." into this
        with pytest.raises(redis.exceptions.NoPermissionError,
                           match="no permissions to run the '%s" % cmd[0].lower()):
            r.execute_command(*cmd)
    with pytest.raises(BlockingIOError):
        listener.accept()
    listener.close()
    # Scripts run with the caller's rights.
    with pytest.raises(redis.exceptions.ResponseError, match="can't run this command"):
        r.eval("return redis.call('MIGRATE', '127.0.0.1', ARGV[1], 'k', 0, 1000)", 0, target)
    # DEBUG and MODULE are off for everyone (enable-*-command no), and the ACL refuses them too.
    for cmd in [("DEBUG", "SLEEP", 0), ("MODULE", "LOAD", "/tmp/x.so")]:
        with pytest.raises(redis.exceptions.ResponseError,
                           match="^%s command not allowed" % cmd[0]):
            r.execute_command(*cmd)
        answer = admin.execute_command("ACL", "DRYRUN", "app", *cmd)
        assert b"no permissions" in answer, answer

    # A payload with a valid checksum and two equal fields in its listpack: without full
    # sanitization Redis loads it and crashes at the next write to the hash.
    body = dump[:-8].replace(b"bb", b"aa")
    corrupt = body + crc64_jones(body).to_bytes(8, "little")
    with pytest.raises(redis.exceptions.ResponseError, match="Bad data format"):
        r.restore("h3", 0, corrupt)
    assert not r.exists("h3")
    r.hset("h3", "big", "v" * 200)
    assert r.ping()

    r.flushdb()
    r.flushall()
    assert r.dbsize() == 0
    r.close()
    assert admin.acl_list() == users
    assert admin.ping()
    admin.close()
    engine_check("user", "redis", m.dir, m.port, password=m.password)


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


# ---- replication (HA part 1) ----

ENGINE_E_UNAVAILABLE = 304  # engines/engine.h: ERR_BASE_ENGINE + 4
READ_ONLY_ERROR = {"postgres": "read-only transaction", "mysql": "--read-only option",
                   "redis": "read only replica"}
TENANT_REPLICATION_REFUSED = {"postgres": "pg_hba.conf rejects replication connection",
                              "mysql": "REPLICATION SLAVE", "redis": "NOPERM"}
REPL_USER_READ_REFUSED = {"postgres": "pg_hba.conf rejects connection", "mysql": "command denied",
                          "redis": "NOPERM"}
# Where the replication secret may be: the files the drivers render for it, and MariaDB's own
# master.info (the server keeps its source's password there; see docs/engines.md).
SECRET_FILES = {"postgres": {"m1/repl.pgpass", "m2/repl.pgpass"},
                "mysql": {"m1/repl.secret", "m2/repl.secret", "m2/data/master.info"},
                "redis": {"m1/repl-auth.conf", "m2/repl-auth.conf"}}
POSITION = {"postgres": r"^[0-9A-F]+/[0-9A-F]+$", "mysql": r"^\d+-\d+-\d+(,\d+-\d+-\d+)*$", "redis": r"^\d+$"}


def parse_lines(text):
    """engine_check's key=value lines (a value may hold spaces)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class ReplPair:
    """A primary (member 1, TOP/m1) and its replica (member 2, TOP/m2), made by engine_check."""

    def __init__(self, engine):
        self.engine = engine
        self.top = tempfile.mkdtemp(prefix="engine-repl-%s-" % engine)
        os.chmod(self.top, 0o755)
        self.ports = {"m1": free_port()}
        self.ports["m2"] = free_port()
        while self.ports["m2"] == self.ports["m1"]:
            self.ports["m2"] = free_port()
        self.password = secrets.token_urlsafe(18)
        self.secret = secrets.token_urlsafe(24)
        self.pids = {}
        self.out = {}

    def dir(self, member):
        return os.path.join(self.top, member)

    def create(self):
        p = subprocess.run([ENGINE_CHECK, "repl", self.engine, self.top, str(self.ports["m1"]), str(self.ports["m2"])],
                           input=self.password + "\n" + self.secret + "\n", capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        assert self.secret not in p.stdout + p.stderr
        assert p.returncode == 0, "engine_check repl: status %d: %s%s" % (p.returncode, p.stdout, p.stderr)
        self.out = parse_lines(p.stdout)
        self.pids = {"m1": int(self.out["primary_pid"]), "m2": int(self.out["replica_pid"])}
        return self.out

    def health(self, member, timeout_ms=2000, check=True):
        p = engine_check("health", self.engine, self.dir(member), self.ports[member], timeout_ms, check=check)
        return p, parse_lines(p.stdout)

    def repl_setup(self, *replicas):
        engine_check("repl-setup", self.engine, self.dir("m1"), self.ports["m1"], 1,
                     *["%d:%d" % r for r in replicas], password=self.secret)

    def stop(self, member):
        if self.pids.get(member):
            engine_check("stop", self.engine, self.dir(member), self.pids.pop(member))

    def cleanup(self):
        try:
            for member in ("m2", "m1"):
                if self.pids.get(member):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pids[member], signal.SIGCONT)  # a test may have stopped it
                    engine_check("stop", self.engine, self.dir(member), self.pids.pop(member), check=False)
            leftover = procs_under(self.top)  # e.g. the servers of an engine_check that crashed
            for pid, _, _ in leftover:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for member in ("m2", "m1"):
                if os.path.exists(self.dir(member)):
                    engine_check("remove", self.engine, self.dir(member), check=False)
            assert not leftover, "processes left in %s: %r" % (self.top, leftover)
        finally:
            shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def repl_factory():
    yield from _factory(ReplPair)


def secret_in_processes(secret):
    """pid/file of every process whose command line or environment holds secret."""
    found = []
    needle = secret.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        for name in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (d, name), "rb") as f:
                    if needle in f.read():
                        found.append("%s/%s" % (d, name))
            except OSError:
                continue
    return found


def read_key(engine, conn, key):
    if engine == "redis":
        v = conn.get(key)
        return v.decode() if v is not None else None
    rows = sql(conn, "SELECT v FROM repl_check WHERE k = %s", key)
    return rows[0][0] if rows else None


def write_key(engine, conn, key, value):
    if engine == "redis":
        conn.set(key, value)
    else:
        sql(conn, "INSERT INTO repl_check VALUES (%s, %s)", key, value)


@pytest.mark.parametrize("engine", ENGINES)
def test_replication(engine, repl_factory):
    pair = repl_factory(engine)
    out = pair.create()
    print("%s: seed %s ms, first replicated write %s ms, after a replica restart %s ms" % (
        engine, out.get("early_seed_ms", out["seed_ms"]), out["replicate_ms"], out["restart_replicate_ms"]))

    # Seeding before the primary knew the replica: PostgreSQL's slot is missing, a clear
    # retryable error; the others need nothing from the primary but the user.
    if engine == "postgres":
        assert out["early_seed"] == "error"
        assert int(out["early_seed_code"]) == ENGINE_E_UNAVAILABLE
        assert 'replication slot "dbaas_m2" does not exist' in out["early_seed_error"]
        assert "retry later" in out["early_seed_error"]
    else:
        assert out["early_seed"] == "ok"

    # The replica has the tenant's rows and refuses the tenant's writes with the engine's words.
    assert READ_ONLY_ERROR[engine] in out["replica_write_error"]

    # Health, as each engine sees itself.
    p, r = {k[8:]: v for k, v in out.items() if k.startswith("primary_")}, \
        {k[8:]: v for k, v in out.items() if k.startswith("replica_")}
    assert (p["alive"], p["role"], p["writable"], p["upstream_up"]) == ("1", "primary", "1", "-1")
    assert (r["alive"], r["role"], r["writable"], r["upstream_up"]) == ("1", "replica", "0", "1")
    for h in (p, r):
        assert re.match(POSITION[engine], h["position"]), h["position"]
        assert int(h["position_bytes"]) > 0
    assert int(r["position_bytes"]) >= int(p["position_bytes"])
    # What a replica received (what a synchronous primary counted as acknowledged) is at or
    # beyond what it applied; the HA controller chooses by it. Redis reports none (-1).
    assert p["received_bytes"] == "-1"
    if engine == "redis":
        assert r["received_bytes"] == "-1"
    else:
        assert int(r["received_bytes"]) >= int(r["position_bytes"]), r
    assert (p["lag_bytes"], p["lag_seconds"]) == ("-1", "-1.000")
    assert int(r["lag_bytes"]) >= 0
    if engine == "redis":
        assert r["lag_seconds"] == "-1.000"  # Redis has no lag in seconds: unknown
    else:
        assert float(r["lag_seconds"]) >= 0

    # Who may replicate and read: never the tenant; the replication user replicates only.
    assert out["tenant_replication"] == "refused", out["tenant_replication_msg"]
    assert TENANT_REPLICATION_REFUSED[engine] in out["tenant_replication_msg"]
    assert out["repl_user_replication"] == "allowed", out["repl_user_replication_msg"]
    assert out["repl_user_reads"] == "refused", out["repl_user_reads_msg"]
    assert REPL_USER_READ_REFUSED[engine] in out["repl_user_reads_msg"]

    # The secret: in no command line or environment, no log; only in its own files (0600, the
    # engine's user).
    assert out["secret_in_proc"] == ""
    assert set(out["secret_files"].split(",")) == SECRET_FILES[engine]
    assert secret_in_processes(pair.secret) == []
    user = pwd.getpwnam(OS_USERS[engine])
    for rel in SECRET_FILES[engine]:
        st = os.lstat(os.path.join(pair.top, rel))
        assert st.st_uid == user.pw_uid, rel
        # the drivers' files are 0600; MariaDB makes its own master.info 0660 (its umask)
        assert stat.S_IMODE(st.st_mode) == (0o660 if "/data/" in rel else 0o600), (rel, oct(st.st_mode))
    for member in ("m1", "m2"):
        with open(os.path.join(pair.dir(member), "server.log"), "rb") as f:
            assert pair.secret.encode() not in f.read()

    # The real client: the replica has the row and refuses a write.
    conn = connect(engine, pair.ports["m2"], pair.password)
    assert read_key(engine, conn, out["key"]) == out["value"]
    with pytest.raises(Exception, match=re.escape(READ_ONLY_ERROR[engine])):
        write_key(engine, conn, "py", "x")
    conn.close()
    primary = connect(engine, pair.ports["m1"], pair.password)
    write_key(engine, primary, "py", "from-python")
    primary.close()
    conn = connect(engine, pair.ports["m2"], pair.password)
    wait_until(lambda: read_key(engine, conn, "py") == "from-python", what="%s write replicated" % engine)
    conn.close()

    # A stopped server: the probe returns within its deadline, saying it is not alive.
    os.kill(pair.pids["m2"], signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        proc, h = pair.health("m2", timeout_ms=500, check=False)
        elapsed = time.monotonic() - t0
    finally:
        os.kill(pair.pids["m2"], signal.SIGCONT)
    assert proc.returncode == 1 and h["alive"] == "0", proc.stdout + proc.stderr
    assert 450 <= int(h["elapsed_ms"]) < 1000 and elapsed < 3.0, (h, elapsed)
    assert pair.health("m2")[1]["alive"] == "1"

    # The primary stops: the replica still answers and says its link is down.
    pair.stop("m1")
    wait_until(lambda: pair.health("m2")[1].get("upstream_up") == "0", what="%s replica link down" % engine)
    _, h = pair.health("m2")
    assert (h["alive"], h["role"], h["writable"]) == ("1", "replica", "0")


def test_postgres_slots_follow_the_replicas(repl_factory):
    """repl_setup keeps exactly one slot per replica: it adds missing ones and drops ours that
    are no longer wanted, even one a running replica holds; the replica resumes once its slot
    is back."""
    pair = repl_factory("postgres")
    pair.create()
    p1, p2 = pair.ports["m1"], pair.ports["m2"]
    conn = connect("postgres", p1, pair.password)

    def slots():
        return sorted(r[0] for r in sql(conn, "SELECT slot_name FROM pg_replication_slots"))

    assert slots() == ["dbaas_m2"]
    pair.repl_setup((2, p2), (3, p2 + 1))
    assert slots() == ["dbaas_m2", "dbaas_m3"]
    pair.repl_setup((2, p2), (3, p2 + 1))  # idempotent
    assert slots() == ["dbaas_m2", "dbaas_m3"]
    pair.repl_setup((3, p2 + 1))  # drops the slot the running replica streams through
    assert slots() == ["dbaas_m3"]
    wait_until(lambda: pair.health("m2")[1].get("upstream_up") == "0", what="replica link down")
    pair.repl_setup((2, p2))
    assert slots() == ["dbaas_m2"]
    wait_until(lambda: pair.health("m2")[1].get("upstream_up") == "1", what="replica streaming again")
    write_key("postgres", conn, "after-slot", "back")
    replica = connect("postgres", p2, pair.password)
    wait_until(lambda: read_key("postgres", replica, "after-slot") == "back", what="write replicated")
    replica.close()
    conn.close()
