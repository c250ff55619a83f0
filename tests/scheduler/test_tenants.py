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


def test_priority_nine_behind_batch_preempts_the_fewest_then_runs(world, engine):  # noqa: F811
    from datetime import timedelta

    from prometheus_client import generate_latest

    from tests.scheduler.test_energy import _running

    app, loop, call, cycle = world
    batch = [job(f"b{i}", priority=1, preemptible=True, checkpoint_h=8) for i in range(4)]
    assert call("t", "POST", "/v1/jobs", json={"jobs": batch}).status_code == 201
    cycle(NOW)
    _running(loop, ["t/b0", "t/b1"], NOW + timedelta(hours=1))
    _running(loop, ["t/b2", "t/b3"], NOW + timedelta(hours=3))
    urgent = job("p9", tenant="u", priority=9, accelerators={"count": 16, "per_node": 8, "models": ["H800"]})
    assert call("u", "POST", "/v1/jobs", json={"jobs": [urgent]}).status_code == 201
    cycle(NOW + timedelta(hours=4))
    st = states(engine)
    assert st["b2"] == st["b3"] == "pending" and st["b0"] == st["b1"] == "running"  # 1 h lost, not 3 h
    with sessions(engine)() as s:
        from suanwang.scheduler.db.models import JobRow

        why = s.get(JobRow, "t/b2").history[-1].reason
    assert why.startswith("preempted for u/p9 (priority 9) at nj-hub: 1.00 h of work since its last checkpoint lost")
    assert "waits for 2 lower-priority job(s) at nj-hub" in call("u", "GET", "/v1/jobs/p9/explain").text
    text = generate_latest(app.state.registry).decode()
    assert 'suanwang_preemptions_total{site="nj-hub"} 2.0' in text
    assert 'suanwang_preempted_lost_card_seconds_total{site="nj-hub"} 57600.0' in text  # 2 × 8 cards × 1 h
    cycle(NOW + timedelta(hours=4, minutes=1))
    assert states(engine)["p9"] in ("placed", "submitted")


def test_preempted_jobs_keep_their_checkpointed_progress(world, engine):  # noqa: F811
    from datetime import timedelta

    from suanwang.scheduler.db.models import JobRow
    from tests.scheduler.test_energy import _running

    app, loop, call, cycle = world
    batch = [job(f"b{i}", priority=1, preemptible=True, checkpoint_h=0.5, duration_h=6) for i in range(4)]
    assert call("t", "POST", "/v1/jobs", json={"jobs": batch}).status_code == 201
    cycle(NOW)
    _running(loop, [f"t/b{i}" for i in range(4)], NOW + timedelta(hours=3))
    urgent = job("p9", tenant="u", priority=9, accelerators={"count": 16, "per_node": 8, "models": ["H800"]})
    assert call("u", "POST", "/v1/jobs", json={"jobs": [urgent]}).status_code == 201
    cycle(NOW + timedelta(hours=4, minutes=45))  # 1.75 h run: 1.5 h kept at checkpoints, 0.25 h lost
    evicted = [k for k, v in states(engine).items() if k.startswith("b") and v == "pending"]
    assert len(evicted) == 2
    with sessions(engine)() as s:
        row = s.get(JobRow, f"t/{evicted[0]}")
        assert row.spec["done_h"] == 1.5 and row.spec["duration_h"] == 6  # progress kept beside the job
        assert "1.50 h of its work kept at checkpoints, 0.25 h lost" in row.history[-1].reason
    queued = dict(loop.store.specs(("pending",)))
    assert queued[f"t/{evicted[0]}"]["duration_h"] == 4.5  # the next run does only what is left
