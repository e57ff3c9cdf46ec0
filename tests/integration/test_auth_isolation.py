"""Authentication (401), roles (403), tenant isolation (another tenant's instance is a 404) and
the operator token's rotation."""

import os
import re

from conftest import Api, assert_error, expect, run_ctl, uniq


def test_missing_or_bad_token_is_401(api, mk_tenant):
    _, tok = mk_tenant()
    routes = [("GET", "/v1/instances"), ("GET", "/v1/plans"), ("GET", "/v1/tenants"),
              ("GET", "/metrics"), ("GET", "/v1/events"), ("POST", "/v1/instances")]
    headers_cases = [
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer dbaas_tn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {"Authorization": "Bearer dbaas_op_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic " + tok},
        {"Authorization": tok},
        {"Authorization": "Bearer " + tok + "x"},
        {"Authorization": "Bearer " + tok[:-1]},
        {"Authorization": "Bearer %s %s" % (tok, tok)},
    ]
    for method, path in routes:
        for h in headers_cases:
            kw = {"body": {"name": uniq("x"), "engine": "postgres", "plan": "p"}} if method == "POST" else {}
            r = api.request(method, path, token=None, headers=h, **kw)
            assert_error(r, 401, "unauthenticated")


def test_tenant_on_operator_routes_is_403(api, mk_tenant, mk_plan):
    a, ta = mk_tenant()
    other, _ = mk_tenant()
    plan = mk_plan()
    tok_id = api.list_all("/v1/tenants/%s/tokens" % a)[0]["id"]
    routes = [
        ("GET", "/metrics", None),
        ("POST", "/v1/tenants", {"name": uniq("x")}),
        ("GET", "/v1/tenants", None),
        ("GET", "/v1/tenants/" + a, None),
        ("GET", "/v1/tenants/" + other, None),
        ("DELETE", "/v1/tenants/" + other, None),
        ("POST", "/v1/tenants/%s/tokens" % a, {}),
        ("GET", "/v1/tenants/%s/tokens" % a, None),
        ("DELETE", "/v1/tenants/%s/tokens/%s" % (a, tok_id), None),
        ("PUT", "/v1/tenants/%s/quota" % a, {"max_instances": 1000}),
        ("POST", "/v1/plans", {"name": uniq("x"), "cpu_millis": 1, "memory_mb": 1, "disk_mb": 1}),
        ("DELETE", "/v1/plans/" + plan, None),
        ("POST", "/v1/hosts", {"name": uniq("h"), "address": "127.0.0.2", "zone": "z1", "cpu_millis": 1,
                               "memory_mb": 1, "disk_mb": 1, "engines": ["redis"]}),
        ("GET", "/v1/hosts", None),
        ("GET", "/v1/hosts/" + uniq("h"), None),
        ("POST", "/v1/hosts/%s/drain" % uniq("h"), None),
        ("POST", "/v1/hosts/%s/undrain" % uniq("h"), None),
        ("DELETE", "/v1/hosts/" + uniq("h"), None),
    ]
    for method, path, body in routes:
        kw = {"body": body} if body is not None else {}
        assert_error(api.request(method, path, token=ta, **kw), 403, "forbidden")
    # nothing happened
    expect(api.get("/v1/tenants/" + other), 200)
    expect(api.get("/v1/plans/" + plan), 200)
    assert expect(api.get("/v1/tenants/" + a), 200)["quota"]["max_instances"] is None
    assert [t["id"] for t in api.list_all("/v1/tenants/%s/tokens" % a)] == [tok_id]
    expect(api.get("/v1/instances", token=ta), 200)


def test_tenant_isolation(api, mk_tenant, mk_plan, mk_instance, client):
    a, ta = mk_tenant()
    b, tb = mk_tenant()
    plan = mk_plan()
    plan2 = mk_plan()
    ia = mk_instance(ta, plan)
    ib = mk_instance(tb, plan)
    ca, cb = client(ta), client(tb)
    path = "/v1/instances/" + ia["id"]

    nf_get = assert_error(cb.get(path), 404, "not_found")
    nf_patch = assert_error(cb.patch(path, {"plan": plan2}), 404, "not_found")
    nf_delete = assert_error(cb.delete(path), 404, "not_found")
    # indistinguishable from an instance that does not exist
    missing = "/v1/instances/00000000-0000-4000-8000-000000000000"
    assert assert_error(cb.get(missing), 404, "not_found") == nf_get
    assert assert_error(cb.patch(missing, {"plan": plan2}), 404, "not_found") == nf_patch
    assert assert_error(cb.delete(missing), 404, "not_found") == nf_delete

    # A's instance untouched
    got = expect(ca.get(path), 200)
    assert got["plan"] == plan and got["status"] == "pending"

    # B never sees it in lists or events
    assert [i["id"] for i in cb.list_all("/v1/instances")] == [ib["id"]]
    assert ia["id"] not in str(cb.list_all("/v1/events"))
    assert [i["id"] for i in ca.list_all("/v1/instances")] == [ia["id"]]
    # a tenant's ?tenant= does not widen its view
    r = cb.get("/v1/instances", params={"tenant": a})
    if r.status_code == 200:
        assert ia["id"] not in r.text
    else:
        assert r.status_code in (400, 403), r.text
    r = cb.get("/v1/events", params={"tenant": a})
    if r.status_code == 200:
        assert ia["id"] not in r.text
    else:
        assert r.status_code in (400, 403), r.text


def test_revoked_token_refused_on_next_request(api, mk_tenant, client):
    a, ta = mk_tenant()
    c = client(ta)
    expect(c.get("/v1/instances"), 200)  # keep-alive connection in place
    tid = api.list_all("/v1/tenants/%s/tokens" % a)[0]["id"]
    assert api.delete("/v1/tenants/%s/tokens/%s" % (a, tid)).status_code == 204
    assert_error(c.get("/v1/instances"), 401, "unauthenticated")
    assert_error(c.get("/v1/plans"), 401, "unauthenticated")


def test_operator_token_rotation(own_server):
    """POST /v1/operator/token (dbaasctl operator rotate-token): the new token is shown once and
    written to DATA/operator.token (0600); every other operator token is refused at once; a
    revoked token put back in the file stays revoked across a restart, and the log says so."""
    srv = own_server
    old = srv.operator_token()
    op = Api(srv, old)
    tenant = uniq("tn")
    expect(op.post("/v1/tenants", {"name": tenant}), 201)
    tok = expect(op.post("/v1/tenants/%s/tokens" % tenant), 201)["token"]
    assert_error(Api(srv, tok).post("/v1/operator/token"), 403, "forbidden")
    assert_error(op.post("/v1/operator/token", {"x": 1}), 400, "invalid_field", "x")
    r = expect(op.post("/v1/operator/token"), 201)
    new = r["token"]
    assert new.startswith("dbaas_op_") and new != old and r["revoked"] == 1
    assert r["file"] == srv.token_path and "file_error" not in r
    assert srv.operator_token() == new  # the file (its mode 0600 checked there)
    assert_error(op.get("/v1/tenants"), 401, "unauthenticated")
    op = Api(srv, new)
    expect(op.get("/v1/tenants"), 200)
    expect(Api(srv, tok).get("/v1/instances"), 200)  # tenants' tokens are untouched
    assert "operator.token_rotated" in [e["kind"] for e in op.list_all("/v1/events")]

    # a restart keeps the new token; the old one put back in the file stays revoked
    srv.restart()
    expect(op.get("/v1/tenants"), 200)
    fd = os.open(srv.token_path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, (old + "\n").encode())
    os.close(fd)
    srv.restart()
    assert "event=operator_token_revoked" in srv.log_tail(200)
    assert_error(Api(srv, old).get("/v1/tenants"), 401, "unauthenticated")
    expect(op.get("/v1/tenants"), 200)

    # dbaasctl: prints the token once, and the one it used stops working
    p = run_ctl(["operator", "rotate-token"], url=srv.url, token=new)
    assert p.returncode == 0, p.stderr
    newest = re.search(r"^token:\s+(\S+)$", p.stdout, re.M).group(1)
    assert_error(op.get("/v1/tenants"), 401, "unauthenticated")
    expect(Api(srv, newest).get("/v1/tenants"), 200)
    assert srv.operator_token() == newest
    assert not any(t in "\n".join(srv.lines) for t in (old, new, newest))
