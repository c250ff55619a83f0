"""Baseline placement policies, for comparison and as CP-SAT's warm start.

All three take jobs in priority order (highest effective priority first, then larger requests)
and respect every hard constraint; they differ in which feasible site they pick:

* ``greedy``  — first fit: the first candidate site in topology order;
* ``bestfit`` — the tightest site: fewest free cards of the model left after placing;
* ``karmada`` — like Karmada's divided replica scheduling with dynamic weights: the jobs of one
  shape (one "workload") are split across sites in proportion to each site's available replicas,
  computed once for the workload; leftovers go to the site with the most replicas still free.
"""

from __future__ import annotations

import heapq
import time

from suanwang.solvers.assemble import Decision, assemble, place
from suanwang.solvers.instance import Instance, JobClass, build_instance
from suanwang.solvers.ledger import Demand, Ledger
from suanwang.solvers.problem import Plan, Problem


def class_order(instance: Instance) -> list[JobClass]:
    """Work within its tenant's nominal quota first (solvers.quota), then highest effective
    priority; among equals the tenant furthest below its fair share (solvers.fair); then larger
    per-node and total requests (packs better)."""
    return sorted(
        instance.classes,
        key=lambda c: (
            len(c.lift) < len(c.candidates),
            -c.priority,
            -c.fair,
            -c.per_node,
            -c.rep.accelerators.count,
            c.index,
        ),
    )


def _site_rank(instance: Instance) -> dict[str, int]:
    return {s.id: i for i, s in enumerate(instance.problem.topology.sites)}


def run_greedy(instance: Instance, ledger: Ledger) -> list[Decision]:
    """First fit: classes by priority, each job on the first pool (sites by rank) that still fits."""
    rank = _site_rank(instance)
    out: list[Decision] = []
    for jc in class_order(instance):
        cands = sorted(jc.candidates, key=lambda c: (rank[c.site], c.model))
        k = 0
        for i in jc.jobs:
            while k < len(cands):
                d = place(instance, ledger, jc, cands[k], i)
                if d is not None:
                    out.append(d)
                    break
                k += 1  # capacity only shrinks while this class is placed
            if k >= len(cands):
                break
    return out


def _run_keyed(
    instance: Instance, ledger: Ledger, key, skip: set[int] = frozenset(), classes: list[JobClass] | None = None
) -> list[Decision]:
    """Place each job at the candidate with the smallest ``key`` (lazily re-evaluated heap)."""
    out: list[Decision] = []
    for jc in class_order(instance) if classes is None else classes:
        heap = [(key(ledger, jc, c), n) for n, c in enumerate(jc.candidates)]
        heapq.heapify(heap)
        for i in jc.jobs:
            if i in skip:
                continue
            placed = False
            while heap:
                k, n = heapq.heappop(heap)
                cand = jc.candidates[n]
                fresh = key(ledger, jc, cand)
                if fresh != k:
                    heapq.heappush(heap, (fresh, n))
                    continue
                d = place(instance, ledger, jc, cand, i)
                if d is None:
                    continue  # never fits again while this class is placed
                out.append(d)
                heapq.heappush(heap, (key(ledger, jc, cand), n))
                placed = True
                break
            if not placed:
                break
    return out


def _tightest(ledger: Ledger, jc: JobClass, c) -> tuple:
    return (ledger.free_cards(c.pool) - jc.rep.accelerators.count, c.site, c.model)


def _most_replicas(ledger: Ledger, jc: JobClass, c) -> tuple:
    n = ledger.copies_that_fit(c.pool, Demand(jc.per_node, jc.nodes, c.power_kw, c.links, jc.bandwidth_gbps))
    return (-n, c.site, c.model)


def run_bestfit(instance: Instance, ledger: Ledger) -> list[Decision]:
    """Best fit: each job on the pool whose nodes it leaves with the fewest free cards."""
    return _run_keyed(instance, ledger, _tightest)


def run_karmada(instance: Instance, ledger: Ledger) -> list[Decision]:
    """Karmada-like: a class's jobs divided over pools in proportion to their available replicas."""
    out: list[Decision] = []
    for jc in class_order(instance):
        jobs = list(jc.jobs)
        if not jobs or not jc.candidates:
            continue
        avail = [-_most_replicas(ledger, jc, c)[0] for c in jc.candidates]
        total = sum(avail)
        if total == 0:
            continue
        n = min(len(jobs), total)
        shares = [n * a / total for a in avail]
        quota = [min(a, int(q)) for a, q in zip(avail, shares, strict=True)]
        order = sorted(range(len(avail)), key=lambda k: (-(shares[k] - int(shares[k])), -avail[k], k))
        for k in order:  # largest remainder
            if sum(quota) >= n:
                break
            if quota[k] < avail[k]:
                quota[k] += 1
        it = iter(jobs)
        left: list[int] = []
        for k, q in enumerate(quota):
            for _ in range(q):
                i = next(it)
                d = place(instance, ledger, jc, jc.candidates[k], i)
                if d is None:
                    left.append(i)
                else:
                    out.append(d)
        left.extend(it)
        if left:
            out.extend(_run_keyed(instance, ledger, _most_replicas, set(jc.jobs) - set(left), classes=[jc]))
    return out


POLICIES = {"greedy": run_greedy, "bestfit": run_bestfit, "karmada": run_karmada}


def solve_baseline(problem: Problem, policy: str, instance: Instance | None = None) -> Plan:
    """Place ``problem``'s jobs with one of the baseline policies (``greedy``, ``bestfit``, ``karmada``)."""
    t0 = time.perf_counter()
    inst = instance or build_instance(problem)
    t1 = time.perf_counter()
    ledger = inst.ledger()
    decisions = POLICIES[policy](inst, ledger)
    t2 = time.perf_counter()
    return assemble(
        inst,
        ledger,
        decisions,
        solver=policy,
        status="FEASIBLE",
        bound=None,
        solve_seconds=t2 - t1,
        build_seconds=t1 - t0,
    )
