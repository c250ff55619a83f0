"""The capacity-planning MILP, built with PuLP (solved by :mod:`.capacity`).

Notation
    y ∈ Y          years of the plan, y₀ the first; δ_y = (1 + ρ)^−(y − y₀) the discount factor
    s ∈ S          sites: the starting network's and the candidates (open once, for good)
    m ∈ M          accelerator models; π_m PFLOPS and κ_m board kW per card
    p ∈ P          packs: nodes of model m_p with n_p cards at site s_p, ¥c_p and w_p IT kW per node,
                   in service from e_p, ordered ℓ_p years ahead, at most N_p nodes
    k ∈ K          demand classes (training, inference, deterministic): models M_k, utilisation η_k,
                   traffic β_k Gbit/s per capacity PFLOPS, penalty φ_k per unserved PFLOPS·year
    d ∈ D          demand rows: origin o_d, class k_d, year y_d, q_d capacity PFLOPS
    r ∈ R_d        candidate routes of d (site s_r, links L_r; within its RTT SLO and jitter bound)
    u ∈ U          link upgrades: +Δ_u Gbit/s on a link (a new link from 0) for ¥c_u, from e_u
    C⁰[s,m]        cards installed at the start; E[s,m,k] kWh a year per capacity PFLOPS

Variables
    x[p,y] ∈ ℤ≥0   nodes of pack p entering service in year y (ordered in y − ℓ_p ≥ y₀, y ≥ e_p)
    X[p,y]         = Σ_{y' ≤ y} x[p,y'] nodes in service (what is bought stays)
    v[s,y] ∈ {0,1} candidate site s open in year y;  g[u,y] ∈ {0,1} upgrade u in service in y
    a[s,m,k,y] ≥ 0 capacity PFLOPS of model m at site s given to class k
    f[d,r] ≥ 0     capacity PFLOPS of row d served over route r;  z[d] ≥ 0 unserved

Constraints (continuing the numbering of :mod:`suanwang.solvers`)
    (13) Σ_r f[d,r] + z[d] = q_d                                         every row served or not
    (14) Σ_{d: k_d=k, y_d=y} Σ_{r: s_r=s} f[d,r] ≤ Σ_{m ∈ M_k} a[s,m,k,y]    classes on their models
    (15) Σ_k a[s,m,k,y] ≤ π_m (C⁰[s,m] + Σ_{p at (s,m)} n_p X[p,y])         installed capacity
    (16) PUE_s (Σ_m κ_m C⁰[s,m] + Σ_{p at s} w_p X[p,y]) ≤ P_s · v[s,y]       power cap at full load
    (17) X[p,y] ≤ N_p · v[s_p,y];  v[s,y−1] ≤ v[s,y];  g[u,y−1] ≤ g[u,y]     floor space, cumulative
    (18) Σ_{d,r: l ∈ L_r, y_d=y} β_{k_d} f[d,r] ≤ B_l + Σ_{u on l} Δ_u g[u,y]  link bandwidth
         and f[d,r] ≤ q_d · g[u,y_d] for each new link u that r uses
    (19) Σ_p c_p x[p,y+ℓ_p] + Σ_s F_s (v[s,y] − v[s,y−1]) + Σ_u c_u (g[u,y] − g[u,y−1]) ≤ budget_y
    (20) Σ_{s,m} π_m (C⁰[s,m] + Σ_p n_p X[p,y]) ≥ T_y                     province PFLOPS target
    (21) Σ_r f[d,r] ≥ θ · q_d   for inference and deterministic rows        latency-ring coverage
    (22) no pack and no opening at a site whose PUE is above its tier's cap   (variable bounds)
    (23) Σ (γ_s − G_y) E[s,m,k] a[s,m,k,y] ≥ 0                             minimum green share
    (24) #city-tier sites open in year y ≥ N_y                              city-level centres
    where v ≡ 1 for the starting network's sites.

Objective (NPV, ¥)
    min Σ_p Σ_y δ_{y−ℓ_p} c_p x[p,y] + Σ δ_y (opex_p X[p,y] + F_s Δv + c_u Δg)
        + Σ δ_y E[s,m,k] (price_s + carbon price · CO₂_s (1 − γ_s)) a[s,m,k,y] + Σ_d δ_{y_d} φ_{k_d} z[d]
    ``lexicographic``: first min Σ z, then the money with Σ z held at its minimum.

With ``elastic`` the target rows (20), (21), (23) and (24) get slack variables and the objective
is their summed relative shortfall: what the diagnosis of an infeasible plan minimises.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pulp

from suanwang.errors import InputError
from suanwang.solvers.capacity_problem import HOURS_PER_YEAR, CapacityProblem, Demand
from suanwang.solvers.capacity_routes import CandidateRoute, Network, network, routes_for
from suanwang.topology.model import Site

MAX_ROUTES = 2_000_000  # (demand row, route) pairs: about the model's variables


@dataclass
class Model:
    prob: pulp.LpProblem
    net: Network
    sites: dict[str, Site]
    candidate: dict[str, float]  # candidate site → fixed cost
    disc: dict[int, float]
    x: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    v: dict[tuple[str, int], pulp.LpVariable] = field(default_factory=dict)
    g: dict[tuple[str, int], pulp.LpVariable] = field(default_factory=dict)
    a: dict[tuple[str, str, str, int], pulp.LpVariable] = field(default_factory=dict)
    f: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    z: dict[int, pulp.LpVariable] = field(default_factory=dict)
    routes: dict[int, list[CandidateRoute]] = field(default_factory=dict)
    energy_kwh: dict[tuple[str, str, str], float] = field(default_factory=dict)  # per capacity PFLOPS·year
    money: dict[tuple[str, int], pulp.LpAffineExpression] = field(default_factory=dict)  # (part, year) → NPV
    slack: dict[str, tuple[pulp.LpVariable, str, float]] = field(default_factory=dict)  # row → (var, label, rhs)
    excluded: list[str] = field(default_factory=list)  # sites left out by (22), with why
    power_rows: dict[str, tuple[str, int]] = field(default_factory=dict)
    budget_rows: dict[str, int] = field(default_factory=dict)
    packs_at: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # site → pack indices

    def open(self, s: str, y: int):
        return self.v.get((s, y), 0) if s in self.candidate else 1

    def installed(self, problem: CapacityProblem, s: str, y: int, per: str, model: str | None = None):
        """Σ over packs at ``s`` (of ``model``) of nodes in service in ``y`` × (cards | kW) per node."""
        terms = []
        for i in self.packs_at.get(s, ()):
            p = problem.packs[i]
            if model is not None and p.accelerator != model:
                continue
            per_node = p.per_node if per == "cards" else p.kw_per_node
            terms += [(self.x[i, yy], per_node) for yy in self.disc if yy <= y and (i, yy) in self.x]
        return pulp.LpAffineExpression(terms)


def build(
    problem: CapacityProblem,
    *,
    relax: bool = False,
    elastic: bool = False,
    budgets: bool = True,
    fixed: dict[tuple[int, int], int] | None = None,
) -> Model:
    """The model of ``problem``; ``fixed`` pins x[p,y] (pack index, year) for evaluating a build,
    and with it the sites open: those where the build puts nodes, from the first such year."""
    years = problem.years
    y0 = years[0]
    disc = {y: (1 + problem.discount_rate) ** -(y - y0) for y in years}
    net = network(problem)
    sites = {s.id: s for s in net.topology.sites}
    cand = {c.site.id: c for c in problem.candidates}
    m = Model(
        pulp.LpProblem("capacity", pulp.LpMinimize), net, sites, {k: c.fixed_cost_cny for k, c in cand.items()}, disc
    )
    acc = problem.topology.accelerators
    pue_cap = problem.targets.pue_cap
    cat_int = pulp.LpContinuous if relax else pulp.LpInteger
    cat_bin = pulp.LpContinuous if relax else pulp.LpBinary

    # -- variables ------------------------------------------------------------------------------
    barred = {s.id for s in sites.values() if s.tier in pue_cap and s.pue > pue_cap[s.tier] + 1e-12}  # (22)
    m.excluded = [
        f"{s}: PUE {sites[s].pue} is above the {sites[s].tier} cap {pue_cap[sites[s].tier]}" for s in sorted(barred)
    ]
    opens: dict[str, int] = {}  # with a fixed build: a site opens in the first year it holds nodes
    for (i, y), n in (fixed or {}).items():
        sid = problem.packs[i].site
        if n > 0 and sid in cand:
            opens[sid] = min(y, opens.get(sid, y))
    for sid, c in cand.items():
        for y in years:
            ok = y >= c.earliest_year and sid not in barred
            lo, hi = (0, 1 if ok else 0) if fixed is None else ((1, 1) if opens.get(sid, y + 1) <= y else (0, 0))
            m.v[sid, y] = m.prob.add_variable(f"v_{_n(sid)}_{y}", lo, hi, cat_bin)
    for i, p in enumerate(problem.packs):
        m.packs_at[p.site].append(i)
        first = max(p.earliest_year, y0 + p.lead_years, cand[p.site].earliest_year if p.site in cand else y0)
        for y in years:
            if y < first or p.site in barred:
                continue
            lo = hi = None
            if fixed is not None:
                lo = hi = fixed.get((i, y), 0)
            m.x[i, y] = m.prob.add_variable(
                f"x_{i}_{y}", lo if lo is not None else 0, hi if hi is not None else p.max_nodes, cat_int
            )
    for u in problem.upgrades:
        for y in years:
            m.g[u.id, y] = m.prob.add_variable(f"g_{_n(u.id)}_{y}", 0, 1 if y >= u.earliest_year else 0, cat_bin)
    start_cards: dict[tuple[str, str], int] = defaultdict(int)
    for s in problem.topology.sites:
        for pool in s.pools:
            start_cards[s.id, pool.accelerator] += pool.cards
    models_at: dict[str, set[str]] = defaultdict(set)
    for (sid, mod), n in start_cards.items():
        if n:
            models_at[sid].add(mod)
    for p in problem.packs:
        models_at[p.site].add(p.accelerator)
    for sid, mods in models_at.items():
        s = sites[sid]
        for mod in mods:
            kw_per_pflops = acc[mod].power_w / 1000.0 / acc[mod].pflops
            for k, spec in problem.classes.items():
                if spec.models and mod not in spec.models:
                    continue
                m.energy_kwh[sid, mod, k] = spec.target_utilisation * kw_per_pflops * s.pue * HOURS_PER_YEAR
                for y in years:
                    m.a[sid, mod, k, y] = m.prob.add_variable(f"a_{_n(sid)}_{_n(mod)}_{k}_{y}", 0)
    routes = 0
    for j, d in enumerate(problem.demand):
        m.routes[j] = routes_for(net, d)
        routes += len(m.routes[j])
        if routes > MAX_ROUTES:
            raise InputError(
                f"the model would serve demand over more than {MAX_ROUTES:,} (row, route) pairs; "
                "plan with fewer demand rows (merge origins or classes), candidate sites or years"
            )
        m.z[j] = m.prob.add_variable(f"z_{j}", 0)
        for r_i, r in enumerate(m.routes[j]):
            if r.site in models_at and r.site not in barred:
                m.f[j, r_i] = m.prob.add_variable(f"f_{j}_{r_i}", 0)

    # -- constraints ----------------------------------------------------------------------------
    prob = m.prob
    served_at: dict[tuple[str, str, int], list] = defaultdict(list)
    on_link: dict[tuple[str, int], list] = defaultdict(list)
    for (j, r_i), var in m.f.items():
        d, r = problem.demand[j], m.routes[j][r_i]
        served_at[r.site, d.klass, d.year].append(var)
        beta = problem.classes[d.klass].gbps_per_pflops
        if beta > 0:
            for lid in r.links:
                on_link[lid, d.year].append((var, beta))
        for uid in r.needs:
            prob += var <= d.capacity_pflops * m.g[uid, d.year], f"c18n_{j}_{r_i}_{_n(uid)}"
    for j, d in enumerate(problem.demand):  # (13), (21)
        served = pulp.lpSum(m.f[j, r] for r in range(len(m.routes[j])) if (j, r) in m.f)
        prob += served + m.z[j] == d.capacity_pflops, f"c13_{j}"
        if d.klass != "training" and problem.targets.coverage > 0:
            label = f"{d.klass} demand of {d.origin} in {d.year} within its ring ({_ring(d)})"
            _target(m, served, problem.targets.coverage * d.capacity_pflops, f"c21_{j}", label, elastic)
    for (sid, k, y), vars_ in served_at.items():  # (14)
        cap = pulp.lpSum(m.a[sid, mod, k, y] for mod in models_at[sid] if (sid, mod, k, y) in m.a)
        prob += pulp.lpSum(vars_) <= cap, f"c14_{_n(sid)}_{k}_{y}"
    for sid, mods in models_at.items():  # (15), (16), (17)
        s = sites[sid]
        for y in years:
            for mod in mods:
                cards = start_cards[sid, mod] + m.installed(problem, sid, y, "cards", mod)
                uses = pulp.lpSum(m.a[sid, mod, k, y] for k in problem.classes if (sid, mod, k, y) in m.a)
                prob += uses <= acc[mod].pflops * cards, f"c15_{_n(sid)}_{_n(mod)}_{y}"
            start_kw = sum(acc[mod].power_w / 1000.0 * start_cards[sid, mod] for mod in mods)
            name = f"c16_{_n(sid)}_{y}"
            cap = max(s.power_cap_kw, s.pue * start_kw)
            prob += s.pue * (start_kw + m.installed(problem, sid, y, "kw")) <= cap * m.open(sid, y), name
            m.power_rows[name] = (sid, y)
    for i, p in enumerate(problem.packs):
        for y in years:
            if (i, y) in m.x and p.site in cand:
                X = pulp.lpSum(m.x[i, yy] for yy in years if yy <= y and (i, yy) in m.x)
                prob += X <= p.max_nodes * m.v[p.site, y], f"c17_{i}_{y}"
    for key, var in ((k, m.v) for k in cand):
        for y0_, y1_ in zip(years, years[1:], strict=False):
            prob += var[key, y0_] <= var[key, y1_], f"c17v_{_n(key)}_{y1_}"
    for u in problem.upgrades:
        for y0_, y1_ in zip(years, years[1:], strict=False):
            prob += m.g[u.id, y0_] <= m.g[u.id, y1_], f"c17g_{_n(u.id)}_{y1_}"
    up = {u.id: u for u in problem.upgrades}
    for (lid, y), terms in on_link.items():  # (18)
        extra = pulp.lpSum(
            up[uid].add_gbps * m.g[uid, y] for uid in net.upgrades_of.get(lid, []) if uid not in net.new_links.values()
        )
        if lid in net.new_links:
            extra = up[net.new_links[lid]].add_gbps * m.g[net.new_links[lid], y]
        prob += pulp.lpSum(c * v for v, c in terms) <= net.bandwidth_gbps.get(lid, 0.0) + extra, f"c18_{_n(lid)}_{y}"
    spend = _spend(m, problem)
    if budgets:
        for y, limit in problem.budgets_cny.items():  # (19)
            if y in spend:
                prob += spend[y] <= limit, f"c19_{y}"
                m.budget_rows[f"c19_{y}"] = y
    for y, target in problem.targets.province_pflops.items():  # (20)
        if y in disc:
            total = sum(acc[mod].pflops * n for (_, mod), n in start_cards.items())
            label = f"province target for {y}: {target:,.0f} PFLOPS installed"
            _target(m, total + _pflops_in_service(m, problem, y), target, f"c20_{y}", label, elastic)
    for y, share in problem.targets.min_green_share.items():  # (23)
        if y in disc:
            expr = pulp.lpSum(
                (sites[sid].green_share - share) * m.energy_kwh[sid, mod, k] * var
                for (sid, mod, k, yy), var in m.a.items()
                if yy == y
            )
            scale = sum(m.energy_kwh.values()) / max(1, len(m.energy_kwh))
            _target(
                m,
                expr * (1.0 / scale),
                0.0,
                f"c23_{y}",
                f"green share for {y}: at least {share:.0%} of the energy",
                elastic,
            )
    for y, n in problem.targets.city_centres.items():  # (24)
        if y in disc:
            expr = pulp.lpSum(m.open(s.id, y) for s in sites.values() if s.tier == "city" and s.id not in barred)
            _target(m, expr, n, f"c24_{y}", f"city-level centres for {y}: at least {n} open", elastic)

    # -- objective ------------------------------------------------------------------------------
    _money(m, problem, spend)
    if elastic:
        prob.setObjective(pulp.lpSum(var / max(abs(rhs), 1.0) for var, _, rhs in m.slack.values()))
    else:
        prob.setObjective(pulp.lpSum(m.money.values()))
    return m


def _pflops_in_service(m: Model, problem: CapacityProblem, y: int) -> pulp.LpAffineExpression:
    acc = problem.topology.accelerators
    return pulp.LpAffineExpression(
        [
            (var, problem.packs[i].per_node * acc[problem.packs[i].accelerator].pflops)
            for (i, yy), var in m.x.items()
            if yy <= y
        ]
    )


def _spend(m: Model, problem: CapacityProblem) -> dict[int, pulp.LpAffineExpression]:
    """Capital paid in each year: packs when ordered, sites when opened, links when laid (19)."""
    years = list(m.disc)
    out: dict[int, list] = {y: [] for y in years}
    for (i, y), var in m.x.items():
        p = problem.packs[i]
        out[y - p.lead_years].append((var, p.capex_cny_per_node))
    for sid, cost in m.candidate.items():
        for j, y in enumerate(years):
            out[y].append((m.v[sid, y], cost))
            if j:
                out[y].append((m.v[sid, years[j - 1]], -cost))
    for u in problem.upgrades:
        for j, y in enumerate(years):
            out[y].append((m.g[u.id, y], u.cost_cny))
            if j:
                out[y].append((m.g[u.id, years[j - 1]], -u.cost_cny))
    return {y: pulp.LpAffineExpression(t) for y, t in out.items()}


def _money(m: Model, problem: CapacityProblem, spend: dict[int, pulp.LpAffineExpression]) -> None:
    """The objective's parts by (part, year), in NPV ¥: capex in the year paid (ordered), the rest
    in the year it falls due."""
    years = list(m.disc)
    parts: dict[tuple[str, int], list] = defaultdict(list)
    for (i, y), var in m.x.items():
        p = problem.packs[i]
        parts["capex", y - p.lead_years].append((var, m.disc[y - p.lead_years] * p.capex_cny_per_node))
        if p.opex_cny_per_node_year:
            for yy in years:
                if yy >= y:
                    parts["opex", yy].append((var, m.disc[yy] * p.opex_cny_per_node_year))
    for part, costs, var in [
        ("sites", m.candidate, m.v),
        ("network", {u.id: u.cost_cny for u in problem.upgrades}, m.g),
    ]:
        for key, cost in costs.items():
            for j, y in enumerate(years):
                parts[part, y].append((var[key, y], m.disc[y] * cost))
                if j:
                    parts[part, y].append((var[key, years[j - 1]], -m.disc[y] * cost))
    for (sid, mod, k, y), var in m.a.items():
        s = m.sites[sid]
        kwh = m.energy_kwh[sid, mod, k]
        zone = problem.topology.grid_zones[s.grid_zone]
        parts["energy", y].append((var, m.disc[y] * kwh * problem.price_cny_per_kwh.get(s.grid_zone, 0.0)))
        co2_t = kwh * zone.carbon_kg_per_kwh * (1 - s.green_share) / 1000.0
        parts["carbon", y].append((var, m.disc[y] * co2_t * problem.carbon_cny_per_t))
    for j, d in enumerate(problem.demand):
        parts["unserved", d.year].append(
            (m.z[j], m.disc[d.year] * problem.classes[d.klass].penalty_cny_per_pflops_year)
        )
    m.money = {key: pulp.LpAffineExpression(terms) for key, terms in parts.items()}


def _target(m: Model, expr, rhs: float, name: str, label: str, elastic: bool) -> None:
    if elastic:
        s = m.prob.add_variable(f"slack_{name}", 0)
        m.slack[name] = (s, label, rhs)
        m.prob += expr + s >= rhs, name
    else:
        m.prob += expr >= rhs, name


def _ring(d: Demand) -> str:
    if d.max_jitter_us is not None:
        return f"jitter ≤ {d.max_jitter_us:g} µs" + (f", RTT ≤ {d.rtt_slo_ms:g} ms" if d.rtt_slo_ms else "")
    return f"RTT ≤ {d.rtt_slo_ms:g} ms" if d.rtt_slo_ms is not None else "anywhere"


def _n(text: str) -> str:
    """A name PuLP accepts (letters, digits and _)."""
    return "".join(ch if ch.isalnum() else "_" for ch in text)
