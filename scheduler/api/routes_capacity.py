"""``/v1/capacity-plans``: capacity planning for planners (and operators, admins).

A post carries the planning file (``plan``, the contract of ``suanwang capacity plan``; without
``network`` it plans from the service's topology; it may name no file on the server) and options;
it is checked at once (422 with every fault) and run in the background: the answer is 202 with the
run's id, and ``GET /v1/capacity-plans/{id}`` gives its status, progress and, when done, the plan.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import Field

from suanwang.contract import Contract
from suanwang.scheduler.api.auth import Principal, require_planner
from suanwang.scheduler.capacity_runs import shown_status
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import CapacityPlanRow
from suanwang.simulations.capacity_file import PlanningFile
from suanwang.simulations.capacity_load import planning_from_body
from suanwang.simulations.capacity_run import RULES
from suanwang.timeutil import iso

router = APIRouter(prefix="/v1")
MAX_API_TIME_LIMIT_S = 3600.0


class CapacityPlanRequest(Contract):
    """A capacity plan to run: the planning file, and whether to validate it and compare rules."""

    plan: PlanningFile
    validate_: Annotated[bool, Field(alias="validate", strict=True)] = False
    baselines: Annotated[list[Literal[RULES]], Field(max_length=len(RULES))] = []  # type: ignore[valid-type]


def _view(row: CapacityPlanRow, now, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "status": shown_status(row, now),
        "progress": row.progress,
        "error": row.error,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }
    if out["status"] == "interrupted":
        out["error"] = "the process running it stopped reporting (restarted?); post the plan again"
    result = row.result or {}
    out["plan_status"] = result.get("status")
    out["npv_cny"] = result.get("npv_cny")
    if full:
        out["result"] = row.result
    return out


@router.post("/capacity-plans", status_code=202, summary="Run a capacity plan in the background")
def create_capacity_plan(
    body: CapacityPlanRequest, request: Request, response: Response, who: Principal = Depends(require_planner)
) -> dict[str, Any]:
    st = request.app.state
    raw = body.plan.model_dump(mode="json", by_alias=True, exclude_unset=True)
    planning = planning_from_body(raw, "body.plan", default_network=st.topology)
    if planning.problem.time_limit_s > MAX_API_TIME_LIMIT_S:
        raise HTTPException(422, f"time_limit_s above {MAX_API_TIME_LIMIT_S:g} s; run longer plans with the CLI")
    if body.validate_:
        planning.check_replay()
    plan_id = f"{planning.name[:50].lower()}-{secrets.token_hex(4)}"
    now = st.now()
    with st.sessions.begin() as s:
        s.add(
            CapacityPlanRow(
                id=plan_id, name=planning.name, status="queued", request=body.model_dump(mode="json", by_alias=True),
                progress="queued", created_by=who.name, created_at=now, heartbeat_at=now,
            )
        )  # fmt: skip
        repo.audit(s, who.name, "capacity-plan.create", plan_id, {"name": planning.name}, now)
    st.capacity.submit(plan_id, planning, body.validate_, tuple(body.baselines))
    response.headers["Location"] = f"/v1/capacity-plans/{plan_id}"
    return {"id": plan_id, "status": "queued", "location": f"/v1/capacity-plans/{plan_id}"}


@router.get("/capacity-plans", summary="Capacity plans, newest first")
def list_capacity_plans(request: Request, who: Principal = Depends(require_planner)) -> list[dict[str, Any]]:
    st = request.app.state
    with st.sessions() as s:
        rows = s.query(CapacityPlanRow).order_by(CapacityPlanRow.created_at.desc()).limit(100).all()
        return [_view(r, st.now(), full=False) for r in rows]


@router.get("/capacity-plans/{plan_id}", summary="A capacity plan's status, progress and result")
def get_capacity_plan(plan_id: str, request: Request, who: Principal = Depends(require_planner)) -> dict[str, Any]:
    st = request.app.state
    with st.sessions() as s:
        row = s.get(CapacityPlanRow, plan_id[:63])
        if row is None:
            raise HTTPException(404, f"no capacity plan {plan_id!r}; list them with GET /v1/capacity-plans")
        return _view(row, st.now(), full=True)
