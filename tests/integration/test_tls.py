"""HTTPS end to end: dbaasd serving --tls-cert/--tls-key, a real dbaas-agent (as root) and
dbaasctl verifying it with --ca-file (or DBAAS_CA_FILE), and each refusing a server whose
certificate does not chain to the CA they were given.

The certificates are made here with the openssl command: a test CA, a server certificate it
signs for 127.0.0.1 (subjectAltName IP), and an unrelated CA that must be refused.
"""

import os
import shutil
import ssl
import socket
import subprocess
import tempfile

import pytest
import redis
import requests

from conftest import Dbaasd, expect, free_port, free_port_range, run_ctl, server_env, uniq, wait_until
from test_agent import Agent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the agent needs root (CI runs as root)")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
            "-days", "2", "-subj", "/CN=dbaas test " + name, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, crt


def make_server_cert(d, ca_key, ca_crt, san="IP:127.0.0.1", name="server"):
    key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".pem"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=dbaasd")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
            "-days", "2", "-extfile", ext)
    os.chmod(key, 0o600)
    return crt, key


def spawn(args):
    """dbaasd with args on a free port, without the health check (its certificate may be one no
    client accepts): returns (srv, rc) with rc None once it logged "ready", else its exit code."""
    srv = Dbaasd(extra_args=args)
    srv._spawn(free_port())
    wait_until(lambda: srv._ready.is_set() or srv.proc.poll() is not None, timeout=60,
               what="dbaasd ready or exited")
    rc = None
    if not srv._ready.is_set():
        rc = srv.proc.wait(10)
        srv._reader.join(5)
        srv.proc = None
    return srv, rc


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="dbaas-tls-")
    try:
        ca_key, ca = make_ca(d, "ca")
        _, wrong_ca = make_ca(d, "wrong-ca")
        crt, key = make_server_cert(d, ca_key, ca)
        other_crt, other_key = make_server_cert(d, ca_key, ca, san="DNS:elsewhere.invalid", name="other")
        yield {"dir": d, "ca": ca, "wrong_ca": wrong_ca, "crt": crt, "key": key,
               "other_crt": other_crt, "other_key": other_key}
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_server(pki):
    with server_env(tls=(pki["crt"], pki["key"], pki["ca"])) as se:
        yield se


def test_https_only_and_verified(pki, tls_server):
    srv, env = tls_server
    assert srv.url.startswith("https://127.0.0.1:")
    assert requests.get(srv.url + "/healthz", verify=pki["ca"], timeout=10).status_code == 200
    assert "tls=on" in srv.log_tail(200)
    # a client that trusts another CA, or only the system's, gets no answer
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(srv.url + "/healthz", verify=pki["wrong_ca"], timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(srv.url + "/healthz", timeout=10)
    # plain HTTP on the TLS port is not served
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("http://127.0.0.1:%d/healthz" % srv.port, timeout=10)
    # ... and libmicrohttpd's complaint about it is one of our log lines, not raw text
    wait_until(lambda: "event=http_error" in srv.log_tail(200), timeout=10, what="http_error logged")
    assert not any(l.startswith("Error:") for l in srv.log_tail(200).splitlines())
    # the handshake offers TLS 1.2 or later only ... and the API works through it
    ctx = ssl.create_default_context(cafile=pki["ca"])
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3"), s.version()
    name, _ = env.mk_tenant()
    assert any(t["name"] == name for t in env.op.list_all("/v1/tenants"))


def test_dbaasctl_ca_file(pki, tls_server):
    srv, env = tls_server
    tok = srv.operator_token()
    r = run_ctl(["tenant", "list"], url=srv.url, token=tok, env_extra={"DBAAS_CA_FILE": pki["ca"]})
    assert r.returncode == 0, r.stderr
    r = run_ctl(["--ca-file", pki["ca"], "--json", "tenant", "list"], url=srv.url, token=tok)
    assert r.returncode == 0, r.stderr
    for args, env_extra in ((["--ca-file", pki["wrong_ca"], "tenant", "list"], None),
                            (["tenant", "list"], {"DBAAS_CA_FILE": pki["wrong_ca"]}),
                            (["tenant", "list"], None)):
        r = run_ctl(args, url=srv.url, token=tok, env_extra=env_extra)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "could not verify the certificate" in r.stderr, r.stderr
        assert tok not in r.stderr
    r = run_ctl(["--ca-file", os.path.join(pki["dir"], "missing.pem"), "tenant", "list"], url=srv.url,
                token=tok)
    assert r.returncode == 2 and "cannot read the CA file" in r.stderr, r.stderr


def test_certificate_for_another_name_refused(pki):
    """A certificate the CA signed, but for another name than the URL's host, is refused."""
    srv, rc = spawn(["--tls-cert", pki["other_crt"], "--tls-key", pki["other_key"]])
    try:
        assert rc is None, srv.log_tail()
        url = "https://127.0.0.1:%d" % srv.port
        r = run_ctl(["--ca-file", pki["ca"], "tenant", "list"], url=url, token=srv.operator_token())
        assert r.returncode == 1 and "could not verify the certificate" in r.stderr, r.stderr
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url + "/healthz", verify=pki["ca"], timeout=10)
    finally:
        srv.close()


def test_agent_over_https(pki, tls_server):
    """A real agent heartbeats over HTTPS with --ca-file and runs an instance that a client
    reaches; an agent given another CA never gets a heartbeat through and says why."""
    srv, env = tls_server
    host = uniq("h")
    reg = expect(env.op.post("/v1/hosts", {
        "name": host, "address": "127.0.0.1", "zone": "z1", "cpu_millis": 2000, "memory_mb": 4096,
        "disk_mb": 20000, "engines": ["redis"]}), 201)
    bad_host = uniq("h")
    bad = expect(env.op.post("/v1/hosts", {
        "name": bad_host, "address": "127.0.0.2", "zone": "z1", "cpu_millis": 2000, "memory_mb": 4096,
        "disk_mb": 20000, "engines": ["redis"]}), 201)
    agent = Agent(srv, reg["token"], "cgroup", None, free_port_range(50), extra=["--ca-file", pki["ca"]])
    wrong = Agent(srv, bad["token"], "cgroup", None, free_port_range(50), advertise="127.0.0.2",
                  extra=["--ca-file", pki["wrong_ca"]])
    _, tok = env.mk_tenant()
    client = env.client(tok)
    iid = None
    try:
        agent.start()
        wrong.start()
        wait_until(lambda: expect(env.op.get("/v1/hosts/" + host), 200)["status"] == "ready",
                   what="host ready over https")
        wait_until(lambda: "could not verify the certificate" in wrong.logs(), what="the wrong-CA agent's error")
        assert expect(env.op.get("/v1/hosts/" + bad_host), 200)["last_heartbeat"] is None
        assert reg["token"] not in agent.logs() and bad["token"] not in wrong.logs()

        plan = env.mk_plan(cpu_millis=250, memory_mb=128, disk_mb=512)
        body = expect(client.post("/v1/instances", {"name": uniq("db"), "engine": "redis", "plan": plan}), 202)
        iid = body["id"]

        def running():
            i = expect(client.get("/v1/instances/" + iid), 200)
            assert i["status"] != "failed", i
            return i if i["status"] == "running" else None
        inst = wait_until(running, timeout=90, what="instance running over https")
        ep = inst["endpoints"]["primary"]
        r = redis.Redis(host=ep["host"], port=ep["port"], username=body["credentials"]["username"],
                        password=body["credentials"]["password"], socket_timeout=10)
        assert r.set("k", "over-tls") and r.get("k") == b"over-tls"
        r.close()
        expect(client.delete("/v1/instances/" + iid), 202)
        wait_until(lambda: expect(client.get("/v1/instances/" + iid), 200)["status"] == "deleted",
                   timeout=60, what="instance deleted")
        iid = None
    finally:
        if iid:
            client.delete("/v1/instances/" + iid)
            wait_until(lambda: client.get("/v1/instances/" + iid).json().get("status") == "deleted",
                       timeout=60, what="instance deleted")
        agent.stop()
        wrong.stop()
        shutil.rmtree(agent.dir, ignore_errors=True)
        shutil.rmtree(wrong.dir, ignore_errors=True)


@pytest.mark.parametrize("case", ["key_mode", "mismatch", "missing", "alone"])
def test_bad_tls_options_refused(pki, case):
    """dbaasd refuses to start on a key others can read, a key that is not the certificate's,
    a missing file, or --tls-cert without --tls-key; it says which, and never prints the key."""
    d = tempfile.mkdtemp(prefix="dbaas-tls-bad-")
    try:
        key = os.path.join(d, "key.pem")
        shutil.copy(pki["key"] if case != "mismatch" else pki["other_key"], key)
        os.chmod(key, 0o644 if case == "key_mode" else 0o600)
        args = {"key_mode": ["--tls-cert", pki["crt"], "--tls-key", key],
                "mismatch": ["--tls-cert", pki["crt"], "--tls-key", key],
                "missing": ["--tls-cert", os.path.join(d, "none.pem"), "--tls-key", key],
                "alone": ["--tls-cert", pki["crt"]]}[case]
        srv, rc = spawn(args)
        try:
            out = srv.log_tail(50)
            assert rc is not None and rc != 0, out
            want = {"key_mode": "readable by others", "mismatch": "do not match",
                    "missing": "could not read --tls-cert", "alone": "go together"}[case]
            assert want in out, out
            with open(pki["key"]) as f:
                body = f.read().splitlines()[1]
            assert body not in out
        finally:
            srv.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
