"""Plain words for start-time decisions: when a deferred job starts, in which tariff band, and
what waiting saves against starting now (¥ and kg CO₂, at the planner's outlook)."""

from __future__ import annotations

from datetime import datetime

from suanwang.solvers.problem import Problem
from suanwang.topology.model import Site


def deferral_note(problem: Problem, site: Site, start: datetime, saved_cny: float, saved_kg: float) -> str:
    """ "starts 00:00 in the valley band, saves ¥N and M kg CO₂ against now"."""
    zone = problem.topology.grid_zones[site.grid_zone]
    when = start.strftime("%H:%M") if start.date() == problem.now.date() else start.strftime("%m-%d %H:%M")
    if zone.price_year_cny_per_kwh:
        band = f"at ¥{zone.price_at(start):.3f}/kWh"
    else:
        band = f"in the {zone.tariff.period_at(start)} band"
    money = f"saves ¥{saved_cny:,.2f}" if saved_cny >= -0.005 else f"costs ¥{-saved_cny:,.2f} more"
    kg = 0.0 if abs(saved_kg) < 0.05 else saved_kg
    co2 = f"{kg:,.1f} kg CO₂" if kg >= 0 else f"emits {-kg:,.1f} kg CO₂ more"
    return f"starts {when} (UTC+8) {band}, {money} and {co2} against starting now"
