"""``/v1/tenants``: registered tenants with their cohort, weight and quotas (the tenant contract,
:mod:`suanwang.solvers.tenantspec`), and the cards each uses now. Admins register, change and
remove tenants; viewers, planners and operators read them all; a submitter reads only its own.
The control loop plans with the quotas from its next cycle on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from suanwang.contract import Refs
from suanwang.scheduler import tenants
from suanwang.scheduler.api.auth import Principal, require
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import TenantRow
from suanwang.solvers.tenantspec import TenantSpec
from suanwang.timeutil import iso
from suanwang.topology.loader import topology_refs

router = APIRouter(prefix="/v1")


def _view(row: TenantRow, used: dict[str, int]) -> dict[str, Any]:
    spec = tenants.spec_of(row)
    return {
        **spec.model_dump(mode="json"),
        "used": {q.accelerator: used.get(q.accelerator, 0) for q in spec.quotas} | dict(used),
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def _visible(s, name: str, who: Principal) -> TenantRow:
    row = s.get(TenantRow, name[:63])
    if row is None or (who.role == "submitter" and who.tenant != name):
        raise HTTPException(404, f"no tenant {name!r}; list them with `suanwang tenant get`")
    return row


@router.put("/tenants/{name}", summary="Register a tenant, or replace its cohort, weight and quotas")
def put_tenant(
    name: str, body: TenantSpec, request: Request, response: Response, who: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    st = request.app.state
    raw = body.model_dump(exclude_unset=True, mode="json")
    try:  # again with the topology at hand: unknown accelerator models
        spec = TenantSpec.model_validate(
            raw, context=Refs(topology_refs(st.topology), sites=[s.id for s in st.topology.sites])
        )
    except ValidationError as e:
        raise RequestValidationError([{**x, "loc": ("body", *x["loc"])} for x in e.errors(include_url=False)]) from e
    if spec.name != name:
        raise HTTPException(422, f"the body names tenant {spec.name!r}, the path {name!r}; make them the same")
    now = st.now()
    with st.sessions.begin() as s:
        row = s.get(TenantRow, name)
        quotas = [q.model_dump(mode="json", exclude_none=True) for q in spec.quotas]
        if row is None:
            row = TenantRow(name=name, cohort=spec.cohort, weight=spec.weight, quotas=quotas, created_by=who.name,
                            created_at=now, updated_at=now)  # fmt: skip
            s.add(row)
            response.status_code = 201
        else:
            row.cohort, row.weight, row.quotas, row.updated_at = spec.cohort, spec.weight, quotas, now
        repo.audit(s, who.name, "tenant.put", name, raw, now)
        view = _view(row, tenants.usage(s, name).get(name, {}))
    st.wake()
    return view


@router.get("/tenants", summary="Registered tenants (a submitter: its own)")
def list_tenants(request: Request, who: Principal = Depends(require("viewer"))) -> list[dict[str, Any]]:
    with request.app.state.sessions() as s:
        q = s.query(TenantRow).order_by(TenantRow.name)
        if who.role == "submitter":
            q = q.filter(TenantRow.name == who.tenant)
        used = tenants.usage(s, who.tenant if who.role == "submitter" else None)
        return [_view(r, used.get(r.name, {})) for r in q.limit(10_000).all()]


@router.get("/tenants/{name}", summary="One tenant: cohort, weight, quotas and what it uses now")
def get_tenant(name: str, request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with request.app.state.sessions() as s:
        row = _visible(s, name, who)
        return _view(row, tenants.usage(s, row.name).get(row.name, {}))


@router.delete("/tenants/{name}", summary="Remove a tenant (its jobs are no longer held to quotas)")
def delete_tenant(name: str, request: Request, who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    st = request.app.state
    with st.sessions.begin() as s:
        row = _visible(s, name, who)
        view = _view(row, {})
        s.delete(row)
        repo.audit(s, who.name, "tenant.delete", name, {}, st.now())
    st.wake()
    return view
