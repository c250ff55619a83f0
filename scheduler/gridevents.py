"""Grid demand response in the control loop: grid events posted by operators or a grid dispatch
system (``POST /v1/grid-events``) become power limits of the plan, and running preemptible work
is suspended when the draw is still above the cap in the window.

Each cycle, before planning: an event seen the first time gets its cap (a reduction applies to the
draw of its sites then); events whose window has not ended go to the planner as
:class:`~suanwang.solvers.problem.PowerLimit` s, so work that has not started is deferred out of the
window (constraint (12)); inside the window, if the sites' draw is above the cap,
:func:`~suanwang.solvers.shed.shed` picks preemptible running jobs to suspend: their workloads are
deleted and they go back to the queue with the work lost since their last checkpoint noted; never
inference, never a job that is not preemptible. The event's status says ``met``, or ``unmet`` with
the shortfall in kW and why, or ``unverified`` when the count says met but a site of the event has
no fresh power reading.

The draw of a site is what its collector measured when fresh, and never less than what suanwang's
own running jobs draw (a stale or missing reading is not taken as zero).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from suanwang.scheduler.db.models import GridEventRow, JobRow
from suanwang.scheduler.jobstate import ACTIVE, JobState
from suanwang.solvers.forecast import outlook, outlook_hours
from suanwang.solvers.problem import PowerLimit, lost_since_checkpoint
from suanwang.solvers.shed import Draw, shed
from suanwang.topology.model import Topology, facility_kw

FINAL = ("ended", "cancelled")


@dataclass(frozen=True)
class Running:
    key: str
    site: str
    kw: float
    preemptible: bool
    inference: bool
    lost_h: float
    slack_h: float = float("inf")


def running_jobs(s: Session, topology: Topology, now: datetime) -> list[Running]:
    """Jobs with workloads at a site, their draw and the work a restart would lose."""
    sites = {x.id: x for x in topology.sites}
    out = []
    q = select(JobRow).where(JobRow.state.in_(ACTIVE)).options(selectinload(JobRow.history))
    for row in s.scalars(q):
        pin = row.spec.get("running") or {}
        site, acc = sites.get(pin.get("site", "")), topology.accelerators.get(pin.get("accelerator", ""))
        if site is None or acc is None:
            continue
        cards = int((row.spec.get("accelerators") or {}).get("count", 0))
        started = next((t.at for t in reversed(row.history) if t.target == JobState.running != t.source), None)
        ran_h = max(0.0, (now - started).total_seconds() / 3600.0) if started else 0.0
        lost = lost_since_checkpoint(ran_h, row.spec.get("checkpoint_h"))
        out.append(
            Running(
                row.id,
                site.id,
                facility_kw(cards, acc, site.pue),
                bool(row.spec.get("preemptible")),
                row.kind == "inference",
                lost,
            )  # fmt: skip
        )
    return out


def site_draw(topology: Topology, live_state, running: list[Running]) -> dict[str, float]:
    """kW per site: measured where fresh, never below what our running jobs draw."""
    ours: dict[str, float] = defaultdict(float)
    for r in running:
        ours[r.site] += r.kw
    measured = live_state.power_draw_kw if live_state is not None else {}
    unusable = set(live_state.unusable) if live_state is not None else set()
    out = {}
    for site in topology.sites:
        seen = measured.get(site.id) if site.id not in unusable else None
        out[site.id] = max(ours.get(site.id, 0.0), seen or 0.0)
    return out


def unmeasured(topology: Topology, live_state) -> set[str]:
    """Sites with no fresh power reading: their draw beyond our own jobs is not known."""
    if live_state is None:
        return {x.id for x in topology.sites}
    stale = set(live_state.unusable)
    return {x.id for x in topology.sites if x.id in stale or x.id not in live_state.power_draw_kw}


def open_events(s: Session) -> list[GridEventRow]:
    return list(s.scalars(select(GridEventRow).where(GridEventRow.status.not_in(FINAL)).order_by(GridEventRow.start)))


def recent_final(s: Session, now: datetime) -> list[GridEventRow]:
    """Ended or cancelled events of the last day (their metrics are dropped after that)."""
    q = select(GridEventRow).where(GridEventRow.status.in_(FINAL), GridEventRow.end > now - timedelta(days=1))
    return list(s.scalars(q))


def limits(s: Session, now: datetime) -> tuple[PowerLimit, ...]:
    return tuple(
        PowerLimit(e.id, tuple(e.sites), e.start, e.end, e.resolved_cap_kw)
        for e in open_events(s)
        if e.resolved_cap_kw is not None and e.end > now
    )


def plan_terms(sessions, shift, forecast: str, topology: Topology, jobs, now: datetime, feeds=None) -> dict:
    """What a plan made now takes besides the jobs and the state, as the control loop plans: the
    horizon, the tariff and carbon outlook over it (with the zones' fresh forecast ``feeds``), the
    grid events' caps, and the registered tenants' quotas and weights (``Problem`` keywords)."""
    from suanwang.scheduler import tenants

    with sessions() as s:
        caps = limits(s, now)
        governance = tenants.terms(s, topology)
    look = None
    if shift is not None and jobs:
        look = outlook(topology, now, outlook_hours(shift, jobs), forecast, feeds)  # type: ignore[arg-type]
    return {"shift": shift, "outlook": look, "limits": caps, **governance}


def step(s: Session, topology: Topology, live_state, now: datetime) -> list[tuple[str, str]]:
    """In the caller's (fenced) transaction: resolve caps, update every open event's status, and
    return the jobs to suspend with the reason (the caller releases them)."""
    running = running_jobs(s, topology, now)
    draw = site_draw(topology, live_state, running)
    blind = unmeasured(topology, live_state)
    by_key = {r.key: r for r in running}
    suspend: list[tuple[str, str]] = []
    taken: set[str] = set()
    for ev in open_events(s):
        total = sum(draw.get(x, 0.0) for x in ev.sites)
        if ev.resolved_cap_kw is None:
            ev.baseline_kw = total
            if ev.cap_kw is not None:
                ev.resolved_cap_kw = ev.cap_kw
            elif ev.reduce_kw is not None:
                ev.resolved_cap_kw = max(0.0, total - ev.reduce_kw)
            else:
                ev.resolved_cap_kw = total * (1.0 - (ev.reduce_ratio or 0.0))
        ev.updated_at = now
        if ev.end <= now:
            ev.status = "ended"
            continue
        ev.draw_kw = total
        if now < ev.start:
            ev.status = "scheduled"
            ev.why = (f"cap {ev.resolved_cap_kw:,.1f} kW from {ev.start:%m-%d %H:%M} (UTC+8); work that would run "
                      f"in the window is deferred out of it")  # fmt: skip
            continue
        lim = PowerLimit(ev.id, tuple(ev.sites), ev.start, ev.end, ev.resolved_cap_kw)
        cands = [
            Draw(r.key, r.site, r.kw, r.preemptible, r.inference, r.lost_h, r.slack_h)
            for r in running
            if r.key not in taken
        ]
        result = shed(lim, draw, cands)
        for key in result.suspend:
            r = by_key[key]
            taken.add(key)
            draw[r.site] = max(0.0, draw[r.site] - r.kw)
            suspend.append((key, f"suspended for grid event {ev.id} (cap {lim.cap_kw:,.1f} kW); "
                                 f"{r.lost_h:.2f} h of work since its last checkpoint is lost; re-queued"))  # fmt: skip
        ev.shed_kw = (ev.shed_kw or 0.0) + result.shed_kw
        ev.suspended = list(ev.suspended or []) + list(result.suspend)
        ev.shortfall_kw = result.shortfall_kw
        ev.status = "met" if result.met else "unmet"
        ev.why = result.why
        unknown = sorted(blind & set(ev.sites))
        if result.met and unknown:  # what is not measured is not known to be under the cap
            ev.status = "unverified"
            ev.why = (f"{result.why}; but {', '.join(unknown[:5])} gave no fresh power reading, so only "
                      f"suanwang's own jobs are counted there; fix the collector to confirm the cap")  # fmt: skip
    return suspend
