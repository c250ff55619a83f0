"""The reported bound is a true upper bound: on random instances with per-node demands that are and
are not powers of two, on nodes with every free-card count, the LP bound is at least the objective
of every solver's plan (the gap is never negative, nothing is clamped)."""

from __future__ import annotations

import random

import pytest

from suanwang.solvers import SOLVERS, solve
from suanwang.solvers.checker import check_plan
from suanwang.solvers.problem import PoolState, State
from tests.solvers.helpers import job, problem


def random_case(mini, seed: int):
    rng = random.Random(seed)
    jobs = []
    for i in range(rng.randint(3, 14)):
        per_node = rng.choice([1, 2, 3, 4, 5, 6, 7, 8])
        nodes = rng.choice([1, 1, 1, 2, 3])
        jobs.append(job(f"j{i}", per_node * nodes, per_node, ("H800",), priority=rng.randint(1, 9)))
    pools = {}
    for site in mini.sites:
        for pl in site.pools:
            if pl.accelerator == "H800":
                frees = [rng.randint(0, pl.per_node) for _ in range(pl.nodes)]
                pools[(site.id, pl.accelerator)] = PoolState(tuple((f"{site.id}-n{k}", f) for k, f in enumerate(frees)))
    return problem(mini, jobs, State(pools), time_limit_s=0.3)


def test_the_reported_example(mini):
    """8 jobs of 3 H800 on nodes with 7 free cards: the bound was half the objective."""
    pools = {}
    for site in mini.sites:
        for pl in site.pools:
            if pl.accelerator == "H800":
                pools[(site.id, pl.accelerator)] = PoolState(tuple((f"{site.id}-n{k}", 7) for k in range(pl.nodes)))
    prob = problem(mini, [job(f"t{i}", 3, 3, ("H800",)) for i in range(8)], State(pools), time_limit_s=0.5)
    for name in SOLVERS:
        plan = solve(prob, name)
        assert plan.objective <= plan.bound + 1e-6 and plan.gap >= -1e-9, (name, plan.objective, plan.bound)


@pytest.mark.parametrize("seed", range(40))
def test_bound_is_at_least_every_solvers_objective(mini, seed):
    prob = random_case(mini, seed)
    for name in SOLVERS:
        plan = solve(prob, name)
        assert check_plan(prob, plan) == []
        assert plan.objective <= plan.bound + 1e-6, (seed, name, plan.objective, plan.bound)
        assert plan.gap >= -1e-9


@pytest.mark.parametrize("seed", range(6))
def test_the_rounded_score_lp_of_large_models_still_bounds_the_score(mini, monkeypatch, seed):
    """Large models solve the score LP with its objective rounded up (to ¥50): its optimum is never
    below the exact LP's, so it still bounds every plan's score."""
    from suanwang.solvers import lp_bound
    from suanwang.solvers.aggregate import aggregate
    from suanwang.solvers.instance import build_instance

    agg = aggregate(build_instance(random_case(mini, seed)))
    exact = lp_bound.solve_lp(agg, objective="score").bound
    monkeypatch.setattr(lp_bound, "ROUND_ABOVE", 0)
    rounded = lp_bound.solve_lp(agg, objective="score").bound
    assert exact - 1e-6 <= rounded <= exact + lp_bound.SCORE_STEP_CNY * sum(agg.ub) + 1e-6
    assert rounded > exact or all(v % lp_bound.SCORE_STEP_CNY == 0 for v in agg.score)


def test_a_process_forked_after_an_lp_solves_its_own(mini):
    """The LP thread belongs to its process: a child forked after the parent used it (the
    simulator's worker processes) gets a thread of its own instead of waiting forever."""
    import multiprocessing

    from suanwang.solvers.aggregate import aggregate
    from suanwang.solvers.instance import build_instance
    from suanwang.solvers.lp_bound import solve_lp_soon

    agg = aggregate(build_instance(random_case(mini, 1)))
    bound = solve_lp_soon(agg).result(timeout=30).bound
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert abs(pool.apply_async(_bound_in_child, (mini,)).get(timeout=60) - bound) < 1e-6


def _bound_in_child(mini) -> float:
    from suanwang.solvers.aggregate import aggregate
    from suanwang.solvers.instance import build_instance
    from suanwang.solvers.lp_bound import solve_lp_soon

    return solve_lp_soon(aggregate(build_instance(random_case(mini, 1)))).result(timeout=30).bound
