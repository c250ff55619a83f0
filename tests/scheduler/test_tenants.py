"""Registered tenants on SQLite and PostgreSQL: admins register and change tenants with quotas
through the API (bad input a 422 naming the field), others read (a submitter only its own, with
the cards it uses now); the control loop plans with the quotas, so a job beyond its tenant's
quota waits and says why, and another tenant in its cohort lends what it leaves unused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from tests.scheduler.test_energy import NOW, job, states, world  # noqa: F401 — the same service fixture


def quota(**kw):
    return {"name": "t", "quotas": [{"accelerator": "H800", "nominal": 8}], **kw}


def test_admins_register_tenants_and_others_read(world, engine):  # noqa: F811
    app, _, call, _ = world
    with sessions(engine).begin() as s:
        admin = repo.create_token(s, "admin", None, "setup", NOW)
    assert call("t", "PUT", "/v1/tenants/t", json=quota()).status_code == 403  # a submitter may not
    assert call("operator", "PUT", "/v1/tenants/t", json=quota()).status_code == 403
    client_admin = {"Authorization": f"Bearer {admin}"}
    c = TestClient(app, raise_server_exceptions=False)
    r = c.put("/v1/tenants/t", json=quota(), headers=client_admin)
    assert r.status_code == 201 and r.json()["quotas"][0]["nominal"] == 8 and r.json()["used"] == {"H800": 0}
    r = c.put("/v1/tenants/t", json=quota(cohort="lab", weight=2.0), headers=client_admin)
    assert r.status_code == 200 and r.json()["cohort"] == "lab" and r.json()["weight"] == 2.0
    bad = c.put(
        "/v1/tenants/t", json={"name": "t", "quotas": [{"accelerator": "Z9", "nominal": 8}]}, headers=client_admin
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "quotas[0].accelerator"
    lend = {"name": "u", "quotas": [{"accelerator": "H800", "nominal": 8, "lending_limit": 9}], "cohort": "lab"}
    assert c.put("/v1/tenants/u", json=lend, headers=client_admin).status_code == 422
    assert c.put("/v1/tenants/u", json=quota(), headers=client_admin).status_code == 422  # body names t
    limits = {"name": "u", "quotas": [{"accelerator": "H800", "nominal": 8, "borrowing_limit": 4}]}
    assert "need a cohort" in c.put("/v1/tenants/u", json=limits, headers=client_admin).text
    assert [t["name"] for t in call("viewer", "GET", "/v1/tenants").json()] == ["t"]
    assert [t["name"] for t in call("u", "GET", "/v1/tenants").json()] == []  # a submitter sees its own only
    assert call("u", "GET", "/v1/tenants/t").status_code == 404
    assert call("t", "GET", "/v1/tenants/t").json()["name"] == "t"
    assert c.delete("/v1/tenants/t", headers=client_admin).status_code == 200
    assert call("viewer", "GET", "/v1/tenants").json() == []


def _register(app, engine, *tenants):
    with sessions(engine).begin() as s:
        admin = repo.create_token(s, "admin", None, "setup", NOW)
    c = TestClient(app, raise_server_exceptions=False)
    for t in tenants:
        assert (
            c.put(f"/v1/tenants/{t['name']}", json=t, headers={"Authorization": f"Bearer {admin}"}).status_code == 201
        )


def test_the_loop_keeps_jobs_within_their_tenant_s_quota(world, engine):  # noqa: F811
    app, _, call, cycle = world
    _register(app, engine, quota())
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("a"), job("b")]}).status_code == 201
    cycle(NOW)
    st = states(engine)
    assert sorted(v == "pending" for v in st.values()) == [False, True]  # one placed (and submitted), one waits
    waiting = next(k for k, v in st.items() if v == "pending")
    why = call("t", "GET", f"/v1/jobs/{waiting}/explain").json()["reasons"]
    assert any("tenant t has used 8 of its 8 H800 (borrowed 0" in r for r in why), why
    assert call("t", "GET", "/v1/tenants/t").json()["used"] == {"H800": 8}


def test_a_cohort_lends_what_a_member_leaves_unused(world, engine):  # noqa: F811
    app, _, call, cycle = world
    _register(
        app,
        engine,
        quota(cohort="lab"),
        {"name": "u", "cohort": "lab", "quotas": [{"accelerator": "H800", "nominal": 8}]},
    )
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("a"), job("b"), job("c")]}).status_code == 201
    cycle(NOW)
    st = states(engine)
    assert sorted(v == "pending" for v in st.values()) == [False, False, True]  # t borrows u's 8 cards, not more
