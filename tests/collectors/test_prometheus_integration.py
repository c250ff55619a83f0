"""Collection against a real Prometheus (Debian package) scraping real exporters on loopback: the
Debian node exporter and test exporters that publish dcgm-exporter, kube-state-metrics,
npu-exporter and blackbox metric names. Also: Prometheus stopped mid-run, and a collected state
changing a plan through ``suanwang plan --state``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from suanwang.collectors.collect import collect
from suanwang.collectors.config import CollectorConfig, Source
from suanwang.collectors.statefile import load_state, snapshot_state, snapshot_to_dict
from suanwang.scheduler.cli import app
from tests.collectors.conftest import NJ
from tests.collectors.exporters import expected_free, mean_util


def config(url: str, timeout_s: float = 5) -> CollectorConfig:
    # the probe window fits the few seconds of data a test's Prometheus holds
    return CollectorConfig(central=Source(url, timeout_s=timeout_s, retries=1), probe_window_s=3)


@pytest.fixture(scope="module")
def snapshot(prometheus):
    from suanwang.topology.loader import load_topology

    return collect(load_topology(), config(prometheus[1]))


def test_snapshot_equals_what_exporters_expose(snapshot, jiangsu):
    nj, sz = snapshot.sites["nj-hub"], snapshot.sites["sz-hub"]
    matched = [n for n in NJ if n.name != "gpu-nj-x"]
    assert nj.pools["H800"].free_per_node == expected_free([n for n in matched if n.product == "NVIDIA-H800"])
    assert nj.pools["Ascend910B"].free_per_node == {"npu-nj-1": 4}
    assert sz.pools["H20"].free_per_node == {"gpu-sz-1": 6}
    assert sz.pools["H800"].free_per_node == {"gpu-sz-2": 8}
    h800 = [u for n in matched if n.product == "NVIDIA-H800" for u in n.util]
    assert nj.pools["H800"].utilisation == pytest.approx(mean_util(h800))
    watts = sum(w for n in matched for w in n.power_w)
    assert nj.power_draw_kw == pytest.approx(watts / 1000 * jiangsu.site("nj-hub").pue)
    busy_cards = sum(1 for n in matched if n.product == "NVIDIA-H800" for u in n.util if u)  # NaN counts as busy
    assert nj.pools["H800"].memory_used_gb == pytest.approx(busy_cards * 1.0)  # 1024 MiB per busy card
    assert not nj.stale and nj.usable and nj.observed_at == snapshot.observed_at


def test_unmatched_and_anomalies_are_reported(snapshot):
    assert any("gpu-nj-x" in u and "B200" in u for u in snapshot.unmatched)
    assert any("nan" in a.lower() and "gpu-nj-3" in a for a in snapshot.anomalies)
    assert any("duplicate" in a and "gpu-nj-2" in a for a in snapshot.anomalies)


def test_link_probes_by_range_query(snapshot):
    (link,) = snapshot.links
    assert (link.a, link.b) == ("Nanjing", "Suzhou")
    assert link.rtt_ms == pytest.approx(3.1)
    assert link.jitter_us == pytest.approx(0.0, abs=1e-6) and link.samples >= 2


def test_prometheus_stopped_mid_run_keeps_last_known(own_prometheus, jiangsu):
    proc, url = own_prometheus
    cfg = config(url, timeout_s=1)
    snapshot = collect(jiangsu, cfg)
    assert not snapshot.sites["nj-hub"].stale
    proc.terminate()
    proc.wait(10)
    later = collect(jiangsu, cfg, previous=snapshot, now=snapshot.observed_at + timedelta(seconds=60))
    nj = later.sites["nj-hub"]
    assert nj.stale and nj.usable and nj.age_s == pytest.approx(60)
    assert url in nj.cause
    assert nj.pools == snapshot.sites["nj-hub"].pools
    assert later.links == snapshot.links
    much_later = collect(jiangsu, cfg, previous=later, now=snapshot.observed_at + timedelta(seconds=1000))
    assert not much_later.sites["nj-hub"].usable  # older than max_stale_s (900 s): planning stops using it


def test_collected_state_changes_the_plan(snapshot, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(snapshot_to_dict(snapshot)))
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "plan_time: 2026-11-25T09:00:00+08:00\njobs:\n"
        "  - {id: big, kind: inference, tenant: t, priority: 3, origin: Nanjing, latency_slo_ms: 0.3,\n"
        "     accelerators: {count: 16, per_node: 8, models: [H800]}}\n"
    )
    runner = CliRunner()
    empty = json.loads(runner.invoke(app, ["plan", "-f", str(jobs), "--time-limit", "1", "-o", "json"]).output)
    assert [p["site"] for p in empty["placements"]] == ["nj-hub"]
    r = runner.invoke(app, ["plan", "-f", str(jobs), "--state", str(state), "--time-limit", "1", "-o", "json"])
    assert r.exit_code == 0, r.output
    live = json.loads(r.output)
    assert not live["placements"]
    reason, shut = live["unplaced"][0]["reasons"]  # only gpu-nj-3 has 8 free H800 at nj-hub now
    assert "2 nodes with 8 free H800" in reason and "most: nj-hub with 1" in reason
    assert "offered nothing" in shut and "no state for it" in shut  # sites never collected count for nothing


def test_state_show_and_stale_site_unusable(snapshot, jiangsu, tmp_path):
    data = snapshot_to_dict(snapshot)
    data["sites"]["nj-hub"]["usable"] = False
    f = tmp_path / "state.json"
    f.write_text(json.dumps(data))
    st = load_state(f, jiangsu)
    assert "nj-hub" in st.unusable
    assert all(free == 0 for _, free in st.pools[("nj-hub", "H800")].free_per_node)
    r = CliRunner().invoke(app, ["state", "show", "-f", str(f)])
    assert r.exit_code == 0 and "nj-hub" in r.output and "NO" in r.output


def test_collect_command(prometheus, tmp_path):
    out = tmp_path / "state.json"
    table = CliRunner().invoke(app, ["collect", "--prometheus", prometheus[1]])
    assert table.exit_code == 0, table.output
    assert "nj-hub" in table.output and "fresh" in table.output
    r = CliRunner().invoke(app, ["collect", "--prometheus", prometheus[1], "-o", "json"])
    assert r.exit_code == 0, r.output
    out.write_text(r.stdout)
    assert json.loads(out.read_text())["sites"]["nj-hub"]["stale"] is False
    dead = CliRunner().invoke(
        app, ["collect", "--prometheus", "http://127.0.0.1:9", "--previous", str(out), "-o", "json"]
    )
    assert dead.exit_code == 75  # nothing fresh: last-known values kept, marked stale
    data = json.loads(dead.stdout)
    assert data["sites"]["nj-hub"]["stale"] is True and "127.0.0.1:9" in data["sites"]["nj-hub"]["cause"]


def test_collected_snapshot_reaches_the_planner_typed(snapshot, jiangsu, tmp_path):
    """The in-process path (no text) gives the planner exactly what the state file gives it."""
    f = tmp_path / "state.json"
    f.write_text(json.dumps(snapshot_to_dict(snapshot)))
    from_file = load_state(f, jiangsu)
    direct = snapshot_state(snapshot, jiangsu)
    assert direct.pools and direct.pools == from_file.pools
    assert direct.power_draw_kw == from_file.power_draw_kw and direct.links == from_file.links
    assert set(direct.unusable) == set(from_file.unusable)
