"""Idempotency-Key on POST /v1/instances."""

import threading

from conftest import assert_error, expect, uniq


def test_replay_returns_the_same_instance(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    body = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    key = "key-" + uniq("k")

    r1 = c.post("/v1/instances", body, headers={"Idempotency-Key": key})
    first = expect(r1, 202)
    assert r1.headers.get("Idempotent-Replayed") in (None, "false")
    assert first["credentials"]["username"] == "app"

    r2 = c.post("/v1/instances", body, headers={"Idempotency-Key": key})
    again = expect(r2, 202)
    assert r2.headers.get("Idempotent-Replayed") == "true", dict(r2.headers)
    assert again["id"] == first["id"]
    assert "credentials" not in again
    assert first["credentials"]["password"] not in r2.text
    assert again["name"] == body["name"] and again["plan"] == plan

    # a third time still replays
    r3 = c.post("/v1/instances", body, headers={"Idempotency-Key": key})
    assert expect(r3, 202)["id"] == first["id"]
    assert r3.headers.get("Idempotent-Replayed") == "true"

    items = c.list_all("/v1/instances")
    assert [i["id"] for i in items] == [first["id"]], "only one instance created"


def test_same_key_different_body_is_422(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    key = uniq("k")
    body = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    first = expect(c.post("/v1/instances", body, headers={"Idempotency-Key": key}), 202)
    assert_error(c.post("/v1/instances", dict(body, name=uniq("db")), headers={"Idempotency-Key": key}),
                 422, "idempotency_mismatch")
    assert_error(c.post("/v1/instances", dict(body, replicas=1), headers={"Idempotency-Key": key}),
                 422, "idempotency_mismatch")
    assert [i["id"] for i in c.list_all("/v1/instances")] == [first["id"]]


def test_keys_are_per_tenant(mk_tenant, mk_plan, client):
    _, ta = mk_tenant()
    _, tb = mk_tenant()
    plan = mk_plan()
    key = uniq("shared")
    body = {"name": uniq("db"), "engine": "redis", "plan": plan}
    a = client(ta).post("/v1/instances", body, headers={"Idempotency-Key": key})
    b = client(tb).post("/v1/instances", body, headers={"Idempotency-Key": key})
    ia, ib = expect(a, 202), expect(b, 202)
    assert ia["id"] != ib["id"]
    assert b.headers.get("Idempotent-Replayed") in (None, "false")
    assert "credentials" in ib


def test_without_key_a_retry_is_a_new_create(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    body = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    expect(c.post("/v1/instances", body), 202)
    assert_error(c.post("/v1/instances", body), 409, "conflict")


def test_concurrent_retries_create_one_instance(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    key = uniq("race")
    body = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    n = 8
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(k):
        c = client(tok)
        barrier.wait(10)
        r = c.post("/v1/instances", body, headers={"Idempotency-Key": key})
        results[k] = (r.status_code, r.json(), r.headers.get("Idempotent-Replayed"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None for r in results)
    # every answer is the same instance; exactly one carries credentials, the others are replays
    ok = [r for r in results if r[0] == 202]
    assert len(ok) == n, results
    assert len({r[1]["id"] for r in ok}) == 1
    fresh = [r for r in ok if "credentials" in r[1]]
    assert len(fresh) == 1, results
    assert sum(1 for r in ok if r[2] == "true") == n - 1
    assert len(client(tok).list_all("/v1/instances")) == 1


def test_invalid_key(mk_tenant, mk_plan, client):
    _, tok = mk_tenant()
    plan = mk_plan()
    c = client(tok)
    body = {"name": uniq("db"), "engine": "postgres", "plan": plan}
    r = c.post("/v1/instances", body, headers={"Idempotency-Key": "k" * 256})
    # the header is outside the 1..255 printable ASCII characters the contract allows
    assert_error(r, 400, "invalid_field")
    assert c.list_all("/v1/instances") == []
