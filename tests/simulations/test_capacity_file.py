"""The capacity-planning file: the Jiangsu example read into a problem (classes, candidates,
growth, mean tariff); every fault of a bad file at once with its line, field path and fix; what
an API body may not name (server files); demand derived from a simulation's arrivals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from suanwang.errors import InputError
from suanwang.simulations.capacity_load import load_planning, mean_price, planning_from_body
from suanwang.topology.loader import load_topology

EXAMPLE = Path(__file__).parents[2] / "examples" / "capacity-jiangsu-2025-2027.yaml"


def test_the_jiangsu_example_reads_into_a_problem():
    pl = load_planning(EXAMPLE)
    p = pl.problem
    assert p.years == (2025, 2026, 2027) and pl.name == "jiangsu-2025-2027"
    assert len(p.candidates) == 6 and {c.site.city for c in p.candidates} >= {"Suqian", "Lianyungang"}
    assert p.budgets_cny == {2025: 1.5e9, 2026: 2.5e9, 2027: 2.5e9}  # written 1.5e9: a number
    assert p.targets.province_pflops[2027] == 9000 and p.targets.city_centres == {2027: 10}
    # growth: 2027's Nanjing training row is 1.85 × 2025's, in capacity PFLOPS (÷ utilisation 0.8)
    nj = {d.year: d.capacity_pflops for d in p.demand if d.origin == "Nanjing" and d.klass == "training"}
    assert nj[2025] == pytest.approx(2540000 / 8760 / 0.8)
    assert nj[2027] == pytest.approx(1.85 * nj[2025])
    ring = [d for d in p.demand if d.origin == "Suzhou" and d.klass == "inference"]
    assert sorted({d.rtt_slo_ms for d in ring}) == [1.0, 5.0]  # city and region rings, as round trips
    assert p.classes["inference"].models == ("H20", "Ascend910B", "A800")
    assert p.classes["training"].target_utilisation == 0.8 and p.classes["training"].models == ()
    # the price of a zone without one given: the tariff averaged over every hour of the year
    topo = p.topology
    assert p.price_cny_per_kwh["jiangsu"] == pytest.approx(mean_price(topo, "jiangsu", 2025))
    assert 0.372 < p.price_cny_per_kwh["jiangsu"] < 1.021
    kw = {(k.site, k.accelerator): k.kw_per_node for k in p.packs}
    assert kw["nj-hub", "Ascend910B"] == pytest.approx(8 * 0.4)  # default: cards × board power


def bad_file(tmp_path: Path, text: str) -> list:
    f = tmp_path / "plan.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_planning(f)
    return list(e.value.faults)


def test_every_fault_at_once_with_line_path_and_fix(tmp_path):
    faults = bad_file(
        tmp_path,
        """\
years: [2025, 2026]
budgets_cny: {2030: 1.0e9}
packs:
  - {site: nj-hubb, accelerator: Ascend910B, capex_cny_per_node: 1.2e6, max_nodes: 10}
  - {site: nj-hub, accelerator: Ascend910B, capex_cny_per_node: -5, max_nodes: 10}
new_sites:
  - {id: nj-hub, city: Nanjing, tier: city, pue: 1.2, power_cap_kw: 100, grid_zone: jiangsu, fixed_cost_cny: 1}
network_upgrades:
  - {id: x, from: Nanjing, to: Lianyungang, add_gbps: 100, cost_cny: 1}
demand:
  rows:
    - {year: 2025, origin: Nanjing, class: inference, pflops: 10}
    - {year: 2025, origin: Suzhou, class: deterministic, pflops: 10, ring: region}
""",
    )
    by_path = {f.path: f for f in faults}
    assert "did you mean nj-hub" in by_path["packs[0].site"].fix and by_path["packs[0].site"].line == 4
    assert by_path["packs[1].capex_cny_per_node"].line == 5
    assert "already names a site" in by_path["new_sites[0].id"].message
    assert "no link between Nanjing and Lianyungang" in by_path["network_upgrades[0].to"].message
    assert "ring" in by_path["demand.rows[0]"].message
    assert "max_jitter_us" in by_path["demand.rows[1]"].message
    assert all(f.file.endswith("plan.yaml") and f.fix for f in faults)


def test_years_named_outside_the_plan_are_faults(tmp_path):
    faults = bad_file(tmp_path, "years: [2025, 2027]\ndemand: {rows: [{year: 2025, class: training, pflops: 1}]}\n")
    assert any(f.path == "years" and "consecutive" in f.message for f in faults)
    faults = bad_file(
        tmp_path,
        "years: [2025, 2026]\nbudgets_cny: {2030: 1}\ndemand: {rows: [{year: 2025, class: training, pflops: 1}]}\n",
    )
    assert any("budgets_cny names years outside the plan: [2030]" in f.message for f in faults)


def test_an_api_body_names_no_server_file_but_may_inline_the_network():
    body = {
        "years": [2025],
        "network": "/etc/passwd",
        "demand": {"rows": [{"year": 2025, "class": "training", "pflops": 1}]},
    }
    with pytest.raises(InputError) as e:
        planning_from_body(body)
    assert e.value.faults[0].path == "network" and "file on the server" in e.value.faults[0].message
    trace = dict(body, network="jiangsu", demand={"simulation": {"pai": {"path": "/tmp/x.csv"}}})
    with pytest.raises(InputError) as e:
        planning_from_body(trace)
    assert any(f.path == "demand.simulation" for f in e.value.faults)
    topo = yaml.safe_load(Path(EXAMPLE.parent / "jiangsu-2025.yaml").read_text(encoding="utf-8"))
    pl = planning_from_body(dict(body, network=topo))
    assert pl.problem.topology.name == "jiangsu-2025"
    mine = load_topology(None)
    pl = planning_from_body({k: v for k, v in body.items() if k != "network"}, default_network=mine)
    assert pl.problem.topology is mine


def test_demand_derived_from_a_simulation_of_arrivals():
    body = {
        "years": [2025, 2026],
        "network": "jiangsu",
        "demand": {"simulation": {"synthetic": {"jobs_per_hour": 20}, "hours": 24, "seed": 3}, "growth": {2026: 2.0}},
    }
    pl = planning_from_body(body)
    assert pl.base_arrivals and {u.klass for u in pl.uses[2025]} >= {"training", "inference"}
    first = sum(u.pflops for u in pl.uses[2025])
    assert sum(u.pflops for u in pl.uses[2026]) == pytest.approx(2 * first)
    # the use is the arrivals' work (cards × PFLOPS per card × hours) over the simulated hours
    assert 0 < first < sum(a.job.accelerators.count * a.job.duration_h for a in pl.base_arrivals) / 24
    inference = [u for u in pl.uses[2025] if u.klass == "inference"]
    assert all(u.origin in pl.problem.topology.cities and u.rtt_slo_ms for u in inference)
