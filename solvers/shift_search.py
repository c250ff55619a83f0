"""Searching the time-indexed model (:mod:`.shift`): the greedy and LP-guided fills over class
counts, column generation with its Lagrangian bound, and CP-SAT on the master's columns."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh
from ortools.sat.python import cp_model_helper as cmh
from scipy import sparse

from suanwang.solvers.shift_model import BIG, Model, SClass, entries


def _window_min(per_slot: np.ndarray, sc: SClass, T: int) -> np.ndarray:
    """K × T: the least of ``per_slot`` over the slots a start in each slot runs through."""
    win = per_slot.copy()
    for s in range(1, min(sc.d, T)):
        win[:, : T - s] = np.minimum(win[:, : T - s], per_slot[:, s:])
    win[:, 0] = per_slot[:, : int(sc.width[0])].min(axis=1)  # slot 0 is what is left of the current slot
    return win


def capacity(m: Model, sc: SClass, res: np.ndarray) -> np.ndarray:
    """K × T: how many more jobs of the class could start in each slot (0 where not allowed)."""
    T = m.T
    if sc.g.size == 0:
        return np.zeros((0, T), dtype=np.int64)
    res2 = res.reshape(-1, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.where(sc.cf[:, :, None] > 0, np.floor(res2[sc.blk] / sc.cf[:, :, None] + 1e-9), np.inf)
    per_slot = fit.min(axis=1)
    win = _window_min(per_slot, sc, T)
    return np.where(np.isfinite(sc.g), np.clip(win, 0, 2**40), 0).astype(np.int64)


def _density(m: Model):
    cat = m.inst.problem.topology.accelerators

    def key(sc: SClass):
        best = max((cat[c.model].pflops for c in sc.jc.candidates), default=0.0)
        # work that can start in one slot only first, then by value density and the least slack
        return (sc.deferrable, -sc.jc.priority * best, sc.latest_h if sc.latest_h is not None else math.inf, sc.index)

    return key


def _take(m: Model, sc: SClass, k: int, t: int, n: int, res: np.ndarray, out: dict) -> None:
    rows, coefs = entries(m, sc, k, t)
    np.subtract.at(res, rows, coefs * n)
    out[(sc.index, k, t)] = out.get((sc.index, k, t), 0) + n


def _fill(m: Model, sc: SClass, left: int, res: np.ndarray, out: dict) -> None:
    """Start up to ``left`` more jobs of the class, each time at its best-scoring feasible column."""
    while left > 0 and sc.g.size:
        cap = capacity(m, sc, res)
        score = np.where(cap > 0, sc.g, -np.inf)
        flat = int(np.argmax(score))
        if not np.isfinite(score.flat[flat]) or score.flat[flat] <= 0:
            return
        k, t = divmod(flat, m.T)
        n = int(min(left, cap[k, t]))
        _take(m, sc, k, t, n, res, out)
        left -= n


def greedy(m: Model, classes: list[SClass], rhs: np.ndarray) -> dict[tuple[int, int, int], int]:
    """Class counts: classes by value density, each start to its best-scoring feasible column."""
    res, out = rhs.copy(), {}
    for sc in sorted(classes, key=_density(m)):
        _fill(m, sc, len(sc.jobs), res, out)
    return out


def guided(m: Model, classes: list[SClass], rhs: np.ndarray, cols, x: np.ndarray) -> dict:
    """Class counts guided by the LP: classes by value density, each first on the columns the LP
    solution uses (most used first, as many as fit), then on its best-scoring feasible ones."""
    res, out = rhs.copy(), {}
    lp: dict[int, list[tuple[float, int, int]]] = {}
    for (ci, k, t), v in zip(cols, x, strict=False):  # columns added after the last LP have no value
        if v > 1e-6:
            lp.setdefault(ci, []).append((float(v), k, t))
    for sc in sorted(classes, key=_density(m)):
        left = len(sc.jobs)
        for _, k, t in sorted(lp.get(sc.index, []), reverse=True):
            if left <= 0:
                break
            rows, coefs = entries(m, sc, k, t)
            n = int(min(left, np.floor(res[rows] / coefs + 1e-9).min()))
            if n > 0:
                _take(m, sc, k, t, n, res, out)
                left -= n
        _fill(m, sc, left, res, out)
    return out


@dataclass
class Master:
    cols: list[tuple[int, int, int]] = field(default_factory=list)
    seen: set = field(default_factory=set)

    def add(self, col: tuple[int, int, int]) -> bool:
        if col in self.seen:
            return False
        self.seen.add(col)
        self.cols.append(col)
        return True


def matrix(m: Model, classes: list[SClass], cols: list[tuple[int, int, int]]):
    nrows = len(m.rhs) * m.T
    r, c, v = [], [], []
    for j, (ci, k, t) in enumerate(cols):
        rows, coefs = entries(m, classes[ci], k, t)
        r.append(rows)
        c.append(np.full(len(rows), j))
        v.append(coefs)
        r.append(np.array([nrows + ci]))  # (5) the class row
        c.append(np.array([j]))
        v.append(np.array([1.0]))
    return sparse.csr_matrix(
        (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(nrows + len(classes), len(cols))
    )


def master_lp(m: Model, classes: list[SClass], cols, rhs: np.ndarray):
    """The restricted master: (objective, x, duals on rows (9)–(12), duals on (5))."""
    a = matrix(m, classes, cols)
    obj = np.array([classes[ci].g[k, t] for ci, k, t in cols])
    right = np.concatenate([rhs, [float(len(sc.jobs)) for sc in classes]])
    model = mbh.ModelBuilderHelper()
    ub = np.array([float(len(classes[ci].jobs)) for ci, _, _ in cols])
    model.fill_model_from_sparse_data(np.zeros(len(cols)), ub, obj, np.full(a.shape[0], -np.inf), right, a)
    model.set_maximize(True)
    solver = mbh.ModelSolverHelper("glop")
    solver.set_solver_specific_parameters("use_dual_simplex: true")  # faster on these masters
    solver.solve(model)
    if solver.status() != mbh.SolveStatus.OPTIMAL:
        return None
    duals = np.abs(np.asarray(solver.dual_values()))  # ≤ rows of a maximisation: π ≥ 0
    n = len(rhs)
    return float(solver.objective_value()), np.asarray(solver.variable_values()), duals[:n], duals[n:]


def reduced(m: Model, sc: SClass, pi: np.ndarray) -> np.ndarray:
    """K × T: g − π·A for every column of the class (prefix sums of π over the slots)."""
    T = m.T
    if sc.g.size == 0:
        return sc.g
    per_slot = (pi.reshape(-1, T)[sc.blk] * sc.cf[:, :, None]).sum(axis=1)
    cum = np.concatenate([np.zeros((per_slot.shape[0], 1)), np.cumsum(per_slot, axis=1)], axis=1)
    ends = np.minimum(np.arange(T) + sc.width, T)
    return sc.g - (cum[:, ends] - cum[:, :T])


def generate(m: Model, classes: list[SClass], rhs: np.ndarray, hint, deadline: float):
    """Column generation until ``deadline`` (a ``perf_counter`` time; the first round always
    runs, a later one only if a round as long as the last still ends before it): (best bound U(π),
    last master's columns, its LP solution)."""
    master = Master()
    for col in hint:
        master.add(col)
    for sc in classes:
        flat = np.argsort(sc.g, axis=None)[::-1][:3]
        for f in flat:
            k, t = divmod(int(f), m.T)
            if np.isfinite(sc.g[k, t]) and sc.g[k, t] > 0:
                master.add((sc.index, k, t))
    bound, x = math.inf, None
    finite_rhs = np.where(rhs >= BIG, 0.0, rhs)
    last = 0.0
    for _ in range(30):
        if not master.cols:
            return 0.0, [], np.zeros(0)
        started = time.perf_counter()
        if x is not None and started + last > deadline:
            break
        res = master_lp(m, classes, master.cols, rhs)
        if res is None:
            break
        _, x, pi, _ = res
        pi = np.where(rhs >= BIG, 0.0, pi)
        u = float(pi @ finite_rhs)
        added = 0
        for sc in classes:
            rc = reduced(m, sc, pi)
            best = float(np.max(rc)) if rc.size else -np.inf
            u += len(sc.jobs) * max(0.0, best)
            if best > 1e-6:
                for f in np.argsort(rc, axis=None)[::-1][:4]:
                    k, t = divmod(int(f), m.T)
                    if rc[k, t] > 1e-6 and master.add((sc.index, k, t)):
                        added += 1
        bound = min(bound, u)
        last = time.perf_counter() - started
        if added == 0:
            break
    return bound, master.cols, x


def cpsat(m: Model, classes, cols, rhs, hint: dict, time_limit_s: float, workers: int):
    proto = cmh.CpModelProto()
    for ci, _, _ in cols:
        proto.variables.add().domain.extend([0, len(classes[ci].jobs)])
    a = matrix(m, classes, cols).tocsr()
    right = np.concatenate([rhs, [float(len(sc.jobs)) for sc in classes]])
    for i in range(a.shape[0]):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        if lo == hi or right[i] >= BIG:
            continue
        lin = proto.constraints.add().linear  # rows are whole numbers already (cards, W, Mbit/s)
        lin.vars.extend(a.indices[lo:hi].tolist())
        lin.coeffs.extend([round(c) for c in a.data[lo:hi]])
        lin.domain.extend([-(2**62), math.floor(right[i] + 1e-9)])
    proto.objective.vars.extend(range(len(cols)))
    proto.objective.coeffs.extend([-round(classes[ci].g[k, t] * 100) for ci, k, t in cols])
    pos = {c: j for j, c in enumerate(cols)}
    for col, n in hint.items():
        proto.solution_hint.vars.append(pos[col])
        proto.solution_hint.values.append(n)
    params = cmh.SatParameters()
    params.max_time_in_seconds = max(0.05, time_limit_s)
    params.num_workers = max(1, workers)
    params.cp_model_presolve = len(cols) < 20000
    wrapper = cmh.SolveWrapper()
    wrapper.set_parameters(params)
    response = wrapper.solve(proto)
    if response.status not in (cmh.CpSolverStatus.OPTIMAL, cmh.CpSolverStatus.FEASIBLE):
        return None, response.status.name
    return {cols[j]: int(v) for j, v in enumerate(response.solution) if v > 0}, response.status.name


def total(classes, counts: dict) -> float:
    return sum(classes[ci].g[k, t] * n for (ci, k, t), n in counts.items())
