"""The time-indexed model's data: shift classes, the rows as blocks of slots, and each class's
scores and row blocks per candidate and start slot (notation and constraints in :mod:`.shift`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from suanwang.solvers.instance import Instance, JobClass, job_route, transfer_hours
from suanwang.solvers.ledger import bit_counts, block_capacity
from suanwang.solvers.problem import Job
from suanwang.solvers.slots import Grid, known_releases, released_by

LEVELS = 7  # per-node demands up to 64 cards: block levels 0..6
WAIT_CNY_PER_SLOT = 0.01  # δ at least: equal costs start early (CP-SAT scores count ¥0.01)
GRACE_SHARE = 0.1  # share of its value a job with no slack loses per slot it waits for room (Shift.grace_slots)
BIG = 1e18


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
    # why it may not start now (a later slot saves more than Shift.hold_share): (slot, ¥ saved, ¥ now)
    held: tuple[int, float, float] | None = None
    width: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # slots touched, per start slot
    blk: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=int))  # K × M row blocks
    cf: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))  # K × M coefficients (0: padding)
    g: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # K × T scores, −inf where not allowed


class Model:
    """Rows as blocks of T consecutive slots: node (pool, level), power (site), link, grid event,
    tenant quota."""

    def __init__(self, inst: Instance, grid: Grid) -> None:
        self.inst, self.grid, self.T = inst, grid, grid.slots
        self.block: dict[tuple, int] = {}
        self.rhs: list[np.ndarray] = []

    def add(self, key: tuple, rhs: np.ndarray) -> int:
        if key not in self.block:
            self.block[key] = len(self.rhs)
            self.rhs.append(rhs)
        return self.block[key]

    def flat_rhs(self) -> np.ndarray:
        return np.concatenate(self.rhs) if self.rhs else np.zeros(0)


def deferrable(job: Job, at: datetime, slot_h: float) -> bool:
    """A job whose window leaves at least one slot of slack after ``at`` (never inference)."""
    if job.kind == "inference" or job.deadline is None:
        return False
    begin = max(at, job.earliest) if job.earliest is not None else at
    return (job.deadline - begin).total_seconds() / 3600.0 - job.duration_h >= slot_h - 1e-9


def classes_of(inst: Instance, grid: Grid) -> list[SClass]:
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
            is_def = e < grid.slots and job.id not in problem.due and deferrable(job, grid.slot_start(e), dt)
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


def build_model(inst: Instance, grid: Grid, classes: list[SClass]) -> Model:
    """Scores per class, candidate and slot, and the row blocks each candidate's columns touch
    (padded to one width per class with the free block 0 at coefficient 0)."""
    problem, T = inst.problem, grid.slots
    w = problem.weights
    m = Model(inst, grid)
    m.add(("free",), np.full(T, BIG))  # block 0: padding, never binding
    exact = problem.shift is None or problem.shift.exact_nodes
    grace = problem.shift.grace_slots if problem.shift is not None else 0
    hold = problem.shift.hold_share if problem.shift is not None else None
    levels_at: dict = {}
    for sc in classes:
        for cand in sc.jc.candidates:
            levels_at.setdefault(cand.pool, set()).add(sc.jc.level if exact else sc.jc.per_node)
    freed = freed_by_slot(inst, grid)
    for pool, lv in sorted(levels_at.items()):
        frees = _pool_free(inst, freed, pool)
        if exact:  # (9) block rows: exact for power-of-two demands
            per_slot = [block_capacity(bit_counts(free.values()), range(LEVELS)) for free in frees]
            for a in range(max(lv) + 1):
                if a > 0 and all(c[a] == c[a - 1] for c in per_slot):
                    continue  # implied: level a − 1's row holds the same terms and more, under the same room
                m.add(("nodes", pool, a), np.array([float(c[a]) for c in per_slot]))
        else:  # (9') rows every node-level plan meets: nodes with ≥ k free cards, and the cards
            for k in sorted(lv):
                m.add(("nodes", pool, k), np.array([float(sum(f // k for f in free.values())) for free in frees]))
            m.add(("cards", pool), np.array([float(sum(free.values())) for free in frees]))
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
        site_blocks[sid] = [m.add(("power", sid), head), *limit_rows.get(sid, ())]
    per_jc: dict[int, tuple] = {}
    delta = max(WAIT_CNY_PER_SLOT, w.wait_cny_per_h * grid.slot_h)  # δ: ¥ a slot of waiting
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
        if jc.index not in per_jc:  # what depends on the placement class alone, once for its shift classes
            per_jc[jc.index] = (
                np.array([site_pos[c.site] for c in jc.candidates]),
                np.array([c.power_kw for c in jc.candidates]),
                np.array([jc.score(c, w.value_per_pflops) + c.cost_cny for c in jc.candidates]),
                *_row_blocks(inst, m, jc, exact, levels_at, site_blocks, freed),
            )
        rows, kw, value, sc.blk, sc.cf = per_jc[jc.index]
        x0 = starts_h[None, :] + transfers[:, None] + grid.hour0
        run = kw[:, None] * (_interp(cum, rows, x0 + sc.dur_h) - _interp(cum, rows, x0))
        move = np.zeros(K)
        if job.data is not None and job.data.size_tb > 0:
            loc = job.data.location
            move = np.array([0.0 if loc in (c.site, inst.sites[c.site].city) else 1.0 for c in jc.candidates])
            move *= job.data.size_tb * w.transfer_cny_per_tb
        score = value[:, None] - run - move[:, None] - delta * slot_idx[None, :]
        if not sc.deferrable and grace:  # waiting for room, never for a price: a tenth of the value a slot
            score -= GRACE_SHARE * value[:, None] * np.maximum(0, slot_idx - sc.e)[None, :]
        if sc.deferrable and hold is not None and T > 1:  # now only if no later slot saves much more
            ahead = np.where(allowed[:, 1:], score[:, 1:], -np.inf)
            gain = ahead - score[:, :1]
            stop = allowed[:, 0] & (gain.max(axis=1) > hold * run[:, 0])
            if stop.any():  # … and then only for a slot that does: no wait for a saving too small to start now
                k = int(np.argmax(np.where(stop, gain.max(axis=1), -np.inf)))
                sc.held = (1 + int(np.argmax(gain[k])), float(gain[k].max()), float(run[k, 0]))
                allowed[stop, 0] = False
                allowed[stop, 1:] &= gain[stop] > hold * run[stop, :1]
        sc.g = np.where(allowed, score, -np.inf)
    return m


def _row_blocks(inst: Instance, m: Model, jc: JobClass, exact: bool, levels_at: dict, site_blocks: dict, freed):
    """K × M row blocks and coefficients of a placement class's candidates (0: padding)."""
    # -- rows each candidate's columns touch: (9) node levels, (10) power, (12) events, (11) links,
    # (25)–(27) the tenant's quota rows in every slot (running work holds its cards throughout)
    fams = []
    level = jc.level
    for cand in jc.candidates:
        if exact:  # the levels whose rows are not implied by a lower one's
            blocks = [m.block[key] for a in range(level + 1) if (key := ("nodes", cand.pool, a)) in m.block]
            coefs = [float(jc.block_demand)] * len(blocks)
        else:
            ks = [k for k in levels_at[cand.pool] if k <= jc.per_node]
            blocks = [m.block[("nodes", cand.pool, k)] for k in ks] + [m.block[("cards", cand.pool)]]
            coefs = [float(jc.nodes)] * len(ks) + [float(jc.per_node * jc.nodes)]
        for blk in site_blocks[cand.site]:
            blocks.append(blk)
            coefs.append(_up(cand.power_kw))
        for lk in cand.links:
            if ("bandwidth", lk) not in m.block:
                back = [sum(r.bandwidth_gbps for r in rel if lk in r.links) for rel in freed]
                m.add(("bandwidth", lk), np.array([_down(inst.link_capacity_gbps.get(lk, 0.0) + b) for b in back]))
            blocks.append(m.block[("bandwidth", lk)])
            coefs.append(_up(jc.bandwidth_gbps))
        if jc.governed:
            for r in inst.quota_for(jc.rep.tenant, cand.model, cand.site):
                blocks.append(m.add(("quota", r), np.full(m.T, float(inst.quota_rows[r].room_cards))))
                coefs.append(float(jc.rep.accelerators.count))
        fams.append((blocks, coefs))
    width = max(len(b) for b, _ in fams)
    blk = np.zeros((len(fams), width), dtype=int)
    cf = np.zeros((len(fams), width))
    for k, (blocks, coefs) in enumerate(fams):
        blk[k, : len(blocks)] = blocks
        cf[k, : len(coefs)] = coefs
    return blk, cf


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


def freed_by_slot(inst: Instance, grid: Grid) -> list[list]:
    """Per slot, the releases of running work within one slot of now that happened by the slot's
    start."""
    starts = [grid.slot_start(t) for t in range(grid.slots)]
    return released_by(known_releases(inst.problem), starts, inst.problem.now, grid.slot_h)


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
        rhs = np.full(grid.slots, BIG)
        sites = set(lim.sites)
        draw = sum(max(0.0, inst.sites[s].power_cap_kw - inst.power_headroom_kw.get(s, 0.0))
                   for s in sites if s in inst.sites)  # fmt: skip
        for t in range(grid.slots):
            a, b = grid.slot_start(t), grid.slot_start(t + 1)
            if a < lim.end and b > lim.start:
                rhs[t] = _down(lim.cap_kw - draw + sum(r.power_kw for r in freed[t] if r.site in sites))
        if (rhs < BIG).any():
            blk = m.add(("limit", lim.id), rhs)
            for s in lim.sites:
                by_site.setdefault(s, []).append(blk)
    return by_site


def entries(m: Model, sc: SClass, k: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and coefficients of column (c, k, t) in the flat row space."""
    live = sc.cf[k] > 0
    blocks, coefs = sc.blk[k][live], sc.cf[k][live]
    taus = np.arange(t, min(m.T, t + int(sc.width[t])))
    rows = (blocks[:, None] * m.T + taus[None, :]).ravel()
    return rows, np.repeat(coefs, len(taus))
