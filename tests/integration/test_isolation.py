"""The isolation backends measured for real, as root: bin/iso_check for the host's cgroup version
and for libvirt LXC.

NOTES
- iso_check (tests/isolation/iso_check.c) does the checking and prints one line per check and the
  measured figures; these tests run it, show its output, and require exit code 0.
- LXC needs libvirtd. A running system libvirtd (its socket answers) is reused. Otherwise the test
  starts its own, as docs/isolation.md describes: in a private mount namespace without the empty
  cgroup2 mount at /sys/fs/cgroup/unified (libvirt's LXC driver fails on it), with its own
  config, socket directory and pid file under a temporary directory, loading only the LXC driver
  (LIBVIRT_DRIVER_DIR: the QEMU driver would fail without the libvirt-qemu user that only
  libvirt-daemon-system creates). Its LXC state (/run/libvirt/lxc) is the system's: that is why
  a running system daemon is reused rather than started beside.
- Readiness is a deadline on the socket answering; the daemon is stopped with SIGTERM and a
  deadline, then SIGKILL, after every domain of ours is gone.
- Nothing is skipped: not being root is a failure (CI runs as root).
"""

import fcntl
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.abspath(os.environ.get("DBAAS_BIN_DIR") or os.path.join(REPO, "bin"))
ISO_CHECK = os.path.join(BIN_DIR, "iso_check")

LIBVIRTD = "/usr/sbin/libvirtd"
SYSTEM_SOCKET = "/run/libvirt/libvirt-sock"
LXC_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_lxc.so"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CHECK_TIMEOUT = 300.0
LOCK_FILE = "/run/lock/dbaas-test-isolation.lock"
LOCK_TIMEOUT = 600.0


def require_root():
    assert os.geteuid() == 0, "the isolation tests need root (CI runs as root)"
    assert os.access(ISO_CHECK, os.X_OK), f"{ISO_CHECK} is missing: run make first"


def run_iso_check(*args):
    proc = subprocess.run([ISO_CHECK, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=CHECK_TIMEOUT)
    print(proc.stdout)
    assert proc.returncode == 0, f"iso_check {' '.join(args)} failed:\n{proc.stdout}"
    # the summary line is exactly "N passed, 0 failed" ("10 failed" must not match)
    assert re.fullmatch(r"\d+ passed, 0 failed", proc.stdout.splitlines()[-1]), proc.stdout
    return proc.stdout


def socket_answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def virsh(uri, *args, timeout=30):
    return subprocess.run(["virsh", "-c", uri, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def foreign_libvirtd():
    """Whether a libvirtd (not answering on the system socket) owns the LXC driver state."""
    try:
        with open("/run/libvirt/lxc/driver.pid") as f:
            pid = int(f.read().strip() or 0)
        with open(f"/proc/{pid}/comm") as f:
            return pid > 0 and f.read().strip() == "libvirtd"
    except (OSError, ValueError):
        return False


class Libvirtd:
    """A private libvirtd for the test, or the system's when one runs."""

    # host state a libvirtd of ours creates; removed afterwards when it was not there before
    CREATED = ["/run/libvirt", "/var/log/libvirt"] + [
        f"/sys/fs/cgroup/{c}/machine"
        for c in ("blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids")]

    def __init__(self):
        self.proc = None
        self.dir = None
        self.uri = "lxc:///system"
        self.absent = []
        self.log = None
        self.lock = None
        self.started = False  # a daemon answers at self.uri (ours or the system's)

    def _take_lock(self):
        """One private libvirtd at a time on a machine: the LXC driver's state (/run/libvirt/lxc
        and its driver.pid lock) is global, so concurrent users of this class wait in turn."""
        os.makedirs(os.path.dirname(LOCK_FILE), exist_ok=True)
        self.lock = open(LOCK_FILE, "w")
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"another run held {LOCK_FILE} for {LOCK_TIMEOUT} s")
                time.sleep(0.2)
        # and a libvirtd started by something else that does not take the lock
        deadline = time.monotonic() + LOCK_TIMEOUT
        while foreign_libvirtd():
            if time.monotonic() > deadline:
                raise AssertionError("another libvirtd holds the LXC driver state")
            time.sleep(0.2)

    def start(self):
        if socket_answers(SYSTEM_SOCKET):
            self.started = True
            return
        self._take_lock()
        self.absent = [p for p in self.CREATED if not os.path.exists(p)]
        assert os.access(LIBVIRTD, os.X_OK), "libvirtd is missing (scripts/deps.sh installs it)"
        assert os.path.exists(LXC_DRIVER), "the libvirt LXC driver is missing"
        self.dir = tempfile.mkdtemp(prefix="iso-libvirtd.")
        drivers = os.path.join(self.dir, "drivers")
        os.mkdir(drivers)
        os.symlink(LXC_DRIVER, os.path.join(drivers, os.path.basename(LXC_DRIVER)))
        conf = os.path.join(self.dir, "libvirtd.conf")
        with open(conf, "w") as f:
            f.write(f'unix_sock_dir = "{self.dir}"\n')
            f.write(f'log_outputs = "3:file:{self.dir}/libvirtd.log"\n')
        sock = os.path.join(self.dir, "libvirt-sock")
        self.uri = f"lxc:///system?socket={sock}"
        env = dict(os.environ, LIBVIRT_DRIVER_DIR=drivers)
        # the script gets the paths as arguments, never interpolated
        script = ('if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; '
                  'exec "$0" -f "$1" -p "$2"')
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, LIBVIRTD, conf,
             os.path.join(self.dir, "libvirtd.pid")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while not socket_answers(sock):
            if self.proc.poll() is not None:
                raise AssertionError(f"libvirtd exited with {self.proc.returncode}: {self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"libvirtd not ready in {READY_TIMEOUT} s: {self.logs()}")
            time.sleep(0.05)
        self.started = True

    def logs(self):
        out = []
        for name in ("stderr.log", "libvirtd.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path) as f:
                    out.append(f.read()[-4000:])
        return "\n".join(out)

    def destroy_domains(self, prefix):
        """Destroy any domain iso_check left behind (it removes its own; this is the net)."""
        res = virsh(self.uri, "list", "--all", "--name")
        left = [d for d in res.stdout.split() if d.startswith(prefix)]
        for dom in left:
            virsh(self.uri, "destroy", dom)
            virsh(self.uri, "undefine", dom)
        return left

    def stop(self):
        try:
            self._stop()
        finally:
            if self.lock:
                self.lock.close()  # releases the flock
                self.lock = None

    def _stop(self):
        self.started = False
        if self.dir is None:
            return
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self.log:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        # what libvirt leaves per domain, then whatever our daemon created from nothing
        for path in glob.glob("/run/libvirt/lxc/isochk*") + glob.glob("/var/log/libvirt/lxc/isochk*"):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        for path in self.absent:
            if path.startswith("/sys/fs/cgroup/"):
                try:
                    os.rmdir(path)  # a cgroup: only when empty
                except OSError:
                    pass
            else:
                shutil.rmtree(path, ignore_errors=True)
        self.proc = None
        self.dir = None


@pytest.fixture
def libvirtd():
    daemon = Libvirtd()
    try:
        daemon.start()
        yield daemon
    finally:
        left = daemon.destroy_domains("isochk") if daemon.started else []
        daemon.stop()
        assert not left, f"iso_check left domains behind: {left}"


def test_cgroup_backend():
    """The host's cgroup version (v1 on the project's machines) under real limits."""
    require_root()
    out = run_iso_check("cgroup")
    assert "20% quota holds a busy loop" in out
    assert "64 MiB limit: the 200 MiB allocator dies" in out
    assert "live resize to unlimited" in out


def test_lxc_backend(libvirtd):
    """libvirt LXC: the same checks, plus the host network namespace."""
    require_root()
    out = run_iso_check("lxc", "--uri", libvirtd.uri)
    assert "container shares the host network namespace" in out
    assert "20% quota holds a busy loop" in out
