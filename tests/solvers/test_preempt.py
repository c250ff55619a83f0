"""Preemption: a priority-9 job behind running batch work is given room by evicting the fewest,
cheapest jobs (the least work lost since their checkpoints); never non-preemptible work or
inference; lower-priority work on borrowed quota is reclaimed for a tenant's own nominal quota;
nothing is evicted when the job fits or nothing would make it fit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from suanwang.solvers import solve
from suanwang.solvers.problem import Running
from suanwang.solvers.quota import Quota
from tests.solvers.helpers import NOW, job, problem

# mini: nj-hub holds 32 H800 (4 nodes of 8)


def running(jid, hours_ago, checkpoint_h=None, **kw):
    start = NOW - timedelta(hours=hours_ago)
    base = job(jid, 8, 8, ("H800",), priority=1, duration_h=24, preemptible=True, checkpoint_h=checkpoint_h)
    return replace(base, running=Running("nj-hub", "H800", start), **kw)


def test_priority_nine_behind_batch_evicts_the_fewest_cheapest(mini):
    batch = [running("b1", 5), running("b2", 1), running("b3", 6, checkpoint_h=4), running("b4", 3)]
    urgent = job("p9", 16, 8, ("H800",), priority=9)
    plan = solve(problem(mini, [*batch, urgent], preempt=True), "cpsat")
    evicted = sorted(e.job for e in plan.evictions)
    assert evicted == ["b2", "b3"]  # 1 h lost, and 2 h since b3's checkpoint; not b1 (5 h) or b4 (3 h)
    assert all(e.for_job == "p9" and "re-queued" in e.reason for e in plan.evictions)
    assert sum(e.lost_card_h for e in plan.evictions) == 8 * (1 + 2)
    assert plan.unplaced[0].reasons[0].startswith("waits for 2 lower-priority job(s) at nj-hub to stop")
    assert not solve(problem(mini, [*batch, urgent]), "cpsat").evictions  # only when asked


def test_never_non_preemptible_work_nor_inference(mini):
    fixed = [running(f"k{i}", 1, preemptible=False) for i in range(3)]
    infer = running("inf", 1, kind="inference")
    urgent = job("p9", 16, 8, ("H800",), priority=9)
    plan = solve(problem(mini, [*fixed, infer, urgent], preempt=True), "cpsat")
    assert plan.evictions == ()
    allowed = solve(problem(mini, [*fixed, infer, urgent], preempt=True, preempt_inference=True), "cpsat")
    assert allowed.evictions == ()  # one node is not enough for a 2-node job: nothing is evicted for nothing


def test_borrowed_quota_is_reclaimed(mini):
    # a and b share 32 H800 (16 each); b borrowed all of a's while a was idle; a now asks for its own
    quotas = (Quota("a", "H800", 16, cohort="lab"), Quota("b", "H800", 16, cohort="lab"))
    b_jobs = [running(f"b{i}", i + 1, preemptible=False, tenant="b") for i in range(4)]
    mine = replace(job("a1", 8, 8, ("H800",), priority=5), tenant="a")
    plan = solve(problem(mini, [*b_jobs, mine], quotas=quotas, preempt=True), "cpsat")
    assert [e.job for e in plan.evictions] == ["b0"]  # the borrowed job that loses the least


def test_nothing_is_evicted_when_the_job_fits(mini):
    plan = solve(problem(mini, [running("b1", 2), job("p9", 8, 8, ("H800",), priority=9)], preempt=True), "cpsat")
    assert plan.evictions == () and not plan.unplaced
