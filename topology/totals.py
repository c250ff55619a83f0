"""Totals of the network: cards, PFLOPS, and power at full load, by tier, city and accelerator."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from suanwang.topology.model import Pool, Site, Topology, facility_kw

GroupBy = Literal["tier", "city", "accelerator", "site"]


@dataclass(frozen=True)
class Totals:
    """Aggregates over pools. ``it_kw`` is the cards' board power; ``facility_kw`` adds PUE."""

    sites: int = 0
    nodes: int = 0
    cards: int = 0
    pflops: float = 0.0
    it_kw: float = 0.0
    facility_kw: float = 0.0
    power_cap_kw: float = 0.0

    def __add__(self, o: Totals) -> Totals:
        return Totals(
            self.sites + o.sites,
            self.nodes + o.nodes,
            self.cards + o.cards,
            self.pflops + o.pflops,
            self.it_kw + o.it_kw,
            self.facility_kw + o.facility_kw,
            self.power_cap_kw + o.power_cap_kw,
        )

    def to_dict(self) -> dict[str, float | int]:
        return {
            "sites": self.sites,
            "nodes": self.nodes,
            "cards": self.cards,
            "pflops": round(self.pflops, 3),
            "it_kw": round(self.it_kw, 3),
            "facility_kw": round(self.facility_kw, 3),
            "power_cap_kw": round(self.power_cap_kw, 3),
        }


def pool_totals(topo: Topology, site: Site, pool: Pool) -> Totals:
    acc = topo.accelerators[pool.accelerator]
    it_kw = facility_kw(pool.cards, acc, 1.0)
    return Totals(
        0, pool.nodes, pool.cards, pool.cards * acc.pflops, it_kw, facility_kw(pool.cards, acc, site.pue), 0.0
    )


def site_totals(topo: Topology, site: Site) -> Totals:
    t = Totals(1, power_cap_kw=site.power_cap_kw)
    for pool in site.pools:
        t = t + pool_totals(topo, site, pool)
    return t


def totals_by(topo: Topology, by: GroupBy) -> dict[str, Totals]:
    """Totals grouped by tier, city, accelerator or site. Every city appears, even without sites."""
    out: dict[str, Totals] = defaultdict(Totals)
    if by == "city":
        for c in topo.cities:
            out[c] = Totals()
    for s in topo.sites:
        if by == "accelerator":
            for model in dict.fromkeys(p.accelerator for p in s.pools):
                t = Totals(1)  # a site counts once per model it holds
                for pool in s.pools:
                    if pool.accelerator == model:
                        t = t + pool_totals(topo, s, pool)
                out[model] = out[model] + t
        else:
            key = {"tier": s.tier, "city": s.city, "site": s.id}[by]
            out[key] = out[key] + site_totals(topo, s)
    return dict(out)


def province_totals(topo: Topology) -> Totals:
    t = Totals()
    for s in topo.sites:
        t = t + site_totals(topo, s)
    return t
