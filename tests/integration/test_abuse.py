"""Abusive clients against a real dbaasd: a slowloris client holding as many connections as it
may and dribbling header bytes, from its own loopback address, while a real agent heartbeats
and another tenant's requests, from other addresses, are timed; then the total connection limit;
then bodies and requests built to hurt the parsers, each checked for its answer, and then sent
in a loop while, again, an agent's heartbeats and another tenant's requests are timed. Each
abuse gets a clear answer (a 4xx, or a connection closed at once when over a limit) and the
others are served meanwhile.

Loopback addresses stand for client machines: 127.0.0.3 is the attacker, 127.0.0.2 the other
tenant, 127.0.0.1 the agent.
"""

import http.client
import json
import os
import select
import shutil
import socket
import statistics
import threading
import time

import pytest

from conftest import assert_error, expect, free_port_range, server_env, uniq, wait_until
from test_agent import Agent

PER_IP = 40
TOTAL = 150
# A request of a client that is not the attacker must still be answered well within this (its
# normal latency on loopback is a few milliseconds): the attack may cost it nothing visible.
SERVED_WITHIN_S = 1.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the agent needs root (CI runs as root)")


class Slowloris:
    """Connections from one source address, each sending a request's first line and then one
    header line per second, never the blank line that ends the headers."""

    def __init__(self, port, source, interval=1.0):
        self.port, self.source, self.interval = port, source, interval
        self.socks = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._dribble, daemon=True)

    def open(self, n):
        """Open n more connections; returns how many the server kept open (one it closes at
        accept reads as EOF or a reset within a second)."""
        fresh = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((self.source, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            fresh.append(s)
        # one second for the server to close what it refuses: EOF or a reset, read at once
        closed = set()
        deadline = time.monotonic() + 1.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([s for s in fresh if s not in closed], [], [], left)
            if not ready:
                break
            for s in ready:
                try:
                    if s.recv(1) == b"":
                        closed.add(s)
                except OSError:
                    closed.add(s)
        for s in fresh:
            if s in closed:
                s.close()
            else:
                self.socks.append(s)
        return len(fresh) - len(closed)

    def alive(self):
        """How many of the kept connections the server has not closed (EOF or a reset)."""
        n = 0
        for s in self.socks:
            ready, _, _ = select.select([s], [], [], 0)
            if ready:
                try:
                    if s.recv(1) == b"":
                        continue
                except OSError:
                    continue
            n += 1
        return n

    def _dribble(self):
        i = 0
        while not self.stop.wait(self.interval):
            for s in list(self.socks):
                try:
                    s.sendall(b"X-Slow-%d: x\r\n" % i)
                except OSError:
                    pass
            i += 1

    def start(self):
        self.thread.start()

    def close(self):
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
        for s in self.socks:
            s.close()
        self.socks = []


def timed_get(port, source, path, token):
    """One GET on a fresh connection from source: (status, seconds)."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - t0
    finally:
        c.close()


def gaps_of(seen):
    """From (time, last_heartbeat) samples: the seconds between the samples where a newer
    heartbeat first showed, and from the last of them to the end."""
    firsts = [t for i, (t, hb) in enumerate(seen) if i == 0 or hb != seen[i - 1][1]]
    return [b - a for a, b in zip(firsts, firsts[1:])] + [seen[-1][0] - firsts[-1]]


def heartbeat_gaps(op, host, seconds):
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append((time.monotonic(), expect(op.get("/v1/hosts/" + host), 200)["last_heartbeat"]))
        time.sleep(0.1)
    return gaps_of(seen)


def register_agent(srv, env):
    """A host on 127.0.0.1 and a real agent for it (not started): (host name, Agent)."""
    host = uniq("h")
    reg = expect(env.op.post("/v1/hosts", {
        "name": host, "address": "127.0.0.1", "zone": "z1", "cpu_millis": 2000, "memory_mb": 4096,
        "disk_mb": 20000, "engines": ["redis"]}), 201)
    return host, Agent(srv, reg["token"], "cgroup", None, free_port_range(50))


def baseline(srv, env, host, tok):
    """Before an attack: 20 timed GETs of the tenant from 127.0.0.2 (each answered 200) and 4 s
    of the agent's heartbeat gaps."""
    before = [timed_get(srv.port, "127.0.0.2", "/v1/instances", tok) for _ in range(20)]
    assert all(s == 200 for s, _ in before), before
    return before, heartbeat_gaps(env.op, host, 4)


def during_attack(srv, env, host, tok, seconds=8):
    """For seconds, every 0.1 s: a timed GET of the tenant from 127.0.0.2 and a sample of the
    host's last heartbeat. Returns (the GETs, the heartbeat gaps)."""
    during, hb_seen = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        during.append(timed_get(srv.port, "127.0.0.2", "/v1/instances", tok))
        hb_seen.append((time.monotonic(), expect(env.op.get("/v1/hosts/" + host), 200)["last_heartbeat"]))
        time.sleep(0.1)
    return during, gaps_of(hb_seen)


def check_unharmed(what, before, hb_before, during, hb_during):
    """The tenant's GETs during the attack all answered 200, each within SERVED_WITHIN_S; the
    agent's heartbeats came as often as before it: the longest wait for a newer heartbeat is
    within a second of the longest before (1 s heartbeats, their record written within a
    second; the host turns unreachable after 5 s). Prints the figures."""
    assert all(s == 200 for s, _ in during), during
    print("GET /v1/instances from 127.0.0.2: median %.1f ms before, %.1f ms during %s (max %.1f ms)"
          % (1000 * statistics.median(t for _, t in before), 1000 * statistics.median(t for _, t in during),
             what, 1000 * max(t for _, t in during)))
    print("longest wait for a newer heartbeat: %.2f s before, %.2f s during %s"
          % (max(hb_before), max(hb_during), what))
    assert max(t for _, t in during) < SERVED_WITHIN_S, during
    assert len(hb_during) >= 3 and max(hb_during) <= max(max(hb_before), 2.0) + 1.0, (hb_before, hb_during)


@pytest.fixture
def abuse_env():
    with server_env(extra_args=["--max-conns-per-ip", str(PER_IP), "--max-conns", str(TOTAL)]) as se:
        yield se


def test_slowloris_does_not_starve_others(abuse_env):
    srv, env = abuse_env
    host, agent = register_agent(srv, env)
    _, tok = env.mk_tenant()
    expect(env.client(tok).post("/v1/instances", {"name": uniq("db"), "engine": "redis",
                                                  "plan": env.mk_plan(memory_mb=64)}), 202)
    attacker = Slowloris(srv.port, "127.0.0.3")
    try:
        agent.start()
        wait_until(lambda: expect(env.op.get("/v1/hosts/" + host), 200)["status"] == "ready", what="host ready")
        before, hb_before = baseline(srv, env, host, tok)

        # the attacker gets PER_IP connections and not one more: the rest are closed at once
        assert attacker.open(PER_IP) == PER_IP
        attacker.start()
        assert attacker.open(20) == 0
        hb0 = expect(env.op.get("/v1/hosts/" + host), 200)["last_heartbeat"]

        during, hb_during = during_attack(srv, env, host, tok)
        check_unharmed("the attack", before, hb_before, during, hb_during)
        # the agent kept heartbeating: its host is ready with a newer heartbeat
        h = expect(env.op.get("/v1/hosts/" + host), 200)
        assert h["status"] == "ready" and h["last_heartbeat"] > hb0, (h, hb0)
        # the attacker's connections are still open (they are slow, not idle): only the
        # per-address limit bounds them
        assert attacker.open(1) == 0
    finally:
        attacker.close()
        for i in env.client(tok).list_all("/v1/instances"):
            env.client(tok).delete("/v1/instances/" + i["id"])
        for i in env.client(tok).list_all("/v1/instances"):
            wait_until(lambda: env.client(tok).get("/v1/instances/" + i["id"]).json()["status"] == "deleted",
                       timeout=60, what="deleted")
        agent.stop()
        shutil.rmtree(agent.dir, ignore_errors=True)


def test_total_connection_limit(abuse_env):
    """Attackers on several addresses, each within its per-address limit, open more connections
    than the total limit and dribble headers into them: every connection over the limit evicts
    the oldest one without a whole request, so the attackers never hold more than the limit, a
    client that comes meanwhile is answered at once, and nothing crashes."""
    srv, env = abuse_env
    attackers = [Slowloris(srv.port, "127.0.0.%d" % (10 + i)) for i in range(5)]
    try:
        for a in attackers:
            a.open(PER_IP)  # 200 in all: the first 50 are evicted by the last 50
            a.start()
        alive = [a.alive() for a in attackers]
        assert sum(alive) <= TOTAL, alive
        # the evicted ones were the oldest: the first address's
        assert alive[0] < PER_IP and alive[-1] == PER_IP, alive
        for _ in range(10):
            status, took = timed_get(srv.port, "127.0.0.2", "/healthz", env.op.token)
            assert status == 200 and took < SERVED_WITHIN_S, (status, took)
        metrics = env.op.get("/metrics").text
        evicted = [l for l in metrics.splitlines()
                   if l.startswith("dbaas_http_connections_evicted_total ")]
        assert evicted and int(evicted[0].split()[1]) >= 200 - TOTAL, evicted
        assert "event=http_connections_evicted" in "\n".join(srv.lines)
    finally:
        for a in attackers:
            a.close()
    expect(env.op.get("/v1/tenants"), 200)
    assert srv.proc.poll() is None


def test_hostile_bodies_and_requests(abuse_env):
    """Deep nesting, numbers out of every range, invalid UTF-8, huge headers and URLs: each a
    clear 4xx, and the server goes on serving."""
    srv, env = abuse_env
    op = env.op
    JSON = {"Content-Type": "application/json"}
    # nesting deeper than the parser allows, well within the body limit
    for body in (b"[" * 5000 + b"]" * 5000, b'{"name":' * 3000 + b"1" + b"}" * 3000):
        assert_error(op.post("/v1/tenants", data=body, headers=JSON), 400, "invalid_json")
    # nesting the parser takes, where a field expects a string
    assert_error(op.post("/v1/tenants", data=b'{"name":' + b"[" * 500 + b"]" * 500 + b"}", headers=JSON),
                 400, "invalid_field", "name")
    # integers beyond 64 bits and reals beyond double are not JSON we take
    for raw in (b'{"name":"x","cpu_millis":99999999999999999999999}', b'{"name":"x","cpu_millis":1e400}'):
        assert_error(op.post("/v1/plans", data=raw, headers=JSON), 400, "invalid_json")
    # in range for JSON, out of range for the field
    plan = {"name": uniq("p"), "memory_mb": 512, "disk_mb": 1024}
    for v in (2 ** 63 - 1, -(2 ** 63), -1, 0, 1.5):
        assert_error(op.post("/v1/plans", dict(plan, cpu_millis=v)), 400, "invalid_field", "cpu_millis")
    # invalid UTF-8 in a string, an overlong encoding, a lone surrogate escape
    for raw in (b'{"name":"a\xc3"}', b'{"name":"\xc0\xaf"}', b'{"name":"\\ud800"}'):
        assert_error(op.post("/v1/tenants", data=raw, headers=JSON), 400, "invalid_json")
    # a header section larger than the server takes: a 4xx and a closed connection
    for hdrs in ({"X-Big": "a" * 100000}, {"X-H%d" % i: "v" * 100 for i in range(1000)}):
        r = op.get("/v1/tenants", headers=hdrs)
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    r = op.get("/v1/tenants/" + "a" * 100000)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    # and it still serves everyone
    name, _ = env.mk_tenant()
    expect(op.get("/v1/tenants/" + name), 200)
    assert srv.proc.poll() is None


# Requests built to hurt the parsers, as a tenant sends them to its own routes (so that they
# pass authentication and reach the body parser): (method, path, body, headers, expected 4xx).
HOSTILE = [
    ("POST", "/v1/instances", b"[" * 5000 + b"]" * 5000, {}, 400),
    ("POST", "/v1/instances", b'{"name":' * 3000 + b"1" + b"}" * 3000, {}, 400),
    ("POST", "/v1/instances", b'{"name":"x","replicas":99999999999999999999999}', {}, 400),
    ("POST", "/v1/instances", b'{"name":"x","max_lag_bytes":1e400}', {}, 400),
    ("POST", "/v1/instances", b'{"name":"a\xc3"}', {}, 400),
    ("POST", "/v1/instances", b'{"name":"' + b"a" * (65 * 1024) + b'"}', {}, 413),
    ("GET", "/v1/instances", None, {"X-Big": "a" * 100000}, None),
    ("GET", "/v1/instances/" + "a" * 100000, None, {}, None),
]


def hostile_once(port, source, token, method, path, body, headers):
    """One hostile request on a fresh connection from source: its status, or None when the
    server closed the connection before an answer could be read (allowed for a request whose
    header section it refuses whole)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        h.update(headers)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        r.read()
        return r.status
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        c.close()


def test_hostile_requests_do_not_slow_others(abuse_env):
    """A tenant on 127.0.0.3 sends the requests of HOSTILE in a loop, one after another as fast
    as it is answered, for 8 s, while another tenant's GETs from 127.0.0.2 are timed and a real
    agent's heartbeats are watched, as before the attack: every hostile request gets its 4xx
    (the header and URL ones a 4xx or a closed connection), every other request a 200 within
    SERVED_WITHIN_S, and the heartbeats keep their pace."""
    srv, env = abuse_env
    host, agent = register_agent(srv, env)
    _, tok = env.mk_tenant()
    _, attacker_tok = env.mk_tenant()
    stop = threading.Event()
    answers = []

    def attack():
        while not stop.is_set():
            for method, path, body, headers, want in HOSTILE:
                got = hostile_once(srv.port, "127.0.0.3", attacker_tok, method, path, body, headers)
                answers.append((path[:40], want, got))

    attacker = threading.Thread(target=attack, daemon=True)
    try:
        agent.start()
        wait_until(lambda: expect(env.op.get("/v1/hosts/" + host), 200)["status"] == "ready", what="host ready")
        before, hb_before = baseline(srv, env, host, tok)

        attacker.start()
        t0 = time.monotonic()
        during, hb_during = during_attack(srv, env, host, tok)
        stop.set()
        attacker.join(30)
        took = time.monotonic() - t0
        assert not attacker.is_alive()

        wrong = [a for a in answers if not ((a[1] is None and (a[2] is None or 400 <= a[2] < 500))
                                            or a[2] == a[1])]
        assert not wrong, wrong[:10]
        assert len(answers) >= 2 * len(HOSTILE), len(answers)
        print("hostile requests: %d in %.1f s (%.0f/s), each refused as expected" % (len(answers), took, len(answers) / took))
        check_unharmed("the hostile requests", before, hb_before, during, hb_during)
        assert srv.proc.poll() is None
    finally:
        stop.set()
        if attacker.is_alive():
            attacker.join(30)
        agent.stop()
        shutil.rmtree(agent.dir, ignore_errors=True)


def test_body_not_read_before_authentication(abuse_env):
    """A request that announces a body is answered 401 (no or a bad token) or 403 (a token of
    the wrong role) before any byte of its body: the server neither waits for it nor keeps it.
    With a valid token it does wait for the body."""
    srv, env = abuse_env
    _, tok = env.mk_tenant()

    def post_headers_only(token):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        auth = b"Authorization: Bearer %s\r\n" % token.encode() if token else b""
        s.sendall(b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 60000\r\n" + auth + b"\r\n")
        s.settimeout(2.0)
        try:
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            return got
        except socket.timeout:
            return None
        finally:
            s.close()

    for token, status in ((None, b"401"), ("dbaas_op_" + "x" * 40, b"401"), (tok, b"403")):
        got = post_headers_only(token)
        assert got is not None and got.startswith(b"HTTP/1.1 " + status), (token and token[:12], got)
    # the operator's token is good for the route: the server waits for the body
    assert post_headers_only(env.op.token) is None
    expect(env.op.get("/v1/tenants"), 200)


REQUEST_TIMEOUT_S = 2


def closed_within(socks, limit_s):
    """For each socket, seconds until the server closed it (EOF or a reset, nothing else
    read), or None if it is still open after limit_s."""
    t0 = time.monotonic()
    when = {}
    while len(when) < len(socks):
        left = t0 + limit_s - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([s for s in socks if s not in when], [], [], left)
        for s in ready:
            try:
                got = s.recv(4096)
            except OSError:
                got = b""
            assert got == b"", "the server answered instead of closing: %r" % got[:200]
            when[s] = time.monotonic() - t0
    return [when.get(s) for s in socks]


def test_request_timeout_cuts_slow_clients_not_slow_replies():
    """A connection must send a whole request within --request-timeout of its opening or of its
    previous reply: dribbled headers and a dribbled body are cut although they never go idle;
    a keep-alive client sending requests at its pace and a long poll longer than the timeout
    are not."""
    with server_env(extra_args=["--request-timeout", str(REQUEST_TIMEOUT_S)]) as (srv, env):
        op_token = srv.operator_token()
        host = uniq("h")
        reg = expect(env.op.post("/v1/hosts", {
            "name": host, "address": "127.0.0.1", "zone": "z1", "cpu_millis": 2000, "memory_mb": 4096,
            "disk_mb": 20000, "engines": ["redis"]}), 201)
        # header lines every 0.3 s: never idle for libmicrohttpd, which times out after 2 s idle
        attacker = Slowloris(srv.port, "127.0.0.3", interval=0.3)
        body = []
        try:
            t_open = time.monotonic()
            assert attacker.open(5) == 5
            attacker.start()
            # an authenticated POST whose body comes one byte every 0.3 s
            for _ in range(2):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5,
                                             source_address=("127.0.0.4", 0))
                s.sendall(b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
                          % op_token.encode())
                body.append(s)
            stop = threading.Event()

            def dribble_body():
                while not stop.wait(0.3):
                    for s in body:
                        try:
                            s.sendall(b" ")
                        except OSError:
                            pass
            t = threading.Thread(target=dribble_body, daemon=True)
            t.start()
            # none is cut before the timeout
            early = closed_within(attacker.socks + body, t_open + 0.75 * REQUEST_TIMEOUT_S - time.monotonic())
            assert early == [None] * len(early), early
            # meanwhile one keep-alive connection sends a request every 0.5 s for 5 s: all
            # answered on the same connection
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10, source_address=("127.0.0.2", 0))
            c.connect()
            sock0 = c.sock
            t_end = time.monotonic() + 2.5 * REQUEST_TIMEOUT_S
            n = 0
            while time.monotonic() < t_end:
                c.request("GET", "/v1/tenants", headers={"Authorization": "Bearer " + op_token})
                r = c.getresponse()
                r.read()
                assert r.status == 200 and c.sock is sock0, (r.status, n)
                n += 1
                time.sleep(0.5)
            c.close()
            # a long poll longer than the timeout is answered after its wait, not cut
            agent = env.client(reg["token"])
            beat = {"agent_version": "test", "isolation": "none", "ports": {"min": 20000, "max": 20099},
                    "members": []}
            first = expect(agent.post("/v1/agent/heartbeat", beat), 200)
            t0 = time.monotonic()
            r = agent.post("/v1/agent/heartbeat", dict(beat, desired_hash=first["desired_hash"],
                                                       wait_ms=2000 * REQUEST_TIMEOUT_S), timeout=20)
            waited = time.monotonic() - t0
            assert r.status_code == 200 and waited >= 1.5 * REQUEST_TIMEOUT_S, (r.status_code, waited, r.text)
            # by now every slow connection was cut, none before the timeout
            closed = closed_within(attacker.socks + body, 5)
            since_open = time.monotonic() - t_open
            assert all(x is not None for x in closed), (closed, srv.log_tail())
            stop.set()
            t.join(5)
            assert since_open >= REQUEST_TIMEOUT_S
        finally:
            attacker.close()
            for s in body:
                s.close()
        metrics = env.op.get("/metrics").text
        cut = [l for l in metrics.splitlines() if l.startswith("dbaas_http_request_timeouts_total ")]
        assert cut and int(cut[0].split()[1]) >= 7, cut
        assert "event=http_request_timeout" in "\n".join(srv.lines)
