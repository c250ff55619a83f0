"""Grid demand response for work already running: which jobs to suspend to meet a grid event.

Deferring work that has not started is the planner's job (constraint (12) of :mod:`.shift`).
When the sites' draw in the event's window is still above its cap with nothing new started, this
picks preemptible running work to suspend: never inference (its SLO is never broken for a grid
event) and never a job that did not declare itself preemptible; first the jobs that lose the
least work (hours since their last checkpoint) among those whose deadline survives waiting out
the event, then the largest draw, until the cap holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.solvers.problem import PowerLimit


@dataclass(frozen=True)
class Draw:
    """A running job's facility draw and what suspending it would lose."""

    job: str
    site: str
    kw: float
    preemptible: bool
    inference: bool
    lost_h: float = 0.0  # work since the last checkpoint (all of it without checkpoints)
    slack_h: float = float("inf")  # hours to its deadline beyond the work it still has (after the loss)


@dataclass(frozen=True)
class Shed:
    suspend: tuple[str, ...]
    draw_kw: float  # the sites' draw before
    shed_kw: float
    shortfall_kw: float  # above the cap after suspending (0: met)
    why: str

    @property
    def met(self) -> bool:
        return self.shortfall_kw <= 1e-6


def shed(limit: PowerLimit, site_draw_kw: dict[str, float], running: list[Draw]) -> Shed:
    """Which of ``running`` to suspend so the draw of ``limit``'s sites meets its cap."""
    sites = set(limit.sites)
    draw = sum(site_draw_kw.get(s, 0.0) for s in sites)
    over = draw - limit.cap_kw
    if over <= 1e-6:
        return Shed((), draw, 0.0, 0.0, f"draw {draw:,.1f} kW is within the cap {limit.cap_kw:,.1f} kW")
    mine = [r for r in running if r.site in sites]
    rest_h = max(0.0, (limit.end - limit.start).total_seconds() / 3600.0)
    able = sorted(
        (r for r in mine if r.preemptible and not r.inference),
        key=lambda r: (r.slack_h < rest_h, r.lost_h, -r.kw, r.job),  # deadlines that survive the event first
    )
    chosen, shed_kw = [], 0.0
    for r in able:
        if shed_kw >= over - 1e-6:
            break
        chosen.append(r.job)
        shed_kw += r.kw
    short = max(0.0, over - shed_kw)
    if short <= 1e-6:
        why = f"suspended {len(chosen)} preemptible job(s), {shed_kw:,.1f} kW, to meet the cap {limit.cap_kw:,.1f} kW"
    else:
        kept_inf = sum(r.kw for r in mine if r.inference)
        kept_fixed = sum(r.kw for r in mine if not r.inference and not r.preemptible)
        other = max(0.0, draw - shed_kw - kept_inf - kept_fixed)
        why = (
            f"{short:,.1f} kW above the cap {limit.cap_kw:,.1f} kW after suspending every preemptible job: "
            f"inference draws {kept_inf:,.1f} kW (its SLO is never broken), non-preemptible work "
            f"{kept_fixed:,.1f} kW, other draw {other:,.1f} kW; ask tenants to mark work preemptible "
            f"or lower the event's reduction"
        )
    return Shed(tuple(chosen), draw, shed_kw, short, why)
