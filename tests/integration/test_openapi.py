"""docs/openapi.yaml: valid OpenAPI 3.0 (checked by @apidevtools/swagger-parser in tests/openapi)
and in step with docs/api.md (the same routes and error codes). Needs no server."""

import json
import os
import re
import subprocess
import tempfile

import pytest
import yaml

from conftest import REPO

OPENAPI_DIR = os.path.join(REPO, "tests", "openapi")
SPEC = os.path.join(REPO, "docs", "openapi.yaml")
API_MD = os.path.join(REPO, "docs", "api.md")


@pytest.fixture(scope="module")
def validator(openapi_dir):
    return os.path.join(openapi_dir, "validate.js")


def run_validator(validator, *args):
    return subprocess.run(["node", validator] + list(args), cwd=OPENAPI_DIR, capture_output=True,
                          text=True, timeout=120)


def test_openapi_is_valid(validator):
    r = run_validator(validator, SPEC)
    assert r.returncode == 0, r.stderr


def test_validator_rejects_a_broken_document(validator):
    with open(SPEC) as f:
        text = f.read()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="dbaas-it-bad-") as bad:
        bad.write(text.replace('"#/components/schemas/Plan"', '"#/components/schemas/NoSuchPlan"', 1))
        bad.flush()
        r = run_validator(validator, bad.name)
    assert r.returncode != 0
    assert "NoSuchPlan" in r.stderr


def api_md_routes():
    routes = set()
    with open(API_MD) as f:
        for line in f:
            m = re.match(r"\|\s*`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`\s*\|", line)
            if m:
                routes.add((m.group(1), m.group(2)))
    assert len(routes) > 20, "could not read the route table of docs/api.md"
    return routes


def test_openapi_routes_match_api_md(validator):
    r = run_validator(validator, "--routes", SPEC)
    assert r.returncode == 0, r.stderr
    described = {tuple(json.loads(l)) for l in r.stdout.splitlines() if l.strip()}
    documented = api_md_routes()
    assert described - documented == set(), "in openapi.yaml, not in api.md"
    assert documented - described == set(), "in api.md, not in openapi.yaml"


def test_openapi_error_codes_match_api_md():
    codes = set()
    with open(API_MD) as f:
        for line in f:
            m = re.match(r"\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|", line)
            if m:
                codes.add(m.group(2))
    assert len(codes) >= 13
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    enum = set(spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert enum == codes


def test_openapi_security_schemes():
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"operatorToken", "tenantToken", "agentToken"}
    for s in schemes.values():
        assert s["type"] == "http" and s["scheme"] == "bearer"
    assert spec["paths"]["/healthz"]["get"]["security"] == []
