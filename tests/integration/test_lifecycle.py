"""dbaasd itself: state survives a restart; SIGTERM stops it cleanly with its embedded store."""

import os
import signal
import subprocess

from conftest import DBAASD, Api, assert_error, expect, free_port, procs_under, uniq, wait_until


VOLATILE = ("updated_at", "status_reason")  # dbaasd's loops may touch these at any time


def stable(obj):
    if isinstance(obj, list):
        return [stable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: stable(v) for k, v in obj.items() if k not in VOLATILE}
    return obj


def snapshot(api, tenants, host):
    return {
        "tenants": {t: expect(api.get("/v1/tenants/" + t), 200) for t in tenants},
        "tenant_list": api.list_all("/v1/tenants"),
        "tokens": {t: api.list_all("/v1/tenants/%s/tokens" % t) for t in tenants},
        "plans": api.list_all("/v1/plans"),
        "hosts": api.list_all("/v1/hosts"),
        "host": expect(api.get("/v1/hosts/" + host), 200),
        "instances": api.list_all("/v1/instances"),
        "events": api.list_all("/v1/events"),
    }


def test_restart_keeps_all_state(own_server, own_env):
    srv, env = own_server, own_env
    op = env.op
    token_file = srv.token_path
    with open(token_file, "rb") as f:
        token_before = f.read()
    st_before = os.stat(token_file)

    a, ta = env.mk_tenant(quota={"max_instances": 10, "cpu_millis": 8000})
    b, tb = env.mk_tenant()
    revoked = expect(op.post("/v1/tenants/%s/tokens" % b), 201)
    assert op.delete("/v1/tenants/%s/tokens/%s" % (b, revoked["id"])).status_code == 204
    plan = env.mk_plan(read_iops=10)
    host = uniq("h")
    h = expect(op.post("/v1/hosts", {"name": host, "address": "127.0.0.2", "zone": "z1", "cpu_millis": 4000,
                                     "memory_mb": 8192, "disk_mb": 102400, "engines": ["redis"]}), 201)
    expect(op.post("/v1/hosts/%s/drain" % host), 200)
    ia = env.mk_instance(ta, plan, replicas=1)
    ib = env.mk_instance(tb, plan, engine="mysql")
    ca = Api(srv, ta)
    key_body = {"name": uniq("idem"), "engine": "postgres", "plan": plan}
    ic = expect(ca.post("/v1/instances", key_body, headers={"Idempotency-Key": "restart-key"}), 202)

    before = snapshot(op, [a, b], host)
    ev_a_before = ca.list_all("/v1/events")

    srv.restart()

    with open(token_file, "rb") as f:
        assert f.read() == token_before, "operator.token changed"
    st_after = os.stat(token_file)
    assert (st_after.st_mode, st_after.st_uid, st_after.st_ino) == (st_before.st_mode, st_before.st_uid, st_before.st_ino)

    op2 = Api(srv, op.token)  # a new connection; the old token still works
    after = snapshot(op2, [a, b], host)
    for k in ("tenants", "tenant_list", "tokens", "plans", "hosts", "host", "instances"):
        assert stable(after[k]) == stable(before[k]), k
    # events: nothing lost or changed (dbaasd may add its own after the restart)
    n = len(before["events"])
    assert after["events"][:n] == before["events"]

    # tokens still valid, the revoked one still revoked, the agent token still known
    ca2, cb2 = Api(srv, ta), Api(srv, tb)
    assert ca2.list_all("/v1/events")[:len(ev_a_before)] == ev_a_before
    assert {i["id"] for i in ca2.list_all("/v1/instances")} == {ia["id"], ic["id"]}
    assert [i["id"] for i in cb2.list_all("/v1/instances")] == [ib["id"]]
    assert_error(op2.get("/v1/instances", token=revoked["token"]), 401, "unauthenticated")
    assert_error(op2.get("/v1/hosts", token=h["token"]), 403, "forbidden")

    # idempotency keys survive: a retry replays, a different body is still refused
    r = ca2.post("/v1/instances", key_body, headers={"Idempotency-Key": "restart-key"})
    assert expect(r, 202)["id"] == ic["id"]
    assert r.headers.get("Idempotent-Replayed") == "true"
    assert_error(ca2.post("/v1/instances", dict(key_body, name=uniq("x")), headers={"Idempotency-Key": "restart-key"}),
                 422, "idempotency_mismatch")

    # and the server keeps working: quota still enforced, deletes still finalize
    expect(op2.put("/v1/tenants/%s/quota" % a, {"max_instances": 2}), 200)
    assert_error(ca2.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan}),
                 409, "quota_exceeded", "max_instances")
    expect(cb2.delete("/v1/instances/" + ib["id"]), 202)
    wait_until(lambda: cb2.list_all("/v1/instances") == [], what="instance finalized after restart")
    for c in (op2, ca, ca2, cb2):
        c.close()

    # a second restart, on a different port this time
    srv.restart(same_port=False)
    op3 = Api(srv, op.token)
    assert expect(op3.get("/v1/tenants/" + a), 200)["quota"]["max_instances"] == 2
    assert {i["id"] for i in Api(srv, ta).list_all("/v1/instances")} == {ia["id"], ic["id"]}
    op3.close()


def test_sigterm_stops_cleanly(own_server, own_env):
    srv, env = own_server, own_env
    _, tok = env.mk_tenant()
    plan = env.mk_plan()
    env.mk_instance(tok, plan)
    pid = srv.proc.pid
    store = [p for p in procs_under(srv.data_dir) if p[0] != pid]
    assert store, "the embedded store runs under the data directory"
    rc = srv.stop(signal.SIGTERM)  # asserts exit 0 and that no process is left under the data dir
    assert rc == 0
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] in "ZX"
    # it starts again on the same directory afterwards
    srv.start()
    expect(env.op.get("/v1/plans/" + plan), 200)


def test_sigint_stops_cleanly(own_server):
    own_server.stop(signal.SIGINT)
    assert procs_under(own_server.data_dir) == []


def test_second_instance_on_same_data_dir_is_refused(own_server):
    """A second dbaasd on a data directory in use must not start (nor harm the first)."""
    port = free_port()
    p = subprocess.Popen([DBAASD, "--data-dir", own_server.data_dir, "--listen", "127.0.0.1:%d" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        raise AssertionError("a second dbaasd on the same data directory kept running")
    assert p.returncode != 0, out
    # the first one still serves
    api = Api(own_server, own_server.operator_token())
    expect(api.get("/v1/plans"), 200)
    api.close()


def test_unreadable_operator_token_is_never_replaced(own_server):
    """An operator token file that exists but cannot be read stops dbaasd with a message; it is
    not replaced by a new token behind the operator's back."""
    own_server.stop()
    path = own_server.token_path
    os.rename(path, path + ".kept")
    os.symlink("operator.token", path)  # a loop: open() fails with ELOOP, even for root
    try:
        p = subprocess.run([DBAASD, "--data-dir", own_server.data_dir, "--listen",
                            "127.0.0.1:%d" % free_port()], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode != 0, p.stdout + p.stderr
        assert "could not read" in p.stdout + p.stderr, p.stdout + p.stderr
        assert os.path.islink(path), "the token file was replaced"
    finally:
        os.unlink(path)
        os.rename(path + ".kept", path)
    own_server.start()


def store_pids(srv):
    return [pid for pid, _cmd, _cwd in procs_under(srv.data_dir) if pid != srv.proc.pid]


def test_store_unreachable_is_503(own_server, own_env):
    """When the metadata store cannot be reached: /healthz 503 {"status":"unavailable"}, and the
    API answers 503 unavailable (not a hang, not a 500). The embedded store is killed with its
    data directory moved away, so that dbaasd's restarts of it fail (logged, with a back-off)
    until the directory is back; then it runs again and the API answers by itself."""
    srv, env = own_server, own_env
    name, tok = env.mk_tenant()
    pids = store_pids(srv)
    assert pids
    mark = len(srv.lines)
    pgdata = os.path.join(srv.data_dir, "pg")
    os.rename(pgdata, pgdata + ".away")
    for pid in pids:  # the embedded PostgreSQL our dbaasd started
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: any("event=store_restart_failed" in l for l in srv.lines[mark:]),
               what="a failed restart of the embedded store")

    h = env.op.get("/healthz", token=None)
    assert h.status_code == 503, h.text
    assert h.json() == {"status": "unavailable"}
    assert_error(env.op.get("/v1/tenants/" + name), 503, "unavailable")
    assert_error(env.op.get("/v1/instances", token=tok), 503, "unavailable")
    # no store, no way to check a token: never a 200, and the answer is unavailable, not 401
    assert_error(env.op.post("/v1/tenants", {"name": uniq("x")}), 503, "unavailable")
    # the data back: the next try (at most 10 s away) starts it, and the API answers again
    os.rename(pgdata + ".away", pgdata)
    wait_until(lambda: env.op.get("/healthz", token=None).status_code == 200, timeout=30,
               what="the store restarted once its data is back")
    # logged once the supervisor's own readiness check passed, which may come after a request
    wait_until(lambda: any("event=store_restarted" in l for l in srv.lines[mark:]), timeout=10,
               what="event=store_restarted")
    expect(env.op.get("/v1/tenants/" + name), 200)
    # dbaasd itself still stops on SIGTERM and leaves nothing behind
    srv.stop()


def test_restart_after_kill(own_server, own_env):
    """dbaasd killed with SIGKILL: a new dbaasd on the same directory starts (stopping the store
    the dead one left, if any) and has every committed change."""
    srv, env = own_server, own_env
    name, tok = env.mk_tenant()
    plan = env.mk_plan()
    inst = env.mk_instance(tok, plan)
    srv.crash()
    srv.start()
    c = Api(srv, tok)
    assert [i["id"] for i in c.list_all("/v1/instances")] == [inst["id"]]
    expect(env.op.get("/v1/tenants/" + name), 200)
    c.close()
