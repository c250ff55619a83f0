"""``/v1/grid-events`` (grid demand response) and ``/v1/accounts`` (carbon accounts).

Operators (or a grid dispatch system with an operator token) post and cancel grid events; every
role reads them, a submitter seeing only its own tenant's suspended jobs. Accounts: a tenant's
token reads its own; viewers, operators and admins read every tenant's and the province's. Times
are given with their zone (UTC+8).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from suanwang.contract import Refs
from suanwang.scheduler.accounting import basis
from suanwang.scheduler.api.auth import Principal, require
from suanwang.scheduler.db import accounts as acc
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import GridEventRow
from suanwang.scheduler.gridspec import GridEventSpec
from suanwang.timeutil import iso, parse_time
from suanwang.topology.loader import topology_refs

router = APIRouter(prefix="/v1")


def _refs(request: Request) -> Refs:
    topo = request.app.state.topology
    return Refs(topology_refs(topo), sites=[s.id for s in topo.sites])


def _event_view(e: GridEventRow, who: Principal) -> dict[str, Any]:
    suspended = list(e.suspended or [])
    if who.role == "submitter":
        suspended = [k for k in suspended if k.startswith(f"{who.tenant}/")]
    return {
        "id": e.id,
        "sites": list(e.sites),
        "zone": e.zone,
        "start": iso(e.start),
        "end": iso(e.end),
        "cap_kw": e.cap_kw,
        "reduce_kw": e.reduce_kw,
        "reduce_ratio": e.reduce_ratio,
        "resolved_cap_kw": e.resolved_cap_kw,
        "baseline_kw": e.baseline_kw,
        "status": e.status,
        "draw_kw": e.draw_kw,
        "shed_kw": e.shed_kw,
        "shortfall_kw": e.shortfall_kw,
        "suspended": [repo.public_id(k) if who.role == "submitter" else k for k in suspended],
        "why": e.why,
        "created_by": e.created_by,
        "created_at": iso(e.created_at),
        "updated_at": iso(e.updated_at),
    }


@router.post("/grid-events", status_code=201, summary="Post a grid event (a power cap for sites in a window)")
def create_event(
    body: GridEventSpec, request: Request, who: Principal = Depends(require("operator"))
) -> dict[str, Any]:
    st = request.app.state
    raw = body.model_dump(exclude_unset=True, mode="json")
    try:  # again with the topology at hand: unknown sites and zones
        spec = GridEventSpec.model_validate(raw, context=_refs(request))
    except ValidationError as e:
        raise RequestValidationError([{**x, "loc": ("body", *x["loc"])} for x in e.errors(include_url=False)]) from e
    now = st.now()
    if spec.start > now + timedelta(days=366):
        raise HTTPException(422, f"the event starts {iso(spec.start)}, more than a year ahead; post it nearer the time")
    if spec.end <= now:
        raise HTTPException(422, f"the event ended at {iso(spec.end)}, before now ({iso(now)}); give a later end")
    sites = list(
        dict.fromkeys([*spec.sites, *(s.id for s in st.topology.sites if spec.zone and s.grid_zone == spec.zone)])
    )
    if not sites:
        raise HTTPException(422, f"zone {spec.zone!r} has no sites; name sites instead")
    with st.sessions.begin() as s:
        if s.get(GridEventRow, spec.id) is not None:
            raise HTTPException(409, f"grid event {spec.id!r} exists; give a new id or cancel it first")
        row = GridEventRow(
            id=spec.id, sites=sites, zone=spec.zone, start=spec.start, end=spec.end, cap_kw=spec.cap_kw,
            reduce_kw=spec.reduce_kw, reduce_ratio=spec.reduce_ratio, status="pending", shed_kw=0.0,
            shortfall_kw=0.0, suspended=[], why="waiting for the next control-loop cycle", created_by=who.name,
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(row)
        repo.audit(s, who.name, "grid-event.create", spec.id, raw, now)
        view = _event_view(row, who)
    st.wake()  # the loop re-plans at once
    return view


@router.get("/grid-events", summary="Grid events, newest first")
def list_events(request: Request, who: Principal = Depends(require("viewer"))) -> list[dict[str, Any]]:
    with request.app.state.sessions() as s:
        rows = s.query(GridEventRow).order_by(GridEventRow.start.desc()).limit(1000).all()
        return [_event_view(e, who) for e in rows]


def _get_event(s, event_id: str) -> GridEventRow:
    row = s.get(GridEventRow, event_id)
    if row is None:
        raise HTTPException(404, f"no grid event {event_id!r}; list them with `suanwang grid-event get`")
    return row


@router.get("/grid-events/{event_id}", summary="One grid event and its outcome")
def get_event(event_id: str, request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with request.app.state.sessions() as s:
        return _event_view(_get_event(s, event_id), who)


@router.delete("/grid-events/{event_id}", summary="Cancel a grid event")
def cancel_event(event_id: str, request: Request, who: Principal = Depends(require("operator"))) -> dict[str, Any]:
    st = request.app.state
    with st.sessions.begin() as s:
        row = _get_event(s, event_id)
        if row.status not in ("ended", "cancelled"):
            row.status, row.why, row.updated_at = "cancelled", f"cancelled by {who.name}", st.now()
            repo.audit(s, who.name, "grid-event.cancel", event_id, {}, st.now())
        view = _event_view(row, who)
    st.wake()
    return view


Group = Literal["hour", "day", "total"]


def _window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    out = []
    for name, text in (("start", start), ("end", end)):
        t = parse_time(text) if text else None
        if text and t is None:
            raise HTTPException(422, f"query {name}={text[:40]!r} is not a date-time; write ISO 8601 with its offset")
        out.append(t)
    if out[0] and out[1] and out[1] <= out[0]:
        raise HTTPException(422, "end is not after start; give a later end")
    return out[0], out[1]


def _summary(rows, group: Group, tenant: str | None) -> dict[str, Any]:
    def bucket(h: datetime) -> datetime | None:
        return h if group == "hour" else h.replace(hour=0) if group == "day" else None

    totals = [0.0] * 5
    by_site: dict[str, list[float]] = defaultdict(lambda: [0.0] * 5)
    by_tenant: dict[str, list[float]] = defaultdict(lambda: [0.0] * 5)
    by_time: dict[tuple, list[float]] = defaultdict(lambda: [0.0] * 5)
    for r in rows:
        settled = r.energy_kwh if r.carbon_kg_per_kwh is not None else 0.0
        vals = (r.energy_kwh, r.carbon_location_kg, r.carbon_market_kg, r.cost_cny, settled)
        for target in (totals, by_site[r.site], by_tenant[r.tenant]):
            for i, v in enumerate(vals):
                target[i] += v
        if group != "total":
            row = by_time[(bucket(r.hour), r.tenant, r.site)]
            for i, v in enumerate(vals):
                row[i] += v

    def fig(v: list[float]) -> dict[str, float]:
        # energy_settled_kwh: the energy whose carbon is at the zone's measured intensity, not an estimate
        return {"energy_kwh": round(v[0], 4), "carbon_location_kg": round(v[1], 4),
                "carbon_market_kg": round(v[2], 4), "cost_cny": round(v[3], 4),
                "energy_settled_kwh": round(v[4], 4)}  # fmt: skip

    out: dict[str, Any] = {"tenant": tenant, "group": group, "total": fig(totals)}
    out["by_site"] = [{"site": k, **fig(v)} for k, v in sorted(by_site.items())]
    if tenant is None:
        out["by_tenant"] = [{"tenant": k, **fig(v)} for k, v in sorted(by_tenant.items())]
    if group != "total":
        out["rows"] = [{group: iso(k[0]), "tenant": k[1], "site": k[2], **fig(v)} for k, v in sorted(by_time.items())]
    return out


@dataclass(frozen=True)
class Span:
    """The query of an accounts request: a window (ISO 8601, default: all) and the rows' grouping."""

    start: str | None = Query(None, max_length=40, description="ISO 8601 with its offset (default: all)")
    end: str | None = Query(None, max_length=40, description="ISO 8601 with its offset (default: now)")
    group: Group = "total"


def _accounts(request: Request, tenant: str | None, span: Span) -> dict[str, Any]:
    a, b = _window(span.start, span.end)
    with request.app.state.sessions() as s:
        scope = "tenant" if tenant is not None else "province"
        summary = _summary(acc.rows(s, tenant, a, b), span.group, tenant)
    return {"scope": scope, **summary, "basis": basis(request.app.state.topology)}


@router.get("/accounts", summary="Energy, carbon and cost of what ran: the province, by tenant and by site")
def province_accounts(
    request: Request, span: Span = Depends(), who: Principal = Depends(require("viewer"))
) -> dict[str, Any]:
    # a tenant sees its own, never the province's
    return _accounts(request, who.tenant or "" if who.role == "submitter" else None, span)


@router.get("/accounts/{tenant}", summary="One tenant's energy, carbon and cost, by site and hour")
def tenant_accounts(
    request: Request,
    tenant: str = Path(max_length=200),
    span: Span = Depends(),
    who: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    if not who.can_see(tenant):
        raise HTTPException(403, f"a {who.tenant} token reads only the accounts of tenant {who.tenant}")
    return _accounts(request, tenant, span)


create_event.body_model, create_event.body_refs = GridEventSpec, _refs  # type: ignore[attr-defined]
