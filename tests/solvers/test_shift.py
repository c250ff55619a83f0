"""Start-time decisions (solvers.shift): the July example starts in the valley band (and now, when an
hour of waiting is priced above what it saves), jobs with no slack start now, capacity, power,
grid events and deadlines hold in every slot (checked by the independent checker, which also
catches a plan that breaks them), the reported bound is an upper bound on the score and matches
the full LP when column generation converges, and the model never schedules a start past the last
one that meets the deadline; where scheduled starts do not all pack beside the plan's own, the
largest are kept; a job whose scheduled start has come starts as soon as it can; a deferrable job
waits for a much cheaper slot though none shows room, and starts now when the saving is small
(``Shift.hold_share``); 15-minute slots start a job on the quarter hour where hourly ones cannot."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy.optimize import linprog

from suanwang.solvers import shift_model, shift_search, solve
from suanwang.solvers.checker import check_plan
from suanwang.solvers.instance import build_instance
from suanwang.solvers.problem import PowerLimit, Shift, Weights
from suanwang.solvers.shift import due, promises
from suanwang.solvers.slots import build_grid
from tests.solvers.helpers import job, problem

JULY_10 = datetime(2026, 7, 15, 10, 0)


def test_july_batch_job_starts_in_the_valley_band(jiangsu):
    batch = job("batch", 8, 8, kind="batch", duration_h=4.0, earliest=JULY_10, deadline=JULY_10 + timedelta(hours=24))
    urgent = job("urgent", 8, 8, duration_h=4.0)
    p = problem(jiangsu, [batch, urgent], now=JULY_10, shift=Shift(48, 60))
    plan = solve(p)
    got = {x.job: x for x in plan.placements}
    assert got["batch"].scheduled and got["batch"].start == datetime(2026, 7, 16, 0, 0)
    assert "valley band" in got["batch"].note and "saves ¥" in got["batch"].note
    assert not got["urgent"].scheduled and got["urgent"].start == JULY_10 and got["urgent"].node_names
    assert check_plan(p, plan) == []
    # what it says it saves is what starting now costs more, at the same site and the tariff
    zone = jiangsu.grid_zones["jiangsu"]
    assert zone.price_at(JULY_10) == pytest.approx(1.185)  # critical peak
    assert zone.price_at(got["batch"].start) == pytest.approx(0.372)


def test_quarter_hour_slots_start_a_job_within_the_hour_the_valley_begins(jiangsu):
    """A one-hour job due by 00:45: hourly slots can start it at 23:00 at the latest, all of it in a
    flat hour; 15-minute slots start it at 23:45, three quarters of its run in the valley band."""
    short = job("short", 8, 8, kind="batch", duration_h=1.0, earliest=JULY_10,
                deadline=datetime(2026, 7, 16, 0, 45))  # fmt: skip
    starts = {}
    for slot_min in (60, 15):
        p = problem(jiangsu, [short], now=JULY_10, shift=Shift(24, slot_min))
        plan = solve(p)
        assert check_plan(p, plan) == []
        (starts[slot_min],) = [x.start for x in plan.placements]
    assert starts[15] == datetime(2026, 7, 15, 23, 45)
    assert starts[60] < datetime(2026, 7, 15, 23, 45) and starts[60] + timedelta(hours=1) <= datetime(2026, 7, 16)
    zone = jiangsu.grid_zones["jiangsu"]
    assert zone.price_at(starts[60]) == pytest.approx(0.697)  # flat: no valley hour fits before the deadline


def test_a_wait_cost_above_the_saving_starts_the_job_now(jiangsu):
    """Waiting 14 h for the valley saves about ¥0.9 an hour on this job: priced at ¥0.5 an hour it
    still waits for the valley; at ¥5 an hour it starts now."""
    batch = job("batch", 8, 8, kind="batch", duration_h=4.0, earliest=JULY_10, deadline=JULY_10 + timedelta(hours=24))
    starts = {}
    for cost in (0.5, 5.0):
        p = problem(jiangsu, [batch], now=JULY_10, shift=Shift(48, 60), weights=Weights(wait_cny_per_h=cost))
        starts[cost] = solve(p).placements[0].start
    assert starts == {0.5: datetime(2026, 7, 16, 0, 0), 5.0: JULY_10}


def test_a_job_whose_scheduled_start_has_come_is_not_put_off_again(jiangsu):
    """The July job, scheduled for 00:00, is due from then on: planned again at 10:00 it starts
    at once (as a job without slack would), though the valley is cheaper."""
    batch = job("batch", 8, 8, kind="batch", duration_h=4.0, earliest=JULY_10, deadline=JULY_10 + timedelta(hours=24))
    first = solve(problem(jiangsu, [batch], now=JULY_10, shift=Shift(48, 60)))
    promised = promises(first, {"gone": JULY_10}, {"batch"})
    midnight = datetime(2026, 7, 16, 0, 0)
    assert promised == {"batch": midnight}  # jobs no longer queued are forgotten
    assert due(promised, midnight - timedelta(minutes=1)) == frozenset() and due(promised, midnight) == {"batch"}
    again = solve(problem(jiangsu, [batch], now=JULY_10, shift=Shift(48, 60), due=frozenset({"batch"})))
    (p,) = again.placements
    assert not p.scheduled and p.start == JULY_10 and p.node_names
    assert promises(again, promised, {"batch"}) == {}  # started: no promise left


def test_without_shift_the_same_job_starts_now(jiangsu):
    batch = job("batch", 8, 8, kind="batch", duration_h=4.0, earliest=JULY_10, deadline=JULY_10 + timedelta(hours=24))
    plan = solve(problem(jiangsu, [batch], now=JULY_10))
    assert plan.placements[0].start == JULY_10 and not plan.placements[0].scheduled


def _crowded(mini, seed: int, limits=()):
    """More deferrable work than the valley holds, on the small topology, at 03:00."""
    rng = random.Random(seed)
    now = datetime(2026, 7, 15, 3, 0)
    jobs = []
    for i in range(rng.randint(6, 16)):
        per_node = rng.choice([1, 2, 4, 8])
        nodes = rng.choice([1, 1, 2])
        slack = rng.choice([0, 2, 6, 12, 30])
        dur = rng.choice([1.0, 2.5, 4.0, 7.0])
        deadline = now + timedelta(hours=dur + slack) if slack else None
        jobs.append(job(f"j{i}", per_node * nodes, per_node, kind="batch", duration_h=dur, priority=rng.randint(1, 5),
                        earliest=now, deadline=deadline))  # fmt: skip
    return problem(mini, jobs, now=now, shift=Shift(24, 60), limits=tuple(limits), time_limit_s=1.0)


@pytest.mark.parametrize("seed", range(8))
def test_every_slot_holds_and_the_bound_is_an_upper_bound(mini, seed):
    p = _crowded(mini, seed)
    plan = solve(p)
    assert check_plan(p, plan) == []
    assert plan.score_bound is not None and plan.score <= plan.score_bound + 1e-6
    # the bound is the full LP's optimum when generation converges (never below it)
    inst = build_instance(p)
    grid = build_grid(p, max(j.duration_h for j in p.jobs))
    classes = shift_model.classes_of(inst, grid)
    m = shift_model.build_model(inst, grid, classes)
    rhs = m.flat_rhs()
    cols = [
        (sc.index, k, t) for sc in classes for k in range(sc.g.shape[0]) for t in range(m.T) if np.isfinite(sc.g[k, t])
    ]
    # the full LP, every column at once, solved apart from the generation (SciPy's interface)
    a = shift_search.matrix(m, classes, cols)
    right = np.concatenate([rhs, [float(len(sc.jobs)) for sc in classes]])
    keep = right < shift_model.BIG
    lp = linprog(-np.array([classes[ci].g[k, t] for ci, k, t in cols]), A_ub=a[keep], b_ub=right[keep],
                 bounds=(0, None), method="highs")  # fmt: skip
    assert lp.status == 0
    full = -lp.fun
    assert plan.score_bound >= full - 1e-6 * max(1.0, abs(full))
    assert plan.score_bound <= full * (1 + 1e-6) + 1e-6
    # U(π) bounds the LP for any duals π ≥ 0, such as those of a master cut short by its time limit
    finite = np.where(rhs >= shift_model.BIG, 0.0, rhs)
    rng = np.random.default_rng(seed)
    for scale in (0.0, 1e-3, 1.0, 1e3):
        pi = np.where(rhs >= shift_model.BIG, 0.0, rng.exponential(scale, len(rhs)) if scale else 0.0)
        assert shift_search.price(m, classes, pi, finite)[0] >= full - 1e-6 * max(1.0, abs(full))


def test_no_start_after_the_last_one_that_meets_the_deadline(mini):
    p = _crowded(mini, 3)
    plan = solve(p)
    jobs = {j.id: j for j in p.jobs}
    for x in plan.placements:
        j = jobs[x.job]
        if j.deadline is not None:
            assert x.start + timedelta(hours=j.duration_h) <= j.deadline


def test_a_grid_event_is_met_in_its_window_and_the_checker_sees_a_plan_that_ignores_it(mini):
    now = datetime(2026, 7, 15, 3, 0)
    window = PowerLimit("cut", ("nj-hub",), now, now + timedelta(hours=5), cap_kw=15.0)
    jobs = [job(f"j{i}", 8, 8, ("H800",), kind="batch", duration_h=2.0, earliest=now,
                deadline=now + timedelta(hours=20)) for i in range(3)]  # fmt: skip
    p = problem(mini, jobs, now=now, shift=Shift(24, 60), limits=(window,))
    plan = solve(p)
    assert check_plan(p, plan) == []
    kw_one = 8 * 0.7 * 1.2  # 8 H800 at PUE 1.2: 6.72 kW, so at most two run at once in the window
    assert {x.site for x in plan.placements} == {"nj-hub"} and len(plan.placements) == 3
    for h in range(5):
        at = now + timedelta(hours=h, minutes=30)
        running = [x for x in plan.placements if x.start <= at < x.start + timedelta(hours=2)]
        assert len(running) * kw_one <= 15.0 + 1e-6
    # the same plan without the event in view of the planner breaks it
    blind = solve(dataclasses.replace(p, limits=()))
    assert any("grid event cut" in v for v in check_plan(p, blind))


def test_without_shift_grid_events_still_bind(mini):
    now = datetime(2026, 7, 15, 3, 0)
    cut = PowerLimit("cut", ("nj-hub",), now, now + timedelta(hours=2), cap_kw=0.0)
    p = problem(mini, [job("a", 8, 8, ("H800",), duration_h=1.0)], now=now, limits=(cut,))
    plan = solve(p)
    assert not [x for x in plan.placements if x.start < cut.end]  # it waits for the event to end
    assert check_plan(p, plan) == []


def test_checker_catches_an_overloaded_slot(mini):
    p = _crowded(mini, 5)
    plan = solve(p)
    later = [x for x in plan.placements if x.scheduled]
    if not later:
        pytest.skip("nothing deferred in this case")
    # pile every scheduled job into one slot at one site: capacity or power must break
    t = later[0].start
    moved = tuple(dataclasses.replace(x, start=t, site=later[0].site, accelerator=later[0].accelerator)
                  if x.scheduled else x for x in plan.placements)  # fmt: skip
    broken = dataclasses.replace(plan, placements=moved * 3)
    assert check_plan(p, broken)


def test_capacity_running_work_gives_back_within_a_slot_is_used_and_checked(mini):
    """nj-hub's four H800 nodes are busy until 03:30 (a release the simulator knows); a deferrable
    job that needs them all starts in the next slot, at 04:00, and the checker holds the plan to
    the same releases. Work that ends later than one slot from now is not counted on (with the
    same nodes busy until 05:00 nothing is promised), nor work that should have ended by now but
    still holds its cards, nor work at a site with no fresh state."""
    from suanwang.solvers.problem import PoolState, Release, State

    now = datetime(2026, 7, 15, 3, 0)
    nodes = tuple((f"n{k}", 0) for k in range(4))
    freed = Release("nj-hub", "H800", now + timedelta(minutes=30), 8, tuple(n for n, _ in nodes), 4 * 6.72)
    state = State({("nj-hub", "H800"): PoolState(nodes)}, {"nj-hub": 4 * 6.72}, releases=(freed,))
    big = job("big", 32, 8, ("H800",), kind="batch", duration_h=2.0, earliest=now, deadline=now + timedelta(hours=10))
    p = problem(mini, [big], state, now=now, shift=Shift(24, 60))
    plan = solve(p)
    (x,) = plan.placements
    assert x.scheduled and x.start == now + timedelta(hours=1)
    assert check_plan(p, plan) == []
    without = dataclasses.replace(p, state=dataclasses.replace(state, releases=()))
    assert not solve(without).placements  # without the release the pool stays full: nothing is promised
    assert any("finds no node" in v for v in check_plan(without, plan))
    gone = dataclasses.replace(p, state=dataclasses.replace(state, unusable=("nj-hub",)))
    assert not solve(gone).placements  # a site with no fresh state offers nothing when its work ends either
    assert any("finds no node" in v for v in check_plan(gone, plan))
    for at in (now + timedelta(hours=2), now):  # too far ahead, or due but its cards not yet back
        other = dataclasses.replace(p, state=dataclasses.replace(state, releases=(dataclasses.replace(freed, at=at),)))
        assert not solve(other).placements
        assert any("finds no node" in v for v in check_plan(other, plan))


def test_running_jobs_give_back_their_cards_at_their_declared_end(mini):
    """The service knows when running work started: a job started an hour ago that runs 1.5 h
    gives back its cards at 03:30; one past its declared end, or not yet started, gives nothing
    back (when it ends is not known, so it holds what it has)."""
    from suanwang.solvers.problem import Running
    from suanwang.solvers.slots import declared_ends

    now = datetime(2026, 7, 15, 3, 0)
    base = job("a", 16, 8, ("H800",), duration_h=1.5)
    ending = dataclasses.replace(base, running=Running("nj-hub", "H800", now - timedelta(hours=1)))
    over = dataclasses.replace(base, id="b", running=Running("nj-hub", "H800", now - timedelta(hours=2)))
    placed = dataclasses.replace(base, id="c", running=Running("nj-hub", "H800"))
    (r,) = declared_ends(mini, [ending, over, placed, dataclasses.replace(base, id="d")], now)
    assert (r.site, r.accelerator, r.at) == ("nj-hub", "H800", now + timedelta(minutes=30))
    assert r.per_node == 8 and r.nodes == ("a#0", "a#1") and r.power_kw > 0


def test_a_due_job_without_room_waits_and_says_why(mini):
    """nj-hub's H800 nodes are all busy: a due job is not scheduled for when they free up but
    left waiting, its reasons led by why it is not deferred."""
    from suanwang.solvers.problem import PoolState, Release, State

    now = datetime(2026, 7, 15, 3, 0)
    nodes = tuple((f"n{k}", 0) for k in range(4))
    freed = Release("nj-hub", "H800", now + timedelta(minutes=30), 8, tuple(n for n, _ in nodes), 4 * 6.72)
    state = State({("nj-hub", "H800"): PoolState(nodes)}, {"nj-hub": 4 * 6.72}, releases=(freed,))
    big = job("big", 32, 8, ("H800",), kind="batch", duration_h=2.0, earliest=now, deadline=now + timedelta(hours=10))
    plan = solve(problem(mini, [big], state, now=now, shift=Shift(24, 60), due=frozenset({"big"})))
    assert not plan.placements
    (u,) = plan.unplaced
    assert u.reasons[0].startswith("its scheduled start has come") and len(u.reasons) > 1


def test_later_starts_that_cannot_all_pack_keep_the_largest(mini):
    """One H800 node is left beside this plan's own starts; a 2-card start at 05:00 and an 8-card
    start at 06:00 both want it: the 8-card one is kept (it is worth more) and the other is planned
    again next cycle, whatever their order in time."""
    from suanwang.solvers.ledger import node_name
    from suanwang.solvers.problem import Placement
    from suanwang.solvers.shift import admit_later

    now = datetime(2026, 7, 15, 3, 0)
    hold = [job(f"hold{i}", 8, 8, ("H800",), duration_h=12.0) for i in range(3)]
    small = job(
        "small", 2, 2, ("H800",), kind="batch", duration_h=4.0, earliest=now, deadline=now + timedelta(hours=20)
    )
    big = job("big", 8, 8, ("H800",), kind="batch", duration_h=4.0, earliest=now, deadline=now + timedelta(hours=20))
    p = problem(mini, [*hold, small, big], now=now, shift=Shift(24, 60))
    inst = build_instance(p)
    grid = build_grid(p, 12.0)

    def at(j, start, names=(), scheduled=True):
        return Placement(j.id, "nj-hub", "H800", 1, j.accelerators.count, names, start, ("nj-hub",), None, 0.0, 0.0,
                         0.0, scheduled=scheduled)  # fmt: skip

    started = tuple(at(h, now, (node_name("nj-hub", "H800", i),), scheduled=False) for i, h in enumerate(hold))
    later = [at(small, now + timedelta(hours=2)), at(big, now + timedelta(hours=3))]
    kept, dropped = admit_later(inst, grid, started, later)
    assert [x.job for x in kept] == ["big"]
    assert [u.job for u in dropped] == ["small"] and "planned again next cycle" in dropped[0].reasons[0]
    # with room for both, both are kept
    kept, dropped = admit_later(inst, grid, started[:2], later)
    assert sorted(x.job for x in kept) == ["big", "small"] and dropped == ()


def test_a_deferrable_job_waits_for_a_much_cheaper_slot_though_none_shows_room(mini):
    """At 18:00 (flat, ¥0.697) the night's valley (¥0.372) would save 47 % of a 4 h job's cost, but a
    grid event leaves no room from 22:00 to noon. Later slots show only the room of now, so a plan
    that starts it now whenever no later slot has room would run it at the flat price; with
    ``Shift.hold_share`` 0.3 it waits, and says why. A job whose window reaches only two valley
    hours (22:00 start at the latest: 23 % cheaper) starts now at 0.3, and waits at 0.1."""
    now = datetime(2026, 7, 15, 18, 0)
    cut = PowerLimit("cut", ("nj-hub",), now + timedelta(hours=4), now + timedelta(hours=18), cap_kw=0.0)

    def batch(name: str, slack_h: float):
        return job(name, 8, 8, ("H800",), kind="batch", duration_h=4.0, earliest=now,
                   deadline=now + timedelta(hours=4 + slack_h))  # fmt: skip

    def plan_for(j, hold):
        p = problem(mini, [j], now=now, shift=Shift(24, 60, hold_share=hold), limits=(cut,))
        plan = solve(p)
        assert check_plan(p, plan) == []
        return plan

    for hold in (None, 0.3):
        plan = plan_for(batch("long", 24), hold)
        if hold is None:
            (x,) = plan.placements
            assert x.start == now and not x.scheduled and x.node_names
        else:
            assert not plan.placements
            (u,) = plan.unplaced
            assert u.reasons[0].startswith("waits for a cheaper start: from 07-16 00:00 (UTC+8)")
            assert "more than 30%" in u.reasons[0]
    now_ok = plan_for(batch("short", 4), 0.3)
    assert [x.start for x in now_ok.placements] == [now]
    held = plan_for(batch("short", 4), 0.1)
    assert not held.placements and held.unplaced[0].reasons[0].startswith("waits for a cheaper start: from 22:00")


def test_a_level_row_is_built_only_where_it_can_bind(mini):
    """A pool's row (9) at level a is left out where its room equals level a − 1's in every slot
    (the lower row holds the same terms and more): on whole free nodes only level 0 remains; with
    a node at 3 free cards levels 1 and 2 differ and stay, level 3 equals level 2 and goes."""
    from suanwang.solvers.problem import PoolState, State

    jobs = [job("big", 8, 8, ("H800",)), job("two", 2, 2, ("H800",)), job("one", 1, 1, ("H800",))]
    pool = next((s.id, pl.accelerator) for s in mini.sites for pl in s.pools if pl.accelerator == "H800")
    nodes = next(pl.nodes for s in mini.sites for pl in s.pools if (s.id, pl.accelerator) == pool)
    for frees, levels in (([8] * nodes, {0}), ([3] + [8] * (nodes - 1), {0, 1, 2})):
        state = State({pool: PoolState(tuple((f"n{k}", f) for k, f in enumerate(frees)))})
        p = problem(mini, jobs, state, now=JULY_10, shift=Shift(24, 60), time_limit_s=1.0)
        inst = build_instance(p)
        grid = build_grid(p, 1.0)
        classes = shift_model.classes_of(inst, grid)
        m = shift_model.build_model(inst, grid, classes)
        assert {key[2] for key in m.block if key[:2] == ("nodes", pool)} == levels
        plan = solve(p)
        assert check_plan(p, plan) == [] and {x.job for x in plan.placements} == {"big", "two", "one"}
