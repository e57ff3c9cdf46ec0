"""Leases (docs/ha.md, "Failure model"; lib/lease.h): a registered host's heartbeat reply carries
its lease {port, key, ttl_ms, renew_ms}; a UDP renewal signed with that key gets a grant with the
same seq; a bad MAC, a replayed seq and an unknown host get no answer (and are counted); the key
is in no log line and no hosts answer. And a heartbeat that changes nothing writes nothing: idle
heartbeats update no row of hosts or members.
"""

import base64
import hashlib
import hmac
import os
import socket
import struct
import time

import psycopg2
import pytest
import requests

from conftest import expect, fake_probe, server_env, uniq, wait_until

RENEW, GRANT = 1, 2


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def encode(kind, host_id, seq, ttl_ms, key):
    head = b"DBL1" + bytes([kind, 0, 0, 0]) + struct.pack(">QQII", host_id, seq, ttl_ms, 0)
    return head + hmac.new(key, head, hashlib.sha256).digest()


def decode(data, key):
    assert len(data) == 64 and data[:4] == b"DBL1", data
    assert hmac.compare_digest(hmac.new(key, data[:32], hashlib.sha256).digest(), data[32:])
    host_id, seq, ttl = struct.unpack(">QQI", data[8:28])
    return data[4], host_id, seq, ttl


class Udp:
    def __init__(self, port):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(2.0)

    def ask(self, datagram, timeout=2.0):
        """Send datagram; the reply, or None when none came within timeout."""
        self.s.settimeout(timeout)
        self.s.sendto(datagram, ("127.0.0.1", self.port))
        try:
            return self.s.recv(256)
        except socket.timeout:
            return None

    def close(self):
        self.s.close()


def store(srv):
    c = psycopg2.connect(host=os.path.join(srv.data_dir, "run"), port=5432, user="dbaas",
                         dbname="postgres", connect_timeout=10)
    c.autocommit = True
    return c


def metric(env, name):
    """The sum of the /metrics samples whose line starts with name."""
    total = 0.0
    for line in env.op.get("/metrics").text.splitlines():
        if line.startswith(name):
            total += float(line.split()[-1])
    return total


@pytest.fixture
def lease_env():
    with server_env() as se:
        yield se


def register(env):
    return expect(env.op.post("/v1/hosts", {
        "name": uniq("h"), "address": "127.0.0.2", "zone": "z1", "cpu_millis": 1000,
        "memory_mb": 1024, "disk_mb": 10000, "engines": ["redis"]}), 201)


def heartbeat(srv, token, body=None):
    r = requests.post(srv.url + "/v1/agent/heartbeat", json=body or {"members": [], "wait_ms": 0},
                      headers={"Authorization": "Bearer " + token}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def host_id(srv, name):
    with store(srv) as c, c.cursor() as cur:
        cur.execute("SELECT id FROM hosts WHERE name = %s", (name,))
        return cur.fetchone()[0]


def test_lease_granted_and_forgeries_dropped(lease_env):
    srv, env = lease_env
    h = register(env)
    reply = heartbeat(srv, h["token"])
    lease = reply["lease"]
    assert set(lease) == {"host_id", "port", "key", "ttl_ms", "renew_ms"}, lease
    assert lease["port"] == srv.port  # the API's port number by default
    assert (lease["ttl_ms"], lease["renew_ms"]) == (1000, 300)
    key = b64url_decode(lease["key"])
    assert len(key) == 32
    # the same key on the next heartbeat
    assert heartbeat(srv, h["token"])["lease"]["key"] == lease["key"]
    hid = host_id(srv, h["name"])
    udp = Udp(lease["port"])
    try:
        for seq in (1, 2, 10):
            kind, rid, rseq, ttl = decode(udp.ask(encode(RENEW, hid, seq, 0, key)), key)
            assert (kind, rid, rseq, ttl) == (GRANT, hid, seq, 1000)
        dropped = metric(env, 'dbaas_lease_datagrams_total{outcome="replayed"}')
        # replayed and older seqs
        assert udp.ask(encode(RENEW, hid, 10, 0, key), 0.5) is None
        assert udp.ask(encode(RENEW, hid, 9, 0, key), 0.5) is None
        # a bad MAC, another host's id, an unknown host, garbage
        bad = bytearray(encode(RENEW, hid, 11, 0, key))
        bad[40] ^= 1
        assert udp.ask(bytes(bad), 0.5) is None
        assert udp.ask(encode(RENEW, hid, 12, 0, b"\x00" * 32), 0.5) is None
        assert udp.ask(encode(RENEW, hid + 1000, 1, 0, key), 0.5) is None
        assert udp.ask(b"hello", 0.5) is None
        # a grant sent back to dbaasd is no renewal
        assert udp.ask(encode(GRANT, hid, 13, 1000, key), 0.5) is None
        wait_until(lambda: metric(env, 'dbaas_lease_datagrams_total{outcome="replayed"}')
                   >= dropped + 2, what="replays counted")
        assert metric(env, 'dbaas_lease_datagrams_total{outcome="bad_mac"}') >= 2
        assert metric(env, 'dbaas_lease_datagrams_total{outcome="unknown_host"}') >= 1
        assert metric(env, 'dbaas_lease_datagrams_total{outcome="malformed"}') >= 2
        # the real seq order goes on after the drops
        assert decode(udp.ask(encode(RENEW, hid, 14, 0, key)), key)[2] == 14
    finally:
        udp.close()
    # the key is a secret: in no API answer, no log line
    hosts = env.op.get("/v1/hosts").text + env.op.get("/v1/hosts/" + h["name"]).text
    for text in (hosts, srv.log_tail(100000)):
        assert lease["key"] not in text and key.hex() not in text


def test_lease_port_option():
    """--lease-port 0 turns leases off (no lease in the reply); another port is announced."""
    for arg, expected in (("0", None), ("free", "port")):
        port = None
        if arg == "free":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            arg = str(port)
        with server_env(extra_args=["--lease-port", arg]) as (srv, env):
            h = register(env)
            reply = heartbeat(srv, h["token"])
            if expected is None:
                assert "lease" not in reply, reply
            else:
                assert reply["lease"]["port"] == port
                key = b64url_decode(reply["lease"]["key"])
                udp = Udp(port)
                try:
                    assert decode(udp.ask(encode(RENEW, host_id(srv, h["name"]), 1, 0, key)),
                                  key)[0] == GRANT
                finally:
                    udp.close()


def row_versions(srv, host):
    """The row versions (xmin, ctid: a new one at every UPDATE) of the host and its members, and
    the number of events."""
    with store(srv) as c, c.cursor() as cur:
        cur.execute("SELECT xmin::text, ctid::text FROM hosts WHERE name = %s", (host,))
        rows = cur.fetchall()
        cur.execute("SELECT m.id, m.xmin::text, m.ctid::text FROM members m JOIN hosts h"
                    " ON h.id = m.host_id WHERE h.name = %s ORDER BY m.id", (host,))
        rows += cur.fetchall()
        cur.execute("SELECT count(*) FROM events")
        return rows + cur.fetchall()


def test_unchanged_heartbeat_writes_nothing(lease_env):
    """Heartbeats that report the same host and members (the probe's age moving, as it does)
    update no row of hosts, members or events; the host view's last_heartbeat stays fresh."""
    srv, env = lease_env
    h = register(env)
    body = {"members": [], "wait_ms": 0, "agent_version": "0.1.0", "isolation": "cgroup-v1",
            "capacity": {"cpu_millis": 1000, "memory_mb": 1024, "disk_mb": 10000},
            "engines": ["redis"], "ports": {"min": 20000, "max": 20100}}
    first = heartbeat(srv, h["token"], body)
    # an instance placed on the host, reported running with its health
    _, tok = env.mk_tenant()
    plan = env.mk_plan(cpu_millis=100, memory_mb=64, disk_mb=64)
    env.mk_instance(tok, plan, engine="redis")
    desired = wait_until(lambda: heartbeat(srv, h["token"], body)["members"],
                         what="a member placed on the host")
    m = desired[0]
    health = fake_probe("primary")
    body["members"] = [{"id": m["id"], "state": "running", "pid": 4242, "restarts": 0,
                        "applied_version": m["spec_version"], "pending_restart": False,
                        "usage": {"cpu_usec": 1000, "memory_bytes": 4096, "io_read_bytes": 0,
                                  "io_write_bytes": 0, "disk_mb": 1},
                        "health": health}]
    reply = heartbeat(srv, h["token"], body)
    body["desired_hash"] = reply["desired_hash"]
    heartbeat(srv, h["token"], body)
    before = row_versions(srv, h["name"])
    for i in range(5):
        health["age_ms"] = 100 + 37 * i
        assert heartbeat(srv, h["token"], body)["generation"] == reply["generation"]
    after = row_versions(srv, h["name"])
    assert after == before, "idle heartbeats wrote rows"
    # the host view still shows a fresh last_heartbeat (host_seen, flushed every second)
    t0 = time.time()
    heartbeat(srv, h["token"], body)

    def fresh():
        v = expect(env.op.get("/v1/hosts/" + h["name"]), 200)
        return v["state"] == "ready" and v["last_heartbeat"] and \
            abs(iso_epoch(v["last_heartbeat"]) - t0) < 1.5
    wait_until(fresh, timeout=5, what="last_heartbeat from host_seen")
    # a changed member is written
    health["writable"] = False
    heartbeat(srv, h["token"], body)
    changed = row_versions(srv, h["name"])
    assert changed[0] == after[0] and changed[1] != after[1], (after, changed)
    del first


def iso_epoch(s):
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
