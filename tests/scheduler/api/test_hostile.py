"""Inputs a hostile or careless client sends, on SQLite and PostgreSQL: every one is a 4xx with
problem details naming the field (never a 5xx), bodies are capped (413), and an unexpected
server fault is answered as problem details with an error id that the log carries."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from tests.scheduler.api.test_api import SUQIAN_EDGE

NOW = datetime(2026, 11, 25, 9, 0)


def job(**over):
    j = {
        "id": "h1",
        "kind": "training",
        "tenant": "lab-a",
        "priority": 1,
        "duration_h": 2,
        "accelerators": {"count": 8, "per_node": 8, "models": ["H800"]},
    }
    for k, v in over.items():
        if k in ("count", "per_node"):
            j["accelerators"] = {**j["accelerators"], k: v}
        else:
            j[k] = v
    return j


@pytest.fixture()
def client(engine, jiangsu):
    app = create_app(engine, jiangsu, now=lambda: NOW)
    with sessions(engine).begin() as s:
        token = repo.create_token(s, "admin", None, "setup", NOW)
    c = TestClient(app, raise_server_exceptions=False)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def raw(client, path, text, method="POST"):
    return client.request(method, path, content=text.encode(), headers={"Content-Type": "application/json"})


JOB_CASES = [
    (
        "count NaN",
        '{"jobs": [' + json.dumps(job()).replace('"count": 8', '"count": NaN') + "]}",
        "jobs[0].accelerators.count",
    ),
    (
        "count Infinity",
        '{"jobs": [' + json.dumps(job()).replace('"count": 8', '"count": Infinity') + "]}",
        "jobs[0].accelerators.count",
    ),
    (
        "duration Infinity",
        '{"jobs": [' + json.dumps(job()).replace('"duration_h": 2', '"duration_h": Infinity') + "]}",
        "jobs[0].duration_h",
    ),
    ("duration 1e308", json.dumps({"jobs": [job(duration_h=1e308)]}), "jobs[0].duration_h"),
    ("size 1e308", json.dumps({"jobs": [job(data={"location": "Nanjing", "size_tb": 1e308})]}), "jobs[0].data.size_tb"),
    ("priority 1e23", json.dumps({"jobs": [job(priority=1e23)]}), "jobs[0].priority"),
    ("priority 2^31", json.dumps({"jobs": [job(priority=2**31)]}), "jobs[0].priority"),
    ("priority true", json.dumps({"jobs": [job(priority=True)]}), "jobs[0].priority"),
    ("NUL in id", json.dumps({"jobs": [job(id="a\u0000b")]}), "jobs[0].id"),
    ("NUL in tenant", json.dumps({"jobs": [job(tenant="lab\u0000a")]}), "jobs[0].tenant"),
    ("5,000-character id", json.dumps({"jobs": [job(id="x" * 5000)]}), "jobs[0].id"),
    ("id with a slash", json.dumps({"jobs": [job(id="../etc")]}), "jobs[0].id"),
    (
        "NUL in env",
        json.dumps({"jobs": [job(container={"image": "r/i:1", "env": {"A": "x\u0000"}})]}),
        "jobs[0].container.env.A",
    ),
    ("count 10^9", json.dumps({"jobs": [job(count=10**9)]}), "jobs[0].accelerators.count"),
    ("count as text", json.dumps({"jobs": [job(count="8")]}), "jobs[0].accelerators.count"),
    ("unknown field", json.dumps({"jobs": [job(color="red")]}), "jobs[0].color"),
    ("jobs not a list", json.dumps({"jobs": {"a": 1}}), "jobs"),
    ("no jobs", json.dumps({"jobs": []}), "jobs"),
    ("10,001 jobs", json.dumps({"jobs": [job(id=f"j{i}") for i in range(10_001)]}), "jobs"),
    ("a list body", "[1, 2, 3]", ""),
    ("deadline not a time", json.dumps({"jobs": [job(window={"deadline": "tomorrow"})]}), "jobs[0].window.deadline"),
]


@pytest.mark.parametrize(("name", "body", "path"), JOB_CASES, ids=[c[0] for c in JOB_CASES])
def test_hostile_job_bodies_are_422_naming_the_field(client, name, body, path):
    for route in ("/v1/jobs", "/v1/plans/dry-run"):
        r = raw(client, route, body)
        assert r.status_code == 422, (route, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert all(e["message"] and e["fix"] for e in problem["errors"])
        if path:
            assert path in {e["path"] for e in problem["errors"]}, problem["errors"][:3]


def test_malformed_json_and_wrong_types(client):
    assert raw(client, "/v1/jobs", '{"jobs": [').status_code == 422
    assert raw(client, "/v1/jobs", "\x00\x01").status_code == 422
    assert client.get("/v1/jobs", params={"limit": "NaN"}).status_code == 422
    assert client.get("/v1/jobs", params={"offset": "-1"}).status_code == 422


def test_hostile_site_bodies(client):
    site = SUQIAN_EDGE
    for change, path in (
        ({"pue": "NaN"}, "site.pue"),
        ({"pue": 1e308}, "site.pue"),
        ({"id": "../../escape-dir"}, "site.id"),
        ({"power_cap_kw": -5}, "site.power_cap_kw"),
        ({"pools": []}, "site.pools"),
    ):
        body = json.dumps({"site": {**site, **change}}).replace('"NaN"', "NaN")
        r = raw(client, "/v1/sites", body)
        assert r.status_code == 422 and path in {e["path"] for e in r.json()["errors"]}, (change, r.text[:300])
    assert len(client.get("/v1/sites").json()) == 20  # nothing was added


def test_bodies_are_capped_at_413(client):
    huge = json.dumps({"jobs": [job(container={"image": "r/i:1", "env": {"BIG": "x" * (40 * 1024 * 1024)}})]})
    r = raw(client, "/v1/jobs", huge)
    assert r.status_code == 413 and r.json()["status"] == 413
    assert client.get("/v1/jobs").json()["total"] == 0


def test_unexpected_fault_is_problem_details_with_an_error_id(client, monkeypatch, caplog):
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(repo, "page_jobs", boom)
    with caplog.at_level(logging.ERROR, logger="suanwang.api"):
        r = client.get("/v1/jobs")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    error_id = r.json()["error_id"]
    assert error_id in r.json()["detail"] and "disk on fire" not in r.text
    assert any(error_id in rec.getMessage() and rec.exc_info for rec in caplog.records)


def test_nothing_invalid_was_stored(client):
    for _, body, _ in JOB_CASES[:12]:
        raw(client, "/v1/jobs", body)
    assert client.get("/v1/jobs").json()["total"] == 0
    ok = client.post("/v1/jobs", json={"jobs": [job()]})
    assert ok.status_code == 201 and client.get("/v1/jobs").json()["total"] == 1


def test_retry_after_carries_the_real_delay(client, monkeypatch):
    from suanwang.errors import TemporaryError

    def busy(*a, **k):
        raise TemporaryError("the database is failing over; retry", retry_after_s=42.2)

    monkeypatch.setattr(repo, "page_jobs", busy)
    r = client.get("/v1/jobs")
    assert r.status_code == 503 and r.headers["retry-after"] == "43"
