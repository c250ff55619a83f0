"""Each placement constraint on every solver; every plan passes the independent checker."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from suanwang.solvers import SOLVERS, solve
from suanwang.solvers.checker import check_plan
from suanwang.solvers.problem import PoolState, Running, State
from tests.solvers.helpers import NOW, job, problem


def run(prob, solver):
    plan = solve(prob, solver)
    assert check_plan(prob, plan) == []
    return plan, {p.job: p for p in plan.placements}, {u.job: u.reasons for u in plan.unplaced}


@pytest.fixture(params=SOLVERS)
def solver(request):
    return request.param


def test_model_and_memory(mini, solver):
    prob = problem(
        mini,
        [
            job("asc", models=("Ascend910B",)),
            job("big-mem", models=(), memory=70, count=8),
            job("too-much-mem", memory=100),
        ],
    )
    _, placed, unplaced = run(prob, solver)
    assert placed["asc"].accelerator == "Ascend910B" and placed["asc"].site in ("sz-hub", "xz-city")
    assert placed["big-mem"].accelerator == "H800"
    assert "no accelerator model" in unplaced["too-much-mem"][0]


def test_node_granular_gang(mini, solver):
    free = State({("nj-hub", "H800"): PoolState((("a", 8), ("b", 4), ("c", 4), ("d", 2)))})
    prob = problem(mini, [job("two-fours", 8, 4, ("H800",), priority=2), job("two-eights", 16, 8, ("H800",))], free)
    _, placed, unplaced = run(prob, solver)
    assert sorted(placed["two-fours"].node_names) in (["b", "c"], ["a", "b"], ["a", "c"])
    assert placed["two-fours"].nodes == 2
    assert "two-eights" in unplaced
    assert "H800" in unplaced["two-eights"][0]


def test_rtt_slo(mini, solver):
    prob = problem(
        mini,
        [
            job("near", models=("Ascend910B",), origin="Xuzhou", slo=1.0),
            job("far-ok", models=("Ascend910B",), origin="Nanjing", slo=10.0),
        ],
    )
    _, placed, _ = run(prob, solver)
    assert placed["near"].site == "xz-city" and placed["near"].rtt_ms <= 1.0
    assert placed["far-ok"].rtt_ms <= 10.0


def test_deterministic_jitter_and_link_bandwidth(mini, solver):
    # CENI Nanjing–Wuxi–Suzhou–sz-hub: jitter 2 + 3 + 1 µs; Wuxi–Suzhou carries 50 Gbit/s
    jobs = [job(f"det{i}", models=("Ascend910B",), origin="Nanjing", slo=20.0, det=(10.0, 20.0)) for i in range(3)]
    jobs.append(job("tight", models=("Ascend910B",), origin="Nanjing", slo=20.0, det=(5.0, 1.0)))
    prob = problem(mini, jobs)
    _, placed, unplaced = run(prob, solver)
    det = [p for j, p in placed.items() if j.startswith("det")]
    assert len(det) == 2 and all(p.site == "sz-hub" for p in det)
    assert "Gbit/s" in " ".join(unplaced[next(j for j in ("det0", "det1", "det2") if j in unplaced)])
    assert "tight" in unplaced and "jitter" in unplaced["tight"][0]


def test_data_gravity_deadline(mini, solver):
    # 100 TB over the 200 Gbit/s Suzhou–Xuzhou link is 1.11 h: only xz-city, where the data is, meets it
    j = job(
        "near-data",
        models=("Ascend910B",),
        duration_h=2.0,
        data=("xz-city", 100.0),
        deadline=NOW + timedelta(hours=2.5),
    )
    far = job("far-data", models=("Ascend910B",), duration_h=2.0, data=("xz-city", 100.0))
    prob = problem(mini, [j, far])
    _, placed, _ = run(prob, solver)
    assert placed["near-data"].site == "xz-city" and placed["near-data"].transfer_h == 0.0
    if placed["far-data"].site == "sz-hub":
        assert placed["far-data"].transfer_h == pytest.approx(100 * 8000 / 200 / 3600, rel=1e-3)


def test_deadline_impossible_reason(mini, solver):
    j = job(
        "late", models=("Ascend910B",), duration_h=5.0, data=("Nanjing", 500.0), deadline=NOW + timedelta(hours=5.5)
    )
    _, _, unplaced = run(problem(mini, [j]), solver)
    assert "deadline" in unplaced["late"][0]


def test_site_power_cap(mini, solver):
    # xz-city: cap 50 kW, 45 kW already drawn; 8 Ascend cards at PUE 1.3 draw 4.16 kW
    state = State(power_draw_kw={"xz-city": 45.0})
    jobs = [job(f"p{i}", models=("Ascend910B",), origin="Xuzhou", slo=1.0) for i in range(2)]
    _, placed, unplaced = run(problem(mini, jobs, state), solver)
    assert len(placed) == 1
    (reasons,) = unplaced.values()
    assert "power cap leaves" in reasons[0] and "0.8 kW" in reasons[0]


def test_running_jobs_are_fixed(mini, solver):
    running = job("run", 32, 8, ("H800",), running=Running("nj-hub", "H800"))
    prob = problem(mini, [running, job("new", 8, 8, ("H800",))])
    _, placed, unplaced = run(prob, solver)
    assert placed["run"].fixed and placed["run"].site == "nj-hub"
    assert "new" in unplaced


def test_window_not_open(mini, solver):
    j = job("later", earliest=NOW + timedelta(hours=3))
    _, _, unplaced = run(problem(mini, [j]), solver)
    assert "window opens" in unplaced["later"][0]


def test_solvers_are_pure(mini, solver):
    state = State({("nj-hub", "H800"): PoolState((("a", 8), ("b", 8)))}, {"nj-hub": 10.0})
    prob = problem(mini, [job("x", 8, 8, ("H800",))], state)
    before = copy.deepcopy(prob)
    solve(prob, solver)
    assert prob == before
