"""Carbon accounts in the database: what ran, hour by hour, per tenant and site.

The leader accrues from a cursor to the cycle's time in one fenced transaction, so every hour of
every job is counted once whatever replica leads. A job's running spans come from its history
(entering ``running`` until leaving it); where it ran from its pin (``running``) or, once
released, the pin it had (``ran``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from suanwang.scheduler.db.models import AccountRow, AccrualCursor, JobRow, JobTransition
from suanwang.scheduler.jobstate import JobState


@dataclass(frozen=True)
class Span:
    key: str
    tenant: str
    site: str
    accelerator: str
    cards: int
    start: datetime
    end: datetime


def cursor(s: Session) -> datetime | None:
    row = s.get(AccrualCursor, "accounts")
    return None if row is None else row.at


def set_cursor(s: Session, at: datetime) -> None:
    row = s.get(AccrualCursor, "accounts")
    if row is None:
        s.add(AccrualCursor(name="accounts", at=at))
    else:
        row.at = at


def running_spans(s: Session, since: datetime, until: datetime) -> list[Span]:
    """Every stretch a job ran between ``since`` and ``until``, clipped to them."""
    left = select(JobTransition.job_id).where(JobTransition.source == JobState.running, JobTransition.at > since)
    q = select(JobRow).where(or_(JobRow.state == JobState.running, JobRow.id.in_(left)))
    rows = s.scalars(q.options(selectinload(JobRow.history)))  # histories in one query, not one per job
    out = []
    for row in rows:
        pin = row.spec.get("running") or row.spec.get("ran") or {}
        if not pin.get("site") or not pin.get("accelerator"):
            continue
        cards = int((row.spec.get("accelerators") or {}).get("count", 0))
        opened: datetime | None = None
        spans: list[tuple[datetime, datetime]] = []
        for t in row.history:
            if t.target == JobState.running and t.source != JobState.running:
                opened = t.at
            elif t.source == JobState.running and t.target != JobState.running and opened is not None:
                spans.append((opened, t.at))
                opened = None
        if opened is not None:
            spans.append((opened, until))
        for a, b in spans:
            a, b = max(a, since), min(b, until)
            if b > a:
                out.append(Span(row.id, row.tenant, pin["site"], pin["accelerator"], cards, a, b))
    return out


def add(
    s: Session,
    hour: datetime,
    tenant: str,
    site: str,
    figures: tuple[float, float, float, float],
    measured: float | None,
) -> None:
    """Add ``figures`` (kWh, kg location-based, kg market-based, ¥) to the row of ``hour``, tenant
    and site; ``measured``: the measured intensity they were accrued at, ``None`` for an estimate.
    A row stays settled only while all it holds is at one measured intensity."""
    row = s.get(AccountRow, (hour, tenant, site))
    if row is None:
        row = AccountRow(hour=hour, tenant=tenant, site=site, energy_kwh=0.0, carbon_location_kg=0.0,
                         carbon_market_kg=0.0, cost_cny=0.0, carbon_kg_per_kwh=measured)  # fmt: skip
        s.add(row)
    elif row.carbon_kg_per_kwh != measured:
        row.carbon_kg_per_kwh = None  # partly an estimate, or at a figure since revised: settled again
    kwh, loc_kg, mkt_kg, cny = figures
    row.energy_kwh += kwh
    row.carbon_location_kg += loc_kg
    row.carbon_market_kg += mkt_kg
    row.cost_cny += cny


def settled_at(s: Session, sites: list[str], first: datetime, last: datetime) -> dict[datetime, set[float | None]]:
    """The intensities the rows of ``sites`` between the hours ``first`` and ``last`` are settled at
    (``None``: an estimate), by hour: one grouped query, whatever the number of tenants."""
    q = (
        select(AccountRow.hour, AccountRow.carbon_kg_per_kwh)
        .where(AccountRow.site.in_(sites), AccountRow.hour >= first, AccountRow.hour <= last)
        .group_by(AccountRow.hour, AccountRow.carbon_kg_per_kwh)
    )
    out: dict[datetime, set[float | None]] = {}
    for hour, value in s.execute(q):
        out.setdefault(hour, set()).add(value)
    return out


def rows_at(s: Session, sites: list[str], hours: list[datetime]) -> list[AccountRow]:
    """The rows of ``sites`` at ``hours`` (at most a month of hours: a measured file's)."""
    out: list[AccountRow] = []
    for i in range(0, len(hours), 500):  # IN lists of bounded length
        q = select(AccountRow).where(AccountRow.site.in_(sites), AccountRow.hour.in_(hours[i : i + 500]))
        out.extend(s.scalars(q))
    return out


def rows(s: Session, tenant: str | None, start: datetime | None, end: datetime | None) -> list[AccountRow]:
    q = select(AccountRow)
    if tenant is not None:
        q = q.where(AccountRow.tenant == tenant)
    if start is not None:
        q = q.where(AccountRow.hour >= start.replace(minute=0, second=0, microsecond=0))
    if end is not None:
        q = q.where(AccountRow.hour < end)
    return list(s.scalars(q.order_by(AccountRow.hour, AccountRow.tenant, AccountRow.site)))


def hours_of(a: datetime, b: datetime):
    """(hour start, seconds in it) for each hour [a, b) touches."""
    h = a.replace(minute=0, second=0, microsecond=0)
    while h < b:
        nxt = h + timedelta(hours=1)
        yield h, (min(b, nxt) - max(a, h)).total_seconds()
        h = nxt
