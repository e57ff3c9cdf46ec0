"""Quotas on create: each limit, replicas counting 1 + r members, and concurrent creates."""

import threading

from conftest import assert_error, expect, uniq, wait_until


def create(c, plan, **kw):
    body = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    body.update(kw)
    return c.post("/v1/instances", body)


def test_each_limit(mk_tenant, mk_plan, client, api):
    plan = mk_plan(cpu_millis=500, memory_mb=512, disk_mb=1024)
    for limit, value in (("max_instances", 2), ("cpu_millis", 1000), ("memory_mb", 1024), ("disk_mb", 2048)):
        tname, tok = mk_tenant(quota={limit: value})
        c = client(tok)
        expect(create(c, plan), 202)
        expect(create(c, plan), 202)
        err = assert_error(create(c, plan), 409, "quota_exceeded", limit)
        assert err["message"]
        assert len(c.list_all("/v1/instances")) == 2
        # raising the limit lets the next create through
        expect(api.put("/v1/tenants/%s/quota" % tname, {limit: value * 2}), 200)
        expect(create(c, plan), 202)


def test_zero_quota(mk_tenant, mk_plan, client):
    _, tok = mk_tenant(quota={"max_instances": 0})
    plan = mk_plan()
    assert_error(create(client(tok), plan), 409, "quota_exceeded", "max_instances")


def test_replicas_count_as_members(mk_tenant, mk_plan, client, api):
    tname, tok = mk_tenant(quota={"cpu_millis": 1500})
    plan = mk_plan(cpu_millis=500)
    c = client(tok)
    assert_error(create(c, plan, replicas=3), 409, "quota_exceeded", "cpu_millis")
    i = expect(create(c, plan, replicas=2), 202)
    assert i["replicas"] == 2
    assert_error(create(c, plan), 409, "quota_exceeded", "cpu_millis")
    t = expect(api.get("/v1/tenants/" + tname), 200)
    assert t["usage"] == {"instances": 1, "cpu_millis": 1500, "memory_mb": 3 * 512, "disk_mb": 3 * 1024}
    # max_instances counts instances, not members
    tname2, tok2 = mk_tenant(quota={"max_instances": 1})
    expect(create(client(tok2), plan, replicas=5), 202)


def test_deleted_instances_free_quota(mk_tenant, mk_plan, client):
    _, tok = mk_tenant(quota={"max_instances": 1})
    plan = mk_plan()
    c = client(tok)
    i = expect(create(c, plan), 202)
    assert_error(create(c, plan), 409, "quota_exceeded", "max_instances")
    expect(c.delete("/v1/instances/" + i["id"]), 202)
    wait_until(lambda: c.list_all("/v1/instances") == [], what="instance finalized to deleted")
    expect(create(c, plan), 202)


def test_quota_race(mk_tenant, mk_plan, client, api):
    tname, tok = mk_tenant(quota={"max_instances": 5})
    plan = mk_plan()
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(k):
        c = client(tok)
        body = {"name": "race-%02d" % k, "engine": "postgres", "plan": plan}
        try:
            barrier.wait(10)
            r = c.post("/v1/instances", body)
            results[k] = r
        except Exception as e:  # reported below
            results[k] = e

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    errors = [r for r in results if not hasattr(r, "status_code")]
    assert errors == [], errors
    codes = sorted(r.status_code for r in results)
    assert codes.count(202) == 5, [(r.status_code, r.text[:200]) for r in results]
    assert codes.count(409) == 15, [(r.status_code, r.text[:200]) for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "quota_exceeded", "max_instances")
    created = {r.json()["id"] for r in results if r.status_code == 202}
    listed = client(tok).list_all("/v1/instances")
    assert {i["id"] for i in listed} == created
    assert len(listed) == 5
    t = expect(api.get("/v1/tenants/" + tname), 200)
    assert t["usage"]["instances"] == 5
