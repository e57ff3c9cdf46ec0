"""End-to-end checks of the engine drivers' failover operations (HA part 2, docs/engines.md)
with real servers: promote, stop_writes, the rejoin of a former primary and synchronous mode.

`bin/engine_check failover|sync` plays the agent's part for two members of one instance on this
machine (TOP/m1 the primary, TOP/m2 its replica) and prints key=value lines; the tests assert on
them. engine_check stops both servers before it exits; the fixture kills whatever an
engine_check that crashed left behind and removes the directories.

- failover clean: stop_writes (MariaDB, Redis; PostgreSQL is stopped cleanly instead) then a
  tenant write is not acknowledged, the replica catches up, the primary stops, the replica is
  promoted (twice: idempotent) and takes a write, the old primary rejoins as its replica.
- failover diverge: the replica stops, the primary takes a write the replica never sees and is
  killed (SIGKILL); after the promotion the old primary rejoins: PostgreSQL rewinds it
  (pg_rewind), MariaDB's follow answers ENGINE_E_DIVERGED and the member is seeded afresh, Redis
  resyncs fully. Either way the divergent write is gone and the new primary's writes are there.
- sync: with the replica stopped a write on the sync primary gets no answer (PostgreSQL,
  MariaDB) or NOREPLICAS (Redis); with the replica back writes are acknowledged again.

Needs root (servers run as their OS users): skipped otherwise.
"""

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import BIN_DIR, free_port, procs_under

ENGINE_CHECK = os.path.join(BIN_DIR, "engine_check")
ENGINES = ["postgres", "mysql", "redis"]
RUN_TIMEOUT = 300.0
READ_ONLY_ERROR = {"postgres": "read-only transaction", "mysql": "--read-only option",
                   "redis": "READONLY"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="engine servers run as their OS users: needs root")


def parse_lines(text):
    """engine_check's key=value lines; a repeated key keeps its last value."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class Rig:
    """Two member directories under one top directory, two ports, a password and a secret."""

    def __init__(self, engine):
        self.engine = engine
        self.top = tempfile.mkdtemp(prefix="engine-fo-%s-" % engine)
        os.chmod(self.top, 0o755)
        self.port1 = free_port()
        self.port2 = free_port()
        while self.port2 == self.port1:
            self.port2 = free_port()
        self.password = secrets.token_urlsafe(18)
        self.secret = secrets.token_urlsafe(24)

    def run(self, *args):
        p = subprocess.run([ENGINE_CHECK, args[0], self.engine, self.top, str(self.port1), str(self.port2)]
                           + list(args[1:]), input=self.password + "\n" + self.secret + "\n",
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert self.secret not in p.stdout + p.stderr
        assert p.returncode == 0, "engine_check %s: status %d: %s%s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr)
        return parse_lines(p.stdout)

    def cleanup(self):
        try:
            leftover = procs_under(self.top)
            for pid, _, _ in leftover:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for member in ("m1", "m2"):
                d = os.path.join(self.top, member)
                if os.path.exists(d):
                    subprocess.run([ENGINE_CHECK, "remove", self.engine, d], capture_output=True,
                                   timeout=RUN_TIMEOUT)
            assert not leftover, "processes left in %s: %r" % (self.top, leftover)
        finally:
            shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def rig_factory():
    made = []

    def make(engine):
        made.append(Rig(engine))
        return made[-1]

    yield make
    for r in made:
        r.cleanup()


def assert_rejoined(engine, out):
    """The old primary is a streaming, read-only replica of the new one, with its writes."""
    assert out["rejoin"] == "ok"
    assert out["rejoined_has_divergent"] == "0"
    assert out["rejoined_write"] == "refused" and READ_ONLY_ERROR[engine] in out["rejoined_write_msg"]
    assert (out["rejoined_alive"], out["rejoined_role"], out["rejoined_writable"],
            out["rejoined_upstream_up"]) == ("1", "replica", "0", "1")
    assert int(out["follow_again_ms"]) < 1000  # nothing changed: cheap


def assert_promoted(out):
    assert (out["promoted_alive"], out["promoted_role"], out["promoted_writable"]) == ("1", "primary", "1")
    assert int(out["promote_ms"]) < 30000


@pytest.mark.parametrize("engine", ENGINES)
def test_switchover_and_rejoin(engine, rig_factory):
    out = rig_factory(engine).run("failover", "clean")
    print("%s: promote %s ms, rejoin %s ms" % (engine, out["promote_ms"], out["rejoin_ms"]))
    if engine == "postgres":
        assert out["stop_writes"] == "unsupported"  # the agent stops it cleanly instead
    else:
        assert out["stop_writes"] == "ok"
        # The fenced primary acknowledges nothing: MariaDB refuses (read_only), Redis holds the
        # write unanswered (CLIENT PAUSE WRITE).
        expected = {"mysql": "refused", "redis": "timeout"}[engine]
        assert out["fenced_write"] == expected, out["fenced_write_msg"]
        if engine == "mysql":
            assert "--read-only option" in out["fenced_write_msg"]
    assert_promoted(out)
    assert out["follow"] == "ok"  # no divergence: it just re-points
    assert_rejoined(engine, out)


@pytest.mark.parametrize("engine,mode", [("postgres", "diverge"), ("mysql", "diverge"),
                                         ("mysql", "diverge-far"), ("redis", "diverge")])
def test_failover_after_crash_with_divergence(engine, mode, rig_factory):
    out = rig_factory(engine).run("failover", mode)
    print("%s %s: promote %s ms, rejoin %s ms, follow %s" % (
        engine, mode, out["promote_ms"], out["rejoin_ms"], out["follow"]))
    assert_promoted(out)
    if engine == "mysql":
        # Its own transactions are not in the new primary's history: a fresh seed.
        assert out["follow"] == "diverged"
        assert "has transactions the primary lacks" in out["follow_error"]
        if mode == "diverge-far":  # only the new primary's refusal (error 1236) tells
            assert "1236" in out["follow_error"]
        else:  # the positions tell before replication starts
            assert "its position 0-1-" in out["follow_error"]
        assert out["reseed"] == "ok"
    else:
        # PostgreSQL: pg_rewind removed the divergent write; Redis: a full resync.
        assert out["follow"] == "ok"
    assert_rejoined(engine, out)


@pytest.mark.parametrize("engine", ENGINES)
def test_sync_mode(engine, rig_factory):
    out = rig_factory(engine).run("sync")
    assert out["sync_restart_needed"] == "0"  # switched on live
    assert out["sync_write"] == "accepted", out["sync_write_msg"]
    if engine == "redis":
        # Refused at once (not even a write accepted while the primary noticed).
        assert out["alone_write"] == "refused"
        assert out["alone_write_msg"].startswith("NOREPLICAS")
    else:
        # The commit waits for a replica that is not there: no answer.
        assert out["alone_write"] == "timeout", out["alone_write_msg"]
        assert out["alone_accepted_first"] == "0"
    assert out["back_write"] == "accepted", out["back_write_msg"]
