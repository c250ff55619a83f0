"""Run scenarios — one by one with progress, or in parallel processes — and collect metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from suanwang.simulations.engine import Simulation
from suanwang.simulations.events import Outcome
from suanwang.simulations.report import metrics
from suanwang.simulations.scenario import Scenario


def run_scenario(sc: Scenario, progress: Callable[[float], None] | None = None) -> tuple[dict[str, Any], Outcome]:
    t = time.perf_counter()
    if sc.name.endswith(ORACLE):
        from suanwang.simulations.oracle import run_oracle

        out = run_oracle(sc)
        if progress:
            progress(1.0)
        return metrics(out, time.perf_counter() - t), out
    out = Simulation(
        sc.topology,
        list(sc.arrivals),
        sc.start,
        sc.hours,
        sc.policy,
        list(sc.failures),
        progress,
        outages=list(sc.outages),
        grid_events=list(sc.grid_events),
        drain_h=sc.drain_h,
    ).run()
    m = metrics(out, time.perf_counter() - t)
    if sc.policy.shift is not None:
        m["forecast_mape"] = _forecast_error(sc)
        m["deferrable_cost_bound_cny"] = _cost_bound(sc, out)
    return m, out


BOUND_MAX_RUNS = 100_000  # deferrable runs the start-time LP takes (≈ 3 s at 14,000, 1 M non-zeros)


def _cost_bound(sc: Scenario, out: Outcome) -> float | None:
    """The least energy cost any start times allow the deferrable runs on their placements
    (:mod:`.shift_bound`); ``None`` past :data:`BOUND_MAX_RUNS`."""
    from suanwang.simulations.shift_bound import start_cost_bound

    if sum(1 for r in out.runs if r.deferrable) > BOUND_MAX_RUNS:
        return None
    return start_cost_bound(sc, out)


def _forecast_error(sc: Scenario) -> float | None:
    """Mean absolute percentage error of the policy's day-ahead carbon forecasts over the run,
    averaged over the zones that have a series (``None``: every zone's outlook is exact)."""
    from suanwang.solvers.forecast import forecast_error

    days = max(1, int(sc.hours // 24))
    errs = [forecast_error(z, sc.start, days, sc.policy.forecast) for z in sc.topology.grid_zones.values()]  # type: ignore[arg-type]
    errs = [e for e in errs if e is not None]
    return sum(errs) / len(errs) if errs else None


ORACLE = "/oracle"


def shift_variants(sc: Scenario) -> list[Scenario]:
    """A time-shifting scenario as three: run-now (no start-time decisions), shifted, and the
    perfect-foresight oracle; any other scenario as itself."""
    if sc.policy.shift is None:
        return [sc]
    now = replace(sc, name=f"{sc.name}/run-now", policy=replace(sc.policy, shift=None))
    return [now, replace(sc, name=f"{sc.name}/shifted"), replace(sc, name=f"{sc.name}{ORACLE}")]


def with_solver(sc: Scenario, solver: str) -> Scenario:
    return replace(sc, name=f"{sc.name}/{solver}", policy=replace(sc.policy, solver=solver))


def run_all(scenarios: list[Scenario], processes: int = 1, progress=None) -> dict[str, tuple[dict, Outcome]]:
    if processes > 1 and len(scenarios) > 1:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            results = list(pool.map(run_scenario, scenarios))
        return {sc.name: r for sc, r in zip(scenarios, results, strict=True)}
    out = {}
    for sc in scenarios:
        out[sc.name] = run_scenario(sc, (lambda f, n=sc.name: progress(n, f)) if progress else None)
    return out
