"""Hand-made capacity plans, for comparison with the MILP: the rules a planner would use.

* ``proportional`` — each year, bring each city's installed PFLOPS up to its share (by demand) of
  the larger of the year's demand and the province target, at the cheapest pack (¥ per PFLOPS) of
  a site in that city (or of the nearest city that has one);
* ``hubs`` — each year, add what the year's demand and the target need beyond what is
  installed, all at the national hubs.

A rule decides what is bought and so which sites open (those it puts nodes in; it meets a
city-centre target by a node at each of the cheapest candidate centres); what that costs and
serves is read by :func:`evaluate`: the MILP with the purchases fixed (link upgrades and dispatch
chosen at their best), coverage left to the penalty so that a plan that cannot serve a ring is
priced, not rejected. A build that
leaves the targets short is grown (×1.15 per round, at most eight rounds) until it meets them.
The simulator-driven rule ("add where the queue is longest") is in
:mod:`suanwang.simulations.capacity_check`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace

from suanwang.solvers.capacity import capital_spent, plan_capacity
from suanwang.solvers.capacity_problem import CapacityPlan, CapacityProblem
from suanwang.topology.geo import great_circle_km

BASELINES = ("proportional", "hubs")


@dataclass
class Build:
    """Nodes bought per (pack index, year in service), within floor space and power caps."""

    problem: CapacityProblem
    nodes: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))

    def total(self, i: int) -> int:
        return sum(n for (j, _), n in self.nodes.items() if j == i)

    def kw(self, site: str, year: int) -> float:
        """Facility kW at full load of what is installed at ``site`` in ``year``."""
        s = site_of(self.problem, site)
        acc = self.problem.topology.accelerators
        start = sum(p.cards * acc[p.accelerator].power_w / 1000 for p in s.pools)
        added = sum(
            n * self.problem.packs[i].kw_per_node
            for (i, y), n in self.nodes.items()
            if self.problem.packs[i].site == site and y <= year
        )
        return s.pue * (start + added)

    def pflops(self, year: int) -> float:
        acc = self.problem.topology.accelerators
        start = sum(p.cards * acc[p.accelerator].pflops for s in self.problem.topology.sites for p in s.pools)
        return start + sum(
            n * self.problem.packs[i].per_node * acc[self.problem.packs[i].accelerator].pflops
            for (i, y), n in self.nodes.items()
            if y <= year
        )

    def pflops_in(self, city: str, year: int) -> float:
        acc = self.problem.topology.accelerators
        start = sum(
            p.cards * acc[p.accelerator].pflops for s in self.problem.topology.sites if s.city == city for p in s.pools
        )
        return start + sum(
            n * self.problem.packs[i].per_node * acc[self.problem.packs[i].accelerator].pflops
            for (i, y), n in self.nodes.items()
            if y <= year and site_of(self.problem, self.problem.packs[i].site).city == city
        )

    def buy(self, sites: list[str], year: int, pflops: float) -> float:
        """Buy about ``pflops`` at the cheapest packs (¥/PFLOPS) of ``sites`` in service by
        ``year``; returns the PFLOPS bought (less where floor space and power run out)."""
        acc = self.problem.topology.accelerators
        bought = 0.0
        for i in sorted(_packs(self.problem, sites, year), key=lambda i: _cost_per_pflops(self.problem, i)):
            p = self.problem.packs[i]
            pf = p.per_node * acc[p.accelerator].pflops
            s = site_of(self.problem, p.site)
            room_kw = s.power_cap_kw - max(self.kw(p.site, y) for y in self.problem.years if y >= year)
            can = min(p.max_nodes - self.total(i), int(room_kw // (s.pue * p.kw_per_node)))
            want = math.ceil((pflops - bought) / pf - 1e-9)
            n = max(0, min(can, want))
            if n:
                self.nodes[i, _first_year(self.problem, i, year)] += n
                bought += n * pf
            if bought >= pflops - 1e-9:
                break
        return bought

    def ensure_centres(self, year: int) -> None:
        """Meet the city-centre target of ``year`` as a planner would: one node at each of the
        cheapest (fixed cost) city-tier candidates not yet open, until enough are."""
        want = self.problem.targets.city_centres.get(year)
        if want is None:
            return
        opened = {self.problem.packs[i].site for (i, y), n in self.nodes.items() if n and y <= year}
        cities = [s for s in self.problem.topology.sites if s.tier == "city"]
        have = len(cities) + sum(1 for c in self.problem.candidates if c.site.id in opened and c.site.tier == "city")
        for c in sorted(self.problem.candidates, key=lambda c: c.fixed_cost_cny):
            if have >= want:
                break
            if c.site.tier == "city" and c.site.id not in opened and c.earliest_year <= year:
                if self.buy([c.site.id], year, 1e-6) > 0:
                    have += 1

    def fixed(self) -> dict[tuple[int, int], int]:
        return {k: n for k, n in self.nodes.items() if n}


def evaluate(problem: CapacityProblem, build: dict[tuple[int, int], int]) -> CapacityPlan:
    """What a build costs and serves: the MILP with x fixed, coverage priced by the penalty, and
    budgets not enforced (a rule does not plan to a budget) but reported where overrun."""
    relaxed = replace(problem, targets=replace(problem.targets, coverage=0.0), objective="npv", budgets_cny={})
    plan = plan_capacity(relaxed, fixed=build, duals=False)
    if plan.status not in ("optimal", "feasible"):
        return plan
    over = []
    for y, limit in sorted(problem.budgets_cny.items()):
        spent = capital_spent(problem, plan, y)
        if spent > limit * (1 + 1e-9):
            over.append(f"spends ¥{spent / 1e6:,.1f} M in {y}, over its budget of ¥{limit / 1e6:,.1f} M")
    return replace(plan, reasons=plan.reasons + tuple(over))


def baseline(problem: CapacityProblem, rule: str) -> tuple[CapacityPlan, dict[tuple[int, int], int]]:
    """The plan a rule makes, evaluated; grown until it meets the targets (or eight rounds)."""
    scale = 1.0
    plan, fixed = None, {}
    for _ in range(8):
        fixed = _rule(problem, rule, scale)
        plan = evaluate(problem, fixed)
        if plan.status in ("optimal", "feasible") and _served_enough(problem, plan):
            break
        scale *= 1.15
    assert plan is not None
    return plan, fixed


def _served_enough(problem: CapacityProblem, plan: CapacityPlan) -> bool:
    return sum(plan.unserved.values()) <= 1e-6 * max(1.0, sum(plan.demand.values()))


def _rule(problem: CapacityProblem, rule: str, scale: float) -> dict[tuple[int, int], int]:
    b = Build(problem)
    cities = list(problem.topology.cities)
    all_sites = [s.id for s in problem.topology.sites] + [c.site.id for c in problem.candidates]
    hubs = [s for s in all_sites if site_of(problem, s).tier == "hub"]
    for y in problem.years:
        need_by_city: dict[str | None, float] = defaultdict(float)
        for d in problem.demand:
            if d.year == y:
                need_by_city[d.origin] += d.capacity_pflops
        demand = sum(need_by_city.values())
        usable = b.pflops(y)
        target = problem.targets.province_pflops.get(y, 0.0)
        if rule == "hubs":
            gap = scale * max(0.0, demand - usable, target - usable)
            if gap > 0:
                b.buy(hubs, y, gap)
            b.ensure_centres(y)
            continue
        total = scale * max(demand, target)  # installed in each city ∝ its demand
        for city in cities:
            share = need_by_city.get(city, 0.0) + need_by_city.get(None, 0.0) / len(cities)
            want = total * share / demand - b.pflops_in(city, y)
            for near in nearest_cities(problem, city):
                if want <= 1e-9:
                    break
                at = [s for s in all_sites if site_of(problem, s).city == near]
                want -= b.buy(at, y, want)
        b.ensure_centres(y)
    return b.fixed()


def nearest_cities(problem: CapacityProblem, city: str) -> list[str]:
    cs = problem.topology.cities
    c = cs[city]
    return sorted(cs, key=lambda n: great_circle_km(c.lat, c.lon, cs[n].lat, cs[n].lon))


def _packs(problem: CapacityProblem, sites: list[str], year: int) -> list[int]:
    cap = problem.targets.pue_cap
    out = []
    for i, p in enumerate(problem.packs):
        s = site_of(problem, p.site)
        if p.site in sites and _first_year(problem, i, year) <= year and not (s.tier in cap and s.pue > cap[s.tier]):
            out.append(i)
    return out


def _first_year(problem: CapacityProblem, i: int, year: int) -> int:
    p = problem.packs[i]
    site_year = next((c.earliest_year for c in problem.candidates if c.site.id == p.site), problem.years[0])
    return max(year, p.earliest_year, problem.years[0] + p.lead_years, site_year)


def _cost_per_pflops(problem: CapacityProblem, i: int) -> float:
    p = problem.packs[i]
    return p.capex_cny_per_node / (p.per_node * problem.topology.accelerators[p.accelerator].pflops)


def site_of(problem: CapacityProblem, sid: str):
    for s in problem.topology.sites:
        if s.id == sid:
            return s
    for c in problem.candidates:
        if c.site.id == sid:
            return c.site
    raise KeyError(sid)


__all__ = ["BASELINES", "Build", "baseline", "evaluate"]
