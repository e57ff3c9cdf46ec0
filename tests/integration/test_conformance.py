"""docs/openapi.yaml matches the real dbaasd: a tour of every route (successes and errors) is
recorded and checked by tests/openapi/check-responses.js (route, method, status described; JSON
bodies valid against the response schema, with no undescribed fields)."""

import json
import os
import subprocess
import tempfile

from conftest import REPO, Api, expect, uniq, wait_until

JSON = {"Content-Type": "application/json"}


def test_answers_match_openapi(own_server, own_env, openapi_dir):
    rec = []
    srv = own_server
    op = Api(srv, own_env.op.token, record=rec)
    anon = Api(srv, None, record=rec)

    expect(anon.get("/healthz"), 200)
    assert op.get("/metrics").status_code == 200
    anon.get("/v1/tenants")  # 401
    op.get("/v1/nope")  # 404 unknown route

    # tenants, tokens, quota
    t = uniq("t")
    expect(op.post("/v1/tenants", {"name": t}), 201)
    op.post("/v1/tenants", {"name": t})  # 409
    op.post("/v1/tenants", {"name": "Bad_Name"})  # 400 invalid_field
    op.post("/v1/tenants", data=b"[]", headers=JSON)  # 400 invalid_json
    op.post("/v1/tenants", data=b"{}", headers={"Content-Type": "text/plain"})  # 415
    op.post("/v1/tenants", data=b" " * 70000, headers=JSON)  # 413
    expect(op.get("/v1/tenants"), 200)
    expect(op.get("/v1/tenants", params={"limit": 1}), 200)
    op.get("/v1/tenants", params={"limit": 0})  # 400
    expect(op.get("/v1/tenants/" + t), 200)
    op.get("/v1/tenants/" + uniq("none"))  # 404
    tok = expect(op.post("/v1/tenants/%s/tokens" % t), 201)
    tok2 = expect(op.post("/v1/tenants/%s/tokens" % t, {}), 201)
    expect(op.get("/v1/tenants/%s/tokens" % t), 200)
    assert op.delete("/v1/tenants/%s/tokens/%s" % (t, tok2["id"])).status_code == 204
    op.delete("/v1/tenants/%s/tokens/%s" % (t, tok2["id"]))  # 404
    expect(op.put("/v1/tenants/%s/quota" % t, {"max_instances": 2, "cpu_millis": None}), 200)
    op.put("/v1/tenants/%s/quota" % t, {"max_instances": -1})  # 400
    tn = Api(srv, tok["token"], record=rec)
    tn.get("/v1/tenants")  # 403

    # plans
    p = uniq("p")
    expect(op.post("/v1/plans", {"name": p, "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024}), 201)
    op.post("/v1/plans", {"name": p, "cpu_millis": 500, "memory_mb": 512, "disk_mb": 1024})  # 409
    p2 = uniq("p")
    expect(op.post("/v1/plans", {"name": p2, "cpu_millis": 1, "memory_mb": 64, "disk_mb": 1, "read_iops": 5}), 201)
    tiny = uniq("p")
    expect(op.post("/v1/plans", {"name": tiny, "cpu_millis": 1, "memory_mb": 1, "disk_mb": 1}), 201)
    expect(tn.get("/v1/plans"), 200)
    expect(tn.get("/v1/plans/" + p), 200)
    tn.get("/v1/plans/" + uniq("none"))  # 404

    # instances
    body = {"name": uniq("db"), "engine": "postgres", "plan": p}
    i = expect(tn.post("/v1/instances", body, headers={"Idempotency-Key": "k"}), 202)
    expect(tn.post("/v1/instances", body, headers={"Idempotency-Key": "k"}), 202)  # replay
    tn.post("/v1/instances", dict(body, replicas=1), headers={"Idempotency-Key": "k"})  # 422
    tn.post("/v1/instances", body)  # 409 conflict
    tn.post("/v1/instances", dict(body, replicas=6))  # 400
    tn.post("/v1/instances", dict(body, name=uniq("db"), plan=tiny))  # 422 plan_too_small
    j = expect(op.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": p2, "tenant": t}), 202)
    tn.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": p})  # 409 quota
    expect(tn.get("/v1/instances"), 200)
    expect(op.get("/v1/instances", params={"tenant": t}), 200)
    expect(tn.get("/v1/instances/" + i["id"]), 200)
    tn.get("/v1/instances/00000000-0000-4000-8000-000000000000")  # 404
    expect(tn.patch("/v1/instances/" + i["id"], {"plan": p2}), 202)
    tn.patch("/v1/instances/" + i["id"], {"plan": p2, "x": 1})  # 400
    tn.patch("/v1/instances/" + i["id"], {"plan": tiny})  # 422 plan_too_small
    op.delete("/v1/plans/" + p2)  # 409 in use
    op.delete("/v1/tenants/" + t)  # 409 owns instances
    expect(tn.delete("/v1/instances/" + j["id"]), 202)
    tn.delete("/v1/instances/" + j["id"])  # 409 (or 404 once finalized)
    expect(tn.get("/v1/events"), 200)
    expect(op.get("/v1/events", params={"tenant": t, "instance": i["id"]}), 200)
    tn.request("PUT", "/v1/events")  # 405

    # hosts
    h = uniq("h")
    hb = {"name": h, "address": "127.0.0.2", "zone": "z1", "cpu_millis": 4000, "memory_mb": 8192,
          "disk_mb": 102400, "engines": ["redis"]}
    expect(op.post("/v1/hosts", hb), 201)
    op.post("/v1/hosts", hb)  # 409
    op.post("/v1/hosts", dict(hb, engines=[]))  # 400
    expect(op.get("/v1/hosts"), 200)
    expect(op.get("/v1/hosts/" + h), 200)
    expect(op.post("/v1/hosts/%s/drain" % h), 200)
    expect(op.post("/v1/hosts/%s/undrain" % h), 200)
    assert op.delete("/v1/hosts/" + h).status_code == 204
    op.get("/v1/hosts/" + h)  # 404

    # deletes that succeed
    wait_until(lambda: j["id"] not in [x["id"] for x in tn.list_all("/v1/instances")],
               what="instance finalized")
    expect(tn.delete("/v1/instances/" + i["id"]), 202)
    wait_until(lambda: tn.list_all("/v1/instances") == [], what="instance finalized")
    assert op.delete("/v1/plans/" + p2).status_code == 204
    assert op.delete("/v1/tenants/" + t).status_code == 204

    statuses = {r["status"] for r in rec}
    assert {200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422} <= statuses, statuses
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="dbaas-it-records-") as f:
        json.dump(rec, f)
        f.flush()
        r = subprocess.run(["node", os.path.join(openapi_dir, "check-responses.js"), f.name,
                            os.path.join(REPO, "docs", "openapi.yaml")],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "answers that docs/openapi.yaml does not describe:\n" + r.stderr
    for c in (op, anon, tn):
        c.close()
