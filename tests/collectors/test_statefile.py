"""State files: per-node and histogram forms, faults, and how a state changes the plan."""

from __future__ import annotations

import json

import pytest

from suanwang.collectors.statefile import load_state
from suanwang.errors import InputError
from suanwang.solvers import solve
from suanwang.solvers.checker import check_plan
from tests.solvers.helpers import job, problem


def write(tmp_path, data) -> str:
    p = tmp_path / "state.json"
    p.write_text(json.dumps(data, indent=1))
    return str(p)


def test_both_forms(mini, tmp_path):
    st = load_state(
        write(
            tmp_path,
            {
                "observed_at": "2026-11-25T09:00:00+08:00",
                "sites": {
                    "nj-hub": {"power_draw_kw": 12.5, "pools": {"H800": {"free_per_node": {"g1": 8, "g2": 0}}}},
                    "sz-hub": {"pools": {"Ascend910B": {"free_histogram": {"8": 3, "2": 1}}}},
                },
            },
        ),
        mini,
    )
    assert st.pools[("nj-hub", "H800")].free_per_node == (("g1", 8), ("g2", 0))
    assert [f for _, f in st.pools[("sz-hub", "Ascend910B")].free_per_node] == [8, 8, 8, 2]
    assert st.power_draw_kw == {"nj-hub": 12.5}


def test_faults(mini, tmp_path):
    bad = {
        "sites": {
            "mars": {},
            "nj-hub": {
                "power_draw_kw": -1,
                "pools": {"H20": {"free_histogram": {"8": 1}}, "H800": {"free_histogram": {"9": 1, "8": 10}}},
            },
        }
    }
    with pytest.raises(InputError) as e:
        load_state(write(tmp_path, bad), mini)
    paths = {f.path for f in e.value.faults}
    assert {
        "sites.mars",
        "sites.nj-hub.power_draw_kw",
        "sites.nj-hub.pools.H20",
        "sites.nj-hub.pools.H800.free_histogram.9",
        "sites.nj-hub.pools.H800",
    } <= paths


def test_state_changes_the_plan(mini, tmp_path):
    jobs = [job("a", 16, 8, ("H800",))]
    empty = solve(problem(mini, jobs), "cpsat")
    assert [p.job for p in empty.placements] == ["a"]
    busy = load_state(
        write(tmp_path, {"sites": {"nj-hub": {"pools": {"H800": {"free_histogram": {"8": 1, "0": 3}}}}}}), mini
    )
    prob = problem(mini, jobs, busy)
    plan = solve(prob, "cpsat")
    assert check_plan(prob, plan) == []
    assert not plan.placements and "most: nj-hub with 1" in plan.unplaced[0].reasons[0]
