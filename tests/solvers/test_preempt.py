"""Preemption: a priority-9 job behind running batch work is given room by evicting the fewest,
cheapest jobs (the least work lost since their checkpoints); never non-preemptible work or
inference; lower-priority work on borrowed quota is reclaimed for a tenant's own nominal quota;
nothing is evicted when the job fits or nothing would make it fit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from suanwang.solvers import solve
from suanwang.solvers.problem import PoolState, Running, State
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


def test_the_nominal_quota_is_reclaimed_from_borrowers_of_any_priority(mini):
    # b borrowed a's 16 H800 with priority-5 work that is not preemptible; a asks at priority 1
    quotas = (Quota("a", "H800", 16, cohort="lab"), Quota("b", "H800", 16, cohort="lab"))
    b_jobs = [running(f"b{i}", i + 1, preemptible=False, priority=5, tenant="b") for i in range(4)]
    mine = replace(job("a1", 16, 8, ("H800",), priority=1), tenant="a")
    plan = solve(problem(mini, [*b_jobs, mine], quotas=quotas, preempt=True), "cpsat")
    assert sorted(e.job for e in plan.evictions) == ["b0", "b1"]  # the two that lose the least, no more
    assert all("reclaimed for a1" in e.reason for e in plan.evictions)
    assert plan.unplaced[0].reasons[0].startswith("waits for 2 borrowing job(s) at nj-hub")
    # beyond a's nominal quota (24 > 16) the job would borrow: priority 1 evicts nothing
    more = replace(job("a1", 24, 8, ("H800",), priority=1), tenant="a")
    assert solve(problem(mini, [*b_jobs, more], quotas=quotas, preempt=True), "cpsat").evictions == ()


def test_nothing_another_tenant_runs_within_its_nominal_quota_is_evicted(mini):
    # a runs 16 H800 of preemptible priority-1 work within its nominal quota, c (no quota) 8; 8 are free
    quotas = (Quota("a", "H800", 16, cohort="lab"), Quota("b", "H800", 16, cohort="lab"))
    others = [running("a0", 1, tenant="a"), running("a1", 2, tenant="a"), running("c0", 3, tenant="c")]
    borrowing = replace(job("p9", 24, 8, ("H800",), priority=9), tenant="b")  # 24 > b's 16
    plan = solve(problem(mini, [*others, borrowing], quotas=quotas, preempt=True), "cpsat")
    assert plan.evictions == ()  # either would go before p9 once re-queued
    within = replace(job("p9", 16, 8, ("H800",), priority=9), tenant="b")  # within b's 16
    plan = solve(problem(mini, [*others, within], quotas=quotas, preempt=True), "cpsat")
    assert [e.job for e in plan.evictions] == ["c0"]  # not a's: within its nominal quota, it is guaranteed


def test_work_within_its_nominal_quota_goes_before_any_priority_that_would_borrow(mini):
    # 16 H800 free; a's priority-1 job is within a's nominal quota, b's priority-9 job would borrow
    quotas = (Quota("a", "H800", 16, cohort="lab"), Quota("b", "H800", 16, cohort="lab"))
    b_run = [running(f"b{i}", 1, tenant="b") for i in range(2)]  # b holds its 16
    mine = replace(job("a1", 16, 8, ("H800",), priority=1), tenant="a")
    theirs = replace(job("b9", 16, 8, ("H800",), priority=9), tenant="b")
    for solver in ("cpsat", "greedy"):
        plan = solve(problem(mini, [*b_run, mine, theirs], quotas=quotas), solver)
        assert [p.job for p in plan.placements if not p.fixed] == ["a1"], solver
    # without quotas priority decides
    plan = solve(problem(mini, [*b_run, mine, theirs]), "cpsat")
    assert [p.job for p in plan.placements if not p.fixed] == ["b9"]


def test_where_victims_run_is_known_the_job_takes_what_was_free_beside_them(mini):
    # nj-hub: n0 holds a 4-card job and 4 free cards, n1–n3 an 8-card job each; an 8-card job asks
    small = replace(running("s0", 2, checkpoint_h=None), accelerators=replace(job("x", 4, 4).accelerators))
    big = [running(f"b{i}", 1) for i in range(1, 4)]
    state = State({("nj-hub", "H800"): PoolState((("n0", 4), ("n1", 0), ("n2", 0), ("n3", 0)))}, {"nj-hub": 0.0})
    urgent = job("p9", 8, 8, ("H800",), priority=9)

    def evicted(jobs):
        return [e.job for e in solve(problem(mini, [*jobs, urgent], state, preempt=True), "cpsat").evictions]

    # not knowing nodes, a 4-card victim cannot be counted as freeing a node for 8: an 8-card job goes
    assert evicted([small, *big]) == ["b1"]
    # knowing them, the 4 cards s0 frees join the 4 free beside it: 4 × 2.25 card-hours, not 8 × 1.25
    located = [replace(small, running=replace(small.running, nodes=("n0",)))]
    located += [replace(b, running=replace(b.running, nodes=(f"n{i + 1}",))) for i, b in enumerate(big)]
    assert evicted(located) == ["s0"]
