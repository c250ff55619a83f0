"""Turn a solver's decisions into a :class:`Plan`: exact per-job figures, node names, reasons.

Every solver ends here, so placements are computed one way: energy at PUE over the job's own
duration, priced at the zone's tariff and carbon intensity averaged over the hours it runs from
its planned start (after any data transfer), carbon priced at ``carbon_cny_per_kg``, data moved
between cities at ``transfer_cny_per_tb``.
"""

from __future__ import annotations

from datetime import timedelta

from suanwang.solvers.explain import explain
from suanwang.solvers.instance import (
    Candidate,
    Instance,
    JobClass,
    _energy_cost,
    job_route,
    requirement_key,
    transfer_hours,
)
from suanwang.solvers.ledger import Demand, Ledger
from suanwang.solvers.problem import Placement, Plan, Unplaced

Decision = tuple[int, JobClass, Candidate, tuple[str, ...]]  # (job index, class, candidate, node names)


def place(instance: Instance, ledger: Ledger, jc: JobClass, cand: Candidate, job_index: int) -> Decision | None:
    """Reserve nodes, power and bandwidth for one job at a candidate; ``None`` if it does not fit."""
    owner = (jc.rep.tenant, cand.model, cand.site) if jc.governed else None
    rows = instance.quota_for(*owner) if owner else ()
    d = Demand(
        jc.per_node, jc.nodes, cand.power_kw, cand.links, jc.bandwidth_gbps, rows, jc.rep.accelerators.count, owner
    )
    names = ledger.take(cand.pool, d)
    return None if names is None else (job_index, jc, cand, names)


def assemble(
    instance: Instance,
    ledger: Ledger,
    decisions: list[Decision],
    *,
    solver: str,
    status: str,
    bound: float | None,
    solve_seconds: float,
    build_seconds: float = 0.0,
) -> Plan:
    """Turn decisions (job, class, candidate, nodes) into a :class:`Plan`: placements with their
    figures, and the jobs left out with plain-word reasons computed against what is left."""
    problem = instance.problem
    placements: list[Placement] = list(instance.fixed)
    placed: set[int] = set()
    value = 0.0
    score = 0.0
    for i, jc, cand, names in decisions:
        job = problem.jobs[i]
        site = instance.sites[cand.site]
        user, data = job_route(instance.graph, job, site.id)
        transfer = transfer_hours(job.data.size_tb, data.bottleneck_gbps) if job.data and data else 0.0
        energy, cost, carbon = _energy_cost(problem, job, site, cand.model, job.duration_h, transfer)
        start = problem.now + timedelta(hours=transfer)
        route = user or data
        path = route.nodes if route is not None else (site.id,)
        placements.append(
            Placement(
                job.id,
                cand.site,
                cand.model,
                jc.nodes,
                job.accelerators.count,
                names,
                start,
                path,
                user.rtt_ms if user else None,
                energy,
                cost,
                carbon,
                transfer,
            )
        )
        placed.add(i)
        value += cand.value
        score += problem.weights.value_per_pflops * cand.value - cost
    unplaced = []
    reasons: dict[tuple, tuple[str, ...]] = {}  # identical requirements get identical reasons (priority aside)
    memo: dict = {}
    for jc in instance.classes:
        for i in jc.jobs:
            if i not in placed:
                key = requirement_key(problem.jobs[i], 0)
                if key not in reasons:
                    reasons[key] = explain(instance, ledger, jc, i, memo)
                unplaced.append(Unplaced(problem.jobs[i].id, reasons[key]))
    for i, reason in instance.not_ready.items():
        unplaced.append(Unplaced(problem.jobs[i].id, (reason,)))
    gap = None
    if bound is not None and bound > 0:
        gap = max(0.0, (bound - value) / bound)
    return Plan(
        solver, status, value, bound, gap, solve_seconds, tuple(placements), tuple(unplaced), score, build_seconds
    )
