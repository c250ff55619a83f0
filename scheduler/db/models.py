"""Tables: topology versions, jobs with their specs and state history, plans, submissions, API
tokens (hashed), and an audit log of every mutating call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=False)}


class TopologyVersion(Base):
    __tablename__ = "topology_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    yaml_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), index=True)
    site: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    history: Mapped[list[JobTransition]] = relationship(
        back_populates="job", order_by="JobTransition.id", cascade="all, delete-orphan"
    )


class JobTransition(Base):
    __tablename__ = "job_transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    job: Mapped[JobRow] = relationship(back_populates="history")


class PlanRow(Base):
    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    solver: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(80))
    objective: Mapped[float] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float, nullable=True)
    gap: Mapped[float | None] = mapped_column(Float, nullable=True)
    body: Mapped[dict[str, Any]]
    seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)  # order recorded


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    site: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    namespace: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime]
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ux_submission_object", "site", "kind", "namespace", "name", unique=True),)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(400))
    detail: Mapped[dict[str, Any]]


class SiteFlag(Base):
    __tablename__ = "site_flags"
    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    drained: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class StateSnapshot(Base):
    """The latest collected state (the state-file format), so a restart knows what it knew."""

    __tablename__ = "state_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    observed_at: Mapped[datetime]
    body: Mapped[dict[str, Any]]


class LeaseRow(Base):
    """Who leads the control loop, since which epoch, until when (UTC)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int] = mapped_column(Integer)
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class GridEventRow(Base):
    """A grid event: the draw of its sites stays under a cap in its window; its outcome so far."""

    __tablename__ = "grid_events"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    sites: Mapped[list[str]] = mapped_column(JSON)
    zone: Mapped[str | None] = mapped_column(String(200), nullable=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    cap_kw: Mapped[float | None] = mapped_column(Float, nullable=True)
    reduce_kw: Mapped[float | None] = mapped_column(Float, nullable=True)
    reduce_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_cap_kw: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline_kw: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    draw_kw: Mapped[float | None] = mapped_column(Float, nullable=True)
    shed_kw: Mapped[float] = mapped_column(Float, default=0.0)
    shortfall_kw: Mapped[float] = mapped_column(Float, default=0.0)
    suspended: Mapped[list[str]] = mapped_column(JSON, default=list)
    why: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccountRow(Base):
    """Energy, carbon and cost of what ran, per hour (UTC+8), tenant and site."""

    __tablename__ = "accounts"
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200), primary_key=True)
    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    energy_kwh: Mapped[float] = mapped_column(Float, default=0.0)
    carbon_location_kg: Mapped[float] = mapped_column(Float, default=0.0)
    carbon_market_kg: Mapped[float] = mapped_column(Float, default=0.0)
    cost_cny: Mapped[float] = mapped_column(Float, default=0.0)
    # the zone's measured intensity the row's carbon is settled at; None while it holds an estimate
    carbon_kg_per_kwh: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class AccrualCursor(Base):
    """Up to when the accounts hold what ran."""

    __tablename__ = "accrual_cursor"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime]


class CapacityPlanRow(Base):
    """A capacity-planning run posted to the API: its request, progress and result."""

    __tablename__ = "capacity_plans"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued | running | done | failed | interrupted
    request: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    progress: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TenantRow(Base):
    """A registered tenant: its cohort, weight and quotas (the tenant contract's ``quotas``)."""

    __tablename__ = "tenants"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    cohort: Mapped[str | None] = mapped_column(String(63), nullable=True, index=True)
    weight: Mapped[float] = mapped_column(Float)
    quotas: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
