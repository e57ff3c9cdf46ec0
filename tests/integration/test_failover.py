"""Failover end to end (issue 9, docs/ha.md): dbaasd in the root namespace on the rig's control
address, one real dbaas-agent per host in a network namespace (tests/integration/netns.py), real
engines under cgroups, clients in the root namespace reaching the engines on the hosts' addresses.

Per engine (PostgreSQL and MariaDB in sync mode, Redis asynchronous: it cannot promise zero loss,
docs/ha.md), one instance with two replicas goes through, in order:
- kill -9 of the primary's engine: its agent restarts it; no failover within the grace;
- the primary's host crashes (SIGKILL of its agent, fence guard and engines): a replica is
  promoted, the endpoints move, the other replica follows; in sync mode every acknowledged write
  is on the new primary; the host comes back and the old primary rejoins as a replica;
- the primary's host is cut off from dbaasd while clients still reach it, and then the
  primary's agent is frozen (SIGSTOP): each time, a writer bound to the old primary's address
  gets no acknowledgement after the new primary's first one;
- a switchover under load loses nothing; a drain switches the primary over.
And a host that turns unreachable (its agent and engines killed) loses its replica to another
host without a failover, and deletes the stale member when it comes back.
A writer counts acknowledged writes throughout (bench/bench_failover.py's Writer: one write every
10 ms, reconnecting through the API after any error)."""

import os
import signal
import sys
import tempfile
import threading
import time

import pytest

import netns
from conftest import Api, expect, uniq, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench"))
import ours  # noqa: E402
from bench_failover import Writer  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)")

ENGINES = [("postgres", True), ("mysql", True), ("redis", False)]
FAILOVER_TIMEOUT = 30.0
REJOIN_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def stack():
    rig = netns.Rig(3)
    st = None
    try:
        rig.start()
        st = ours.RigStack(rig, tempfile.mkdtemp(prefix="dbaas-fo-", dir="/tmp"))
        st.start()
        # the scenarios fail over one instance again and again on purpose: a member that lost
        # the primary role may be promoted back after 5 s instead of a minute
        expect(st.env.op.put("/v1/ha", {"failover_cooldown_ms": 5000}), 200)
        yield st
    finally:
        try:
            if st is not None:
                st.close()
        finally:
            rig.close()


@pytest.fixture(scope="module", params=ENGINES, ids=[e for e, _ in ENGINES])
def inst(request, stack):
    engine, sync = request.param
    i, creds = stack.create(engine, sync)
    stack.setup_table(engine, i, creds)
    box = {"engine": engine, "sync": sync, "id": i["id"], "creds": creds}
    yield box
    stack.restore_hosts()
    stack.delete(i["id"])


def now_inst(stack, box):
    return stack.get(box["id"])


def primary(stack, box):
    return ours.primary_of(now_inst(stack, box))


def wait_healthy(stack, box, timeout=REJOIN_TIMEOUT):
    # The instance is shared by an engine's tests: one an earlier test left unhealthy fails the
    # later ones after a short wait rather than a full rejoin timeout each.
    if box.get("unhealthy"):
        timeout = min(timeout, 30)
    try:
        i = stack.wait(box["id"], lambda i: ours.healthy(i, 2) and i["status"] == "running",
                       "running with two streaming replicas", timeout)
    except RuntimeError:
        box["unhealthy"] = True
        raise
    box["unhealthy"] = False
    return i


def wait_new_primary(stack, box, old_id, timeout=FAILOVER_TIMEOUT):
    def moved(i):
        ps = [m for m in ours.running(i) if m["role"] == "primary"]
        return len(ps) == 1 and ps[0]["id"] != old_id and ps[0]["writable"] is True
    i = stack.wait(box["id"], moved, "promoted a new primary", timeout)
    return ours.primary_of(i), i


def next_offset(box):
    """A fresh id range for a writer: every writer of an instance writes ids of its own."""
    box["writers"] = box.get("writers", 0) + 1
    return 10 ** 9 * box["writers"]


def api_writer(stack, box):
    connect, write, close = stack.writer_fns(box["engine"], box["id"], box["creds"])
    offset = next_offset(box)
    w = Writer(connect, lambda c, i: write(c, offset + i), close)
    w.offset = offset
    w.start()
    try:
        wait_until(lambda: len(w.acks) >= 20, timeout=60, what="the writer's first writes")
    except BaseException:
        w.stop(1)
        fresh = Api(stack.srv, stack.tenant_token)  # the idle session may be closed by now
        p = ours.primary_of(expect(fresh.get("/v1/instances/" + box["id"]), 200))
        fresh.close()
        raise AssertionError("the writer got %d acks (last error %s); primary %s:%s: %s" % (
            len(w.acks), w.last_error, p["address"], p["port"],
            diagnose(stack, box, p["address"], p["port"])))
    return w


def bound_writer(stack, box, host, port):
    """A writer that stays on one address: it reconnects to host:port only (a client that did
    not look the primary up again), so that we see whether the old primary still acknowledges."""
    engine, creds = box["engine"], box["creds"]
    offset = next_offset(box)

    def connect():
        return stack._connect_at(engine, host, port, creds, timeout=1), "%s:%s" % (host, port)

    _, write, close = stack.writer_fns(engine, box["id"], creds)
    w = Writer(connect, lambda c, i: write(c, offset + i), close)
    w.start()
    try:
        wait_until(lambda: len(w.acks) >= 20, timeout=60, what="the bound writer's first writes")
    except BaseException:
        w.stop(1)
        raise AssertionError("the bound writer to %s:%s got %d acks (last error %s); %s" % (
            host, port, len(w.acks), w.last_error, diagnose(stack, box, host, port)))
    return w


def diagnose(stack, box, host, port):
    """What the engine says about its replication (for a failure message)."""
    if box["engine"] == "mysql":
        try:
            c = stack._connect_at("mysql", host, port, box["creds"], timeout=3)
            with c.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master%'")
                out = cur.fetchall()
                cur.execute("SELECT @@global.rpl_semi_sync_master_enabled, @@global.read_only")
                out += cur.fetchall()
            c.close()
            return repr(out)
        except Exception as e:  # noqa: BLE001
            return "diagnosis failed: %r" % e
    if box["engine"] != "postgres":
        return ""
    try:
        c = stack._connect_at("postgres", host, port, box["creds"], timeout=3)
        with c.cursor() as cur:
            cur.execute("SELECT current_setting('synchronous_standby_names'), pg_is_in_recovery()")
            out = [cur.fetchone()]
            cur.execute("SELECT application_name, state, sync_state FROM pg_stat_replication")
            out.append(cur.fetchall())
        c.close()
        return repr(out)
    except Exception as e:  # noqa: BLE001
        return "diagnosis failed: %r" % e


def engine_pids(stack, host_addr, port):
    """Pids of processes of the host's namespace listening on port (the engine's main process)."""
    host = stack.rig.host(host_addr)
    out = stack.rig.run(host, ["ss", "-Hltnp", "sport = :%d" % port]).stdout
    pids = set()
    for part in out.split("pid=")[1:]:
        pids.add(int(part.split(",")[0]))
    return pids


def failover_events(stack, box):
    evs = stack.env.op.list_all("/v1/events", params={"instance": box["id"]})
    return [e for e in evs if e["kind"].startswith("instance.failover.") or
            e["kind"].startswith("instance.switchover.")]


def check_acked_writes_kept(stack, box, writer, p):
    """Every write the writer saw acknowledged is on the primary p (sync mode's promise)."""
    acked = {writer.offset + i for i, _, _ in writer.acks}
    present = stack.ids_on(box["engine"], p["address"], p["port"], box["creds"], acked)
    lost = acked - present
    assert not lost, "%d acknowledged writes lost (e.g. %s)" % (len(lost), sorted(lost)[:5])


# ---- the scenarios, in order, on one instance per engine

def test_engine_kill_is_a_restart_not_a_failover(stack, inst):
    wait_healthy(stack, inst)
    p = primary(stack, inst)
    grace = expect(stack.env.op.get("/v1/ha"), 200)["grace_ms"] / 1000.0
    pids = engine_pids(stack, p["address"], p["port"])
    assert pids, "no engine listens on %s:%s" % (p["address"], p["port"])
    before = len(failover_events(stack, inst))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    # the agent brings it back; the same member stays the primary through the grace and after
    wait_until(lambda: engine_pids(stack, p["address"], p["port"]) - pids, timeout=30,
               what="the engine restarted by its agent")
    until = time.monotonic() + grace + 2
    while time.monotonic() < until:
        assert primary(stack, inst)["id"] == p["id"], "a failover after an engine restart"
        time.sleep(0.2)
    evs = failover_events(stack, inst)
    assert len(evs) == before, [(e["kind"], e["message"]) for e in evs]
    wait_healthy(stack, inst)


def test_host_crash_promotes_a_replica_and_the_old_primary_rejoins(stack, inst):
    wait_healthy(stack, inst)
    p = primary(stack, inst)
    w = api_writer(stack, inst)
    try:
        stack.crash(p["address"])
        newp, i = wait_new_primary(stack, inst, p["id"])
        assert newp["address"] != p["address"]
        ep = i["endpoints"]
        assert ep["primary"]["host"] == newp["address"] and ep["primary"]["port"] == newp["port"]
        # the writer carries on on the new primary
        n = len(w.acks)
        wait_until(lambda: len(w.acks) > n + 20 and w.acks[-1][2] == "%s:%s" % (
            newp["address"], newp["port"]) or (inst["engine"] == "postgres" and len(w.acks) > n + 20),
            timeout=30, what="writes acknowledged by the new primary (%s)" % w.last_error)
        # the third member follows the new primary
        other = [m for m in ours.running(i) if m["id"] not in (p["id"], newp["id"])][0]
        stack.wait(inst["id"], lambda j: any(m["id"] == other["id"] and m["role"] == "replica" and
                                             m["lag_bytes"] == 0 and m["writable"] is False
                                             for m in ours.running(j)),
                   "the other replica streaming from the new primary", 60)
    finally:
        w.stop()
    if inst["sync"]:
        check_acked_writes_kept(stack, inst, w, newp)
    kinds = [e["kind"] for e in failover_events(stack, inst)]
    for k in ("instance.failover.detected", "instance.failover.fenced", "instance.failover.promoted"):
        assert k in kinds, kinds
    # the host returns: the old primary becomes a replica of the new one, never a primary
    stack.restore_hosts()
    seen_two = threading.Event()

    def watch():
        while not seen_two.is_set():
            j = stack.get(inst["id"])
            if sum(1 for m in ours.running(j) if m["writable"] is True) > 1:
                seen_two.set()
                return
            time.sleep(0.1)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    j = wait_healthy(stack, inst)
    ok = not seen_two.is_set()
    seen_two.set()
    t.join(5)
    assert ok, "two writable members at once after the old primary came back"
    old = [m for m in ours.running(j) if m["id"] == p["id"]][0]
    assert old["role"] == "replica" and old["writable"] is False


@pytest.mark.parametrize("how", ["cut_off", "agent_frozen"])
def test_an_isolated_primary_stops_acknowledging_before_the_new_one_starts(stack, inst, how):
    wait_healthy(stack, inst)
    p = primary(stack, inst)
    host = stack.rig.host(p["address"])
    agent = [a for a in stack.agents if a.host.addr == p["address"]][0]
    old = bound_writer(stack, inst, p["address"], p["port"])
    w = api_writer(stack, inst)
    try:
        if how == "cut_off":
            stack.rig.cut(host)
        else:
            stack.rig.freeze(agent.proc.pid)
        t0 = time.monotonic()
        newp, _ = wait_new_primary(stack, inst, p["id"])
        label = "%s:%s" % (newp["address"], newp["port"])
        first = wait_until(lambda: w.first_ack_after(t0, "%s:%s" % (p["address"], p["port"])),
                           timeout=30, what="the new primary's first acknowledged write")
        # keep the bound writer trying for a while after the new primary's first write
        wait_until(lambda: time.monotonic() > first[1] + 2, timeout=5, what="2 s of the old writer trying")
    finally:
        old.stop()
        w.stop()
        if how == "cut_off":
            stack.rig.restore(host)
        else:
            stack.rig.thaw(agent.proc.pid)
    last_old = max((at for _, at, _ in old.acks), default=0)
    assert last_old < first[1], (
        "the old primary acknowledged a write %.3f s after the new primary's first" % (last_old - first[1]))
    assert first[2] == label or inst["engine"] == "postgres"
    if inst["sync"]:
        check_acked_writes_kept(stack, inst, w, newp)
    # the isolated host is back: its member rejoins as a replica
    wait_healthy(stack, inst)


def test_switchover_under_load_loses_nothing(stack, inst):
    wait_healthy(stack, inst)
    p = primary(stack, inst)
    w = api_writer(stack, inst)
    try:
        r = expect(stack.client.post("/v1/instances/%s/switchover" % inst["id"], {}), 202)
        assert r["kind"] == "switchover"
        newp, _ = wait_new_primary(stack, inst, p["id"])
        n = len(w.acks)
        wait_until(lambda: len(w.acks) > n + 20, timeout=30, what="writes after the switchover (%s)" % w.last_error)
    finally:
        w.stop()
    check_acked_writes_kept(stack, inst, w, newp)
    j = wait_healthy(stack, inst)
    assert [m for m in ours.running(j) if m["id"] == p["id"]][0]["role"] == "replica"


def test_drain_switches_the_primary_over(stack, inst):
    wait_healthy(stack, inst)
    p = primary(stack, inst)
    host = [h for h in stack.env.op.list_all("/v1/hosts") if h["address"] == p["address"]][0]
    expect(stack.env.op.post("/v1/hosts/%s/drain" % host["name"], {}), 200)
    try:
        newp, _ = wait_new_primary(stack, inst, p["id"], timeout=60)
        assert newp["address"] != p["address"]
    finally:
        expect(stack.env.op.post("/v1/hosts/%s/undrain" % host["name"], {}), 200)


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_a_replica_ahead_of_the_promoted_one_is_rewound(stack, engine):
    """Asynchronous mode, two replicas A and B: A stops receiving from the primary (its host
    drops the primary's packets) while B receives 30 more rows; B's agent freezes (B cannot be a
    candidate) and the primary's host crashes, so A is promoted without those rows. B's data
    then has writes its new primary lacks: its follow answers "diverged" and the agent rewinds it
    (PostgreSQL, pg_rewind) or seeds it afresh (MariaDB: its GTIDs are not in A's binary log).
    B ends up streaming from A, with A's rows and without the 30 that A never had. Before, B
    stayed broken for good (the WAL receiver refused A's timeline; MariaDB's I/O thread error
    1236)."""
    stack.restore_hosts()
    i, creds = stack.create(engine, False)
    iid = i["id"]
    stack.setup_table(engine, i, creds)
    p = ours.primary_of(i)
    a, b = [m for m in ours.running(i) if m["role"] == "replica"]
    host_a = stack.rig.host(a["address"])
    agent_b = [ag for ag in stack.agents if ag.host.addr == b["address"]][0]
    mark = len(agent_b.logs())
    frozen = False
    try:
        stack.rig.cut(host_a, p["address"])
        c = stack._connect_at(engine, p["address"], p["port"], creds, timeout=10)
        try:
            with c.cursor() as cur:
                for n in range(1, 31):
                    cur.execute("INSERT INTO t (id) VALUES (%s)", (n,))
        finally:
            c.close()
        only_b = set(range(1, 31))
        wait_until(lambda: stack.ids_on(engine, b["address"], b["port"], creds, only_b) >= only_b,
                   timeout=30, what="the 30 rows on B")
        assert not stack.ids_on(engine, a["address"], a["port"], creds, only_b) & only_b, \
            "A received the rows through the cut"
        stack.rig.freeze(agent_b.proc.pid)
        frozen = True
        stack.crash(p["address"])
        newp, _ = wait_new_primary(stack, {"id": iid}, p["id"], timeout=60)
        assert newp["id"] == a["id"], "promoted %s, expected A (%s)" % (newp["id"], a["id"])
        stack.rig.restore(host_a)

        def write_on_a():
            try:
                c = stack._connect_at(engine, a["address"], a["port"], creds, timeout=2)
                with c.cursor() as cur:
                    cur.execute("INSERT INTO t (id) VALUES (1000)")
                c.close()
                return True
            except Exception:  # noqa: BLE001 - not writable yet
                return False
        wait_until(write_on_a, timeout=30, interval=0.2, what="a write on the new primary")
        stack.rig.thaw(agent_b.proc.pid)
        frozen = False
        def row_on_b():
            try:
                return 1000 in stack.ids_on(engine, b["address"], b["port"], creds, {1000})
            except Exception:  # noqa: BLE001 - down while it is rewound or seeded again
                return False
        # (what the instance showed of B before the thaw is stale: wait for the row first)
        wait_until(row_on_b, timeout=REJOIN_TIMEOUT, interval=0.5, what="the new primary's row on B")
        stack.wait(iid, lambda j: any(m["id"] == b["id"] and m["role"] == "replica" and
                                      m["status"] == "running" and m["writable"] is False and
                                      m["lag_bytes"] == 0 for m in ours.running(j)),
                   "B streaming from the new primary", 60)
        kept = stack.ids_on(engine, b["address"], b["port"], creds, only_b) & only_b
        assert not kept, "B kept rows its new primary never had: %s" % sorted(kept)[:5]
        log = agent_b.logs()[mark:]
        assert "event=replica_diverged member=%s " % b["id"] in log, log[-3000:]
        assert ("event=member_rejoined member=%s " % b["id"] in log or
                "event=rejoin_rebuild member=%s " % b["id"] in log), log[-3000:]
    finally:
        if frozen:
            stack.rig.thaw(agent_b.proc.pid)
        stack.rig.restore(host_a)
        stack.restore_hosts()
        stack.delete(iid)


def test_unreachable_host_loses_its_replica_and_deletes_it_when_back(stack):
    """docs/operations.md, with real agents: a host whose agent and engines died turns
    unreachable; after unreachable_grace_s its replica is rebuilt on another host (seeded from the
    primary: it holds the rows written before), with no failover; when the host comes back, its
    agent deletes the stale member (its engine gone, its row gone, the host's allocation back to
    what is placed there)."""
    stack.restore_hosts()
    op = stack.env.op
    grace = expect(op.get("/v1/scheduler"), 200)["unreachable_grace_s"]
    expect(op.put("/v1/scheduler", {"unreachable_grace_s": 0}), 200)
    created = expect(stack.client.post("/v1/instances", {"name": uniq("ur"), "engine": "postgres",
                                                          "plan": stack.plan, "replicas": 1}), 202)
    iid, creds = created["id"], created["credentials"]
    stack.created.append(iid)
    try:
        i = stack.wait(iid, lambda i: i["status"] == "running" and ours.healthy(i, 1),
                       "running with a streaming replica")
        p = ours.primary_of(i)
        rep = [m for m in ours.running(i) if m["role"] == "replica"][0]
        stack.setup_table("postgres", i, creds)
        c = stack._connect_at("postgres", p["address"], p["port"], creds, timeout=10)
        with c.cursor() as cur:
            cur.execute("INSERT INTO t SELECT generate_series(1, 100)")
        c.close()
        host = [h for h in op.list_all("/v1/hosts") if h["address"] == rep["address"]][0]["name"]

        stack.crash(rep["address"])
        wait_until(lambda: expect(op.get("/v1/hosts/" + host), 200)["state"] == "unreachable",
                   timeout=60, what="the replica's host unreachable")
        j = stack.wait(iid, lambda j: j["status"] == "running" and ours.healthy(j, 1) and
                       all(m["address"] != rep["address"] for m in ours.running(j)),
                       "the replica rebuilt on another host", 180)
        new = [m for m in ours.running(j) if m["role"] == "replica"][0]
        assert new["address"] not in (rep["address"], p["address"])
        assert ours.primary_of(j)["id"] == p["id"], "a replica's host loss caused a failover"
        assert [m["desired"] for m in j["members"] if m["id"] == rep["id"]] == ["deleted"]
        assert stack.ids_on("postgres", new["address"], new["port"], creds, range(1, 101)) == \
            set(range(1, 101))

        stack.restore_hosts()

        def cleaned():
            k = stack.get(iid)
            if any(m["id"] == rep["id"] for m in k["members"]):
                return False
            h = expect(op.get("/v1/hosts/" + host), 200)
            # every instance here is the stack's tenant's, on the same plan (256 MB a member)
            on_host = [m for x in stack.client.list_all("/v1/instances") for m in x["members"]
                       if m["address"] == rep["address"]]
            return h["state"] == "ready" and h["allocated"]["memory_mb"] == 256 * len(on_host)

        wait_until(cleaned, timeout=120, what="the returning agent deleted the stale member")
        assert not engine_pids(stack, rep["address"], rep["port"])
    finally:
        expect(op.put("/v1/scheduler", {"unreachable_grace_s": grace}), 200)
        stack.delete(iid)


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_sync_primary_that_lost_every_replica_gets_a_new_one_and_the_waiting_write_ends(stack, engine):
    """Synchronous mode, one replica: its host dies, so a commit on the primary waits (no
    replica acknowledges it: sync mode does not fall back to asynchronous). After
    unreachable_grace_s the replica is rebuilt on another host, seeded from that primary while
    the commit waits, the primary names it in synchronous_standby_names (before, the primary's
    configuration kept the dead replica's name and the commit waited for good), and the waiting
    commit is acknowledged; later writes go through.
    MariaDB: the copy (mariadb-backup's BACKUP STAGE BLOCK_COMMIT) waits for the commits in
    progress, and the waiting commit waits for the replica being copied. The primary's agent
    kills the waiting session after 2 s of that (its client sees the connection lost: no
    acknowledgement), the copy goes on, and the commit is in it. Before, neither ever ended."""
    stack.restore_hosts()
    op = stack.env.op
    grace = expect(op.get("/v1/scheduler"), 200)["unreachable_grace_s"]
    expect(op.put("/v1/scheduler", {"unreachable_grace_s": 0}), 200)
    created = expect(stack.client.post("/v1/instances", {
        "name": uniq("sl"), "engine": engine, "plan": stack.plan, "replicas": 1, "sync": True}), 202)
    iid, creds = created["id"], created["credentials"]
    stack.created.append(iid)
    waiting = {}
    try:
        i = stack.wait(iid, lambda i: i["status"] == "running" and ours.healthy(i, 1),
                       "running with a streaming replica")
        p = ours.primary_of(i)
        rep = [m for m in ours.running(i) if m["role"] == "replica"][0]
        stack.setup_table(engine, i, creds)
        stack.crash(rep["address"])

        def write():
            try:
                c = stack._connect_at(engine, p["address"], p["port"], creds, timeout=10)
                if engine == "mysql":
                    c.read_timeout = 300  # pymysql: the commit waits for the new replica
                t0 = time.monotonic()
                with c.cursor() as cur:
                    cur.execute("INSERT INTO t (id) VALUES (1)")
                waiting["took"] = time.monotonic() - t0
                c.close()
            except Exception as e:  # noqa: BLE001 - reported below
                waiting["error"] = repr(e)
        t = threading.Thread(target=write, daemon=True)
        t.start()
        t.join(3)  # the dead replica's host turns unreachable only after 5 s without heartbeats
        assert t.is_alive(), "a commit with no replica was acknowledged: %r" % waiting
        j = stack.wait(iid, lambda j: j["status"] == "running" and ours.healthy(j, 1) and
                       all(m["address"] != rep["address"] for m in ours.running(j)),
                       "the replica rebuilt on another host", REJOIN_TIMEOUT)
        new = [m for m in ours.running(j) if m["role"] == "replica"][0]
        assert ours.primary_of(j)["id"] == p["id"], "a replica's host loss caused a failover"
        t.join(60)
        ended = "took" in waiting if engine == "postgres" else (
            "took" in waiting or "2013" in waiting.get("error", ""))
        assert not t.is_alive() and ended, "the waiting commit did not end: %r; %s\n%s" % (
            waiting, diagnose(stack, {"engine": engine, "creds": creds}, p["address"], p["port"]),
            stack.logs())
        if engine == "mysql" and "error" in waiting:
            assert any("event=seed_unblocked" in a.logs() for a in stack.agents), stack.logs()
        # committed (acknowledged, or not acknowledged but in the copy): the new replica has
        # it, and the next write needs no wait
        wait_until(lambda: 1 in stack.ids_on(engine, new["address"], new["port"], creds, {1}),
                   timeout=30, what="the waited-for row on the new replica")
        c = stack._connect_at(engine, p["address"], p["port"], creds, timeout=10)
        with c.cursor() as cur:
            cur.execute("INSERT INTO t (id) VALUES (2)")
        c.close()
        print("sync %s: the waiting commit %s" % (
            engine, "was acknowledged after %.1f s" % waiting["took"] if "took" in waiting
            else "lost its connection (not acknowledged): %s" % waiting["error"]))
    finally:
        expect(op.put("/v1/scheduler", {"unreachable_grace_s": grace}), 200)
        stack.restore_hosts()
        stack.delete(iid)
