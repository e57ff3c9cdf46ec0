"""The agent's options that docs/agent.md promises and no other test exercises: a --config file
(key = value lines) carrying every setting, --token-file (never the token on the command line),
and --stop-engines-on-exit against the default (engines outlive the agent and are adopted by the
next one). A real dbaasd, a real agent (as root), a real Redis."""

import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import BIN_DIR, Env, expect, free_port_range, start_server, uniq, wait_until

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
