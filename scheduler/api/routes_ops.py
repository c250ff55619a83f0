"""Sites (list, get, drain, undrain), the latest state snapshot, health and metrics."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from suanwang.collectors.statefile import snapshot_to_dict
from suanwang.contract import Refs
from suanwang.scheduler.api.auth import Principal, require
from suanwang.scheduler.db import repo
from suanwang.topology.contract import SiteSpec
from suanwang.topology.loader import load_topology, topology_refs
from suanwang.topology.serialize import topology_to_dict
from suanwang.topology.totals import site_totals

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


class SiteIn(BaseModel):
    """A site in the topology contract (for an update, the path's id replaces the body's)."""

    model_config = ConfigDict(extra="forbid")
    site: SiteSpec


def _site_refs(request: Request) -> Refs:
    return topology_refs(request.app.state.topology)


def _replace_site(request: Request, who: Principal, site: SiteSpec, replace_id: str | None):
    """Validate the topology with the site added or replaced, store it as a new version, use it."""
    st = request.app.state
    site_spec = site.model_dump(by_alias=True, exclude_none=True)
    doc = topology_to_dict(st.topology)
    if replace_id is None:
        if any(s["id"] == site_spec.get("id") for s in doc["sites"]):
            raise HTTPException(409, f"site {site_spec.get('id')!r} exists; update it with PUT /v1/sites/{{id}}")
        doc["sites"].append(site_spec)
    else:
        site_spec = {**site_spec, "id": replace_id}
        doc["sites"] = [site_spec if s["id"] == replace_id else s for s in doc["sites"]]
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    topo = load_topology(f"topology after {'update of ' + replace_id if replace_id else 'adding a site'}", text=text)
    now = st.now()
    with st.sessions.begin() as s:
        version = repo.save_topology(s, topo.name, text, now)
        digest = version.sha256
        repo.audit(
            s,
            who.name,
            "site.update" if replace_id else "site.add",
            site_spec["id"],
            {"topology_version": version.id},
            now,
        )
    st.topology, st.topology_digest = topo, digest
    st.wake()
    with st.sessions() as s:
        return _site_view(request, topo.site(site_spec["id"]), repo.drained_sites(s))


@router.post("/v1/sites", status_code=201, summary="Add a site (a new topology version)")
def add_site(body: SiteIn, request: Request, who: Principal = Depends(require("operator"))) -> dict[str, Any]:
    return _replace_site(request, who, body.site, None)


@router.put("/v1/sites/{site_id}", summary="Update a site (a new topology version)")
def update_site(
    site_id: str, body: SiteIn, request: Request, who: Principal = Depends(require("operator"))
) -> dict[str, Any]:
    _site(request, site_id)
    return _replace_site(request, who, body.site, site_id)


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
    return snapshot_to_dict(snap)


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and the control loop makes progress")
def readyz(request: Request) -> dict[str, str]:
    try:
        with request.app.state.sessions() as s:
            repo.ping(s)
    except Exception as e:  # noqa: BLE001 — any database fault means not ready
        raise HTTPException(503, f"database not reachable: {type(e).__name__}") from e
    health = getattr(request.app.state, "loop_health", None)
    problem = health.problem() if health is not None else None
    if problem is not None:
        raise HTTPException(503, problem)
    loop = {} if health is None else {"loop": "running" if health.cycles else "starting"}
    lease = getattr(request.app.state, "lease", None)
    if lease is None:
        return {"status": "ready", **loop}
    leader = lease.leader()
    return {
        "status": "ready",
        **loop,  # "starting" until the control loop's first cycle: a standby not yet able to take over
        "replica": lease.holder,
        "role": "leader" if leader is not None and leader[0] == lease.holder else "standby",
        "leader": leader[0] if leader else "",
        "epoch": str(leader[1]) if leader else "",
    }


@router.get("/metrics", summary="Prometheus metrics (a viewer, operator or admin token)", response_class=Response)
def metrics(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    """Every tenant's queue is in here, so a submitter (one tenant's token) may not read it; the
    Prometheus that scrapes it uses a viewer token (``authorization.credentials_file``)."""
    if who.role == "submitter":
        raise HTTPException(403, "metrics carry every tenant's queue; scrape with a viewer token")
    return Response(generate_latest(request.app.state.metrics_source), media_type=CONTENT_TYPE_LATEST)


for _endpoint in (add_site, update_site):
    _endpoint.body_model, _endpoint.body_refs = SiteIn, _site_refs  # type: ignore[attr-defined]
