"""The operations API through the ASGI test client, on SQLite and on a real PostgreSQL: job
submission with field-path validation errors, listing with filters and pagination, tenant scoping,
cancel, explain, dry-run plans, site drain, health, metrics, and the role × endpoint matrix."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions

NOW = datetime(2026, 11, 25, 9, 0)


@pytest.fixture()
def api(engine, jiangsu):
    app = create_app(engine, jiangsu, now=lambda: NOW)
    tokens = {}
    with sessions(engine).begin() as s:
        for role, tenant in (
            ("admin", None),
            ("operator", None),
            ("viewer", None),
            ("submitter", "lab-a"),
            ("submitter", "lab-b"),
        ):
            tokens[f"{role}:{tenant}" if tenant else role] = repo.create_token(s, role, tenant, "setup", NOW)
    client = TestClient(app, raise_server_exceptions=False)

    def call(method, path, who=None, **kw):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        return client.request(method, path, headers=headers, **kw)

    return call


def training(jid, tenant="lab-a", count=8, **kw):
    return {
        "id": jid,
        "kind": "training",
        "tenant": tenant,
        "priority": 2,
        "duration_h": 4,
        "accelerators": {"count": count, "per_node": 8, "models": ["H800"]},
        **kw,
    }


def test_submit_list_get_cancel(api):
    r = api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [training("a1"), training("a2")]})
    assert r.status_code == 201 and r.json() == {"added": ["a1", "a2"], "existing": []}
    again = api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [training("a1")]})
    assert again.json() == {"added": [], "existing": ["a1"]}
    api("POST", "/v1/jobs", "submitter:lab-b", json={"jobs": [training("b1", tenant="lab-b")]})
    assert api("GET", "/v1/jobs", "viewer").json()["total"] == 3
    mine = api("GET", "/v1/jobs?limit=1&offset=1", "submitter:lab-a").json()
    assert mine["total"] == 2 and [j["id"] for j in mine["items"]] == ["a2"]
    assert api("GET", "/v1/jobs/b1", "submitter:lab-a").status_code == 404
    job = api("GET", "/v1/jobs/a1", "submitter:lab-a").json()
    assert job["state"] == "pending" and job["spec"]["accelerators"]["count"] == 8 and job["history"]
    assert api("POST", "/v1/jobs/b1/cancel", "submitter:lab-a").status_code == 404
    c = api("POST", "/v1/jobs/a1/cancel", "submitter:lab-a", json={"reason": "wrong data"})
    assert c.status_code == 200 and c.json()["state"] == "cancelled"
    twice = api("POST", "/v1/jobs/a1/cancel", "submitter:lab-a")
    assert twice.status_code == 409 and twice.headers["content-type"].startswith("application/problem+json")


def test_times_carry_their_zone(api):
    """Every time a job's view gives is ISO 8601 with its offset: created, updated, each step of
    its history, and its window as stored (given here in UTC, shown in UTC+8)."""
    window = {"earliest": "2026-11-25T02:00:00Z", "deadline": "2026-11-26T02:00:00Z"}
    assert api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [training("w1", window=window)]}).status_code == 201
    job = api("GET", "/v1/jobs/w1", "submitter:lab-a").json()
    times = [job["created_at"], job["updated_at"], *(h["at"] for h in job["history"])]
    assert times[0] == "2026-11-25T09:00:00+08:00" and all(t.endswith("+08:00") for t in times)
    assert job["spec"]["window"] == {"earliest": "2026-11-25T10:00:00+08:00", "deadline": "2026-11-26T10:00:00+08:00"}
    listed = api("GET", "/v1/jobs", "submitter:lab-a").json()["items"]
    assert all(j["created_at"].endswith("+08:00") for j in listed)


def test_validation_errors_are_422_with_field_paths(api):
    bad = training("x1", accelerators={"count": 12, "per_node": 8, "models": ["H900"]})
    r = api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [bad]})
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and {"title", "detail", "type", "instance"} <= set(body)
    paths = {e["path"] for e in body["errors"]}
    assert {"jobs[0].accelerators.models[0]", "jobs[0].accelerators.per_node"} <= paths
    shape = api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": "nope"})
    assert shape.status_code == 422 and shape.json()["errors"][0]["path"] == "jobs"
    assert shape.json()["errors"][0]["message"] == "must be a list" and shape.json()["errors"][0]["fix"]
    other = api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [training("x2", tenant="lab-b")]})
    assert other.status_code == 403


def test_explain_and_dry_run(api):
    huge = training("big", count=4096)
    assert api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [huge]}).status_code == 422  # never hostable
    slo = {
        "id": "far",
        "kind": "inference",
        "tenant": "lab-a",
        "priority": 1,
        "origin": "Lianyungang",
        "latency_slo_ms": 3.3,
        "accelerators": {"count": 8, "per_node": 8, "models": ["H20"]},
    }
    api("POST", "/v1/jobs", "submitter:lab-a", json={"jobs": [slo]})
    api("POST", "/v1/sites/xz-edge/drain", "operator", json={"reason": "fibre cut"})
    api("POST", "/v1/sites/xz-city/drain", "operator")
    why = api("GET", "/v1/jobs/far/explain", "submitter:lab-a").json()
    assert why["state"] == "pending" and "Lianyungang" in why["reasons"][0]
    plan = api("POST", "/v1/plans/dry-run", "submitter:lab-a", json={"jobs": [training("d1")]}).json()
    assert plan["placements"][0]["job"] == "d1" and plan["objective"] > 0
    assert api("GET", "/v1/plans/latest", "viewer").status_code == 404


def test_sites_drain_and_undrain(api):
    sites = api("GET", "/v1/sites", "viewer").json()
    assert len(sites) == 20 and all(not s["drained"] for s in sites)
    r = api("POST", "/v1/sites/nj-hub/drain", "operator", json={"reason": "power work"})
    assert r.json()["drained"] and r.json()["drain_reason"] == "power work"
    assert api("GET", "/v1/sites/nj-hub", "viewer").json()["drained"]
    assert not api("POST", "/v1/sites/nj-hub/undrain", "admin").json()["drained"]
    assert api("POST", "/v1/sites/mars/drain", "operator").status_code == 404


def test_health_metrics_and_openapi(api):
    assert api("GET", "/healthz").json() == {"status": "ok"}
    assert api("GET", "/readyz").json() == {"status": "ready"}
    api("GET", "/v1/sites", "viewer")
    assert api("GET", "/metrics").status_code == 401
    assert api("GET", "/metrics", "submitter:lab-a").status_code == 403  # every tenant's queue is in there
    text = api("GET", "/metrics", "viewer").text
    assert "suanwang_api_request_duration_seconds_count" in text and 'route="/v1/sites"' in text
    assert "/v1/jobs/{job_id}/explain" in api("GET", "/openapi.json").json()["paths"]
    assert api("GET", "/v1/state", "viewer").status_code == 404


MATRIX = [  # (method, path, json, lowest role allowed)
    ("GET", "/v1/jobs", None, "viewer"),
    ("GET", "/v1/sites", None, "viewer"),
    ("GET", "/v1/plans/latest", None, "viewer"),
    ("POST", "/v1/jobs", {"jobs": [training("m1")]}, "submitter"),
    ("POST", "/v1/plans/dry-run", {"jobs": [training("m2")]}, "submitter"),
    ("POST", "/v1/sites/nj-hub/drain", None, "operator"),
    ("POST", "/v1/sites/nj-hub/undrain", None, "operator"),
]
ORDER = ["viewer", "submitter:lab-a", "operator", "admin"]


@pytest.mark.parametrize("method, path, body, lowest", MATRIX)
def test_authorization_matrix(api, method, path, body, lowest):
    assert api(method, path, json=body).status_code == 401
    low = ORDER.index(lowest if lowest != "submitter" else "submitter:lab-a")
    for i, who in enumerate(ORDER):
        code = api(method, path, who, json=body).status_code
        if i < low:
            assert code == 403, (who, code)
        else:
            assert code < 400 or code == 404, (who, code)


SUQIAN_EDGE = {
    "id": "sq-edge",
    "city": "Suqian",
    "tier": "edge",
    "pue": 1.4,
    "power_cap_kw": 80,
    "grid_zone": "jiangsu",
    "green_share": 0.3,
    "pools": [{"accelerator": "H20", "nodes": 8, "per_node": 8}],
}


def test_operators_add_and_update_sites(api, engine):
    r = api("POST", "/v1/sites", "operator", json={"site": SUQIAN_EDGE})
    assert r.status_code == 201 and r.json()["cards"] == 64
    assert api("POST", "/v1/sites", "operator", json={"site": SUQIAN_EDGE}).status_code == 409
    assert len(api("GET", "/v1/sites", "viewer").json()) == 21
    bigger = {**SUQIAN_EDGE, "pools": [{"accelerator": "H20", "nodes": 16, "per_node": 8}], "power_cap_kw": 160}
    u = api("PUT", "/v1/sites/sq-edge", "operator", json={"site": bigger})
    assert u.status_code == 200 and u.json()["cards"] == 128
    bad = api("PUT", "/v1/sites/sq-edge", "operator", json={"site": {**SUQIAN_EDGE, "pue": 0.8, "city": "Wuhan"}})
    assert bad.status_code == 422 and {"site.pue", "site.city"} <= {e["path"] for e in bad.json()["errors"]}
    assert api("GET", "/v1/sites/sq-edge", "viewer").json()["cards"] == 128  # the bad update changed nothing
    assert api("POST", "/v1/sites", "submitter:lab-a", json={"site": SUQIAN_EDGE}).status_code == 403
    from sqlalchemy import func, select

    from suanwang.scheduler.db.models import TopologyVersion

    with sessions(engine)() as s:
        assert s.scalar(select(func.count()).select_from(TopologyVersion)) == 2


def test_huge_offset_is_a_client_error(api):
    r = api("GET", "/v1/jobs?limit=1&offset=9223372036854775808", "viewer")
    err = r.json()["errors"][0]
    assert r.status_code == 422 and (err["file"], err["path"]) == ("request query", "offset") and err["fix"]
