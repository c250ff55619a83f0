"""Synthetic jobs and topologies with realistic, quantised shapes.

Jobs: sizes 1–512 cards in powers of two (small jobs most common, as in the Alibaba openb and
PAI traces where most GPU jobs ask for ≤ 8 GPUs), training/inference/batch mix, tenants, origin
cities, data locations, deadlines and deterministic inference. Topologies: ``n`` sites spread over
the 13 Jiangsu cities with the built-in backbone and CENI subset, pools drawn from the built-in mix.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from suanwang.solvers.problem import AcceleratorRequest, DataLocation, Deterministic, Job, JobId
from suanwang.topology.model import KubeTarget, Metro, Pool, Site, SiteId, Topology, facility_kw

TENANTS = (
    "nju-ai-lab",
    "seu-vision",
    "suda-nlp",
    "jiangnan-u",
    "xcmg-robotics",
    "hengrui-pharma",
    "js-gov-data",
    "nj-city-brain",
)
SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
SIZE_WEIGHTS = (20, 10, 14, 30, 10, 6, 4, 3, 2, 1)
TRAIN_MODELS = (("H800",), ("H800", "A800"), ("Ascend910B",), ())
INFER_MODELS = (("H20",), ("H20", "A800"), ("Ascend910B", "H20"), ())
DURATIONS_H = (1, 2, 4, 8, 24, 72)
SLOS_MS = (2.0, 5.0, 10.0, 20.0)  # 5 ms: regional ring; 20 ms: national ring (NDRC, Dec 2023)
# rough weights by population (millions, 2023 census-style figures, rounded)
CITY_WEIGHTS = {
    "Nanjing": 9.5,
    "Suzhou": 12.9,
    "Wuxi": 7.5,
    "Changzhou": 5.4,
    "Xuzhou": 9.0,
    "Nantong": 7.7,
    "Yancheng": 6.7,
    "Yangzhou": 4.6,
    "Taizhou": 4.5,
    "Huai'an": 4.5,
    "Lianyungang": 4.6,
    "Suqian": 5.0,
    "Zhenjiang": 3.2,
}


def generate_jobs(topology: Topology, n: int, now: datetime, seed: int = 7, det_share: float = 0.08) -> list[Job]:
    rng = random.Random(seed)
    cities = [c for c in topology.cities if c in CITY_WEIGHTS] or list(topology.cities)
    cw = [CITY_WEIGHTS.get(c, 1.0) for c in cities]
    site_ids = [s.id for s in topology.sites]
    jobs: list[Job] = []
    for i in range(n):
        r = rng.random()
        kind = "training" if r < 0.6 else "inference" if r < 0.9 else "batch"
        prio = rng.choice((1, 1, 2, 2, 3, 4, 5))
        tenant = rng.choice(TENANTS)
        submitted = now - timedelta(hours=rng.choice((0, 0, 1, 3, 12)))
        if kind == "inference":
            count = rng.choice((1, 2, 4, 8, 8, 16))
            per_node = min(count, 8)
            models = rng.choice(INFER_MODELS)
            origin = rng.choices(cities, cw)[0]
            slo = rng.choice(SLOS_MS)
            det = None
            if rng.random() < det_share:
                det = Deterministic(rng.choice((10.0, 20.0, 40.0)), rng.choice((1.0, 5.0, 10.0)))
            jobs.append(
                Job(
                    JobId(f"inf-{i:06d}"),
                    "inference",
                    tenant,
                    prio,
                    AcceleratorRequest(count, per_node, models, 0.0),
                    duration_h=rng.choice((1, 8, 24)),
                    origin=origin,
                    latency_slo_ms=slo,
                    deterministic=det,
                    submitted_at=submitted,
                )
            )
            continue
        count = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        per_node = min(count, 8)
        models = rng.choice(TRAIN_MODELS)
        duration = rng.choice(DURATIONS_H)
        data = None
        deadline = None
        if rng.random() < 0.3:
            loc = rng.choice(cities) if rng.random() < 0.7 else rng.choice(site_ids)
            data = DataLocation(loc, rng.choice((0.5, 5.0, 50.0)))
            if rng.random() < 0.3:
                deadline = now + timedelta(hours=duration + rng.choice((2, 12, 48)))
        jobs.append(
            Job(
                JobId(f"{kind[:5]}-{i:06d}"),
                kind,
                tenant,
                prio,
                AcceleratorRequest(count, per_node, models, 0.0),
                duration_h=duration,
                data=data,
                deadline=deadline,
                preemptible=kind == "batch",
                submitted_at=submitted,
            )
        )
    return jobs


def demand_scale(jobs: list[Job], base: Topology, load: float) -> float:
    """Capacity scale for :func:`generate_topology` so that cards asked ÷ cards held ≈ ``load``."""
    asked = sum(j.accelerators.count for j in jobs)
    held = sum(p.cards for s in base.sites for p in s.pools)
    return asked / held / load


def generate_topology(base: Topology, n_sites: int, seed: int = 11, scale: float = 1.0) -> Topology:
    """``n_sites`` sites over ``base``'s cities, its links kept; pools drawn from ``base``'s sites.

    Total cards stay near ``scale`` × the base network's, so demand per site shrinks as sites grow.
    """
    rng = random.Random(seed)
    cities = list(base.cities)
    templates = list(base.sites)
    base_nodes = sum(p.nodes for s in base.sites for p in s.pools)
    sites: list[Site] = []
    for i in range(n_sites):
        city = cities[i % len(cities)] if i < len(cities) else rng.choice(cities)
        t = rng.choice(templates)
        c = base.cities[city]
        tier = "hub" if t.tier == "hub" else ("city" if i < len(cities) else rng.choice(("city", "edge")))
        pools = tuple(Pool(p.accelerator, max(1, p.nodes), p.per_node) for p in t.pools)
        sites.append(
            Site(
                SiteId(f"g{i:03d}-{city[:3].lower()}"),
                c.name,
                tier,
                t.pue,
                t.power_cap_kw,
                t.grid_zone,
                t.green_share,
                pools,
                KubeTarget(f"gen-{i:03d}", "suanwang"),
                Metro("ceni" if t.metro.kind == "ceni" else "otn", 400.0),
                c.lat + rng.uniform(-0.05, 0.05),
                c.lon + rng.uniform(-0.05, 0.05),
            )
        )
    nodes_now = sum(p.nodes for s in sites for p in s.pools)
    factor = scale * base_nodes / nodes_now
    scaled = []
    for s in sites:
        pools = tuple(Pool(p.accelerator, max(1, round(p.nodes * factor)), p.per_node) for p in s.pools)
        full_kw = sum(facility_kw(p.nodes * p.per_node, base.accelerators[p.accelerator], s.pue) for p in pools)
        # some sites are power-limited below full load, as when a grid connection lags the build-out
        scaled.append(replace(s, pools=pools, power_cap_kw=round(full_kw * rng.uniform(0.8, 1.1), 1)))
    return replace(base, name=f"{base.name}-gen{n_sites}", sites=tuple(scaled), source=f"generated({n_sites})")
