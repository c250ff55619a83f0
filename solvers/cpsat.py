"""CP-SAT placement over job classes (the model in :mod:`.aggregate`; constraints numbered as in
:mod:`suanwang.solvers`).

Before any model: a greedy that gives each job its best-scoring candidate; if every job gets it,
the plan is optimal and returned as is (the common case when capacity is ample). Otherwise it is
one of the warm starts.

Warm start: an LP-guided greedy (classes by value density, each trying first the pools the LP
relaxation uses) and the three baselines; the best of these by score is the hint, and if CP-SAT
finds nothing better within its time limit that solution is kept — CP-SAT is never below the best
baseline. When the per-node demands are powers of two the LP relaxation bounds every plan, so a
warm start that reaches the LP score is optimal and CP-SAT is not called. Large models are
restricted to the columns the LP solution or the hint use.

Integer scaling: scores in ¥0.1, power in W (coefficients rounded up, capacities down, so every
CP-SAT solution is feasible in real numbers), bandwidth in Mbit/s. The model is written straight
into the CP-SAT proto, which keeps model building linear in the number of candidates.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import numpy as np
from ortools.sat.python import cp_model_helper as cmh

from suanwang.solvers.aggregate import Aggregate, aggregate, exact_blocks
from suanwang.solvers.assemble import Decision, assemble, place
from suanwang.solvers.baselines import POLICIES, class_order
from suanwang.solvers.instance import Instance, build_instance
from suanwang.solvers.ledger import Ledger
from suanwang.solvers.lp_bound import solve_lp_soon
from suanwang.solvers.problem import Plan, Problem

_SCALE = {"class": 1, "nodes": 1, "power": 1000, "bandwidth": 1000, "quota": 1}
_NEG_INF = -(2**62)


def _score(problem: Problem, decisions: list[Decision]) -> float:
    w = problem.weights.value_per_pflops
    return sum(jc.score(c, w) for _, jc, c, _ in decisions)


def _counts(agg: Aggregate, instance: Instance, decisions: list[Decision]) -> list[int]:
    index = {(agg.var_class[v], agg.var_cand[v]): v for v in range(len(agg.var_class))}
    cand_pos = {id(c): (jc.index, k) for jc in instance.classes for k, c in enumerate(jc.candidates)}
    counts = [0] * len(agg.var_class)
    for _, _, cand, _ in decisions:
        counts[index[cand_pos[id(cand)]]] += 1
    return counts


def place_counts(instance: Instance, agg: Aggregate, counts, ledger: Ledger) -> list[Decision]:
    """Assign concrete jobs to the pools chosen per class: jobs next to their data first, then the
    longest jobs to the cheapest pools; nodes by best fit. Jobs that do not fit stay unplaced."""
    chosen: dict[int, list[tuple[int, int]]] = {}
    for v in np.flatnonzero(np.asarray(counts) > 0):
        chosen.setdefault(agg.var_class[v], []).append((agg.var_cand[v], int(counts[v])))
    out: list[Decision] = []
    jobs_all = instance.problem.jobs
    # counts are decided: pack largest per-node demand first, where the block model is exact
    for jc in sorted(instance.classes, key=lambda c: (-c.per_node, -c.nodes, -c.priority, c.index)):
        picks = chosen.get(jc.index)
        if not picks:
            continue
        picks.sort(key=lambda t: (jc.candidates[t[0]].cost_cny, t[0]))
        left = dict(picks)
        queue: list[tuple[int, int]] = []
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
                queue.append((i, home))
        it = iter(rest)
        for k, n in left.items():
            for _ in range(n):
                i = next(it, None)
                if i is not None:
                    queue.append((i, k))
        for i, k in queue:
            d = place(instance, ledger, jc, jc.candidates[k], i)
            if d is not None:
                out.append(d)
    return out


def guided(instance: Instance, ledger: Ledger, first: dict[int, list[int]]) -> list[Decision]:
    """Greedy in order of value density (priority × PFLOPS per card, then larger jobs), each class
    trying first the candidates in ``first`` (the pools the LP relaxation uses most), then the rest
    by score."""
    problem = instance.problem
    cat = problem.topology.accelerators

    def density(jc) -> tuple:
        best = max((cat[c.model].pflops for c in jc.candidates), default=0.0)
        return (-jc.priority * best, -jc.per_node * jc.nodes, jc.index)

    out: list[Decision] = []
    for jc in sorted(instance.classes, key=density):
        lead = first.get(jc.index, [])
        seen = set(lead)
        rest = sorted(
            (k for k in range(len(jc.candidates)) if k not in seen),
            key=lambda k: (-jc.score(jc.candidates[k], problem.weights.value_per_pflops), k),
        )
        order = lead + rest
        pos = 0
        for i in jc.jobs:
            while pos < len(order):
                d = place(instance, ledger, jc, jc.candidates[order[pos]], i)
                if d is not None:
                    out.append(d)
                    break
                pos += 1
            if pos >= len(order):
                break
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


def guided_start(instance: Instance, first: dict[int, list[int]]):
    """Yield (name, decisions, ledger) of the LP-guided greedy."""
    ledger = instance.ledger()
    yield "lp-guided", guided(instance, ledger, first), ledger


def fill(instance: Instance, ledger: Ledger, decisions: list[Decision]) -> list[Decision]:
    """``decisions`` plus the jobs they leave out that still fit ``ledger`` node by node, each on
    its best-scoring candidate with room, in the baselines' class order. The model's blocks round
    a per-node demand up to a power of two, and CP-SAT decides only some columns, so nodes with
    room for a job can be left over."""
    w = instance.problem.weights.value_per_pflops
    placed = {d[0] for d in decisions}
    out = list(decisions)
    for jc in class_order(instance):
        left = [i for i in jc.jobs if i not in placed]  # in queue order
        k = 0
        for cand in sorted(jc.candidates, key=lambda c: -jc.score(c, w)) if left else ():
            if jc.score(cand, w) <= 0:
                break
            while k < len(left) and (d := place(instance, ledger, jc, cand, left[k])) is not None:
                out.append(d)
                k += 1
            if k == len(left):
                break
    return out


def baseline_starts(instance: Instance):
    """Yield (name, decisions, ledger) of each baseline."""
    for name, run in POLICIES.items():
        ledger = instance.ledger()
        yield name, run(instance, ledger), ledger


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
    ledger = inst.ledger()
    asked = sum(len(jc.jobs) * jc.rep.accelerators.count for jc in inst.classes)
    tried = asked <= sum(ledger.total.values())
    quick = guided(inst, ledger, {}) if tried else []

    def done(decisions: list[Decision], ledger: Ledger, status: str, search_s: float, build_end: float) -> Plan:
        decisions = fill(inst, ledger, decisions)
        return assemble(
            inst, ledger, decisions, solver="cpsat", status=status, bound=None, solve_seconds=search_s,
            build_seconds=build_end - t0,
        )  # fmt: skip

    if tried and _proven(_score(problem, quick), unconstrained_bound(inst)):
        return done(quick, ledger, "OPTIMAL (every job at its best candidate)", 0.0, time.perf_counter())

    agg = aggregate(inst)
    lp_soon = solve_lp_soon(agg, objective="score")  # on the other core, while the baselines run
    if after_lp is not None:
        after_lp()
    # With power-of-two per-node demands the block rows are exact, so the LP bound holds for every
    # node-level plan (the baselines' included) and a warm start that meets it ends the search.
    exact = exact_blocks(inst)
    quick_start = [("best-candidate greedy", quick, ledger)] if tried else []
    best: tuple[str, list[Decision], Ledger] = ("none", [], ledger)
    best_score = -math.inf
    for start in itertools.chain(quick_start, baseline_starts(inst)):
        sc = _score(problem, start[1])
        if sc > best_score:
            best, best_score = start, sc
    lp = lp_soon.result()
    for start in itertools.chain([best], guided_start(inst, lp_first(agg, lp.x))):
        sc = _score(problem, start[1])
        if sc > best_score:
            best, best_score = start, sc
        if exact and _proven(best_score, lp.bound):
            status = f"OPTIMAL (warm start {best[0]} meets the LP bound)"
            return done(best[1], best[2], status, 0.0, time.perf_counter())
    hint = _counts(agg, inst, best[1])

    # CP-SAT works on the columns the LP relaxation or the warm start use (all of them when the
    # model is small); the other candidates stay at zero.
    cols = _columns(agg, lp.x, hint)
    pos = {v: k for k, v in enumerate(cols)}
    proto = cmh.CpModelProto()
    # -- variables: x[c,p] = number of class-c jobs on pool p -----------------------------------
    for v in cols:
        proto.variables.add().domain.extend([0, max(0, int(agg.ub[v]))])
    # -- constraints (5)–(8) --------------------------------------------------------------------
    for row in agg.rows:
        f = _SCALE[row.kind]
        terms = [(pos[v], math.ceil(c * f - 1e-9)) for v, c in zip(row.vars, row.coeffs, strict=True) if v in pos]
        if not terms:
            continue
        lin = proto.constraints.add().linear
        lin.vars.extend([t[0] for t in terms])
        lin.coeffs.extend([t[1] for t in terms])
        lin.domain.extend([_NEG_INF, math.floor(row.rhs * f + 1e-9)])
    # -- objective: maximise Σ score · x (the proto minimises, so negate) ----------------------
    proto.objective.vars.extend(range(len(cols)))
    proto.objective.coeffs.extend([-round(agg.score[v] * 10) for v in cols])
    nz = [pos[v] for v, h in enumerate(hint) if h]
    proto.solution_hint.vars.extend(nz)
    proto.solution_hint.values.extend([hint[cols[k]] for k in nz])
    t1 = time.perf_counter()
    # -- solve ----------------------------------------------------------------------------------
    params = cmh.SatParameters()
    params.max_time_in_seconds = max(0.05, problem.time_limit_s)
    params.num_workers = max(1, problem.workers)
    params.cp_model_presolve = len(cols) < 20000  # presolve costs more than it saves at scale
    wrapper = cmh.SolveWrapper()
    wrapper.set_parameters(params)
    response = wrapper.solve(proto)
    status = response.status.name
    t2 = time.perf_counter()
    # -- extraction -----------------------------------------------------------------------------
    decisions, ledger = best[1], best[2]
    if response.status in (cmh.CpSolverStatus.OPTIMAL, cmh.CpSolverStatus.FEASIBLE):
        values = [0] * len(agg.ub)
        for k, val in enumerate(response.solution):
            values[cols[k]] = val
        ledger_cp = inst.ledger()
        cp_decisions = place_counts(inst, agg, values, ledger_cp)
        if _score(problem, cp_decisions) >= best_score - 1e-6:
            decisions, ledger = cp_decisions, ledger_cp
        else:
            status = f"{status} (warm start {best[0]} kept)"
    else:
        status = f"{status} (warm start {best[0]} kept)"
    return done(decisions, ledger, status, t2 - t1, t1)
