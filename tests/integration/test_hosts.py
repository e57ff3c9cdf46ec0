"""Hosts (operator routes). On a dbaasd of this module's own: a host on the shared server would let
the scheduler place other tests' pending instances on it."""

import hashlib
import re

import pytest

from conftest import Api, Env, assert_error, expect, fake_probe, is_timestamp, start_server, uniq, wait_until

HOST_KEYS = {"name", "address", "zone", "cpu_millis", "memory_mb", "disk_mb", "engines", "state",
             "draining", "status", "last_heartbeat", "allocated", "instances", "created_at"}


@pytest.fixture(scope="module")
def henv():
    srv = start_server()
    e = Env(srv)
    yield e
    e.close()
    srv.close()


def host_body(name=None, **kw):
    b = {"name": name or uniq("h"), "address": "127.0.0.2", "zone": "z1", "cpu_millis": 4000,
         "memory_mb": 8192, "disk_mb": 102400, "engines": ["postgres", "mysql", "redis"]}
    b.update(kw)
    return b


def test_host_add_list_get(henv):
    api = henv.op
    body = host_body()
    h = expect(api.post("/v1/hosts", body), 201)
    assert HOST_KEYS | {"token"} <= set(h), h
    assert h["token"].startswith("dbaas_ag_")
    for k, v in body.items():
        assert h[k] == v, k
    assert h["state"] == "unknown"
    assert h["draining"] is False
    assert h["status"] == "unknown"
    assert h["last_heartbeat"] is None
    assert h["allocated"] == {"cpu_millis": 0, "memory_mb": 0, "disk_mb": 0}
    assert h["instances"] == 0
    assert is_timestamp(h["created_at"])

    # the agent token is shown only once
    g = api.get("/v1/hosts/" + body["name"])
    assert h["token"] not in g.text
    got = expect(g, 200)
    assert HOST_KEYS <= set(got) and "token" not in got
    assert got == {k: v for k, v in h.items() if k != "token"}
    lr = api.get("/v1/hosts", params={"limit": 1000})
    assert h["token"] not in lr.text
    listed = [x for x in api.list_all("/v1/hosts") if x["name"] == body["name"]]
    assert listed == [got]
    # dbaasd keeps only the agent token's hash
    scan = henv.server.store_scan([h["token"], hashlib.sha256(h["token"].encode()).hexdigest()])
    assert scan["found"][h["token"]] == [], scan


def test_host_drain_undrain_remove(henv):
    api = henv.op
    body = host_body()
    name = body["name"]
    h = expect(api.post("/v1/hosts", body), 201)

    d = expect(api.post("/v1/hosts/%s/drain" % name), 200)
    assert d["draining"] is True
    assert d["state"] == "unknown"
    assert d["status"] == "drained"  # draining and empty
    assert expect(api.get("/v1/hosts/" + name), 200)["status"] == "drained"
    # draining again is harmless
    assert expect(api.post("/v1/hosts/%s/drain" % name), 200)["draining"] is True

    u = expect(api.post("/v1/hosts/%s/undrain" % name), 200)
    assert u["draining"] is False
    assert u["status"] == u["state"] == "unknown"

    assert api.delete("/v1/hosts/" + name).status_code == 204
    assert_error(api.get("/v1/hosts/" + name), 404, "not_found")
    assert name not in [x["name"] for x in api.list_all("/v1/hosts")]
    assert_error(api.delete("/v1/hosts/" + name), 404, "not_found")
    assert_error(api.post("/v1/hosts/%s/drain" % name), 404, "not_found")
    assert_error(api.post("/v1/hosts/%s/undrain" % name), 404, "not_found")
    # a removed host's agent token no longer works
    assert_error(api.get("/v1/hosts", token=h["token"]), 401, "unauthenticated")


def test_host_duplicate_conflict(henv):
    body = host_body()
    expect(henv.op.post("/v1/hosts", body), 201)
    assert_error(henv.op.post("/v1/hosts", host_body(body["name"])), 409, "conflict")


def test_host_invalid_fields(henv):
    api = henv.op
    cases = [
        (host_body(engines=[]), "engines"),
        (host_body(engines=["postgres", "postgres"]), "engines"),
        (host_body(engines=["oracle"]), "engines"),
        (host_body(engines="postgres"), "engines"),
        (host_body(zone="Zone 1"), "zone"),
        (host_body(name="Bad_Name"), "name"),
        (host_body(address=""), "address"),
        (host_body(address="a b"), "address"),
        (host_body(cpu_millis=0), "cpu_millis"),
        (host_body(memory_mb="8192"), "memory_mb"),
        (host_body(disk_mb=1.5), "disk_mb"),
        (host_body(color="red"), "color"),
        ({k: v for k, v in host_body().items() if k != "address"}, "address"),
        ({k: v for k, v in host_body().items() if k != "engines"}, "engines"),
    ]
    for body, field in cases:
        assert_error(api.post("/v1/hosts", body), 400, "invalid_field", field)
    assert_error(api.get("/v1/hosts/" + uniq("nosuch")), 404, "not_found")


def test_agent_token_is_refused_on_operator_routes(henv):
    api = henv.op
    h = expect(api.post("/v1/hosts", host_body()), 201)
    ag = h["token"]
    tn_name, _ = henv.mk_tenant()
    routes = [
        ("GET", "/metrics", None),
        ("GET", "/v1/tenants", None),
        ("POST", "/v1/tenants", {"name": uniq("x")}),
        ("GET", "/v1/tenants/" + tn_name, None),
        ("POST", "/v1/tenants/%s/tokens" % tn_name, {}),
        ("PUT", "/v1/tenants/%s/quota" % tn_name, {}),
        ("POST", "/v1/plans", {"name": uniq("x"), "cpu_millis": 1, "memory_mb": 1, "disk_mb": 1}),
        ("GET", "/v1/hosts", None),
        ("GET", "/v1/hosts/" + h["name"], None),
        ("POST", "/v1/hosts/%s/drain" % h["name"], None),
        ("POST", "/v1/hosts", host_body()),
        ("DELETE", "/v1/hosts/" + h["name"], None),
        ("DELETE", "/v1/tenants/" + tn_name, None),
    ]
    for method, path, body in routes:
        kw = {"body": body} if body is not None else {}
        assert_error(api.request(method, path, token=ag, **kw), 403, "forbidden")
    # nothing happened
    expect(api.get("/v1/hosts/" + h["name"]), 200)
    expect(api.get("/v1/tenants/" + tn_name), 200)
    assert expect(api.get("/v1/hosts/" + h["name"]), 200)["draining"] is False


def test_hosts_metric(henv):
    expect(henv.op.post("/v1/hosts", host_body()), 201)
    text = henv.op.get("/metrics").text
    assert re.search(r"^# TYPE dbaas_hosts gauge$", text, re.M), text[:3000]
    assert re.search(r'^dbaas_hosts\{[^}]*status="unknown"[^}]*\}\s+[1-9]', text, re.M), text[:3000]


class Agent:
    """A minimal node agent (docs/agent.md): each beat() reports the members of the last reply as
    running at their spec version, or deleted when their desired state is deleted."""

    def __init__(self, server, token):
        self.api = Api(server, token)
        self.members = {}

    def beat(self):
        report = []
        for m in self.members.values():
            if m["desired"] == "deleted":
                report.append({"id": m["id"], "state": "deleted"})
            else:
                report.append({"id": m["id"], "state": "running", "pid": 4242,
                               "applied_version": m["spec_version"],
                               "health": fake_probe(m["role"])})
        r = self.api.post("/v1/agent/heartbeat", {"agent_version": "test", "isolation": "none",
                                                  "ports": {"min": 20000, "max": 20099},
                                                  "members": report})
        body = expect(r, 200)
        self.members = {m["id"]: m for m in body["members"]}
        return body


def test_host_with_an_instance(henv):
    """The host fields and rules of docs/api.md that need an instance on the host: instances and
    allocated, status draining (not empty) then drained, DELETE refused (409) unless empty."""
    api = henv.op
    body = host_body(engines=["postgres"])
    h = expect(api.post("/v1/hosts", body), 201)
    name = h["name"]
    agent = Agent(henv.server, h["token"])
    agent.beat()
    v = expect(api.get("/v1/hosts/" + name), 200)
    assert v["state"] == "ready" and v["status"] == "ready" and is_timestamp(v["last_heartbeat"]), v

    tname, tok = henv.mk_tenant()
    plan = henv.mk_plan(cpu_millis=500, memory_mb=512, disk_mb=1024)
    inst = henv.mk_instance(tok, plan)
    c = henv.client(tok)

    def placed():
        agent.beat()
        i = expect(c.get("/v1/instances/" + inst["id"]), 200)
        return i if i["host"] == name else None
    i = wait_until(placed, what="instance placed on %s" % name)
    assert i["status"] in ("provisioning", "running"), i
    v = expect(api.get("/v1/hosts/" + name), 200)
    assert v["instances"] == 1, v
    assert v["allocated"] == {"cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}, v

    def running():
        agent.beat()
        return expect(c.get("/v1/instances/" + inst["id"]), 200)["status"] == "running"
    wait_until(running, what="instance running")

    assert_error(api.delete("/v1/hosts/" + name), 409, "conflict")
    d = expect(api.post("/v1/hosts/%s/drain" % name), 200)
    assert d["draining"] is True and d["status"] == "draining", d
    assert_error(api.delete("/v1/hosts/" + name), 409, "conflict")
    # a tenant that owns an instance cannot be deleted
    assert_error(api.delete("/v1/tenants/" + tname), 409, "conflict")

    expect(c.delete("/v1/instances/" + inst["id"]), 202)

    def gone():
        agent.beat()
        return inst["id"] not in [x["id"] for x in c.list_all("/v1/instances")]
    wait_until(gone, what="instance deleted through the agent")
    v = wait_until(lambda: (lambda x: x if x["status"] == "drained" else None)(
        expect(api.get("/v1/hosts/" + name), 200)), what="host drained")
    assert v["instances"] == 0 and v["allocated"] == {"cpu_millis": 0, "memory_mb": 0, "disk_mb": 0}, v
    assert api.delete("/v1/hosts/" + name).status_code == 204
    assert api.delete("/v1/tenants/" + tname).status_code == 204
    agent.api.close()


def test_heartbeat_token_follows_the_store(henv):
    """dbaasd keeps a host token's row in memory between heartbeats (api/auth.h): a host made
    unreachable is ready again at its very next heartbeat, and a removed host's token is refused
    at once, right after heartbeats that were answered."""
    api = henv.op
    body = host_body()
    name = body["name"]
    h = expect(api.post("/v1/hosts", body), 201)
    agent = Api(henv.server, h["token"])
    old = expect(api.get("/v1/scheduler"), 200)["heartbeat_timeout_ms"]
    try:
        for _ in range(3):
            expect(agent.post("/v1/agent/heartbeat", {"members": []}), 200)
        assert expect(api.get("/v1/hosts/" + name), 200)["state"] == "ready"
        expect(api.put("/v1/scheduler", {"heartbeat_timeout_ms": 1000}), 200)
        wait_until(lambda: expect(api.get("/v1/hosts/" + name), 200)["state"] == "unreachable",
                   what="host %s unreachable" % name)
        expect(agent.post("/v1/agent/heartbeat", {"members": []}), 200)
        assert expect(api.get("/v1/hosts/" + name), 200)["state"] == "ready"
    finally:
        expect(api.put("/v1/scheduler", {"heartbeat_timeout_ms": old}), 200)
    for _ in range(3):
        expect(agent.post("/v1/agent/heartbeat", {"members": []}), 200)
    assert api.delete("/v1/hosts/" + name).status_code == 204
    assert_error(agent.post("/v1/agent/heartbeat", {"members": []}), 401, "unauthenticated")
    agent.close()


def test_host_token_rotation(henv):
    """A new agent token (POST /v1/hosts/{name}/token, dbaasctl host rotate-token): by default
    the old token keeps working until the agent first uses the new one, then only the new one
    does; with immediate the old one is refused at once. A host token on an operator route is
    403 while it is valid and 401 once it is not, which tells the two apart without a heartbeat."""
    api = henv.op
    h = expect(api.post("/v1/hosts", host_body()), 201)
    name = h["name"]

    def valid(token):
        r = Api(henv.server, token).get("/v1/hosts")
        assert r.status_code in (401, 403), r.text
        return r.status_code == 403

    t0 = h["token"]
    expect(Api(henv.server, t0).post("/v1/agent/heartbeat", {"members": []}), 200)
    r = expect(api.post("/v1/hosts/%s/token" % name), 201)
    t1 = r["token"]
    assert r["name"] == name and r["immediate"] is False and t1.startswith("dbaas_ag_") and t1 != t0
    # the old token works until the new one is used (any authenticated request uses it)
    expect(Api(henv.server, t0).post("/v1/agent/heartbeat", {"members": []}), 200)
    assert valid(t0)
    expect(Api(henv.server, t1).post("/v1/agent/heartbeat", {"members": []}), 200)
    assert not valid(t0) and valid(t1)
    assert_error(Api(henv.server, t0).post("/v1/agent/heartbeat", {"members": []}), 401, "unauthenticated")
    kinds = [e["kind"] for e in api.list_all("/v1/events")]
    assert "host.token_issued" in kinds and "host.token_rotated" in kinds

    # a next token never used is replaced by a newer one
    t2 = expect(api.post("/v1/hosts/%s/token" % name, {}), 201)["token"]
    t3 = expect(api.post("/v1/hosts/%s/token" % name, {"immediate": False}), 201)["token"]
    assert not valid(t2) and valid(t1)
    assert valid(t3) and not valid(t1)  # t3 used: it is the token now

    # immediate: the current one goes at once (also from the cached row), a pending one too
    expect(Api(henv.server, t3).post("/v1/agent/heartbeat", {"members": []}), 200)
    t5 = expect(api.post("/v1/hosts/%s/token" % name), 201)["token"]
    r = expect(api.post("/v1/hosts/%s/token" % name, {"immediate": True}), 201)
    t4 = r["token"]
    assert r["immediate"] is True
    assert_error(Api(henv.server, t3).post("/v1/agent/heartbeat", {"members": []}), 401, "unauthenticated")
    assert not valid(t3) and not valid(t5) and valid(t4)
    expect(Api(henv.server, t4).post("/v1/agent/heartbeat", {"members": []}), 200)

    # refusals
    assert_error(api.post("/v1/hosts/%s/token" % uniq("nohost")), 404, "not_found")
    assert_error(api.post("/v1/hosts/%s/token" % name, {"immediate": "yes"}), 400, "invalid_field", "immediate")
    assert_error(api.post("/v1/hosts/%s/token" % name, {"other": 1}), 400, "invalid_field", "other")
    _, tok = henv.mk_tenant()
    assert_error(henv.client(tok).post("/v1/hosts/%s/token" % name), 403, "forbidden")
    assert_error(Api(henv.server, t4).post("/v1/hosts/%s/token" % name), 403, "forbidden")
    assert valid(t4)
    # no token appears in the events
    text = api.get("/v1/events?limit=1000").text
    assert not any(t in text for t in (t0, t1, t2, t3, t4, t5))
