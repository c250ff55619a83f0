"""Objective, cost and bound: CP-SAT is never below a baseline, the LP bound holds, cost breaks ties."""

from __future__ import annotations

import pytest

from suanwang.simulations.synthetic import generate_jobs
from suanwang.solvers import SOLVERS, solve
from suanwang.solvers.checker import check_plan
from suanwang.solvers.instance import effective_priority
from tests.solvers.helpers import NOW, job, problem


@pytest.mark.parametrize("seed", [1, 2])
def test_cpsat_at_least_best_baseline_and_bound_holds(jiangsu, seed):
    jobs = generate_jobs(jiangsu, 400, NOW, seed=seed)
    prob = problem(jiangsu, jobs, time_limit_s=2.0)
    plans = {s: solve(prob, s) for s in SOLVERS}
    for name, plan in plans.items():
        assert check_plan(prob, plan) == [], name
        assert plan.objective <= plan.bound + 1e-6
        assert len(plan.placements) + len(plan.unplaced) == len(jobs)
    best = max(plans[s].score for s in ("greedy", "bestfit", "karmada"))
    assert plans["cpsat"].score >= best - 1e-6
    assert plans["cpsat"].objective >= 0.99 * plans["cpsat"].bound
    assert "best candidate" not in plans["cpsat"].status  # 400 jobs contend: the model is solved


def test_cheapest_site_wins_ties(jiangsu):
    prob = problem(jiangsu, [job("a", models=("Ascend910B",), duration_h=24)])
    plan = solve(prob, "cpsat")
    site = jiangsu.site(plan.placements[0].site)
    assert site.tier == "hub"  # lowest PUE and greenest power among Ascend sites


def test_data_gravity_in_cost(jiangsu):
    prob = problem(jiangsu, [job("g", models=("Ascend910B",), duration_h=24, data=("Yancheng", 50.0))])
    plan = solve(prob, "cpsat")
    assert plan.placements[0].site == "yc-city"  # moving 50 TB costs more than Yancheng's PUE


def test_carbon_price_moves_work_to_green_sites(jiangsu):
    from suanwang.solvers.problem import Weights

    j = job("c", models=("Ascend910B",), duration_h=24, data=("Yancheng", 1.0))
    cheap = solve(problem(jiangsu, [j], weights=Weights(carbon_cny_per_kg=0.0)), "cpsat").placements[0]
    dear = solve(problem(jiangsu, [j], weights=Weights(carbon_cny_per_kg=5.0)), "cpsat").placements[0]
    assert cheap.site == "yc-city"
    assert jiangsu.site(dear.site).green_share > jiangsu.site("yc-city").green_share


def test_priority_ages_with_waiting():
    from datetime import timedelta

    j = job("old", priority=1, submitted_at=NOW - timedelta(hours=13))
    assert effective_priority(j, NOW, 6.0) == 3
    assert effective_priority(job("new", priority=1), NOW, 6.0) == 1


def test_higher_priority_placed_first(mini):
    jobs = [job("low", 32, 8, ("H800",), priority=1), job("high", 32, 8, ("H800",), priority=5)]
    for s in SOLVERS:
        plan = solve(problem(mini, jobs), s)
        assert [p.job for p in plan.placements] == ["high"], s


def test_cpsat_skips_the_search_only_when_optimality_is_proven(mini, jiangsu):
    """Three ways CP-SAT ends: every job at its best candidate (no model), a warm start meeting the
    LP bound (power-of-two demands, where the bound covers every node-level plan), and the search."""
    ample = problem(jiangsu, generate_jobs(jiangsu, 60, NOW, seed=3))
    plan = solve(ample, "cpsat")
    assert plan.status == "OPTIMAL (every job at its best candidate)"
    assert plan.objective == pytest.approx(plan.bound) and len(plan.unplaced) == 0
    assert all(plan.score >= solve(ample, s).score - 1e-6 for s in ("greedy", "bestfit", "karmada"))

    one_fits = [job("low", 32, 8, ("H800",), priority=1), job("high", 32, 8, ("H800",), priority=5)]
    plan = solve(problem(mini, one_fits), "cpsat")
    assert plan.status.startswith("OPTIMAL (warm start") and "LP bound" in plan.status
    assert [p.job for p in plan.placements] == ["high"]

    six_per_node = [job("low", 24, 6, ("H800",), priority=1), job("high", 24, 6, ("H800",), priority=5)]
    plan = solve(problem(mini, six_per_node), "cpsat")
    # 6 is not a power of two: the LP bound proves nothing, CP-SAT searches (and proves the warm start best)
    assert plan.status.startswith("OPTIMAL") and "LP bound" not in plan.status
    assert [p.job for p in plan.placements] == ["high"]


def test_the_fill_pass_places_what_still_fits_node_by_node(mini):
    from suanwang.solvers.cpsat import fill
    from suanwang.solvers.instance import build_instance
    from suanwang.solvers.problem import PoolState, State

    # four H800 nodes with 5 free cards each: the model's blocks see no block of 8 for a 5-card job
    state = State({("nj-hub", "H800"): PoolState(tuple((f"n{i}", 5) for i in range(4)))}, {"nj-hub": 0.0})
    jobs = [job(f"f{i}", 5, 5, ("H800",)) for i in range(5)] + [job("big", 8, 8, ("H800",))]
    inst = build_instance(problem(mini, jobs, state))
    ledger = inst.ledger()
    out = fill(inst, ledger, [])
    assert sorted(inst.problem.jobs[i].id for b in out for i in b.jobs) == ["f0", "f1", "f2", "f3"]  # FIFO
    assert [sorted(b.nodes) for b in out] == [[("n0",), ("n1",), ("n2",), ("n3",)]]  # one per node
    assert fill(inst, ledger, out) == out  # nothing left that fits
