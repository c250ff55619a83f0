"""The what-if engine: conservation (every arrival ends completed, rejected, still queued or still
running; occupancy never exceeds capacity; energy adds up; later plans see the bandwidth
deterministic flows hold), failures, seeded determinism,
scenario files with their faults, trace import, utilisation sampled at plans and averaged over
time, and ``suanwang simulate``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from suanwang.errors import InputError
from suanwang.scheduler.cli import app
from suanwang.simulations.engine import Simulation
from suanwang.simulations.events import Failure, Policy
from suanwang.simulations.runner import run_scenario
from suanwang.simulations.scenario import load_scenario
from suanwang.simulations.workload import grow, pai_trace, synthetic
from tests.conftest import SHARED_DATA

START = datetime(2026, 11, 25, 0, 0)
PAI = SHARED_DATA / "gaia-job-traces" / "pai-100k.csv"


def simulate(topo, hours=24, rate=30, failures=(), solver="greedy", seed=3):
    arrivals = synthetic(topo, START, hours, rate, seed)
    return arrivals, Simulation(topo, arrivals, START, hours, Policy(solver, 10), list(failures)).run()


def test_conservation_and_capacity(jiangsu):
    arrivals, o = simulate(
        jiangsu, failures=[Failure("nj-hub", START + timedelta(hours=6), START + timedelta(hours=12))]
    )
    assert o.arrivals == len(arrivals) > 400
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running
    assert o.placed == o.completed + o.still_running + o.preempted  # re-placed after a failure counts again
    assert o.preempted > 0 and o.max_overcommit == 0
    assert all(0.0 <= u <= 1.0 for series in o.series_util_site.values() for u in series)
    assert o.energy_kwh == pytest.approx(sum(o.energy_by_site_kwh.values()))
    assert sum(o.carbon_by_hour.values()) > 0 and o.carbon_kg > 0


def test_same_seed_same_result(jiangsu):
    _, a = simulate(jiangsu, hours=12, seed=5)
    _, b = simulate(jiangsu, hours=12, seed=5)
    _, c = simulate(jiangsu, hours=12, seed=6)
    assert (a.placed, a.waits_h, a.energy_kwh) == (b.placed, b.waits_h, b.energy_kwh)
    assert a.waits_h != c.waits_h


def test_failed_site_gets_no_work(jiangsu):
    down = Failure("nj-hub", START, START + timedelta(hours=24))
    _, o = simulate(jiangsu, hours=12, failures=[down])
    assert o.energy_by_site_kwh.get("nj-hub", 0.0) == 0.0
    assert all(u == 0.0 for u in o.series_util_site["nj-hub"])


def test_growth_scales_demand(jiangsu):
    base = synthetic(jiangsu, START, 24, 20, 1)
    assert len(grow(base, 2.0, 1)) == 2 * len(base)
    assert 0.3 * len(base) < len(grow(base, 0.5, 1)) < 0.7 * len(base)
    assert len({a.job.id for a in grow(base, 2.0, 1)}) == 2 * len(base)


def test_pai_trace_import():
    arrivals = pai_trace(PAI, START, hours=48)
    assert arrivals and all(a.at < START + timedelta(hours=48) for a in arrivals)
    j = arrivals[0].job
    assert j.kind == "training" and j.accelerators.count % j.accelerators.per_node == 0
    assert j.duration_h == pytest.approx(25.408055555555556)  # first row of the trace
    with pytest.raises(InputError):
        pai_trace(SHARED_DATA / "gaia-job-traces" / "SOURCE.md", START)


def test_cpsat_policy_runs_and_conserves(jiangsu):
    arrivals, o = simulate(jiangsu, hours=6, rate=40, solver="cpsat")
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running and o.max_overcommit == 0


SCENARIO = """name: {name}
topology: jiangsu
start: 2026-11-25T00:00:00+08:00
hours: 12
seed: 4
demand:
  synthetic: {{jobs_per_hour: 20}}
  growth: {growth}
changes:
  add_pools: [{{site: sq-city, accelerator: Ascend910B, nodes: 64, per_node: 8}}]
  failures: [{{site: nj-hub, start_h: 2, end_h: 6}}]
  carbon_hourly: {{jiangsu: {carbon}}}
policy: {{solver: greedy, interval_min: 15}}
"""


def test_scenario_file_and_faults(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO.format(name="a", growth=1.5, carbon=[0.5] * 24))
    sc = load_scenario(f)
    assert sc.topology.site("sq-city").pools[-1].nodes == 64 and sc.failures[0].site == "nj-hub"
    assert sc.topology.grid_zones["jiangsu"].carbon_hourly_kg_per_kwh == (0.5,) * 24
    assert sc.policy.interval_min == 15
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SCENARIO.format(name="b", growth=-1, carbon=[0.5] * 3).replace("nj-hub", "mars").replace("greedy", "magic")
    )
    with pytest.raises(InputError) as e:
        load_scenario(bad)
    paths = {x.path for x in e.value.faults}
    assert {"demand.growth", "changes.failures[0].site", "changes.carbon_hourly.jiangsu", "policy.solver"} <= paths


def test_simulate_command_writes_report(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(SCENARIO.format(name="base", growth=1.0, carbon=[0.58] * 24))
    b.write_text(SCENARIO.format(name="grown", growth=1.5, carbon=[0.58] * 24))
    out = tmp_path / "report"
    r = CliRunner().invoke(
        app,
        ["simulate", "-f", str(a), "-f", str(b), "--report-dir", str(out), "--solvers", "greedy,karmada", "--compare"],
    )
    assert r.exit_code == 0, r.output
    for name in ("base/greedy", "grown/karmada", "wait p95", "carbon (t CO2)", "rejected"):
        assert name in r.output
    assert {p.name for p in out.iterdir()} == {
        "metrics.json",
        "summary.md",
        "utilisation.png",
        "queue.png",
        "carbon.png",
        "comparison.png",
        "power.png",
    }
    dup = CliRunner().invoke(app, ["simulate", "-f", str(a), "-f", str(a)])
    assert dup.exit_code == 3


def test_parallel_processes_match_serial(tmp_path):
    from suanwang.simulations.runner import run_all

    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO.format(name="p", growth=1.0, carbon=[0.58] * 24))
    sc = load_scenario(f)
    two = [sc, replace(sc, name="p2")]
    serial = run_all(two, 1)
    parallel = run_all(two, 2)
    assert serial["p"][0]["energy_mwh"] == parallel["p"][0]["energy_mwh"] == parallel["p2"][0]["energy_mwh"]


def test_sweep_as_indexed_job(tmp_path):
    import kubernetes_validate
    import yaml

    files = []
    for name in ("x", "y", "z"):
        f = tmp_path / f"{name}.yaml"
        f.write_text(SCENARIO.format(name=name, growth=1.0, carbon=[0.58] * 24))
        files.append(f)
    args = [a for f in files for a in ("-f", str(f))]
    r = CliRunner().invoke(app, ["simulate", *args, "--indexed-job", "sweep-q4", "--image", "reg/sw:1"])
    assert r.exit_code == 0, r.output
    cm, job = list(yaml.safe_load_all(r.stdout))
    for d in (cm, job):
        kubernetes_validate.validate(d, "1.30.0", strict=True)
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 3
    assert sorted(cm["data"]) == ["scenario-0.yaml", "scenario-1.yaml", "scenario-2.yaml"]
    assert load_scenario_text(cm["data"]["scenario-1.yaml"], tmp_path).name == "y"
    assert "JOB_COMPLETION_INDEX" in job["spec"]["template"]["spec"]["containers"][0]["command"][-1]


def load_scenario_text(text, folder):
    f = folder / "again.yaml"
    f.write_text(text)
    return load_scenario(f)


def test_azure_and_openb_importers(jiangsu, tmp_path):
    from suanwang.simulations.workload import azure_llm, openb_pods

    azure = azure_llm(
        SHARED_DATA / "azure-llm-inference-2023" / "AzureLLMInferenceTrace_conv.csv", START, "Suzhou", hours=1
    )
    assert 10 <= len(azure) <= 13 and all(a.job.origin == "Suzhou" and a.job.kind == "inference" for a in azure)
    assert all(a.job.accelerators.count >= 1 for a in azure)
    pods = openb_pods(SHARED_DATA / "openb-fgd" / "csv" / "openb_pod_list_default.csv", START, hours=24 * 30)
    assert pods and all(a.job.accelerators.count >= 1 for a in pods)
    assert [a.at for a in pods] == sorted(a.at for a in pods)
    f = tmp_path / "traces.yaml"
    f.write_text(f"""name: traces
hours: 6
demand:
  azure: {{path: {SHARED_DATA / "azure-llm-inference-2023" / "AzureLLMInferenceTrace_code.csv"}, city: Suzhou}}
  openb: {{path: {SHARED_DATA / "openb-fgd" / "csv" / "openb_pod_list_default.csv"}, time_scale: 0.01, limit: 300}}
policy: {{solver: greedy, interval_min: 15}}
""")
    sc = load_scenario(f)
    o = Simulation(sc.topology, list(sc.arrivals), sc.start, sc.hours, sc.policy).run()
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running == len(sc.arrivals)
    assert {a.job.kind for a in sc.arrivals} == {"inference", "batch"}
    assert o.inference_arrivals > 0 and o.max_overcommit == 0


def test_added_site_outage_and_year_series(tmp_path):
    em = SHARED_DATA / "sustaincluster-em-2023"
    f = tmp_path / "more.yaml"
    f.write_text(f"""name: more
start: 2026-03-01T00:00:00+08:00
hours: 12
seed: 9
demand:
  synthetic: {{jobs_per_hour: 40}}
changes:
  add_sites:
    - {{id: sq-edge, city: Suqian, tier: edge, pue: 1.4, power_cap_kw: 100, grid_zone: jiangsu,
       pools: [{{accelerator: H20, nodes: 8, per_node: 8}}]}}
  link_outages: [{{from: Nanjing, to: Suzhou, start_h: 2, end_h: 8}}]
  carbon_series: {{jiangsu: {{path: {em / "carbon_intensity" / "DE-LU_2023_hourly.csv"},
                             column: "Carbon Intensity gCO₂eq/kWh (direct)"}}}}
  price_series: {{jiangsu: {{path: {em / "electricity_prices" / "DE-LU_electricity_prices_2023_usd.csv"},
                            column: "Price (USD/MWh)"}}}}
policy: {{solver: greedy, interval_min: 10}}
""")
    sc = load_scenario(f)
    zone = sc.topology.grid_zones["jiangsu"]
    # the first rows are stamped 2023-01-01 00:00 UTC: 08:00 on the plan's clock (UTC+8)
    assert len(zone.carbon_year_kg_per_kwh) >= 8760 and zone.carbon_year_kg_per_kwh[8] == pytest.approx(0.14051)
    assert zone.carbon_at(datetime(2026, 1, 1, 8)) == pytest.approx(0.14051)
    de_lu = (em / "carbon_intensity" / "DE-LU_2023_hourly.csv").resolve()
    assert zone.carbon_series == (str(de_lu), "Carbon Intensity gCO₂eq/kWh (direct)")
    assert zone.price_at(datetime(2026, 1, 1, 8)) == pytest.approx(-3.3622368 * 7.1 / 1000)
    assert sc.topology.site("sq-edge").pools[0].accelerator == "H20" and sc.outages[0].a == "Nanjing"
    o = Simulation(sc.topology, list(sc.arrivals), sc.start, sc.hours, sc.policy, outages=list(sc.outages)).run()
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running and o.max_overcommit == 0
    without = Simulation(sc.topology, list(sc.arrivals), sc.start, sc.hours, sc.policy).run()
    assert run_scenario(sc)[1].events == o.events != without.events  # `suanwang simulate` has the outage too
    bad = tmp_path / "bad.yaml"
    bad.write_text(f.read_text().replace("pue: 1.4", "pue: 0.4").replace("to: Suzhou", "to: Lianyungang"))
    with pytest.raises(InputError) as e:
        load_scenario(bad)
    messages = " | ".join(str(x) for x in e.value.faults)
    assert "changes.add_sites[0].pue" in messages and "no link between Nanjing and Lianyungang" in messages
    high = tmp_path / "high.csv"  # a carbon series past 5 kg/kWh: refused, naming its line
    rows = [
        f"{(datetime(2023, 1, 1) + timedelta(hours=h)).isoformat(sep=' ')},{9000 if h == 30 else 500}"
        for h in range(800)
    ]
    high.write_text("Datetime (UTC),Carbon Intensity gCO₂eq/kWh (direct)\n" + "\n".join(rows) + "\n")
    bad.write_text(f.read_text().replace(str(em / "carbon_intensity" / "DE-LU_2023_hourly.csv"), str(high)))
    with pytest.raises(InputError) as e:
        load_scenario(bad)
    (fault,) = [x for x in e.value.faults if x.path == "changes.carbon_series.jiangsu.path"]
    assert "line 32" in str(fault) and "outside 0–5" in str(fault)


def test_link_outage_kills_deterministic_jobs_on_it(jiangsu):
    from suanwang.simulations.events import LinkOutage
    from suanwang.simulations.workload import Arrival
    from suanwang.solvers.problem import AcceleratorRequest, Deterministic, Job, JobId

    # Xuzhou's only CENI path runs Xuzhou–Huai'an–Nanjing; H800 cards are at the hubs
    det = Job(
        JobId("ar"),
        "inference",
        "t",
        5,
        AcceleratorRequest(8, 8, ("H800",)),
        duration_h=10,
        origin="Xuzhou",
        latency_slo_ms=20,
        deterministic=Deterministic(40.0, 10.0),
        submitted_at=START,
    )
    cut = LinkOutage("Xuzhou", "Huai'an", START + timedelta(hours=1), START + timedelta(hours=3))
    o = Simulation(jiangsu, [Arrival(START, det)], START, 6, Policy("greedy", 10), outages=[cut]).run()
    assert o.deterministic_arrivals == 1 and o.preempted == 1  # killed when its reserved path went down
    assert o.placed == 2 and o.still_running == 1  # placed again once the link was back
    assert o.waits_h[1] >= 2.0 - 1e-9  # not before the repair at 3 h


def test_later_plans_see_the_bandwidth_deterministic_flows_hold(jiangsu):
    """Xuzhou's CENI path has 100 Gbit/s: two 40 Gbit/s flows fit, a third arriving an hour later
    does not while they run."""
    from suanwang.simulations.workload import Arrival
    from suanwang.solvers.problem import AcceleratorRequest, Deterministic, Job, JobId

    def det(i: int, at: datetime) -> Arrival:
        job = Job(JobId(f"ar{i}"), "inference", "t", 5, AcceleratorRequest(8, 8, ("H800",)), duration_h=10,
                  origin="Xuzhou", latency_slo_ms=20, deterministic=Deterministic(40.0, 40.0),
                  submitted_at=at)  # fmt: skip
        return Arrival(at, job)

    arrivals = [det(0, START), det(1, START), det(2, START + timedelta(hours=1))]
    o = Simulation(jiangsu, arrivals, START, 4, Policy("greedy", 10)).run()
    assert o.deterministic_arrivals == 3 and o.deterministic_admitted == 2


def test_yearly_growth_and_city_weights(jiangsu):
    flat = synthetic(jiangsu, START, 24 * 60, 5, 11)
    growing = synthetic(jiangsu, START, 24 * 60, 5, 11, growth_per_year=3.0)
    late = START + timedelta(days=30)
    assert sum(a.at >= late for a in growing) > 1.1 * sum(a.at >= late for a in flat)
    only_xz = synthetic(jiangsu, START, 48, 20, 11, city_weights={"Xuzhou": 1.0})
    assert {a.job.origin for a in only_xz if a.job.origin} == {"Xuzhou"}


def test_energy_carbon_and_cost_are_charged_hour_by_hour(jiangsu):
    """One 8-card job from 07:30 to 10:00: energy = cards × W × PUE × h; carbon and cost integrate
    the zone's hourly figures over the three pieces, and the hourly carbon series sums to the total."""
    from suanwang.simulations.workload import Arrival
    from tests.solvers.helpers import job

    t0 = datetime(2026, 11, 25, 7, 30)
    j = replace(job("one", 8, 8, ("H800",), duration_h=2.5), submitted_at=t0)
    o = Simulation(jiangsu, [Arrival(t0, j)], t0, 4, Policy("greedy", 10)).run()
    assert o.completed == 1 and list(o.energy_by_site_kwh) and o.waits_h == [0.0]
    site = jiangsu.site(next(iter(o.energy_by_site_kwh)))
    kw = 8 * jiangsu.accelerators["H800"].power_w / 1000 * site.pue
    zone = jiangsu.grid_zones[site.grid_zone]
    pieces = [(datetime(2026, 11, 25, 7), 0.5), (datetime(2026, 11, 25, 8), 1.0), (datetime(2026, 11, 25, 9), 1.0)]
    assert len({zone.price_at(h) for h, _ in pieces}) > 1  # the tariff changes inside the run
    assert o.energy_kwh == pytest.approx(kw * 2.5)
    assert o.cost_cny == pytest.approx(sum(kw * h * zone.price_at(t) for t, h in pieces))
    carbon = [kw * h * zone.carbon_at(t) * (1 - site.green_share) for t, h in pieces]
    assert o.carbon_kg == pytest.approx(sum(carbon))
    assert [o.carbon_by_hour[t] for t, _ in pieces] == pytest.approx(carbon)
    # the placement engine prices the same run the same way (carbon unpriced: electricity alone)
    from suanwang.solvers import solve
    from suanwang.solvers.problem import Problem, Weights

    plan = solve(Problem(jiangsu, (j,), t0, weights=Weights(carbon_cny_per_kg=0.0)), "greedy")
    assert plan.placements[0].site == site.id and plan.placements[0].cost_cny == pytest.approx(o.cost_cny)
    assert plan.placements[0].carbon_kg == pytest.approx(o.carbon_kg)


def test_running_sums_match_a_recount_at_every_tick(jiangsu):
    """The engine keeps free cards, power draw, reserved bandwidth and busy cards as running sums;
    at every tick, through failures and a link outage, they equal a recount from the running jobs."""
    from suanwang.simulations.events import LinkOutage

    arrivals = synthetic(jiangsu, START, 18, 60, 21)
    fail = Failure("sz-hub", START + timedelta(hours=3), START + timedelta(hours=7))
    cut = LinkOutage("Xuzhou", "Huai'an", START + timedelta(hours=2), START + timedelta(hours=5))
    sim = Simulation(jiangsu, arrivals, START, 18, Policy("greedy", 10), [fail], outages=[cut])
    checked = []

    def recount(_fraction: float) -> None:
        used: dict = {}
        power: dict = {}
        busy = [0.0] * len(sim.sites)
        for r in sim.running.values():
            for n in r.nodes:
                used[(r.site, r.model, n)] = used.get((r.site, r.model, n), 0) + r.job.accelerators.per_node
            power[r.site] = power.get(r.site, 0.0) + r.power_kw
            if r.started:
                busy[sim.site_index[r.site]] += r.job.accelerators.count
        for key, nodes in sim.free.items():
            for n, f in nodes.items():
                want = 0 if key[0] in sim.down else sim.capacity[key][n] - used.get((*key, n), 0)
                assert f == want >= 0, (key, n)
        assert all(sim.power_kw[s] == pytest.approx(power.get(s, 0.0), abs=1e-6) for s in sim.sites)
        assert list(sim.busy) == busy
        assert not set(sim.queue) & set(sim.running)
        checked.append(len(sim.running))

    sim.progress = recount
    o = sim.run()
    assert len(checked) == 18 * 6 and max(checked) > 50 and o.preempted > 0
    assert o.arrivals == o.completed + o.rejected + o.still_queued + o.still_running


def test_on_events_policy_places_at_arrival_and_weights_are_read(jiangsu, tmp_path):
    """With ``on_events`` a job is placed the instant it arrives (no wait for the next tick); the
    scenario's policy keys all reach the policy."""
    arrivals = synthetic(jiangsu, START, 6, 30, 8)
    interval = Simulation(jiangsu, arrivals, START, 6, Policy("greedy", 30)).run()
    events = Simulation(jiangsu, arrivals, START, 6, Policy("greedy", 30, on_events=True)).run()
    assert (
        max(interval.waits_h) > 0.1 and max(events.waits_h[: events.placed]) == 0.0
    )  # placed at once; the still-queued count too
    assert all(o.placed + o.still_queued == o.arrivals for o in (events, interval))
    assert events.still_queued < interval.still_queued  # the last arrivals did not wait for a tick
    assert sum(events.plans.values()) > sum(interval.plans.values())
    f = tmp_path / "w.yaml"
    f.write_text(
        SCENARIO.format(name="w", growth=1.0, carbon=[0.5] * 24).replace(
            "interval_min: 15}",
            "interval_min: 15, on_events: true, value_per_pflops: 10, transfer_cny_per_tb: 50, aging_step_h: 2, "
            "wait_cny_per_h: 0.5}",
        )
    )
    p = load_scenario(f).policy
    assert p.on_events and (p.weights.value_per_pflops, p.weights.transfer_cny_per_tb) == (10, 50)
    assert p.weights.aging_step_h == 2 and p.weights.carbon_cny_per_kg == pytest.approx(0.1)
    assert p.weights.wait_cny_per_h == 0.5
    good = f.read_text()
    f.write_text(good.replace("wait_cny_per_h: 0.5", "wait_cny_per_h: -1"))
    with pytest.raises(InputError) as e:
        load_scenario(f)
    assert any(x.path == "policy.wait_cny_per_h" for x in e.value.faults)
    shifted = good.replace("wait_cny_per_h: 0.5}", "wait_cny_per_h: 0.5, shift: true, hold_share: HOLD}")
    f.write_text(shifted.replace("HOLD", "0.5"))
    assert load_scenario(f).policy.shift.hold_share == 0.5
    f.write_text(shifted.replace("HOLD", "null"))
    assert load_scenario(f).policy.shift.hold_share is None
    f.write_text(shifted.replace("HOLD", "1.5"))
    with pytest.raises(InputError) as e:
        load_scenario(f)
    assert any(x.path == "policy.hold_share" for x in e.value.faults)
    f.write_text(good)
    f.write_text(f.read_text().replace("on_events: true", "on_events: sometimes"))
    with pytest.raises(InputError) as e:
        load_scenario(f)
    assert any(x.path == "policy.on_events" and "true or false" in str(x) for x in e.value.faults)


def test_wait_percentiles_count_jobs_still_queued_and_empty_ratios_are_na(jiangsu):
    from suanwang.simulations.report import metrics, table_rows
    from suanwang.simulations.workload import Arrival
    from tests.solvers.helpers import job as mk

    huge = [Arrival(START, mk(f"h{i}", 4096, 8, ("H800",), duration_h=48)) for i in range(3)]  # only one fits
    o = Simulation(jiangsu, huge, START, 24, Policy("greedy", 30)).run()
    m = metrics(o, 1.0)
    assert o.still_queued >= 1 and len(o.waits_h) == o.placed + o.rejected + o.still_queued
    assert m["wait_p99_min"] >= 60 * 23  # the jobs still waiting at the end count
    assert m["inference_slo_attainment"] is None and m["deterministic_admission"] is None
    row = {label: cells for label, *cells in table_rows({"x": m})}
    assert row["inference placed within 10 min"] == ["n/a"]


def test_time_averaged_utilisation_counts_every_start_and_end(jiangsu):
    """One 8-card job runs 07:00–07:30 with hourly ticks: sampled right after each plan, the tier's
    series reads it busy for the whole first hour; the time-averaged series reads half an hour."""
    from suanwang.simulations.workload import Arrival
    from tests.solvers.helpers import job

    t0 = datetime(2026, 11, 25, 7, 0)
    j = replace(job("one", 8, 8, ("H800",), duration_h=0.5), submitted_at=t0)
    o = Simulation(jiangsu, [Arrival(t0, j)], t0, 3, Policy("greedy", 60)).run()
    tier = jiangsu.site(next(iter(o.energy_by_site_kwh))).tier
    cards = sum(p.nodes * p.per_node for s in jiangsu.sites if s.tier == tier for p in s.pools)
    assert o.series_t[:3] == [t0 + timedelta(hours=h) for h in range(3)]
    assert o.series_util_tier[tier][:3] == pytest.approx([8 / cards, 0.0, 0.0])  # at each plan instant
    assert o.series_util_mean_tier[tier][1:3] == pytest.approx([0.5 * 8 / cards, 0.0])  # over each hour
    site = jiangsu.site(next(iter(o.energy_by_site_kwh)))
    site_cards = sum(p.nodes * p.per_node for p in site.pools)
    assert o.series_util_mean_site[site.id][1:3] == pytest.approx([0.5 * 8 / site_cards, 0.0])
    from suanwang.simulations.report import metrics

    assert metrics(o, 0.0)[f"util_{tier}"] == pytest.approx(0.5 * 8 / cards / 2)  # half an hour of the two ticked
