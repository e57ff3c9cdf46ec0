"""GET /healthz and GET /metrics."""

import re

from conftest import assert_error, expect


def test_healthz_needs_no_token(api):
    r = api.get("/healthz", token=None)
    assert expect(r, 200) == {"status": "ok"}


def test_healthz_ignores_a_garbage_token(api):
    r = api.get("/healthz", token="garbage")
    assert expect(r, 200) == {"status": "ok"}


def test_operator_token_file(server):
    tok = server.operator_token()  # checks mode 0600 and the dbaas_op_ prefix
    assert len(tok) > len("dbaas_op_") + 20


def metric_samples(text, name):
    """{labels-string: value} of the samples of one metric name."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        # label values may hold braces (route="/v1/instances/{id}")
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)', line)
        if m and m.group(1) == name:
            out[m.group(2) or ""] = float(m.group(3))
    return out


def test_metrics(api, mk_tenant, mk_plan, mk_instance):
    _, tok = mk_tenant()
    plan = mk_plan()
    inst = mk_instance(tok, plan)
    expect(api.get("/v1/instances/" + inst["id"]), 200)
    expect(api.get("/v1/tenants"), 200)

    r = api.get("/metrics")
    assert r.status_code == 200, r.text
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain"), ctype
    assert "version=0.0.4" in ctype, ctype
    text = r.text

    assert re.search(r"^# TYPE dbaas_http_requests_total counter$", text, re.M), text[:2000]
    reqs = metric_samples(text, "dbaas_http_requests_total")
    assert reqs, text[:2000]
    for labels in reqs:
        assert 'route="' in labels and 'method="' in labels and 'status="' in labels, labels
    # the route label is the pattern, never a concrete id
    assert any('route="/v1/instances/{id}"' in l and 'method="GET"' in l and 'status="200"' in l
               for l in reqs), sorted(reqs)
    assert any('route="/v1/tenants"' in l and 'method="GET"' in l for l in reqs), sorted(reqs)
    assert inst["id"] not in text

    assert re.search(r"^# TYPE dbaas_http_request_duration_seconds histogram$", text, re.M), text[:2000]
    buckets = metric_samples(text, "dbaas_http_request_duration_seconds_bucket")
    inf = [v for l, v in buckets.items() if 'le="+Inf"' in l]
    assert inf and inf[0] >= 3, buckets
    count = metric_samples(text, "dbaas_http_request_duration_seconds_count")
    assert count and list(count.values())[0] == inf[0]
    assert metric_samples(text, "dbaas_http_request_duration_seconds_sum")
    # buckets are cumulative
    vals = [v for l, v in buckets.items()]
    assert max(vals) == inf[0]

    inst_gauge = metric_samples(text, "dbaas_instances")
    assert re.search(r"^# TYPE dbaas_instances gauge$", text, re.M), text[:2000]
    pending = [v for l, v in inst_gauge.items() if 'status="pending"' in l]
    assert pending and pending[0] >= 1, inst_gauge
    # dbaas_hosts is checked in test_hosts.py, on a server that has hosts


def test_metrics_is_operator_only(api, mk_tenant):
    _, tok = mk_tenant()
    assert_error(api.get("/metrics", token=tok), 403, "forbidden")
    assert_error(api.get("/metrics", token=None), 401, "unauthenticated")


def test_embedded_store_has_a_connection_for_every_worker():
    """--threads N gives N workers one store connection each: the embedded store's
    max_connections leaves room for all of them and the control loops (up to 256 workers)."""
    from conftest import start_server
    srv = start_server(extra_args=("--threads", "250"))
    try:
        assert int(srv.store_sql("SHOW max_connections")[0][0]) >= 250 + 5
    finally:
        srv.close()
