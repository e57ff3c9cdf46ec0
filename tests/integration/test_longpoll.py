"""Agents' heartbeats are long polls that hold no server thread while they wait.

dbaasd runs here with two HTTP worker threads; twenty agents long-poll at once (each waits up to
three seconds for its desired members to change). The API must keep answering other requests
at once, and a placement must reach the waiting agent at once, not when its wait ends; and only
that agent's poll is woken (a bump concerns the hosts of the instance changed, not all 20).
"""

import threading
import time

import requests

from conftest import Env, expect, start_server, uniq, wait_until


def test_long_polls_hold_no_thread_and_wake_on_change():
    srv = start_server(extra_args=["--threads", "2"])
    env = Env(srv)
    try:
        hosts = []
        for i in range(20):
            body = expect(env.op.post("/v1/hosts", {
                "name": uniq("h"), "address": "127.0.0.%d" % (i + 2), "zone": "z1",
                "cpu_millis": 1000, "memory_mb": 1024, "disk_mb": 10000,
                "engines": ["redis"]}), 201)
            hosts.append(body)
        url = srv.url + "/v1/agent/heartbeat"

        def beat(token, desired_hash=None, wait_ms=0):
            body = {"members": [], "wait_ms": wait_ms}
            if desired_hash:
                body["desired_hash"] = desired_hash
            r = requests.post(url, json=body, headers={"Authorization": "Bearer " + token}, timeout=30)
            assert r.status_code == 200, r.text
            return r.json()

        first = {h["name"]: beat(h["token"]) for h in hosts}
        answers = {}

        def poll(h):
            t0 = time.monotonic()
            answers[h["name"]] = (beat(h["token"], first[h["name"]]["desired_hash"], 3000),
                                  time.monotonic() - t0)

        threads = [threading.Thread(target=poll, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        time.sleep(0.5)  # the polls are parked (a workload step, not a readiness wait)
        # the API still answers at once with every worker thread free
        t0 = time.monotonic()
        for _ in range(10):
            expect(env.op.get("/v1/plans"), 200)
        assert time.monotonic() - t0 < 2.0, "the API is starved by parked long polls"
        # a placement wakes the agent of the chosen host before its wait ends
        _, tok = env.mk_tenant()
        plan = env.mk_plan(cpu_millis=100, memory_mb=64, disk_mb=64)
        before = _wakeups(env)
        env.client(tok).post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan})
        for t in threads:
            t.join(30)
        # the chosen host's poll, and the create's own answer waiting for its placement: a few
        # wake-ups, not one per parked poll per change (the 20 polls would make 20 at least)
        woke = _wakeups(env) - before
        assert 1 <= woke <= 4, woke
        woken = [(name, a) for name, a in answers.items() if a[0]["members"]]
        assert len(woken) == 1, [n for n, _ in woken]
        name, (ans, elapsed) = woken[0]
        assert elapsed < 2.5, "the placement reached the agent only after %.2f s" % elapsed
        assert ans["desired_hash"] != first[name]["desired_hash"]
        # the others waited their full time and got the same members
        for n, (a, el) in answers.items():
            if n != name:
                assert a["desired_hash"] == first[n]["desired_hash"] and el >= 2.9, (n, el)
    finally:
        env.close()
        srv.close()


def test_sigterm_answers_parked_long_polls_and_exits_cleanly():
    srv = start_server(extra_args=["--threads", "2"])
    env = Env(srv)
    try:
        hosts = [expect(env.op.post("/v1/hosts", {
            "name": uniq("h"), "address": "127.0.0.%d" % (i + 2), "zone": "z1",
            "cpu_millis": 1000, "memory_mb": 1024, "disk_mb": 10000,
            "engines": ["redis"]}), 201) for i in range(5)]
        url = srv.url + "/v1/agent/heartbeat"
        answers = {}

        def poll(h):
            auth = {"Authorization": "Bearer " + h["token"]}
            first = requests.post(url, json={"members": []}, headers=auth, timeout=30).json()
            t0 = time.monotonic()
            try:
                r = requests.post(url, json={"members": [], "wait_ms": 5000,
                                             "desired_hash": first["desired_hash"]},
                                  headers=auth, timeout=30)
                answers[h["name"]] = (r.status_code, time.monotonic() - t0)
            except requests.RequestException as e:
                answers[h["name"]] = (repr(e), time.monotonic() - t0)

        threads = [threading.Thread(target=poll, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        # every poll is parked: the server's gauge of parked requests says so
        wait_until(lambda: _parked(env) >= len(hosts), timeout=10,
                   what="five parked heartbeats")
        t0 = time.monotonic()
        srv.stop()  # SIGTERM: asserts exit code 0 and no process left
        stopped_in = time.monotonic() - t0
        for t in threads:
            t.join(30)
        assert stopped_in < 4, "dbaasd took %.1f s to stop with parked polls" % stopped_in
        for name, (status, elapsed) in answers.items():
            assert status == 200, (name, status)
            assert elapsed < 4, "a parked poll was answered only after %.1f s" % elapsed
    finally:
        env.close()
        srv.close()


def _wakeups(env):
    r = env.op.get("/metrics")
    assert r.status_code == 200, r.text
    text = r.text
    return int(next(l for l in text.splitlines()
                    if l.startswith("dbaas_long_poll_wakeups_total ")).split()[1])


def _parked(env):
    text = env.op.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("dbaas_parked_requests "):
            return float(line.split()[1])
    return 0
