"""Shared fixtures: the built-in topology, its graph, and a small hand-checkable topology."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from suanwang.topology.graph import NetworkGraph
from suanwang.topology.loader import load_topology

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Four real cities; CENI direct Nanjing–Suzhou has a large stated jitter so that the
# deterministic path goes through Wuxi while the lowest-latency path stays direct.
MINI = textwrap.dedent("""\
    name: mini
    accelerators:
      H800: {fp16_tflops: 989, memory_gb: 80, power_w: 700, resource: nvidia.com/gpu}
      Ascend910B: {fp16_tflops: 313, memory_gb: 64, power_w: 400, resource: huawei.com/Ascend910}
    cities:
      Nanjing: {lat: 32.07, lon: 118.78}
      Suzhou: {lat: 31.30, lon: 120.58}
      Wuxi: {lat: 31.57, lon: 120.30}
      Xuzhou: {lat: 34.27, lon: 117.18}
    grid_zones:
      js:
        carbon_kg_per_kwh: 0.5827
        tariff:
          - {name: valley, start_hour: 0, end_hour: 8, cny_per_kwh: 0.372}
          - {name: flat, start_hour: 8, end_hour: 24, cny_per_kwh: 0.697}
    sites:
      - id: nj-hub
        city: Nanjing
        tier: hub
        pue: 1.2
        power_cap_kw: 100
        grid_zone: js
        pools: [{accelerator: H800, nodes: 4, per_node: 8}]
        metro: {kind: ceni, bandwidth_gbps: 400}
      - id: sz-hub
        city: Suzhou
        tier: hub
        pue: 1.2
        power_cap_kw: 100
        grid_zone: js
        pools: [{accelerator: Ascend910B, nodes: 10, per_node: 8}]
        metro: {kind: ceni, bandwidth_gbps: 400}
      - id: xz-city
        city: Xuzhou
        tier: city
        pue: 1.3
        power_cap_kw: 50
        grid_zone: js
        pools: [{accelerator: Ascend910B, nodes: 2, per_node: 8}]
    links:
      - {from: Nanjing, to: Suzhou, kind: otn, bandwidth_gbps: 800}
      - {from: Nanjing, to: Suzhou, kind: ceni, bandwidth_gbps: 100, jitter_us: 10}
      - {from: Nanjing, to: Wuxi, kind: ceni, bandwidth_gbps: 100, jitter_us: 2}
      - {from: Wuxi, to: Suzhou, kind: ceni, bandwidth_gbps: 50, jitter_us: 3}
      - {from: Suzhou, to: Xuzhou, kind: otn, bandwidth_gbps: 200}
    """)


@pytest.fixture(scope="session")
def jiangsu():
    return load_topology()


@pytest.fixture(scope="session")
def jiangsu_graph(jiangsu):
    return NetworkGraph(jiangsu)


@pytest.fixture()
def mini_file(tmp_path: Path) -> Path:
    p = tmp_path / "mini.yaml"
    p.write_text(MINI)
    return p


@pytest.fixture()
def mini(mini_file):
    return load_topology(mini_file)


@pytest.fixture()
def mini_graph(mini):
    return NetworkGraph(mini)
