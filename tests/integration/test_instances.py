"""Instances: create, credentials and what dbaasd keeps of them, list with pagination, get, resize,
delete."""

import base64
import hashlib
import hmac
import re

from conftest import UUID_RE, assert_error, expect, is_timestamp, uniq, wait_until

INSTANCE_KEYS = {"id", "name", "tenant", "engine", "version", "plan", "replicas", "status",
                 "status_reason", "host", "created_at", "updated_at"}


def check_instance(i, **want):
    assert INSTANCE_KEYS <= set(i), i
    assert "credentials" not in i and "verifier" not in i and "password" not in i
    assert UUID_RE.fullmatch(i["id"]), i["id"]
    assert is_timestamp(i["created_at"]) and is_timestamp(i["updated_at"]), i
    for k, v in want.items():
        assert i[k] == v, (k, i)


def test_create_instance(env, mk_tenant, mk_plan, client):
    tname, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    name = uniq("db")
    r = c.post("/v1/instances", {"name": name, "engine": "postgres", "plan": plan})
    body = expect(r, 202)
    assert r.headers.get("Idempotent-Replayed") in (None, "false"), r.headers
    cred = body.pop("credentials")
    # the answer is read after the create waited (up to 1 s) for a placement: with no host able
    # to take it, the scheduler may already have tried and said why (docs/api.md)
    reason = body["status_reason"]
    assert reason is None or reason.startswith("no host fits"), reason
    check_instance(body, name=name, tenant=tname, engine="postgres", version="15", plan=plan,
                   replicas=0, status="pending", status_reason=reason, host=None)
    assert set(cred) == {"username", "password", "database", "uri"}
    assert cred["username"] == "app" and cred["database"] == "app"
    assert re.fullmatch(r"[A-Za-z0-9]{32}", cred["password"]), cred
    # not placed yet (no host here): the URI has everything but the hosts
    assert cred["uri"] == "postgresql://app:%s@/app?target_session_attrs=read-write" % cred["password"]

    # the password (and any verifier) is never returned again
    for resp in (c.get("/v1/instances/" + body["id"]), c.get("/v1/instances"),
                 c.get("/v1/events"), env.op.get("/v1/instances/" + body["id"]),
                 env.op.get("/v1/instances", params={"tenant": tname}), env.op.get("/v1/events"),
                 env.op.get("/v1/tenants/" + tname)):
        assert resp.status_code == 200, resp.text
        assert cred["password"] not in resp.text
        assert "SCRAM-SHA-256" not in resp.text
        assert "credentials" not in resp.text
        assert "postgresql://app:" not in resp.text
    got = expect(c.get("/v1/instances/" + body["id"]), 200)
    # status_reason and updated_at may change already (the scheduler looks at pending instances)
    for k in ("id", "name", "tenant", "engine", "version", "plan", "replicas", "created_at"):
        assert got[k] == body[k], k


def test_create_instance_engines_and_versions(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    for engine, version in (("postgres", "15"), ("mysql", "10.11"), ("redis", "7")):
        b = expect(c.post("/v1/instances", {"name": uniq(engine), "engine": engine, "plan": plan}), 202)
        assert (b["engine"], b["version"]) == (engine, version)
        assert b["credentials"]["username"] == "app"
        assert len(b["credentials"]["password"]) == 32
        b = expect(c.post("/v1/instances", {"name": uniq(engine), "engine": engine, "plan": plan,
                                           "version": version, "replicas": 5}), 202)
        assert (b["version"], b["replicas"]) == (version, 5)
    assert_error(c.post("/v1/instances", {"name": uniq("v"), "engine": "postgres", "plan": plan,
                                         "version": "9.6"}), 400, "invalid_field", "version")
    assert_error(c.post("/v1/instances", {"name": uniq("v"), "engine": "oracle", "plan": plan}),
                 400, "invalid_field", "engine")


# The engines' minimum memory (docs/engines.md)
MIN_MEMORY_MB = {"postgres": 64, "mysql": 128, "redis": 32}


def test_plan_too_small(mk_tenant, mk_plan, mk_instance, client):
    """A plan whose memory is below what the engine needs: 422 plan_too_small naming the minimum,
    at create and at resize; exactly the minimum is fine."""
    _, tok = mk_tenant()
    c = client(tok)
    for engine, least in MIN_MEMORY_MB.items():
        small = mk_plan(memory_mb=least - 1)
        err = assert_error(c.post("/v1/instances", {"name": uniq("db"), "engine": engine, "plan": small}),
                           422, "plan_too_small")
        assert str(least) in err["message"], err
        ok = mk_plan(memory_mb=least)
        inst = mk_instance(tok, ok, engine=engine)
        err = assert_error(c.patch("/v1/instances/" + inst["id"], {"plan": small}), 422, "plan_too_small")
        assert str(least) in err["message"], err
        assert expect(c.get("/v1/instances/" + inst["id"]), 200)["plan"] == ok
    # nothing was created by the refused requests
    assert len(c.list_all("/v1/instances")) == len(MIN_MEMORY_MB)


def test_passwords_differ(mk_tenant, mk_plan, mk_instance):
    _, tok = mk_tenant()
    plan = mk_plan()
    pw = {mk_instance(tok, plan)["credentials"]["password"] for _ in range(3)}
    assert len(pw) == 3


SCRAM_RE = r"SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+"


def scram_matches(verifier, password):
    """Whether a PostgreSQL SCRAM-SHA-256 verifier was made from password."""
    head, keys = verifier.split("$", 1)[1].split("$")
    iterations, salt = head.split(":")
    stored_key, server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (base64.b64decode(stored_key) == hashlib.sha256(client_key).digest() and
            base64.b64decode(server_key) == hmac.new(salted, b"Server Key", hashlib.sha256).digest())


def test_store_keeps_only_verifiers(env, server, mk_tenant, mk_plan, mk_instance):
    """dbaasd keeps the engines' verifiers, never a password or an API token in clear."""
    tname, tok = mk_tenant()
    plan = mk_plan()
    pg = mk_instance(tok, plan, engine="postgres")
    my = mk_instance(tok, plan, engine="mysql")
    rd = mk_instance(tok, plan, engine="redis")
    pg_pw, my_pw, rd_pw = (i["credentials"]["password"] for i in (pg, my, rd))
    my_hash = "*" + hashlib.sha1(hashlib.sha1(my_pw.encode()).digest()).hexdigest().upper()
    rd_hash = hashlib.sha256(rd_pw.encode()).hexdigest()
    secrets = [pg_pw, my_pw, rd_pw, tok, env.op.token]
    scan = server.store_scan([pg["id"], my_hash, rd_hash] + secrets, patterns=[SCRAM_RE])
    found = scan["found"]
    # the scan does see the store's data ...
    assert found[pg["id"]], scan
    # ... and no plain secret in it: passwords and API tokens are kept only as verifiers/hashes
    for secret in secrets:
        assert found[secret] == [], "a secret is stored in clear in %s" % found[secret]
    # the verifiers are the engines' own
    assert found[my_hash], "no mysql_native_password hash of the MariaDB password stored"
    assert found[rd_hash], "no SHA-256 (Redis ACL) of the Redis password stored"
    verifiers = scan["matches"][SCRAM_RE]
    assert any(scram_matches(v, pg_pw) for v in verifiers), "no SCRAM-SHA-256 verifier of the password"
    # and the API never hands a verifier out
    for resp in (env.op.get("/v1/instances/" + my["id"]), env.op.get("/v1/instances/" + rd["id"]),
                 env.op.get("/v1/instances", params={"tenant": tname})):
        assert my_hash not in resp.text and rd_hash not in resp.text and "SCRAM" not in resp.text


def test_create_unknown_plan(mk_tenant, client):
    _, tok = mk_tenant()
    r = client(tok).post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": uniq("nosuch")})
    assert r.status_code in (400, 404), r.text
    if r.status_code == 400:
        assert_error(r, 400, "invalid_field", "plan")
    else:
        assert_error(r, 404, "not_found")


def test_duplicate_instance_name(mk_tenant, mk_plan, mk_instance, client):
    _, tok = mk_tenant()
    _, tok2 = mk_tenant()
    plan = mk_plan()
    a = mk_instance(tok, plan)
    assert_error(client(tok).post("/v1/instances", {"name": a["name"], "engine": "redis", "plan": plan}),
                 409, "conflict")
    # unique per tenant only
    mk_instance(tok2, plan, name=a["name"])
    # and only among instances not deleted
    expect(client(tok).delete("/v1/instances/" + a["id"]), 202)
    wait_until(lambda: a["id"] not in [i["id"] for i in client(tok).list_all("/v1/instances")],
               what="instance finalized to deleted")
    b = mk_instance(tok, plan, name=a["name"])
    assert b["id"] != a["id"]


def test_list_pagination(mk_tenant, mk_plan, mk_instance, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    ids = [mk_instance(tok, plan)["id"] for _ in range(5)]

    seen = []
    pages = 0
    after = None
    while True:
        params = {"limit": 2}
        if after:
            params["after"] = after
        page = expect(c.get("/v1/instances", params=params), 200)
        assert set(page) == {"items", "next"}
        assert len(page["items"]) <= 2
        for i in page["items"]:
            check_instance(i)
        seen += [i["id"] for i in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
        assert pages < 10
    assert len(seen) == len(set(seen)), "duplicates across pages"
    assert seen == ids, "all seen, oldest first"
    assert pages == 3

    full = expect(c.get("/v1/instances"), 200)
    assert [i["id"] for i in full["items"]] == ids
    assert full["next"] is None
    one = expect(c.get("/v1/instances", params={"limit": 1000}), 200)
    assert [i["id"] for i in one["items"]] == ids


def test_list_bad_limit_and_cursor(mk_tenant, client, api):
    _, tok = mk_tenant()
    c = client(tok)
    for bad in ("0", "1001", "-1", "abc", "", "2.5", "1e2"):
        assert_error(c.get("/v1/instances", params={"limit": bad}), 400, "invalid_field", "limit")
    for bad in ("garbage", "!!!", "0", "bm90LWEtY3Vyc29y"):
        assert_error(c.get("/v1/instances", params={"after": bad}), 400, "invalid_field", "after")
    for path in ("/v1/tenants", "/v1/plans", "/v1/events", "/v1/hosts"):
        assert_error(api.get(path, params={"limit": "0"}), 400, "invalid_field", "limit")
        assert_error(api.get(path, params={"after": "garbage"}), 400, "invalid_field", "after")
    assert_error(api.get("/v1/instances", params={"tenant": "Bad_Name"}), 400, "invalid_field", "tenant")


def test_operator_lists_all_and_filters_by_tenant(api, mk_tenant, mk_plan, mk_instance):
    a, ta = mk_tenant()
    b, tb = mk_tenant()
    plan = mk_plan()
    ia = mk_instance(ta, plan)
    ib = mk_instance(tb, plan)
    allids = [i["id"] for i in api.list_all("/v1/instances", limit=1000)]
    assert ia["id"] in allids and ib["id"] in allids
    only_a = api.list_all("/v1/instances", {"tenant": a})
    assert [i["id"] for i in only_a] == [ia["id"]]
    assert only_a[0]["tenant"] == a
    assert api.list_all("/v1/instances", {"tenant": uniq("nobody")}) == []
    # the operator may read any instance
    assert expect(api.get("/v1/instances/" + ib["id"]), 200)["tenant"] == b


def test_operator_creates_for_a_tenant(api, mk_tenant, mk_plan, client):
    a, ta = mk_tenant()
    plan = mk_plan()
    b = expect(api.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan, "tenant": a}), 202)
    assert b["tenant"] == a
    assert b["credentials"]["username"] == "app"
    assert b["id"] in [i["id"] for i in client(ta).list_all("/v1/instances")]
    # a tenant may not name a tenant
    r = client(ta).post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan, "tenant": a})
    assert r.status_code in (400, 403), r.text
    if r.status_code == 400:
        assert_error(r, 400, "invalid_field", "tenant")
    else:
        assert_error(r, 403, "forbidden")


def test_get_unknown_and_malformed_id(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    assert_error(c.get("/v1/instances/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert_error(c.get("/v1/instances/not-a-uuid"), 404, "not_found")
    assert_error(c.patch("/v1/instances/00000000-0000-4000-8000-000000000000", {"plan": plan}), 404, "not_found")
    assert_error(c.delete("/v1/instances/00000000-0000-4000-8000-000000000000"), 404, "not_found")


def test_resize(api, mk_tenant, mk_plan, mk_instance, client):
    tname, tok = mk_tenant(quota={"cpu_millis": 1000, "memory_mb": 4096, "disk_mb": 10240})
    small = mk_plan(cpu_millis=500)
    fits = mk_plan(cpu_millis=1000)
    big = mk_plan(cpu_millis=1500)
    hungry = mk_plan(cpu_millis=500, memory_mb=8192)
    c = client(tok)
    inst = mk_instance(tok, small)

    # the quota is re-checked, counting the new plan instead of the old one
    err = assert_error(c.patch("/v1/instances/" + inst["id"], {"plan": big}), 409, "quota_exceeded", "cpu_millis")
    assert err["message"]
    assert_error(c.patch("/v1/instances/" + inst["id"], {"plan": hungry}), 409, "quota_exceeded", "memory_mb")
    assert expect(c.get("/v1/instances/" + inst["id"]), 200)["plan"] == small

    r = expect(c.patch("/v1/instances/" + inst["id"], {"plan": fits}), 202)
    check_instance(r, id=inst["id"], plan=fits)
    assert expect(c.get("/v1/instances/" + inst["id"]), 200)["plan"] == fits
    t = expect(api.get("/v1/tenants/" + tname), 200)
    assert t["usage"]["cpu_millis"] == 1000

    # the operator may resize too
    r = expect(api.patch("/v1/instances/" + inst["id"], {"plan": small}), 202)
    assert r["plan"] == small

    assert_error(c.patch("/v1/instances/" + inst["id"], {"plan": "Bad_Name"}), 400, "invalid_field", "plan")
    assert_error(c.patch("/v1/instances/" + inst["id"], {"plan": small, "replicas": 6}), 400, "invalid_field", "replicas")
    assert_error(c.patch("/v1/instances/" + inst["id"], {"plan": small, "color": 1}), 400, "invalid_field", "color")
    assert_error(c.patch("/v1/instances/" + inst["id"], {}), 400, "invalid_field", "plan")
    r = c.patch("/v1/instances/" + inst["id"], {"plan": uniq("nosuch")})
    assert r.status_code in (400, 404), r.text


def test_resize_refused_while_deleting(mk_tenant, mk_plan, mk_instance, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    other = mk_plan()
    c = client(tok)
    inst = mk_instance(tok, plan)
    expect(c.delete("/v1/instances/" + inst["id"]), 202)
    r = c.patch("/v1/instances/" + inst["id"], {"plan": other})
    # 409 while deleting; once finalized it may already be gone (404)
    assert r.status_code in (409, 404), r.text
    assert_error(r, r.status_code, "conflict" if r.status_code == 409 else "not_found")


def test_delete(api, mk_tenant, mk_plan, mk_instance, client):
    tname, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    keep = mk_instance(tok, plan)
    inst = mk_instance(tok, plan)
    d = expect(c.delete("/v1/instances/" + inst["id"]), 202)
    check_instance(d, id=inst["id"], status="deleting", name=inst["name"])
    again = c.delete("/v1/instances/" + inst["id"])
    # 409 if already deleting (or 404 once it was finalized)
    assert again.status_code in (409, 404), again.text
    assert_error(again, again.status_code, "conflict" if again.status_code == 409 else "not_found")

    # no host: dbaasd finalizes it to deleted, and lists leave it out
    wait_until(lambda: inst["id"] not in [i["id"] for i in c.list_all("/v1/instances")],
               what="instance %s to leave the list" % inst["id"])
    assert [i["id"] for i in c.list_all("/v1/instances")] == [keep["id"]]
    assert inst["id"] not in [i["id"] for i in api.list_all("/v1/instances", {"tenant": tname})]
    t = expect(api.get("/v1/tenants/" + tname), 200)
    assert t["usage"]["instances"] == 1
    kinds = [e["kind"] for e in c.list_all("/v1/events", {"instance": inst["id"]})]
    assert kinds[0] == "instance.created", kinds
    assert len(kinds) >= 2, kinds
