"""The agent's options that docs/agent.md promises and no other test exercises: a --config file
(key = value lines) carrying every setting, --token-file (never the token on the command line;
read again when it changes, so that a token rotates under a running agent), and
--stop-engines-on-exit against the default (engines outlive the agent and are adopted by the
next one). A real dbaasd, a real agent (as root), a real Redis."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import BIN_DIR, Api, Env, expect, free_port_range, run_ctl, start_server, uniq, wait_until

AGENT = os.path.join(BIN_DIR, "dbaas-agent")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def rig():
    srv = start_server()
    env = Env(srv)
    d = tempfile.mkdtemp(prefix="dbaas-agent-opt-", dir="/tmp")
    os.chmod(d, 0o755)
    procs = []
    try:
        host = expect(env.op.post("/v1/hosts", {
            "name": "local", "address": "127.0.0.1", "zone": "z1", "cpu_millis": 2000,
            "memory_mb": 4096, "disk_mb": 20000, "engines": ["redis"]}), 201)
        token_file = os.path.join(d, "token")
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (host["token"] + "\n").encode())
        os.close(fd)
        config = os.path.join(d, "agent.conf")
        with open(config, "w") as f:
            f.write("# written by test_agent_options.py\n"
                    "server = %s\n"
                    "token-file = %s\n"
                    "data-dir = %s\n"
                    "advertise = 127.0.0.1   # engines listen here\n"
                    "ports = %s\n"
                    "isolation = cgroup\n" % (srv.url, token_file, os.path.join(d, "data"),
                                              free_port_range(50)))
        _, tok = env.mk_tenant()
        log = os.path.join(d, "agent.log")

        def start(*extra):
            with open(log, "a") as lf:
                p = subprocess.Popen([AGENT, "--config", config] + list(extra), stdout=lf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            procs.append(p)
            wait_until(lambda: p.poll() is not None or
                       open(log).read().count("event=ready") == len(procs),
                       what="agent ready")
            assert p.poll() is None, open(log).read()[-3000:]
            return p

        yield env, tok, start, log, host
        client = env.client(tok)
        for i in client.list_all("/v1/instances"):
            if i["status"] not in ("deleting", "deleted"):
                client.delete("/v1/instances/" + i["id"])
        if procs and procs[-1].poll() is None:
            for i in client.list_all("/v1/instances"):
                wait_until(lambda: expect(client.get("/v1/instances/" + i["id"]), 200)["status"]
                           == "deleted", timeout=60, what="instance deleted")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        env.close()
        srv.close()
        shutil.rmtree(d, ignore_errors=True)


def reported_pid(env, iid):
    """The engine's pid as the agent last reported it (the API does not show pids)."""
    rows = env.server.store_sql("SELECT pid FROM members WHERE instance_id = %s", (iid,))
    return rows[0][0] if rows else None


def test_config_file_token_file_and_engines_across_agent_restarts(rig):
    env, tok, start, log, host = rig
    agent = start()
    # the token is not on the agent's command line
    with open("/proc/%d/cmdline" % agent.pid, "rb") as f:
        assert host["token"].encode() not in f.read()
    client = env.client(tok)
    plan = env.mk_plan(cpu_millis=200, memory_mb=128, disk_mb=256)
    body = expect(client.post("/v1/instances", {"name": uniq("db"), "engine": "redis",
                                                 "plan": plan}), 202)
    iid = body["id"]
    wait_until(lambda: expect(client.get("/v1/instances/" + iid), 200)["status"] == "running",
               timeout=90, what="instance running")
    pid = wait_until(lambda: reported_pid(env, iid), what="member pid reported")

    # default: the engine outlives the agent and the next agent adopts it (same pid)
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0
    assert alive(pid), "the engine stopped with the agent although --stop-engines-on-exit was not given"
    agent = start("--stop-engines-on-exit")
    wait_until(lambda: "event=member_adopted" in open(log).read() and
               "pid=%d" % pid in open(log).read(), what="the running engine adopted")
    assert alive(pid)

    # --stop-engines-on-exit: the engine stops with the agent...
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(60) == 0
    assert not alive(pid), "the engine survived an agent started with --stop-engines-on-exit"
    # ...and starts again with the next agent
    start()
    new = wait_until(lambda: (reported_pid(env, iid) or pid) != pid and reported_pid(env, iid),
                     timeout=60, what="the engine started again")
    assert alive(new)
    wait_until(lambda: expect(client.get("/v1/instances/" + iid), 200)["status"] == "running",
               timeout=60, what="instance running again")


def test_token_rotation_with_a_running_agent(rig):
    """The agent reads --token-file again when it changes (agent/token.c): a rotated token takes
    over without a restart and the old one stops working once the agent used the new one; after
    an immediate rotation the agent is refused until the file holds the new token, then carries
    on. The host stays ready with its engine, and no token reaches the agent's log."""
    env, tok, start, log, host = rig
    agent = start()
    token_file = [line.split("=", 1)[1].split("#")[0].strip()
                  for line in open(os.path.join(os.path.dirname(log), "agent.conf"))
                  if line.startswith("token-file")][0]
    client = env.client(tok)
    plan = env.mk_plan(cpu_millis=200, memory_mb=128, disk_mb=256)
    iid = expect(client.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan}), 202)["id"]
    wait_until(lambda: expect(client.get("/v1/instances/" + iid), 200)["status"] == "running",
               timeout=90, what="instance running")
    pid = wait_until(lambda: reported_pid(env, iid), what="member pid reported")

    def valid(token):
        r = Api(env.server, token).get("/v1/hosts")
        assert r.status_code in (401, 403), r.text
        return r.status_code == 403

    def write_token(token):
        tmp = token_file + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (token + "\n").encode())
        os.close(fd)
        os.rename(tmp, token_file)

    def heartbeats_go_on():
        first = expect(env.op.get("/v1/hosts/local"), 200)["last_heartbeat"]
        wait_until(lambda: expect(env.op.get("/v1/hosts/local"), 200)["last_heartbeat"] != first,
                   what="a new heartbeat")
        assert expect(env.op.get("/v1/hosts/local"), 200)["state"] == "ready"

    t0 = host["token"]
    t1 = expect(env.op.post("/v1/hosts/local/token"), 201)["token"]
    heartbeats_go_on()  # the agent still uses t0, which still works
    assert valid(t0)
    write_token(t1)
    wait_until(lambda: open(log).read().count("event=token_reloaded") == 1, what="the new token read")
    wait_until(lambda: not valid(t0), what="the old token refused once the agent used the new one")
    heartbeats_go_on()

    r = run_ctl(["host", "rotate-token", "local", "--immediate"], url=env.server.url, token=env.server.operator_token())
    assert r.returncode == 0, r.stderr
    t2 = re.search(r"^token:\s+(\S+)$", r.stdout, re.M).group(1)
    assert "the old token no longer works" in r.stdout
    assert not valid(t1)
    wait_until(lambda: "event=heartbeat_refused status=401" in open(log).read(),
               what="the agent refused with its old token")
    write_token(t2)
    wait_until(lambda: open(log).read().count("event=token_reloaded") == 2, what="the newer token read")
    heartbeats_go_on()
    assert alive(pid) and reported_pid(env, iid) == pid
    assert agent.poll() is None
    text = open(log).read()
    assert not any(t in text for t in (t0, t1, t2))
