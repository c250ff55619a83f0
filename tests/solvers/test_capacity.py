"""The capacity MILP on small instances whose optimum is known by hand: nodes bought to meet
demand, cumulative purchases, discounting and lead times, site openings forced by a latency ring,
power caps and their dual prices, new links for deterministic paths, green-share and PUE targets,
the penalty and the lexicographic objective, infeasible budgets diagnosed with the targets that
bind, CBC and HiGHS agreeing, and a fixed build priced by the same model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from suanwang.solvers.capacity import plan_capacity
from suanwang.solvers.capacity_problem import (
    CandidateSite,
    CapacityProblem,
    ClassSpec,
    Demand,
    LinkUpgrade,
    Pack,
    Targets,
)
from suanwang.topology.loader import load_topology
from suanwang.topology.model import KubeTarget, Metro, Site

# One card = 1 PFLOPS and 700 W; a node of 8 cards = 8 PFLOPS, 5.6 kW IT, 7 kW at PUE 1.25.
TOPO = """
name: tiny
accelerators:
  X: {fp16_tflops: 1000, memory_gb: 80, power_w: 700, resource: nvidia.com/gpu}
cities:
  A: {lat: 32.0, lon: 118.8}
  B: {lat: 33.0, lon: 119.8}
grid_zones:
  z: {carbon_kg_per_kwh: 0.5, tariff: [{start_hour: 0, end_hour: 24, cny_per_kwh: 0.5}]}
sites:
  - {id: a-city, city: A, tier: city, pue: 1.25, power_cap_kw: 100, grid_zone: z, green_share: 0.2,
     pools: [{accelerator: X, nodes: 1, per_node: 8}], metro: {kind: ceni, bandwidth_gbps: 400}}
links:
  - {from: A, to: B, kind: otn, bandwidth_gbps: 100}
"""
FREE = ClassSpec((), 1.0, 0.0, 1e9)  # utilisation 1, no traffic, a prohibitive penalty
CLASSES = {"training": FREE, "inference": FREE, "deterministic": FREE}


@pytest.fixture(scope="module")
def topo():
    return load_topology("tiny.yaml", text=TOPO)


def problem(topo, demand, packs=None, **kw) -> CapacityProblem:
    base = {
        "topology": topo,
        "years": (2025,),
        "packs": tuple(packs if packs is not None else [Pack("a-city", "X", 8, 1e6, 5.6, 2025, 0, 100)]),
        "candidates": (),
        "upgrades": (),
        "classes": CLASSES,
        "demand": tuple(demand),
        "budgets_cny": {},
        "price_cny_per_kwh": {"z": 0.0},
        "carbon_cny_per_t": 0.0,
        "discount_rate": 0.0,
        "targets": Targets(),
    }
    base.update(kw)
    return CapacityProblem(**base)


def nodes(plan, site=None, year=None) -> int:
    return sum(a.nodes for a in plan.additions if (site is None or a.site == site) and (year is None or a.year == year))


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_buys_the_fewest_nodes_that_meet_demand(topo, solver):
    # 20 PFLOPS asked, 8 installed: two nodes of 8 (one would leave 4 short)
    plan = plan_capacity(problem(topo, [Demand("A", "training", 2025, 20.0)], solver=solver))
    assert plan.status == "optimal"
    assert nodes(plan) == 2
    assert plan.npv_cny == pytest.approx(2e6)
    assert plan.bound_cny <= plan.objective_cny + 1e-6
    assert plan.gap <= 0.01 + 1e-9
    assert plan.served_share == pytest.approx(1.0)


def test_what_is_bought_stays_and_is_paid_when_ordered(topo):
    demand = [Demand("A", "training", y, pf) for y, pf in ((2025, 8.0), (2026, 16.0), (2027, 16.0))]
    years = (2025, 2026, 2027)
    plan = plan_capacity(problem(topo, demand, years=years, discount_rate=0.1))
    assert [(a.year, a.nodes) for a in plan.additions] == [(2026, 1)]  # 2027 keeps 2026's node
    assert plan.npv_cny == pytest.approx(1e6 / 1.1)  # paid in 2026, discounted one year
    lead = [Pack("a-city", "X", 8, 1e6, 5.6, 2025, 1, 100)]
    plan = plan_capacity(problem(topo, demand, packs=lead, years=years, discount_rate=0.1))
    assert plan.additions[0].order_year == 2025 and plan.additions[0].year == 2026
    assert plan.npv_cny == pytest.approx(1e6)  # ordered a year ahead: paid undiscounted in 2025


def test_energy_and_carbon_are_priced_at_the_site(topo):
    # 8 PFLOPS used all year on the installed node: 5.6 kW × 1.25 × 8760 h = 61,320 kWh
    kwh = 5.6 * 1.25 * 8760
    plan = plan_capacity(
        problem(topo, [Demand("A", "training", 2025, 8.0)], price_cny_per_kwh={"z": 0.5}, carbon_cny_per_t=100.0)
    )
    assert plan.costs_cny[2025]["energy"] == pytest.approx(kwh * 0.5)
    assert plan.costs_cny[2025]["carbon"] == pytest.approx(kwh * 0.5 * 0.8 / 1000 * 100)  # 20 % green
    assert plan.npv_cny == pytest.approx(kwh * 0.5 + kwh * 0.5 * 0.8 / 10)


def test_a_city_ring_opens_a_site_in_that_city(topo):
    b = Site("b-city", "B", "city", 1.25, 100.0, "z", 0.0, (), KubeTarget("b"))
    packs = [Pack("a-city", "X", 8, 1e6, 5.6, 2025, 0, 100), Pack("b-city", "X", 8, 1e6, 5.6, 2025, 0, 100)]
    demand = [Demand("B", "inference", 2025, 4.0, rtt_slo_ms=1.0)]
    p = problem(topo, demand, packs=packs, candidates=(CandidateSite(b, 5e6, 2025),), targets=Targets(coverage=1.0))
    plan = plan_capacity(p)
    assert plan.openings == {"b-city": 2025}
    assert nodes(plan, "b-city") == 1 and nodes(plan, "a-city") == 0  # a-city's free node is out of the ring
    assert plan.npv_cny == pytest.approx(6e6)
    loose = plan_capacity(replace(p, demand=(Demand("B", "inference", 2025, 4.0, rtt_slo_ms=20.0),)))
    assert loose.openings == {} and loose.npv_cny == pytest.approx(0.0)  # within 20 ms: a-city serves it


def test_a_binding_power_cap_moves_work_and_has_a_dual_price(topo):
    # a-city: cap 100 kW holds the installed 7 kW and 13 more nodes; the 15th must go to b-city (¥1.5 M)
    b = Site("b-city", "B", "city", 1.25, 1000.0, "z", 0.0, (), KubeTarget("b"))
    packs = [Pack("a-city", "X", 8, 1e6, 5.6, 2025, 0, 100), Pack("b-city", "X", 8, 1.5e6, 5.6, 2025, 0, 100)]
    p = problem(
        topo, [Demand(None, "training", 2025, 8.0 * 15)], packs=packs, candidates=(CandidateSite(b, 0.0, 2025),)
    )
    plan = plan_capacity(p)
    assert nodes(plan, "a-city") == 13 and nodes(plan, "b-city") == 1
    assert all(s.power_kw <= s.power_cap_kw + 1e-6 for s in plan.sites)
    # LP relaxation: one more kW at a-city buys 1/7 of a node there instead of at b-city: ¥0.5 M / 7 kW
    assert plan.power_value_cny_per_kw[("a-city", 2025)] == pytest.approx(0.5e6 / 7.0, rel=1e-6)


def test_a_deterministic_row_needs_its_new_ceni_link(topo):
    b = Site("b-city", "B", "city", 1.25, 1000.0, "z", 0.0, (), KubeTarget("b"), Metro("ceni", 400.0))
    demand = [Demand("B", "deterministic", 2025, 8.0, rtt_slo_ms=20.0, max_jitter_us=100.0)]
    cls = dict(CLASSES, deterministic=ClassSpec((), 1.0, 1.0, 1e9))  # 1 Gbit/s per PFLOPS
    ceni = LinkUpgrade("ab-ceni", "A", "B", 100.0, 3e6, 2025, new=True, kind="ceni", jitter_us=10.0)
    packs = [Pack("b-city", "X", 8, 5e6, 5.6, 2025, 0, 100)]
    p = problem(topo, demand, packs=packs, candidates=(CandidateSite(b, 0.0, 2025),), upgrades=(ceni,), classes=cls)
    plan = plan_capacity(p)
    assert plan.upgrades == {"ab-ceni": 2025}  # a-city's node over the new link: ¥3 M, not a ¥5 M node
    assert plan.npv_cny == pytest.approx(3e6)
    small = replace(ceni, add_gbps=4.0)  # room for 4 of the 8 PFLOPS: a node at b-city is needed anyway
    plan = plan_capacity(replace(p, upgrades=(small,)))
    assert plan.upgrades == {} and nodes(plan, "b-city") == 1 and plan.npv_cny == pytest.approx(5e6)


def test_pue_and_green_targets(topo):
    dirty = Site("b-city", "B", "city", 1.4, 1000.0, "z", 0.9, (), KubeTarget("b"))
    packs = [Pack("a-city", "X", 8, 1e6, 5.6, 2025, 0, 100), Pack("b-city", "X", 8, 2e6, 5.6, 2025, 0, 100)]
    demand = [Demand(None, "training", 2025, 16.0)]
    cand = (CandidateSite(dirty, 0.0, 2025),)
    green = plan_capacity(
        problem(topo, demand, packs=packs, candidates=cand, targets=Targets(min_green_share={2025: 0.5}))
    )
    assert nodes(green, "b-city") >= 1  # a-city is 20 % green: half the energy must come from the 90 % site
    capped = problem(topo, demand, packs=packs, candidates=cand, targets=Targets(pue_cap={"city": 1.3}))
    plan = plan_capacity(capped)
    assert nodes(plan, "b-city") == 0 and any("PUE 1.4 is above the city cap 1.3" in r for r in plan.reasons)


def test_the_penalty_decides_and_lexicographic_serves_first(topo):
    demand = [Demand("A", "training", 2025, 16.0)]
    cheap = dict(CLASSES, training=ClassSpec((), 1.0, 0.0, 1e4))  # ¥10 k a PFLOPS·year left unserved
    plan = plan_capacity(problem(topo, demand, classes=cheap))
    assert nodes(plan) == 0 and sum(plan.unserved.values()) == pytest.approx(8.0)
    assert plan.penalty_cny == pytest.approx(8e4) and plan.objective_cny == pytest.approx(8e4)
    lex = plan_capacity(problem(topo, demand, classes=cheap, objective="lexicographic"))
    assert nodes(lex) == 1 and not lex.unserved


def test_an_infeasible_budget_names_the_binding_target(topo):
    p = problem(
        topo,
        [Demand("A", "training", 2025, 8.0)],
        budgets_cny={2025: 1.5e6},
        targets=Targets(province_pflops={2025: 24.0}),
    )
    plan = plan_capacity(p)
    assert plan.status == "infeasible" and not plan.additions
    assert any("province target for 2025" in r and "8 short" in r for r in plan.reasons)
    assert any("budgets of 2025 bind" in r for r in plan.reasons)
    floor = replace(p, budgets_cny={}, packs=(Pack("a-city", "X", 8, 1e6, 5.6, 2025, 0, 1),))
    plan = plan_capacity(floor)
    assert plan.status == "infeasible"
    assert any("province target for 2025" in r for r in plan.reasons)
    feasible = plan_capacity(replace(p, budgets_cny={2025: 2e6}))
    assert feasible.status == "optimal" and nodes(feasible) == 2


def test_a_fixed_build_is_priced_by_the_same_model(topo):
    p = problem(topo, [Demand("A", "training", 2025, 20.0)])
    over = plan_capacity(p, fixed={(0, 2025): 5})
    assert nodes(over) == 5 and over.npv_cny == pytest.approx(5e6)
    short = plan_capacity(
        replace(p, classes=dict(CLASSES, training=ClassSpec((), 1.0, 0.0, 1e5))), fixed={(0, 2025): 1}
    )
    assert sum(short.unserved.values()) == pytest.approx(4.0)


def test_costs_by_year_add_up_and_the_bound_holds(topo):
    demand = [Demand("A", "training", y, 8.0 * k) for y, k in ((2025, 2), (2026, 3), (2027, 5))]
    p = problem(topo, demand, years=(2025, 2026, 2027), discount_rate=0.06, price_cny_per_kwh={"z": 0.6})
    for solver in ("highs", "cbc"):
        plan = plan_capacity(replace(p, solver=solver))
        total = sum(v for c in plan.costs_cny.values() for k, v in c.items() if k != "unserved")
        assert total == pytest.approx(plan.npv_cny)
        assert plan.bound_cny <= plan.objective_cny + 1e-6
        assert [nodes(plan, year=y) for y in (2025, 2026, 2027)] == [1, 1, 2]
