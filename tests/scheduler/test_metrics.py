"""``/metrics`` after a control-loop cycle: the service's metric families with sensible values, and
every metric the Grafana dashboard (helm/suanwang/dashboards/suanwang.json) queries is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.service import ControlLoop
from tests.scheduler.test_service import NOW, queue, spec

DASHBOARD = Path(__file__).resolve().parents[2] / "helm" / "suanwang" / "dashboards" / "suanwang.json"
_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total")  # a family and its samples


def scrape(engine, mini, tmp_path):
    app = create_app(engine, mini, now=lambda: NOW)
    queue(engine, spec("m1"), spec("m2", "Ascend910B", 16), spec("m3", "H800", 32))
    ControlLoop(app, manifests_dir=tmp_path / "m", time_limit_s=1, assume_empty=True).cycle(NOW)
    with sessions(engine).begin() as s:
        token = repo.create_token(s, "viewer", None, "prometheus", NOW)
    client = TestClient(app)
    client.get("/healthz")
    assert client.get("/metrics").status_code == 401  # tenants' queues are not public
    text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return text, families


def test_service_metrics_after_a_cycle(engine, mini, tmp_path):
    text, fam = scrape(engine, mini, tmp_path)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fam.values() for s in f.samples}
    total = samples[("suanwang_site_cards", (("model", "H800"), ("site", "nj-hub"), ("state", "total")))]
    free = samples[("suanwang_site_cards", (("model", "H800"), ("site", "nj-hub"), ("state", "free")))]
    assert total == 32 and free == 0  # the 32-card job took the H800 pool; the 8-card one waits
    assert samples[("suanwang_queue_jobs", (("priority", "2"), ("tenant", "t")))] == 1
    assert samples[("suanwang_job_transitions_total", (("to", "submitted"),))] == 2
    assert samples[("suanwang_plan_unplaced_jobs", ())] == 1
    assert samples[("suanwang_site_carbon_intensity_kg_per_kwh", (("site", "xz-city"),))] > 0
    assert "suanwang_cycle_duration_seconds_count 1.0" in text


def test_dashboard_uses_only_exported_metrics(engine, mini, tmp_path):
    text, _ = scrape(engine, mini, tmp_path)
    exported = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    exported |= {n for n in re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", text, re.M)}
    dash = json.loads(DASHBOARD.read_text())
    used = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(suanwang_[a-zA-Z0-9_]+)", target["expr"]))
    assert len(used) >= 12
    missing = {
        m
        for m in used
        if m not in exported and not any(m.endswith(sfx) and m[: -len(sfx)] in exported for sfx in _SUFFIXES)
    }
    assert not missing, missing


def test_dashboard_is_readable_and_filterable():
    d = json.loads(DASHBOARD.read_text())
    names = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "site", "tenant"} <= names
    for p in d["panels"]:
        assert p["title"] and p["fieldConfig"]["defaults"].get("unit"), p["title"]
        for t in p["targets"]:
            assert t["legendFormat"] and t["datasource"]["uid"] == "${datasource}", p["title"]
    site_panels = [p for p in d["panels"] if "suanwang_site_" in p["targets"][0]["expr"]]
    assert site_panels and all('site=~"$site"' in p["targets"][0]["expr"] for p in site_panels)


def test_due_jobs_left_waiting_are_counted(mini):
    """A plan that leaves a due job waiting (its start has come, its pool is full) shows it in
    ``suanwang_plan_due_waiting_jobs``; a job merely left out does not count."""
    from datetime import datetime, timedelta

    from prometheus_client import CollectorRegistry

    from suanwang.scheduler.metrics import ServiceMetrics
    from suanwang.solvers import solve
    from suanwang.solvers.problem import PoolState, Shift, State
    from tests.solvers.helpers import job, problem

    now = datetime(2026, 7, 15, 3, 0)
    full = State({("nj-hub", "H800"): PoolState(tuple((f"n{k}", 0) for k in range(4)))}, {"nj-hub": 26.88})
    later = now + timedelta(hours=10)
    jobs = [job(j, 32, 8, ("H800",), kind="batch", duration_h=2.0, earliest=now, deadline=later) for j in ("a", "b")]
    p = problem(mini, jobs, full, now=now, shift=Shift(24, 60), due=frozenset({"a"}))
    plan = solve(p)
    assert {u.job for u in plan.unplaced} == {"a", "b"}
    registry = CollectorRegistry()
    ServiceMetrics(registry).observe_plan(plan, p.due)
    assert registry.get_sample_value("suanwang_plan_due_waiting_jobs") == 1


def test_the_zones_carbon_forecast_feed_is_reported_each_cycle(engine, tmp_path, caplog):
    """A zone's feed: ``used`` 1 with its age while fresh; 0 once stale, and the loop logs why once,
    not again each cycle as the file grows older."""
    from datetime import timedelta

    from suanwang.topology.loader import load_topology
    from tests.collectors.test_carbon_feed import topology, write_feed

    topo = load_topology(topology(tmp_path, feed={"path": "fc.csv", "max_age_h": 2}))
    write_feed(tmp_path / "fc.csv", NOW, [200] * 48, written=NOW - timedelta(minutes=30))
    app = create_app(engine, topo, now=lambda: NOW)
    queue(engine, spec("f1"))
    loop = ControlLoop(app, manifests_dir=tmp_path / "m", time_limit_s=1, assume_empty=True)
    loop.cycle(NOW)
    reg = app.state.registry
    assert reg.get_sample_value("suanwang_carbon_feed_used", {"zone": "js", "kind": "forecast"}) == 1
    assert reg.get_sample_value("suanwang_carbon_feed_age_seconds", {"zone": "js", "kind": "forecast"}) == 1800
    queue(engine, spec("f2"))
    later = NOW + timedelta(hours=3)
    with caplog.at_level("WARNING", logger="suanwang.loop"):
        loop.cycle(later)
        queue(engine, spec("f3"))
        loop.cycle(later + timedelta(minutes=1))  # older still, for the same reason: no second warning
    assert reg.get_sample_value("suanwang_carbon_feed_used", {"zone": "js", "kind": "forecast"}) == 0
    assert (
        reg.get_sample_value("suanwang_carbon_feed_age_seconds", {"zone": "js", "kind": "forecast"}) == 3.5 * 3600 + 60
    )
    warned = [r.getMessage() for r in caplog.records if "forecast feed of zone js" in r.getMessage()]
    assert len(warned) == 1 and "max_age_h of 2" in warned[0]
