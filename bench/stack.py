"""Shared pieces of the node-agent benchmarks (bench_provision.py, bench_isolation.py).

NOTES
- A stack is what tests/integration/test_agent.py runs: bin/dbaasd with its embedded store
  (started by conftest.start_server) and one bin/dbaas-agent (root, cgroup backend) registered as
  host "local" on 127.0.0.1. Everything it makes lives under one temporary directory in /tmp (on
  the machine's disk, so that IO limits apply) and is removed by Stack.close().
- Agents used to name their cgroups dbaas/m<member id> whatever their data directory, so two
  stacks on one machine shared group names (fixed: the agent now prefixes a tag of its data
  directory). Stack.start() still moves its store's member id sequence to a random base above
  10^6, wait_for_quiet_machine() waits until no other dbaas-agent runs (their load would distort
  the figures anyway), foreign_agents_seen() tells whether one appeared later, and the
  benchmarks check at the end that none of their engines was restarted.
- The conftest helpers fail through pytest.fail(), which raises: a benchmark stops with the
  message and its cleanup runs.
"""

import ctypes
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from conftest import BIN_DIR, Env, expect, start_server, uniq  # noqa: E402

AGENT = os.path.join(BIN_DIR, "dbaas-agent")
PR_SET_CHILD_SUBREAPER = 36


def die(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.exit(1)


def require_root():
    if os.geteuid() != 0:
        die("the node-agent benchmarks need root (the agent runs engines as their OS users under cgroups)")
    for b in ("dbaasd", "dbaas-agent", "engine_check"):
        if not os.access(os.path.join(BIN_DIR, b), os.X_OK):
            die("%s/%s is missing: run make first" % (BIN_DIR, b))


def become_subreaper():
    """Orphaned engines (bin/engine_check leaves its server running) become our children, so
    that we reap them at once; PID 1 on these machines reaps slowly."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap():
    """Reap any exited child we do not wait for otherwise."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def other_agents():
    """Pids of dbaas-agent processes running on this machine."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() != "dbaas-agent":
                    continue
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if st[st.rindex(")") + 2] in "ZX":
                continue
        except OSError:
            continue
        found.append(int(d))
    return found


def wait_for_quiet_machine(own_pid=None, deadline_s=None):
    """Wait (BENCH_WAIT seconds at most, default 900) until no dbaas-agent but ours (own_pid)
    runs: see NOTES."""
    if deadline_s is None:
        deadline_s = float(os.environ.get("BENCH_WAIT", "900"))
    t0 = time.monotonic()
    said = False
    while True:
        pids = [p for p in other_agents() if p != own_pid]
        if not pids:
            if said:
                print("bench: no other agent now (waited %.0f s)" % (time.monotonic() - t0), flush=True)
            return
        if not said:
            print("bench: another dbaas-agent runs (pid %s, a test run?); its cgroup names would collide "
                  "with ours (dbaas/m<id>): waiting up to %.0f s" % (",".join(map(str, pids)), deadline_s),
                  flush=True)
            said = True
        if time.monotonic() - t0 > deadline_s:
            die("another dbaas-agent still runs after %.0f s; try again later" % deadline_s)
        time.sleep(1.0)


_seen_foreign = set()


def foreign_agents_seen(own_pid):
    """Whether a dbaas-agent other than ours runs now; remembered for the summary."""
    others = [p for p in other_agents() if p != own_pid]
    _seen_foreign.update(others)
    return bool(others)


def foreign_agents_summary():
    if not _seen_foreign:
        return None
    return ("another dbaas-agent (pid %s, a test run?) ran during the benchmark: its load makes these "
            "figures noisier" % ",".join(map(str, sorted(_seen_foreign))))


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return "nproc=%d cpu=\"%s\" kernel=%s loadavg=%s date=%s" % (
        os.cpu_count(), model, os.uname().release, load, time.strftime("%Y-%m-%d %H:%M:%S %Z"))


def median(v):
    return statistics.median(v)


def spread(v):
    """'min-max' of a list of floats."""
    return "%s-%s" % (fmt(min(v)), fmt(max(v)))


def fmt(x):
    return "%.3f" % x


class Agent:
    """bin/dbaas-agent with the cgroup backend, its data under dirpath/data."""

    def __init__(self, server_url, token, dirpath, ports):
        self.server_url, self.token, self.ports = server_url, token, ports
        self.dir = dirpath
        self.data = os.path.join(dirpath, "data")
        self.log = os.path.join(dirpath, "agent.log")
        self.proc = None

    def start(self, timeout=30.0):
        args = [AGENT, "--server", self.server_url, "--token", self.token, "--data-dir", self.data,
                "--advertise", "127.0.0.1", "--ports", self.ports, "--isolation", "cgroup"]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while "event=ready" not in self.logs():
            if self.proc.poll() is not None:
                raise RuntimeError("agent exited: %s" % self.logs()[-3000:])
            if time.monotonic() > deadline:
                raise RuntimeError("agent not ready in %.0f s" % timeout)
            time.sleep(0.05)

    def logs(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class Stack:
    """dbaasd + one agent (cgroup backend) + one tenant, as tests/integration/test_agent.py."""

    def __init__(self, ports, host_cpu_millis=8000, host_memory_mb=16384):
        self.ports = ports
        self.host_cpu_millis, self.host_memory_mb = host_cpu_millis, host_memory_mb
        self.srv = self.env = self.agent = self.client = None
        self.dir = None
        self.created = []  # instance ids, for close()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="dbaas-bench-agent-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.srv = start_server()
        self._move_member_ids()
        self.env = Env(self.srv)
        host = expect(self.env.op.post("/v1/hosts", {
            "name": "local", "address": "127.0.0.1", "zone": "z1", "cpu_millis": self.host_cpu_millis,
            "memory_mb": self.host_memory_mb, "disk_mb": 50000,
            "engines": ["postgres", "mysql", "redis"]}), 201)
        self.agent = Agent(self.srv.url, host["token"], self.dir, self.ports)
        self.agent.start()
        _, tok = self.env.mk_tenant("bench")
        self.client = self.env.client(tok)
        return self

    def _move_member_ids(self):
        """Start our member ids (and so our cgroup names) at a random base above 10^6: see NOTES.
        The embedded store listens on a Unix socket in DATA/run, reachable by root."""
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

    def plan(self, **kw):
        return self.env.mk_plan(prefix="bench", **kw)

    def create(self, engine, plan):
        """POST /v1/instances; returns the 202 body (id, credentials)."""
        body = expect(self.client.post("/v1/instances", {"name": uniq("b"), "engine": engine, "plan": plan}), 202)
        self.created.append(body["id"])
        return body

    def get(self, iid):
        return expect(self.client.get("/v1/instances/" + iid), 200)

    def wait_status(self, iid, statuses, timeout=120.0, interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            inst = self.get(iid)
            if inst["status"] in statuses:
                return inst
            if inst["status"] == "failed":
                raise RuntimeError("instance %s failed: %s\nagent log:\n%s" % (
                    iid, inst.get("status_reason"), self.agent.logs()[-3000:]))
            if time.monotonic() > deadline:
                raise RuntimeError("instance %s not %s after %.0f s (status %s)" % (
                    iid, statuses, timeout, inst["status"]))
            time.sleep(interval)

    def delete(self, iid, wait=True):
        r = self.client.delete("/v1/instances/" + iid)
        if r.status_code not in (202, 404):
            raise RuntimeError("delete %s: %d %s" % (iid, r.status_code, r.text[:300]))
        if wait and r.status_code == 202:
            self.wait_status(iid, ("deleted",))
        if iid in self.created:
            self.created.remove(iid)

    def close(self):
        """Delete every instance (the agent stops the engines and removes their cgroups and
        data), then stop the agent and dbaasd and remove the directories."""
        try:
            if self.client is not None and self.agent is not None and self.agent.proc is not None:
                for iid in list(self.created):
                    try:
                        self.delete(iid, wait=False)
                    except Exception as e:  # keep cleaning the others
                        sys.stderr.write("bench: could not delete %s: %r\n" % (iid, e))
                deadline = time.monotonic() + 90
                pending = self._not_deleted()
                while pending and time.monotonic() < deadline:
                    time.sleep(0.1)
                    pending = self._not_deleted()
                if pending:
                    sys.stderr.write("bench: instances not deleted in time: %s\n" % pending)
        finally:
            if self.agent is not None:
                died = [l for l in self.agent.logs().splitlines() if "event=engine_died" in l]
                if died:
                    sys.stderr.write("bench: engines died during the run (agent log):\n  %s\n" % "\n  ".join(died))
                self.agent.stop()
            if self.env is not None:
                self.env.close()
            if self.srv is not None:
                self.srv.close()
            self._remove_leftover_groups()
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            reap()

    def _not_deleted(self):
        try:
            return [i["id"] for i in self.client.list_all("/v1/instances") if i["status"] != "deleted"]
        except Exception:
            return []

    def _remove_leftover_groups(self):
        """The agent removes its groups on delete; if something went wrong, report what is left
        of our members' groups (we never touch groups we cannot prove are ours)."""
        members = os.path.join(self.dir or "", "data", "members")
        if not os.path.isdir(members):
            return
        for name in os.listdir(members):
            if name.endswith(".json"):
                g = "/sys/fs/cgroup/cpu/dbaas/m" + name[:-5]
                if os.path.isdir(g):
                    sys.stderr.write("bench: cgroup %s still exists after the stack stopped\n" % g)
