"""Turn a solver's decisions into a :class:`Plan`: exact per-job figures, node names, reasons.

Every solver ends here, so placements are computed one way: energy at PUE over the job's own
duration, priced at the zone's tariff and carbon intensity averaged over the hours it runs from
its planned start (after any data transfer), carbon priced at ``carbon_cny_per_kg``, data moved
between cities at ``transfer_cny_per_tb``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import NamedTuple

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


class Batch(NamedTuple):
    """Jobs of one class placed on one candidate, each with the nodes it holds (none named on a
    :class:`~.ledger.CountLedger`). Plans are kept as batches and expanded job by job only when
    assembled."""

    jc: JobClass
    cand: Candidate
    jobs: list[int]  # indices into problem.jobs
    nodes: list[tuple[str, ...]]  # per job


def demand(instance: Instance, jc: JobClass, cand: Candidate) -> Demand:
    """What one job of ``jc`` takes at ``cand``: nodes, power, bandwidth and quota rows (made once
    per class and candidate)."""
    key = (jc.index, id(cand))  # candidates live as long as the instance
    d = instance.demands.get(key)
    if d is None:
        owner = (jc.rep.tenant, cand.model, cand.site) if jc.governed else None
        rows = instance.quota_for(*owner) if owner else ()
        d = instance.demands[key] = Demand(
            jc.per_node, jc.nodes, cand.power_kw, cand.links, jc.bandwidth_gbps, rows, jc.rep.accelerators.count, owner
        )
    return d


def place_many(instance: Instance, ledger: Ledger, jc: JobClass, cand: Candidate, jobs: Sequence[int]) -> Batch:
    """Reserve nodes, power and bandwidth for ``jobs`` (of ``jc``) at a candidate, in order, until
    one does not fit (the rest would not either); the batch holds those placed."""
    if not jobs or ledger.free_cards(cand.pool) < jc.per_node * jc.nodes:
        return Batch(jc, cand, [], [])
    names = ledger.take_many(cand.pool, demand(instance, jc, cand), len(jobs))
    return Batch(jc, cand, list(jobs[: len(names)]), names)


def batches_score(instance: Instance, batches: Iterable[Batch]) -> float:
    """The objective's score of ``batches``: Σ jobs × the candidate's score."""
    w = instance.problem.weights.value_per_pflops
    return sum(len(b.jobs) * b.jc.score(b.cand, w) for b in batches if b.jobs)


def assemble(
    instance: Instance,
    ledger: Ledger,
    batches: Iterable[Batch],
    *,
    solver: str,
    status: str,
    bound: float | None,
    solve_seconds: float,
    build_seconds: float = 0.0,
) -> Plan:
    """Turn batches (class, candidate, jobs, nodes) into a :class:`Plan`: placements with their
    figures, and the jobs left out with plain-word reasons computed against what is left."""
    problem = instance.problem
    placements: list[Placement] = list(instance.fixed)
    placed: set[int] = set()
    value = 0.0
    score = 0.0
    for i, jc, cand, names in ((i, b.jc, b.cand, n) for b in batches for i, n in zip(b.jobs, b.nodes, strict=True)):
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
