"""The agent's HA part 1 behaviour against a scripted dbaasd: a real dbaas-agent (as root, cgroup
isolation) and real Redis engines, but the heartbeat replies come from a fake dbaasd in this
process, so that each test can send exactly the reply it needs: replies out of order
(generation), members missing from a reply, a missing limit, an explicit delete (quarantine),
heartbeat_interval_ms, the seed server's authentication through the real `dbaas-agent
seed-fetch`, and supervision and heartbeats that go on while one engine is stopped (SIGSTOP)
and takes 30 s to stop.

What needs the engine drivers' HA part (seeding a real replica, health of a real engine,
replication set-up) is checked once the branches are merged; here health may be "unsupported".
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import BIN_DIR, free_port, wait_until

AGENT = os.path.join(BIN_DIR, "dbaas-agent")
PORTS = "22300-22399"
SEED_PORT = 22400
SECRET = "Rk2-seed-secret-for-tests-only-Zq9"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the agent needs root (CI runs as root)")


class FakeDbaasd:
    """Answers POST /v1/agent/heartbeat with self.reply (a dict), holding a long poll like dbaasd;
    records every request (monotonic time, body)."""

    def __init__(self):
        self.port = free_port()
        self.requests = []
        self.cond = threading.Condition()
        self.reply = {"host": "h1", "heartbeat_interval_ms": 1000, "generation": 1, "members": []}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.cond:
                    fake.requests.append((time.monotonic(), body))
                    fake.cond.notify_all()
                    wait = min(body.get("wait_ms", 0), 5000) / 1000.0
                    if body.get("desired_hash") == fake.hash() and wait > 0:
                        fake.cond.wait_for(lambda: body.get("desired_hash") != fake.hash(), wait)
                    out = dict(fake.reply, desired_hash=fake.hash())
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def hash(self):
        return hashlib.sha256(json.dumps([self.reply.get("generation"), self.reply["members"]],
                                         sort_keys=True).encode()).hexdigest()

    def set(self, **kw):
        with self.cond:
            self.reply = dict(self.reply, **kw)
            self.cond.notify_all()

    def last_member(self, mid):
        with self.cond:
            for _, body in reversed(self.requests):
                for m in body.get("members", []):
                    if m["id"] == mid:
                        return m
        return None

    def count(self):
        with self.cond:
            return len(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def member(mid, port, spec=1, memory=128, desired="running", **extra):
    m = {"id": mid, "instance_id": "i-%d" % mid, "instance": "db%d" % mid, "engine": "redis",
         "version": "7", "role": "primary", "port": port, "desired": desired,
         "spec_version": spec,
         "limits": {"cpu_millis": 500, "memory_mb": memory, "disk_mb": 1024, "read_iops": 0,
                    "write_iops": 0, "read_bps": 0, "write_bps": 0},
         "credentials": {"username": "app", "verifier": hashlib.sha256(b"pw").hexdigest()}}
    m.update(extra)
    return m


@pytest.fixture
def rig():
    fake = FakeDbaasd()
    tmp = tempfile.mkdtemp(prefix="dbaas-agent-ha-", dir="/tmp")
    os.chmod(tmp, 0o755)
    data = os.path.join(tmp, "data")
    log = os.path.join(tmp, "agent.log")
    with open(log, "a") as f:
        proc = subprocess.Popen([AGENT, "--server", "http://127.0.0.1:%d" % fake.port, "--token", "t",
                                 "--data-dir", data, "--advertise", "127.0.0.1", "--ports", PORTS,
                                 "--seed-port", str(SEED_PORT), "--keep-deleted", "1h",
                                 "--stop-engines-on-exit"],
                                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    class Rig:
        pass

    r = Rig()
    r.fake, r.data, r.proc, r.tmp = fake, data, proc, tmp
    r.logs = lambda: open(log).read()
    wait_until(lambda: "event=ready" in r.logs() or proc.poll() is not None, what="agent ready")
    assert proc.poll() is None, r.logs()
    try:
        yield r
    finally:
        # every member deleted, then the agent stopped (it stops what is left)
        fake.set(generation=10**6, members=[dict(m, desired="deleted") for m in fake.reply["members"]])
        try:
            wait_until(lambda: all((fake.last_member(m["id"]) or {}).get("state") == "deleted"
                                   for m in fake.reply["members"]), timeout=60, what="members deleted")
        finally:
            proc.terminate()
            proc.wait(60)
            fake.close()
            shutil.rmtree(tmp, ignore_errors=True)


def state_of(rig, mid):
    return (rig.fake.last_member(mid) or {}).get("state")


def wait_requests(rig, n):
    """Wait until n more heartbeats reached the fake dbaasd."""
    start = rig.fake.count()
    wait_until(lambda: rig.fake.count() >= start + n, what="%d heartbeats" % n)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def test_generation_unlisted_quarantine(rig):
    fake = rig.fake
    fake.set(generation=5, members=[member(1, 22301, spec=1, memory=128)])
    wait_until(lambda: state_of(rig, 1) == "running", timeout=60, what="member 1 running")
    first = fake.last_member(1)
    assert first["applied_version"] == 1
    pid = first["pid"]
    # the request carries the seed server's port and the member's health (null before the first
    # probe; "unsupported" until the drivers implement it)
    wait_until(lambda: fake.last_member(1).get("health") is not None, what="a health probe")
    assert "age_ms" in fake.last_member(1)["health"]
    assert fake.requests[-1][1]["seed_port"] == SEED_PORT

    # an older reply (generation 4) with other limits: ignored
    fake.set(generation=4, members=[member(1, 22301, spec=2, memory=256)])
    wait_requests(rig, 3)
    assert "event=stale_reply_ignored generation=4 applied=5" in rig.logs()
    assert fake.last_member(1)["applied_version"] == 1
    mem_dir = os.path.join(rig.data, "members", "1")
    # a newer reply without member 1: kept, running, same pid
    fake.set(generation=6, members=[])
    wait_requests(rig, 3)
    assert "event=member_unlisted member=1" in rig.logs()
    m = fake.last_member(1)
    assert m["state"] == "running" and m["pid"] == pid and alive(pid)
    assert os.path.isdir(mem_dir)
    # listed again, then a limit missing: malformed, nothing changes
    bad = member(1, 22301, spec=3, memory=512)
    del bad["limits"]["memory_mb"]
    fake.set(generation=7, members=[bad])
    wait_requests(rig, 3)
    assert 'limit "memory_mb" is missing' in rig.logs()
    assert fake.last_member(1)["applied_version"] == 1
    # an explicit delete: the data is moved to the quarantine
    fake.set(generation=8, members=[member(1, 22301, desired="deleted")])
    wait_until(lambda: state_of(rig, 1) == "deleted", timeout=60, what="member 1 deleted")
    assert not os.path.exists(mem_dir)
    q = os.path.join(rig.data, "quarantine")
    entries = os.listdir(q)
    assert len(entries) == 1 and entries[0].startswith("1-"), entries
    assert os.stat(q).st_mode & 0o777 == 0o700
    assert not alive(pid)


def test_heartbeat_interval(rig):
    fake = rig.fake
    wait_requests(rig, 1)
    assert fake.requests[-1][1]["wait_ms"] == 1000
    fake.set(generation=2, heartbeat_interval_ms=300)
    wait_requests(rig, 3)
    assert fake.requests[-1][1]["wait_ms"] == 300
    # one heartbeat per interval at least (the fake holds each long poll for wait_ms)
    start = fake.count()
    time.sleep(2.0)  # the measurement window
    assert fake.count() - start >= 5


def seed_fetch(secret, primary, replica, tmp):
    sf = os.path.join(tmp, "secret")
    with open(sf, "w") as f:
        f.write(secret)
    os.chmod(sf, 0o600)
    st = os.path.join(tmp, "status")
    out = os.path.join(tmp, "out")
    p = subprocess.run([AGENT, "seed-fetch", "--from", "127.0.0.1:%d" % SEED_PORT, "--primary",
                        str(primary), "--replica", str(replica), "--secret-file", sf,
                        "--status-file", st, "--", "/bin/sh", "-c", 'exec cat > "$0"', out],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def test_seed_server_authentication(rig):
    fake = rig.fake
    primary = member(1, 22301, replication={"user": "dbaas_repl", "secret": SECRET},
                     replicas=[{"id": 2, "host": "127.0.0.1", "port": 22302}])
    fake.set(generation=3, members=[primary])
    wait_until(lambda: state_of(rig, 1) == "running", timeout=60, what="member 1 running")
    # the secret reaches no log line, no command line
    assert SECRET not in rig.logs()
    rc, err = seed_fetch("not the secret", 1, 2, rig.tmp)
    assert rc == 1 and "refused: denied" in err, err
    assert "did not prove it knows the replication secret of member 1" in rig.logs()
    rc, err = seed_fetch(SECRET, 1, 3, rig.tmp)
    assert rc == 1 and "refused: denied" in err, err
    assert "member 3 is not one of member 1's replicas" in rig.logs()
    rc, err = seed_fetch(SECRET, 9, 2, rig.tmp)
    assert rc == 1 and "refused: denied" in err, err
    # the right secret passes authentication; Redis has no seed stream (its replicas need no
    # copy), so the source is unavailable
    rc, err = seed_fetch(SECRET, 1, 2, rig.tmp)
    assert rc == 1 and "refused: unavailable" in err, err
    assert SECRET not in rig.logs()
    with open(os.path.join(rig.data, "members", "1.json")) as f:
        assert json.load(f)["replication"]["secret"] == SECRET
    assert os.stat(os.path.join(rig.data, "members", "1.json")).st_mode & 0o777 == 0o600


def test_slow_stop_blocks_nothing(rig):
    """Member 1's engine is stopped (SIGSTOP): its probe hangs or fails, and its delete takes the
    30 s stop deadline. Meanwhile heartbeats go on, and member 2, killed, is restarted."""
    fake = rig.fake
    fake.set(generation=2, members=[member(1, 22301), member(2, 22302)])
    wait_until(lambda: state_of(rig, 1) == "running" and state_of(rig, 2) == "running",
               timeout=60, what="members running")
    pid1, pid2 = fake.last_member(1)["pid"], fake.last_member(2)["pid"]
    os.kill(pid1, signal.SIGSTOP)
    try:
        fake.set(generation=3, members=[member(1, 22301, desired="deleted"), member(2, 22302)])
        time.sleep(1.0)  # the delete is under way: SIGTERM sent, the engine cannot act on it
        assert state_of(rig, 1) != "deleted"
        t0 = time.monotonic()
        os.kill(pid2, signal.SIGKILL)
        back = wait_until(lambda: (lambda m: m if m and m["state"] == "running" and m["pid"] != pid2
                                   else None)(fake.last_member(2)),
                          timeout=15, what="member 2 restarted during member 1's stop")
        assert time.monotonic() - t0 < 10
        assert alive(back["pid"])
        # heartbeats kept their pace during the stop
        times = [t for t, _ in fake.requests if t >= t0]
        assert len(times) >= 3
        assert max(b - a for a, b in zip(times, times[1:])) < 2.5
        assert state_of(rig, 1) != "deleted"  # still within the 30 s deadline
    finally:
        if alive(pid1):
            os.kill(pid1, signal.SIGCONT)
    wait_until(lambda: state_of(rig, 1) == "deleted", timeout=60, what="member 1 deleted")
