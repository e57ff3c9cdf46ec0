"""The tenant-isolation matrix, generated from the route table (api/routes.c): every route and
method, called by tenant B's token, a revoked token of tenant A, a well-formed unknown token, a
malformed one, a host token and no token, against tenant A's resources (its name, its token, its
instance) and the operator's (a plan, a host), each with its exact expected status; every
mutating call of tenant B and of the host is in the audit log with that status, and none of the
unauthenticated ones. A route added to the table is in the matrix at once; a route whose pattern
or roles the rules below do not know fails the test until a rule says what to expect of it.
Afterwards, nothing of A's changed."""

import os
import re

import pytest

from conftest import REPO, Api, Env, expect, uniq, wait_until

ROUTES_C = os.path.join(REPO, "api", "routes.c")
ROLE_MACROS = {"0": set(), "OP": {"operator"}, "TN": {"operator", "tenant"},
               "ANY": {"operator", "tenant", "host"}, "ROLE_HOST": {"host"}}
CALLERS = ["tenant_b", "revoked", "unknown", "malformed", "host", "none"]


def route_table():
    """(method, pattern, roles) of every entry of api/routes.c's table."""
    with open(ROUTES_C) as f:
        text = f.read()
    table = text[text.index("const struct route routes[] = {"):]
    table = table[:table.index("};")]
    rows = re.findall(r'\{\{"([A-Z]+)", "([^"]+)"\}, ([A-Za-z_0-9 |]+), (\w+)\}', table)
    assert len(rows) == table.count("{{"), "a route entry the parser does not read: update route_table()"
    out = []
    for method, pattern, roles, _ in rows:
        roles = roles.strip()
        assert roles in ROLE_MACROS, "unknown roles %r for %s %s: add them to ROLE_MACROS" % (roles, method, pattern)
        out.append((method, pattern, ROLE_MACROS[roles]))
    return out


def test_every_route_refuses_other_tenants_and_bad_tokens(own_server):
    srv = own_server
    env = Env(srv)
    op = env.op
    a_name, a_tok = env.mk_tenant("ta")
    b_name, b_tok = env.mk_tenant("tb")
    revoked = expect(op.post("/v1/tenants/%s/tokens" % a_name), 201)
    assert op.delete("/v1/tenants/%s/tokens/%s" % (a_name, revoked["id"])).status_code == 204
    a_tokens = expect(op.get("/v1/tenants/%s/tokens" % a_name), 200)["items"]
    plan = env.mk_plan()
    host = expect(op.post("/v1/hosts", {"name": uniq("h"), "address": "127.0.1.5", "zone": "z1",
                                        "cpu_millis": 4000, "memory_mb": 8192, "disk_mb": 100000,
                                        "engines": ["postgres"]}), 201)  # never reports: A's instance waits
    a = Api(srv, a_tok)
    inst = expect(a.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan}), 202)
    a_events = [e["id"] for e in op.list_all("/v1/events", params={"tenant": a_name})]
    assert a_events
    tokens = {"tenant_b": b_tok, "revoked": revoked["token"], "unknown": "dbaas_tn_" + "A" * 43,
              "malformed": "not a token \u00e9",
              "host": host["token"], "none": None}

    def path_of(pattern):
        """The pattern with A's (or the operator's) resources in its parameters."""
        values = {
            "/v1/tenants/{name}/tokens/{id}": (a_name, a_tokens[0]["id"]),
            "/v1/tenants/{name}": (a_name,),
            "/v1/plans/{name}": (plan,),
            "/v1/hosts/{name}": (host["name"],),
            "/v1/instances/{id}": (inst["id"],),
        }
        params = re.findall(r"\{[a-z]+\}", pattern)
        if not params:
            return pattern
        for prefix, vals in values.items():
            if pattern.startswith(prefix) and len(vals) == len(params):
                out = pattern
                for v in vals:
                    out = re.sub(r"\{[a-z]+\}", v, out, count=1)
                return out
        pytest.fail("no resource for the parameters of %s: add it to path_of()" % pattern)

    def body_of(method, pattern):
        """A body that would be valid for A (so that a refusal is the caller's, not the body's)."""
        return {
            ("POST", "/v1/instances"): {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                        "tenant": a_name},
            ("PATCH", "/v1/instances/{id}"): {"replicas": 0},
            ("POST", "/v1/agent/heartbeat"): {"members": []},
        }.get((method, pattern), {} if method in ("POST", "PUT", "PATCH") else None)

    def expected(method, pattern, roles, caller):
        """The exact status for caller on this route (None: a rule is missing)."""
        if not roles:
            return 200  # /healthz: anyone
        if caller in ("revoked", "unknown", "malformed", "none"):
            return 401
        role = "tenant" if caller == "tenant_b" else caller
        if role not in roles:
            return 403
        if caller == "host":
            return 200  # its own heartbeat, the plans
        # tenant B on a route it may use: A's resources are not found, lists hold none of A's,
        # and naming A in a create is refused
        if "{id}" in pattern and pattern.startswith("/v1/instances/"):
            return 404
        if (method, pattern) == ("POST", "/v1/instances"):
            return 400
        if method == "GET" and pattern in ("/v1/instances", "/v1/events", "/v1/plans",
                                           "/v1/plans/{name}"):
            return 200
        return None

    seen = 0
    audited = set()  # (actor, action, target, status) that the audit log must hold
    for method, pattern, roles in route_table():
        path = path_of(pattern)
        for caller in CALLERS:
            want = expected(method, pattern, roles, caller)
            assert want is not None, "no rule for %s %s called by %s: add one to expected()" % (
                method, pattern, caller)
            api = Api(srv, tokens[caller])
            params = {"tenant": a_name} if method == "GET" and pattern in ("/v1/instances", "/v1/events") else None
            r = api.request(method, path, body=body_of(method, pattern), params=params)
            assert r.status_code == want, "%s %s as %s: %d, expected %d: %s" % (
                method, path, caller, r.status_code, want, r.text[:300])
            if caller == "tenant_b" and want == 200 and pattern in ("/v1/instances", "/v1/events"):
                assert r.json()["items"] == [], "tenant B sees A's %s: %s" % (pattern, r.text[:300])
            if want >= 400:
                assert r.json()["error"]["code"] == {400: "invalid_field", 401: "unauthenticated",
                                                     403: "forbidden", 404: "not_found"}[want]
            for t in (a_tok, revoked["token"], host["token"]):
                assert t not in r.text
            if method in ("POST", "PUT", "PATCH", "DELETE") and caller in ("tenant_b", "host") and \
                    pattern != "/v1/agent/heartbeat":
                actor = "tenant:" + b_name if caller == "tenant_b" else "host:" + host["name"]
                audited.add((actor, "%s %s" % (method, pattern), path, want))
            seen += 1
    assert seen == len(route_table()) * len(CALLERS)

    # the audit log holds exactly those of B and the host (written within 100 ms), no
    # unauthenticated call, and every mutating route of the table is among them
    assert {a for (_, a, _, _) in audited} == {"%s %s" % (m, p) for m, p, _ in route_table()
                                              if m != "GET" and p != "/v1/agent/heartbeat"}

    def callers_records():
        return {(a["actor"], a["action"], a["target"], a["status"]) for a in op.list_all("/v1/audit")
                if a["actor"] in ("tenant:" + b_name, "host:" + host["name"])}
    got = wait_until(lambda: (lambda g: g if g >= audited else None)(callers_records()),
                     what="the matrix's calls audited", timeout=10)
    assert got == audited, sorted(got ^ audited)
    assert {a["actor"] for a in op.list_all("/v1/audit")} <= {
        "operator", "tenant:" + a_name, "tenant:" + b_name, "host:" + host["name"]}  # no 401
    assert all(a["tenant"] == (b_name if a["actor"].startswith("tenant:") else None)
               for a in op.list_all("/v1/audit") if a["actor"] in ("tenant:" + b_name, "host:" + host["name"]))

    # tenant B's own lists (no filter) hold nothing of A's either
    assert all(i["id"] != inst["id"] for i in Api(srv, b_tok).list_all("/v1/instances"))
    assert not [e for e in Api(srv, b_tok).list_all("/v1/events") if e["id"] in a_events]

    # nothing of A's changed
    after = expect(a.get("/v1/instances/" + inst["id"]), 200)
    # (its status may move on: the host's heartbeat in the matrix made the host ready)
    assert after["status"] not in ("deleting", "deleted") and after["plan"] == inst["plan"]
    assert after["replicas"] == inst["replicas"] and after["name"] == inst["name"]
    assert [t["id"] for t in expect(op.get("/v1/tenants/%s/tokens" % a_name), 200)["items"]] == \
        [t["id"] for t in a_tokens]
    assert len(a.list_all("/v1/instances")) == 1
    expect(op.get("/v1/tenants/" + a_name), 200)
    expect(op.get("/v1/hosts/" + host["name"]), 200)
    env.close()
