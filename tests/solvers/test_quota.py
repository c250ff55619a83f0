"""Tenant quotas as rows (25)–(27) of the placement model, with Kueue's semantics: a tenant's
nominal quota, borrowing from its cohort up to a limit, what a tenant does not lend staying free
for it, cards of running work counting, tenants without quotas untouched; every solver keeps to
them (the checker agrees), the bound stays a bound, and a job beyond its quota waits with the
reason "tenant X has used N of its M H800 (borrowed K)"."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from suanwang.solvers import SOLVERS, solve
from suanwang.solvers.checker import check_plan
from suanwang.solvers.problem import Running, Shift
from suanwang.solvers.quota import Quota
from tests.solvers.helpers import NOW, job, problem

# mini: nj-hub holds 32 H800 (4 nodes of 8)


def h800_jobs(tenant: str, n: int, prefix: str | None = None):
    return [replace(job(f"{prefix or tenant}-{i}", 8, 8, ("H800",)), tenant=tenant) for i in range(n)]


def placed(plan, tenant=None):
    return [p for p in plan.placements if not p.fixed and (tenant is None or p.job.startswith(tenant))]


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_tenant_stays_within_its_nominal_quota(mini, solver):
    quotas = (Quota("a", "H800", 16),)
    pr = problem(mini, h800_jobs("a", 4) + h800_jobs("free", 1), quotas=quotas)
    plan = solve(pr, solver)
    assert len(placed(plan, "a")) == 2 and len(placed(plan, "free")) == 1  # the other tenant is not governed
    assert check_plan(pr, plan) == []
    reasons = [r for u in plan.unplaced for r in u.reasons]
    assert len(reasons) == 2 and all("tenant a has used 16 of its 16 H800 (borrowed 0" in r for r in reasons)
    assert plan.bound is None or plan.bound >= plan.objective - 1e-6


def test_running_work_counts_against_the_quota(mini):
    run = replace(job("a-run", 8, 8, ("H800",)), tenant="a", running=Running("nj-hub", "H800"))
    pr = problem(mini, [run, *h800_jobs("a", 3)], quotas=(Quota("a", "H800", 16),))
    plan = solve(pr, "cpsat")
    assert len(placed(plan, "a-")) == 1 and check_plan(pr, plan) == []


def test_borrowing_from_the_cohort_up_to_the_limit(mini):
    cohort = (Quota("a", "H800", 16, cohort="lab"), Quota("b", "H800", 16, cohort="lab"))
    pr = problem(mini, h800_jobs("a", 4), quotas=cohort)
    assert len(placed(solve(pr, "cpsat"))) == 4  # b's unused 16 are lent to a
    limited = (replace(cohort[0], borrowing_limit_cards=8), cohort[1])
    pr = problem(mini, h800_jobs("a", 4), quotas=limited)
    plan = solve(pr, "cpsat")
    assert len(placed(plan)) == 3 and check_plan(pr, plan) == []
    assert "tenant a has used 24 of its 16 H800 (borrowed 8, at most 8)" in plan.unplaced[0].reasons[0]


def test_what_a_tenant_does_not_lend_stays_free_for_it(mini):
    cohort = (Quota("a", "H800", 16, cohort="lab"), Quota("b", "H800", 16, lending_limit_cards=8, cohort="lab"))
    pr = problem(mini, h800_jobs("a", 4), quotas=cohort)
    plan = solve(pr, "cpsat")
    assert len(placed(plan)) == 3 and check_plan(pr, plan) == []  # 8 of b's 16 stay b's
    assert "b's guaranteed quota" in plan.unplaced[0].reasons[0]
    both = problem(mini, h800_jobs("a", 4) + h800_jobs("b", 1), quotas=cohort)
    plan = solve(both, "cpsat")
    assert len(placed(plan, "b")) == 1 and len(placed(plan, "a")) == 3 and check_plan(both, plan) == []


@pytest.mark.parametrize("solver", SOLVERS)
def test_the_cohort_shares_what_its_members_hold(mini, solver):
    cohort = (Quota("a", "H800", 8, cohort="lab"), Quota("b", "H800", 8, cohort="lab"))
    pr = problem(mini, h800_jobs("a", 3) + h800_jobs("b", 3), quotas=cohort)
    plan = solve(pr, solver)
    assert len(placed(plan)) == 2 and check_plan(pr, plan) == []  # 16 cards for the cohort, of 32 free
    assert all("its cohort lab has used 16 of its 16" in u.reasons[0] for u in plan.unplaced)


def test_the_checker_catches_a_plan_beyond_a_quota(mini):
    free = problem(mini, h800_jobs("a", 3))
    plan = solve(free, "cpsat")
    assert len(placed(plan)) == 3
    governed = replace(free, quotas=(Quota("a", "H800", 16),))
    assert any(
        "tenant a: 24 H800 cards used at" in v and "its quota allows 16" in v for v in check_plan(governed, plan)
    )


def test_start_times_keep_to_the_quota_in_every_slot(mini):
    # three jobs of a with 12 h windows and a quota of two at a time: two start now, the third
    # when one of them ends (4 h runs), never three at once
    window = {"earliest": NOW, "deadline": NOW + timedelta(hours=16)}
    jobs = [replace(j, **window) for j in h800_jobs("a", 3)]
    pr = problem(mini, jobs, quotas=(Quota("a", "H800", 16),), shift=Shift(24, 60))
    plan = solve(pr, "cpsat")
    starts = sorted(p.start for p in placed(plan))
    assert len(starts) == 3 and check_plan(pr, plan) == []
    assert starts[2] >= starts[0] + timedelta(hours=4)


def test_a_quota_for_a_site_group_holds_there_only(mini):
    # a's quota of 8 Ascend910B holds at sz-hub only: one job there, xz-city's 16 cards are not governed
    jobs = [replace(job(f"a-{i}", 8, 8, ("Ascend910B",)), tenant="a") for i in range(4)]
    quotas = (Quota("a", "Ascend910B", 8, sites=frozenset({"sz-hub"})),)
    pr = problem(mini, jobs, quotas=quotas)
    for solver in SOLVERS:
        plan = solve(pr, solver)
        sites = sorted(p.site for p in placed(plan))
        assert sites == ["sz-hub", "xz-city", "xz-city"], (solver, sites)
        assert check_plan(pr, plan) == []
    assert "tenant a has used 8 of its 8 Ascend910B at sz-hub" in plan.unplaced[0].reasons[0]


def _fair_case(mini, weights):
    run = [replace(job(f"{t}-run", 8, 8, ("H800",)), tenant=t, running=Running("nj-hub", "H800")) for t in "ab"]
    waiting = h800_jobs("a", 2, "a-new") + h800_jobs("b", 2, "b-new")
    return problem(mini, [*run, *waiting], fair_share=weights)


@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
def test_fair_share_orders_equals_by_weighted_dominant_share(mini, solver):
    # a and b each run one node of nj-hub's four; two nodes are free for four equal jobs
    heavy_a = solve(_fair_case(mini, (("a", 2.0), ("b", 1.0))), solver)
    assert sorted(p.job for p in placed(heavy_a, "a-new")) == ["a-new-0", "a-new-1"]  # a's weight halves its share
    heavy_b = solve(_fair_case(mini, (("a", 1.0), ("b", 2.0))), solver)
    assert len(placed(heavy_b, "b-new")) == 2
    # the objective stays the placed priority-weighted compute
    assert heavy_a.objective == pytest.approx(heavy_b.objective)
