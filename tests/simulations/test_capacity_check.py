"""A capacity plan checked by simulation, and the hand-made rules it is compared with: each year's
network as the plan leaves it; a replay that confirms the Jiangsu example and flags a plan whose
network falls short of its promise; arrivals whose mean load is the rows' use; the proportional,
hubs-only and queue rules priced by the same model, never cheaper than the MILP on the same terms."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from suanwang.simulations.capacity_check import queue_greedy, validate, year_topology
from suanwang.simulations.capacity_demand import Use, arrivals_for, pflops_per_card
from suanwang.simulations.capacity_load import load_planning
from suanwang.solvers.capacity import plan_capacity
from suanwang.solvers.capacity_baselines import baseline, site_of

EXAMPLE = Path(__file__).parents[2] / "examples" / "capacity-jiangsu-2025-2027.yaml"


@pytest.fixture(scope="module")
def planned():
    pl = load_planning(EXAMPLE)
    return pl, plan_capacity(pl.problem)


def test_the_example_reaches_the_2027_target_at_a_small_gap(planned):
    pl, plan = planned
    assert plan.status == "optimal" and plan.gap <= 0.01
    assert plan.province_pflops[2027] >= 9000
    city_centres = [s for s in pl.problem.topology.sites if s.tier == "city"] + list(plan.openings)
    assert len(city_centres) >= 10
    assert plan.served_share == pytest.approx(1.0)
    for year, limit in pl.problem.budgets_cny.items():  # within every year's budget
        spent = sum(a.capex_cny for a in plan.additions if a.order_year == year)
        spent += sum(c.fixed_cost_cny for c in pl.problem.candidates if plan.openings.get(c.site.id) == year)
        assert spent <= limit


def test_each_year_s_network_is_what_the_plan_leaves(planned):
    pl, plan = planned
    p = pl.problem
    for year in p.years:
        topo = year_topology(p, plan, year)
        pf = sum(pool.cards * topo.accelerators[pool.accelerator].pflops for s in topo.sites for pool in s.pools)
        assert pf == pytest.approx(plan.province_pflops[year])
        opened = {s for s, y in plan.openings.items() if y <= year}
        assert {s.id for s in topo.sites} == {s.id for s in p.topology.sites} | opened


def test_the_replay_confirms_the_example_and_flags_a_short_network(planned):
    pl, plan = planned
    checks = validate(pl, plan)
    assert [c.year for c in checks] == [2025, 2026, 2027]
    assert not any(c.flagged for c in checks), [c.why for c in checks]
    assert all(c.measured_served >= 0.95 and c.jobs > 1000 for c in checks)
    hollow = replace(plan, additions=(), openings={})  # the same promise on the starting network
    flagged = validate(pl, hollow)
    assert flagged[-1].flagged and "served" in flagged[-1].why
    assert flagged[-1].measured_served < checks[-1].measured_served


def test_arrivals_carry_the_rows_load():
    pl = load_planning(EXAMPLE)
    topo = pl.problem.topology
    use = Use("Nanjing", "training", 300.0)
    arrivals = arrivals_for([use], topo, {}, pl.start, 200.0, seed=1)
    work = sum(a.job.accelerators.count * a.job.duration_h for a in arrivals) * pflops_per_card(topo, ())
    assert work / 200.0 == pytest.approx(300.0, rel=0.1)  # Poisson: within 10 % over 200 h
    assert all(a.job.data.location == "Nanjing" for a in arrivals)
    again = arrivals_for([use], topo, {}, pl.start, 200.0, seed=1)
    assert [a.at for a in again] == [a.at for a in arrivals]


def test_rules_are_never_cheaper_than_the_milp_on_the_same_terms(planned):
    pl, plan = planned
    p = pl.problem
    # the rules are priced with coverage left to the penalty and budgets not enforced; the MILP on
    # those terms is a lower bound for every rule
    relaxed = plan_capacity(replace(p, targets=replace(p.targets, coverage=0.0), budgets_cny={}))
    prop, fixed = baseline(p, "proportional")
    assert prop.status == "optimal" and prop.objective_cny >= relaxed.objective_cny * (1 - relaxed.gap) - 1
    assert prop.npv_cny > plan.npv_cny * 1.2  # a city-proportional build costs far more
    hubs, fixed = baseline(p, "hubs")
    # all at the hubs, but for a node at each new centre the city-centre target needs
    off_hub = {k: n for k, n in fixed.items() if site_of(p, p.packs[k[0]].site).tier != "hub"}
    candidates = {c.site.id for c in p.candidates}
    assert all(n == 1 and p.packs[i].site in candidates for (i, _), n in off_hub.items())
    assert sum(fixed.values()) > 10 * len(off_hub)
    assert hubs.status == "infeasible" and any("province target for 2027" in r for r in hubs.reasons)
    queue, fixed = queue_greedy(pl)
    assert queue.status == "optimal" and queue.province_pflops[2027] >= 9000
    assert queue.objective_cny >= relaxed.objective_cny * (1 - relaxed.gap) - 1
