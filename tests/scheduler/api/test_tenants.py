"""Tenants are walls, on SQLite and PostgreSQL: a cross-tenant matrix over every job endpoint finds
no leak — another tenant's job answers exactly as an unused id, the same id in two tenants is two
jobs, plans and metrics show a submitter nothing of others, and viewers do not see environment
values. Also the migration that scopes ids of jobs stored before."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.service import ControlLoop

NOW = datetime(2026, 11, 25, 9, 0)


def job(jid, tenant, secret="s3cr3t"):
    return {
        "id": jid,
        "kind": "training",
        "tenant": tenant,
        "priority": 1,
        "duration_h": 1,
        "accelerators": {"count": 8, "per_node": 8, "models": ["H800"]},
        "container": {"image": "reg/train:1", "env": {"API_KEY": secret}},
    }


@pytest.fixture()
def world(engine, jiangsu):
    app = create_app(engine, jiangsu, now=lambda: NOW)
    tokens = {}
    with sessions(engine).begin() as s:
        for name, role, tenant in (
            ("a", "submitter", "lab-a"),
            ("b", "submitter", "lab-b"),
            ("viewer", "viewer", None),
            ("operator", "operator", None),
        ):
            tokens[name] = repo.create_token(s, role, tenant, "setup", NOW)
    client = TestClient(app, raise_server_exceptions=False)

    def call(who, method, path, **kw):
        return client.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)

    assert (
        call("a", "POST", "/v1/jobs", json={"jobs": [job("shared", "lab-a"), job("secret-a", "lab-a")]}).status_code
        == 201
    )
    assert call("b", "POST", "/v1/jobs", json={"jobs": [job("shared", "lab-b", "other")]}).status_code == 201
    return app, call


def _same(r1, r2, id1, id2):
    """Two answers are indistinguishable once the id asked for is taken out."""
    return r1.status_code == r2.status_code and r1.text.replace(id1, "ID") == r2.text.replace(id2, "ID")


def test_cross_tenant_matrix_finds_no_leak(world):
    app, call = world
    leaks = []
    for method, path, body in (
        ("GET", "/v1/jobs/{}", None),
        ("GET", "/v1/jobs/{}/explain", None),
        ("POST", "/v1/jobs/{}/cancel", {"reason": "probe"}),
        ("GET", "/v1/jobs/{}?tenant=lab-a", None),
    ):
        theirs = call("b", method, path.format("secret-a"), json=body)
        unused = call("b", method, path.format("never-used"), json=body)
        if theirs.status_code != 404 or not _same(theirs, unused, "secret-a", "never-used"):
            leaks.append((method, path, theirs.status_code, theirs.text[:120]))
    listed = call("b", "GET", "/v1/jobs", params={"tenant": "lab-a"}).json()
    if {j["tenant"] for j in listed["items"]} - {"lab-b"}:
        leaks.append(("GET", "/v1/jobs?tenant=lab-a", listed))
    assert leaks == []
    assert call("a", "GET", "/v1/jobs/secret-a").json()["state"] == "pending"  # untouched by the probes


def test_the_same_id_in_two_tenants_is_two_jobs(world):
    _, call = world
    a, b = call("a", "GET", "/v1/jobs/shared").json(), call("b", "GET", "/v1/jobs/shared").json()
    assert (a["tenant"], b["tenant"]) == ("lab-a", "lab-b") and a["spec"]["container"] != b["spec"]["container"]
    again = call("b", "POST", "/v1/jobs", json={"jobs": [job("secret-a", "lab-b")]}).json()
    assert again == {"added": ["secret-a"], "existing": []}  # no probing by "already queued"
    assert call("operator", "GET", "/v1/jobs/shared").status_code == 409  # ambiguous for an operator
    assert call("operator", "GET", "/v1/jobs/shared", params={"tenant": "lab-b"}).json()["tenant"] == "lab-b"
    call("a", "POST", "/v1/jobs/shared/cancel")
    assert call("b", "GET", "/v1/jobs/shared").json()["state"] == "pending"


def test_plans_metrics_and_env_are_filtered(world):
    app, call = world
    ControlLoop(app, time_limit_s=0.5, assume_empty=True).cycle(NOW)
    plan = call("b", "GET", "/v1/plans/latest").json()
    jobs = [p["job"] for p in plan["placements"]] + [u["job"] for u in plan["unplaced"]]
    assert jobs == ["lab-b/shared"] and "summary" not in plan
    full = call("operator", "GET", "/v1/plans/latest").json()
    assert len(full["placements"]) + len(full["unplaced"]) == 3
    assert call("a", "GET", "/metrics").status_code == 403
    assert call("viewer", "GET", "/metrics").status_code == 200
    seen = call("viewer", "GET", "/v1/jobs/secret-a").json()["spec"]["container"]["env"]
    assert seen == {"API_KEY": "(hidden)"}
    assert call("operator", "GET", "/v1/jobs/secret-a").json()["spec"]["container"]["env"] == {"API_KEY": "s3cr3t"}
    assert call("a", "GET", "/v1/jobs/secret-a").json()["spec"]["container"]["env"] == {"API_KEY": "s3cr3t"}


def test_migration_scopes_ids_stored_before(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(eng, "0004")
    with eng.begin() as c:
        c.execute(
            text(
                "INSERT INTO jobs (id, tenant, kind, priority, spec, state, site, created_at, updated_at) "
                "VALUES ('old', 'lab-a', 'training', 1, '{}', 'submitted', 'nj-hub', :t, :t)"
            ),
            {"t": NOW},
        )
        c.execute(
            text(
                "INSERT INTO job_transitions (job_id, at, source, target, reason) "
                "VALUES ('old', :t, 'new', 'pending', 'x')"
            ),
            {"t": NOW},
        )
        c.execute(
            text(
                "INSERT INTO submissions (job_id, site, kind, namespace, name, created_at, stale) "
                "VALUES ('old', 'nj-hub', 'Job', 'suanwang', 'old', :t, 0)"
            ),
            {"t": NOW},
        )
    upgrade(eng)
    with eng.connect() as c:
        assert c.execute(text("SELECT id FROM jobs")).scalars().all() == ["lab-a/old"]
        assert c.execute(text("SELECT job_id FROM job_transitions")).scalars().all() == ["lab-a/old"]
        assert c.execute(text("SELECT job_id FROM submissions")).scalars().all() == ["lab-a/old"]
    eng.dispose()
