"""A rig of "hosts" on one machine: network namespaces joined by a bridge in the root namespace.

Used by the failover tests and by bench/bench_failover.py (make bench-failover). Needs root, `ip`
(iproute2), `nsenter` (util-linux) and `nft` (nftables, installed by scripts/deps.sh).

NOTES
- Layout (one private /24, 10.213.X.0/24 with X picked among the ones no route or address of this
  machine uses yet, so that two rigs never share one):
    bridge  <tag>br   in the root namespace, address .1 (the "client" address: the root
                      namespace's default source toward the rig) and .2 (the "control" address,
                      a secondary one: dbaasd, etcd, anything a host can be cut off from);
    host i  namespace <tag>h<i>, a veth pair <tag>v<i> (root side, in the bridge) / eth0
            (inside), address .(10 + i), lo up, NO default route: a host reaches the /24 only.
  Plus `blackhole 10.213.X.0/24 metric 4242` in the root namespace (ENVIRONMENT.md's safety
  net): if the bridge is gone, nothing to the range leaves through the default route. start()
  checks with `ip route get` that every host address routes to the bridge before anything runs.
- Processes run inside a namespace with `nsenter --net=/run/netns/NAME` (network namespace only).
  Not `ip netns exec`: it also remounts /sys in a private mount namespace, which hides the cgroup
  hierarchies under /sys/fs/cgroup from the agent's cgroup backend. nsenter execs the program,
  so the Popen's pid is the program's pid.
- What runs "on" a host is every process whose /proc/PID/ns/net is that namespace, whoever
  started it (an agent's engines, a daemon's forks): crash() SIGKILLs all of them, again and
  again until none is left. Zombies have no namespace link and are not counted; the rig reaps
  its own children.
- cut(host) drops, inside the host's namespace (nftables table `inet dbaas_rig_cut`, input and
  output hooks), every packet from or to one address (default: the control address .2). The
  client address .1 and the other hosts still reach the host, and the host still reaches them.
  Locally generated packets dropped by the output hook fail at once with EPERM for the sender
  (a UDP send, a TCP connect may then time out); what the host receives from the address is
  dropped silently. restore(host) deletes the table. Deleting a namespace deletes its tables.
- close() (also on error, from __exit__, from the `netns_rig` pytest fixture's finalizer and from
  an atexit safety net) stops every process started through the rig (SIGTERM, deadline, then
  SIGKILL), SIGKILLs whatever else still runs in the namespaces, deletes the namespaces, the
  bridge and the blackhole route, in that order, and checks that none is left.
"""

import atexit
import ipaddress
import os
import random
import shutil
import signal
import subprocess
import time

NETNS_DIR = "/run/netns"
CUT_TABLE = "dbaas_rig_cut"
BLACKHOLE_METRIC = 4242
BASE = "10.213"  # 10.213.X.0/24

_OPEN = []  # every Rig not closed yet, for the atexit safety net


def run(args, check=True, input=None, timeout=30):
    r = subprocess.run(args, capture_output=True, text=True, input=input, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode, (r.stderr or r.stdout).strip()))
    return r


def _ns_ident(path):
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2]
    except (OSError, ValueError):
        return None


def reap_children():
    """Reap every exited child of ours that nobody waits for (orphans reparented to a subreaper
    included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def become_subreaper():
    """Make this process the child subreaper of what it starts: orphans (a daemon's forks) are
    reparented to it and reaped by reap_children(), not left as zombies for PID 1 (which reaps
    slowly on these machines)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _used_subnets():
    used = set()
    for args in (["ip", "-4", "-o", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        out = run(args, check=False).stdout
        for tok in out.split():
            try:
                net = ipaddress.ip_interface(tok).network if "/" in tok else ipaddress.ip_network(tok + "/32")
            except ValueError:
                continue
            if str(net).startswith(BASE + "."):
                used.add(int(str(net.network_address).split(".")[2]))
    return used


class Host:
    def __init__(self, rig, index):
        self.rig = rig
        self.index = index
        self.name = "h%d" % index
        self.ns = "%sh%d" % (rig.tag, index)
        self.veth = "%sv%d" % (rig.tag, index)
        self.addr = rig.addr(10 + index)
        self.path = os.path.join(NETNS_DIR, self.ns)

    def __repr__(self):
        return "<host %s %s ns=%s>" % (self.name, self.addr, self.ns)

    def ident(self):
        return _ns_ident(self.path)


class Rig:
    """N hosts (network namespaces) on a bridge; see NOTES. A context manager."""

    def __init__(self, n_hosts=3, tag=None, third_octet=None):
        if os.geteuid() != 0:
            raise RuntimeError("the network-namespace rig needs root")
        for tool in ("ip", "nsenter", "nft"):
            if shutil.which(tool) is None:
                raise RuntimeError("%s is missing (scripts/deps.sh installs iproute2, util-linux, nftables)" % tool)
        self.tag = tag or "dr%04x" % random.randrange(0x10000)  # interface names stay under 16 chars
        self.n_hosts = n_hosts
        self.third = third_octet
        self.bridge = self.tag + "br"
        self.hosts = []
        self.procs = []  # Popen objects started through the rig
        self._made = {"bridge": False, "blackhole": False, "ns": []}
        self.started = False

    # ---- addresses

    def addr(self, last):
        return "%s.%d.%d" % (BASE, self.third, last)

    @property
    def subnet(self):
        return "%s.%d.0/24" % (BASE, self.third)

    @property
    def client_addr(self):
        """The root namespace's own source address toward the rig (clients, the benchmark)."""
        return self.addr(1)

    @property
    def control_addr(self):
        """The address of dbaasd (or etcd): the one cut() blocks by default."""
        return self.addr(2)

    def host(self, name_or_index):
        if isinstance(name_or_index, Host):
            return name_or_index
        if isinstance(name_or_index, int):
            return self.hosts[name_or_index]
        for h in self.hosts:
            if name_or_index in (h.name, h.ns, h.addr):
                return h
        raise KeyError(name_or_index)

    # ---- set up and tear down

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        _OPEN.append(self)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.started = True
        return self

    def _start(self):
        if self.third is None:
            used = _used_subnets()
            free = [x for x in range(1, 255) if x not in used]
            if not free:
                raise RuntimeError("no free %s.X.0/24 for a rig" % BASE)
            self.third = random.choice(free)
        # the safety net first: from here on nothing to the range can leave by the default route
        run(["ip", "route", "add", "blackhole", self.subnet, "metric", str(BLACKHOLE_METRIC)])
        self._made["blackhole"] = True
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._made["bridge"] = True
        run(["ip", "addr", "add", self.client_addr + "/24", "dev", self.bridge])
        run(["ip", "addr", "add", self.control_addr + "/24", "dev", self.bridge])  # secondary
        run(["ip", "link", "set", self.bridge, "up"])
        for i in range(self.n_hosts):
            h = Host(self, i)
            run(["ip", "netns", "add", h.ns])
            self._made["ns"].append(h.ns)
            self.hosts.append(h)
            run(["ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns])
            run(["ip", "link", "set", h.veth, "master", self.bridge])
            run(["ip", "link", "set", h.veth, "up"])
            inside = ["ip", "-n", h.ns]
            run(inside + ["link", "set", "lo", "up"])
            run(inside + ["addr", "add", h.addr + "/24", "dev", "eth0"])
            run(inside + ["link", "set", "eth0", "up"])
        self._check_routes()
        self._wait_links()

    def _check_routes(self):
        for h in self.hosts:
            out = run(["ip", "route", "get", h.addr]).stdout
            if "dev %s " % self.bridge not in out + " ":
                raise RuntimeError("route to %s does not go to the bridge %s: %s" % (h.addr, self.bridge, out.strip()))
            out = run(["ip", "-n", h.ns, "route", "get", self.control_addr]).stdout
            if "dev eth0 " not in out + " ":
                raise RuntimeError("in %s the route to %s is not eth0: %s" % (h.ns, self.control_addr, out.strip()))
            out = run(["ip", "-n", h.ns, "route", "show", "default"]).stdout.strip()
            if out:
                raise RuntimeError("namespace %s has a default route: %s" % (h.ns, out))

    def _wait_links(self, timeout=10.0):
        """Until the bridge port of every host forwards (a fresh bridge port may spend a moment
        in a non-forwarding state) and eth0 is up inside."""
        deadline = time.monotonic() + timeout
        while True:
            pending = []
            for h in self.hosts:
                st = run(["ip", "-d", "link", "show", h.veth]).stdout
                inside = run(["ip", "-n", h.ns, "-br", "link", "show", "eth0"]).stdout
                if "state forwarding" not in st or " UP " not in inside + " ":
                    pending.append(h.ns)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("links not up after %.0f s: %s" % (timeout, pending))
            time.sleep(0.05)

    def close(self):
        """Stop everything, remove every namespace, the bridge and the route. Safe to call twice
        and after a failed start. Raises at the end if something could not be removed."""
        errors = []
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except OSError:
                    pass
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self.procs = []
        for h in list(self.hosts):
            if os.path.exists(h.path):
                try:
                    self.crash(h)
                except Exception as e:  # keep tearing down
                    errors.append("crash %s: %r" % (h.ns, e))
        for h in self.hosts:  # deleting one end deletes the pair at once; a namespace goes asynchronously
            run(["ip", "link", "del", h.veth], check=False)
        for ns in list(self._made["ns"]):
            r = run(["ip", "netns", "del", ns], check=False)
            if r.returncode != 0 and os.path.exists(os.path.join(NETNS_DIR, ns)):
                errors.append("ip netns del %s: %s" % (ns, r.stderr.strip()))
            else:
                self._made["ns"].remove(ns)
        if self._made["bridge"]:
            r = run(["ip", "link", "del", self.bridge], check=False)
            if r.returncode != 0 and run(["ip", "link", "show", self.bridge], check=False).returncode == 0:
                errors.append("ip link del %s: %s" % (self.bridge, r.stderr.strip()))
            else:
                self._made["bridge"] = False
        # the root-side veths go with their peers; wait (deadline) until the kernel removed them
        deadline = time.monotonic() + 30
        while any(run(["ip", "link", "show", h.veth], check=False).returncode == 0 for h in self.hosts):
            if time.monotonic() > deadline:
                errors.append("veths still present: %s" % [h.veth for h in self.hosts])
                break
            time.sleep(0.05)
        if self._made["blackhole"]:
            r = run(["ip", "route", "del", "blackhole", self.subnet, "metric", str(BLACKHOLE_METRIC)], check=False)
            if r.returncode != 0:
                errors.append("ip route del blackhole %s: %s" % (self.subnet, r.stderr.strip()))
            else:
                self._made["blackhole"] = False
        reap_children()
        if self in _OPEN:
            _OPEN.remove(self)
        if errors:
            raise RuntimeError("rig teardown: " + "; ".join(errors))

    # ---- processes

    def cmd(self, host, args):
        """The argument vector that runs args inside host's namespace."""
        return ["nsenter", "--net=" + self.host(host).path, "--"] + list(args)

    def popen(self, host, args, **kw):
        """Start args inside host's namespace (subprocess.Popen keywords pass through); the rig
        stops it at close()."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.cmd(host, args), **kw)
        self.procs.append(p)
        return p

    def run(self, host, args, **kw):
        """subprocess.run inside host's namespace."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.cmd(host, args), **kw)

    def pids(self, host):
        """Live (not zombie) processes whose network namespace is host's."""
        want = self.host(host).ident()
        found = []
        me = os.getpid()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            try:
                if _ns_ident("/proc/%s/ns/net" % d) != want:
                    continue
            except OSError:
                continue
            if _proc_state(int(d)) in (None, "Z", "X"):
                continue
            found.append(int(d))
        return sorted(found)

    def crash(self, host, timeout=10.0):
        """A host crash: SIGKILL every process of host's namespace until none is left. Returns
        the pids killed."""
        killed = set()
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids(host)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("processes of %s still alive after SIGKILL: %s" % (self.host(host).ns, pids))
            reap_children()
            time.sleep(0.01)
        for p in self.procs:
            if p.pid in killed:
                p.wait(10)
        reap_children()
        return sorted(killed)

    @staticmethod
    def freeze(pid):
        os.kill(pid, signal.SIGSTOP)

    @staticmethod
    def thaw(pid):
        os.kill(pid, signal.SIGCONT)

    # ---- partitions

    def cut(self, host, addr=None):
        """Drop every packet between host and addr (default: the control address), both ways,
        inside host's namespace. Other hosts and the client address still reach host."""
        addr = addr or self.control_addr
        ipaddress.ip_address(addr)  # a plain address, nothing else goes into the rule set
        h = self.host(host)
        rules = (
            "table inet %(t)s {\n"
            "  chain in { type filter hook input priority -10; policy accept; ip saddr %(a)s drop; }\n"
            "  chain out { type filter hook output priority -10; policy accept; ip daddr %(a)s drop; }\n"
            "}\n" % {"t": CUT_TABLE, "a": addr})
        run(["ip", "netns", "exec", h.ns, "nft", "-f", "-"], input=rules)

    def restore(self, host):
        """Undo cut() (a no-op when the host is not cut off)."""
        h = self.host(host)
        r = run(["ip", "netns", "exec", h.ns, "nft", "list", "table", "inet", CUT_TABLE], check=False)
        if r.returncode == 0:
            run(["ip", "netns", "exec", h.ns, "nft", "delete", "table", "inet", CUT_TABLE])

    def is_cut(self, host):
        h = self.host(host)
        return run(["ip", "netns", "exec", h.ns, "nft", "list", "table", "inet", CUT_TABLE], check=False).returncode == 0


def leftovers(tag):
    """What of a rig with this tag still exists: namespaces, links, the blackhole route (for
    tests of the teardown)."""
    left = []
    ns = run(["ip", "netns", "list"]).stdout
    left += [l.split()[0] for l in ns.splitlines() if l.startswith(tag)]
    links = run(["ip", "-o", "link", "show"]).stdout
    for l in links.splitlines():
        name = l.split(":")[1].strip().split("@")[0]
        if name.startswith(tag):
            left.append(name)
    return left


@atexit.register
def _close_all():
    for rig in list(_OPEN):
        try:
            rig.close()
        except Exception as e:  # noqa: BLE001 - report and go on with the others
            import sys
            sys.stderr.write("netns: teardown of rig %s failed: %r\n" % (rig.tag, e))


try:
    import pytest

    @pytest.fixture
    def netns_rig(request):
        """A three-host rig for one test; torn down by the finalizer whatever happened."""
        rig = Rig(getattr(request, "param", 3))
        request.addfinalizer(rig.close)
        rig.start()
        return rig
except ImportError:  # the benchmarks import this module without pytest
    pass
