"""``/v1/capacity-plans`` on SQLite and PostgreSQL: a planner posts the Jiangsu example and reads
its progress and result; the run happens in the background; viewers and submitters are refused;
a bad plan is a 422 naming the field; a file path on the server is refused; a run whose process
stopped beating its heartbeat reads as interrupted, never as running."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.capacity_runs import STALE_AFTER_S
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.db.models import CapacityPlanRow
from suanwang.yamldoc import read_document

T0 = datetime(2026, 11, 25, 9, 0)
EXAMPLE = Path(__file__).parents[3] / "examples" / "capacity-jiangsu-2025-2027.yaml"


@pytest.fixture()
def world(engine, jiangsu):
    clock = {"now": T0}
    app = create_app(engine, jiangsu, now=lambda: clock["now"])
    tokens = {}
    with sessions(engine).begin() as s:
        for role, tenant in (("planner", None), ("viewer", None), ("submitter", "lab-a"), ("operator", None)):
            tokens[role] = repo.create_token(s, role, tenant, "setup", T0)
    client = TestClient(app, raise_server_exceptions=False)

    def call(method, path, who="planner", **kw):
        return client.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)

    yield call, clock, engine
    app.state.capacity.close()


def example_body() -> dict:
    plan = read_document(EXAMPLE).data  # as the CLI reads it (1.5e9 is a number)
    plan["network"] = read_document(EXAMPLE.parent / "jiangsu-2025.yaml").data
    return {"plan": plan, "validate": True, "baselines": ["proportional"]}


def wait_done(call, location, who="planner", timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = call("GET", location, who=who)
        assert r.status_code == 200, r.text
        if r.json()["status"] not in ("queued", "running"):
            return r.json()
        time.sleep(0.2)
    raise AssertionError("the capacity plan did not finish")


def test_a_planner_runs_the_example_in_the_background(world):
    call, _, _ = world
    r = call("POST", "/v1/capacity-plans", json=example_body())
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == r.json()["location"] and r.json()["status"] == "queued"
    done = wait_done(call, r.json()["location"])
    assert done["status"] == "done" and done["error"] is None and done["plan_status"] == "optimal"
    result = done["result"]
    assert result["by_year"][-1]["installed_pflops"] >= 9000
    assert result["validation"]["confirmed"] and result["baselines"]["proportional"]["plan_saving"] > 0.2
    listed = call("GET", "/v1/capacity-plans").json()
    assert [p["id"] for p in listed] == [done["id"]] and "result" not in listed[0]
    assert call("GET", f"/v1/capacity-plans/{done['id']}", who="operator").status_code == 200


def test_only_planners_operators_and_admins(world):
    call, _, _ = world
    for who in ("viewer", "submitter"):
        assert call("POST", "/v1/capacity-plans", who=who, json=example_body()).status_code == 403
        assert call("GET", "/v1/capacity-plans", who=who).status_code == 403
    assert call("GET", "/v1/capacity-plans/nope").status_code == 404


def test_bad_plans_are_422_naming_the_field(world):
    call, _, _ = world
    body = example_body()
    body["plan"]["packs"][0]["site"] = "nowhere"
    r = call("POST", "/v1/capacity-plans", json=body)
    assert r.status_code == 422
    assert any(f["path"] == "packs[0].site" and f["file"] == "body.plan" for f in r.json()["errors"]), r.json()
    body = example_body()
    body["plan"]["network"] = "/etc/passwd"
    r = call("POST", "/v1/capacity-plans", json=body)
    assert r.status_code == 422 and "file on the server" in r.text
    body = example_body()  # nor may an inline network's zone name one
    zone = next(iter(body["plan"]["network"]["grid_zones"]))
    body["plan"]["network"]["grid_zones"][zone]["carbon_series"] = {"path": "/etc/passwd"}
    r = call("POST", "/v1/capacity-plans", json=body)
    assert r.status_code == 422 and "file on the server" in r.text and "root:" not in r.text
    assert any(f"grid_zones.{zone}.carbon_series" in f["message"] for f in r.json()["errors"]), r.json()
    body = example_body()
    body["plan"]["time_limit_s"] = 7200
    assert call("POST", "/v1/capacity-plans", json=body).status_code == 422
    assert call("POST", "/v1/capacity-plans", json={"plan": {"years": []}}).status_code == 422


def test_without_a_network_it_plans_the_service_s_topology(world):
    call, _, _ = world
    body = {"plan": {"years": [2026], "demand": {"rows": [{"year": 2026, "class": "training", "pflops": 100}]}}}
    r = call("POST", "/v1/capacity-plans", json=body)
    assert r.status_code == 202, r.text
    done = wait_done(call, r.json()["location"])
    assert done["status"] == "done" and done["result"]["by_year"][0]["installed_pflops"] > 8900  # built-in jiangsu


def test_a_run_whose_heartbeat_stopped_reads_interrupted(world):
    call, clock, engine = world
    with sessions(engine).begin() as s:
        s.add(
            CapacityPlanRow(
                id="lost-1", name="lost", status="running", request={}, progress="solving", created_by="x",
                created_at=T0, heartbeat_at=T0,
            )
        )  # fmt: skip
    assert call("GET", "/v1/capacity-plans/lost-1").json()["status"] == "running"
    clock["now"] = T0 + timedelta(seconds=STALE_AFTER_S + 1)
    view = call("GET", "/v1/capacity-plans/lost-1").json()
    assert view["status"] == "interrupted" and "post the plan again" in view["error"]
