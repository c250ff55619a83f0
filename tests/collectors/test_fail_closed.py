"""Fail closed: what is not known is never free. Malformed Prometheus answers (served raw by a
loopback test double) leave the sites stale with the cause and make ``collect`` exit 75; sites a
state file does not cover get nothing new, and the plan says so; planning with no state at all is
a labelled what-if; the control loop with Prometheus down at its start places nothing; the last
good snapshot is kept in the database across a restart, with its age."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from suanwang.collectors.collect import collect
from suanwang.collectors.config import CollectorConfig, Source
from suanwang.collectors.snapshot import PoolSnapshot, SiteSnapshot, Snapshot
from suanwang.collectors.statefile import snapshot_state
from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.cli import app as cli
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.db.models import JobRow
from suanwang.scheduler.service import ControlLoop
from tests.jsonhttp import serve_raw

NOW = datetime(2026, 11, 25, 9, 0)
BAD_ANSWERS = {
    "invalid UTF-8": b"\xff\xfe\xfa",
    "a JSON list": b"[1, 2, 3]",
    "no result": b'{"status": "success", "data": {"resultType": "vector"}}',
    "a bad value": b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": "x"}]}}',
    "a truncated body": b'{"status": "success", "data": {"resultType": "vec',
    "an HTML page": b"<html><body>502 Bad Gateway</body></html>",
}


@pytest.fixture()
def raw_prometheus():
    servers = []

    def start(body: bytes) -> str:
        server, url = serve_raw(lambda method, path, _: (200, {"Content-Type": "application/json"}, body))
        servers.append(server)
        return url

    yield start
    for s in servers:
        s.shutdown()


@pytest.mark.parametrize("name", list(BAD_ANSWERS))
def test_malformed_answers_leave_sites_stale_with_the_cause(jiangsu, raw_prometheus, name):
    url = raw_prometheus(BAD_ANSWERS[name])
    before = Snapshot(NOW - timedelta(minutes=5), 900.0)
    before.sites["nj-hub"] = SiteSnapshot({"H800": PoolSnapshot({"g1": 8})}, observed_at=NOW - timedelta(minutes=5))
    snap = collect(jiangsu, CollectorConfig(central=Source(url, timeout_s=2, retries=0)), before, NOW)
    nj = snap.sites["nj-hub"]
    assert nj.stale and nj.cause and url in nj.cause and nj.age_s == 300  # last known, marked stale
    assert not any(not s.stale for s in snap.sites.values())  # nothing marked fresh
    state = snapshot_state(snap, jiangsu)
    assert set(state.unusable) == {s.id for s in jiangsu.sites} - {"nj-hub"}
    r = CliRunner().invoke(cli, ["collect", "--prometheus", url, "-o", "json"])
    assert r.exit_code == 75, r.output


def test_a_state_file_covers_only_the_sites_it_lists(jiangsu, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"sites": {"xz-city": {"pools": {"Ascend910B": {"free_histogram": {"8": 40}}}}}}))
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  - {id: t, kind: training, tenant: a, priority: 1, duration_h: 1,\n"
        "     accelerators: {count: 8, per_node: 8, models: any}}\n"
    )
    live = json.loads(CliRunner().invoke(cli, ["plan", "-f", str(jobs), "--state", str(state), "-o", "json"]).stdout)
    assert [p["site"] for p in live["placements"]] == ["xz-city"]
    assert live["state"]["mode"] == "live"
    shut = live["state"]["sites_without_fresh_state"]
    assert len(shut) == len(jiangsu.sites) - 1 and shut["nj-hub"] == "no state for it"
    what_if = json.loads(CliRunner().invoke(cli, ["plan", "-f", str(jobs), "-o", "json"]).stdout)
    assert what_if["state"]["mode"] == "what-if" and what_if["placements"]
    table = CliRunner().invoke(cli, ["plan", "-f", str(jobs)]).stdout
    assert "what-if" in table


def test_prometheus_down_at_start_places_nothing(tmp_path, mini):
    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(eng)
    with sessions(eng).begin() as s:
        repo.add_jobs(
            s,
            [
                {
                    "id": f"big-{i}",
                    "kind": "training",
                    "tenant": "t",
                    "priority": 1,
                    "duration_h": 2,
                    "accelerators": {"count": 8, "per_node": 8, "models": ["H800"]},
                }
                for i in range(3)
            ],
            "test",
            NOW,
        )
    dead = CollectorConfig(central=Source("http://127.0.0.1:9", timeout_s=0.5, retries=0))
    loop = ControlLoop(create_app(eng, mini, now=lambda: NOW), collector=dead, time_limit_s=0.5)
    report = loop.cycle(NOW)
    assert report.placed == 0
    with sessions(eng)() as s:
        assert {r.state for r in s.query(JobRow)} == {"pending"}
        body = repo.latest_plan(s).body
    assert body["state"]["mode"] == "live" and set(body["state"]["sites_without_fresh_state"]) == {
        s.id for s in mini.sites
    }
    no_collector = ControlLoop(create_app(eng, mini, now=lambda: NOW), time_limit_s=0.5)
    assert no_collector.cycle(NOW).placed == 0  # nothing known and no what-if asked for
    eng.dispose()


def test_last_good_snapshot_survives_a_restart_and_ages(tmp_path, mini, monkeypatch):
    from suanwang.scheduler import service

    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(eng)
    good = Snapshot(NOW, 900.0)
    good.sites["nj-hub"] = SiteSnapshot({"H800": PoolSnapshot({"g1": 8, "g2": 8})}, observed_at=NOW)
    monkeypatch.setattr(service, "collect", lambda topo, cfg, previous, now: good)
    cfg = CollectorConfig(central=Source("http://127.0.0.1:9"))
    ControlLoop(create_app(eng, mini, now=lambda: NOW), collector=cfg).cycle(NOW)
    later = NOW + timedelta(minutes=10)
    restarted = ControlLoop(create_app(eng, mini, now=lambda: later), collector=cfg)
    known = restarted.app.state.snapshot.sites["nj-hub"]
    assert (
        known.age_s == 600
        and known.usable
        and dict(restarted.app.state.live_state.pools[("nj-hub", "H800")].free_per_node) == {"g1": 8, "g2": 8}
    )
    much_later = NOW + timedelta(hours=1)
    stale = ControlLoop(create_app(eng, mini, now=lambda: much_later), collector=cfg)
    assert not stale.app.state.snapshot.sites["nj-hub"].usable
    assert "nj-hub" in stale.app.state.live_state.unusable
    eng.dispose()


def test_measured_links_reach_the_service_and_ceni_jitter_stays(tmp_path, mini, monkeypatch):
    from suanwang.collectors.snapshot import LinkMeasure
    from suanwang.scheduler import service
    from suanwang.topology.measured import with_measured_links

    measured = with_measured_links(mini, {("Nanjing", "Suzhou"): (8.0, 900.0)})
    kinds = {lk.kind: lk for lk in measured.links if {lk.a, lk.b} == {"Nanjing", "Suzhou"}}
    assert kinds["otn"].latency_ms == 4.0 and kinds["otn"].jitter_us == 900.0
    assert kinds["ceni"].latency_ms == 4.0 and kinds["ceni"].jitter_us == 10  # reserved, not probed

    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(eng)
    snap = Snapshot(NOW, 900.0)
    for site in mini.sites:
        snap.sites[site.id] = SiteSnapshot(
            {
                p.accelerator: PoolSnapshot(
                    {f"{site.id}-{k}": 0 if site.id == "xz-city" else p.per_node for k in range(p.nodes)}
                )
                for p in site.pools
            },
            observed_at=NOW,
        )
    snap.links = [LinkMeasure("Suzhou", "Xuzhou", 40.0, 50.0, 10, NOW)]  # a slow OTN link today
    monkeypatch.setattr(service, "collect", lambda topo, cfg, previous, now: snap)
    with sessions(eng).begin() as s:
        repo.add_jobs(
            s,
            [
                {
                    "id": "chat",
                    "kind": "inference",
                    "tenant": "t",
                    "priority": 1,
                    "origin": "Xuzhou",
                    "latency_slo_ms": 30,
                    "accelerators": {"count": 8, "per_node": 8, "models": ["Ascend910B"]},
                }
            ],
            "test",
            NOW,
        )
    loop = ControlLoop(create_app(eng, mini, now=lambda: NOW), collector=CollectorConfig(central=Source("http://x")))
    loop.cycle(NOW)
    with sessions(eng)() as s:
        body = repo.latest_plan(s).body
    assert body["placements"] == []  # xz-city is full, and sz-hub is 40 ms away today: beyond the 30 ms SLO
    assert "30 ms" in " ".join(body["unplaced"][0]["reasons"])
    snap.links = []  # with the latency derived from geography, sz-hub would do
    loop.cycle(NOW)
    with sessions(eng)() as s:
        assert [p["site"] for p in repo.latest_plan(s).body["placements"]] == ["sz-hub"]
    eng.dispose()


def test_serve_once_with_prometheus_down_says_so(tmp_path, mini_file):
    cfg = tmp_path / "collector.yaml"
    cfg.write_text("prometheus: {url: 'http://127.0.0.1:9', timeout_s: 0.5, retries: 0}\n")
    url = f"sqlite:///{tmp_path / 'once.db'}"
    r = CliRunner().invoke(
        cli,
        ["serve", "--once", "--topology", str(mini_file), "--collector-config", str(cfg), "--database-url", url],
    )
    assert r.exit_code == 75 and "0 placed" in r.output  # nothing placed on unknown sites, and not "success"
