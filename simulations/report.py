"""Scenario results: metrics, a side-by-side table, and a report folder (summary markdown, JSON
metrics, PNG plots of utilisation per site, queue length, carbon per hour, and a comparison)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from suanwang.simulations.events import Outcome

PLOTS = ("utilisation.png", "queue.png", "carbon.png", "comparison.png", "power.png")
ROWS = [  # (key, label, format)
    ("arrivals", "arrivals", "{:,.0f}"),
    ("completed", "completed", "{:,.0f}"),
    ("wait_p50_min", "wait p50 (min)", "{:,.1f}"),
    ("wait_p95_min", "wait p95 (min)", "{:,.1f}"),
    ("wait_p99_min", "wait p99 (min)", "{:,.1f}"),
    ("completion_mean_h", "completion time, mean (h)", "{:,.2f}"),
    ("util_hub", "utilisation, hub", "{:.1%}"),
    ("util_city", "utilisation, city", "{:.1%}"),
    ("util_edge", "utilisation, edge", "{:.1%}"),
    ("inference_slo_attainment", "inference placed within 10 min", "{:.1%}"),
    ("deterministic_admission", "deterministic admitted", "{:.1%}"),
    ("energy_mwh", "energy (MWh)", "{:,.1f}"),
    ("carbon_t", "carbon (t CO2)", "{:,.2f}"),
    ("cost_cny", "electricity cost (CNY)", "{:,.0f}"),
    ("deferrable_cost_cny", "energy cost of deferrable jobs (CNY)", "{:,.0f}"),
    ("deferrable_cost_bound_cny", "… the least any start times allow on these placements", "{:,.0f}"),
    ("deferrable_carbon_t", "carbon of deferrable jobs (t CO2)", "{:,.2f}"),
    ("deferrable_delay_mean_h", "delay of deferrable jobs, mean (h)", "{:,.2f}"),
    ("deferrable_delay_p95_h", "delay of deferrable jobs, p95 (h)", "{:,.2f}"),
    ("deadline_misses", "deadline misses (deferrable)", "{:,.0f}"),
    ("forecast_mape", "carbon forecast error (MAPE)", "{:.1%}"),
    ("suspended", "suspended for grid events", "{:,.0f}"),
    ("evicted", "preempted for higher-priority work or quota", "{:,.0f}"),
    ("evicted_lost_card_h", "card-hours lost by preemption", "{:,.1f}"),
    ("jain_mean", "Jain's index over tenants, mean", "{:.3f}"),
    ("nominal_available", "ticks with every tenant's nominal quota available", "{:.2%}"),
    ("wait_high_p95_min", "wait p95 of priority ≥ 8 jobs (min)", "{:,.1f}"),
    ("placed_value_pflops", "placed priority-weighted PFLOPS", "{:,.0f}"),
    ("jain_min", "Jain's index over tenants, lowest", "{:.3f}"),
    ("preempted", "killed by failures", "{:,.0f}"),
    ("rejected", "rejected", "{:,.0f}"),
    ("still_queued", "still queued", "{:,.0f}"),
    ("events_per_s", "events per second", "{:,.0f}"),
]


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100)[q - 1]


def metrics(o: Outcome, wall_s: float) -> dict[str, Any]:
    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None  # nothing to count: "n/a", not 100 %

    def minutes(q: int) -> float | None:
        p = _pct(o.waits_h, q)
        return None if p is None else 60 * p

    m = {
        "arrivals": o.arrivals,
        "evicted": o.evicted,
        "nominal_available": 1 - o.nominal_short_ticks / o.nominal_ticks if o.nominal_ticks else None,
        "wait_high_p95_min": None if _pct(o.waits_high_h, 95) is None else 60 * _pct(o.waits_high_h, 95),
        "placed_value_pflops": o.placed_value,
        "evicted_lost_card_h": o.evicted_lost_card_h,
        "jain_mean": statistics.fmean(o.series_jain) if o.series_jain else None,
        "jain_min": min(o.series_jain) if o.series_jain else None,
        "placed": o.placed,
        "completed": o.completed,
        "rejected": o.rejected,
        "preempted": o.preempted,
        "still_queued": o.still_queued,
        "still_running": o.still_running,
        # every job that waited counts: placed, rejected after waiting, and still waiting at the end
        "wait_p50_min": minutes(50),
        "wait_p95_min": minutes(95),
        "wait_p99_min": minutes(99),
        "completion_mean_h": statistics.fmean(o.completion_h) if o.completion_h else None,
        "inference_slo_attainment": ratio(o.inference_on_time, o.inference_arrivals),
        "deterministic_admission": ratio(o.deterministic_admitted, o.deterministic_arrivals),
        "energy_mwh": o.energy_kwh / 1000,
        "carbon_t": o.carbon_kg / 1000,
        "cost_cny": o.cost_cny,
        "events": o.events,
        "wall_s": wall_s,
        "events_per_s": o.events / wall_s if wall_s and o.events else None,  # the oracle replays no events
        "solve_s": o.solve_seconds,
        "deferrable_arrivals": o.deferrable_arrivals,
        "deferrable_cost_cny": o.deferrable_cost_cny,
        "deferrable_energy_mwh": o.deferrable_energy_kwh / 1000,
        "deferrable_carbon_t": o.deferrable_carbon_kg / 1000,
        # a deferrable job still waiting at the end counts with its wait so far
        "deferrable_delay_mean_h": statistics.fmean(o.deferrable_delay_h) if o.deferrable_delay_h else None,
        "deferrable_delay_p95_h": _pct(o.deferrable_delay_h, 95),
        "deadline_misses": o.deadline_misses,
        "suspended": o.suspended,
        "grid_events": o.grid,
    }
    for tier in ("hub", "city", "edge"):  # averaged over time (each value covers the tick before it)
        series = o.series_util_mean_tier.get(tier, [])[1:]
        m[f"util_{tier}"] = statistics.fmean(series) if series else None
    return m


def table_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    def cell(value: Any, fmt: str) -> str:
        return "n/a" if value is None else fmt.format(value)

    return [[label] + [cell(results[name].get(key), fmt) for name in results] for key, label, fmt in ROWS]


def write_report(folder: Path, results: dict[str, dict[str, Any]]) -> list[Path]:
    """``metrics.json`` and ``summary.md`` in ``folder``; the plots are drawn by the caller's edge."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "metrics.json", folder / "summary.md"]
    paths[0].write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    names = list(results)
    lines = ["# What-if comparison", "", "| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    lines += ["", "Plots: " + ", ".join(PLOTS) + "."]
    paths[1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
