"""Time-shifting in the simulator: a scenario with ``policy.shift`` runs as run-now, shifted and the
perfect-foresight oracle; shifting lowers the energy cost of deferrable jobs with no deadline
missed and conserves every job; the oracle never does worse than the online policy; grid events
from a scenario are checked as a contract, met at their start by suspending preemptible work,
never exceeded afterwards, and reported; `suanwang simulate` prints the three side by side."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from suanwang.errors import InputError
from suanwang.scheduler.cli import app
from suanwang.simulations.engine import Simulation
from suanwang.simulations.events import GridEvent
from suanwang.simulations.runner import run_scenario, shift_variants
from suanwang.simulations.scenario import load_scenario
from suanwang.simulations.shift_bound import start_cost_bound
from tests.conftest import SHARED_DATA

PAI = SHARED_DATA / "gaia-job-traces" / "pai-100k.csv"
SCENARIO = """
name: july
start: 2026-07-15T00:00:00+08:00
hours: 24
drain_h: 36
seed: 4
demand:
  pai: {{path: {pai}, time_scale: 0.08}}
  deferrable: {{share: 0.6, slack_h: 12, checkpoint_h: 1}}
policy: {{solver: cpsat, interval_min: 60, shift: true, horizon_h: 24, slot_min: 60, time_limit_s: 0.5}}
"""


@pytest.fixture(scope="module")
def july(tmp_path_factory):
    f = tmp_path_factory.mktemp("sc") / "july.yaml"
    f.write_text(SCENARIO.format(pai=PAI))
    return load_scenario(f)


@pytest.fixture(scope="module")
def three(july):
    return {v.name.rsplit("/", 1)[1]: run_scenario(v) for v in shift_variants(july)}


def test_three_variants_and_shifting_saves(july, three):
    assert [v.name for v in shift_variants(july)] == ["july/run-now", "july/shifted", "july/oracle"]
    now, shifted, oracle = (three[k][0] for k in ("run-now", "shifted", "oracle"))
    assert now["deferrable_arrivals"] > 50 and now["deferrable_arrivals"] == shifted["deferrable_arrivals"]
    assert shifted["deferrable_cost_cny"] < 0.9 * now["deferrable_cost_cny"]  # July: the valley is ¥0.372
    assert oracle["deferrable_cost_cny"] <= shifted["deferrable_cost_cny"] * 1.02
    assert shifted["deadline_misses"] == 0 and oracle["deadline_misses"] == 0
    assert shifted["deferrable_delay_mean_h"] > now["deferrable_delay_mean_h"]
    assert shifted["deferrable_delay_p95_h"] <= 12.0 + 1.0  # never past the slack (plus the tick)
    o = three["shifted"][1]
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running and o.max_overcommit == 0
    assert sum(o.power_by_hour_kw) == pytest.approx(o.energy_kwh)  # the hourly draw adds up to the energy
    assert shifted["forecast_mape"] is None  # Jiangsu's zone has no hourly series: its outlook is exact
    # the oracle's outcome holds to the same counts, and gives no figure it did not measure
    o = three["oracle"][1]
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running
    assert oracle["placed_value_pflops"] > 0.9 * shifted["placed_value_pflops"]
    assert oracle["events_per_s"] is None and oracle["util_hub"] is None


def test_the_bound_on_what_start_times_could_save(july, three):
    """On the shifted replay's own placements, no start times cost less than the bound: it lies at
    or below what the replay paid and above the deferrable energy at the valley price (¥0.372)."""
    shifted, out = three["shifted"]
    bound = start_cost_bound(july, out)
    valley = 0.372 * shifted["deferrable_energy_mwh"] * 1000
    assert bound is not None and valley - 1e-6 <= bound <= shifted["deferrable_cost_cny"] * 1.001
    assert shifted["deferrable_cost_bound_cny"] == pytest.approx(bound)  # the report's row
    assert "deferrable_cost_bound_cny" not in three["run-now"][0]
    assert start_cost_bound(july, three["run-now"][1]) is None  # a run-now replay records no runs
    cut = dataclasses.replace(out, suspended=1)  # a run cut short: its cards were not held to its end
    assert start_cost_bound(july, cut) is None


def test_grid_event_is_met_at_its_start_and_never_exceeded(july):
    at = july.start + timedelta(hours=12)
    ev = GridEvent("nj-cut", ("nj-hub",), at, at, at + timedelta(hours=4), reduce_ratio=0.3)
    o = Simulation(july.topology, list(july.arrivals), july.start, july.hours, july.policy, grid_events=[ev],
                   drain_h=july.drain_h).run()  # fmt: skip
    (row,) = o.grid
    assert row["cap_kw"] == pytest.approx(0.7 * row["draw_at_announce_kw"])
    assert row["met"] and row["max_over_kw"] <= 1e-6
    if row["draw_at_start_kw"] > row["cap_kw"]:
        assert row["suspended"] > 0 and row["shed_kw"] >= row["draw_at_start_kw"] - row["cap_kw"] - 1e-6
    assert o.suspended == row["suspended"]
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running


def test_grid_events_in_a_scenario_are_checked(tmp_path):
    base = SCENARIO.format(pai=PAI)
    bad = base.replace("demand:", "changes:\n  grid_events: [{id: a, sites: [nj-hub], start_h: 2, end_h: 1, "
                       "cap_kw: 5}, {id: b, start_h: 1, end_h: 2, cap_kw: 1}, "
                       "{id: c, zone: atlantis, start_h: 1, end_h: 2, cap_kw: 1}, "
                       "{id: d, sites: [nj-hub], start_h: 1, end_h: 2, cap_kw: 1, reduce_ratio: 0.2}]"
                       "\ndemand:")  # fmt: skip
    f = tmp_path / "bad.yaml"
    f.write_text(bad)
    with pytest.raises(InputError) as e:
        load_scenario(f)
    text = str(e.value) + " ".join(f"{x.path}: {x.message}" for x in e.value.faults)
    assert "changes.grid_events[0].end_h" in text and "exactly one of" in text
    assert "names no site" in text and "unknown grid zone" in text
    good = base.replace("demand:", "changes:\n  grid_events: [{id: z, zone: jiangsu, start_h: 3, end_h: 5, "
                        "reduce_kw: 10}]\ndemand:")  # fmt: skip
    f.write_text(good)
    sc = load_scenario(f)
    (ev,) = sc.grid_events
    assert len(ev.sites) == len(sc.topology.sites) and ev.reduce_kw == 10.0


def test_simulate_prints_the_three_side_by_side(tmp_path):
    f = tmp_path / "july.yaml"
    f.write_text(SCENARIO.format(pai=PAI).replace("hours: 24", "hours: 6").replace("drain_h: 36", "drain_h: 12"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = CliRunner().invoke(app, ["simulate", "-f", str(f), "--report-dir", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert not [w for w in caught if "legend" in str(w.message)]  # the oracle's panel says why it has no lines
    for text in ("july/run-now", "july/shifted", "july/oracle", "energy cost of deferrable jobs", "deadline misses",
                 "the least any start times allow"):  # fmt: skip
        assert text in r.output
    assert (tmp_path / "rep" / "power.png").stat().st_size > 10_000
