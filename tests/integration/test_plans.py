"""Plans: create (operator), list and get (any token), delete (operator, refused while in use)."""

from conftest import assert_error, expect, is_timestamp, uniq, wait_until

PLAN_KEYS = {"name", "cpu_millis", "memory_mb", "disk_mb", "read_iops", "write_iops", "read_bps",
             "write_bps", "created_at"}


def test_plan_create_list_get_delete(api, mk_tenant, client):
    name = uniq("small")
    p = expect(api.post("/v1/plans", {"name": name, "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}), 201)
    assert PLAN_KEYS <= set(p), p
    assert (p["name"], p["cpu_millis"], p["memory_mb"], p["disk_mb"]) == (name, 500, 512, 1024)
    assert (p["read_iops"], p["write_iops"], p["read_bps"], p["write_bps"]) == (0, 0, 0, 0)
    assert is_timestamp(p["created_at"])

    assert expect(api.get("/v1/plans/" + name), 200) == p
    assert [x for x in api.list_all("/v1/plans") if x["name"] == name] == [p]

    # any token may read plans
    _, tok = mk_tenant()
    t = client(tok)
    assert expect(t.get("/v1/plans/" + name), 200) == p
    assert name in [x["name"] for x in t.list_all("/v1/plans")]

    assert api.delete("/v1/plans/" + name).status_code == 204
    assert_error(api.get("/v1/plans/" + name), 404, "not_found")
    assert name not in [x["name"] for x in api.list_all("/v1/plans")]
    assert_error(api.delete("/v1/plans/" + name), 404, "not_found")


def test_plan_io_limits(api):
    name = uniq("io")
    body = {"name": name, "cpu_millis": 1, "memory_mb": 1, "disk_mb": 1,
            "read_iops": 100, "write_iops": 200, "read_bps": 1048576, "write_bps": 2097152}
    p = expect(api.post("/v1/plans", body), 201)
    for k, v in body.items():
        assert p[k] == v, k


def test_plan_duplicate_conflict(api, mk_plan):
    name = mk_plan()
    assert_error(api.post("/v1/plans", {"name": name, "cpu_millis": 1, "memory_mb": 1, "disk_mb": 1}),
                 409, "conflict")


def test_plan_invalid_fields(api):
    ok = {"name": uniq("bad"), "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}
    cases = [
        (dict(ok, cpu_millis=0), "cpu_millis"),
        (dict(ok, memory_mb=-5), "memory_mb"),
        (dict(ok, disk_mb="1024"), "disk_mb"),
        (dict(ok, cpu_millis=1.5), "cpu_millis"),
        (dict(ok, read_iops=-1), "read_iops"),
        (dict(ok, write_bps=None), "write_bps"),
        (dict(ok, name="Bad_Name"), "name"),
        (dict(ok, name=""), "name"),
        (dict(ok, name="a" * 64), "name"),
        (dict(ok, name="1abc"), "name"),
        (dict(ok, iops=5), "iops"),
        ({k: v for k, v in ok.items() if k != "disk_mb"}, "disk_mb"),
        ({k: v for k, v in ok.items() if k != "name"}, "name"),
    ]
    for body, field in cases:
        assert_error(api.post("/v1/plans", body), 400, "invalid_field", field)
    assert_error(api.get("/v1/plans/" + ok["name"]), 404, "not_found")
    # the longest valid name
    longest = "p" + "-" * 10 + "x" * 52
    assert len(longest) == 63
    expect(api.post("/v1/plans", dict(ok, name=longest)), 201)
    api.delete("/v1/plans/" + longest)


def test_plan_delete_refused_while_in_use(api, mk_tenant, mk_plan, mk_instance, client):
    name, tok = mk_tenant()
    plan = mk_plan()
    inst = mk_instance(tok, plan)
    assert_error(api.delete("/v1/plans/" + plan), 409, "conflict")
    expect(api.get("/v1/plans/" + plan), 200)

    expect(client(tok).delete("/v1/instances/" + inst["id"]), 202)
    wait_until(lambda: inst["id"] not in [i["id"] for i in client(tok).list_all("/v1/instances")],
               what="instance finalized to deleted")
    # a deleted instance no longer holds the plan
    assert api.delete("/v1/plans/" + plan).status_code == 204
