"""Every error class of docs/api.md, each with the exact body {"error":{"code","message","field"}}."""

import json
import socket

import requests

from conftest import assert_error, expect, uniq

JSON = {"Content-Type": "application/json"}


def test_invalid_json(api, mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    c = client(tok)
    for path, cl in (("/v1/tenants", api), ("/v1/plans", api), ("/v1/instances", c)):
        for raw in ("not json", "{", '{"name": }', "[]", '["name"]', '"name"', "42", "null", "true",
                    '{"name":"x"} trailing', ""):
            r = cl.post(path, data=raw.encode(), headers=JSON)
            err = assert_error(r, 400, "invalid_json")
            assert err["field"] is None
    # not UTF-8
    assert_error(api.post("/v1/tenants", data=b'{"name":"\xff\xfe"}', headers=JSON), 400, "invalid_json")


def test_invalid_field_tenant(api):
    cases = [
        ({"name": "Bad_Name"}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({}, "name"),
        ({"name": uniq("x"), "extra": 1}, "extra"),
        ({"name": "-abc"}, "name"),
        ({"name": "a" * 64}, "name"),
    ]
    for body, field in cases:
        assert_error(api.post("/v1/tenants", body), 400, "invalid_field", field)


def test_invalid_field_instance(api, mk_tenant, mk_plan, client):
    tname, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    ok = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    cases = [
        (dict(ok, unknown=True), "unknown"),
        (dict(ok, name="Bad_Name"), "name"),
        (dict(ok, name=7), "name"),
        (dict(ok, engine=["postgres"]), "engine"),
        (dict(ok, plan=None), "plan"),
        (dict(ok, replicas=6), "replicas"),
        (dict(ok, replicas=-1), "replicas"),
        (dict(ok, replicas="1"), "replicas"),
        (dict(ok, replicas=1.0), "replicas"),
        (dict(ok, replicas=True), "replicas"),
        ({k: v for k, v in ok.items() if k != "name"}, "name"),
        ({k: v for k, v in ok.items() if k != "engine"}, "engine"),
        ({k: v for k, v in ok.items() if k != "plan"}, "plan"),
    ]
    for body, field in cases:
        assert_error(c.post("/v1/instances", body), 400, "invalid_field", field)
    # the operator must say which tenant
    assert_error(api.post("/v1/instances", ok), 400, "invalid_field", "tenant")
    assert c.list_all("/v1/instances") == []
    # the boundaries themselves are fine
    expect(c.post("/v1/instances", dict(ok, replicas=0)), 202)
    expect(c.post("/v1/instances", dict(ok, name=uniq("db"), replicas=5)), 202)


def test_unknown_route_404(api):
    for path in ("/v1/nothing", "/v2/instances", "/", "/v1", "/v1/tenants/a/b/c/d", "/healthz/x",
                 "/v1/instancesx"):
        assert_error(api.get(path), 404, "not_found")
    assert_error(api.post("/v1/nothing", {}), 404, "not_found")


def test_method_not_allowed_405(api, mk_tenant):
    name, _ = mk_tenant()
    cases = [
        ("PUT", "/v1/tenants", {"GET", "POST"}),
        ("DELETE", "/v1/tenants", {"GET", "POST"}),
        ("PATCH", "/v1/tenants/" + name, {"GET", "DELETE"}),
        ("POST", "/v1/tenants/" + name, {"GET", "DELETE"}),
        ("GET", "/v1/tenants/%s/quota" % name, {"PUT"}),
        ("PUT", "/v1/tenants/%s/tokens" % name, {"GET", "POST"}),
        ("DELETE", "/v1/plans", {"GET", "POST"}),
        ("GET", "/v1/hosts/h1/drain", {"POST"}),
        ("PUT", "/v1/instances", {"GET", "POST"}),
        ("POST", "/v1/instances/00000000-0000-4000-8000-000000000000", {"GET", "PATCH", "DELETE"}),
        ("POST", "/v1/events", {"GET"}),
        ("POST", "/metrics", {"GET"}),
        ("DELETE", "/healthz", {"GET"}),
    ]
    for method, path, allowed in cases:
        r = api.request(method, path, body={} if method in ("POST", "PUT", "PATCH") else None)
        assert_error(r, 405, "method_not_allowed")
        allow = r.headers.get("Allow")
        assert allow is not None, "no Allow header: %s %s" % (method, path)
        got = {m.strip() for m in allow.split(",") if m.strip()}
        assert allowed <= got, (method, path, allow)
        assert method not in got, (method, path, allow)


def test_conflict_409(api, mk_tenant, mk_plan):
    name, _ = mk_tenant()
    assert_error(api.post("/v1/tenants", {"name": name}), 409, "conflict")
    plan = mk_plan()
    assert_error(api.post("/v1/plans", {"name": plan, "cpu_millis": 2, "memory_mb": 2, "disk_mb": 2}), 409, "conflict")


def test_quota_exceeded_409(mk_tenant, mk_plan, mk_instance, client):
    _, tok = mk_tenant(quota={"max_instances": 1})
    plan = mk_plan()
    mk_instance(tok, plan)
    assert_error(client(tok).post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan}),
                 409, "quota_exceeded", "max_instances")


def test_payload_too_large_413(api):
    # a JSON object of exactly 64 KiB is accepted ...
    name = uniq("big")
    doc = json.dumps({"name": name})
    body = doc + " " * (65536 - len(doc))
    assert len(body) == 65536
    expect(api.post("/v1/tenants", data=body.encode(), headers=JSON), 201)
    # ... one byte more is not
    big = doc + " " * (65537 - len(doc))
    assert_error(api.post("/v1/tenants", data=big.encode(), headers=JSON), 413, "payload_too_large")
    # nor much more (65 KiB + 1), nor a large body of garbage
    assert_error(api.post("/v1/tenants", data=b"x" * (65 * 1024 + 1), headers=JSON), 413, "payload_too_large")
    assert_error(api.post("/v1/plans", data=b"{" * (256 * 1024), headers=JSON), 413, "payload_too_large")
    # the server still serves
    expect(api.get("/v1/tenants/" + name), 200)


def test_payload_too_large_chunked(api):
    def gen():
        for _ in range(80):
            yield b" " * 1024
    r = api.post("/v1/tenants", data=gen(), headers=JSON)
    assert_error(r, 413, "payload_too_large")


def test_unsupported_media_type_415(api, mk_tenant, client):
    _, tok = mk_tenant()
    name = uniq("mt")
    body = json.dumps({"name": name}).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", "text/json"):
        assert_error(api.post("/v1/tenants", data=body, headers={"Content-Type": ctype}), 415,
                     "unsupported_media_type")
    # a body without any Content-Type is not application/json either
    r = requests.post(api.server.url + "/v1/tenants", data=body,
                      headers={"Authorization": "Bearer " + api.token})
    assert "Content-Type" not in r.request.headers
    assert_error(r, 415, "unsupported_media_type")
    assert_error(client(tok).post("/v1/instances", data=b'{"name":"x"}', headers={"Content-Type": "text/plain"}),
                 415, "unsupported_media_type")
    assert_error(api.get("/v1/tenants/" + name), 404, "not_found")
    # parameters on application/json are fine
    expect(api.post("/v1/tenants", data=body, headers={"Content-Type": "application/json; charset=utf-8"}), 201)


def test_idempotency_mismatch_422(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    expect(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan},
                  headers={"Idempotency-Key": "k1"}), 202)
    assert_error(c.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan},
                        headers={"Idempotency-Key": "k1"}), 422, "idempotency_mismatch")


def test_error_bodies_are_exact(api, mk_tenant):
    """One request per class, checked together (assert_error checks the exact key sets)."""
    _, tok = mk_tenant()
    assert_error(api.post("/v1/tenants", data=b"[]", headers=JSON), 400, "invalid_json", None)
    assert_error(api.post("/v1/tenants", {"name": "Bad_Name"}), 400, "invalid_field", "name")
    assert_error(api.get("/v1/tenants", token=None), 401, "unauthenticated", None)
    assert_error(api.get("/v1/tenants", token=tok), 403, "forbidden", None)
    assert_error(api.get("/v1/nope"), 404, "not_found", None)
    assert_error(api.request("PATCH", "/v1/plans"), 405, "method_not_allowed", None)


def test_control_characters_in_paths_and_made_up_methods(env):
    """A decoded path with a control character is refused before any handler (nothing can forge
    a log line with %0a), and a made-up method is counted as "other" in /metrics, never as a
    label of the client's choosing. Raw requests: these paths are in no route of the spec."""
    url = env.server.url
    tok = {"Authorization": "Bearer " + env.server.operator_token()}
    for path in ("/v1/instances/x%0aevent=forged", "/v1/tenants%0d", "/v1/plans/%7f"):
        r = requests.get(url + path, headers=tok, timeout=10)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "invalid_path"
    # raw socket: client libraries refuse odd method names
    for m in (b"FORGED", b"X}Y{"):
        with socket.create_connection(("127.0.0.1", env.server.port), timeout=10) as sk:
            sk.sendall(m + b" /v1/plans HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while sk.recv(4096):
                pass
    text = requests.get(url + "/metrics", headers=tok, timeout=10).text
    assert "FORGED" not in text and "X}Y{" not in text
    assert 'method="other"' in text
    assert "event=forged" not in env.server.log_tail(10000)
