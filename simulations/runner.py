"""Run scenarios — one by one with progress, or in parallel processes — and collect metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from suanwang.simulations.engine import Outcome, Simulation
from suanwang.simulations.report import metrics
from suanwang.simulations.scenario import Scenario


def run_scenario(sc: Scenario, progress: Callable[[float], None] | None = None) -> tuple[dict[str, Any], Outcome]:
    t = time.perf_counter()
    out = Simulation(
        sc.topology,
        list(sc.arrivals),
        sc.start,
        sc.hours,
        sc.policy,
        list(sc.failures),
        progress,
        outages=list(sc.outages),
    ).run()
    return metrics(out, time.perf_counter() - t), out


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
