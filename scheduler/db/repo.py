"""Operations on the database. Each takes a session and leaves committing to the caller, so an
API call or a control-loop step is one transaction: nothing accepted is lost or duplicated."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, selectinload

from suanwang.errors import InputError
from suanwang.scheduler.db.models import (
    ApiToken,
    AuditEntry,
    JobRow,
    JobTransition,
    PlanRow,
    SiteFlag,
    Submission,
    TopologyVersion,
)
from suanwang.scheduler.jobstate import check

ROLES = ("admin", "operator", "planner", "submitter", "viewer")


def audit(s: Session, actor: str, action: str, target: str, detail: dict[str, Any], at: datetime) -> None:
    s.add(AuditEntry(at=at, actor=actor, action=action, target=target, detail=detail))


def topology_digest(yaml_text: str) -> str:
    return hashlib.sha256(yaml_text.encode()).hexdigest()


def save_topology(s: Session, name: str, yaml_text: str, at: datetime) -> TopologyVersion:
    """Store a topology version (the same text is one version); it becomes the latest."""
    digest = topology_digest(yaml_text)
    row = s.scalar(select(TopologyVersion).where(TopologyVersion.sha256 == digest))
    latest = latest_topology(s)
    if row is not None and latest is not None and row.id == latest.id:
        return row
    if row is not None:  # an earlier version again: it moves to the top
        s.delete(row)
        s.flush()
    row = TopologyVersion(name=name, sha256=digest, yaml_text=yaml_text, created_at=at)
    s.add(row)
    s.flush()
    return row


def latest_topology(s: Session) -> TopologyVersion | None:
    """The version the service plans on: the one stored last."""
    return s.scalar(select(TopologyVersion).order_by(TopologyVersion.id.desc()).limit(1))


def latest_topology_digest(s: Session) -> str | None:
    """The digest of the version stored last (a cheap check whether it changed)."""
    return s.scalar(select(TopologyVersion.sha256).order_by(TopologyVersion.id.desc()).limit(1))


def job_key(tenant: str, job_id: str) -> str:
    """A job's key: ids are scoped per tenant, so two tenants' ``train-1`` are two jobs."""
    return f"{tenant}/{job_id}"


def public_id(key: str) -> str:
    """The id its tenant gave the job (the key without the tenant)."""
    return key.split("/", 1)[-1]


class Ambiguous(Exception):
    """An id without a tenant that several tenants use."""


def find_job(s: Session, job_id: str, tenant: str | None) -> JobRow | None:
    """The job ``job_id`` of ``tenant``; without a tenant (operators), the one job of that id."""
    if tenant is not None:
        return s.get(JobRow, job_key(tenant, job_id))
    rows = list(s.scalars(select(JobRow).where(JobRow.id.endswith("/" + job_id, autoescape=True)).limit(2)))
    if len(rows) > 1:
        raise Ambiguous(job_id)
    return rows[0] if rows else None


def add_jobs(
    s: Session, specs: list[dict[str, Any]], actor: str, at: datetime, keys: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Queue job specs (the job-file contract) under their tenant; ids the tenant already queued are
    reported, never duplicated. Returns the ids (as the tenant gave them) added and already there."""
    added, existing = [], []
    if keys is None:
        keys = [job_key(str(spec.get("tenant", "default")), str(spec["id"])) for spec in specs]
    ids = keys
    known = set()
    for chunk in range(0, len(ids), 900):  # one query per 900 ids (SQLite's variable limit is 999)
        known |= set(s.scalars(select(JobRow.id).where(JobRow.id.in_(ids[chunk : chunk + 900]))))
    seen: set[str] = set()
    rows, history = [], []
    for spec, jid in zip(specs, keys, strict=True):
        if jid in known or jid in seen:
            existing.append(str(spec["id"]))
            continue
        seen.add(jid)
        running = spec.get("running")
        state, site = ("running", running["site"]) if running else ("pending", None)
        reason = f"submitted by {actor}"
        if running:
            reason += f"; already running at {running['site']}/{running['accelerator']}"
        tenant, kind, priority = str(spec.get("tenant", "default")), str(spec["kind"]), int(spec.get("priority", 1))
        rows.append(
            {"id": jid, "tenant": tenant, "kind": kind, "priority": priority, "spec": spec, "state": state}
            | {"site": site, "created_at": at, "updated_at": at}
        )
        history.append({"job_id": jid, "at": at, "source": "new", "target": state, "reason": reason})
        added.append(str(spec["id"]))
    if rows:  # one statement per table: a batch holds the database's write lock for milliseconds
        s.execute(insert(JobRow), rows)
        s.execute(insert(JobTransition), history)
    if added:
        audit(s, actor, "jobs.submit", ",".join(added)[:400], {"added": added, "existing": existing}, at)
    s.flush()
    return added, existing


def transition(s: Session, job_id: str, target: str, reason: str, at: datetime, site: str | None = None) -> JobRow:
    row = s.get(JobRow, job_id)
    if row is None:
        raise InputError(f"no job {job_id!r}; check the id with `suanwang jobs get`")
    check(job_id, row.state, target, reason)
    s.add(JobTransition(job_id=job_id, at=at, source=row.state, target=target, reason=reason))  # history not loaded
    row.state, row.updated_at = target, at
    if site is not None or target == "pending":
        row.site = site
    return row


def jobs_in(s: Session, states: tuple[str, ...], tenant: str | None = None, with_history: bool = False) -> list[JobRow]:
    q = select(JobRow).where(JobRow.state.in_(states)).order_by(JobRow.created_at, JobRow.id)
    if with_history:  # in one more query, not one per job
        q = q.options(selectinload(JobRow.history))
    if tenant is not None:
        q = q.where(JobRow.tenant == tenant)
    return list(s.scalars(q))


def page_jobs(
    s: Session, *, state: str | None, tenant: str | None, kind: str | None, limit: int, offset: int
) -> tuple[list[JobRow], int]:
    """One page of jobs, oldest first, with the total that match the filters."""
    q = select(JobRow)
    for col, val in ((JobRow.state, state), (JobRow.tenant, tenant), (JobRow.kind, kind)):
        if val is not None:
            q = q.where(col == val)
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(s.scalars(q.order_by(JobRow.created_at, JobRow.id).limit(limit).offset(offset)))
    return rows, total


def record_plan(s: Session, plan_id: str, body: dict[str, Any], at: datetime) -> PlanRow:
    row = s.get(PlanRow, plan_id)
    if row is None:
        row = PlanRow(
            seq=(s.scalar(select(func.max(PlanRow.seq))) or 0) + 1,  # one writer: the leader, fenced
            id=plan_id,
            created_at=at,
            solver=body["solver"],
            status=body["status"],
            objective=body["objective"],
            bound=body.get("bound"),
            gap=body.get("gap"),
            body=body,
        )
        s.add(row)
    return row


def record_submissions(s: Session, items: list[tuple[str, str, str, str, str, bool]], at: datetime) -> list[bool]:
    """Record objects ``(job, site, kind, namespace, name, stale)``, those already recorded read in
    one query per 900 names; ``True`` for each one new (none is recorded twice)."""
    names = list({item[4] for item in items})
    known: set[tuple[str, str, str, str]] = set()
    q = select(Submission.site, Submission.kind, Submission.namespace, Submission.name)
    for chunk in range(0, len(names), 900):
        known.update(tuple(k) for k in s.execute(q.where(Submission.name.in_(names[chunk : chunk + 900]))))
    out = []
    for job_id, site, kind, namespace, name, stale in items:
        new = (site, kind, namespace, name) not in known
        if new:
            known.add((site, kind, namespace, name))
            s.add(
                Submission(
                    job_id=job_id, site=site, kind=kind, namespace=namespace, name=name, created_at=at, stale=stale
                )
            )
        out.append(new)
    return out


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(s: Session, *args: Any, **kw: Any) -> str:
    """A new bearer token (the arguments of :func:`issue_token`), returned once."""
    return issue_token(s, *args, **kw)[1]


def issue_token(
    s: Session,
    role: str,
    tenant: str | None,
    actor: str,
    at: datetime,
    expires_at: datetime | None = None,
    description: str | None = None,
) -> tuple[ApiToken, str]:
    """``(row, secret)``: the secret is shown once; only its SHA-256 is stored."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role == "submitter" and not tenant:
        raise InputError("a submitter token needs --tenant; it sees and cancels only that tenant's jobs")
    if expires_at is not None and expires_at <= at:
        raise InputError("the token would expire before it is created; give a later expiry")
    token = "sw_" + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=_hash(token), role=role, tenant=tenant, created_at=at, expires_at=expires_at, description=description
    )
    s.add(row)
    s.flush()
    audit(s, actor, "token.create", f"token-{row.id}", {"role": role, "tenant": tenant}, at)
    return row, token


def adopt_token(s: Session, secret: str, role: str, actor: str, at: datetime) -> ApiToken:
    """Store a token whose secret the operator chose (a deployment's bootstrap admin token), once."""
    if len(secret) < 32 or not secret.isprintable():
        raise InputError(
            "a bootstrap token needs at least 32 printable characters; generate one with `openssl rand -hex 32`"
        )
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if row is None:
        row = ApiToken(token_hash=_hash(secret), role=role, tenant=None, created_at=at, description="bootstrap")
        s.add(row)
        s.flush()
        audit(s, actor, "token.bootstrap", f"token-{row.id}", {"role": role}, at)
    return row


def verify_token(s: Session, token: str, at: datetime) -> ApiToken | None:
    """The token's row if it is known, not revoked and not expired at ``at``."""
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= at):
        return None
    return row


def list_tokens(s: Session) -> list[ApiToken]:
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(s: Session, token_id: int, actor: str, at: datetime) -> ApiToken:
    row = s.get(ApiToken, token_id)
    if row is None:
        raise InputError(f"no token {token_id}; list them with `suanwang token get`")
    if row.revoked_at is None:
        row.revoked_at = at
        audit(s, actor, "token.revoke", f"token-{token_id}", {"role": row.role, "tenant": row.tenant}, at)
    return row


def set_drained(s: Session, site: str, drained: bool, reason: str, actor: str, at: datetime) -> SiteFlag:
    row = s.get(SiteFlag, site)
    if row is None:
        row = SiteFlag(site=site, drained=drained, reason=reason, at=at)
        s.add(row)
    else:
        row.drained, row.reason, row.at = drained, reason, at
    audit(s, actor, "site.drain" if drained else "site.undrain", site, {"reason": reason}, at)
    return row


def drained_sites(s: Session) -> dict[str, SiteFlag]:
    return {r.site: r for r in s.scalars(select(SiteFlag).where(SiteFlag.drained.is_(True)))}


def ping(s: Session) -> None:
    """Raise unless the database answers."""
    s.execute(text("SELECT 1"))


def latest_plan(s: Session) -> PlanRow | None:
    return s.scalar(select(PlanRow).order_by(PlanRow.seq.desc(), PlanRow.created_at.desc()).limit(1))
