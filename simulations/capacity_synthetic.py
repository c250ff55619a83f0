"""Synthetic capacity-planning problems of a given size, for benchmarks and tests.

``synthetic_planning(sites, years, models)`` starts from the built-in Jiangsu network and adds
``sites`` candidate sites spread over the 13 cities (tiers, PUE, power caps, green shares and
fixed costs drawn around the built-in's), packs of every one of ``models`` accelerator models at
each candidate and at the existing sites, and demand by city and class growing 30 % a year; from
the second year a province target 10 % above demand and city-ring inference; per-tier PUE caps,
ten city-level centres and a budget a year. Every number is drawn with ``seed`` from ranges
stated here (planning assumptions).
"""

from __future__ import annotations

import random

from suanwang.simulations.capacity_demand import Use
from suanwang.simulations.capacity_file import CLASS_DEFAULTS, PlanningFile
from suanwang.simulations.capacity_load import Planning, mean_price
from suanwang.simulations.synthetic import CITY_WEIGHTS
from suanwang.solvers.capacity_problem import CandidateSite, CapacityProblem, ClassSpec, Demand, Pack, Targets
from suanwang.topology.loader import load_topology
from suanwang.topology.model import AcceleratorModel, KubeTarget, Site, SiteId

# ¥ per 8-card node (indicative) for the built-in models; the first ``models`` are used
CAPEX_PER_NODE = {"Ascend910B": 1.2e6, "H20": 1.0e6, "A800": 1.3e6, "H800": 2.4e6, "A100": 1.4e6, "H100": 2.6e6}


def synthetic_planning(sites: int, years: int, models: int, seed: int = 11) -> Planning:
    rng = random.Random(seed)
    topo = load_topology(None)
    acc = [m for m in CAPEX_PER_NODE if m in topo.accelerators][:models]
    cities = list(topo.cities)
    tiers = ("hub", "city", "city", "edge", "edge")
    cand = []
    for i in range(sites):
        city = cities[i % len(cities)]
        tier = rng.choice(tiers)
        pue = {"hub": rng.uniform(1.15, 1.3), "city": rng.uniform(1.2, 1.35), "edge": rng.uniform(1.3, 1.55)}[tier]
        cap = {"hub": rng.uniform(2000, 6000), "city": rng.uniform(600, 2500), "edge": rng.uniform(100, 500)}[tier]
        site = Site(
            SiteId(f"c{i:03d}-{tier}"), city, tier, round(pue, 3), round(cap), "jiangsu",  # type: ignore[arg-type]
            round(rng.uniform(0.2, 0.9), 2), (), KubeTarget(f"c{i:03d}"),
        )  # fmt: skip
        cand.append(CandidateSite(site, round(cap * rng.uniform(5e4, 8e4), -5), 2025 + rng.randrange(0, 2)))
    y0 = 2025
    ys = tuple(range(y0, y0 + years))
    packs = []
    for s in [*topo.sites, *(c.site for c in cand)]:
        for m in acc:
            price = CAPEX_PER_NODE[m] * rng.uniform(0.9, 1.15)
            packs.append(
                Pack(s.id, AcceleratorModel(m), 8, round(price, -3), 8 * topo.accelerators[m].power_w / 1000,
                     y0 + rng.randrange(0, 2), rng.choice((0, 0, 1)), rng.randrange(16, 200))
            )  # fmt: skip
    classes = {k: ClassSpec((), **v) for k, v in CLASS_DEFAULTS.items()}  # type: ignore[arg-type]
    installed = sum(p.cards * topo.accelerators[p.accelerator].pflops for s in topo.sites for p in s.pools)
    total_w = sum(CITY_WEIGHTS.values())
    demand, uses = [], {y: [] for y in ys}
    for j, y in enumerate(ys):
        scale = installed * 0.7 * 1.3**j
        for c in cities:
            w = CITY_WEIGHTS.get(c, 1.0) / total_w
            for klass, share, rtt in (("training", 0.7, None), ("inference", 0.25, 5.0), ("inference", 0.03, 1.0)):
                if rtt == 1.0 and j == 0:
                    continue  # city rings from the second year, when candidate sites can open
                load = scale * share * w
                uses[y].append(Use(c, klass, load, rtt))
                demand.append(Demand(c, klass, y, load / classes[klass].target_utilisation, rtt))  # type: ignore[arg-type]
    need = {y: sum(d.capacity_pflops for d in demand if d.year == y) for y in ys}
    problem = CapacityProblem(
        topology=topo,
        years=ys,
        packs=tuple(packs),
        candidates=tuple(cand),
        upgrades=(),
        classes=classes,
        demand=tuple(demand),
        budgets_cny={y: 6e9 for y in ys},
        price_cny_per_kwh={"jiangsu": mean_price(topo, "jiangsu", y0)},
        carbon_cny_per_t=100.0,
        discount_rate=0.06,
        targets=Targets(
            province_pflops={y: 1.1 * need[y] for y in ys[1:]},
            city_centres={ys[-1]: 10},
            pue_cap={"hub": 1.25, "city": 1.3, "edge": 1.5},
            coverage=1.0,
        ),
    )
    spec = PlanningFile.model_validate(
        {"years": list(ys), "demand": {"rows": [{"year": y0, "class": "training", "pflops": 1}]}}
    )
    return Planning(f"synthetic-{sites}x{years}x{models}", problem, spec, {y: tuple(u) for y, u in uses.items()})
