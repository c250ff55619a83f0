"""Incremental cycles: while nothing frees room or changes the network, a cycle plans only the jobs
that arrived since the last plan (the others' reasons stand), a cycle with nothing new plans
nothing, and freed room, an eviction or the full-plan period bring the whole queue back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.db.models import PlanRow
from tests.scheduler.test_energy import NOW, job, states, world  # noqa: F401


def plans(engine) -> list[dict]:
    with sessions(engine)() as s:
        return [b for (b,) in s.execute(select(PlanRow.body).order_by(PlanRow.created_at, PlanRow.id))]


def count(engine) -> int:
    with sessions(engine)() as s:
        return s.scalar(select(func.count()).select_from(PlanRow))


def test_only_new_arrivals_are_planned_until_room_frees(world, engine):  # noqa: F811
    app, loop, call, cycle = world
    jobs = [job(f"j{i}", container={"image": "reg.example/w:1"}) for i in range(12)]
    assert call("t", "POST", "/v1/jobs", json={"jobs": jobs}).status_code == 201
    cycle(NOW)
    first = plans(engine)[-1]
    waiting = {u["job"] for u in first["unplaced"]}
    assert waiting and first["summary"]["placed"] > 0
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("late")]}).status_code == 201
    cycle(NOW + timedelta(seconds=5))
    second = plans(engine)[-1]
    assert {u["job"] for u in second["unplaced"]} == {"t/late"}  # the earlier ones are not planned again
    assert all(p["fixed"] for p in second["placements"])
    n = count(engine)
    cycle(NOW + timedelta(seconds=10))
    assert count(engine) == n  # nothing arrived, nothing freed: no plan
    placed = next(k for k, v in states(engine).items() if v == "submitted")
    assert call("t", "POST", f"/v1/jobs/{placed}/cancel").status_code in (200, 202)
    cycle(NOW + timedelta(seconds=15))  # room freed: the whole queue again, and one waiting job takes it
    third = plans(engine)[-1]
    assert {u["job"] for u in third["unplaced"]} | {p["job"] for p in third["placements"] if not p["fixed"]} == (
        waiting | {"t/late"}
    )
    cycle(NOW + timedelta(seconds=20))
    n = count(engine)
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("later")]}).status_code == 201
    cycle(NOW + timedelta(seconds=400))  # past the full-plan period (300 s): everything is planned again
    assert len(plans(engine)[-1]["unplaced"]) > 1 and count(engine) == n + 1


def test_two_plans_in_one_second_are_both_recorded(world, engine):  # noqa: F811
    """Cycle times are kept to the second; a plan that adds only a reason for a new arrival in the
    same second as the last one is still recorded, with the arrival in it."""
    app, loop, call, cycle = world
    jobs = [job(f"j{i}", container={"image": "reg.example/w:1"}) for i in range(12)]
    assert call("t", "POST", "/v1/jobs", json={"jobs": jobs}).status_code == 201
    cycle(NOW)
    n = count(engine)
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("same-second")]}).status_code == 201
    cycle(NOW)
    assert count(engine) == n + 1
    assert "t/same-second" in {u["job"] for u in plans(engine)[-1]["unplaced"]}
