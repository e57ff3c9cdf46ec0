"""Tenants, their tokens and quotas (operator routes)."""

from conftest import assert_error, expect, is_timestamp, uniq, wait_until

NULL_QUOTA = {"max_instances": None, "cpu_millis": None, "memory_mb": None, "disk_mb": None}
ZERO_USAGE = {"instances": 0, "cpu_millis": 0, "memory_mb": 0, "disk_mb": 0}


def test_tenant_create_get_list_delete(api):
    name = uniq("acme")
    t = expect(api.post("/v1/tenants", {"name": name}), 201)
    assert {"name", "created_at", "quota", "usage"} <= set(t), t
    assert t["name"] == name
    assert is_timestamp(t["created_at"]), t
    assert t["quota"] == NULL_QUOTA
    assert t["usage"] == ZERO_USAGE

    assert expect(api.get("/v1/tenants/" + name), 200) == t
    names = [x["name"] for x in api.list_all("/v1/tenants")]
    assert names.count(name) == 1

    assert api.delete("/v1/tenants/" + name).status_code == 204
    assert_error(api.get("/v1/tenants/" + name), 404, "not_found")
    assert name not in [x["name"] for x in api.list_all("/v1/tenants")]
    assert_error(api.delete("/v1/tenants/" + name), 404, "not_found")


def test_tenant_list_is_oldest_first(api):
    names = [uniq("ord") for _ in range(3)]
    for n in names:
        expect(api.post("/v1/tenants", {"name": n}), 201)
    listed = [x["name"] for x in api.list_all("/v1/tenants", limit=1000)]
    pos = [listed.index(n) for n in names]
    assert pos == sorted(pos)


def test_tenant_duplicate_name_conflict(api):
    name = uniq("dup")
    expect(api.post("/v1/tenants", {"name": name}), 201)
    assert_error(api.post("/v1/tenants", {"name": name}), 409, "conflict")


def test_tenant_unknown_is_404(api):
    missing = uniq("nosuch")
    assert_error(api.get("/v1/tenants/" + missing), 404, "not_found")
    assert_error(api.post("/v1/tenants/%s/tokens" % missing), 404, "not_found")
    assert_error(api.get("/v1/tenants/%s/tokens" % missing), 404, "not_found")
    assert_error(api.put("/v1/tenants/%s/quota" % missing, {}), 404, "not_found")


def test_tenant_delete_refused_while_it_owns_an_instance(api, mk_tenant, mk_plan, mk_instance, client):
    name, tok = mk_tenant()
    plan = mk_plan()
    inst = mk_instance(tok, plan)
    err = assert_error(api.delete("/v1/tenants/" + name), 409, "conflict")
    assert err["message"]
    expect(api.get("/v1/tenants/" + name), 200)
    # the tenant token still works: nothing was revoked by the refused delete
    expect(client(tok).get("/v1/instances"), 200)

    d = expect(client(tok).delete("/v1/instances/" + inst["id"]), 202)
    assert d["status"] == "deleting"
    # still refused while the instance is deleting (it is not deleted yet) or once it is gone
    wait_until(lambda: inst["id"] not in [i["id"] for i in api.list_all("/v1/instances", {"tenant": name})],
               what="instance %s finalized to deleted" % inst["id"])
    assert api.delete("/v1/tenants/" + name).status_code == 204
    # deleting the tenant revoked its tokens
    assert_error(client(tok).get("/v1/instances"), 401, "unauthenticated")


def test_tenant_delete_revokes_its_tokens(api, mk_tenant, client):
    name, tok = mk_tenant()
    tok2 = expect(api.post("/v1/tenants/%s/tokens" % name), 201)["token"]
    for t in (tok, tok2):
        expect(client(t).get("/v1/instances"), 200)
    assert api.delete("/v1/tenants/" + name).status_code == 204
    for t in (tok, tok2):
        assert_error(client(t).get("/v1/instances"), 401, "unauthenticated")
        assert_error(client(t).get("/v1/plans"), 401, "unauthenticated")
    # a tenant of the same name made again does not bring the old tokens back
    expect(api.post("/v1/tenants", {"name": name}), 201)
    assert_error(client(tok).get("/v1/instances"), 401, "unauthenticated")


def test_tokens_create_list_revoke(api, client):
    name = uniq("tok")
    expect(api.post("/v1/tenants", {"name": name}), 201)
    a = expect(api.post("/v1/tenants/%s/tokens" % name), 201)
    assert {"id", "tenant", "token", "created_at"} <= set(a), a
    assert a["tenant"] == name
    assert a["token"].startswith("dbaas_tn_")
    assert is_timestamp(a["created_at"])
    # an empty object is accepted as the body too
    b = expect(api.post("/v1/tenants/%s/tokens" % name, {}), 201)
    assert b["id"] != a["id"] and b["token"] != a["token"]

    r = api.get("/v1/tenants/%s/tokens" % name)
    body = expect(r, 200)
    assert a["token"] not in r.text and b["token"] not in r.text
    items = api.list_all("/v1/tenants/%s/tokens" % name)
    assert [t["id"] for t in items] == [a["id"], b["id"]]
    for t in items:
        assert {"id", "tenant", "created_at"} <= set(t) and "token" not in t, t
        assert t["tenant"] == name
    assert body["next"] is None

    ca, cb = client(a["token"]), client(b["token"])
    expect(ca.get("/v1/instances"), 200)
    expect(cb.get("/v1/instances"), 200)

    assert api.delete("/v1/tenants/%s/tokens/%s" % (name, a["id"])).status_code == 204
    # refused on the very next request, the other token unaffected
    assert_error(ca.get("/v1/instances"), 401, "unauthenticated")
    expect(cb.get("/v1/instances"), 200)
    assert [t["id"] for t in api.list_all("/v1/tenants/%s/tokens" % name)] == [b["id"]]

    assert_error(api.delete("/v1/tenants/%s/tokens/%s" % (name, a["id"])), 404, "not_found")
    assert_error(api.delete("/v1/tenants/%s/tokens/%s" % (name, "nosuchtoken")), 404, "not_found")


def test_token_of_another_tenant_cannot_be_revoked_through_this_one(api, mk_tenant, client):
    a_name, a_tok = mk_tenant()
    b_name, _ = mk_tenant()
    a_id = api.list_all("/v1/tenants/%s/tokens" % a_name)[0]["id"]
    assert_error(api.delete("/v1/tenants/%s/tokens/%s" % (b_name, a_id)), 404, "not_found")
    expect(client(a_tok).get("/v1/instances"), 200)


def test_quota_set(api):
    name = uniq("quota")
    expect(api.post("/v1/tenants", {"name": name}), 201)
    t = expect(api.put("/v1/tenants/%s/quota" % name,
                       {"max_instances": 3, "cpu_millis": 2000, "memory_mb": 4096, "disk_mb": 0}), 200)
    assert t["name"] == name
    assert t["quota"] == {"max_instances": 3, "cpu_millis": 2000, "memory_mb": 4096, "disk_mb": 0}
    assert expect(api.get("/v1/tenants/" + name), 200)["quota"] == t["quota"]

    # a missing field means null (unlimited)
    t = expect(api.put("/v1/tenants/%s/quota" % name, {"max_instances": 7}), 200)
    assert t["quota"] == dict(NULL_QUOTA, max_instances=7)
    t = expect(api.put("/v1/tenants/%s/quota" % name, {"cpu_millis": None, "memory_mb": 10}), 200)
    assert t["quota"] == dict(NULL_QUOTA, memory_mb=10)
    t = expect(api.put("/v1/tenants/%s/quota" % name, {}), 200)
    assert t["quota"] == NULL_QUOTA
    assert t["usage"] == ZERO_USAGE


def test_quota_set_invalid(api):
    name = uniq("quota")
    expect(api.post("/v1/tenants", {"name": name}), 201)
    path = "/v1/tenants/%s/quota" % name
    assert_error(api.put(path, {"max_instances": -1}), 400, "invalid_field", "max_instances")
    assert_error(api.put(path, {"cpu_millis": "1000"}), 400, "invalid_field", "cpu_millis")
    assert_error(api.put(path, {"memory_mb": 1.5}), 400, "invalid_field", "memory_mb")
    assert_error(api.put(path, {"disk_mb": True}), 400, "invalid_field", "disk_mb")
    assert_error(api.put(path, {"max_instance": 1}), 400, "invalid_field", "max_instance")
    assert_error(api.put(path, data="[1]", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    # nothing changed
    assert expect(api.get("/v1/tenants/" + name), 200)["quota"] == NULL_QUOTA


def test_usage_counts_members(api, mk_tenant, mk_plan, mk_instance):
    name, tok = mk_tenant()
    plan = mk_plan(cpu_millis=250, memory_mb=128, disk_mb=1000)
    mk_instance(tok, plan)
    mk_instance(tok, plan, replicas=2)
    t = expect(api.get("/v1/tenants/" + name), 200)
    assert t["usage"] == {"instances": 2, "cpu_millis": 4 * 250, "memory_mb": 4 * 128, "disk_mb": 4 * 1000}
