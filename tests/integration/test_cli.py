"""dbaasctl against the real dbaasd (its own, so the issue's literal names can be used).
Table output is still being finalized: in table mode only substrings that must be there are
checked; --json output is parsed."""

import json
import re

import pytest

from conftest import (AGENT_TOKEN_RE, TOKEN_RE, UUID_RE, Api, Env, expect, run_ctl, start_server,
                      uniq, wait_until)


@pytest.fixture(scope="module")
def cenv():
    srv = start_server()
    e = Env(srv)
    yield e
    e.close()
    srv.close()


def ctl(env, *args, token=None, ok=True):
    """Run dbaasctl as the operator (or with token); with ok, assert exit code 0."""
    r = run_ctl(args, url=env.server.url, token=token or env.op.token)
    if ok:
        assert r.returncode == 0, "dbaasctl %s -> %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def ctl_json(env, *args, token=None):
    r = ctl(env, "--json", *args, token=token)
    try:
        return json.loads(r.stdout)
    except ValueError:
        pytest.fail("dbaasctl --json %s printed no JSON: %r" % (" ".join(args), r.stdout))


def items(obj):
    """The items of a list answer, whether printed as the API's {"items",...} or as an array."""
    if isinstance(obj, dict) and "items" in obj:
        return obj["items"]
    assert isinstance(obj, list), obj
    return obj


def test_acceptance_script(cenv):
    """The issue's acceptance script, verbatim."""
    op = cenv.op
    r = ctl(cenv, "tenant", "create", "acme")
    assert "acme" in r.stdout
    expect(op.get("/v1/tenants/acme"), 200)

    r = ctl(cenv, "token", "create", "acme")
    m = TOKEN_RE.search(r.stdout)
    assert m, "no tenant token printed: %r" % r.stdout
    acme_token = m.group(0)

    r = ctl(cenv, "plan", "create", "small", "--cpu", "500m", "--memory", "512Mi", "--disk", "1Gi")
    assert "small" in r.stdout
    p = expect(op.get("/v1/plans/small"), 200)
    assert (p["cpu_millis"], p["memory_mb"], p["disk_mb"]) == (500, 512, 1024)

    r = ctl(cenv, "instance", "create", "db1", "--engine", "postgres", "--plan", "small", token=acme_token)
    listed = Api(cenv.server, acme_token).list_all("/v1/instances")
    assert [i["name"] for i in listed] == ["db1"]
    inst = listed[0]
    assert inst["id"] in r.stdout, r.stdout
    assert "password" in r.stdout.lower(), r.stdout
    assert "app" in r.stdout
    pw = re.findall(r"(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])", r.stdout)
    assert pw, "no 32-character password printed: %r" % r.stdout
    assert inst["status"] == "pending" and inst["plan"] == "small" and inst["engine"] == "postgres"


def test_json_outputs(cenv):
    t = uniq("jt")
    out = ctl_json(cenv, "tenant", "create", t)
    assert out["name"] == t
    tok = ctl_json(cenv, "token", "create", t)
    assert tok["tenant"] == t and tok["token"].startswith("dbaas_tn_")
    plan = uniq("jp")
    p = ctl_json(cenv, "plan", "create", plan, "--cpu", "1.5", "--memory", "1Gi", "--disk", "10Gi")
    assert (p["name"], p["cpu_millis"], p["memory_mb"], p["disk_mb"]) == (plan, 1500, 1024, 10240)

    i = ctl_json(cenv, "instance", "create", "db1", "--engine", "redis", "--plan", plan, "--replicas", "2",
                 token=tok["token"])
    assert UUID_RE.fullmatch(i["id"])
    assert (i["name"], i["engine"], i["replicas"], i["status"]) == ("db1", "redis", 2, "pending")
    assert i["credentials"]["username"] == "app"
    assert re.fullmatch(r"[A-Za-z0-9]{32}", i["credentials"]["password"])

    lst = items(ctl_json(cenv, "instance", "list", token=tok["token"]))
    assert [x["id"] for x in lst] == [i["id"]]
    show = ctl_json(cenv, "instance", "show", i["id"], token=tok["token"])
    assert show["id"] == i["id"] and "credentials" not in show
    assert t in [x["name"] for x in items(ctl_json(cenv, "tenant", "list"))]
    assert ctl_json(cenv, "tenant", "show", t)["usage"]["instances"] == 1
    assert plan in [x["name"] for x in items(ctl_json(cenv, "plan", "list"))]
    assert [x["id"] for x in items(ctl_json(cenv, "token", "list", t))] == [tok["id"]]
    ev = items(ctl_json(cenv, "events", token=tok["token"]))
    assert any(e["kind"] == "instance.created" and e["instance_id"] == i["id"] for e in ev), ev
    # the operator sees all instances
    assert i["id"] in [x["id"] for x in items(ctl_json(cenv, "instance", "list"))]


def test_instance_list_show_resize_delete(cenv):
    t, tok = cenv.mk_tenant()
    p1 = cenv.mk_plan()
    p2 = cenv.mk_plan(cpu_millis=1000)
    name = uniq("db")
    r = ctl(cenv, "instance", "create", name, "--engine", "mysql", "--plan", p1, token=tok)
    c = Api(cenv.server, tok)
    inst = c.list_all("/v1/instances")[0]
    assert inst["id"] in r.stdout

    r = ctl(cenv, "instance", "list", token=tok)
    assert inst["id"] in r.stdout and name in r.stdout
    r = ctl(cenv, "instance", "show", inst["id"], token=tok)
    assert inst["id"] in r.stdout and name in r.stdout and p1 in r.stdout

    ctl(cenv, "instance", "resize", inst["id"], "--plan", p2, token=tok)
    assert expect(c.get("/v1/instances/" + inst["id"]), 200)["plan"] == p2

    ctl(cenv, "instance", "delete", inst["id"], token=tok)
    r = c.get("/v1/instances/" + inst["id"])
    assert r.status_code == 404 or r.json()["status"] in ("deleting", "deleted"), r.text
    c.close()


def test_idempotency_key(cenv):
    _, tok = cenv.mk_tenant()
    plan = cenv.mk_plan()
    args = ("instance", "create", "db1", "--engine", "postgres", "--plan", plan, "--idempotency-key", "ik-1")
    a = ctl_json(cenv, *args, token=tok)
    b = ctl_json(cenv, *args, token=tok)
    assert a["id"] == b["id"]
    assert "credentials" in a and "credentials" not in b
    assert len(Api(cenv.server, tok).list_all("/v1/instances")) == 1


def test_hosts(cenv):
    name = uniq("h")
    r = ctl(cenv, "host", "add", name, "--address", "127.0.0.2", "--zone", "z1", "--cpu", "4",
            "--memory", "8Gi", "--disk", "100Gi", "--engines", "postgres,redis")
    assert AGENT_TOKEN_RE.search(r.stdout), "the agent token is shown once: %r" % r.stdout
    h = expect(cenv.op.get("/v1/hosts/" + name), 200)
    assert (h["address"], h["zone"], h["cpu_millis"], h["memory_mb"], h["disk_mb"]) == \
        ("127.0.0.2", "z1", 4000, 8192, 102400)
    assert h["engines"] == ["postgres", "redis"]

    r = ctl(cenv, "host", "list")
    assert name in r.stdout
    assert name in [x["name"] for x in items(ctl_json(cenv, "host", "list"))]

    ctl(cenv, "host", "drain", name)
    assert expect(cenv.op.get("/v1/hosts/" + name), 200)["status"] == "drained"
    ctl(cenv, "host", "undrain", name)
    assert expect(cenv.op.get("/v1/hosts/" + name), 200)["draining"] is False
    ctl(cenv, "host", "remove", name)
    assert cenv.op.get("/v1/hosts/" + name).status_code == 404


def test_quota_set(cenv):
    t, _ = cenv.mk_tenant()
    ctl(cenv, "quota", "set", t, "--instances", "3", "--cpu", "2", "--memory", "4Gi", "--disk", "10Gi")
    q = expect(cenv.op.get("/v1/tenants/" + t), 200)["quota"]
    assert q == {"max_instances": 3, "cpu_millis": 2000, "memory_mb": 4096, "disk_mb": 10240}
    ctl(cenv, "quota", "set", t, "--instances", "1")
    q = expect(cenv.op.get("/v1/tenants/" + t), 200)["quota"]
    assert q == {"max_instances": 1, "cpu_millis": None, "memory_mb": None, "disk_mb": None}


def test_tokens_and_tenants(cenv):
    t = uniq("tk")
    ctl(cenv, "tenant", "create", t)
    tok = ctl_json(cenv, "token", "create", t)
    r = ctl(cenv, "token", "list", t)
    assert tok["id"] in r.stdout
    assert tok["token"] not in r.stdout
    r = ctl(cenv, "tenant", "show", t)
    assert t in r.stdout
    assert t in ctl(cenv, "tenant", "list").stdout
    ctl(cenv, "token", "revoke", t, tok["id"])
    assert Api(cenv.server, tok["token"]).get("/v1/instances").status_code == 401
    ctl(cenv, "tenant", "delete", t)
    assert cenv.op.get("/v1/tenants/" + t).status_code == 404


def test_events_table(cenv):
    _, tok = cenv.mk_tenant()
    plan = cenv.mk_plan()
    name = uniq("db")
    cenv.mk_instance(tok, plan, name=name)
    r = ctl(cenv, "events", token=tok)
    assert "instance.created" in r.stdout or name in r.stdout, r.stdout


def test_url_and_token_options(cenv):
    r = run_ctl(["--url", cenv.server.url, "--token", cenv.op.token, "--json", "plan", "list"])
    assert r.returncode == 0, r.stderr
    items(json.loads(r.stdout))
    # options win over the environment
    r = run_ctl(["--url", cenv.server.url, "--token", cenv.op.token, "--json", "tenant", "list"],
                url="http://127.0.0.1:1", token="garbage")
    assert r.returncode == 0, r.stderr


def test_api_error_exit_1(cenv):
    t, tok = cenv.mk_tenant()
    # the server's message for a duplicate tenant
    msg = cenv.op.post("/v1/tenants", {"name": t}).json()["error"]["message"]
    r = ctl(cenv, "tenant", "create", t, ok=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert msg in r.stderr, r.stderr

    r = ctl(cenv, "instance", "show", "00000000-0000-4000-8000-000000000000", token=tok, ok=False)
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)
    r = ctl(cenv, "tenant", "list", token=tok, ok=False)  # a tenant on an operator route
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)
    r = ctl(cenv, "plan", "list", token="garbage", ok=False)
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)
    r = ctl(cenv, "--json", "tenant", "show", uniq("nosuch"), ok=False)
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)


def test_usage_error_exit_2(cenv):
    for args in ([], ["bogus"], ["tenant"], ["tenant", "frobnicate", "x"], ["instance", "create"],
                 ["instance", "create", "db9", "--plan", "small"],
                 ["plan", "create", "p9", "--cpu", "1"],
                 ["tenant", "list", "--no-such-option"]):
        r = ctl(cenv, *args, ok=False)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert r.stderr.strip(), args


def test_scheduler_show_set(own_env):
    """scheduler set changes only what it is given and prints the full settings; junk is a usage
    error that sends nothing. Its own server: the settings are global."""
    env = own_env
    before = expect(env.op.get("/v1/scheduler"), 200)
    r = ctl(env, "scheduler", "set", "--policy", "spread", "--cpu-ratio", "2")
    assert re.search(r"^policy: spread$", r.stdout, re.M), r.stdout
    assert re.search(r"^cpu_ratio: 2$", r.stdout, re.M), r.stdout
    s = ctl_json(env, "scheduler", "show")
    assert set(s) == {"policy", "cpu_ratio", "memory_ratio", "disk_ratio", "heartbeat_timeout_ms",
                      "unreachable_grace_s"}, s
    assert s["policy"] == "spread" and s["cpu_ratio"] == 2
    for k in ("memory_ratio", "disk_ratio", "heartbeat_timeout_ms", "unreachable_grace_s"):
        assert s[k] == before[k], (k, s, before)
    assert s == expect(env.op.get("/v1/scheduler"), 200)

    r = ctl(env, "scheduler", "show")
    assert re.search(r"^heartbeat_timeout_ms: %d$" % s["heartbeat_timeout_ms"], r.stdout, re.M), r.stdout

    for args in (["--cpu-ratio", "0"], ["--memory-ratio", "4.5"], ["--disk-ratio", "x"],
                 ["--cpu-ratio", "1e0"], ["--policy", "fast"], ["--heartbeat-timeout", "999"],
                 ["--heartbeat-timeout", "600001"], ["--unreachable-grace", "-1"], []):
        r = ctl(env, "scheduler", "set", *args, ok=False)
        assert r.returncode == 2 and r.stderr.strip(), (args, r.returncode, r.stdout, r.stderr)
    assert ctl_json(env, "scheduler", "show") == s

    s2 = ctl_json(env, "scheduler", "set", "--memory-ratio", "1.5", "--disk-ratio", "0.25",
                  "--heartbeat-timeout", "600000", "--unreachable-grace", "0")
    assert (s2["policy"], s2["cpu_ratio"], s2["memory_ratio"], s2["disk_ratio"],
            s2["heartbeat_timeout_ms"], s2["unreachable_grace_s"]) == ("spread", 2, 1.5, 0.25, 600000, 0)
    # a tenant may not change it
    _, tok = env.mk_tenant()
    r = ctl(env, "scheduler", "show", token=tok, ok=False)
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)


def test_instance_show_members(own_env):
    """After two hosts report in, an instance with one replica is placed on both; instance show
    prints the endpoints and a table of where each member lives. Its own server: ready hosts make
    the scheduler place every pending instance."""
    env = own_env
    # hosts must stay ready for the whole test, whatever the machine's speed
    ctl(env, "scheduler", "set", "--heartbeat-timeout", "600000")
    hosts = {}
    for name, addr, zone in ((uniq("ha"), "127.0.0.1", "z1"), (uniq("hb"), "127.0.0.2", "z2")):
        h = ctl_json(env, "host", "add", name, "--address", addr, "--zone", zone, "--cpu", "4",
                     "--memory", "8Gi", "--disk", "100Gi", "--engines", "postgres")
        hosts[name] = (addr, zone)
        agent = Api(env.server, h["token"])
        beat = expect(agent.post("/v1/agent/heartbeat", {"members": []}), 200)
        assert beat["members"] == [], beat
        agent.close()
    for name in hosts:
        wait_until(lambda: expect(env.op.get("/v1/hosts/" + name), 200)["state"] == "ready",
                   what="host %s ready" % name)

    _, tok = env.mk_tenant()
    plan = env.mk_plan()
    created = ctl_json(env, "instance", "create", uniq("db"), "--engine", "postgres", "--plan", plan,
                       "--replicas", "1", token=tok)
    iid = created["id"]

    def placed():
        i = expect(env.op.get("/v1/instances/" + iid), 200)
        return i if i["status"] == "provisioning" and len(i["members"]) == 2 else None

    inst = wait_until(placed, what="instance %s placed on two hosts" % iid)
    members = {m["role"]: m for m in inst["members"]}
    assert set(members) == {"primary", "replica"}, inst["members"]
    assert {m["host"] for m in inst["members"]} == set(hosts)
    for m in inst["members"]:
        assert (m["address"], m["zone"]) == hosts[m["host"]], m

    r = ctl(env, "instance", "show", iid, token=tok)
    out = r.stdout
    p, rep = members["primary"], members["replica"]
    assert re.search(r"^primary: %s:%d$" % (re.escape(p["address"]), p["port"]), out, re.M), out
    assert re.search(r"^replica: %s:%d$" % (re.escape(rep["address"]), rep["port"]), out, re.M), out
    assert re.search(r"^status: provisioning$", out, re.M), out

    lines = out.splitlines()
    head = [k for k, line in enumerate(lines) if line.split()[:1] == ["ROLE"]]
    assert len(head) == 1, out
    header = lines[head[0]]
    assert header.split() == ["ROLE", "HOST", "ZONE", "PORT", "STATUS", "WRITABLE", "LAG", "RESTARTS",
                              "ERROR"], header
    starts = [mt.start() for mt in re.finditer(r"\S+", header)]
    rows = lines[head[0] + 1:]
    assert len(rows) == 2, out
    seen = {}
    for row in rows:
        cells = re.findall(r"\S+", row)
        assert [mt.start() for mt in re.finditer(r"\S+", row)] == starts, "not aligned:\n%s" % out
        seen[cells[0]] = cells
    for role, m in members.items():
        # no health probe yet: writable and lag unknown
        assert seen[role][1:9] == [m["host"], m["zone"], str(m["port"]), m["status"], "-", "-",
                                   str(m["restarts"]), "-"], (seen[role], m)

    # --json prints the server's instance, members and endpoints included
    j = ctl_json(env, "instance", "show", iid, token=tok)
    assert j["members"] == inst["members"] and j["endpoints"] == inst["endpoints"]
    assert j["endpoints"]["primary"] == {"host": p["address"], "port": p["port"]}

    # the list's HOST column is the primary's host
    r = ctl(env, "instance", "list", token=tok)
    row = [line for line in r.stdout.splitlines() if iid in line]
    assert len(row) == 1 and row[0].split()[-1] == p["host"], r.stdout
