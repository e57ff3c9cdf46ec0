"""Fixtures for the integration suite: the real bin/dbaasd with its embedded PostgreSQL.

NOTES
- Binaries come from $DBAAS_BIN_DIR (default: the repository's bin/).
- `server` is one dbaasd for the whole session (fast); tests that stop or restart dbaasd, or that
  add hosts (hosts make the scheduler place pending instances, which then wait for an agent that
  does not exist), use their own: `own_server` (per test) or a module-scoped one built with
  `start_server()`.
- Every server gets a data directory from tempfile.mkdtemp under /tmp (mode 0755 so that the
  unprivileged postgres user of the embedded store can reach it) and a free port below 32768.
  Stopping a server sends SIGTERM, waits with a deadline, asserts exit code 0 and that no process
  is left in its data directory, then removes the directory.
- Waits are deadlines on a condition (a log line, an HTTP answer), never bare sleeps.
"""

import contextlib
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
import uuid

import pytest
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.abspath(os.environ.get("DBAAS_BIN_DIR") or os.path.join(REPO, "bin"))
DBAASD = os.path.join(BIN_DIR, "dbaasd")
DBAASCTL = os.path.join(BIN_DIR, "dbaasctl")

START_TIMEOUT = 30.0  # dbaasd start, embedded store included (~1-2 s normally)
STOP_TIMEOUT = 30.0  # SIGTERM to exit
ASYNC_TIMEOUT = 30.0  # asynchronous changes (an instance finalized to deleted, ...)
HTTP_TIMEOUT = 30.0

ERROR_CODES = {
    400: {"invalid_json", "invalid_field"},
    401: {"unauthenticated"},
    403: {"forbidden"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    409: {"conflict", "quota_exceeded"},
    413: {"payload_too_large"},
    415: {"unsupported_media_type"},
    422: {"idempotency_mismatch", "plan_too_small", "too_few_hosts", "invalid_target"},
    500: {"internal"},
    503: {"unavailable"},
}

ANY = object()


# --------------------------------------------------------------------------------------------
# Small helpers


def uniq(prefix="t"):
    """A unique valid name (^[a-z][a-z0-9-]{0,62}$) starting with prefix."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


# ---- secrets in logs: every password and token the suite is given (API answers, dbaasctl's
# output, the operator token, the *.secret files of agents and members) is looked for, as a
# whole word, in every log the suite's processes write (*.log files under every directory a test
# removes, which holds agents', engines', seeds' and benchmark-started dbaasd's logs; dbaasd's
# output; the events and the audit log of every dbaasd stopped by close()). A leak fails the run
# at its end (pytest_sessionfinish), naming the log and where the secret came from.

SECRET_KEYS = ("password", "token", "secret")
_SECRETS = {}  # secret -> where the suite got it
_LEAKS = []  # (where it was found, where it came from)
_SWEPT = [0, 0]  # texts looked at, their bytes
_WORD_RE = re.compile(r"[A-Za-z0-9_-]{12,}")
_TOKEN_TEXT_RE = re.compile(r"dbaas_[a-z]{2}_[A-Za-z0-9_-]{20,}")


def note_secret(value, where):
    if isinstance(value, str) and len(value) >= 12 and _WORD_RE.fullmatch(value):
        _SECRETS.setdefault(value, where)


def note_secrets(obj, where):
    """Every string under a key that names a password, token or secret, at any depth."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and any(w in k.lower() for w in SECRET_KEYS):
                note_secret(v, where)
            else:
                note_secrets(v, where)
    elif isinstance(obj, list):
        for v in obj:
            note_secrets(v, where)


def note_secrets_text(text, where):
    """The tokens (dbaas_xx_...) in a program's output."""
    for m in _TOKEN_TEXT_RE.findall(text or ""):
        note_secret(m, where)


def sweep_text(label, text):
    """Look for every secret known so far in text, as a whole word."""
    _SWEPT[0] += 1
    _SWEPT[1] += len(text)
    for w in set(_WORD_RE.findall(text)) & _SECRETS.keys():
        _LEAKS.append((label, _SECRETS[w]))


def sweep_dir(top):
    """Before a test directory goes: take its *.secret files as secrets, then sweep its logs."""
    if not os.path.isdir(top):
        return
    logs = []
    for d, _, files in os.walk(top):
        for f in files:
            path = os.path.join(d, f)
            if f.endswith(".secret") or f == "token":
                with contextlib.suppress(OSError), open(path, errors="replace") as fh:
                    note_secret(fh.read().strip(), path)
            elif f.endswith(".log") and os.path.isfile(path) and not os.path.islink(path):
                logs.append(path)
    for path in logs:
        with contextlib.suppress(OSError), open(path, errors="replace") as fh:
            sweep_text(path, fh.read())


_rmtree = shutil.rmtree


def _sweeping_rmtree(path, *args, **kw):
    with contextlib.suppress(Exception):  # a sweep must never stop a clean-up
        sweep_dir(path)
    return _rmtree(path, *args, **kw)


shutil.rmtree = _sweeping_rmtree


def wait_until(predicate, timeout=ASYNC_TIMEOUT, interval=0.05, what="condition"):
    """Poll predicate until it returns a truthy value (returned) or the deadline passes (fail)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.1f s waiting for %s (last value: %r)" % (timeout, what, last))
        time.sleep(interval)


def describe(resp):
    req = resp.request
    return "%s %s -> %d %s" % (req.method, req.url, resp.status_code, resp.text[:800])


def expect(resp, status):
    """Assert the status and return the decoded JSON body (None for an empty body)."""
    assert resp.status_code == status, "expected %d: %s" % (status, describe(resp))
    if not resp.content:
        return None
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), "Content-Type %r: %s" % (ctype, describe(resp))
    return resp.json()


def assert_error(resp, status, code, field=ANY):
    """Assert an error answer: status, and a body of exactly {"error":{"code","message","field"}}.
    Returns the inner error object."""
    assert resp.status_code == status, "expected %d %s: %s" % (status, code, describe(resp))
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), "error Content-Type %r: %s" % (ctype, describe(resp))
    try:
        body = resp.json()
    except ValueError:
        pytest.fail("error body is not JSON: %s" % describe(resp))
    assert isinstance(body, dict) and set(body) == {"error"}, "error body shape: %s" % describe(resp)
    err = body["error"]
    assert isinstance(err, dict) and set(err) == {"code", "message", "field"}, \
        "error object keys: %s" % describe(resp)
    assert err["code"] == code, "expected code %s: %s" % (code, describe(resp))
    assert code in ERROR_CODES.get(status, ()), "code %s is not documented for %d" % (code, status)
    assert isinstance(err["message"], str) and err["message"], "empty message: %s" % describe(resp)
    assert err["field"] is None or isinstance(err["field"], str), "field type: %s" % describe(resp)
    if field is not ANY:
        assert err["field"] == field, "expected field %r: %s" % (field, describe(resp))
    return err


def fake_probe(role):
    """A health probe as a real agent reports it, for fake agents: the engine answers in its
    role, a replica streams and is caught up (dbaasd counts an unprobed replica unhealthy)."""
    replica = role == "replica"
    return {"alive": True, "role": role, "writable": not replica, "position": "0/3000060",
            "position_bytes": 50331744, "upstream_up": True if replica else None,
            "lag_bytes": 0 if replica else None, "lag_seconds": 0.0 if replica else None,
            "age_ms": 100, "error": None}


def free_port():
    """A port below 32768 (outside the ephemeral range) that is free on 127.0.0.1 right now."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randint(20000, 32767)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found below 32768")


_RANGES_TAKEN = []


def free_port_range(count=100):
    """"LO-HI": count consecutive ports below 32768 that are free on every address right now and
    not handed out before in this process (an agent's --ports; its seed port is HI + 1, also
    free). Random, so that two suites on one machine do not collide."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        lo = rng.randint(20000, 32767 - count - 1)
        hi = lo + count - 1
        if any(lo <= h + 1 and l <= hi + 1 for l, h in _RANGES_TAKEN):
            continue
        socks = []
        try:
            for port in range(lo, hi + 2):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("0.0.0.0", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _RANGES_TAKEN.append((lo, hi + 1))
        return "%d-%d" % (lo, hi)
    raise RuntimeError("no free range of %d ports found below 32768" % count)


def procs_under(path):
    """Live processes (not zombies) other than this one whose cwd is under path or whose command
    line names it: the embedded PostgreSQL of a data directory chdirs into it."""
    found = []
    path = os.path.realpath(path)
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        pid = int(d)
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read()
            if st[st.rindex(")") + 2] in "ZX":
                continue
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            try:
                cwd = os.readlink("/proc/%d/cwd" % pid)
            except OSError:
                cwd = ""
        except (OSError, ValueError):
            continue
        if cwd == path or cwd.startswith(path + "/") or re.search(re.escape(path) + r"(/|\s|$)", cmd):
            found.append((pid, cmd, cwd))
    return found


# --------------------------------------------------------------------------------------------
# dbaasd under test


_ALL_SERVERS = []  # every Dbaasd made, for the safety net in pytest_sessionfinish


class Dbaasd:
    """One dbaasd process on a data directory; can be stopped and started again on it."""

    def __init__(self, data_dir=None, extra_args=(), tls=None):
        """tls: (cert_file, key_file, ca_file) to serve HTTPS, verified against ca_file."""
        self.extra_args = list(extra_args)
        self.ca_file = None
        if tls:
            self.extra_args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
            self.ca_file = tls[2]
        if not os.access(DBAASD, os.X_OK):
            pytest.fail("%s is missing or not executable (build it, or set DBAAS_BIN_DIR)" % DBAASD)
        _ALL_SERVERS.append(self)
        self.owns_dir = data_dir is None
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix="dbaas-it-", dir="/tmp")
            os.chmod(data_dir, 0o755)
        self.data_dir = data_dir
        self.port = None
        self.proc = None
        self.lines = []  # every output line of every run, for diagnostics
        self._lock = threading.Lock()
        self._reader = None
        self._ready = None
        self.starts = 0

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.ca_file else "http", self.port)

    @property
    def verify(self):
        """What requests verifies this server's certificate with (verify=)."""
        return self.ca_file or True

    @property
    def token_path(self):
        return os.path.join(self.data_dir, "operator.token")

    def operator_token(self):
        st = os.stat(self.token_path)
        assert stat.S_IMODE(st.st_mode) == 0o600, \
            "operator.token has mode %o, expected 600" % stat.S_IMODE(st.st_mode)
        with open(self.token_path) as f:
            tok = f.read().strip()
        assert tok.startswith("dbaas_op_"), "operator token %r does not start with dbaas_op_" % tok[:12]
        note_secret(tok, self.token_path)
        return tok

    def log_tail(self, n=60):
        with self._lock:
            return "\n".join(self.lines[-n:])

    def _read(self, proc, ready):
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            if "ready" in line:
                ready.set()

    def _spawn(self, port):
        self.port = port
        self._ready = threading.Event()
        with self._lock:
            self.lines.append("---- start #%d: dbaasd --data-dir %s --listen 127.0.0.1:%d"
                              % (self.starts + 1, self.data_dir, port))
        self.proc = subprocess.Popen(
            [DBAASD, "--data-dir", self.data_dir, "--listen", "127.0.0.1:%d" % port]
            + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd="/")
        self._reader = threading.Thread(target=self._read, args=(self.proc, self._ready), daemon=True)
        self._reader.start()

    def start(self, port=None, timeout=START_TIMEOUT):
        """Start dbaasd and wait for its "ready" line and GET /healthz == 200."""
        assert self.proc is None, "already running"
        tries = 3
        for attempt in range(tries):
            self._spawn(port or free_port())
            deadline = time.monotonic() + timeout
            while not self._ready.wait(0.05):
                if self.proc.poll() is not None:
                    break
                if time.monotonic() >= deadline:
                    self._kill()
                    pytest.fail("dbaasd did not log \"ready\" within %.0f s:\n%s" % (timeout, self.log_tail()))
            if self.proc.poll() is None or self._ready.is_set():
                break
            # exited before ready
            rc = self.proc.wait()
            self._reader.join(5)
            self.proc = None
            self._check_no_procs()
            in_use = "in use" in self.log_tail(10).lower()
            if not (in_use and port is None and attempt + 1 < tries):
                pytest.fail("dbaasd exited with %d before ready:\n%s" % (rc, self.log_tail()))
        self._wait_healthy(deadline)
        self.starts += 1
        return self

    def _wait_healthy(self, deadline):
        last = None
        while True:
            if self.proc.poll() is not None:
                pytest.fail("dbaasd exited with %d after \"ready\":\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                r = requests.get(self.url + "/healthz", timeout=5, verify=self.verify)
                if r.status_code == 200:
                    return
                last = "%d %s" % (r.status_code, r.text[:200])
            except requests.RequestException as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                self._kill()
                pytest.fail("GET /healthz not 200 within the deadline (last: %s):\n%s" % (last, self.log_tail()))
            time.sleep(0.05)

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None and self._reader is not None:
            self._reader.join(5)
        self.proc = None
        self._kill_leftovers()

    def _kill_leftovers(self, timeout=10.0):
        """Kill, by pid, processes started under our data directory (the embedded store), and
        wait (with a deadline) until they are gone."""
        deadline = time.monotonic() + timeout
        while True:
            left = procs_under(self.data_dir)
            if not left or time.monotonic() >= deadline:
                return
            for pid, _cmd, _cwd in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def _check_no_procs(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            left = procs_under(self.data_dir)
            if not left:
                return
            if time.monotonic() >= deadline:
                self._kill_leftovers()
                pytest.fail("processes left in %s after dbaasd exited: %r" % (self.data_dir, left))
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT, expect_rc=0):
        """Signal dbaasd, wait for it with a deadline, check its exit code and that its embedded
        PostgreSQL is gone. Returns the exit code."""
        assert self.proc is not None, "not running"
        proc = self.proc
        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            pytest.fail("dbaasd did not exit within %.0f s of signal %d:\n%s" % (timeout, sig, self.log_tail()))
        self._reader.join(5)
        self.proc = None
        self._check_no_procs()
        if expect_rc is not None:
            assert rc == expect_rc, "dbaasd exited with %d, expected %d:\n%s" % (rc, expect_rc, self.log_tail())
        return rc

    def crash(self):
        """SIGKILL dbaasd alone (not its embedded store), as a crash would."""
        assert self.proc is not None, "not running"
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        self.proc = None

    def restart(self, same_port=True):
        """Stop (cleanly) and start again on the same data directory."""
        port = self.port
        self.stop()
        self.start(port=port if same_port else None)
        return self

    def close(self):
        """Stop if running (asserting a clean stop), then remove the data directory we made.
        Before the stop, the events and the audit log are swept for secrets."""
        try:
            if self.proc is not None:
                self.sweep_store()
                self.stop()
        finally:
            if self.proc is not None:
                self._kill()
            self._kill_leftovers()
            if self.owns_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def sweep_store(self):
        """Sweep the events and the audit log (all of them) for secrets; a dbaasd that does not
        answer is skipped (its test failed already, or it was left cut off)."""
        try:
            op = Api(self, self.operator_token())
            for path in ("/v1/events", "/v1/audit"):
                sweep_text("%s of dbaasd %s" % (path, self.data_dir),
                           json.dumps(op.list_all(path, limit=1000)))
            op.close()
        except (Exception, pytest.fail.Exception):
            pass

    # ---- the embedded store, for checks that look at what dbaasd keeps

    def _store_target(self):
        """How to reach the embedded store: ({"host", "port", "users"}, subprocess kwargs that run
        as its OS user when we are root). Skips the test when the store cannot be found."""
        pidfile = None
        for root, _dirs, files in os.walk(self.data_dir):
            if "postmaster.pid" in files:
                pidfile = os.path.join(root, "postmaster.pid")
                break
        if pidfile is None:
            pytest.skip("no postmaster.pid under %s: embedded store layout unknown" % self.data_dir)
        with open(pidfile) as f:
            lines = f.read().split("\n")
        if len(lines) < 5 or not lines[3].strip().isdigit() or not lines[4].strip():
            pytest.skip("postmaster.pid has no Unix socket directory: %r" % lines[:6])
        port = lines[3].strip()
        sockdir = lines[4].strip()
        owner = os.stat(pidfile).st_uid
        owner_name = pwd.getpwuid(owner).pw_name
        users = []
        for u in (os.environ.get("DBAAS_STORE_USER"), owner_name, "postgres", "dbaas", "dbaasd"):
            if u and u not in users:
                users.append(u)
        as_owner = {}
        if os.geteuid() == 0 and owner != 0:
            # peer authentication: connect as the OS user that runs the store
            as_owner = {"user": owner, "group": os.stat(pidfile).st_gid, "extra_groups": []}
        return {"host": sockdir, "port": port, "users": users}, as_owner

    def _store_run(self, program, args):
        target, as_owner = self._store_target()
        target.update(args)
        r = subprocess.run([sys.executable, "-c", program, json.dumps(target)], cwd="/",
                           env={"PATH": "/usr/bin:/bin", "HOME": "/"}, capture_output=True,
                           text=True, timeout=60, **as_owner)
        if r.returncode == 3:
            pytest.skip("cannot connect to the embedded store at %s port %s: %s"
                        % (target["host"], target["port"], r.stderr.strip()))
        assert r.returncode == 0, "store access failed: %s" % r.stderr
        return json.loads(r.stdout)

    def store_scan(self, needles, patterns=()):
        """Search every row of every user table of every database of the embedded store for the
        given strings, and collect the distinct matches of the given regular expressions.
        Returns {"found": {needle: ["db.schema.table", ...]}, "matches": {pattern: [str, ...]},
        "tables": N, "rows": N}. Skips the test when the store cannot be found or reached."""
        return self._store_run(_STORE_SCAN, {"needles": list(needles), "patterns": list(patterns)})

    def store_sql(self, sql, params=()):
        """Run one statement on dbaasd's database in the embedded store (autocommit), to set up
        states the API cannot make (rows as an older dbaasd left them). Returns the rows (lists),
        [] for a statement without rows."""
        return self._store_run(_STORE_SQL, {"sql": sql, "params": list(params)})["rows"]


_STORE_SCAN = r"""
import json, re, sys
import psycopg2
from psycopg2 import sql
a = json.loads(sys.argv[1])
conn = None
errs = []
for user in a["users"]:
    for db in ("postgres", "template1"):
        try:
            conn = psycopg2.connect(host=a["host"], port=a["port"], user=user, dbname=db, connect_timeout=5)
            break
        except psycopg2.Error as e:
            errs.append("%s@%s: %s" % (user, db, str(e).strip()))
    if conn:
        break
if conn is None:
    sys.stderr.write("; ".join(errs))
    sys.exit(3)
cur = conn.cursor()
cur.execute("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1")
dbs = [r[0] for r in cur.fetchall()]
conn.close()
found = {n: [] for n in a["needles"]}
matches = {p: [] for p in a["patterns"]}
ntables = nrows = 0
for db in dbs:
    c = psycopg2.connect(host=a["host"], port=a["port"], user=user, dbname=db, connect_timeout=5)
    c.autocommit = True
    k = c.cursor()
    k.execute("SELECT table_schema, table_name FROM information_schema.tables "
              "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
    for schema, table in k.fetchall():
        ntables += 1
        k.execute(sql.SQL("SELECT t::text FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table)))
        for (row,) in k.fetchall():
            nrows += 1
            for n in a["needles"]:
                if n in row:
                    where = "%s.%s.%s" % (db, schema, table)
                    if where not in found[n]:
                        found[n].append(where)
            for p in a["patterns"]:
                for m in re.findall(p, row):
                    if m not in matches[p] and len(matches[p]) < 1000:
                        matches[p].append(m)
    c.close()
print(json.dumps({"found": found, "matches": matches, "tables": ntables, "rows": nrows, "databases": dbs}))
"""


_STORE_SQL = r"""
import json, sys
import psycopg2
a = json.loads(sys.argv[1])
conn = None
errs = []
for user in a["users"]:
    try:
        conn = psycopg2.connect(host=a["host"], port=a["port"], user=user, dbname="postgres", connect_timeout=5)
        break
    except psycopg2.Error as e:
        errs.append("%s: %s" % (user, str(e).strip()))
if conn is None:
    sys.stderr.write("; ".join(errs))
    sys.exit(3)
conn.autocommit = True
cur = conn.cursor()
cur.execute(a["sql"], a["params"] or None)  # None: a % in the text is not a placeholder
rows = [list(r) for r in cur.fetchall()] if cur.description else []
conn.close()
print(json.dumps({"rows": rows}, default=str))
"""


# --------------------------------------------------------------------------------------------
# HTTP client


_NOBODY = object()

# Response headers a recording Api keeps (test_conformance.py checks them against the document).
RECORDED_HEADERS = ("Content-Type", "Location", "Idempotent-Replayed", "Allow")


class Api:
    """A requests.Session bound to a server (its current URL) and a bearer token."""

    def __init__(self, server, token=None, record=None):
        self.server = server
        self.token = token
        self.session = requests.Session()
        self.record = record  # a list to append every exchange to (see test_conformance.py)

    def request(self, method, path, body=_NOBODY, data=None, headers=None, token=ANY, params=None,
                timeout=HTTP_TIMEOUT):
        h = {}
        tok = self.token if token is ANY else token
        if tok is not None:
            h["Authorization"] = "Bearer " + tok
        if headers:
            h.update(headers)
        kw = {}
        if body is not _NOBODY:
            kw["json"] = body
        elif data is not None:
            kw["data"] = data
        # verify= per request: REQUESTS_CA_BUNDLE in the environment would override a session's
        resp = self.session.request(method, self.server.url + path, headers=h, params=params,
                                    timeout=timeout, verify=self.server.verify, **kw)
        if resp.content and resp.headers.get("Content-Type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):
                note_secrets(resp.json(), "%s %s" % (method, path.split("?")[0]))
        if self.record is not None:
            ctype = resp.headers.get("Content-Type", "")
            body = None
            if resp.content and ctype.startswith("application/json"):
                try:
                    body = resp.json()
                except ValueError:
                    body = "<invalid JSON: %s>" % resp.text[:200]
            # the headers docs/openapi.yaml may declare (absent ones are left out)
            hdrs = {k: resp.headers[k] for k in RECORDED_HEADERS if k in resp.headers}
            self.record.append({"method": method, "path": path.split("?")[0], "status": resp.status_code,
                                "contentType": ctype, "hasBody": bool(resp.content), "body": body,
                                "headers": hdrs})
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=_NOBODY, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=_NOBODY, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=_NOBODY, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def list_all(self, path, params=None, limit=None):
        """Follow a list's `next` cursors to the end; returns all items (asserting the list shape
        and that no page repeats an item)."""
        items = []
        params = dict(params or {})
        if limit:
            params["limit"] = limit
        after = None
        for _ in range(10000):
            p = dict(params)
            if after is not None:
                p["after"] = after
            body = expect(self.get(path, params=p), 200)
            assert isinstance(body, dict) and set(body) == {"items", "next"}, "list shape: %r" % body
            assert isinstance(body["items"], list)
            if limit:
                assert len(body["items"]) <= limit
            items.extend(body["items"])
            after = body["next"]
            if after is None:
                return items
            assert isinstance(after, str) and after
        pytest.fail("list %s never ended" % path)

    def close(self):
        self.session.close()


class Env:
    """A server with its operator client and helpers that make uniquely named resources."""

    def __init__(self, server):
        self.server = server
        self.op = Api(server, server.operator_token())
        # Only the clients still referenced: a client made for one request (env.client(t).get,
        # as in a polling loop) goes with its session and its connection at once. Keeping
        # them all would hold a connection per poll until close(), and dbaasd refuses a
        # client address's 257th (--max-conns-per-ip).
        self._clients = weakref.WeakSet()

    def client(self, token=None):
        c = Api(self.server, token)
        self._clients.add(c)
        return c

    def mk_tenant(self, prefix="tn", quota=None):
        """Create a tenant (optionally with a quota) and a token for it. Returns (name, token)."""
        name = uniq(prefix)
        expect(self.op.post("/v1/tenants", {"name": name}), 201)
        tok = expect(self.op.post("/v1/tenants/%s/tokens" % name), 201)
        if quota is not None:
            expect(self.op.put("/v1/tenants/%s/quota" % name, quota), 200)
        return name, tok["token"]

    def mk_plan(self, prefix="pl", cpu_millis=500, memory_mb=512, disk_mb=1024, **extra):
        """Create a plan; returns its name."""
        name = uniq(prefix)
        body = {"name": name, "cpu_millis": cpu_millis, "memory_mb": memory_mb, "disk_mb": disk_mb}
        body.update(extra)
        expect(self.op.post("/v1/plans", body), 201)
        return name

    def mk_instance(self, token, plan, name=None, engine="postgres", **extra):
        """Create an instance as the tenant of token; returns the 202 body."""
        body = {"name": name or uniq("db"), "engine": engine, "plan": plan}
        body.update(extra)
        return expect(self.client(token).post("/v1/instances", body), 202)

    def close(self):
        for c in list(self._clients):
            c.close()
        self.op.close()


class FakeAgent:
    """A host's agent played by a thread (test_scheduler.py, test_store_faults.py): it heartbeats
    (POST /v1/agent/heartbeat with the host's token) every interval and reports every member it
    is told to run as running at the desired spec version, every member it is told to delete as
    deleted (or stopped while hold_deletes). Stopping it makes its host go unreachable.
    tolerant: a heartbeat that fails (dbaasd or its store away) is counted in failures and the
    next one is sent as usual; otherwise the first failure stops the thread and stop() raises."""

    def __init__(self, server, token, interval=0.1, tolerant=False):
        self.server = server
        self.tolerant = tolerant
        self.failures = 0
        self.token = token
        self.interval = interval
        self.members = {}  # id -> last desired entry
        self.hold_deletes = False
        self._stop = threading.Event()
        self._thread = None
        self.session = requests.Session()
        self.error = None

    def beat(self):
        report = []
        for m in self.members.values():
            if m["desired"] == "deleted":
                report.append({"id": m["id"], "state": "stopped" if self.hold_deletes else "deleted"})
            else:
                report.append({"id": m["id"], "state": "running", "pid": 4242,
                               "applied_version": m["spec_version"],
                               "usage": {"cpu_usec": 1, "memory_bytes": 2},
                               "health": fake_probe(m["role"])})
        r = self.session.post(self.server.url + "/v1/agent/heartbeat",
                              json={"agent_version": "fake", "isolation": "none",
                                    "ports": {"min": 20000, "max": 20099}, "members": report},
                              headers={"Authorization": "Bearer " + self.token}, timeout=10,
                              verify=self.server.verify)
        assert r.status_code == 200, r.text
        self.members = {m["id"]: m for m in r.json()["members"]}
        return r.json()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception as e:  # reported by stop()
                if not self.tolerant:
                    self.error = e
                    return
                self.failures += 1
            self._stop.wait(self.interval)

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        self._thread = None
        assert self.error is None, "fake agent failed: %r" % self.error


def start_server(extra_args=(), tls=None):
    """A new dbaasd on a new data directory, started and healthy. The caller closes it."""
    srv = Dbaasd(extra_args=extra_args, tls=tls)
    try:
        srv.start()
    except BaseException:
        srv.close()
        raise
    return srv


@contextlib.contextmanager
def server_env(extra_args=(), tls=None):
    """start_server() with its Env, both closed on leaving: `with server_env() as (srv, env)`."""
    srv = start_server(extra_args=extra_args, tls=tls)
    env = Env(srv)
    try:
        yield srv, env
    finally:
        env.close()
        srv.close()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Safety net: a fixture that failed between start_server() and its yield leaves a server
    behind. Kill what is still running (by pid) and remove the data directories we made.

    A skipped test fails the run (CI runs as root with every dependency installed: nothing
    should skip there); DBAAS_ALLOW_SKIPS=1 allows skips for a partial run by hand."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and os.environ.get("DBAAS_ALLOW_SKIPS") != "1":
        sys.stderr.write("\nconftest: %d test(s) skipped; a skip fails the run "
                         "(DBAAS_ALLOW_SKIPS=1 allows them)\n" % skipped)
        if session.exitstatus == 0:
            session.exitstatus = 1
    for srv in _ALL_SERVERS:
        sweep_text("dbaasd output (%s)" % srv.data_dir, "\n".join(srv.lines))
    if _LEAKS:
        sys.stderr.write("\nconftest: secrets found in logs or events:\n")
        for where, origin in sorted(set(_LEAKS)):
            sys.stderr.write("  in %s: the secret from %s\n" % (where, origin))
        session.exitstatus = 1
    else:
        sys.stderr.write("\nconftest: %d secrets looked for in %d logs and lists (%.1f MB): none found\n"
                         % (len(_SECRETS), _SWEPT[0], _SWEPT[1] / 1e6))
    for srv in _ALL_SERVERS:
        if srv.proc is not None:
            sys.stderr.write("\nconftest: dbaasd on %s was left running; killing it\n" % srv.data_dir)
            try:
                srv._kill()
            except Exception as e:  # keep cleaning the others
                sys.stderr.write("conftest: could not kill it: %r\n" % e)
        if srv.owns_dir and os.path.isdir(srv.data_dir):
            srv._kill_leftovers()
            shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the last lines of every running dbaasd's log to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in _ALL_SERVERS:
            if srv.proc is not None:
                rep.sections.append(("dbaasd log (%s)" % srv.data_dir, srv.log_tail(40)))


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def server():
    """The dbaasd shared by most tests."""
    srv = start_server()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def env(server):
    e = Env(server)
    yield e
    e.close()


@pytest.fixture
def api(env):
    """The operator's client on the shared server."""
    return env.op


@pytest.fixture
def client(env):
    """client(token) -> Api on the shared server."""
    return env.client


@pytest.fixture
def mk_tenant(env):
    return env.mk_tenant


@pytest.fixture
def mk_plan(env):
    return env.mk_plan


@pytest.fixture
def mk_instance(env):
    return env.mk_instance


@pytest.fixture
def own_server():
    """A dbaasd of this test's own (to stop, restart, or add hosts without disturbing others)."""
    srv = start_server()
    yield srv
    srv.close()


@pytest.fixture
def own_env(own_server):
    e = Env(own_server)
    yield e
    e.close()


@pytest.fixture(scope="session")
def openapi_dir():
    """tests/openapi with its node_modules installed (npm ci when missing)."""
    d = os.path.join(REPO, "tests", "openapi")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed to check docs/openapi.yaml (scripts/deps.sh installs them)")
    if not os.path.isdir(os.path.join(d, "node_modules", "@apidevtools", "swagger-parser")) or \
            not os.path.isdir(os.path.join(d, "node_modules", "ajv")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=d, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, "npm ci failed:\n%s\n%s" % (r.stdout, r.stderr)
    return d


# --------------------------------------------------------------------------------------------
# dbaasctl


def run_ctl(args, url=None, token=None, timeout=60, env_extra=None):
    """Run bin/dbaasctl with DBAAS_URL/DBAAS_TOKEN set; returns the CompletedProcess (text)."""
    if not os.access(DBAASCTL, os.X_OK):
        pytest.fail("%s is missing or not executable (build it, or set DBAAS_BIN_DIR)" % DBAASCTL)
    e = {k: v for k, v in os.environ.items() if not k.startswith("DBAAS_")}
    if url is not None:
        e["DBAAS_URL"] = url
    if token is not None:
        e["DBAAS_TOKEN"] = token
    if env_extra:
        e.update(env_extra)
    p = subprocess.run([DBAASCTL] + list(args), env=e, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    note_secrets_text(p.stdout, "dbaasctl " + " ".join(args[:2]))
    with contextlib.suppress(ValueError):
        note_secrets(json.loads(p.stdout), "dbaasctl " + " ".join(args[:2]))
    return p


TOKEN_RE = re.compile(r"dbaas_tn_[A-Za-z0-9_-]+")
AGENT_TOKEN_RE = re.compile(r"dbaas_ag_[A-Za-z0-9_-]+")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def is_timestamp(v):
    """An RFC 3339 date-time such as 2026-11-22T04:00:00Z."""
    return isinstance(v, str) and TIMESTAMP_RE.match(v) is not None


def pytest_collection_modifyitems(session, config, items):
    """Keep together the cases of each value of a module-scoped, indirectly parametrized "rig"
    fixture (test_replication.py), so that each rig starts once per module: a stable sort within
    each module by that value, the modules keeping their order."""
    first = {}
    for n, item in enumerate(items):
        first.setdefault(item.module.__name__ if item.module else "", n)

    def key(item):
        mod = item.module.__name__ if item.module else ""
        cs = getattr(item, "callspec", None)
        rig = cs.params.get("rig") if cs else None
        return (first[mod], "" if rig is None else str(rig))

    items.sort(key=key)
