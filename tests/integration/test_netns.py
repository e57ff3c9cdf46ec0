"""The network-namespace rig (netns.py) itself: hosts reach each other, cut() blocks exactly the
control address both ways, restore() undoes it, crash() kills everything of a host, and teardown
leaves nothing behind, also when the test body fails."""

import os
import socket
import subprocess
import sys
import time

import pytest

import netns
from netns import Rig, leftovers, netns_rig  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)")

PORT = 17811

# A TCP echo server: binds ADDR:PORT, prints "listening", answers each connection with one line.
SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
print("listening", flush=True)
while True:
    c, a = s.accept()
    c.sendall(("hello from %s to %s\n" % (sys.argv[1], a[0])).encode()); c.close()
"""

# A client: connects from SRC (or any) to DST:PORT within 1 s; exit 0 and prints the line on success.
CLIENT = r"""
import socket, sys
s = socket.socket(); s.settimeout(1.0)
if sys.argv[3] != "-": s.bind((sys.argv[3], 0))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print(s.recv(200).decode().strip())
except OSError as e:
    print("error", e); sys.exit(1)
"""


def serve(rig, host, addr):
    """A server inside host (host None: the root namespace) on addr:PORT; waits for it."""
    args = [sys.executable, "-c", SERVER, addr, str(PORT)]
    if host is None:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        rig.procs.append(p)  # the rig stops it at teardown as well
    else:
        p = rig.popen(host, args, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "listening"
    return p


def reach(rig, host, dst, src="-"):
    """Whether a TCP connection from host (None: root namespace) to dst:PORT succeeds in 1 s."""
    args = [sys.executable, "-c", CLIENT, dst, str(PORT), src]
    if host is None:
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    else:
        r = rig.run(host, args, timeout=30)
    return r.returncode == 0


def test_hosts_reach_each_other_and_the_root(netns_rig):
    rig = netns_rig
    assert len(rig.hosts) == 3
    ctl = serve(rig, None, rig.control_addr)
    for h in rig.hosts:
        serve(rig, h, h.addr)
    for h in rig.hosts:
        assert reach(rig, h, rig.control_addr), "%s cannot reach the control address" % h
        assert reach(rig, None, h.addr), "the root namespace cannot reach %s" % h
        for other in rig.hosts:
            if other is not h:
                assert reach(rig, h, other.addr), "%s cannot reach %s" % (h, other)
    assert ctl.poll() is None
    # a host has no route out of the /24
    r = rig.run(rig.hosts[0], ["ip", "route", "get", "192.0.2.1"])
    assert r.returncode != 0 and "unreachable" in r.stderr
    # the root namespace routes the range to the bridge, and the safety net is there
    assert "dev %s" % rig.bridge in netns.run(["ip", "route", "get", rig.hosts[0].addr]).stdout
    assert "blackhole %s" % rig.subnet in netns.run(["ip", "route", "show", "type", "blackhole"]).stdout


def test_cut_blocks_exactly_the_control_address_both_ways(netns_rig):
    rig = netns_rig
    a, b, c = rig.hosts
    serve(rig, None, rig.control_addr)
    serve(rig, None, rig.client_addr)
    for h in rig.hosts:
        serve(rig, h, h.addr)

    rig.cut(a)
    assert rig.is_cut(a) and not rig.is_cut(b)
    # a -> control address: blocked; control address -> a: blocked
    assert not reach(rig, a, rig.control_addr)
    assert not reach(rig, None, a.addr, src=rig.control_addr)
    # everything else still works: clients (the client address) reach a and a reaches them,
    # a reaches the other hosts and they reach a, the others reach the control address
    assert reach(rig, None, a.addr)
    assert reach(rig, None, a.addr, src=rig.client_addr)
    assert reach(rig, a, rig.client_addr)
    assert reach(rig, a, b.addr) and reach(rig, b, a.addr) and reach(rig, c, a.addr)
    assert reach(rig, b, rig.control_addr) and reach(rig, c, rig.control_addr)
    assert reach(rig, None, b.addr, src=rig.control_addr)

    rig.restore(a)
    assert not rig.is_cut(a)
    assert reach(rig, a, rig.control_addr)
    assert reach(rig, None, a.addr, src=rig.control_addr)
    rig.restore(a)  # a no-op


def test_cut_another_address(netns_rig):
    rig = netns_rig
    a, b, _ = rig.hosts
    serve(rig, b, b.addr)
    serve(rig, None, rig.control_addr)
    rig.cut(a, b.addr)
    assert not reach(rig, a, b.addr)
    assert reach(rig, a, rig.control_addr)
    rig.restore(a)
    assert reach(rig, a, b.addr)


def test_crash_kills_every_process_of_the_host_and_only_those(netns_rig):
    rig = netns_rig
    a, b, _ = rig.hosts
    # a process that forks a grandchild which escapes into its own session: still on host a
    sh = rig.popen(a, ["sh", "-c", "setsid sleep 300 & sleep 300"])
    other = rig.popen(b, ["sleep", "300"])
    deadline = time.monotonic() + 10
    while len(rig.pids(a)) < 3:  # sh, its sleep, the setsid sleep
        assert time.monotonic() < deadline, rig.pids(a)
        time.sleep(0.02)
    killed = rig.crash(a)
    assert sh.pid in killed and len(killed) >= 3
    assert rig.pids(a) == []
    assert sh.poll() is not None
    assert other.poll() is None and rig.pids(b) == [other.pid]


def test_freeze_and_thaw(netns_rig):
    rig = netns_rig
    p = rig.popen(rig.hosts[0], ["sleep", "300"])
    rig.freeze(p.pid)
    deadline = time.monotonic() + 5
    while netns._proc_state(p.pid) != "T":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    rig.thaw(p.pid)
    while netns._proc_state(p.pid) == "T":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_teardown_leaves_nothing_also_after_a_failure():
    rig = Rig(3)
    with pytest.raises(ZeroDivisionError):
        with rig:
            rig.popen(rig.hosts[1], ["sleep", "300"])
            rig.popen(rig.hosts[2], ["sh", "-c", "setsid sleep 300 & wait"])
            rig.cut(rig.hosts[0])
            tag, subnet = rig.tag, rig.subnet
            assert leftovers(tag)
            1 / 0
    assert leftovers(tag) == []
    assert tag not in netns.run(["ip", "netns", "list"]).stdout
    assert subnet not in netns.run(["ip", "route", "show", "table", "all"]).stdout
    assert rig.procs == []
    rig.close()  # twice is fine


def test_teardown_after_a_failed_start(monkeypatch):
    rig = Rig(2)
    real = rig._check_routes

    def broken():
        real()
        raise RuntimeError("injected")
    monkeypatch.setattr(rig, "_check_routes", broken)
    with pytest.raises(RuntimeError, match="injected"):
        rig.start()
    assert leftovers(rig.tag) == []
    assert rig.subnet not in netns.run(["ip", "route", "show", "table", "all"]).stdout


def test_two_rigs_side_by_side():
    with Rig(1) as r1, Rig(1) as r2:
        assert r1.subnet != r2.subnet and r1.tag != r2.tag
        serve(r1, r1.hosts[0], r1.hosts[0].addr)
        assert reach(r1, None, r1.hosts[0].addr)
        # a host of one rig cannot reach the other rig (no route out of its /24)
        assert not reach(r2, r2.hosts[0], r1.hosts[0].addr)
    assert leftovers(r1.tag) == [] and leftovers(r2.tag) == []
