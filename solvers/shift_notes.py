"""Plain words for start-time decisions: when a deferred job starts, in which tariff band, and
what waiting saves against starting now (¥ and kg CO₂, at the planner's outlook)."""

from __future__ import annotations

from datetime import datetime

from suanwang.solvers.problem import Problem
from suanwang.topology.model import Site


def _when(problem: Problem, start: datetime) -> str:
    return start.strftime("%H:%M") if start.date() == problem.now.date() else start.strftime("%m-%d %H:%M")


def deferral_note(problem: Problem, site: Site, start: datetime, saved_cny: float, saved_kg: float) -> str:
    """ "starts 00:00 in the valley band, saves ¥N and M kg CO₂ against now"."""
    zone = problem.topology.grid_zones[site.grid_zone]
    when = _when(problem, start)
    if zone.price_year_cny_per_kwh:
        band = f"at ¥{zone.price_at(start):.3f}/kWh"
    else:
        band = f"in the {zone.tariff.period_at(start)} band"
    money = f"saves ¥{saved_cny:,.2f}" if saved_cny >= -0.005 else f"costs ¥{-saved_cny:,.2f} more"
    kg = 0.0 if abs(saved_kg) < 0.05 else saved_kg
    co2 = f"{kg:,.1f} kg CO₂" if kg >= 0 else f"emits {-kg:,.1f} kg CO₂ more"
    return f"starts {when} (UTC+8) {band}, {money} and {co2} against starting now"


def hold_note(problem: Problem, start: datetime, saved_cny: float, now_cny: float, share: float) -> str:
    """Why a deferrable job did not start now although there was room: a later slot is cheaper."""
    return (
        f"waits for a cheaper start: from {_when(problem, start)} (UTC+8) its window saves about ¥{saved_cny:,.2f} "
        f"of the ¥{now_cny:,.2f} starting now costs, more than {share:.0%} of it (Shift.hold_share); it starts "
        "when a plan finds room for it then, or now once its window leaves no start that much cheaper"
    )
