"""The least energy cost any start times could reach: an LP bound for deferrable work.

Deferrable jobs are given with the pool each runs on; each runs whole from one start hour in its
window. Work with no slack is given as the cards it holds in each pool and hour. Every arrival and
the actual tariff are known. The LP relaxation of choosing each job's start hour is a lower bound
on the energy cost of every such schedule, so run-now's cost less this bound is the most that
choosing start times could save on those placements. Power caps, bandwidth and the way jobs pack
onto nodes are left out, which only lowers the bound.

Notation
    j ∈ J           deferrable jobs: pool p_j, cards n_j, facility kW w_j, run length d_j hours
    s ∈ S_j         whole start hours from the hour its window opens to the last that ends by its
                    deadline (just the first when the window leaves no whole hour)
    h, p            hours 0..T−1 of the run, pools
    y[j,s] ∈ [0,1]  share of job j started at hour s
    o(j,s,h)        the part of hour h a run of j from s covers (0..1)
    F[p,h]          cards of pool p not held by work with no slack in hour h
    π[p,h]          ¥ per kWh in hour h at pool p's site

Constraints (one numbering with :mod:`suanwang.solvers`)
    (28) Σ_{s ∈ S_j} y[j,s] = 1                                   ∀ j
    (29) Σ_{j: p_j = p} Σ_s n_j · o(j,s,h) · y[j,s] ≤ F[p,h]        ∀ p, h

Objective
    min Σ_{j,s} w_j · (Σ_h o(j,s,h) · π[p_j,h]) · y[j,s]

A start between two whole hours costs and holds what the mix of the two does, exactly so for runs
of whole hours; so the bound also covers starts at any time, for those runs.

Solve: HiGHS (:func:`suanwang.highs.quiet_highs`); a status other than optimal gives no bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from suanwang.highs import quiet_highs

__all__ = ["Work", "cost_bound"]


@dataclass(frozen=True)
class Work:
    """A deferrable job as the bound sees it."""

    pool: int
    cards: int
    power_kw: float
    first_h: int  # earliest start hour
    last_h: int  # latest start hour (≥ first_h)
    hours: float  # run length


def cost_bound(work: Sequence[Work], free_cards: np.ndarray, cny_per_kwh: np.ndarray) -> float | None:
    """A lower bound in ¥ on the energy cost of ``work`` (pools × hours arrays for (29) and π);
    ``None`` when the LP has no optimum (no room for some job in its window, say)."""
    if not work:
        return 0.0
    P, T = free_cards.shape
    cum = np.concatenate([np.zeros((P, 1)), np.cumsum(cny_per_kwh, axis=1)], axis=1)

    # -- variables: one column a (job, start hour) ---------------------------------------------
    cost, rows, cols, vals, owner = [], [], [], [], []
    for j, w in enumerate(work):
        for s in range(w.first_h, max(w.first_h, w.last_h) + 1):
            k = len(cost)
            end = s + w.hours
            full, frac = int(math.floor(end)), end - math.floor(end)
            hours = range(s, min(T, math.ceil(end - 1e-9)))
            price = cum[w.pool, min(full, T)] - cum[w.pool, min(s, T)]
            if frac > 1e-9 and full < T:
                price += frac * cny_per_kwh[w.pool, full]
            cost.append(w.power_kw * price)
            for h in hours:
                rows.append(w.pool * T + h)
                cols.append(k)
                vals.append(w.cards * (min(end, h + 1) - h))
            owner.append(j)

    # -- constraints: (28) one start each (= 1), (29) cards per pool and hour (≤ F) ------------------
    n = len(cost)
    a = sparse.vstack(
        [
            sparse.coo_matrix((np.ones(n), (owner, np.arange(n))), shape=(len(work), n)),
            sparse.coo_matrix((vals, (rows, cols)), shape=(P * T, n)),
        ]
    ).tocsc()
    lower = np.concatenate([np.ones(len(work)), np.full(P * T, -highspy.kHighsInf)])
    upper = np.concatenate([np.ones(len(work)), np.maximum(0.0, free_cards).ravel()])

    # -- objective, solve ------------------------------------------------------------------------
    h = quiet_highs()
    h.addRows(len(lower), lower, upper, 0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
    h.addCols(n, np.asarray(cost), np.zeros(n), np.ones(n), a.nnz, a.indptr[:-1].astype(np.int32),
              a.indices.astype(np.int32), a.data)  # fmt: skip
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)
