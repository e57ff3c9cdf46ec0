"""GET /v1/events: a tenant sees only its own; the operator sees all and filters."""

from conftest import assert_error, expect, is_timestamp, uniq

def starts_with(later, earlier):
    """Events are only ever appended: a later listing starts with an earlier one."""
    return later[:len(earlier)] == earlier


EVENT_KEYS = {"id", "at", "tenant", "instance_id", "actor", "kind", "message"}


def test_events(api, mk_tenant, mk_plan, mk_instance, client):
    a, ta = mk_tenant()
    b, tb = mk_tenant()
    plan = mk_plan()
    plan2 = mk_plan()
    ia = mk_instance(ta, plan)
    ib = mk_instance(tb, plan)
    ca, cb = client(ta), client(tb)
    expect(ca.patch("/v1/instances/" + ia["id"], {"plan": plan2}), 202)

    ev_a = ca.list_all("/v1/events")
    assert ev_a, "tenant sees its events"
    for e in ev_a:
        assert EVENT_KEYS <= set(e), e
        assert e["tenant"] == a, e
        assert isinstance(e["id"], int)
        assert is_timestamp(e["at"])
        assert isinstance(e["message"], str) and e["message"]
    assert ib["id"] not in str(ev_a)
    ids = [e["id"] for e in ev_a]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "oldest first, no duplicates"

    created = [e for e in ev_a if e["kind"] == "instance.created" and e["instance_id"] == ia["id"]]
    assert len(created) == 1, ev_a
    c = created[0]
    assert c["actor"] == "tenant:" + a
    assert ia["name"] in c["message"] and plan in c["message"], c

    ev_b = cb.list_all("/v1/events")
    assert all(e["tenant"] == b for e in ev_b)
    assert ia["id"] not in str(ev_b)
    assert [e["instance_id"] for e in ev_b if e["kind"] == "instance.created"] == [ib["id"]]

    # operator: all, or one tenant's
    everything = api.list_all("/v1/events", limit=1000)
    all_ids = {e["id"] for e in everything}
    assert set(ids) <= all_ids and {e["id"] for e in ev_b} <= all_ids
    # (dbaasd's own loops may have added events since: compare what was there)
    assert starts_with(api.list_all("/v1/events", {"tenant": a}), ev_a)
    assert starts_with(api.list_all("/v1/events", {"tenant": b}), ev_b)

    # ?instance= filters
    only = ca.list_all("/v1/events", {"instance": ia["id"]})
    assert only and all(e["instance_id"] == ia["id"] for e in only)
    assert starts_with(api.list_all("/v1/events", {"instance": ia["id"]}), only)
    # a tenant filtering on another tenant's instance sees nothing of it
    assert cb.list_all("/v1/events", {"instance": ia["id"]}) == []


def test_events_pagination(api, mk_tenant, mk_plan, mk_instance, client):
    a, ta = mk_tenant()
    plan = mk_plan()
    for _ in range(3):
        mk_instance(ta, plan)
    c = client(ta)
    full = c.list_all("/v1/events")
    paged = c.list_all("/v1/events", limit=1)
    assert starts_with(paged, full)
    assert len({e["id"] for e in paged}) == len(paged)
    assert len(full) >= 3


def test_events_bad_filters(api, mk_tenant, client):
    _, ta = mk_tenant()
    assert_error(api.get("/v1/events", params={"tenant": "Bad_Name"}), 400, "invalid_field", "tenant")
    assert_error(client(ta).get("/v1/events", params={"limit": "1001"}), 400, "invalid_field", "limit")
    assert api.list_all("/v1/events", {"tenant": uniq("nobody")}) == []
