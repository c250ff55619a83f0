"""CP-SAT placement over job classes (the model in :mod:`.aggregate`; constraints numbered as in
:mod:`suanwang.solvers`).

Before any model: a greedy that gives each job its best-scoring candidate; if every job gets it,
the plan is optimal and returned as is (the common case when capacity is ample). Otherwise it is
one of the warm starts.

Warm starts: an LP-guided greedy (classes by value density, each trying first the pools the LP
relaxation uses), the best-candidate greedy and the three baselines. The baselines run while the
LP does and, those left, while CP-SAT searches from the better of the two greedy starts; if the
search finds nothing better than the best of all the starts within its time limit, that start is
kept — CP-SAT is never below the best baseline. When the per-node demands are powers of two the
LP relaxation bounds every plan, so a warm start that reaches the LP score is optimal and CP-SAT is
not called. Large models are restricted to the columns the LP solution or the hint use.

Plans are kept as batches (a class's jobs on one candidate) and expanded job by job only when
assembled. The warm starts run on a counting ledger (nodes per free-card level, no names); only
the one kept is placed again on named nodes, and assembled while CP-SAT searches on a thread of
its own — the plan, unless the search finds a better one.

Integer scaling: scores in ¥0.1, power in W (coefficients rounded up, capacities down, so every
CP-SAT solution is feasible in real numbers), bandwidth in Mbit/s. The model is written straight
into the CP-SAT proto, which keeps model building linear in the number of candidates.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from ortools.sat.python import cp_model_helper as cmh

from suanwang.solvers.aggregate import Aggregate, aggregate, exact_blocks
from suanwang.solvers.assemble import Batch, assemble, batches_score, place_many
from suanwang.solvers.baselines import POLICIES, class_order, in_order
from suanwang.solvers.instance import Instance, build_instance
from suanwang.solvers.ledger import Ledger
from suanwang.solvers.lp_bound import matrix, release_free_memory, solve_lp_soon
from suanwang.solvers.problem import Plan, Problem

_SCALE = {"class": 1, "nodes": 1, "power": 1000, "bandwidth": 1000, "quota": 1}
_NEG_INF = -(2**62)


def _counts(agg: Aggregate, instance: Instance, batches: list[Batch]) -> list[int]:
    """Jobs per column: a class's columns are its candidates, in order, after those of the classes
    before it (:func:`.aggregate._build`)."""
    start: dict[int, int] = {}
    at = 0
    for jc in instance.classes:
        start[jc.index], at = at, at + len(jc.candidates)
    counts = [0] * len(agg.var_class)
    for b in batches:
        if b.jobs:
            counts[start[b.jc.index] + b.jc.candidates.index(b.cand)] += len(b.jobs)
    return counts


def place_counts(instance: Instance, agg: Aggregate, counts, ledger: Ledger) -> list[Batch]:
    """Assign concrete jobs to the pools chosen per class: jobs next to their data first, then the
    longest jobs to the cheapest pools; nodes by best fit. Jobs that do not fit stay unplaced."""
    chosen: dict[int, list[tuple[int, int]]] = {}
    for v in np.flatnonzero(np.asarray(counts) > 0):
        chosen.setdefault(agg.var_class[v], []).append((agg.var_cand[v], int(counts[v])))
    out: list[Batch] = []
    jobs_all = instance.problem.jobs
    # counts are decided: pack largest per-node demand first, where the block model is exact
    for jc in sorted(instance.classes, key=lambda c: (-c.per_node, -c.nodes, -c.priority, c.index)):
        picks = chosen.get(jc.index)
        if not picks:
            continue
        picks.sort(key=lambda t: (jc.candidates[t[0]].cost_cny, t[0]))
        left = dict(picks)
        queue: dict[int, list[int]] = {k: [] for k, _ in picks}
        rest: list[int] = []
        for i in sorted(jc.jobs, key=lambda i: -jobs_all[i].duration_h):
            data = jobs_all[i].data
            home = None
            if data is not None:
                home = next(
                    (
                        k
                        for k, n in left.items()
                        if n > 0
                        and data.location in (jc.candidates[k].site, instance.sites[jc.candidates[k].site].city)
                    ),
                    None,
                )
            if home is None:
                rest.append(i)
            else:
                left[home] -= 1
                queue[home].append(i)
        at = 0
        for k, n in left.items():
            queue[k].extend(rest[at : at + n])
            at += n
        for k, jobs in queue.items():
            b = place_many(instance, ledger, jc, jc.candidates[k], jobs)
            if b.jobs:
                out.append(b)
    return out


def guided(instance: Instance, ledger: Ledger, first: dict[int, list[int]]) -> list[Batch]:
    """Greedy in order of value density (priority × PFLOPS per card, then larger jobs), each class
    trying first the candidates in ``first`` (the pools the LP relaxation uses most), then the rest
    by score."""
    problem = instance.problem
    cat = problem.topology.accelerators

    def density(jc) -> tuple:
        best = max((cat[c.model].pflops for c in jc.candidates), default=0.0)
        return (-jc.priority * best, -jc.per_node * jc.nodes, jc.index)

    out: list[Batch] = []
    for jc in sorted(instance.classes, key=density):
        lead = first.get(jc.index, [])
        seen = set(lead)
        rest = sorted(
            (k for k in range(len(jc.candidates)) if k not in seen),
            key=lambda k: (-jc.score(jc.candidates[k], problem.weights.value_per_pflops), k),
        )
        out.extend(in_order(instance, ledger, jc, [jc.candidates[k] for k in lead + rest], list(jc.jobs)))
    return out


def unconstrained_bound(instance: Instance) -> float:
    """Score if every job could take its best candidate regardless of capacity: a plan that
    reaches it is optimal."""
    w = instance.problem.weights.value_per_pflops
    return sum(len(jc.jobs) * max([0.0, *(jc.score(c, w) for c in jc.candidates)]) for jc in instance.classes)


def lp_first(agg: Aggregate, lp_x: np.ndarray) -> dict[int, list[int]]:
    """Per class, the candidates the LP solution uses, most used first."""
    by_class: dict[int, list[tuple[float, int]]] = {}
    for v in np.flatnonzero(lp_x > 1e-6):
        by_class.setdefault(agg.var_class[v], []).append((float(lp_x[v]), agg.var_cand[v]))
    return {c: [k for _, k in sorted(pairs, reverse=True)] for c, pairs in by_class.items()}


class Start(NamedTuple):
    """A warm start: its batches on a counting ledger, and how to place it again with named nodes."""

    name: str
    batches: list[Batch]
    score: float
    named: Callable[[], tuple[list[Batch], Ledger]]


def _start(instance: Instance, name: str, run: Callable[[Instance, Ledger], list[Batch]]) -> Start:
    """Run a placement policy on counts; the same policy on a named ledger makes the same choices."""
    batches = run(instance, instance.ledger(counting=True))

    def named() -> tuple[list[Batch], Ledger]:
        ledger = instance.ledger()
        return run(instance, ledger), ledger

    return Start(name, batches, batches_score(instance, batches), named)


def fill(instance: Instance, ledger: Ledger, batches: list[Batch]) -> list[Batch]:
    """``batches`` plus the jobs they leave out that still fit ``ledger`` node by node, each on
    its best-scoring candidate with room, in the baselines' class order. The model's blocks round
    a per-node demand up to a power of two, and CP-SAT decides only some columns, so nodes with
    room for a job can be left over."""
    w = instance.problem.weights.value_per_pflops
    placed = {i for b in batches for i in b.jobs}
    out = list(batches)
    for jc in class_order(instance):
        left = [i for i in jc.jobs if i not in placed]  # in queue order
        if left:
            best = sorted((c for c in jc.candidates if jc.score(c, w) > 0), key=lambda c: -jc.score(c, w))
            out.extend(in_order(instance, ledger, jc, best, left))
    return out


def baseline_starts(instance: Instance) -> list[Callable[[], Start]]:
    """Each baseline, as a call that runs it and gives its :class:`Start`."""
    return [functools.partial(_start, instance, name, run) for name, run in POLICIES.items()]


def _proven(score: float, bound: float) -> bool:
    return score >= bound - 1e-9 * max(1.0, abs(bound))


def _columns(agg: Aggregate, lp_x: np.ndarray, hint: list[int], full_below: int = 5000) -> list[int]:
    """Variables CP-SAT decides: all of them for small models, else the support of the LP
    solution and of the hint."""
    if len(agg.ub) <= full_below:
        return list(range(len(agg.ub)))
    support = set(np.flatnonzero(lp_x > 1e-6).tolist()) | {v for v, h in enumerate(hint) if h}
    return sorted(support)


def solve_cpsat(problem: Problem, instance: Instance | None = None, after_lp: Callable[[], None] | None = None) -> Plan:
    """Place ``problem``'s jobs with CP-SAT over the aggregate model, never below the best baseline.
    ``after_lp`` is called once this search's LP is queued (the caller's bound queues behind it)."""
    t0 = time.perf_counter()
    inst = instance or build_instance(problem)

    # A plan that gives every job its best candidate is optimal: no model needed. Tried only when
    # the free cards could hold every job; it then also serves as a warm start.
    asked = sum(len(jc.jobs) * jc.rep.accelerators.count for jc in inst.classes)
    tried = asked <= sum(p.free_cards for p in inst.nodes.values())
    quick = _start(inst, "best-candidate greedy", lambda i, led: guided(i, led, {})) if tried else None

    def done(start: Start | tuple[list[Batch], Ledger], status: str, search_s: float, build_end: float) -> Plan:
        batches, ledger = start.named() if isinstance(start, Start) else start
        return assemble(
            inst, ledger, fill(inst, ledger, batches), solver="cpsat", status=status, bound=None,
            solve_seconds=search_s, build_seconds=build_end - t0,
        )  # fmt: skip

    if quick is not None and _proven(quick.score, unconstrained_bound(inst)):
        return done(quick, "OPTIMAL (every job at its best candidate)", 0.0, time.perf_counter())

    agg = aggregate(inst)
    lp_soon = solve_lp_soon(agg, objective="score")  # on the other core, while the baselines run
    if after_lp is not None:
        after_lp()
    # With power-of-two per-node demands the block rows are exact, so the LP bound holds for every
    # node-level plan (the baselines' included) and a warm start that meets it ends the search.
    exact = exact_blocks(inst)
    # The baselines run while the LP does, and those left while CP-SAT searches; the search starts
    # from the best of the LP-guided greedy and the best-candidate one.
    pending = baseline_starts(inst)  # each runs when called
    baselines: list[Start] = []
    while pending and not lp_soon.done():
        baselines.append(pending.pop(0)())
    lp = lp_soon.result()
    first = lp_first(agg, lp.x)
    hinted = max(
        [s for s in (quick, _start(inst, "lp-guided", lambda i, led: guided(i, led, first))) if s is not None],
        key=lambda s: s.score,
    )
    best = max([hinted, *baselines], key=lambda s: s.score)
    if exact and _proven(best.score, lp.bound):
        return done(best, f"OPTIMAL (warm start {best.name} meets the LP bound)", 0.0, time.perf_counter())
    hint = _counts(agg, inst, hinted.batches)

    # CP-SAT works on the columns the LP relaxation or the warm start use (all of them when the
    # model is small); the other candidates stay at zero.
    cols = _columns(agg, lp.x, hint)
    pos = {v: k for k, v in enumerate(cols)}
    proto = cmh.CpModelProto()
    # -- variables: x[c,p] = number of class-c jobs on pool p -----------------------------------
    for v in cols:
        proto.variables.add().domain.extend([0, max(0, int(agg.ub[v]))])
    # -- constraints (5)–(8), from the LP's sparse matrix restricted to these columns ---------------
    sub = matrix(agg)[:, cols].tocsr()
    factor = np.array([_SCALE[row.kind] for row in agg.rows], dtype=float)
    coeffs = np.ceil(sub.data * np.repeat(factor, np.diff(sub.indptr)) - 1e-9).astype(np.int64).tolist()
    rhs = np.floor(np.asarray(agg.rhs, dtype=float) * factor + 1e-9).astype(np.int64).tolist()
    indices, indptr = sub.indices.tolist(), sub.indptr.tolist()
    for i, bound in enumerate(rhs):
        lo, hi = indptr[i], indptr[i + 1]
        if lo == hi:
            continue
        lin = proto.constraints.add().linear
        lin.vars.extend(indices[lo:hi])
        lin.coeffs.extend(coeffs[lo:hi])
        lin.domain.extend([_NEG_INF, bound])
    # -- objective: maximise Σ score · x (the proto minimises, so negate) ----------------------
    proto.objective.vars.extend(range(len(cols)))
    proto.objective.coeffs.extend([-round(agg.score[v] * 10) for v in cols])
    nz = [pos[v] for v, h in enumerate(hint) if h]
    proto.solution_hint.vars.extend(nz)
    proto.solution_hint.values.extend([hint[cols[k]] for k in nz])
    hint_coeffs = [proto.objective.coeffs[k] for k in nz]
    t1 = time.perf_counter()
    # -- solve ----------------------------------------------------------------------------------
    params = cmh.SatParameters()
    params.max_time_in_seconds = max(0.05, problem.time_limit_s)
    params.num_workers = max(1, problem.workers)
    params.cp_model_presolve = len(cols) < 20000  # presolve costs more than it saves at scale
    wrapper = cmh.SolveWrapper()
    wrapper.set_parameters(params)
    # CP-SAT searches on its own thread (it lets go of the interpreter); meanwhile the warm start is
    # placed on named nodes and assembled: the plan, should the search find nothing better.
    search = _Search(wrapper, proto)
    try:
        best = max([best, *(run() for run in pending)], key=lambda s: s.score)
        release_free_memory()  # what the warm starts freed, before the plan is assembled beside the LP
        kept = done(best, "", 0.0, t1)
    finally:
        response, t2 = search.result()
    status = response.status.name
    # -- extraction -----------------------------------------------------------------------------
    hint_objective = sum(h * c for h, c in zip(proto.solution_hint.values, hint_coeffs, strict=True))
    found = response.status in (cmh.CpSolverStatus.OPTIMAL, cmh.CpSolverStatus.FEASIBLE)
    if found and response.objective_value < hint_objective - 0.5:  # better than the warm start in the model
        values = [0] * len(agg.ub)
        for k, val in enumerate(response.solution):
            values[cols[k]] = val
        ledger_cp = inst.ledger()
        cp_batches = place_counts(inst, agg, values, ledger_cp)
        if batches_score(inst, cp_batches) > best.score + 1e-6:
            return done((cp_batches, ledger_cp), status, t2 - t1, t1)
    return dataclasses.replace(kept, status=f"{status} (warm start {best.name} kept)", solve_seconds=t2 - t1)


class _Search(threading.Thread):
    """One CP-SAT solve on a thread of its own; :meth:`result` waits for its response and end time."""

    def __init__(self, wrapper, proto) -> None:
        super().__init__(name="cpsat-search", daemon=True)
        self._wrapper, self._proto = wrapper, proto
        self._out: tuple | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._out = (self._wrapper.solve(self._proto), time.perf_counter())
        except BaseException as e:  # handed to the caller by result()
            self._error = e

    def result(self):
        self.join()
        if self._error is not None:
            raise self._error
        return self._out
