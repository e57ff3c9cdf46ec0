"""dbaasd's side of HA part 1, through the API alone: fake agents heartbeat with their host tokens
(as test_conformance.py's Agent) and report health probes, and the tests check what dbaasd answers
them (the replication secret, primary, replicas, seed, generation), what it shows (members' role,
writability and lag, degraded and back, metrics), PATCH of the replicas, placement that no
unplaceable instance or tenant's backlog can block, the forced removal of a host that never
returns, the create's credentials, and that the replication secret never leaks. Each test has a dbaasd of its own: hosts make the scheduler place every pending instance.
"""

import re
import threading

from conftest import Api, assert_error, expect, fake_probe, run_ctl, uniq, wait_until

REPL_USER = "dbaas_repl"
MiB = 1024 * 1024


class Agent:
    """One host's agent, driven one heartbeat at a time: every member of the last reply is reported
    running at its spec version with the health set for it (health[id]), a member to delete is
    reported deleted (stopped while hold_deletes), and states[id] overrides fields."""

    def __init__(self, server, host, seed_port=None):
        self.api = Api(server, host["token"])
        self.name = host["name"]
        self.address = host["address"]
        self.zone = host["zone"]
        self.seed_port = seed_port
        self.members = {}
        self.health = {}
        self.states = {}
        self.hold_deletes = False
        self.reply = None
        self.texts = []  # every answer's raw text

    def beat(self, **extra):
        report = []
        for m in self.members.values():
            if m["desired"] == "deleted":
                report.append({"id": m["id"], "state": "stopped" if self.hold_deletes else "deleted"})
                continue
            r = {"id": m["id"], "state": "running", "pid": 4242, "restarts": 0,
                 "applied_version": m["spec_version"]}
            if m["id"] in self.health:
                r["health"] = self.health[m["id"]]
            elif m.get("role") == "replica":
                r["health"] = dict(fake_probe("replica"), position_bytes=None)
            r.update(self.states.get(m["id"], {}))
            report.append(r)
        body = {"agent_version": "ha-test", "isolation": "none", "ports": {"min": 20000, "max": 20099},
                "members": report}
        if self.seed_port is not None:
            body["seed_port"] = self.seed_port
        body.update(extra)
        resp = self.api.post("/v1/agent/heartbeat", body)
        self.reply = expect(resp, 200)
        self.texts.append(resp.text)
        self.members = {m["id"]: m for m in self.reply["members"]}
        return self.reply

    def entry(self, member_id):
        return self.members[member_id]


def add_hosts(env, n, engines=("postgres", "mysql", "redis"), memory=4096):
    """n hosts in n zones, each with an agent that reported once (ready; long heartbeat timeout)."""
    expect(env.op.put("/v1/scheduler", {"heartbeat_timeout_ms": 600000}), 200)
    agents = []
    for i in range(n):
        h = expect(env.op.post("/v1/hosts", {
            "name": uniq("h"), "address": "127.0.1.%d" % (i + 1), "zone": "z%d" % i,
            "cpu_millis": 4000, "memory_mb": memory, "disk_mb": 100000, "engines": list(engines)}), 201)
        a = Agent(env.server, h, seed_port=19000 + i)
        a.beat()
        agents.append(a)
    return agents


def beat_all(agents):
    for a in agents:
        a.beat()


def get(env, tok, iid):
    return expect(env.client(tok).get("/v1/instances/" + iid), 200)


def settle(env, tok, iid, agents, pred, what):
    """Heartbeat every agent until pred(instance) holds; returns the instance."""
    def step():
        beat_all(agents)
        inst = get(env, tok, iid)
        return inst if pred(inst) else None
    return wait_until(step, what=what)


def live(inst):
    return [m for m in inst["members"] if m["desired"] == "running"]


def by_role(inst):
    out = {"primary": None, "replicas": []}
    for m in live(inst):
        if m["role"] == "primary":
            out["primary"] = m
        else:
            out["replicas"].append(m)
    return out


def agent_of(agents, member):
    return [a for a in agents if a.name == member["host"]][0]


def running_instance(env, agents, tok, plan, replicas=1, engine="postgres", **extra):
    inst = env.mk_instance(tok, plan, engine=engine, replicas=replicas, **extra)
    inst = settle(env, tok, inst["id"], agents,
                  lambda i: i["status"] == "running" and len(live(i)) == replicas + 1,
                  "instance running with %d members" % (replicas + 1))
    return inst


class Pair:
    """Two hosts with their agents, a tenant and a running instance with one replica on them."""

    def __init__(self, env):
        self.agents = add_hosts(env, 2)
        _, self.tok = env.mk_tenant()
        self.plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
        self.inst = running_instance(env, self.agents, self.tok, self.plan, replicas=1)
        roles = by_role(self.inst)
        self.prim, self.rep = roles["primary"], roles["replicas"][0]
        self.pa, self.ra = agent_of(self.agents, self.prim), agent_of(self.agents, self.rep)


def events(env, iid):
    return env.op.list_all("/v1/events", params={"instance": iid})


def metric(text, name, member):
    m = re.search(r'^%s\{[^}]*member="%s"[^}]*\} (\S+)$' % (re.escape(name), member), text, re.M)
    return float(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------


def test_reply_carries_replication_to_member_hosts_only(own_env):
    env = own_env
    agents = add_hosts(env, 4)
    _, tok = env.mk_tenant()
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    created = env.mk_instance(tok, plan, replicas=1)
    a = settle(env, tok, created["id"], agents, lambda i: len(live(i)) == 2, "a placed")
    b = env.mk_instance(tok, plan, engine="redis")
    b = settle(env, tok, b["id"], agents, lambda i: len(live(i)) == 1, "b placed")
    roles = by_role(a)
    prim, rep = roles["primary"], roles["replicas"][0]
    pa, ra = agent_of(agents, prim), agent_of(agents, rep)
    assert pa is not ra and prim["zone"] != rep["zone"]
    beat_all(agents)

    pe, re_ = pa.entry(prim["id"]), ra.entry(rep["id"])
    assert pe["role"] == "primary" and re_["role"] == "replica"
    assert pe["primary"] == re_["primary"] == {"id": prim["id"], "host": prim["address"], "port": prim["port"]}
    assert pe["replicas"] == [{"id": rep["id"], "host": rep["address"], "port": rep["port"]}]
    assert re_["replicas"] is None and pe["seed"] is None
    assert re_["seed"] == {"host": prim["address"], "port": pa.seed_port}
    secret = pe["replication"]["secret"]
    assert pe["replication"] == re_["replication"] == {"user": REPL_USER, "secret": secret}
    assert re.fullmatch(r"[A-Za-z0-9]{32}", secret), secret
    assert isinstance(pa.reply["generation"], int) and pa.reply["generation"] > 0

    # b's secret only on b's host, a's only on a's hosts; a host without members gets none
    b_member = live(b)[0]
    ba = agent_of(agents, b_member)
    b_secret = ba.entry(b_member["id"])["replication"]["secret"]
    assert b_secret != secret
    for ag in agents:
        text = ag.texts[-1]
        has_a = ag in (pa, ra)
        assert (secret in text) == has_a, (ag.name, has_a)
        assert (b_secret in text) == (ag is ba), ag.name
    empty = [ag for ag in agents if ag not in (pa, ra, ba)]
    for ag in empty:
        assert ag.reply["members"] == [] and REPL_USER not in ag.texts[-1]

    # a seed port the agent no longer reports: no seed (and a new generation)
    gen = ra.reply["generation"]
    pa.seed_port = None
    pa.beat(seed_port=None)
    assert ra.beat()["generation"] > gen and ra.entry(rep["id"])["seed"] is None
    assert_error(pa.api.post("/v1/agent/heartbeat", {"seed_port": 70000}), 400, "invalid_field", "seed_port")

    # the secrets appear in no answer of the API, no event, no metric and no log line
    c = env.client(tok)
    tname = a["tenant"]
    answers = [c.get("/v1/instances/" + a["id"]), c.get("/v1/instances"), c.get("/v1/events"),
               env.op.get("/v1/instances/" + a["id"]), env.op.get("/v1/instances"),
               env.op.get("/v1/events"), env.op.get("/v1/hosts"), env.op.get("/v1/hosts/" + pa.name),
               env.op.get("/v1/tenants/" + tname), env.op.get("/metrics"),
               c.patch("/v1/instances/" + a["id"], {"max_lag_bytes": 1234})]
    for r in answers:
        assert r.status_code in (200, 202), r.text
        assert secret not in r.text and b_secret not in r.text, r.request.url
    assert "secret" not in created and secret not in str(created)
    log = "\n".join(env.server.lines)
    assert secret not in log and b_secret not in log
    # it is in the store, in its own table
    scan = env.server.store_scan([secret])
    assert scan["found"][secret] == ["postgres.public.instance_secrets"], scan["found"]

    # the instance is deleted: its secret is forgotten
    expect(c.delete("/v1/instances/" + a["id"]), 202)
    settle(env, tok, a["id"], agents, lambda i: i["status"] == "deleted", "a deleted")
    assert env.server.store_scan([secret])["found"][secret] == []


def test_secret_made_lazily_for_older_instances(own_env):
    env = own_env
    p = Pair(env)
    agents, inst = p.agents, p.inst
    # an instance as a dbaasd before HA part 1 left it: no secret, found by the dbaasd that
    # starts after the upgrade (a running dbaasd would see a change made behind its back only
    # when its copy of the hosts' desired members is 15 s old: api/hbmemo.h)
    env.server.store_sql("DELETE FROM instance_secrets WHERE instance_id = %s", [inst["id"]])
    env.server.restart()
    beat_all(agents)
    secrets = set()
    for a in agents:
        for m in a.reply["members"]:
            assert m["replication"]["user"] == REPL_USER
            secrets.add(m["replication"]["secret"])
    assert len(secrets) == 1, secrets  # one per instance, whichever host asked first
    rows = env.server.store_sql("SELECT count(*) FROM instance_secrets WHERE instance_id = %s", [inst["id"]])
    assert rows == [[1]]


def test_generation_grows_and_never_goes_back(own_env):
    env = own_env
    p = Pair(env)
    tok, inst, pa, ra, rid = p.tok, p.inst, p.pa, p.ra, p.rep["id"]
    roles = {"primary": p.prim}

    seen = {pa.name: [], ra.name: []}

    def beat(a, **kw):
        r = a.beat(**kw)
        seen[a.name].append((r["generation"], r["desired_hash"]))
        return r

    g0 = beat(pa)["generation"]
    # nothing changes: the same generation and hash, also from a long poll that times out
    assert beat(pa)["generation"] == g0
    assert beat(pa, desired_hash=pa.reply["desired_hash"], wait_ms=100)["generation"] == g0
    r0 = beat(ra)["generation"]

    # one replica fewer: the primary drops it from its replicas, the replica is to be deleted
    ra.hold_deletes = True
    expect(env.client(tok).patch("/v1/instances/" + inst["id"], {"replicas": 0}), 202)
    g1 = beat(pa)["generation"]
    assert g1 > g0 and pa.entry(roles["primary"]["id"])["replicas"] == []
    r1 = beat(ra)["generation"]
    assert r1 > r0
    assert ra.entry(rid)["desired"] == "deleted" and ra.entry(rid)["replication"] is None
    assert beat(ra)["generation"] == r1  # stopped, not gone: nothing changed
    # the agent reports it deleted: the row goes, the answer changes, the generation grows
    ra.hold_deletes = False
    r2 = beat(ra)["generation"]
    assert ra.reply["members"] == [] and r2 > r1
    assert beat(ra)["generation"] == r2
    for name, gens in seen.items():
        for (g_a, h_a), (g_b, h_b) in zip(gens, gens[1:]):
            assert g_b >= g_a, (name, gens)
            assert (g_a == g_b) == (h_a == h_b), (name, gens)


def test_health_role_writable_lag_degraded_and_back(own_env):
    env = own_env
    p = Pair(env)
    tok, inst, iid = p.tok, p.inst, p.inst["id"]
    prim, rep, pa, ra = p.prim, p.rep, p.pa, p.ra
    # no probe of the primary yet: its desired role, nothing known of writability; the replica
    # reports the fake agent's default probe (streaming, caught up): an unprobed replica would
    # keep the instance degraded
    assert (prim["role"], prim["writable"], prim["lag_bytes"], prim["lag_seconds"]) == ("primary", None, None, None)
    assert (rep["role"], rep["writable"], rep["lag_bytes"], rep["lag_seconds"]) == ("replica", False, 0, 0)

    def report(p_pos, r_health):
        pa.health[prim["id"]] = {"alive": True, "role": "primary", "writable": True,
                                 "position": "0/%X" % p_pos, "position_bytes": p_pos, "age_ms": 50}
        ra.health[rep["id"]] = r_health
        pa.beat()
        ra.beat()
        return get(env, tok, iid)

    healthy = {"alive": True, "role": "replica", "writable": False, "position_bytes": 5000,
               "upstream_up": True, "lag_bytes": 0, "lag_seconds": 0.25, "age_ms": 80}
    i = report(5000, healthy)
    m = {x["id"]: x for x in i["members"]}
    assert (m[prim["id"]]["role"], m[prim["id"]]["writable"]) == ("primary", True)
    assert m[prim["id"]]["lag_bytes"] is None and m[prim["id"]]["lag_seconds"] is None
    assert (m[rep["id"]]["role"], m[rep["id"]]["writable"]) == ("replica", False)
    assert m[rep["id"]]["lag_bytes"] == 0 and m[rep["id"]]["lag_seconds"] == 0.25
    assert i["status"] == "running", i

    # the lag from the positions wins over the agent's figure; lag_seconds estimated when absent
    i = report(9000, dict(healthy, position_bytes=8000, lag_bytes=3, lag_seconds=None))
    r = [x for x in i["members"] if x["id"] == rep["id"]][0]
    assert r["lag_bytes"] == 1000 and isinstance(r["lag_seconds"], (int, float)) and r["lag_seconds"] >= 0
    # the primary's position unknown: the agent's figure
    pa.health[prim["id"]] = {"alive": True, "role": "primary", "writable": True}
    pa.beat()
    r = [x for x in get(env, tok, iid)["members"] if x["id"] == rep["id"]][0]
    assert r["lag_bytes"] == 3

    # the role shown is the one the engine reports
    ra.health[rep["id"]] = dict(healthy, role="primary", writable=True)
    ra.beat()
    r = [x for x in get(env, tok, iid)["members"] if x["id"] == rep["id"]][0]
    assert (r["role"], r["writable"], r["lag_bytes"], r["lag_seconds"]) == ("primary", True, None, None)
    ra.health[rep["id"]] = dict(healthy, position_bytes=8000, lag_bytes=3, lag_seconds=None)
    ra.beat()

    # metrics: role, health, lag per member
    text = env.op.get("/metrics").text
    assert metric(text, "dbaas_member_role", prim["id"]) == 1
    assert metric(text, "dbaas_member_role", rep["id"]) == 0
    assert metric(text, "dbaas_member_health", rep["id"]) == 1
    assert metric(text, "dbaas_member_lag_bytes", rep["id"]) == 3
    assert metric(text, "dbaas_member_lag_bytes", prim["id"]) is None
    assert re.search(r'^dbaas_member_role\{tenant="%s",instance="%s",member="%d"\} 1$'
                     % (inst["tenant"], inst["name"], prim["id"]), text, re.M), text
    assert "# TYPE dbaas_member_lag_seconds gauge" in text

    # broken replicas make it degraded, with the reason; it comes back when they recover
    healthy = dict(healthy, position_bytes=64 * MiB)
    i = report(64 * MiB, healthy)
    assert i["status"] == "running", i
    cases = [
        (dict(healthy, upstream_up=False), "not connected to the primary"),
        (dict(healthy, alive=False), "does not answer its health probe"),
        (dict(healthy, position_bytes=0, lag_bytes=None), "lags more than max_lag_bytes (16777216)"),
    ]
    for bad, why in cases:
        i = report(64 * MiB, bad)
        assert i["status"] == "degraded" and why in i["status_reason"], i
        assert str(rep["id"]) in i["status_reason"] and rep["host"] in i["status_reason"]
        i = report(64 * MiB, dict(healthy, position_bytes=64 * MiB))
        assert i["status"] == "running" and i["status_reason"] is None, i
    # the bound is the instance's: a larger max_lag_bytes tolerates the same lag
    expect(env.client(tok).patch("/v1/instances/" + iid, {"max_lag_bytes": 128 * MiB}), 202)
    i = report(64 * MiB, dict(healthy, position_bytes=0, lag_bytes=None))
    assert i["status"] == "running" and i["max_lag_bytes"] == 128 * MiB, i
    r = [x for x in i["members"] if x["id"] == rep["id"]][0]
    assert r["lag_bytes"] == 64 * MiB
    assert metric(env.op.get("/metrics").text, "dbaas_member_lag_bytes", rep["id"]) == 64 * MiB
    # a replica that stops running degrades it too
    ra.states[rep["id"]] = {"state": "failed", "error": "the engine exited with status 1"}
    i = report(64 * MiB, healthy)
    assert i["status"] == "degraded" and "is failed" in i["status_reason"], i
    ra.states.clear()
    i = report(64 * MiB, dict(healthy, position_bytes=64 * MiB))
    assert i["status"] == "running", i
    kinds = [(e["kind"], e["message"]) for e in events(env, iid)]
    assert any(k == "instance.status" and "running -> degraded" in msg and "not connected" in msg
               for k, msg in kinds), "\n".join(map(str, kinds))
    assert any(k == "instance.status" and "degraded -> running" in msg for k, msg in kinds), kinds
    assert any(k == "instance.max_lag_bytes" for k, _ in kinds), "\n".join(map(str, kinds))


def test_bad_health_never_breaks_a_heartbeat(own_env):
    env = own_env
    p = Pair(env)
    agents, tok, inst = p.agents, p.tok, p.inst
    prim, rep, pa, ra = p.prim, p.rep, p.pa, p.ra
    pa.health[prim["id"]] = {"alive": "yes", "role": "leader", "writable": 1,
                             "position_bytes": "12", "lag_seconds": -1, "age_ms": 1.5,
                             "error": {"nested": True}, "unknown": [1]}
    ra.health[rep["id"]] = "not an object"
    ra.states[rep["id"]] = {"seeding": {"bytes": -1, "elapsed_ms": "x"}}
    pa.beat()
    ra.beat()
    for _ in range(3):  # every host keeps heartbeating, and the instance reads fine
        beat_all(agents)
    i = get(env, tok, inst["id"])
    m = {x["id"]: x for x in i["members"]}
    assert m[prim["id"]]["role"] == "primary" and m[prim["id"]]["writable"] is None
    assert m[rep["id"]]["lag_bytes"] is None
    # a replica whose health was dropped counts as not probed: degraded, saying which
    assert i["status"] == "degraded" and "has not been probed yet" in i["status_reason"], i
    assert env.op.get("/metrics").status_code == 200


def test_patch_replicas(own_env):
    env = own_env
    agents = add_hosts(env, 3, memory=2048)
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    big = env.mk_plan(cpu_millis=200, memory_mb=512, disk_mb=256)
    tname, tok = env.mk_tenant(quota={"memory_mb": 256 * 3})
    c = env.client(tok)
    inst = running_instance(env, agents, tok, plan, replicas=0)
    iid = inst["id"]
    prim = by_role(inst)["primary"]

    # more replicas than hosts that can take one: refused at once, saying how many fit
    err = assert_error(c.patch("/v1/instances/" + iid, {"replicas": 3}), 422, "too_few_hosts", "replicas")
    assert "only 3 of the 3 hosts" in err["message"], err
    # beyond the quota: refused, nothing changes
    expect(env.op.put("/v1/tenants/%s/quota" % tname, {"memory_mb": 256 * 2}), 200)
    assert_error(c.patch("/v1/instances/" + iid, {"replicas": 2}), 409, "quota_exceeded", "memory_mb")
    assert get(env, tok, iid)["replicas"] == 0
    assert expect(env.op.get("/v1/tenants/" + tname), 200)["usage"]["memory_mb"] == 256

    # one more: placed on another host, in another zone; degraded until it runs
    r = expect(c.patch("/v1/instances/" + iid, {"replicas": 1}), 202)
    assert r["replicas"] == 1
    assert expect(env.op.get("/v1/tenants/" + tname), 200)["usage"]["memory_mb"] == 512
    i = settle(env, tok, iid, agents, lambda i: len(live(i)) == 2, "the new replica placed")
    new = by_role(i)["replicas"][0]
    assert new["host"] != prim["host"] and new["zone"] != prim["zone"]
    i = settle(env, tok, iid, agents, lambda i: i["status"] == "running", "running with the replica")
    kinds = [e["kind"] for e in events(env, iid)]
    assert "instance.replicas" in kinds and kinds.count("instance.placed") == 2, kinds
    pa = agent_of(agents, prim)
    assert pa.entry(prim["id"])["replicas"] == [{"id": new["id"], "host": new["address"], "port": new["port"]}]

    # plan and replicas together: the members are resized, a new replica gets the new plan
    expect(env.op.put("/v1/tenants/%s/quota" % tname, {"memory_mb": None}), 200)
    r = expect(c.patch("/v1/instances/" + iid, {"plan": big, "replicas": 2}), 202)
    assert (r["plan"], r["replicas"], r["status"]) == (big, 2, "resizing")
    i = settle(env, tok, iid, agents, lambda i: len(live(i)) == 3 and i["status"] == "running",
               "resized, with a third member")
    assert len({m["host"] for m in live(i)}) == 3 and len({m["zone"] for m in live(i)}) == 3
    for m in live(i):
        assert agent_of(agents, m).entry(m["id"])["limits"]["memory_mb"] == 512
    assert expect(env.op.get("/v1/tenants/" + tname), 200)["usage"]["memory_mb"] == 512 * 3

    # fewer: the highest replica is let go; the primary's agent no longer serves it
    highest = max(m["id"] for m in by_role(i)["replicas"])
    r = expect(c.patch("/v1/instances/" + iid, {"replicas": 1}), 202)
    gone = [m for m in r["members"] if m["id"] == highest][0]
    assert gone["desired"] == "deleted"
    assert expect(env.op.get("/v1/tenants/" + tname), 200)["usage"]["memory_mb"] == 512 * 2
    pa.beat()
    assert [x["id"] for x in pa.entry(prim["id"])["replicas"]] == [m["id"] for m in by_role(i)["replicas"]
                                                                    if m["id"] != highest]
    i = settle(env, tok, iid, agents, lambda i: highest not in [m["id"] for m in i["members"]],
               "the removed replica gone")
    assert i["status"] == "running" and len(live(i)) == 2
    # in a state that cannot change: refused
    expect(c.delete("/v1/instances/" + iid), 202)
    r = c.patch("/v1/instances/" + iid, {"replicas": 2})
    assert r.status_code in (404, 409), r.text


def test_create_checks_hosts_and_answers_credentials(own_env):
    env = own_env
    _, tok = env.mk_tenant()
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    huge = env.mk_plan(cpu_millis=100, memory_mb=3000, disk_mb=256)
    c = env.client(tok)
    # no host offers the engine: the instance waits (a fleet being set up)
    w = expect(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                        "replicas": 2}), 202)
    assert w["status"] == "pending" and w["credentials"]["uri"].startswith("postgresql://app:")
    agents = add_hosts(env, 2, memory=2048)
    err = assert_error(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                                "replicas": 2}), 422, "too_few_hosts", "replicas")
    assert "3 members" in err["message"] and "only 2 of the 2 hosts" in err["message"], err
    err = assert_error(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": huge}),
                       422, "too_few_hosts")
    assert "only 0 of the 2 hosts" in err["message"], err
    assert_error(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                          "max_lag_bytes": -1}), 400, "invalid_field", "max_lag_bytes")
    assert w["id"] in [i["id"] for i in c.list_all("/v1/instances")]

    # ready hosts: the answer comes once the scheduler placed it, with a complete URI
    body = expect(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                           "replicas": 1, "max_lag_bytes": 1000}), 202)
    assert body["max_lag_bytes"] == 1000
    cred = body["credentials"]
    pw = cred["password"]
    assert cred["database"] == "app" and cred["username"] == "app"
    assert body["status"] == "provisioning", body
    roles = by_role(body)
    hosts = ",".join("%s:%d" % (m["address"], m["port"]) for m in [roles["primary"]] + roles["replicas"])
    assert cred["uri"] == "postgresql://app:%s@%s/app?target_session_attrs=read-write" % (pw, hosts)
    assert body["endpoints"]["uri"] == "postgresql://app@%s/app?target_session_attrs=read-write" % hosts
    assert body["endpoints"]["readonly_uri"] == \
        "postgresql://app@%s/app?target_session_attrs=prefer-standby" % hosts
    for engine, scheme, db in (("mysql", "mysql", "/app"), ("redis", "redis", "")):
        b = expect(c.post("/v1/instances", {"name": uniq("db"), "engine": engine, "plan": plan}), 202)
        cr = b["credentials"]
        assert ("database" in cr) == (engine == "mysql")
        if b["status"] == "provisioning":
            m = by_role(b)["primary"]
            assert cr["uri"] == "%s://app:%s@%s:%d%s" % (scheme, cr["password"], m["address"], m["port"], db)
            assert "uri" not in b["endpoints"]  # single-host clients: no multi-host URI
        else:
            assert cr["uri"].startswith("%s://app:%s@" % (scheme, cr["password"]))
    # the password (and so the URI with it) is shown only in that answer
    for r in (c.get("/v1/instances/" + body["id"]), c.get("/v1/instances"), c.get("/v1/events")):
        assert pw not in r.text
    beat_all(agents)


def test_unplaceable_instances_never_block_the_queue(own_env):
    """More unplaceable instances than the scheduler reads in one pass (200): every one of them
    gets its turn (and its reason), and an instance that fits is placed at once."""
    env = own_env
    expect(env.op.put("/v1/scheduler", {"heartbeat_timeout_ms": 600000}), 200)
    # a MariaDB host that never reports: MariaDB instances wait ("not yet reporting")
    expect(env.op.post("/v1/hosts", {"name": uniq("h"), "address": "127.0.1.9", "zone": "z9",
                                     "cpu_millis": 4000, "memory_mb": 4096, "disk_mb": 100000,
                                     "engines": ["mysql"]}), 201)
    agents = add_hosts(env, 1, engines=("postgres",))
    _, tok = env.mk_tenant()
    c = env.client(tok)
    plan = env.mk_plan(cpu_millis=10, memory_mb=128, disk_mb=10)
    waiting = [expect(c.post("/v1/instances", {"name": uniq("my"), "engine": "mysql", "plan": plan}), 202)["id"]
               for _ in range(210)]

    def all_tried():
        items = c.list_all("/v1/instances", limit=1000)
        reasons = [i["status_reason"] for i in items if i["id"] in waiting]
        return all(r and "not yet reporting" in r for r in reasons) and len(reasons) == len(waiting)

    wait_until(all_tried, what="every waiting instance tried by the scheduler")
    ok = expect(c.post("/v1/instances", {"name": uniq("pg"), "engine": "postgres", "plan": plan}), 202)
    settle(env, tok, ok["id"], agents, lambda i: len(live(i)) == 1, "the instance that fits placed")


def test_tenants_take_turns_in_the_queue(own_env):
    """A tenant with a backlog does not hold up another: with room for four instances, the one
    instance of a second tenant is among the four placed, although it waited longest and so was
    tried first each time, and the queue without turns would serve it last (the first tenant's
    newer instances, never tried or tried more recently, go before it; control/placement.c,
    TENANT_TURNS)."""
    env = own_env
    expect(env.op.put("/v1/scheduler", {"heartbeat_timeout_ms": 600000}), 200)
    # a host not reporting yet: every create waits (and is tried) until it does
    h = expect(env.op.post("/v1/hosts", {"name": uniq("h"), "address": "127.0.1.1", "zone": "z0",
                                         "cpu_millis": 4000, "memory_mb": 2048, "disk_mb": 100000,
                                         "engines": ["postgres"]}), 201)
    plan = env.mk_plan(cpu_millis=10, memory_mb=512, disk_mb=10)
    _, tok_a = env.mk_tenant()
    _, tok_b = env.mk_tenant()
    b_id = expect(env.client(tok_b).post("/v1/instances", {"name": uniq("b"), "engine": "postgres",
                                                           "plan": plan}), 202)["id"]
    wait_until(lambda: "not yet reporting" in (get(env, tok_b, b_id)["status_reason"] or ""),
               what="the second tenant's instance tried")
    a_ids = [expect(env.client(tok_a).post("/v1/instances", {"name": uniq("a"), "engine": "postgres",
                                                             "plan": plan}), 202)["id"] for _ in range(12)]

    def all_tried():
        items = env.client(tok_a).list_all("/v1/instances") + env.client(tok_b).list_all("/v1/instances")
        return len(items) == 13 and all((i["status_reason"] or "").find("not yet reporting") >= 0 for i in items)

    wait_until(all_tried, what="every instance tried once")
    agent = Agent(env.server, h, seed_port=19000)

    def placed():
        agent.beat()
        items = env.client(tok_a).list_all("/v1/instances") + env.client(tok_b).list_all("/v1/instances")
        done = [i["id"] for i in items if i["status"] != "pending"]
        return done if len(done) >= 4 else None

    done = wait_until(placed, what="four instances placed")
    assert len(placed()) == 4  # the host is full
    assert b_id in done, "the second tenant's instance waited behind the first's backlog"
    assert len(set(done) & set(a_ids)) == 3


class Beater:
    """Heartbeats of one agent every 100 ms on a thread of their own (the test never beats it)."""

    def __init__(self, agent):
        self.agent = agent
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.wait(0.1):
            self.agent.beat()

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def test_force_removal_of_a_host_that_never_returns(own_env):
    """A host that is down for good: a plain removal is refused while it holds members; a forced
    one is refused while the host is ready or holds a primary that did not fail over, and then
    finishes the deletes that waited for its agent (the tenant's usage comes back) and has the
    instance that kept a replica there get a new one elsewhere."""
    env = own_env
    expect(env.op.put("/v1/scheduler", {"heartbeat_timeout_ms": 600000, "policy": "spread"}), 200)
    h0 = add_hosts(env, 1)[0]
    tenant, tok = env.mk_tenant()
    c = env.client(tok)
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    y = env.mk_instance(tok, plan)["id"]
    w = env.mk_instance(tok, plan)["id"]
    for iid in (y, w):
        settle(env, tok, iid, [h0], lambda i: i["status"] == "running", "running on the first host")

    def new_host(i):
        h = expect(env.op.post("/v1/hosts", {
            "name": uniq("h"), "address": "127.0.1.%d" % (i + 1), "zone": "z%d" % i, "cpu_millis": 4000,
            "memory_mb": 4096, "disk_mb": 100000, "engines": ["postgres"]}), 201)
        a = Agent(env.server, h, seed_port=19000 + i)
        a.beat()
        return a

    h1 = new_host(1)
    x = env.mk_instance(tok, plan, replicas=1)["id"]
    inst = settle(env, tok, x, [h0, h1], lambda i: i["status"] == "running" and len(live(i)) == 2, "x running")
    roles = by_role(inst)
    assert roles["primary"]["host"] == h1.name and roles["replicas"][0]["host"] == h0.name
    expect(c.delete("/v1/instances/" + w), 202)

    # the first host stops reporting for good
    beaters = [Beater(h1)]
    try:
        expect(env.op.put("/v1/scheduler", {"heartbeat_timeout_ms": 1000, "unreachable_grace_s": 0}), 200)
        wait_until(lambda: expect(env.op.get("/v1/hosts/" + h0.name), 200)["state"] == "unreachable",
                   what="the first host unreachable")
        assert_error(env.op.delete("/v1/hosts/" + h0.name), 409, "conflict")
        assert_error(env.op.delete("/v1/hosts/%s?force=maybe" % h0.name), 400, "invalid_field", "force")
        assert_error(env.op.delete("/v1/hosts/%s?force=true" % h1.name), 409, "conflict")
        err = assert_error(env.op.delete("/v1/hosts/%s?force=true" % h0.name), 409, "conflict")
        assert get(env, tok, y)["name"] in err["message"]
        assert get(env, tok, w)["status"] == "deleting"
        assert expect(env.op.get("/v1/hosts/" + h0.name), 200)["state"] == "unreachable"  # nothing changed

        # the CLI refuses like the API, then removes it once nothing holds it back
        r = run_ctl(["host", "remove", h0.name, "--force"], url=env.server.url, token=env.op.token)
        assert r.returncode == 1 and get(env, tok, y)["name"] in r.stderr, (r.stdout, r.stderr)
        expect(c.delete("/v1/instances/" + y), 202)
        r = run_ctl(["host", "remove", h0.name, "--force"], url=env.server.url, token=env.op.token)
        assert r.returncode == 0 and r.stdout == 'host "%s" removed by force\n' % h0.name, (r.stdout, r.stderr)
        assert_error(env.op.get("/v1/hosts/" + h0.name), 404, "not_found")
        assert_error(Api(env.server, h0.api.token).post("/v1/agent/heartbeat", {"members": []}), 401,
                     "unauthenticated")

        def finished():
            gone = all(c.get("/v1/instances/" + i).status_code == 404 or get(env, tok, i)["status"] == "deleted"
                       for i in (y, w))
            return gone and expect(env.op.get("/v1/tenants/" + tenant), 200)["usage"]["instances"] == 1

        wait_until(finished, what="the deletes finished and the usage returned")
        assert [m["host"] for m in live(get(env, tok, x))] == [h1.name]
        # the replica it lost comes back on a new host
        beaters.append(Beater(new_host(2)))
        inst = wait_until(lambda: (lambda i: i if len(live(i)) == 2 and i["status"] == "running" else None)(
            get(env, tok, x)), what="a new replica placed")
        assert {m["host"] for m in live(inst)} == {h1.name, beaters[1].agent.name}
        kinds = [e["kind"] for e in env.op.list_all("/v1/events")]
        assert "host.removed" in kinds
    finally:
        for b in beaters:
            b.stop()


def ctl(env, *args, token, ok=True):
    r = run_ctl(args, url=env.server.url, token=token)
    assert (r.returncode == 0) == ok, "dbaasctl %s -> %d\n%s\n%s" % (" ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def test_cli_replicas_and_show(own_env):
    """dbaasctl: create with --replicas and --max-lag-bytes (the answer prints the database and
    the URI), resize --replicas, and show with each member's role, writability and lag, and the
    URIs."""
    env = own_env
    agents = add_hosts(env, 3)
    _, tok = env.mk_tenant()
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    r = ctl(env, "instance", "create", uniq("db"), "--engine", "postgres", "--plan", plan,
            "--replicas", "1", "--max-lag-bytes", "4096", token=tok)
    out = r.stdout
    iid = re.search(r"^id: (\S+)$", out, re.M).group(1)
    pw = re.search(r"^password: (\S+)$", out, re.M).group(1)
    assert re.search(r"^database: app$", out, re.M), out
    assert re.search(r"^uri: postgresql://app:%s@[0-9.:,]+/app\?target_session_attrs=read-write$" % pw,
                     out, re.M), out
    assert ctl(env, "instance", "resize", iid, token=tok, ok=False).returncode == 2
    settle(env, tok, iid, agents, lambda i: i["status"] == "running", "running")
    ctl(env, "instance", "resize", iid, "--replicas", "2", token=tok)
    inst = settle(env, tok, iid, agents, lambda i: i["status"] == "running" and len(live(i)) == 3,
                  "running with two replicas")
    assert inst["max_lag_bytes"] == 4096
    roles = by_role(inst)
    prim = roles["primary"]
    agent_of(agents, prim).health[prim["id"]] = {"alive": True, "role": "primary", "writable": True,
                                                 "position_bytes": 100}
    for m in roles["replicas"]:
        agent_of(agents, m).health[m["id"]] = {"alive": True, "role": "replica", "writable": False,
                                               "position_bytes": 60, "upstream_up": True,
                                               "lag_seconds": 1.5}
    beat_all(agents)
    out = ctl(env, "instance", "show", iid, token=tok).stdout
    assert re.search(r"^uri: postgresql://app@\S+/app\?target_session_attrs=read-write$", out, re.M), out
    assert re.search(r"^readonly_uri: \S+target_session_attrs=prefer-standby$", out, re.M), out
    assert re.search(r"^max_lag_bytes: 4096$", out, re.M), out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split()[:1] in (["primary"], ["replica"]) and len(line.split()) > 4}
    header = [line.split() for line in out.splitlines() if line.startswith("ROLE")][0]
    assert header[:8] == ["ROLE", "HOST", "ZONE", "PORT", "STATUS", "WRITABLE", "LAG", "RESTARTS"], header
    assert rows["primary"][5:7] == ["yes", "-"], out
    assert rows["replica"][5:7] == ["no", "40B/1.5s"], out


# ---- HA part 2: settings, sync, switchover, failover with fake agents --------------------------

HA_DEFAULTS = {"renew_ms": 300, "lease_ttl_ms": 1000, "fence_margin_ms": 250, "grace_ms": 10000,
               "failover_cooldown_ms": 60000, "step_timeout_ms": 30000}


def failovers(env, iid):
    return env.server.store_sql("SELECT kind, state, from_member, to_member, reason FROM failovers"
                                " WHERE instance_id = %s ORDER BY id", [iid])


def kinds_of(env, iid):
    return [e["kind"] for e in events(env, iid)]


def primary_probe(pos, writable=True):
    return {"alive": True, "role": "primary", "writable": writable, "position_bytes": pos, "age_ms": 10}


def replica_probe(pos):
    return {"alive": True, "role": "replica", "writable": False, "position_bytes": pos,
            "upstream_up": True, "lag_bytes": 0, "lag_seconds": 0.0, "age_ms": 10}


def test_ha_settings_get_put(own_env):
    env = own_env
    assert expect(env.op.get("/v1/ha"), 200) == HA_DEFAULTS
    s = expect(env.op.put("/v1/ha", {"lease_ttl_ms": 2000, "grace_ms": 500}), 200)
    assert s == dict(HA_DEFAULTS, lease_ttl_ms=2000, grace_ms=500)
    assert expect(env.op.put("/v1/ha", {}), 200) == s
    assert expect(env.op.get("/v1/ha"), 200) == s
    for field, bad in (("renew_ms", 49), ("lease_ttl_ms", 99), ("fence_margin_ms", -1),
                       ("grace_ms", "2"), ("failover_cooldown_ms", 86400001), ("step_timeout_ms", 999)):
        err = assert_error(env.op.put("/v1/ha", {field: bad}), 400, "invalid_field", field)
        assert field in err["message"], err
    err = assert_error(env.op.put("/v1/ha", {"lease_ttl_ms": 500}), 400, "invalid_field", "lease_ttl_ms")
    assert "at least twice renew_ms" in err["message"], err
    assert_error(env.op.put("/v1/ha", {"renew_ms": 1500}), 400, "invalid_field", "renew_ms")
    assert_error(env.op.put("/v1/ha", {"nope": 1}), 400, "invalid_field", "nope")
    assert expect(env.op.get("/v1/ha"), 200) == s  # nothing changed by the refusals
    _, tok = env.mk_tenant()
    assert_error(env.client(tok).get("/v1/ha"), 403, "forbidden")
    assert_error(env.client(tok).put("/v1/ha", {"grace_ms": 1}), 403, "forbidden")
    assert any(e["kind"] == "ha.settings" for e in env.op.list_all("/v1/events"))


def test_sync_at_create_and_patch(own_env):
    env = own_env
    _, tok = env.mk_tenant()
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    c = env.client(tok)
    i = expect(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                        "replicas": 1, "sync": True}), 202)
    assert i["sync"] is True and i["failover"] is None
    assert_error(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                          "sync": "yes"}), 400, "invalid_field", "sync")
    r = expect(c.patch("/v1/instances/" + i["id"], {"sync": False}), 202)
    assert r["sync"] is False
    assert_error(c.patch("/v1/instances/" + i["id"], {"sync": 1}), 400, "invalid_field", "sync")
    assert "instance.sync" in kinds_of(env, i["id"])
    j = expect(c.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan}), 202)
    assert j["sync"] is False


def test_desired_carries_sync_and_fence(own_env):
    env = own_env
    p = Pair(env)
    beat_all(p.agents)
    for a, m in ((p.pa, p.prim), (p.ra, p.rep)):
        assert a.entry(m["id"])["sync"] is False and a.entry(m["id"])["fence"] is False
    g = p.ra.reply["generation"]
    expect(env.client(p.tok).patch("/v1/instances/" + p.inst["id"], {"sync": True}), 202)
    beat_all(p.agents)
    assert p.ra.entry(p.rep["id"])["sync"] is True and p.ra.reply["generation"] > g


def test_switchover_validation(own_env):
    env = own_env
    p = Pair(env)
    iid = p.inst["id"]
    c = env.client(p.tok)
    path = "/v1/instances/%s/switchover" % iid
    # another tenant's instance, an unknown one, a malformed id: not found
    _, other = env.mk_tenant()
    assert_error(env.client(other).post(path, {}), 404, "not_found")
    assert_error(c.post("/v1/instances/%s/switchover" % "00000000-0000-0000-0000-000000000000"), 404, "not_found")
    assert_error(c.post("/v1/instances/nope/switchover"), 404, "not_found")
    # bad bodies and targets
    assert_error(c.post(path, {"to": "x"}), 400, "invalid_field", "to")
    assert_error(c.post(path, {"to": 1, "nope": 2}), 400, "invalid_field", "nope")
    assert_error(c.post(path, {"to": p.prim["id"]}), 422, "invalid_target", "to")
    assert_error(c.post(path, {"to": 99999999}), 422, "invalid_target", "to")
    # no replica: conflict
    solo = running_instance(env, p.agents, p.tok, p.plan, replicas=0)
    assert_error(c.post("/v1/instances/%s/switchover" % solo["id"]), 409, "conflict")
    p.ra.health[p.rep["id"]] = replica_probe(100)
    p.ra.beat()
    # recorded: 202 with the record; a second one while it is in flight: conflict
    rec = expect(c.post(path, {"to": p.rep["id"]}), 202)
    assert (rec["kind"], rec["state"], rec["from_member"], rec["to_member"]) == \
        ("switchover", "detected", p.prim["id"], p.rep["id"]), rec
    assert rec["actor"].startswith("tenant:") and rec["detected_at"] and rec["finished_at"] is None
    assert_error(c.post(path), 409, "conflict")
    inst = get(env, p.tok, iid)
    assert inst["failover"]["id"] == rec["id"] and inst["failover"]["state"] in ("detected", "fencing")
    assert "instance.switchover.detected" in kinds_of(env, iid)
    # the operator may ask too (and sees the same conflict)
    assert_error(env.op.post(path, {}), 409, "conflict")


def test_switchover_carried_out(own_env):
    """The fake agents play their part: the primary's agent fences when asked and reports its
    final position; the target catches up; it is promoted, every member's desired state changes,
    the endpoints move, and its first write is recorded."""
    env = own_env
    p = Pair(env)
    iid, c = p.inst["id"], env.client(p.tok)
    p.pa.health[p.prim["id"]] = primary_probe(5000)
    p.ra.health[p.rep["id"]] = replica_probe(4000)
    beat_all(p.agents)
    hashes = {a.name: a.reply["desired_hash"] for a in p.agents}
    rec = expect(c.post("/v1/instances/%s/switchover" % iid), 202)
    assert rec["to_member"] is None  # the best replica, chosen by the controller

    def fenced_asked():
        beat_all(p.agents)
        return p.pa.entry(p.prim["id"])["fence"]
    wait_until(fenced_asked, what="the primary asked to fence")
    assert get(env, p.tok, iid)["status"] == "failing_over"
    # fenced, its final position 5000; the replica still behind: no promotion yet
    p.pa.states[p.prim["id"]] = {"fenced": True}
    p.pa.health[p.prim["id"]] = primary_probe(5000, writable=False)
    beat_all(p.agents)
    wait_until(lambda: get(env, p.tok, iid)["failover"]["state"] == "promoting", what="promoting")
    assert p.pa.entry(p.prim["id"])["role"] == "primary"
    # caught up: promoted
    p.ra.health[p.rep["id"]] = replica_probe(5000)
    inst = settle(env, p.tok, iid, p.agents, lambda i: i["failover"]["state"] == "done", "promoted")
    f = inst["failover"]
    assert (f["from_member"], f["to_member"]) == (p.prim["id"], p.rep["id"]) and f["promoted_at"] and f["fenced_at"]
    beat_all(p.agents)
    new, old = p.ra.entry(p.rep["id"]), p.pa.entry(p.prim["id"])
    assert new["role"] == "primary" and old["role"] == "replica" and old["fence"] is False
    assert new["replicas"] == [{"id": p.prim["id"], "host": p.prim["address"], "port": p.prim["port"]}]
    assert old["primary"] == {"id": p.rep["id"], "host": p.rep["address"], "port": p.rep["port"]}
    for a in p.agents:
        assert a.reply["desired_hash"] != hashes[a.name]
    assert inst["endpoints"]["primary"] == {"host": p.rep["address"], "port": p.rep["port"]}
    assert inst["host"] == p.rep["host"]
    # the new primary writes: its first write is recorded
    p.ra.health[p.rep["id"]] = primary_probe(6000)
    p.pa.states.clear()
    p.pa.health[p.prim["id"]] = replica_probe(5000)
    settle(env, p.tok, iid, p.agents, lambda i: i["failover"]["first_write_at"] is not None, "first write")
    kinds = kinds_of(env, iid)
    for k in ("detected", "fenced", "promoted", "first_write"):
        assert "instance.switchover." + k in kinds, kinds
    settle(env, p.tok, iid, p.agents, lambda i: i["status"] == "running", "running again")
    # the former primary lost the role just now: a new switchover back to it is allowed when
    # asked by name (the cooldown only holds back automatic choices)
    rec = expect(c.post("/v1/instances/%s/switchover" % iid, {"to": p.prim["id"]}), 202)
    assert rec["to_member"] == p.prim["id"]


def test_switchover_aborted_when_the_fence_never_comes(own_env):
    env = own_env
    expect(env.op.put("/v1/ha", {"step_timeout_ms": 1000}), 200)
    p = Pair(env)
    iid = p.inst["id"]
    p.ra.health[p.rep["id"]] = replica_probe(100)
    p.ra.beat()
    expect(env.client(p.tok).post("/v1/instances/%s/switchover" % iid, {"to": p.rep["id"]}), 202)
    inst = settle(env, p.tok, iid, p.agents, lambda i: i["failover"]["state"] == "aborted", "aborted")
    assert "not fenced within step_timeout_ms (1000)" in inst["failover"]["reason"], inst["failover"]
    beat_all(p.agents)
    assert p.pa.entry(p.prim["id"])["fence"] is False and p.pa.entry(p.prim["id"])["role"] == "primary"
    assert "instance.switchover.aborted" in kinds_of(env, iid)
    settle(env, p.tok, iid, p.agents, lambda i: i["status"] == "running", "running again")


def test_failover_engine_down_on_a_live_host(own_env):
    """No lease (the fake agents do not take part): the primary's engine down past the grace on a
    host that still heartbeats is fenced through its agent, then the replica is promoted."""
    env = own_env
    expect(env.op.put("/v1/ha", {"grace_ms": 300}), 200)
    p = Pair(env)
    iid = p.inst["id"]
    p.ra.health[p.rep["id"]] = replica_probe(5000)
    p.pa.health[p.prim["id"]] = primary_probe(5000)
    beat_all(p.agents)
    # a blip: down for one heartbeat, then back: nothing
    p.pa.states[p.prim["id"]] = {"state": "starting", "pid": None}
    p.pa.beat()
    p.pa.states.clear()
    p.pa.beat()
    assert failovers(env, iid) == []
    # down for good: detected, fence asked
    p.pa.states[p.prim["id"]] = {"state": "starting", "pid": None}
    wait_until(lambda: p.pa.beat() and p.pa.entry(p.prim["id"])["fence"], what="fence asked")
    assert get(env, p.tok, iid)["status"] == "failing_over"
    # its agent stops it for good and says so: promoted
    p.pa.states[p.prim["id"]] = {"state": "stopped", "pid": None, "fenced": True}
    inst = settle(env, p.tok, iid, p.agents, lambda i: i["failover"]["state"] == "done", "promoted")
    assert inst["failover"]["kind"] == "failover" and inst["failover"]["to_member"] == p.rep["id"]
    assert "was down for" in inst["failover"]["reason"]
    kinds = kinds_of(env, iid)
    for k in ("detected", "fenced", "promoted"):
        assert "instance.failover." + k in kinds, kinds
    beat_all(p.agents)
    assert p.ra.entry(p.rep["id"])["role"] == "primary"


def test_failover_refused_without_a_healthy_replica(own_env):
    env = own_env
    expect(env.op.put("/v1/ha", {"grace_ms": 0}), 200)
    p = Pair(env)
    iid = p.inst["id"]
    p.ra.health[p.rep["id"]] = dict(replica_probe(5000), alive=False)
    p.pa.states[p.prim["id"]] = {"state": "failed", "error": "boom"}
    inst = settle(env, p.tok, iid, p.agents, lambda i: i["failover"] and i["failover"]["state"] == "refused",
                  "refused")
    assert "no replica can be promoted" in inst["failover"]["reason"]
    assert inst["status"] == "failing_over" and "failover refused" in inst["status_reason"], inst
    beat_all(p.agents)
    beat_all(p.agents)
    assert len(failovers(env, iid)) == 1  # recorded once, not at every tick
    assert kinds_of(env, iid).count("instance.failover.refused") == 1
    # the primary comes back: back to the heartbeats' care
    p.pa.states.clear()
    p.ra.health[p.rep["id"]] = replica_probe(5000)
    settle(env, p.tok, iid, p.agents, lambda i: i["status"] == "running", "running again")


def test_drain_switches_the_primary_over(own_env):
    env = own_env
    agents = add_hosts(env, 3)
    _, tok = env.mk_tenant()
    plan = env.mk_plan(cpu_millis=100, memory_mb=256, disk_mb=256)
    inst = running_instance(env, agents, tok, plan, replicas=1)
    prim, rep = by_role(inst)["primary"], by_role(inst)["replicas"][0]
    agent_of(agents, rep).health[rep["id"]] = replica_probe(50331744)
    beat_all(agents)
    expect(env.op.post("/v1/hosts/%s/drain" % prim["host"]), 200)
    i = settle(env, tok, inst["id"], agents, lambda i: i["failover"] is not None, "switchover recorded")
    f = i["failover"]
    assert f["kind"] == "switchover" and "draining" in f["reason"] and f["from_member"] == prim["id"]
    pa = agent_of(agents, prim)
    wait_until(lambda: pa.beat() and pa.entry(prim["id"])["fence"], what="fence asked")
    pa.states[prim["id"]] = {"fenced": True}
    pa.health[prim["id"]] = primary_probe(50331744, writable=False)
    i = settle(env, tok, inst["id"], agents, lambda i: i["failover"]["state"] == "done", "switched over")
    assert i["failover"]["to_member"] == rep["id"]
    beat_all(agents)
    assert agent_of(agents, rep).entry(rep["id"])["role"] == "primary"
    assert pa.entry(prim["id"])["role"] == "replica"


def test_cli_ha_and_switchover(own_env):
    env = own_env
    op = env.op.token
    out = ctl(env, "ha", "show", token=op).stdout
    assert re.search(r"^lease_ttl_ms: 1000$", out, re.M), out
    out = ctl(env, "ha", "set", "--lease-ttl-ms", "1500", "--grace-ms", "2500", token=op).stdout
    assert re.search(r"^lease_ttl_ms: 1500$", out, re.M) and re.search(r"^grace_ms: 2500$", out, re.M), out
    assert ctl(env, "ha", "set", token=op, ok=False).returncode == 2
    assert ctl(env, "ha", "set", "--renew-ms", "1", token=op, ok=False).returncode == 2
    assert ctl(env, "ha", "set", "--renew-ms", "800", token=op, ok=False).returncode != 0  # ttl < 2 x renew
    p = Pair(env)
    p.ra.health[p.rep["id"]] = replica_probe(100)
    p.ra.beat()
    out = ctl(env, "instance", "switchover", p.inst["id"], "--to", str(p.rep["id"]), token=p.tok).stdout
    assert re.search(r"^state: detected$", out, re.M) and re.search(r"^to_member: %d$" % p.rep["id"], out, re.M), out
    r = ctl(env, "instance", "switchover", p.inst["id"], token=p.tok, ok=False)
    assert "conflict" in r.stderr, r.stderr
