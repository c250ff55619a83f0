"""``/v1/jobs`` and ``/v1/plans``: submit, list, get, cancel, explain; latest plan, dry-run plan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from suanwang.collectors.carbon_feed import read_all
from suanwang.collectors.statefile import state_note
from suanwang.contract import ID_PATTERN, Refs
from suanwang.scheduler.api.auth import Principal, require
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import JobRow
from suanwang.scheduler.db.store import release
from suanwang.scheduler.gridevents import plan_terms
from suanwang.scheduler.jobfile import job_refs, jobs_from_data, jobs_to_dict
from suanwang.scheduler.jobspec import MAX_JOBS, JobSpec
from suanwang.scheduler.jobstate import JobState
from suanwang.solvers import solve
from suanwang.solvers.problem import Problem
from suanwang.timeutil import iso

router = APIRouter(prefix="/v1")


class JobsIn(BaseModel):
    """Jobs in the job-file contract (the same fields as a `jobs:` list in YAML)."""

    model_config = ConfigDict(extra="forbid")
    jobs: Annotated[list[JobSpec], Field(min_length=1, max_length=MAX_JOBS)]


def _parse(request: Request, specs: list[JobSpec] | list[dict[str, Any]], who: Principal):
    data = []
    for spec in specs:
        d = spec.model_dump(by_alias=True, exclude_unset=True) if isinstance(spec, JobSpec) else dict(spec)
        if who.role == "submitter":
            d.setdefault("tenant", who.tenant)
            if d["tenant"] != who.tenant:
                raise HTTPException(403, f"a {who.tenant} token cannot submit jobs of tenant {d['tenant']}")
        data.append(d)
    return jobs_from_data(data, request.app.state.topology, "request body")


def _view(row: JobRow, history: bool = False, who: Principal | None = None) -> dict[str, Any]:
    d = {
        "id": repo.public_id(row.id),
        "tenant": row.tenant,
        "kind": row.kind,
        "priority": row.priority,
        "state": row.state,
        "site": row.site,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if history:
        d["spec"] = _redacted(row.spec) if who is not None and who.role == "viewer" else row.spec
        d["history"] = [{"at": iso(t.at), "from": t.source, "to": t.target, "reason": t.reason} for t in row.history]
    return d


def _body_refs(request: Request) -> Refs:
    return job_refs(request.app.state.topology)


@router.post("/jobs", status_code=201, summary="Submit one job or a batch")
def submit(body: JobsIn, request: Request, who: Principal = Depends(require("submitter"))) -> dict[str, Any]:
    jobs = _parse(request, body.jobs, who)
    with request.app.state.sessions.begin() as s:
        added, existing = repo.add_jobs(s, jobs_to_dict(jobs)["jobs"], who.name, request.app.state.now())
    request.app.state.wake()
    return {"added": added, "existing": existing}


@router.get("/jobs", summary="List jobs with filters and pagination")
def list_jobs(
    request: Request,
    state: str | None = None,
    tenant: str | None = None,
    kind: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    who: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    if who.role == "submitter":
        tenant = who.tenant
    with request.app.state.sessions() as s:
        rows, total = repo.page_jobs(s, state=state, tenant=tenant, kind=kind, limit=limit, offset=offset)
        return {"items": [_view(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def _redacted(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec as a viewer sees it: environment values hidden (they may hold credentials)."""
    container = spec.get("container")
    if not isinstance(container, dict) or not container.get("env"):
        return spec
    return {**spec, "container": {**container, "env": dict.fromkeys(container["env"], "(hidden)")}}


TenantQuery = Query(
    None, pattern=ID_PATTERN, description="the job's tenant (operators, when several tenants use the id)"
)


def _visible(s, job_id: str, who: Principal, tenant: str | None) -> JobRow:
    """The caller's job ``job_id``; another tenant's job answers exactly as an unused id does."""
    if who.role == "submitter":
        if tenant not in (None, who.tenant):
            raise HTTPException(404, f"no job {job_id!r}")
        tenant = who.tenant
    try:
        row = repo.find_job(s, job_id, tenant)
    except repo.Ambiguous as e:
        raise HTTPException(409, f"several tenants have a job {job_id!r}; add ?tenant=") from e
    if row is None or not who.can_see(row.tenant):
        raise HTTPException(404, f"no job {job_id!r}")
    return row


@router.get("/jobs/{job_id}", summary="A job with its spec and state history")
def get_job(
    job_id: str, request: Request, tenant: str | None = TenantQuery, who: Principal = Depends(require("viewer"))
) -> dict[str, Any]:
    with request.app.state.sessions() as s:
        return _view(_visible(s, job_id, who, tenant), history=True, who=who)


class CancelIn(BaseModel):
    reason: str = Field("cancelled by request", max_length=500)


@router.post("/jobs/{job_id}/cancel", summary="Cancel a job")
def cancel(
    job_id: str,
    request: Request,
    body: CancelIn | None = None,
    tenant: str | None = TenantQuery,
    who: Principal = Depends(require("submitter")),
) -> dict[str, Any]:
    reason = (body or CancelIn()).reason
    now = request.app.state.now()
    with request.app.state.sessions.begin() as s:
        key = _visible(s, job_id, who, tenant).id
        # its objects become stale in the same transaction; the control loop deletes them
        row = release(s, key, JobState.cancelled, f"{reason} ({who.name})", now)
        repo.audit(s, who.name, "jobs.cancel", key, {"reason": reason}, now)
        view = _view(row)
    request.app.state.metrics.transitions.labels(JobState.cancelled).inc()
    request.app.state.wake()
    return view


def _plan(request: Request, jobs, time_limit_s: float):
    """Plan as the control loop does: with its horizon, outlook and the grid events in force."""
    app = request.app.state
    now = app.now()
    shift, forecast = getattr(app, "shift", None), getattr(app, "forecast", "weekly")
    feeds = read_all(app.topology, now)
    when = plan_terms(app.sessions, shift, forecast, feeds.topology, jobs, now, feeds.forecast)
    return solve(Problem(feeds.topology, tuple(jobs), now, app.current_state(), time_limit_s=time_limit_s, **when))


@router.get("/jobs/{job_id}/explain", summary="Why a job is not placed")
def explain(
    job_id: str, request: Request, tenant: str | None = TenantQuery, who: Principal = Depends(require("viewer"))
) -> dict[str, Any]:
    with request.app.state.sessions() as s:
        row = _visible(s, job_id, who, tenant)
        state, spec, key = row.state, row.spec, row.id
        latest = repo.latest_plan(s)
    if state != "pending":
        return {"job": job_id, "state": state, "reasons": [f"the job is {state}, not waiting"]}
    if latest is not None:
        for u in latest.body.get("unplaced", []):
            if u["job"] == key:
                return {"job": job_id, "state": state, "plan": latest.id, "reasons": u["reasons"]}
        for p in latest.body.get("placements", []):
            if p["job"] == key and p.get("scheduled"):  # waits for a cheaper or cleaner slot
                reasons = [f"scheduled at {p['site']}: {p['note']}"]
                return {"job": job_id, "state": state, "plan": latest.id, "reasons": reasons}
    plan = _plan(request, _parse(request, [spec], Principal("admin", None, "explain")), 1.0)
    later = [f"scheduled at {p.site}: {p.note}" for p in plan.placements if p.job == job_id and p.scheduled]
    reasons = later or next(
        (list(u.reasons) for u in plan.unplaced if u.job == job_id),
        ["it fits now and will be placed in the next planning cycle"],
    )
    return {"job": job_id, "state": state, "plan": None, "reasons": reasons}


@router.get("/plans/latest", summary="The latest plan")
def latest_plan(request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The latest plan; a submitter sees only its own tenant's placements and unplaced jobs."""
    with request.app.state.sessions() as s:
        row = repo.latest_plan(s)
        if row is None:
            raise HTTPException(404, "no plan yet; the control loop writes one each cycle")
        body = dict(row.body)
    if who.role == "submitter":
        own = f"{who.tenant}/"
        for part in ("placements", "unplaced"):
            body[part] = [x for x in body.get(part, []) if str(x.get("job", "")).startswith(own)]
        body.pop("summary", None)  # province-wide totals are not a tenant's
        body.pop("state", None)
    return {"id": row.id, "created_at": iso(row.created_at), **body}


@router.post("/plans/dry-run", summary="Plan the given jobs now, without storing or submitting")
def dry_run(
    body: JobsIn,
    request: Request,
    time_limit_s: float = Query(1.0, gt=0, le=60),
    who: Principal = Depends(require("submitter")),
) -> dict[str, Any]:
    plan = _plan(request, _parse(request, body.jobs, who), time_limit_s)
    state = request.app.state
    return {**plan.to_dict(), "state": state_note(state.current_state(), state.topology)}


for _endpoint in (submit, dry_run):
    _endpoint.body_model, _endpoint.body_refs = JobsIn, _body_refs  # type: ignore[attr-defined]
