"""Topology loader: round trip, and every validation fault with file, field path, line and fix."""

from __future__ import annotations

import pytest
import yaml

from suanwang.errors import InputError
from suanwang.topology.loader import load_topology
from suanwang.topology.serialize import topology_to_yaml
from tests.conftest import MINI


def faults_of(text: str, tmp_path) -> list:
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_topology(p)
    assert str(p) in str(e.value)
    return list(e.value.faults)


def mutate(fn) -> str:
    doc = yaml.safe_load(MINI)
    fn(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def test_round_trip_builtin(jiangsu, tmp_path):
    p = tmp_path / "again.yaml"
    p.write_text(topology_to_yaml(jiangsu))
    again = load_topology(p)
    assert again.sites == jiangsu.sites
    assert again.links == jiangsu.links
    assert again.accelerators == jiangsu.accelerators
    assert again.cities == jiangsu.cities
    assert again.grid_zones == jiangsu.grid_zones


def test_round_trip_mini(mini, tmp_path):
    p = tmp_path / "again.yaml"
    p.write_text(topology_to_yaml(mini))
    assert load_topology(p).links == mini.links


def _set(path, value):
    def fn(doc):
        obj = doc
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value

    return fn


@pytest.mark.parametrize(
    "change, field, message",
    [
        (_set(["sites", 0, "pools", 0, "accelerator"], "H900"), "sites[0].pools[0].accelerator", "unknown accelerator"),
        (_set(["sites", 1, "city"], "Wuhan"), "sites[1].city", "unknown city"),
        (_set(["sites", 1, "id"], "nj-hub"), "sites[1].id", "duplicate site id"),
        (_set(["sites", 0, "pools", 0, "nodes"], 0), "sites[0].pools[0].nodes", "greater than zero"),
        (_set(["sites", 0, "pools", 0, "per_node"], -8), "sites[0].pools[0].per_node", "greater than zero"),
        (_set(["sites", 2, "power_cap_kw"], -1), "sites[2].power_cap_kw", "greater than zero"),
        (_set(["sites", 0, "pue"], 0.95), "sites[0].pue", "at least 1.0"),
        (_set(["sites", 0, "tier"], "core"), "sites[0].tier", "allowed values"),
        (_set(["sites", 0, "grid_zone"], "mars"), "sites[0].grid_zone", "unknown grid zone"),
        (_set(["links", 0, "to"], "Shanghai"), "links[0].to", "unknown endpoint"),
        (_set(["links", 4, "kind"], "satellite"), "links[4].kind", "allowed values"),
        (_set(["links", 0, "bandwidth_gbps"], 0), "links[0].bandwidth_gbps", "greater than zero"),
        (_set(["accelerators", "H800", "memory_gb"], "lots"), "accelerators.H800.memory_gb", "must be a number"),
        (_set(["sites", 0, "powercap"], 5), "sites[0].powercap", "unknown field"),
        (_set(["grid_zones", "js", "tariff", 1, "end_hour"], 20), "grid_zones.js.tariff", "cover each hour"),
    ],
)
def test_each_fault_names_field_and_fix(tmp_path, change, field, message):
    faults = faults_of(mutate(change), tmp_path)
    hits = [f for f in faults if f.path == field and message in f.message]
    assert hits, [str(f) for f in faults]
    assert hits[0].fix and hits[0].line is not None


def test_unknown_field_suggests_spelling(tmp_path):
    faults = faults_of(mutate(_set(["sites", 0, "power_cap_kW"], 5)), tmp_path)
    assert any("power_cap_kw" in f.fix for f in faults)


def test_unreachable_site(tmp_path):
    text = mutate(lambda d: d["links"].pop(4))  # Suzhou–Xuzhou gone: xz-city is cut off
    faults = faults_of(text, tmp_path)
    assert [f.path for f in faults] == ["sites[2].city"]
    assert "no path reaches" in faults[0].message and "Xuzhou" in faults[0].fix


def test_all_faults_at_once_with_lines(tmp_path):
    text = (
        MINI.replace("accelerator: H800, nodes: 4", "accelerator: H9, nodes: -4")
        .replace("pue: 1.3", "pue: 0.8")
        .replace("to: Xuzhou, kind: otn", "to: Xuzou, kind: otn")
    )
    faults = faults_of(text, tmp_path)
    paths = {f.path for f in faults}
    assert {"sites[0].pools[0].accelerator", "sites[0].pools[0].nodes", "sites[2].pue", "links[4].to"} <= paths
    lines = {f.path: f.line for f in faults}
    expect = next(i for i, ln in enumerate(text.splitlines(), 1) if "pue: 0.8" in ln)
    assert lines["sites[2].pue"] == expect


def test_malformed_yaml_reports_line(tmp_path):
    text = MINI.replace("    tier: city\n", "    tier: [city\n")
    faults = faults_of(text, tmp_path)
    assert len(faults) == 1
    assert "malformed YAML" in faults[0].message
    bad = next(i for i, ln in enumerate(text.splitlines(), 1) if "[city" in ln)
    assert bad <= faults[0].line <= bad + 2


def test_duplicate_mapping_key(tmp_path):
    text = MINI.replace(
        "  Xuzhou: {lat: 34.27, lon: 117.18}\n", "  Xuzhou: {lat: 34.27, lon: 117.18}\n  Wuxi: {lat: 1, lon: 1}\n"
    )
    faults = faults_of(text, tmp_path)
    assert any(f.path == "cities.Wuxi" and "duplicate key" in f.message for f in faults)


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        load_topology("/nonexistent/topology.yaml")


def test_site_defaults(mini):
    s = mini.site("xz-city")
    assert s.kube.context == "xz-city" and s.kube.namespace == "suanwang"
    assert s.metro.kind == "otn" and s.green_share == 0.0


def test_kube_queue_and_scheduler(tmp_path):
    ok = mutate(
        _set(["sites", 0, "kube"], {"context": "c1", "namespace": "ai", "queue": "team-a", "scheduler": "volcano"})
    )
    p = tmp_path / "k.yaml"
    p.write_text(ok)
    kube = load_topology(p).site("nj-hub").kube
    assert (kube.context, kube.namespace, kube.queue, kube.scheduler) == ("c1", "ai", "team-a", "volcano")
    faults = faults_of(mutate(_set(["sites", 0, "kube"], {"scheduler": "slurm"})), tmp_path)
    assert [f.path for f in faults] == ["sites[0].kube.scheduler"]
