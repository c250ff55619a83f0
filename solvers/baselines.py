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

from suanwang.solvers.assemble import Batch, assemble, place_many
from suanwang.solvers.instance import Candidate, Instance, JobClass, build_instance
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


def in_order(instance: Instance, ledger: Ledger, jc: JobClass, order: list[Candidate], jobs: list[int]) -> list[Batch]:
    """``jobs`` of ``jc`` on the first candidate of ``order`` that still fits, job by job; a
    candidate that turns one away turns away the rest (capacity only shrinks while a class is
    placed). Returns what was placed."""
    out: list[Batch] = []
    for cand in order:
        if not jobs:
            break
        b = place_many(instance, ledger, jc, cand, jobs)
        if b.jobs:
            out.append(b)
            jobs = jobs[len(b.jobs) :]
    return out


def run_greedy(instance: Instance, ledger: Ledger) -> list[Batch]:
    """First fit: classes by priority, each job on the first pool (sites by rank) that still fits."""
    rank = _site_rank(instance)
    out: list[Batch] = []
    for jc in class_order(instance):
        cands = sorted(jc.candidates, key=lambda c: (rank[c.site], c.model))
        out.extend(in_order(instance, ledger, jc, cands, list(jc.jobs)))
    return out


def _run_keyed(instance: Instance, ledger: Ledger, key, step, work: list[tuple[JobClass, list[int]]]) -> list[Batch]:
    """Place each job at the candidate with the smallest ``key`` (lazily re-evaluated heap). ``step``
    says how many jobs in a row the candidate on top takes before the key is looked at again."""
    out: list[Batch] = []
    for jc, jobs in work:
        heap = [(key(ledger, jc, c), n) for n, c in enumerate(jc.candidates)]
        heapq.heapify(heap)
        while jobs and heap:
            k, n = heapq.heappop(heap)
            cand = jc.candidates[n]
            fresh = key(ledger, jc, cand)
            if fresh != k:
                heapq.heappush(heap, (fresh, n))
                continue
            ask = min(len(jobs), step(fresh, heap[0][0] if heap else None))
            b = place_many(instance, ledger, jc, cand, jobs[:ask])
            if b.jobs:
                out.append(b)
                jobs = jobs[len(b.jobs) :]
            if len(b.jobs) == ask:  # a candidate that turns a job away never fits again for this class
                heapq.heappush(heap, (key(ledger, jc, cand), n))
    return out


def _tightest(ledger: Ledger, jc: JobClass, c) -> tuple:
    return (ledger.free_cards(c.pool) - jc.rep.accelerators.count, c.site, c.model)


def _all(top: tuple, second: tuple | None) -> int:
    """Best fit's top candidate stays on top as it fills (its key only falls)."""
    return 1 << 62


def _most_replicas(ledger: Ledger, jc: JobClass, c) -> tuple:
    n = ledger.copies_that_fit(c.pool, Demand(jc.per_node, jc.nodes, c.power_kw, c.links, jc.bandwidth_gbps))
    return (-n, c.site, c.model)


def _until_second(top: tuple, second: tuple | None) -> int:
    """The candidate with the most replicas takes jobs until it has no more than the next one
    (whose key on the heap may be stale: its replicas are then counted high, so fewer are taken)."""
    return 1 << 62 if second is None else max(1, second[0] - top[0])


def run_bestfit(instance: Instance, ledger: Ledger) -> list[Batch]:
    """Best fit: each job on the pool whose nodes it leaves with the fewest free cards."""
    return _run_keyed(instance, ledger, _tightest, _all, [(jc, list(jc.jobs)) for jc in class_order(instance)])


def run_karmada(instance: Instance, ledger: Ledger) -> list[Batch]:
    """Karmada-like: a class's jobs divided over pools in proportion to their available replicas."""
    out: list[Batch] = []
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
        left: list[int] = []
        at = 0
        for k, q in enumerate(quota):
            if not q:
                continue
            b = place_many(instance, ledger, jc, jc.candidates[k], jobs[at : at + q])
            if b.jobs:
                out.append(b)
            left.extend(jobs[at + len(b.jobs) : at + q])
            at += q
        left.extend(jobs[at:])
        if left:
            out.extend(_run_keyed(instance, ledger, _most_replicas, _until_second, [(jc, left)]))
    return out


POLICIES = {"greedy": run_greedy, "bestfit": run_bestfit, "karmada": run_karmada}


def solve_baseline(problem: Problem, policy: str, instance: Instance | None = None) -> Plan:
    """Place ``problem``'s jobs with one of the baseline policies (``greedy``, ``bestfit``, ``karmada``)."""
    t0 = time.perf_counter()
    inst = instance or build_instance(problem)
    t1 = time.perf_counter()
    ledger = inst.ledger()
    batches = POLICIES[policy](inst, ledger)
    t2 = time.perf_counter()
    return assemble(
        inst,
        ledger,
        batches,
        solver=policy,
        status="FEASIBLE",
        bound=None,
        solve_seconds=t2 - t1,
        build_seconds=t1 - t0,
    )
