"""What start times alone could save in a time-shifting replay: the LP bound of
:mod:`suanwang.solvers.start_bound` on the replay's own placements.

Each deferrable job that started keeps the pool it ran on; work with no slack holds its cards in
the hours it ran; every arrival and the actual tariff are known. The deferrable jobs' energy cost
cannot fall below the bound on those placements, whatever their start times, so it tells how much
of a shortfall against a saving goal lies in the timing and how much in the placements and the
load. Runs are taken as long as their jobs declare (the replay runs them exactly so).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from suanwang.simulations.events import Outcome, Started
from suanwang.simulations.meter import Meter
from suanwang.simulations.scenario import Scenario
from suanwang.solvers.start_bound import Work, cost_bound

__all__ = ["start_cost_bound"]


def start_cost_bound(sc: Scenario, out: Outcome) -> float | None:
    """A lower bound in ¥ on the energy cost of ``out``'s deferrable runs over any start times;
    ``None`` when ``out`` recorded no runs (a replay without ``shift``), when runs were cut short
    (killed by failures, suspended for grid events, evicted: the bound takes each run at its
    length), or when the LP found none."""
    if not out.runs or out.preempted or out.suspended or out.evicted:
        return None
    first: dict[str, Started] = {}
    for r in out.runs:
        first.setdefault(r.job.id, r)
    runs = list(first.values())
    last = max(max(r.at + timedelta(hours=r.job.duration_h), r.job.deadline or r.at) for r in runs)
    meter = Meter(sc.topology, sc.start, last + timedelta(hours=1))
    t0, T = meter.t0, len(meter.hours)

    def hour(t: datetime) -> float:
        return (t - t0).total_seconds() / 3600.0

    cards = {(s.id, p.accelerator): p.nodes * p.per_node for s in sc.topology.sites for p in s.pools}
    pools: dict[tuple[str, str], int] = {}
    held: dict[tuple[str, str], np.ndarray] = {}
    work = []
    for r in runs:
        job, at, key = r.job, r.at, (r.site, r.model)
        if r.deferrable and job.deadline is not None:
            opens = max(job.submitted_at or at, job.earliest) if job.earliest else (job.submitted_at or at)
            lo = max(0, math.floor(hour(opens)))
            hi = max(lo, math.floor(hour(job.deadline) - job.duration_h + 1e-9))
            work.append(
                Work(pools.setdefault(key, len(pools)), job.accelerators.count, r.power_kw, lo, hi, job.duration_h)
            )
            continue
        a, b = hour(at), hour(at) + job.duration_h
        row = held.setdefault(key, np.zeros(T))
        for h in range(max(0, int(a)), min(T, math.ceil(b - 1e-9))):
            row[h] += job.accelerators.count * (min(b, h + 1) - max(a, h))
    free = np.zeros((len(pools), T))
    price = np.zeros((len(pools), T))
    for (site, model), p in pools.items():
        free[p] = cards.get((site, model), 0) - held.get((site, model), np.zeros(T))
        price[p] = meter.cny_per_kwh[site][:T]
    return cost_bound(work, free, price)
