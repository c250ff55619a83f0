"""Searching the time-indexed model (:mod:`.shift`): the greedy and LP-guided fills over class
counts, column generation with its Lagrangian bound, and CP-SAT on the master's columns."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import highspy
import numpy as np
from ortools.sat.python import cp_model_helper as cmh
from scipy import sparse

from suanwang.highs import quiet_highs
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


def matrix(m: Model, classes: list[SClass], cols: list[tuple[int, int, int]]):
    """The columns' rows (9)–(12) in every slot they run through, and their class rows (5)."""
    T, n = m.T, len(cols)
    nrows = len(m.rhs) * T
    if n == 0:
        return sparse.csr_matrix((nrows + len(classes), 0))
    wide = max(classes[ci].blk.shape[1] for ci, _, _ in cols)
    blk = np.zeros((n, wide), dtype=np.int64)
    cf = np.zeros((n, wide))
    ci_of, t_of, width = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for j, (ci, k, t) in enumerate(cols):
        sc = classes[ci]
        w = sc.blk.shape[1]
        blk[j, :w], cf[j, :w] = sc.blk[k], sc.cf[k]
        ci_of[j], t_of[j], width[j] = ci, t, sc.width[t]
    width = np.minimum(width, T - t_of)  # cut at the horizon
    r, c, v = [nrows + ci_of], [np.arange(n)], [np.ones(n)]  # (5) the class rows
    for w in np.unique(width):  # columns that run through as many slots, at once
        js = np.flatnonzero(width == w)
        rows = blk[js, :, None] * T + (t_of[js, None] + np.arange(w))[:, None, :]  # column × block × slot
        live = np.broadcast_to((cf[js] > 0)[:, :, None], rows.shape)
        r.append(rows[live])
        c.append(np.broadcast_to(js[:, None, None], rows.shape)[live])
        v.append(np.broadcast_to(cf[js][:, :, None], rows.shape)[live])
    return sparse.csr_matrix(
        (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(nrows + len(classes), n)
    )


class Master:
    """The restricted master in HiGHS, kept between rounds: new columns join it and each solve
    starts from the last basis (dual simplex; presolve off, which costs these masters more than
    it saves)."""

    def __init__(self, m: Model, classes: list[SClass], rhs: np.ndarray) -> None:
        self.m, self.classes, self.n = m, classes, len(rhs)
        self.cols: list[tuple[int, int, int]] = []
        self.seen: set = set()
        self.pending: list[tuple[int, int, int]] = []
        self.nnz = 0
        right = np.concatenate([np.where(rhs >= BIG, highspy.kHighsInf, rhs), [float(len(sc.jobs)) for sc in classes]])
        h = quiet_highs()
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 1)  # dual simplex
        none = np.zeros(0, dtype=np.int32)
        h.addRows(len(right), np.full(len(right), -highspy.kHighsInf), right, 0, none, none, np.zeros(0))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.h = h

    def add(self, col: tuple[int, int, int]) -> bool:
        if col in self.seen:
            return False
        self.seen.add(col)
        self.cols.append(col)
        self.pending.append(col)
        return True

    def solve(self, seconds: float = math.inf):
        """(objective, x over ``cols``, duals on rows (9)–(12)) when HiGHS finds the optimum within
        ``seconds``; (None, None, duals) when time runs out first (any duals π ≥ 0 give a bound);
        None otherwise."""
        entered = time.perf_counter()
        if self.pending:
            cols, classes = self.pending, self.classes
            a = matrix(self.m, classes, cols).tocsc()
            obj = np.array([classes[ci].g[k, t] for ci, k, t in cols])
            ub = np.array([float(len(classes[ci].jobs)) for ci, _, _ in cols])
            self.h.addCols(len(cols), obj, np.zeros(len(cols)), ub, a.nnz, a.indptr[:-1].astype(np.int32),
                           a.indices.astype(np.int32), a.data)  # fmt: skip
            self.pending = []
            self.nnz += a.nnz
        # HiGHS's time limit counts its run time over every solve of this model; adding columns took some
        left = seconds - (time.perf_counter() - entered)
        limit = self.h.getRunTime() + max(0.01, left) if math.isfinite(seconds) else highspy.kHighsInf
        self.h.setOptionValue("time_limit", limit)
        self.h.run()
        status = self.h.getModelStatus()
        if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
            return None
        sol = self.h.getSolution()
        duals = np.abs(np.asarray(sol.row_dual)[: self.n])  # ≤ rows of a maximisation: π ≥ 0
        if status != highspy.HighsModelStatus.kOptimal:
            return (None, None, duals) if len(duals) == self.n and np.isfinite(duals).all() else None
        return float(self.h.getInfo().objective_function_value), np.asarray(sol.col_value), duals


def reduced(m: Model, sc: SClass, pi: np.ndarray, sums: dict | None = None) -> np.ndarray:
    """K × T: g − π·A for every column of the class (prefix sums of π over the slots; ``sums``
    keeps them per placement class, whose shift classes share their row blocks)."""
    T = m.T
    if sc.g.size == 0:
        return sc.g
    cum = None if sums is None else sums.get(sc.jc.index)
    if cum is None:
        per_slot = (pi.reshape(-1, T)[sc.blk] * sc.cf[:, :, None]).sum(axis=1)
        cum = np.concatenate([np.zeros((per_slot.shape[0], 1)), np.cumsum(per_slot, axis=1)], axis=1)
        if sums is not None:
            sums[sc.jc.index] = cum
    ends = np.minimum(np.arange(T) + sc.width, T)
    return sc.g - (cum[:, ends] - cum[:, :T])


def price(m: Model, classes: list[SClass], pi: np.ndarray, finite_rhs: np.ndarray):
    """U(π), an upper bound on every plan for any π ≥ 0 (rows with no limit at 0), and each
    class's two columns of largest positive reduced cost (two: smaller masters, faster rounds)."""
    u = float(pi @ finite_rhs)
    cols = []
    sums: dict[int, np.ndarray] = {}
    for sc in classes:
        rc = reduced(m, sc, pi, sums)
        if rc.size == 0:
            continue
        top = np.argpartition(rc, -2, axis=None)[-2:] if rc.size > 2 else np.arange(rc.size)
        best = float(rc.flat[top].max())
        u += len(sc.jobs) * max(0.0, best)
        for f in sorted(top.tolist(), key=lambda f: -rc.flat[f]):
            k, t = divmod(int(f), m.T)
            if rc[k, t] > 1e-6:
                cols.append((sc.index, k, t))
    return u, cols


class Generated(NamedTuple):
    bound: float | None
    cols: list[tuple[int, int, int]]
    x: np.ndarray
    hint: dict
    nnz: int


def generate(m: Model, classes: list[SClass], rhs: np.ndarray, deadline: float, during):
    """Column generation until ``deadline`` (a ``perf_counter`` time; the first round always
    runs, a later one only if it is still expected to end before it, at a quarter longer than the
    last; its master stops in time to be priced, and the duals of a master cut short still give a
    bound, as any π ≥ 0 does). ``during()`` runs while the first master solves (HiGHS lets go of
    the interpreter meanwhile) and returns class counts, whose columns join the master before it
    is solved again and priced (duals without them price poorly).
    Returns the best bound U(π), the last master's columns and its LP solution, what ``during``
    returned, and the master's non-zeros."""
    master = Master(m, classes, rhs)
    for sc in classes:
        flat = np.argsort(sc.g, axis=None)[::-1][:3]
        for f in flat:
            k, t = divmod(int(f), m.T)
            if np.isfinite(sc.g[k, t]) and sc.g[k, t] > 0:
                master.add((sc.index, k, t))
    if not master.cols:
        return Generated(0.0, [], np.zeros(0), during(), 0)
    bound, x, hint = math.inf, None, None
    finite_rhs = np.where(rhs >= BIG, 0.0, rhs)
    solved = priced_s = 0.0  # how long the last master and the last pricing took
    for _ in range(30):
        started = time.perf_counter()
        if x is not None and started + 1.25 * (solved + priced_s) > deadline:
            break
        if hint is None:
            with ThreadPoolExecutor(1) as pool:
                first = pool.submit(master.solve)  # the first round runs whole, whatever the limit
                hint = during()
                res = first.result()
            if res is not None and any([master.add(col) for col in hint]):
                res = master.solve()  # priced with the warm start's columns in
        else:  # the master stops in time for its duals to be priced
            res = master.solve(deadline - started - priced_s)
        if res is None:
            break
        _, xr, pi = res
        x = xr if xr is not None else x  # a master cut short by the time limit still gives a bound
        at = time.perf_counter()
        u, priced = price(m, classes, np.where(rhs >= BIG, 0.0, pi), finite_rhs)
        added = sum(master.add(col) for col in priced)
        bound = min(bound, u)
        solved, priced_s = at - started, time.perf_counter() - at
        if added == 0 or xr is None:
            break
    x = x if x is not None else np.zeros(0)
    return Generated(bound if math.isfinite(bound) else None, master.cols, x, hint, master.nnz)


def cpsat(m: Model, classes, cols, rhs, hint: dict, time_limit_s: float, workers: int):
    proto = cmh.CpModelProto()
    for ci, _, _ in cols:
        proto.variables.add().domain.extend([0, len(classes[ci].jobs)])
    a = matrix(m, classes, cols).tocsr()
    right = np.concatenate([rhs, [float(len(sc.jobs)) for sc in classes]])
    coeffs = np.rint(a.data).astype(np.int64)  # rows are whole numbers already (cards, W, Mbit/s)
    for i in range(a.shape[0]):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        if lo == hi or right[i] >= BIG:
            continue
        lin = proto.constraints.add().linear
        lin.vars.extend(a.indices[lo:hi].tolist())
        lin.coeffs.extend(coeffs[lo:hi].tolist())
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
