"""docs/openapi.yaml matches the real dbaasd: a tour of every route (successes and errors) is
recorded and checked by tests/openapi/check-responses.js (route, method, status described; JSON
bodies valid against the response schema, with no undescribed fields). A second tour registers
hosts and drives their heartbeats by hand with the host tokens, so that instances with members
and endpoints, the scheduler's settings and the agent's answers are checked too."""

import json
import os
import subprocess
import tempfile

from conftest import REPO, Api, assert_error, expect, fake_probe, uniq, wait_until

JSON = {"Content-Type": "application/json"}


def test_answers_match_openapi(own_server, own_env, openapi_dir):
    rec = []
    srv = own_server
    op = Api(srv, own_env.op.token, record=rec)
    anon = Api(srv, None, record=rec)

    expect(anon.get("/healthz"), 200)
    assert op.get("/metrics").status_code == 200
    assert_error(anon.get("/v1/tenants"), 401, "unauthenticated")
    assert_error(op.get("/v1/nope"), 404, "not_found")  # unknown route

    # tenants, tokens, quota
    t = uniq("t")
    expect(op.post("/v1/tenants", {"name": t}), 201)
    assert_error(op.post("/v1/tenants", {"name": t}), 409, "conflict", "name")
    assert_error(op.post("/v1/tenants", {"name": "Bad_Name"}), 400, "invalid_field", "name")
    assert_error(op.post("/v1/tenants", data=b"[]", headers=JSON), 400, "invalid_json")
    assert_error(op.post("/v1/tenants", data=b"{}", headers={"Content-Type": "text/plain"}), 415,
                 "unsupported_media_type")
    assert_error(op.post("/v1/tenants", data=b" " * 70000, headers=JSON), 413, "payload_too_large")
    expect(op.get("/v1/tenants"), 200)
    expect(op.get("/v1/tenants", params={"limit": 1}), 200)
    assert_error(op.get("/v1/tenants", params={"limit": 0}), 400, "invalid_field", "limit")
    expect(op.get("/v1/tenants/" + t), 200)
    assert_error(op.get("/v1/tenants/" + uniq("none")), 404, "not_found")
    tok = expect(op.post("/v1/tenants/%s/tokens" % t), 201)
    tok2 = expect(op.post("/v1/tenants/%s/tokens" % t, {}), 201)
    expect(op.get("/v1/tenants/%s/tokens" % t), 200)
    assert op.delete("/v1/tenants/%s/tokens/%s" % (t, tok2["id"])).status_code == 204
    assert_error(op.delete("/v1/tenants/%s/tokens/%s" % (t, tok2["id"])), 404, "not_found")
    expect(op.put("/v1/tenants/%s/quota" % t, {"max_instances": 2, "cpu_millis": None}), 200)
    assert_error(op.put("/v1/tenants/%s/quota" % t, {"max_instances": -1}), 400, "invalid_field", "max_instances")
    tn = Api(srv, tok["token"], record=rec)
    assert_error(tn.get("/v1/tenants"), 403, "forbidden")

    # plans
    p = uniq("p")
    expect(op.post("/v1/plans", {"name": p, "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}), 201)
    assert_error(op.post("/v1/plans", {"name": p, "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}), 409,
                 "conflict", "name")
    p2 = uniq("p")
    expect(op.post("/v1/plans", {"name": p2, "cpu_millis": 1, "memory_mb": 64, "disk_mb": 1, "read_iops": 5}), 201)
    tiny = uniq("p")
    expect(op.post("/v1/plans", {"name": tiny, "cpu_millis": 1, "memory_mb": 1, "disk_mb": 1}), 201)
    expect(tn.get("/v1/plans"), 200)
    expect(tn.get("/v1/plans/" + p), 200)
    assert_error(tn.get("/v1/plans/" + uniq("none")), 404, "not_found")

    # instances
    body = {"name": uniq("db"), "engine": "postgres", "plan": p}
    r = tn.post("/v1/instances", body, headers={"Idempotency-Key": "k"})
    i = expect(r, 202)
    assert "Idempotent-Replayed" not in r.headers, r.headers
    r = tn.post("/v1/instances", body, headers={"Idempotency-Key": "k"})  # replay
    assert expect(r, 202)["id"] == i["id"]
    assert r.headers.get("Idempotent-Replayed") == "true", r.headers
    assert_error(tn.post("/v1/instances", dict(body, replicas=1), headers={"Idempotency-Key": "k"}), 422,
                 "idempotency_mismatch")
    assert_error(tn.post("/v1/instances", body), 409, "conflict", "name")
    assert_error(tn.post("/v1/instances", dict(body, replicas=6)), 400, "invalid_field", "replicas")
    assert_error(tn.post("/v1/instances", dict(body, name=uniq("db"), plan=tiny)), 422, "plan_too_small", "plan")
    j = expect(op.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": p2, "tenant": t}), 202)
    assert_error(tn.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": p}), 409,
                 "quota_exceeded")
    expect(tn.get("/v1/instances"), 200)
    expect(op.get("/v1/instances", params={"tenant": t}), 200)
    expect(tn.get("/v1/instances/" + i["id"]), 200)
    assert_error(tn.get("/v1/instances/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    expect(tn.patch("/v1/instances/" + i["id"], {"plan": p2}), 202)
    assert_error(tn.patch("/v1/instances/" + i["id"], {"plan": p2, "x": 1}), 400, "invalid_field", "x")
    assert_error(tn.patch("/v1/instances/" + i["id"], {"plan": tiny}), 422, "plan_too_small", "plan")
    assert_error(op.delete("/v1/plans/" + p2), 409, "conflict")  # in use
    assert_error(op.delete("/v1/tenants/" + t), 409, "conflict")  # owns instances
    expect(tn.delete("/v1/instances/" + j["id"]), 202)
    # deleting or already deleted: the row stays (api/instances.c), so 409 either way, never 404
    assert_error(tn.delete("/v1/instances/" + j["id"]), 409, "conflict")
    expect(tn.get("/v1/events"), 200)
    expect(op.get("/v1/events", params={"tenant": t, "instance": i["id"]}), 200)
    r = tn.request("PUT", "/v1/events")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers.get("Allow") == "GET", r.headers

    # hosts
    h = uniq("h")
    hb = {"name": h, "address": "127.0.0.2", "zone": "z1", "cpu_millis": 4000, "memory_mb": 8192,
          "disk_mb": 102400, "engines": ["redis"]}
    expect(op.post("/v1/hosts", hb), 201)
    assert_error(op.post("/v1/hosts", hb), 409, "conflict", "name")
    assert_error(op.post("/v1/hosts", dict(hb, engines=[])), 400, "invalid_field", "engines")
    expect(op.get("/v1/hosts"), 200)
    expect(op.get("/v1/hosts/" + h), 200)
    expect(op.post("/v1/hosts/%s/drain" % h), 200)
    expect(op.post("/v1/hosts/%s/undrain" % h), 200)
    expect(op.post("/v1/hosts/%s/token" % h), 201)
    expect(op.post("/v1/hosts/%s/token" % h, {"immediate": True}), 201)
    assert_error(op.post("/v1/hosts/%s/token" % h, {"immediate": 1}), 400, "invalid_field", "immediate")
    assert_error(op.post("/v1/hosts/%s/token" % uniq("none")), 404, "not_found")
    assert_error(op.delete("/v1/hosts/%s?force=yes" % h), 400, "invalid_field", "force")
    assert op.delete("/v1/hosts/" + h).status_code == 204
    assert_error(op.get("/v1/hosts/" + h), 404, "not_found")

    # deletes that succeed
    wait_until(lambda: j["id"] not in [x["id"] for x in tn.list_all("/v1/instances")],
               what="instance finalized")
    expect(tn.delete("/v1/instances/" + i["id"]), 202)
    wait_until(lambda: tn.list_all("/v1/instances") == [], what="instance finalized")
    assert op.delete("/v1/plans/" + p2).status_code == 204
    assert op.delete("/v1/tenants/" + t).status_code == 204

    expect(op.get("/v1/audit", params={"limit": 5}), 200)
    expect(op.get("/v1/audit", params={"tenant": t}), 200)
    assert_error(op.get("/v1/audit", params={"limit": "x"}), 400, "invalid_field", "limit")

    # last: the operator token's rotation revokes the one this tour used
    assert_error(op.post("/v1/operator/token", {"x": 1}), 400, "invalid_field", "x")
    expect(op.post("/v1/operator/token"), 201)
    assert_error(op.get("/v1/tenants"), 401, "unauthenticated")

    statuses = {r["status"] for r in rec}
    assert {200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422} <= statuses, statuses
    check_records(rec, openapi_dir)
    for c in (op, anon, tn):
        c.close()


def check_records(rec, openapi_dir):
    """Check the recorded answers against docs/openapi.yaml with tests/openapi/check-responses.js."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="dbaas-it-records-") as f:
        json.dump(rec, f)
        f.flush()
        r = subprocess.run(["node", os.path.join(openapi_dir, "check-responses.js"), f.name,
                            os.path.join(REPO, "docs", "openapi.yaml")],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "answers that docs/openapi.yaml does not describe:\n" + r.stderr


def usage(disk_mb=40):
    return {"cpu_usec": 1200000, "memory_bytes": 52428800, "io_read_bytes": 0, "io_write_bytes": 8192,
            "disk_mb": disk_mb, "oom_kills": 0}


class Agent:
    """A host's agent driven by hand, one heartbeat at a time (as test_scheduler.py's FakeAgent):
    every member of the last reply is reported running at its spec version, unless states
    (member id -> fields) says otherwise, and every member to delete is reported deleted."""

    def __init__(self, api):
        self.api = api
        self.members = {}  # id -> last desired entry
        self.hash = None

    def beat(self, states=None, **extra):
        report = []
        for m in self.members.values():
            if m["desired"] == "deleted":
                report.append({"id": m["id"], "state": "deleted"})
                continue
            r = {"id": m["id"], "state": "running", "pid": 4242, "restarts": 0,
                 "applied_version": m["spec_version"], "pending_restart": False, "error": None,
                 "usage": usage(), "health": fake_probe(m["role"])}
            r.update((states or {}).get(m["id"], {}))
            report.append(r)
        body = {"agent_version": "conformance", "isolation": "none",
                "capacity": {"cpu_millis": 4000, "memory_mb": 8192, "disk_mb": 102400},
                "engines": ["postgres"], "ports": {"min": 20000, "max": 20099}, "members": report}
        body.update(extra)
        reply = expect(self.api.post("/v1/agent/heartbeat", body), 200)
        self.members = {m["id"]: m for m in reply["members"]}
        self.hash = reply["desired_hash"]
        return reply


def test_placed_instance_scheduler_and_agent_match_openapi(own_server, own_env, openapi_dir):
    """The answers that need hosts with agents: an instance with members and endpoints, the
    scheduler's settings, the agent heartbeat."""
    rec = []
    srv = own_server
    op = Api(srv, own_env.op.token, record=rec)

    # scheduler settings
    expect(op.get("/v1/scheduler"), 200)
    s = expect(op.put("/v1/scheduler", {"policy": "spread", "cpu_ratio": 1.5, "memory_ratio": 2,
                                        "heartbeat_timeout_ms": 60000, "unreachable_grace_s": 0}), 200)
    assert s == {"policy": "spread", "cpu_ratio": 1.5, "memory_ratio": 2, "disk_ratio": 1,
                 "heartbeat_timeout_ms": 60000, "unreachable_grace_s": 0}, s
    assert expect(op.put("/v1/scheduler", {}), 200) == s
    assert_error(op.put("/v1/scheduler", {"policy": "worst"}), 400, "invalid_field", "policy")
    assert_error(op.put("/v1/scheduler", {"disk_ratio": 0}), 400, "invalid_field", "disk_ratio")
    assert_error(op.put("/v1/scheduler", {"heartbeat_timeout_ms": 999}), 400, "invalid_field", "heartbeat_timeout_ms")
    # HA settings
    expect(op.get("/v1/ha"), 200)
    expect(op.put("/v1/ha", {"grace_ms": 2500}), 200)
    assert_error(op.put("/v1/ha", {"lease_ttl_ms": 10}), 400, "invalid_field", "lease_ttl_ms")

    t = uniq("t")
    expect(op.post("/v1/tenants", {"name": t}), 201)
    tn = Api(srv, expect(op.post("/v1/tenants/%s/tokens" % t), 201)["token"], record=rec)
    watch = own_env.client(tn.token)  # not recorded: for waits
    assert_error(tn.get("/v1/scheduler"), 403, "forbidden")
    assert_error(tn.get("/v1/ha"), 403, "forbidden")
    p = uniq("p")
    expect(op.post("/v1/plans", {"name": p, "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}), 201)
    p2 = uniq("p")
    expect(op.post("/v1/plans", {"name": p2, "cpu_millis": 250, "memory_mb": 256, "disk_mb": 1024}), 201)

    # an instance with a primary and a replica, before any host can take it
    i = expect(tn.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": p, "replicas": 1}), 202)
    assert (i["members"], i["endpoints"], i["storage_full"]) == ([], {}, False), i

    # two hosts in two zones, each with an agent heartbeating with its host token
    hosts, agents = [], []
    for n in range(2):
        h = expect(op.post("/v1/hosts", {"name": uniq("h"), "address": "127.0.0.%d" % (n + 2),
                                         "zone": uniq("z"), "cpu_millis": 4000, "memory_mb": 8192,
                                         "disk_mb": 102400, "engines": ["postgres"]}), 201)
        hosts.append(h["name"])
        agents.append(Agent(Api(srv, h["token"], record=rec)))
    ag = agents[0].api
    assert_error(ag.post("/v1/agent/heartbeat", {"wait_ms": 5001}), 400, "invalid_field", "wait_ms")
    assert_error(ag.post("/v1/agent/heartbeat", {"members": [{"id": 1, "state": "sleeping"}]}), 400, "invalid_field")
    assert_error(ag.post("/v1/agent/heartbeat", {"nope": 1}), 400, "invalid_field", "nope")
    assert_error(op.post("/v1/agent/heartbeat", {}), 403, "forbidden")  # operator token
    assert_error(tn.post("/v1/agent/heartbeat", {}), 403, "forbidden")  # tenant token
    assert_error(ag.get("/v1/instances"), 403, "forbidden")  # host token on a tenant route
    assert_error(ag.get("/v1/hosts"), 403, "forbidden")  # host token on an operator route
    expect(ag.get("/v1/plans"), 200)
    expect(ag.get("/v1/plans/" + p), 200)
    for a in agents:
        a.beat()

    def placed():
        for a in agents:
            a.beat()
        inst = expect(watch.get("/v1/instances/" + i["id"]), 200)
        return inst if len(inst["members"]) == 2 else None

    inst = wait_until(placed, what="instance placed on both hosts")
    assert {m["host"] for m in inst["members"]} == set(hosts)
    # the agents report the members starting (no pid, no usage yet), then running
    for a in agents:
        a.beat(states={m: {"state": "starting", "pid": None, "usage": None} for m in a.members})
    expect(tn.get("/v1/instances/" + i["id"]), 200)

    def running():
        for a in agents:
            a.beat()
        inst = expect(watch.get("/v1/instances/" + i["id"]), 200)
        return inst if inst["status"] == "running" else None

    inst = wait_until(running, what="instance running")
    inst = expect(tn.get("/v1/instances/" + i["id"]), 200)
    primary = [m for m in inst["members"] if m["role"] == "primary"][0]
    replica = [m for m in inst["members"] if m["role"] == "replica"][0]
    members = "%s:%d,%s:%d" % (primary["address"], primary["port"], replica["address"], replica["port"])
    assert inst["endpoints"] == {"primary": {"host": primary["address"], "port": primary["port"]},
                                 "replicas": [{"host": replica["address"], "port": replica["port"]}],
                                 "uri": "postgresql://app@%s/app?target_session_attrs=read-write" % members,
                                 "readonly_uri": "postgresql://app@%s/app?target_session_attrs=prefer-standby" % members}
    assert primary["usage"] == usage() and primary["pid"] == 4242
    # the replica's engine fails (an error, a restart), and the primary's disk is over the plan
    rep_agent = agents[hosts.index(replica["host"])]
    rep_agent.beat(states={replica["id"]: {"state": "failed", "pid": None, "restarts": 1,
                                           "error": "the engine exited with status 1"}})
    prim_agent = agents[hosts.index(primary["host"])]
    prim_agent.beat(states={primary["id"]: {"usage": usage(disk_mb=2000)}})
    inst = expect(tn.get("/v1/instances/" + i["id"]), 200)
    assert inst["storage_full"] is True and inst["status"] == "degraded", inst
    for a in agents:
        a.beat()
    inst = expect(tn.get("/v1/instances/" + i["id"]), 200)
    assert inst["storage_full"] is False and inst["status"] == "running", inst
    expect(tn.get("/v1/instances"), 200)
    expect(op.get("/v1/instances"), 200)
    assert expect(op.get("/v1/hosts/" + hosts[0]), 200)["instances"] == 1
    expect(op.get("/v1/hosts"), 200)
    # long poll: nothing changes, the answer comes after wait_ms with the same hash
    h = agents[0].hash
    assert agents[0].beat(desired_hash=h, wait_ms=100)["desired_hash"] == h

    # a resize: the members get the new limits at a new spec version
    assert expect(tn.patch("/v1/instances/" + i["id"], {"plan": p2}), 202)["status"] == "resizing"
    wait_until(running, what="instance resized")

    # a switchover: bad target, then recorded; the instance shows it
    sw = "/v1/instances/%s/switchover" % i["id"]
    assert_error(tn.post(sw, {"to": 0}), 400, "invalid_field", "to")
    assert_error(tn.post(sw, {"to": 99999999}), 422, "invalid_target", "to")
    assert_error(tn.post("/v1/instances/%s/switchover" % "00000000-0000-0000-0000-000000000000"), 404, "not_found")
    expect(tn.post(sw, {}), 202)
    assert_error(tn.post(sw), 409, "conflict")
    assert expect(tn.get("/v1/instances/" + i["id"]), 200)["failover"]["kind"] == "switchover"

    # the delete: the agents report the members deleted, the hosts become empty
    expect(tn.delete("/v1/instances/" + i["id"]), 202)

    def deleted():
        for a in agents:
            a.beat()
        return expect(watch.get("/v1/instances/" + i["id"]), 200)["status"] == "deleted"

    wait_until(deleted, what="instance deleted")
    assert expect(op.get("/v1/hosts/" + hosts[0]), 200)["instances"] == 0
    for h in hosts:
        assert op.delete("/v1/hosts/" + h).status_code == 204

    statuses = {r["status"] for r in rec}
    assert {200, 201, 202, 204, 400, 403} <= statuses, statuses
    paths = {(r["method"], r["path"], r["status"]) for r in rec}
    assert ("POST", "/v1/agent/heartbeat", 200) in paths and ("PUT", "/v1/scheduler", 200) in paths
    check_records(rec, openapi_dir)
    for a in agents:
        a.api.close()
    for c in (op, tn):
        c.close()
