"""Start-time decisions: the aggregate placement model indexed by start slot, in CP-SAT.

Notation (besides that of :mod:`.aggregate`; slots as in :mod:`.slots`)
    t, τ ∈ 0..T−1   slots of Δ hours over the horizon
    c ∈ C           shift classes: jobs of one placement class with the same duration in slots
                    d_c = ⌈dur_c / Δ⌉, the same earliest slot e_c and the same deadline bucket
    k ∈ K_c         the class's candidate pools p(k) (constraints (1)–(4) of :mod:`suanwang.solvers`)
    y[c,k,t] ∈ ℤ≥0  jobs of class c that start on pool p(k) in slot t
    S[c,k]          start slots: deferrable classes (a window with at least one slot of slack)
                    any e_c ≤ t ≤ l_{c,k}, the last slot from which transfer and run end by the
                    deadline; the others only their first slot e_c (as soon as the window opens)
    act(c,t)        slots τ with t ≤ τ < t + d_c (cut at the horizon)
    g[c,k,t]        W · v[c,k] − kW_{c,k} · ∫ rate over the run from slot t − transfer − δ · t
                    (rate: forecast price + carbon × its price; δ = ¥0.01 per slot of waiting)
    H_s, R_l, B[p,a]  power, bandwidth and block capacity free now (kept for the whole horizon)
    L ∈ 𝓛           grid events: sites S_L, window W_L ⊆ slots, cap_L; D_L their draw now

Constraints (one numbering with :mod:`suanwang.solvers`)
    (5)  Σ_{k,t} y[c,k,t] ≤ n_c                                           ∀ c
    (9)  Σ_{c,k: p(k)=p, a_c ≥ a} d_c^blk · Σ_{t: τ ∈ act(c,t)} y ≤ B[p,a]   ∀ p, a, τ   ((6) per slot)
    (10) Σ_{c,k: s(k)=s} w_{c,k} · Σ_{t: τ ∈ act(c,t)} y ≤ H_s              ∀ s, τ      ((8) per slot)
    (11) Σ_{c,k: l ∈ path(c,k)} b_c · Σ_{t: τ ∈ act(c,t)} y ≤ R_l            ∀ l, τ      ((7) per slot)
    (12) Σ_{c,k: s(k) ∈ S_L} w_{c,k} · Σ_{t: τ ∈ act(c,t)} y ≤ cap_L − D_L    ∀ L, τ ∈ W_L
    (9') with ``Shift.exact_nodes = False``, (9) becomes the rows every node-level plan meets
         (nodes with at least k free cards, and free cards; as (6') of :mod:`.aggregate`): a
         relaxation, for references such as the simulator's perfect-foresight oracle
    Capacity, power and bandwidth per slot are what is free now plus what running work gives
    back by the slot's start (``State.releases``, where the caller knows when work ends).

Objective
    max Σ g[c,k,t] · y[c,k,t]
    With the default W, placing compute comes first; among plans that place the same jobs the
    cheapest start (energy, carbon, transfer) wins, and among equal costs the earliest.

Bound (column generation on the LP relaxation)
    The restricted master holds the warm start's columns and, per class, its best-scoring ones;
    GLOP solves it and, from its duals π ≥ 0 on rows (9)–(12),
        U(π) = Σ_i π_i · rhs_i + Σ_c n_c · max(0, max_{k,t} (g[c,k,t] − π · A[c,k,t]))
    is an upper bound on every plan (Lagrangian relaxation of (9)–(12), (5) kept), computed for
    all columns at once with prefix sums of π over the slots. Columns with positive reduced cost
    join the master and the round repeats until none is left or the time share is spent; the
    smallest U is the reported bound (equal to the LP optimum when the generation converges).

Solve: a greedy over class counts (classes by value density, each to its best-scoring feasible
start) is the warm start; CP-SAT works on the master's columns with it as hint and keeps it if it
finds nothing better. Extraction: starts in slot 0 get their nodes now (best fit through the
ledger, as in :mod:`.cpsat`); later starts are scheduled at a site and time, and re-planned each
cycle. Rows are kept in whole units for every stage (cards; power in W and bandwidth in Mbit/s,
coefficients rounded up and capacities down, so every plan is feasible in real numbers); scores
in ¥0.01 for CP-SAT (δ must count).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh
from ortools.sat.python import cp_model_helper as cmh
from scipy import sparse

from suanwang.solvers.assemble import assemble, place
from suanwang.solvers.instance import Instance, JobClass, build_instance, job_route, transfer_hours
from suanwang.solvers.ledger import bit_counts, block_capacity, ceil_pow2_level
from suanwang.solvers.problem import Job, Placement, Plan, Problem, Unplaced
from suanwang.solvers.shift_notes import deferral_note
from suanwang.solvers.slots import Grid, build_grid, released_by

LEVELS = 7  # per-node demands up to 64 cards: block levels 0..6
WAIT_CNY_PER_SLOT = 0.01  # δ: equal costs start early
GRACE_SHARE = 0.1  # share of its value a job with no slack loses per slot it waits for room (Shift.grace_slots)
_BIG = 1e18


@dataclass
class SClass:
    """A shift class: jobs of one placement class with the same slots, window and deadline bucket."""

    index: int
    jc: JobClass
    jobs: list[int]
    d: int  # slots a run from an aligned slot touches: the longest member's run and data transfer
    dur_h: float  # mean duration
    e: int  # first start slot
    latest_h: float | None  # start + transfer must be ≤ this many hours after now (deadline − run)
    deferrable: bool
    width: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # slots touched, per start slot
    blk: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=int))  # K × M row blocks
    cf: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))  # K × M coefficients (0: padding)
    g: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # K × T scores, −inf where not allowed
    fam: list = field(default_factory=list)  # per candidate: (row blocks, coefficients)


class Model:
    """Rows as blocks of T consecutive slots: node (pool, level), power (site), link, grid event."""

    def __init__(self, inst: Instance, grid: Grid) -> None:
        self.inst, self.grid, self.T = inst, grid, grid.slots
        self.block: dict[tuple, int] = {}
        self.rhs: list[np.ndarray] = []
        self.kind: list[str] = []

    def add(self, key: tuple, rhs: np.ndarray, kind: str) -> int:
        if key not in self.block:
            self.block[key] = len(self.rhs)
            self.rhs.append(rhs)
            self.kind.append(kind)
        return self.block[key]

    def flat_rhs(self) -> np.ndarray:
        return np.concatenate(self.rhs) if self.rhs else np.zeros(0)


def deferrable(job: Job, at: datetime, slot_h: float) -> bool:
    """A job whose window leaves at least one slot of slack after ``at`` (never inference)."""
    if job.kind == "inference" or job.deadline is None:
        return False
    begin = max(at, job.earliest) if job.earliest is not None else at
    return (job.deadline - begin).total_seconds() / 3600.0 - job.duration_h >= slot_h - 1e-9


def _classes(inst: Instance, grid: Grid) -> list[SClass]:
    problem, now, dt = inst.problem, inst.problem.now, grid.slot_h
    groups: dict[tuple, list[int]] = {}
    for jc in inst.classes:
        for i in jc.jobs:
            job = problem.jobs[i]
            e_h = max(0.0, (job.earliest - now).total_seconds() / 3600.0) if job.earliest else 0.0
            e = int(np.searchsorted(grid.starts_h[:-1], e_h - 1e-9, side="left"))
            d = max(1, int(math.ceil(job.duration_h / dt - 1e-9)))
            latest = None
            if job.deadline is not None:
                latest = (job.deadline - now).total_seconds() / 3600.0 - job.duration_h
            is_def = e < grid.slots and deferrable(job, grid.slot_start(e), dt)
            bucket = None if latest is None else math.floor(latest / dt + 1e-9)
            groups.setdefault((jc.index, d, e, bucket, is_def, job.data), []).append(i)
    out = []
    for (ci, d, e, bucket, is_def, _), members in groups.items():
        jc = inst.classes[ci]
        dur = sum(problem.jobs[i].duration_h for i in members) / len(members)
        latest = None
        if bucket is not None:  # the bucket's earliest edge, and each member's own value: the tightest
            latest = min((problem.jobs[i].deadline - now).total_seconds() / 3600.0 - problem.jobs[i].duration_h
                         for i in members)  # fmt: skip
        out.append(SClass(len(out), jc, members, d, dur, e, latest, is_def))
    return out


def _build(inst: Instance, grid: Grid, classes: list[SClass]) -> Model:
    """Scores per class, candidate and slot, and the row blocks each candidate's columns touch
    (padded to one width per class with the free block 0 at coefficient 0)."""
    problem, T = inst.problem, grid.slots
    w = problem.weights
    m = Model(inst, grid)
    m.add(("free",), np.full(T, _BIG), "free")  # block 0: padding, never binding
    exact = problem.shift is None or problem.shift.exact_nodes
    grace = problem.shift.grace_slots if problem.shift is not None else 0
    levels_at: dict = {}
    for sc in classes:
        for cand in sc.jc.candidates:
            levels_at.setdefault(cand.pool, set()).add(sc.jc.level if exact else sc.jc.per_node)
    freed = _freed(inst, grid)
    for pool, lv in sorted(levels_at.items()):
        frees = _pool_free(inst, freed, pool)
        if exact:  # (9) block rows: exact for power-of-two demands
            per_slot = [block_capacity(bit_counts(free.values()), range(LEVELS)) for free in frees]
            for a in range(max(lv) + 1):
                m.add(("nodes", pool, a), np.array([float(c[a]) for c in per_slot]), "nodes")
        else:  # (9') rows every node-level plan meets: nodes with ≥ k free cards, and the cards
            for k in sorted(lv):
                m.add(
                    ("nodes", pool, k), np.array([float(sum(f // k for f in free.values())) for free in frees]), "nodes"
                )
            m.add(("cards", pool), np.array([float(sum(free.values())) for free in frees]), "nodes")
    limit_rows = _limits(inst, grid, m, freed)
    site_ids = list(inst.sites)
    site_pos = {sid: i for i, sid in enumerate(site_ids)}
    cum = np.vstack([grid.cum_rate[sid] for sid in site_ids])
    starts_h = grid.starts_h[:-1]
    slot_idx = np.arange(T)
    site_blocks: dict[str, list[tuple[int, float]]] = {}  # site -> power and grid-event blocks (coef 1 = kW)
    for sid in site_ids:
        back = np.array([sum(r.power_kw for r in rel if r.site == sid) for rel in freed])
        head = np.array([_down(inst.power_headroom_kw.get(sid, 0.0) + b) for b in back])
        site_blocks[sid] = [m.add(("power", sid), head, "power"), *limit_rows.get(sid, ())]
    for sc in classes:
        jc = sc.jc
        job = problem.jobs[sc.jobs[0]]
        K = len(jc.candidates)
        transfers = np.zeros(K)
        if job.data is not None and job.data.size_tb > 0:
            for k, cand in enumerate(jc.candidates):
                _, data = job_route(inst.graph, job, cand.site)
                transfers[k] = transfer_hours(job.data.size_tb, data.bottleneck_gbps) if data else 0.0
        longest = max(problem.jobs[i].duration_h for i in sc.jobs) + (float(transfers.max()) if K else 0.0)
        sc.d = max(1, int(math.ceil(longest / grid.slot_h - 1e-9)))
        sc.width = grid.widths(longest)
        if K == 0:
            sc.g, sc.blk, sc.cf = np.zeros((0, T)), np.zeros((0, 1), dtype=int), np.zeros((0, 1))
            continue
        # -- which start slots: the window, and the deadline after the data transfer (4) --------
        if sc.deferrable:
            last = np.full(K, T - 1)
            if sc.latest_h is not None:
                last = np.minimum(last, np.searchsorted(starts_h, sc.latest_h - transfers + 1e-9, side="right") - 1)
            allowed = (slot_idx[None, :] >= sc.e) & (slot_idx[None, :] <= last[:, None])
        else:
            allowed = np.broadcast_to((slot_idx >= sc.e) & (slot_idx <= sc.e + grace), (K, T)).copy()
            if sc.latest_h is not None:
                allowed &= starts_h[None, :] + transfers[:, None] <= sc.latest_h + 1e-9
        # -- score: value less the run's cost at the outlook's rates, data moved, waiting -----------
        rows = np.array([site_pos[c.site] for c in jc.candidates])
        kw = np.array([c.power_kw for c in jc.candidates])
        x0 = starts_h[None, :] + transfers[:, None] + grid.hour0
        run = kw[:, None] * (_interp(cum, rows, x0 + sc.dur_h) - _interp(cum, rows, x0))
        move = np.zeros(K)
        if job.data is not None and job.data.size_tb > 0:
            loc = job.data.location
            move = np.array([0.0 if loc in (c.site, inst.sites[c.site].city) else 1.0 for c in jc.candidates])
            move *= job.data.size_tb * w.transfer_cny_per_tb
        value = np.array([c.value for c in jc.candidates]) * w.value_per_pflops
        score = value[:, None] - run - move[:, None] - WAIT_CNY_PER_SLOT * slot_idx[None, :]
        if not sc.deferrable and grace:  # waiting for room, never for a price: a tenth of the value a slot
            score -= GRACE_SHARE * value[:, None] * np.maximum(0, slot_idx - sc.e)[None, :]
        sc.g = np.where(allowed, score, -np.inf)
        # -- rows each candidate's columns touch: (9) node levels, (10) power, (12) events, (11) links
        fams = []
        level = jc.level
        for cand in jc.candidates:
            if exact:
                blocks = [m.block[("nodes", cand.pool, a)] for a in range(level + 1)]
                coefs = [float(jc.block_demand)] * len(blocks)
            else:
                ks = [k for k in levels_at[cand.pool] if k <= jc.per_node]
                blocks = [m.block[("nodes", cand.pool, k)] for k in ks] + [m.block[("cards", cand.pool)]]
                coefs = [float(jc.nodes)] * len(ks) + [float(jc.per_node * jc.nodes)]
            for blk in site_blocks[cand.site]:
                blocks.append(blk)
                coefs.append(_up(cand.power_kw))
            for lk in cand.links:
                back = [sum(r.bandwidth_gbps for r in rel if lk in r.links) for rel in freed]
                head = np.array([_down(inst.link_capacity_gbps.get(lk, 0.0) + b) for b in back])
                blocks.append(m.add(("bandwidth", lk), head, "bandwidth"))
                coefs.append(_up(jc.bandwidth_gbps))
            fams.append((blocks, coefs))
        width = max(len(b) for b, _ in fams)
        sc.blk = np.zeros((K, width), dtype=int)
        sc.cf = np.zeros((K, width))
        for k, (blocks, coefs) in enumerate(fams):
            sc.blk[k, : len(blocks)] = blocks
            sc.cf[k, : len(coefs)] = coefs
        sc.fam = [()] * K  # the candidate count (columns are (class, candidate, slot))
    return m


def _interp(cum: np.ndarray, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Row ``rows[k]`` of the prefix sums ``cum`` at fractional positions ``x[k, :]``."""
    x = np.clip(x, 0.0, cum.shape[1] - 1 - 1e-9)
    i = np.floor(x).astype(int)
    r = rows[:, None]
    return cum[r, i] + (x - i) * (cum[r, i + 1] - cum[r, i])


def _up(x: float) -> float:
    """kW as W (Gbit/s as Mbit/s), rounded up: what a job takes."""
    return float(math.ceil(x * 1000 - 1e-9))


def _down(x: float) -> float:
    """kW as W (Gbit/s as Mbit/s), rounded down: what a row allows."""
    return float(max(0, math.floor(x * 1000 + 1e-9)))


def _freed(inst: Instance, grid: Grid) -> list[list]:
    """Per slot, the releases of running work that happened by the slot's start."""
    releases = inst.problem.state.releases if inst.problem.state is not None else ()
    return released_by(releases, [grid.slot_start(t) for t in range(grid.slots)])


def _pool_free(inst: Instance, freed: list[list], pool) -> list[dict[str, int]]:
    """Per slot, free cards per node of ``pool``: free now plus what running work gave back by then."""
    ps = inst.nodes.get(pool)
    base = dict(ps.free) if ps is not None else {}
    out = []
    for rel in freed:
        free = dict(base)
        for r in rel:
            if (r.site, r.accelerator) == pool:
                for n in r.nodes:
                    free[n] = free.get(n, 0) + r.per_node
        out.append(free)
    return out


def _limits(inst: Instance, grid: Grid, m: Model, freed: list[list]) -> dict[str, list[int]]:
    """Rows (12): one block per grid event, its rhs the cap less the draw of running work in each
    slot of its window."""
    problem = inst.problem
    by_site: dict[str, list[int]] = {}
    for lim in problem.limits:
        rhs = np.full(grid.slots, _BIG)
        sites = set(lim.sites)
        draw = sum(max(0.0, inst.sites[s].power_cap_kw - inst.power_headroom_kw.get(s, 0.0))
                   for s in sites if s in inst.sites)  # fmt: skip
        for t in range(grid.slots):
            a, b = grid.slot_start(t), grid.slot_start(t + 1)
            if a < lim.end and b > lim.start:
                rhs[t] = _down(lim.cap_kw - draw + sum(r.power_kw for r in freed[t] if r.site in sites))
        if (rhs < _BIG).any():
            blk = m.add(("limit", lim.id), rhs, "limit")
            for s in lim.sites:
                by_site.setdefault(s, []).append(blk)
    return by_site


def _entries(m: Model, sc: SClass, k: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and coefficients of column (c, k, t) in the flat row space."""
    live = sc.cf[k] > 0
    blocks, coefs = sc.blk[k][live], sc.cf[k][live]
    taus = np.arange(t, min(m.T, t + int(sc.width[t])))
    rows = (blocks[:, None] * m.T + taus[None, :]).ravel()
    return rows, np.repeat(coefs, len(taus))


def _window_min(per_slot: np.ndarray, sc: SClass, T: int) -> np.ndarray:
    """K × T: the least of ``per_slot`` over the slots a start in each slot runs through."""
    win = per_slot.copy()
    for s in range(1, min(sc.d, T)):
        win[:, : T - s] = np.minimum(win[:, : T - s], per_slot[:, s:])
    win[:, 0] = per_slot[:, : int(sc.width[0])].min(axis=1)  # slot 0 is what is left of the current slot
    return win


def _capacity(m: Model, sc: SClass, res: np.ndarray) -> np.ndarray:
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
    rows, coefs = _entries(m, sc, k, t)
    np.subtract.at(res, rows, coefs * n)
    out[(sc.index, k, t)] = out.get((sc.index, k, t), 0) + n


def _fill(m: Model, sc: SClass, left: int, res: np.ndarray, out: dict) -> None:
    """Start up to ``left`` more jobs of the class, each time at its best-scoring feasible column."""
    while left > 0 and sc.g.size:
        cap = _capacity(m, sc, res)
        score = np.where(cap > 0, sc.g, -np.inf)
        flat = int(np.argmax(score))
        if not np.isfinite(score.flat[flat]) or score.flat[flat] <= 0:
            return
        k, t = divmod(flat, m.T)
        n = int(min(left, cap[k, t]))
        _take(m, sc, k, t, n, res, out)
        left -= n


def _greedy(m: Model, classes: list[SClass], rhs: np.ndarray) -> dict[tuple[int, int, int], int]:
    """Class counts: classes by value density, each start to its best-scoring feasible column."""
    res, out = rhs.copy(), {}
    for sc in sorted(classes, key=_density(m)):
        _fill(m, sc, len(sc.jobs), res, out)
    return out


def _guided(m: Model, classes: list[SClass], rhs: np.ndarray, cols, x: np.ndarray) -> dict:
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
            rows, coefs = _entries(m, sc, k, t)
            n = int(min(left, np.floor(res[rows] / coefs + 1e-9).min()))
            if n > 0:
                _take(m, sc, k, t, n, res, out)
                left -= n
        _fill(m, sc, left, res, out)
    return out


@dataclass
class _Master:
    cols: list[tuple[int, int, int]] = field(default_factory=list)
    seen: set = field(default_factory=set)

    def add(self, col: tuple[int, int, int]) -> bool:
        if col in self.seen:
            return False
        self.seen.add(col)
        self.cols.append(col)
        return True


def _matrix(m: Model, classes: list[SClass], cols: list[tuple[int, int, int]]):
    nrows = len(m.rhs) * m.T
    r, c, v = [], [], []
    for j, (ci, k, t) in enumerate(cols):
        rows, coefs = _entries(m, classes[ci], k, t)
        r.append(rows)
        c.append(np.full(len(rows), j))
        v.append(coefs)
        r.append(np.array([nrows + ci]))  # (5) the class row
        c.append(np.array([j]))
        v.append(np.array([1.0]))
    return sparse.csr_matrix(
        (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(nrows + len(classes), len(cols))
    )


def _lp(m: Model, classes: list[SClass], cols, rhs: np.ndarray):
    """The restricted master: (objective, x, duals on rows (9)–(12), duals on (5))."""
    a = _matrix(m, classes, cols)
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


def _reduced(m: Model, sc: SClass, pi: np.ndarray) -> np.ndarray:
    """K × T: g − π·A for every column of the class (prefix sums of π over the slots)."""
    T = m.T
    if sc.g.size == 0:
        return sc.g
    per_slot = (pi.reshape(-1, T)[sc.blk] * sc.cf[:, :, None]).sum(axis=1)
    cum = np.concatenate([np.zeros((per_slot.shape[0], 1)), np.cumsum(per_slot, axis=1)], axis=1)
    ends = np.minimum(np.arange(T) + sc.width, T)
    return sc.g - (cum[:, ends] - cum[:, :T])


def _generate(m: Model, classes: list[SClass], rhs: np.ndarray, hint, deadline: float):
    """Column generation until ``deadline`` (a ``perf_counter`` time; the first round always
    runs, a later one only if a round as long as the last still ends before it): (best bound U(π),
    last master's columns, its LP solution)."""
    master = _Master()
    for col in hint:
        master.add(col)
    for sc in classes:
        flat = np.argsort(sc.g, axis=None)[::-1][:3]
        for f in flat:
            k, t = divmod(int(f), m.T)
            if np.isfinite(sc.g[k, t]) and sc.g[k, t] > 0:
                master.add((sc.index, k, t))
    bound, x = math.inf, None
    finite_rhs = np.where(rhs >= _BIG, 0.0, rhs)
    last = 0.0
    for _ in range(30):
        if not master.cols:
            return 0.0, [], np.zeros(0)
        started = time.perf_counter()
        if x is not None and started + last > deadline:
            break
        res = _lp(m, classes, master.cols, rhs)
        if res is None:
            break
        _, x, pi, _ = res
        pi = np.where(rhs >= _BIG, 0.0, pi)
        u = float(pi @ finite_rhs)
        added = 0
        for sc in classes:
            rc = _reduced(m, sc, pi)
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


def _cpsat(m: Model, classes, cols, rhs, hint: dict, time_limit_s: float, workers: int):
    proto = cmh.CpModelProto()
    for ci, _, _ in cols:
        proto.variables.add().domain.extend([0, len(classes[ci].jobs)])
    a = _matrix(m, classes, cols).tocsr()
    right = np.concatenate([rhs, [float(len(sc.jobs)) for sc in classes]])
    for i in range(a.shape[0]):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        if lo == hi or right[i] >= _BIG:
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


def _total(classes, counts: dict) -> float:
    return sum(classes[ci].g[k, t] * n for (ci, k, t), n in counts.items())


def solve_shift(problem: Problem, instance: Instance | None = None, *, with_bound: bool = True) -> Plan:
    """Decide site and start slot for ``problem``'s jobs (``problem.shift`` must be set)."""
    t0 = time.perf_counter()
    inst = instance or build_instance(problem)
    longest = max((j.duration_h for j in problem.jobs), default=1.0)
    grid = build_grid(problem, longest)
    classes = _classes(inst, grid)
    m = _build(inst, grid, classes)
    rhs = m.flat_rhs()
    counts = _greedy(m, classes, rhs)
    status, bound = "FEASIBLE (greedy over start slots)", None
    if with_bound or len(counts) > 0:
        # the time limit counts from the start of the call: of what building left, 70 % for the bound
        search = t0
        rest = max(0.0, problem.time_limit_s - (time.perf_counter() - t0))
        bound, cols, x = _generate(m, classes, rhs, list(counts), time.perf_counter() + 0.7 * rest)
        if cols:
            guided = _guided(m, classes, rhs, cols, x)
            if _total(classes, guided) > _total(classes, counts):
                counts, status = guided, "FEASIBLE (LP-guided start slots)"
            if bound is not None and _total(classes, counts) >= bound - 1e-9 * max(1.0, abs(bound)):
                status = "OPTIMAL (warm start meets the bound)"
            elif (left := problem.time_limit_s - (time.perf_counter() - search)) < 0.2:
                status = f"{status.split(' (')[0]} (time limit spent on the bound; {status.split('(')[-1]}"
            else:
                cp, st = _cpsat(m, classes, sorted(set(cols) | set(counts)), rhs, counts, left, problem.workers)
                slack = 0.006 * sum(len(sc.jobs) for sc in classes)  # CP-SAT scores are rounded to ¥0.01
                if cp is not None and _total(classes, cp) >= _total(classes, counts) - slack:
                    counts, status = cp, st
                else:
                    status = f"{st} ({status.split('(')[-1].rstrip(')')} kept)"
    t1 = time.perf_counter()
    return _extract(inst, grid, classes, counts, status, bound if with_bound else None, t1 - t0)


def _extract(inst: Instance, grid: Grid, classes: list[SClass], counts: dict, status: str, bound, seconds) -> Plan:
    """Slot-0 starts get nodes now; later ones are scheduled with a note on what waiting saves."""
    problem = inst.problem
    ledger = inst.ledger()
    now_decisions = []
    later: list[Placement] = []
    by_class: dict[int, list[tuple[int, int, int]]] = {}
    for (ci, k, t), n in sorted(counts.items(), key=lambda kv: kv[0][2]):
        by_class.setdefault(ci, []).append((k, t, n))
    order = sorted(classes, key=lambda sc: (-sc.jc.per_node, -sc.jc.nodes, sc.index))
    for sc in order:
        picks = by_class.get(sc.index)
        if not picks:
            continue
        jobs = sorted(sc.jobs, key=lambda i: (problem.jobs[i].deadline or problem.now + timedelta(days=3650), i))
        it = iter(jobs)
        for k, t, n in picks:
            cand = sc.jc.candidates[k]
            for _ in range(n):
                i = next(it, None)
                if i is None:
                    break
                if t == 0:
                    d = place(inst, ledger, sc.jc, cand, i)
                    if d is not None:
                        now_decisions.append(d)
                else:
                    later.append(_scheduled(inst, grid, sc, cand, i, t))
    plan = assemble(inst, ledger, now_decisions, solver="cpsat-shift", status=status, bound=None, solve_seconds=seconds)
    dropped: tuple = ()
    if problem.shift is None or problem.shift.exact_nodes:  # a relaxation's plan is not held to nodes
        later, dropped = admit_later(inst, grid, plan.placements, later)
    scheduled = {p.job for p in later}
    unplaced = tuple(u for u in plan.unplaced if u.job not in scheduled) + dropped
    jobs = {j.id: j for j in problem.jobs}
    cat = problem.topology.accelerators
    value = plan.objective + sum(jobs[p.job].priority * p.cards * cat[p.accelerator].pflops for p in later)
    score = _total(classes, counts)
    return Plan(
        plan.solver, status, value, None, None, seconds, plan.placements + tuple(later), unplaced, score, 0.0, bound
    )


def admit_later(inst: Instance, grid: Grid, started: tuple[Placement, ...], later: list[Placement]):
    """Keep the scheduled starts that pack, slot by slot, onto the nodes this plan's starts now
    leave (they hold named nodes until they end; the model counted them as blocks); the others
    become unplaced, to be planned again next cycle."""
    problem = inst.problem
    jobs = {j.id: j for j in problem.jobs}
    pools = {(p.site, p.accelerator) for p in later}
    pinned = [p for p in started if not p.fixed and (p.site, p.accelerator) in pools]
    used: dict[tuple, dict[int, int]] = {}  # (pool, slot) -> level -> cards held by admitted starts
    caps: dict[tuple, dict[int, int]] = {}
    freed = _freed(inst, grid)
    kept, dropped = [], []
    for p in sorted(later, key=lambda x: (x.start, x.job)):
        job = jobs[p.job]
        pool = (p.site, p.accelerator)
        first = grid.slot_of(p.start - timedelta(hours=p.transfer_h))
        last = first + int(grid.widths(p.transfer_h + job.duration_h)[first])
        a = ceil_pow2_level(job.accelerators.per_node)
        demand = (1 << a) * job.accelerators.nodes
        ok = True
        for t in range(first, last):
            cap = caps.get((pool, t))
            if cap is None:
                free = dict(inst.nodes[pool].free) if pool in inst.nodes else {}
                for r in freed[t]:
                    if (r.site, r.accelerator) == pool:
                        for n in r.nodes:
                            free[n] = free.get(n, 0) + r.per_node
                at = grid.slot_start(t)
                for q in pinned:
                    if (q.site, q.accelerator) == pool and q.start + timedelta(hours=jobs[q.job].duration_h) > at:
                        for n in q.node_names:
                            free[n] -= jobs[q.job].accelerators.per_node
                cap = caps[(pool, t)] = block_capacity(bit_counts(free.values()), range(LEVELS))
            held = used.get((pool, t), {})
            if any(held.get(b, 0) + demand > cap[b] for b in range(a + 1)):
                ok = False
                break
        if not ok:
            when = p.start.strftime("%m-%d %H:%M")
            dropped.append(Unplaced(p.job, (
                f"its start at {when} at {p.site} does not pack onto the nodes this plan's starts now "
                "leave there; it is planned again next cycle",
            )))  # fmt: skip
            continue
        for t in range(first, last):
            held = used.setdefault((pool, t), {})
            for b in range(a + 1):
                held[b] = held.get(b, 0) + demand
        kept.append(p)
    return kept, tuple(dropped)


def _scheduled(inst: Instance, grid: Grid, sc: SClass, cand, i: int, t: int) -> Placement:
    problem = inst.problem
    job = problem.jobs[i]
    site = inst.sites[cand.site]
    user, data = job_route(inst.graph, job, site.id)
    transfer = transfer_hours(job.data.size_tb, data.bottleneck_gbps) if job.data and data else 0.0
    start_h = float(grid.starts_h[t]) + transfer
    rate, cost, carbon = grid.run_cost(site.id, cand.power_kw, start_h, job.duration_h)
    rate0, cost0, carbon0 = grid.run_cost(site.id, cand.power_kw, transfer, job.duration_h)
    route = user or data
    note = deferral_note(problem, site, grid.slot_start(t), float(cost0 - cost), float(carbon0 - carbon))
    return Placement(
        job.id,
        cand.site,
        cand.model,
        sc.jc.nodes,
        job.accelerators.count,
        (),
        grid.slot_start(t) + timedelta(hours=transfer),
        route.nodes if route is not None else (site.id,),
        user.rtt_ms if user else None,
        cand.power_kw * job.duration_h,
        float(rate),
        float(carbon),
        transfer,
        scheduled=True,
        note=note,
    )
