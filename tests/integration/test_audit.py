"""The audit log (api/audit.c, GET /v1/audit, dbaasctl audit): every mutating call of an
operator, a tenant or a host token is recorded with its actor, tenant, action, target, status,
refusal code and what it created; agents' heartbeats and unauthenticated calls are not; the
list is the operator's, paginated like the others. (test_isolation_matrix checks that every
mutating route of the route table is recorded.) No token or password generated here appears in
the audit log, the events or dbaasd's log; test_the_secret_sweep_finds_a_leak checks the
suite-wide sweep (conftest.py) that looks for them."""

import os

from conftest import Api, Env, assert_error, expect, run_ctl, uniq, wait_until


def test_mutating_calls_are_audited(own_server):
    srv = own_server
    env = Env(srv)
    op = env.op
    tenant = uniq("tn")
    expect(op.post("/v1/tenants", {"name": tenant}), 201)
    tok = expect(op.post("/v1/tenants/%s/tokens" % tenant), 201)["token"]
    tn = Api(srv, tok)
    plan = env.mk_plan()
    # a host that never reports: creates are accepted and wait
    host = expect(op.post("/v1/hosts", {"name": uniq("h"), "address": "127.0.1.7", "zone": "z1",
                                        "cpu_millis": 4000, "memory_mb": 8192, "disk_mb": 100000,
                                        "engines": ["postgres"]}), 201)
    created = expect(tn.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan}), 202)
    assert_error(tn.post("/v1/instances", {"name": "Bad", "engine": "postgres", "plan": plan}), 400,
                 "invalid_field", "name")
    assert_error(tn.delete("/v1/instances/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    expect(tn.delete("/v1/instances/" + created["id"]), 202)
    assert_error(tn.post("/v1/tenants", {"name": uniq("x")}), 403, "forbidden")
    # the operator's calls on the tenant's instance name the instance's tenant
    other = expect(op.post("/v1/instances", {"name": uniq("db"), "engine": "postgres", "plan": plan,
                                             "tenant": tenant}), 202)
    expect(op.delete("/v1/instances/" + other["id"]), 202)
    # a host token's refused call
    assert_error(Api(srv, host["token"]).post("/v1/plans", {"name": uniq("p")}), 403, "forbidden")
    # not recorded: an unauthenticated call, a host's heartbeat, reads
    assert_error(Api(srv, None).post("/v1/tenants", {"name": uniq("x")}), 401, "unauthenticated")
    expect(Api(srv, host["token"]).post("/v1/agent/heartbeat", {"members": []}), 200)
    expect(tn.get("/v1/instances"), 200)

    # written by a thread of its own within 100 ms (api/audit.c)
    items = wait_until(lambda: (lambda a: a if len(a) >= 12 else None)(op.list_all("/v1/audit")),
                       what="the calls' records written")
    rows = [(a["actor"], a["tenant"], a["action"], a["target"], a["status"], a["error"], a["created"])
            for a in items]
    t = expect(op.get("/v1/tenants/" + tenant), 200)
    assert ("operator", tenant, "POST /v1/tenants", "/v1/tenants", 201, None, t["name"]) in rows
    assert ("operator", tenant, "POST /v1/tenants/{name}/tokens", "/v1/tenants/%s/tokens" % tenant,
            201, None, expect(op.get("/v1/tenants/%s/tokens" % tenant), 200)["items"][0]["id"]) in rows
    assert ("operator", None, "POST /v1/hosts", "/v1/hosts", 201, None, str(host.get("id", host["name"]))) in rows
    actor = "tenant:" + tenant
    assert (actor, tenant, "POST /v1/instances", "/v1/instances", 202, None, created["id"]) in rows
    assert (actor, tenant, "POST /v1/instances", "/v1/instances", 400, "invalid_field", None) in rows
    assert (actor, tenant, "DELETE /v1/instances/{id}",
            "/v1/instances/00000000-0000-0000-0000-000000000000", 404, "not_found", None) in rows
    assert (actor, tenant, "DELETE /v1/instances/{id}", "/v1/instances/" + created["id"], 202, None,
            None) in rows
    assert (actor, tenant, "POST /v1/tenants", "/v1/tenants", 403, "forbidden", None) in rows
    assert ("operator", tenant, "POST /v1/instances", "/v1/instances", 202, None, other["id"]) in rows
    assert ("operator", tenant, "DELETE /v1/instances/{id}", "/v1/instances/" + other["id"], 202, None,
            None) in rows
    assert ("host:" + host["name"], None, "POST /v1/plans", "/v1/plans", 403, "forbidden", None) in rows
    assert not any(a["action"].startswith("GET ") or a["action"] == "POST /v1/agent/heartbeat" or
                   a["status"] == 401 for a in items)
    # the tenant, its token, the plan, the host, the tenant's two creates, two deletes and 403,
    # the operator's create and delete, the host's 403
    assert len(rows) == 12, rows
    ids = [a["id"] for a in items]
    assert ids == sorted(ids) and all(a["at"] for a in items)

    # the operator's: paginated, filtered by tenant; a tenant may not read it
    page = expect(op.get("/v1/audit", params={"limit": 2}), 200)
    assert len(page["items"]) == 2 and page["next"]
    page2 = expect(op.get("/v1/audit", params={"limit": 2, "after": page["next"]}), 200)
    assert page2["items"][0]["id"] > page["items"][1]["id"]
    mine = op.list_all("/v1/audit", params={"tenant": tenant})
    assert all(a["tenant"] == tenant for a in mine) and len(mine) == 9
    assert_error(tn.get("/v1/audit"), 403, "forbidden")
    assert_error(op.get("/v1/audit", params={"tenant": "Bad Name"}), 400, "invalid_field", "tenant")

    # dbaasctl audit
    p = run_ctl(["audit", "--tenant", tenant], url=srv.url, token=srv.operator_token())
    assert p.returncode == 0, p.stderr
    assert "DELETE /v1/instances/{id}" in p.stdout and "not_found" in p.stdout

    # no secret anywhere: audit, events, dbaasd's log
    secrets = [tok, host["token"], created["credentials"]["password"], srv.operator_token()]
    texts = [op.get("/v1/audit", params={"limit": 1000}).text, op.get("/v1/events", params={"limit": 1000}).text,
             "\n".join(srv.lines), p.stdout]
    for s in secrets:
        assert not any(s in t for t in texts)
    # the record of a call made just before a stop is there after the restart
    tenant2 = uniq("tn")
    expect(op.post("/v1/tenants", {"name": tenant2}), 201)
    srv.restart()
    op = Api(srv, srv.operator_token())
    assert any(a["action"] == "POST /v1/tenants" and a["created"] is not None and
               expect(op.get("/v1/tenants/" + tenant2), 200) for a in op.list_all("/v1/audit"))
    assert len(op.list_all("/v1/audit")) == 13
    env.close()


def test_the_secret_sweep_finds_a_leak(tmp_path):
    """The suite-wide sweep (conftest.py: every password and token the suite was given, looked
    for in every log it removes, dbaasd's output, the events and the audit log) does find a
    secret written to a log, and a *.secret file's content counts as a secret."""
    import conftest
    leaks = len(conftest._LEAKS)
    conftest.note_secrets({"credentials": {"password": "Pw" + uniq("x").replace("-", "") * 2}}, "a test")
    pw = [s for s, w in conftest._SECRETS.items() if w == "a test"][-1]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "repl.secret").write_text("Rs" + uniq("y").replace("-", "") * 2 + "\n")
    (tmp_path / "m" / "server.log").write_text("LOG:  connection authorized: password=%s\n" % pw)
    (tmp_path / "agent.log").write_text("event=x secret=%s\n" %
                                        (tmp_path / "m" / "repl.secret").read_text().strip())
    (tmp_path / "clean.log").write_text("nothing here %s\n" % pw[:-1])
    conftest.sweep_dir(str(tmp_path))
    found = conftest._LEAKS[leaks:]
    del conftest._LEAKS[leaks:]  # planted here: not a leak of the system's
    assert sorted(os.path.basename(w) for w, _ in found) == ["agent.log", "server.log"], found
