"""The aggregate placement model shared by CP-SAT and the LP relaxation.

Notation
    c ∈ C          job classes (identical requirements); n_c jobs in class c
    p ∈ P          pools: one accelerator model in one site s(p)
    (c, p) ∈ E     candidates: pool p can ever host a job of class c (see solvers.instance)
    x[c,p] ∈ ℤ≥0   number of class-c jobs placed on pool p
    k_c, u_c       cards per node and nodes per job; a_c = ⌈log2 k_c⌉, d_c = 2^a_c · u_c
    B[p,a]         cards of pool p in free binary blocks of size ≥ 2^a (solvers.ledger)
    w_c            power per job at PUE (kW); H_s site power headroom (cap − current draw)
    b_c            bandwidth a deterministic job reserves on each link of its CENI path; R_l link headroom

Constraints (the numbering of :mod:`suanwang.solvers`)
    (1)–(4) model and memory, latency, deterministic path, data and deadline: only candidates in
            E get a variable
    (5) Σ_p x[c,p] ≤ n_c                                       each job placed at most once
    (6) Σ_{c: a_c ≥ a} d_c · x[c,p] ≤ B[p,a]   ∀ p, a            node-granular capacity (gang in one site)
    (7) Σ_{(c,p): l ∈ path(c,p)} b_c · x[c,p] ≤ R_l   ∀ l        deterministic bandwidth per link
    (8) Σ_{p: s(p)=s} w_c · x[c,p] ≤ H_s   ∀ s                   site power cap
    (25)–(27) Σ_{(c,p): (tenant(c), model(p)) ∈ q} cards_c · x[c,p] ≤ room_q   ∀ quota row q
                                                                 (solvers.quota; classes of a
                                                                 governed tenant hold its jobs only)

For the reported bound (:func:`relaxation`), pools that host a per-node demand k_c that is not a
power of two use, instead of (6), rows valid for every node-level plan (f_n free cards of node n):
    (6') Σ_{c: k_c ≥ k} u_c · x[c,p] ≤ Σ_n ⌊f_n / k⌋   ∀ p, k    and    Σ_c k_c u_c · x[c,p] ≤ Σ_n f_n
(6) rounds k_c up to 2^a_c, which makes every CP-SAT plan feasible but is no relaxation.

Objective
    max Σ x[c,p] · (W · (v[c,p] · (1 + φ_c) + λ[c,p]) − cost[c,p])
    v = effective priority × cards × PFLOPS per card; cost = energy × tariff + carbon × price + transfer.
    With the default W the placed compute dominates and cost breaks ties among placements.
    φ_c: the fair-share gain among equal priorities (solvers.fair, below one priority step).
    λ[c,p]: with quotas, 1,000 priority steps × cards × the catalogue's top PFLOPS per card for
    a class its tenant's unused nominal quota covers (every p), or on a p no quota of its tenant
    governs (solvers.quota.GUARANTEE_LIFT): guaranteed work outranks any priority of work that
    would borrow. Only the score carries φ and λ; the reported objective and bound are Σ v.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from suanwang.solvers.instance import Instance
from suanwang.solvers.ledger import block_capacity


@dataclass(frozen=True)
class Row:
    """One row of the model: Σ coeffs · x[vars] ≤ rhs, of a kind numbered in :mod:`suanwang.solvers`."""

    name: str
    vars: list[int]
    coeffs: list[float]
    rhs: float
    kind: str  # "class" | "nodes" | "power" | "bandwidth" | "quota"
    key: tuple = ()  # (class index) | (pool, level) | (site,) | (link,) | (quota row,)


@dataclass
class Aggregate:
    """The model over candidate columns: bounds, value and score per column, and its rows (5)–(8)."""

    var_class: list[int]  # var -> class index in instance.classes
    var_cand: list[int]  # var -> candidate index in that class
    ub: list[int]
    value: list[float]
    score: list[float]
    rows: list[Row]
    matrix: object = None  # the sparse constraint matrix, cached by solvers.lp_bound

    @property
    def rhs(self) -> list[float]:
        return [r.rhs for r in self.rows]

    @property
    def coo_rows(self) -> list[int]:
        return [i for i, r in enumerate(self.rows) for _ in r.vars]

    @property
    def coo_cols(self) -> list[int]:
        return [v for r in self.rows for v in r.vars]

    @property
    def coo_vals(self) -> list[float]:
        return [c for r in self.rows for c in r.coeffs]


def aggregate(instance: Instance) -> Aggregate:
    """The model's rows for ``instance`` (built once per instance; solvers and the bound share it)."""
    if instance.aggregate_model is None:
        instance.aggregate_model = _build(instance)
    return instance.aggregate_model


def relaxation(instance: Instance) -> Aggregate:
    """The model with rows (6) replaced by (6') where a pool hosts a per-node demand that is not a
    power of two: a relaxation of every node-level plan, so its LP optimum is a true upper bound."""
    if instance.relaxed_model is None:  # with exact blocks (6') is (6): the model is its own relaxation
        instance.relaxed_model = aggregate(instance) if exact_blocks(instance) else _build(instance, relaxed=True)
    return instance.relaxed_model


def exact_blocks(instance: Instance) -> bool:
    """Every per-node demand is a power of two: the block rows (6) are exact, so the LP bound
    holds for every node-level plan."""
    return all(jc.per_node == 1 << jc.level for jc in instance.classes)


def _build(instance: Instance, relaxed: bool = False) -> Aggregate:
    w = instance.problem.weights.value_per_pflops
    var_class: list[int] = []
    var_cand: list[int] = []
    value: list[float] = []
    score: list[float] = []
    rows: list[Row] = []
    by_pool: dict = defaultdict(list)
    by_site: dict = defaultdict(list)
    by_link: dict = defaultdict(list)
    by_quota: dict = defaultdict(list)
    for ci, jc in enumerate(instance.classes):
        start = len(var_class)
        n = len(jc.candidates)
        vs = list(range(start, start + n))
        var_class.extend([ci] * n)
        var_cand.extend(range(n))
        value.extend(c.value for c in jc.candidates)
        score.extend(jc.score(c, w) for c in jc.candidates)
        level, demand, bw = jc.level, jc.block_demand, jc.bandwidth_gbps
        for v, cand in zip(vs, jc.candidates, strict=True):
            by_pool[cand.pool].append((v, level, demand, jc.per_node, jc.nodes))
            by_site[cand.pool[0]].append((v, cand.power_kw))
            for lk in cand.links:
                by_link[lk].append((v, bw))
            if jc.governed:
                for r in instance.quota_for(jc.rep.tenant, cand.model, cand.site):
                    by_quota[r].append((v, jc.rep.accelerators.count))
        if vs:
            rows.append(Row(f"class[{ci}]", vs, [1.0] * len(vs), float(len(jc.jobs)), "class", (ci,)))
    ub = [len(instance.classes[c].jobs) for c in var_class]
    for pool, items in by_pool.items():
        ps = instance.nodes.get(pool)
        if relaxed and any(k != 1 << lv for _, lv, _, k, _ in items):
            _relaxed_rows(rows, ub, pool, items, ps)
            continue
        levels = sorted({lv for _, lv, _, _, _ in items})
        caps = block_capacity(ps.bit_counts if ps is not None else {}, levels)
        for a in levels:
            sel = [(v, d) for v, lv, d, _, _ in items if lv >= a]
            _node_row(rows, ub, f"nodes[{pool[0]},{pool[1]},2^{a}]", sel, caps[a], (pool, a))
    for site, items in by_site.items():
        head = max(0.0, instance.power_headroom_kw.get(site, 0.0))
        rows.append(Row(f"power[{site}]", [v for v, _ in items], [c for _, c in items], head, "power", (site,)))
        for v, c in items:
            if c > 0:
                ub[v] = min(ub[v], int(head / c + 1e-9))
    for lk, items in by_link.items():
        head = max(0.0, instance.link_capacity_gbps.get(lk, 0.0))
        rows.append(Row(f"bandwidth[{lk}]", [v for v, _ in items], [c for _, c in items], head, "bandwidth", (lk,)))
    for r, items in by_quota.items():
        qr = instance.quota_rows[r]
        rows.append(
            Row(qr.name, [v for v, _ in items], [float(c) for _, c in items], float(qr.room_cards), "quota", (r,))
        )
        for v, c in items:
            ub[v] = min(ub[v], qr.room_cards // c)
    return Aggregate(var_class, var_cand, ub, value, score, rows)


def _node_row(rows: list[Row], ub: list[int], name: str, sel: list[tuple[int, int]], cap: int, key: tuple) -> None:
    """A row Σ coeff · x ≤ cap over ``sel`` ((var, coeff) pairs), tightening each var's bound."""
    rows.append(Row(name, [v for v, _ in sel], [float(c) for _, c in sel], float(cap), "nodes", key))
    for v, c in sel:
        ub[v] = min(ub[v], cap // c)


def _relaxed_rows(rows: list[Row], ub: list[int], pool, items, ps) -> None:
    """(6') A node with f free cards holds at most ⌊f / k⌋ job nodes of k or more cards, and the
    pool's free cards bound the cards placed: valid for any packing, exact or not."""
    free = [f for _, f in ps.free_per_node] if ps is not None else []
    for k in sorted({k for _, _, _, k, _ in items}):
        sel = [(v, u) for v, _, _, kc, u in items if kc >= k]
        _node_row(rows, ub, f"nodes[{pool[0]},{pool[1]},≥{k}]", sel, sum(f // k for f in free), (pool, k))
    cards = sum(free)
    rows.append(
        Row(
            f"cards[{pool[0]},{pool[1]}]",
            [v for v, *_ in items],
            [float(k * u) for _, _, _, k, u in items],
            float(cards),
            "nodes",
            (pool, "cards"),
        )
    )
