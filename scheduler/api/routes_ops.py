"""Sites (list, get, drain, undrain), the latest state snapshot, health and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text

from scheduler.api.auth import Principal, require
from scheduler.db import repo
from topology.totals import site_totals

router = APIRouter()


def _site(request: Request, site_id: str) -> Any:
    for s in request.app.state.topology.sites:
        if s.id == site_id:
            return s
    raise HTTPException(404, f"no site {site_id!r}")


def _site_view(request: Request, site, flags) -> dict[str, Any]:
    t = site_totals(request.app.state.topology, site)
    flag = flags.get(site.id)
    return {
        "id": site.id,
        "city": site.city,
        "tier": site.tier,
        "pue": site.pue,
        "power_cap_kw": site.power_cap_kw,
        "pools": [{"accelerator": p.accelerator, "nodes": p.nodes, "per_node": p.per_node} for p in site.pools],
        **t.to_dict(),
        "drained": flag is not None,
        "drain_reason": flag.reason if flag else None,
    }


@router.get("/v1/sites", summary="Sites with their capacity and drain state")
def list_sites(request: Request, who: Principal = Depends(require("viewer"))) -> list[dict[str, Any]]:
    with request.app.state.sessions() as s:
        flags = repo.drained_sites(s)
    return [_site_view(request, site, flags) for site in request.app.state.topology.sites]


@router.get("/v1/sites/{site_id}", summary="One site")
def get_site(site_id: str, request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    site = _site(request, site_id)
    with request.app.state.sessions() as s:
        return _site_view(request, site, repo.drained_sites(s))


class DrainIn(BaseModel):
    reason: str = Field("maintenance", max_length=500)


def _drain(site_id: str, request: Request, who: Principal, drained: bool, reason: str) -> dict[str, Any]:
    site = _site(request, site_id)
    with request.app.state.sessions.begin() as s:
        repo.set_drained(s, site_id, drained, reason, who.name, request.app.state.now())
        view = _site_view(request, site, repo.drained_sites(s))
    request.app.state.wake()
    return view


@router.post("/v1/sites/{site_id}/drain", summary="Stop placing new work on a site")
def drain(
    site_id: str, request: Request, body: DrainIn | None = None, who: Principal = Depends(require("operator"))
) -> dict[str, Any]:
    return _drain(site_id, request, who, True, (body or DrainIn()).reason)


@router.post("/v1/sites/{site_id}/undrain", summary="Place work on a site again")
def undrain(site_id: str, request: Request, who: Principal = Depends(require("operator"))) -> dict[str, Any]:
    return _drain(site_id, request, who, False, "undrained")


@router.get("/v1/state", summary="The latest collected state, with staleness")
def state(request: Request, who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    snap = request.app.state.snapshot
    if snap is None:
        raise HTTPException(404, "no state collected yet; configure a collector or wait for the next cycle")
    return snap


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers")
def readyz(request: Request) -> dict[str, str]:
    try:
        with request.app.state.sessions() as s:
            s.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 — any database fault means not ready
        raise HTTPException(503, f"database not reachable: {type(e).__name__}") from e
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
