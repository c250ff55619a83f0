"""What generated clients and people reading /docs get: the job and site bodies as full schemas
with their bounds, every error response declared with the problem-details schema the server
really sends, and /docs served with its own assets (no CDN)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from suanwang.scheduler.api.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory, jiangsu_module):
    from suanwang.scheduler.db.engine import make_engine, upgrade

    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 's.db'}")
    upgrade(eng)
    yield TestClient(create_app(eng, jiangsu_module), raise_server_exceptions=False)
    eng.dispose()


@pytest.fixture(scope="module")
def jiangsu_module():
    from suanwang.topology.loader import load_topology

    return load_topology()


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_job_body_schema_has_types_and_bounds(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    jobs = _resolve(spec, body)["properties"]["jobs"]
    assert jobs["type"] == "array" and jobs["maxItems"] == 10_000
    job = _resolve(spec, jobs["items"])
    assert {"id", "kind", "tenant", "priority", "accelerators", "duration_h", "window"} <= set(job["properties"])
    assert job["additionalProperties"] is False
    count = _resolve(spec, job["properties"]["accelerators"])["properties"]["count"]
    assert count["type"] == "integer" and count["minimum"] == 1 and count["maximum"] == 100_000
    assert set(job["properties"]["kind"]["enum"]) == {"training", "inference", "batch"}
    text = str(spec)
    assert not re.search(r"'(ge|le|gt|lt)':", text), "constraints that are not JSON Schema keywords"


def test_site_body_schema(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/sites"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    site = _resolve(spec, _resolve(spec, body)["properties"]["site"])
    pue = site["properties"]["pue"]
    assert pue["minimum"] == 1.0 and pue["maximum"] == 3.0
    assert set(site["properties"]["tier"]["enum"]) == {"hub", "city", "edge"}


@pytest.mark.parametrize("code", ["401", "403", "404", "409", "413", "422", "503"])
def test_error_responses_are_declared_as_problem_details(client, code):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            declared = op["responses"].get(code)
            assert declared, f"{method.upper()} {path} does not declare {code}"
            schema = declared["content"]["application/problem+json"]["schema"]
            assert schema["$ref"].endswith("/Problem")
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["required"])


def test_a_real_422_matches_the_declared_schema(client):
    r = client.post("/v1/jobs", json={"jobs": [{"id": "x", "kind": "training", "accelerators": {"count": 0}}]})
    assert r.status_code in (401, 422)  # no token: 401 comes first, in the same shape
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail", "instance"} <= set(body)


def test_docs_are_served_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: ?'([^']+)'", page.text)
    assert urls and not [u for u in urls if u.startswith(("http://", "https://", "//"))], urls
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000
