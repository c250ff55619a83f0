"""Registered tenants: their quotas for the planner, and what they use now (cards of placed and
running work by accelerator model)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import TenantRow
from suanwang.scheduler.jobstate import QUEUED
from suanwang.solvers.tenantspec import TenantSpec, quotas_of
from suanwang.topology.model import Topology


def specs(s: Session) -> list[TenantSpec]:
    rows = s.query(TenantRow).order_by(TenantRow.name).all()
    return [spec_of(r) for r in rows]


def spec_of(row: TenantRow) -> TenantSpec:
    return TenantSpec.model_validate(
        {"name": row.name, "cohort": row.cohort, "weight": row.weight, "quotas": row.quotas}
    )


def terms(s: Session, topology: Topology) -> dict[str, tuple]:
    """The registered tenants' quotas (on ``topology``) and weights, as ``Problem`` keywords:
    with tenants registered, fair share orders equals."""
    registered = specs(s)
    return {
        "quotas": quotas_of(registered, topology),
        "fair_share": tuple((t.name, t.weight) for t in registered),
    }


def usage(s: Session, tenant: str | None = None) -> dict[str, dict[str, int]]:
    """Cards held now (placed, submitted or running work) by tenant and accelerator model."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in repo.jobs_in(s, QUEUED, tenant):
        ran = r.spec.get("running")
        acc = r.spec.get("accelerators") or {}
        if isinstance(ran, dict) and ran.get("accelerator"):
            out[r.tenant][ran["accelerator"]] += int(acc.get("count") or 0)
    return out
