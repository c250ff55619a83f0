"""Upper bound on placed priority-weighted compute: the LP relaxation of the aggregate model.

Same rows as :mod:`solvers.aggregate` with ``x[c,p]`` continuous in ``[0, ub]``, objective
``max Σ v[c,p] · x[c,p]``, solved with GLOP (OR-Tools' LP solver) from a sparse matrix in one
call. Every feasible plan's objective is at most this value; the fractional solution also seeds
the CP-SAT warm start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh
from scipy import sparse

from suanwang.errors import PermanentError
from suanwang.solvers.aggregate import Aggregate

# The score LP of a large model (more columns than ROUND_ABOVE) is solved with its objective rounded
# up to ¥50: GLOP's simplex crawls among the near-ties of pools whose costs differ by a few yuan
# (100k jobs × 200 sites: 12 s exact, 3–4 s rounded; bench/placement.py), and rounding up keeps the
# optimum an upper bound on every plan's score. Small models keep the exact objective.
SCORE_STEP_CNY = 50.0
ROUND_ABOVE = 50_000


@dataclass(frozen=True)
class LpResult:
    """The LP relaxation's optimum (an upper bound on every plan's objective), solution and time."""

    bound: float
    x: np.ndarray
    seconds: float


def solve_lp(agg: Aggregate, *, objective: str = "value") -> LpResult:
    """Solve the relaxation maximising ``value`` (the bound) or ``score`` (the weighted objective)."""
    t0 = time.perf_counter()
    n = len(agg.ub)
    if n == 0:
        return LpResult(0.0, np.zeros(0), 0.0)
    # -- variables, constraints, objective in one sparse fill ------------------------------------
    a = matrix(agg)
    model = mbh.ModelBuilderHelper()
    if objective == "value":
        obj = np.asarray(agg.value, dtype=float)
    else:
        obj = np.asarray(agg.score, dtype=float)
        if n > ROUND_ABOVE:  # rounded up: the optimum stays an upper bound on every plan's score
            obj = np.ceil(obj / SCORE_STEP_CNY) * SCORE_STEP_CNY
    upper = np.asarray(agg.ub, dtype=float)
    right = np.asarray(agg.rhs, dtype=float)
    model.fill_model_from_sparse_data(np.zeros(n), upper, obj, np.full(len(agg.rows), -np.inf), right, a)
    model.set_maximize(True)
    # -- solve ----------------------------------------------------------------------------------
    solver = mbh.ModelSolverHelper("glop")
    if not solver.solver_is_supported():
        raise PermanentError("the GLOP LP solver is not in this OR-Tools build; reinstall ortools")
    solver.solve(model)
    if solver.status() != mbh.SolveStatus.OPTIMAL:
        raise PermanentError(f"the LP relaxation ended with status {solver.status()}; report this instance")
    # -- extraction -----------------------------------------------------------------------------
    result = LpResult(float(solver.objective_value()), np.asarray(solver.variable_values()), time.perf_counter() - t0)
    del solver, model
    release_free_memory()
    return result


def release_free_memory() -> None:
    """Hand the memory GLOP freed back to the system (glibc keeps a thread's freed memory for
    that thread otherwise: ≈ 290 MB after the LP of 100,000 jobs × 200 sites)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _libc()


_LP_THREAD: tuple[int, ThreadPoolExecutor] | None = None


def _lp_thread() -> ThreadPoolExecutor:
    """This process's LP thread (a process forked from one that used it starts its own: the
    parent's thread does not exist in the child)."""
    global _LP_THREAD
    if _LP_THREAD is None or _LP_THREAD[0] != os.getpid():
        _LP_THREAD = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="lp"))
    return _LP_THREAD[1]


def solve_lp_soon(agg: Aggregate, *, objective: str = "value") -> Future[LpResult]:
    """:func:`solve_lp` on the LP thread: GLOP releases the interpreter lock, so the LP runs on the
    second core while the caller goes on (the matrix is built here, before it starts). LPs queue
    on the one thread in the order they are asked for: two at once would hold two copies of
    GLOP's working memory (≈ 250 MB each at 100,000 jobs × 200 sites)."""
    matrix(agg)
    return _lp_thread().submit(solve_lp, agg, objective=objective)


def solve_lp_later(make: Callable[[], Aggregate], *, objective: str = "value") -> Future[LpResult]:
    """:func:`solve_lp` of the model ``make()`` builds, built on the LP thread when the LPs queued
    before it are done (their working memory freed first)."""
    return _lp_thread().submit(lambda: solve_lp(make(), objective=objective))


def matrix(agg: Aggregate) -> sparse.csr_matrix:
    """The constraint matrix, built once per aggregate model."""
    if agg.matrix is None:
        agg.matrix = sparse.csr_matrix((agg.coo_vals, (agg.coo_rows, agg.coo_cols)), shape=(len(agg.rows), len(agg.ub)))
    return agg.matrix
