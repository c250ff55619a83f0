"""CP-SAT placement over job classes (model and constraint numbering in :mod:`solvers.aggregate`).

Warm start: the LP relaxation rounded down and completed by each baseline policy, and the three
baselines alone; the best of these by score is the hint, and if CP-SAT finds nothing better
within its time limit that solution is kept — CP-SAT is never below the best baseline.

Integer scaling: scores in ¥0.1, power in W (coefficients rounded up, capacities down, so every
CP-SAT solution is feasible in real numbers), bandwidth in Mbit/s. The model is written straight
into the CP-SAT proto, which keeps model building linear in the number of candidates.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.sat.python import cp_model

from solvers.aggregate import Aggregate, aggregate
from solvers.assemble import Decision, assemble, place
from solvers.baselines import POLICIES, class_order
from solvers.instance import Instance, build_instance
from solvers.ledger import Ledger
from solvers.lp_bound import solve_lp
from solvers.problem import Plan, Problem

_SCALE = {"class": 1, "nodes": 1, "power": 1000, "bandwidth": 1000}
_NEG_INF = -(2**62)


def _score(problem: Problem, decisions: list[Decision]) -> float:
    w = problem.weights.value_per_pflops
    return sum(w * c.value - c.cost_cny for _, _, c, _ in decisions)


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
    for jc in class_order(instance):
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


def warm_starts(instance: Instance, agg: Aggregate, lp_x: np.ndarray):
    """Yield (name, decisions, ledger) for each baseline and each LP-rounded completion."""
    floor = np.floor(lp_x + 1e-6).astype(int) if len(lp_x) else np.zeros(0, dtype=int)
    for name, run in POLICIES.items():
        ledger = instance.ledger()
        yield name, run(instance, ledger), ledger
        ledger = instance.ledger()
        first = place_counts(instance, agg, floor, ledger)
        done = {d[0] for d in first}
        yield f"lp+{name}", first + run(instance, ledger, skip=done), ledger


def solve_cpsat(problem: Problem, instance: Instance | None = None) -> Plan:
    t0 = time.perf_counter()
    inst = instance or build_instance(problem)
    agg = aggregate(inst)
    lp = solve_lp(agg, objective="score")
    best = max(warm_starts(inst, agg, lp.x), key=lambda t: _score(problem, t[1]))
    best_score = _score(problem, best[1])
    hint = _counts(agg, inst, best[1])

    model = cp_model.CpModel()
    proto = model.proto
    # -- variables: x[c,p] = number of class-c jobs on pool p -----------------------------------
    for ub in agg.ub:
        proto.variables.add().domain.extend([0, max(0, int(ub))])
    # -- constraints (2)–(5) --------------------------------------------------------------------
    for row in agg.rows:
        f = _SCALE[row.kind]
        lin = proto.constraints.add().linear
        lin.vars.extend(row.vars)
        lin.coeffs.extend([math.ceil(c * f - 1e-9) for c in row.coeffs])
        lin.domain.extend([_NEG_INF, math.floor(row.rhs * f + 1e-9)])
    # -- objective: maximise Σ score · x (the proto minimises, so negate) ----------------------
    proto.objective.vars.extend(range(len(agg.ub)))
    proto.objective.coeffs.extend([-round(s * 10) for s in agg.score])
    nz = [v for v, h in enumerate(hint) if h]
    proto.solution_hint.vars.extend(nz)
    proto.solution_hint.values.extend([hint[v] for v in nz])
    t1 = time.perf_counter()
    # -- solve ----------------------------------------------------------------------------------
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, problem.time_limit_s)
    solver.parameters.num_workers = max(1, problem.workers)
    solver.parameters.cp_model_presolve = len(agg.ub) < 5000  # presolve costs more than it saves at scale
    code = solver.solve(model)
    status = solver.status_name(code)
    t2 = time.perf_counter()
    # -- extraction -----------------------------------------------------------------------------
    decisions, ledger = best[1], best[2]
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = list(solver.response_proto.solution)
        ledger_cp = inst.ledger()
        cp_decisions = place_counts(inst, agg, values, ledger_cp)
        if _score(problem, cp_decisions) >= best_score - 1e-6:
            decisions, ledger = cp_decisions, ledger_cp
        else:
            status = f"{status} (warm start {best[0]} kept)"
    else:
        status = f"{status} (warm start {best[0]} kept)"
    return assemble(
        inst, ledger, decisions, solver="cpsat", status=status, bound=None, solve_seconds=t2 - t1, build_seconds=t1 - t0
    )
