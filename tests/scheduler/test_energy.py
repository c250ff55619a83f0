"""Grid demand response and carbon accounts in the service, on SQLite and PostgreSQL: grid events
through the API (roles, bad input as 422 naming the field, duplicates 409, cancel), the control
loop resolving a cap, suspending preemptible running work first and never inference, reporting an
unmet cap with its shortfall and why, keeping new work out of the window; scheduled starts kept
pending with their note, and started once their start has come; accounts accrued hour by hour at
the tariff and carbon of each hour (a topology's hourly carbon series too), a tenant reading only
its own, and the Prometheus counters in base units."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from sqlalchemy import select

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.db.models import JobRow
from suanwang.scheduler.service import ControlLoop

NOW = datetime(2026, 7, 15, 9, 0)  # the flat band of the mini topology (¥0.697/kWh)
KW = 8 * 0.700 * 1.2  # eight H800 at nj-hub's PUE 1.2: 6.72 kW


def job(jid, tenant="t", kind="training", **extra):
    d = {"id": jid, "kind": kind, "tenant": tenant, "priority": 2, "duration_h": 6,
         "accelerators": {"count": 8, "per_node": 8, "models": ["H800"]},
         "container": {"image": "reg.example/w:1"}}  # fmt: skip
    if kind == "inference":
        d.update(origin="Nanjing", latency_slo_ms=50)
    return {**d, **extra}


@pytest.fixture()
def world(engine, mini, tmp_path):
    clock = [NOW]
    app = create_app(engine, mini, now=lambda: clock[0])
    loop = ControlLoop(app, manifests_dir=tmp_path / "m", time_limit_s=1, assume_empty=True)
    tokens = {}
    with sessions(engine).begin() as s:
        for name, role, tenant in (("t", "submitter", "t"), ("u", "submitter", "u"), ("viewer", "viewer", None),
                                   ("operator", "operator", None)):  # fmt: skip
            tokens[name] = repo.create_token(s, role, tenant, "setup", NOW)
    client = TestClient(app, raise_server_exceptions=False)

    def call(who, method, path, headers=None, **kw):
        return client.request(method, path, headers={"Authorization": f"Bearer {tokens[who]}", **(headers or {})}, **kw)

    def cycle(at):
        clock[0] = at
        return loop.cycle(at)

    return app, loop, call, cycle


def states(engine):
    with sessions(engine)() as s:
        return {repo.public_id(r.id): r.state for r in s.scalars(select(JobRow))}


def _running(loop, keys, at):
    for k in keys:
        loop.store.move(k, "running", "started (test)", at)


def event(**kw):
    body = {"id": "nj-cut", "sites": ["nj-hub"], "start": (NOW + timedelta(minutes=10)).isoformat() + "+08:00",
            "end": (NOW + timedelta(hours=3)).isoformat() + "+08:00", "reduce_ratio": 0.5}  # fmt: skip
    return {**body, **kw}


def test_grid_event_api_checks_roles_and_input(world):
    _, _, call, _ = world
    assert call("t", "POST", "/v1/grid-events", json=event()).status_code == 403  # a submitter may not
    bad = call("operator", "POST", "/v1/grid-events", json=event(sites=["nowhere"]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "sites[0]"
    two = call("operator", "POST", "/v1/grid-events", json=event(cap_kw=5.0))
    assert two.status_code == 422 and "exactly one of" in two.text
    back = call("operator", "POST", "/v1/grid-events", json=event(end=(NOW - timedelta(hours=1)).isoformat()))
    assert back.status_code == 422
    far = call("operator", "POST", "/v1/grid-events", json=event(start="2030-01-01T00:00:00+08:00",
                                                                  end="2030-01-01T02:00:00+08:00"))  # fmt: skip
    assert far.status_code == 422 and "more than a year ahead" in far.text
    raw = b'{"id":"x","sites":["nj-hub"],"start":"2026-07-15T09:00","end":"2026-07-15T10:00","cap_kw":NaN}'
    nan = call("operator", "POST", "/v1/grid-events", content=raw, headers={"Content-Type": "application/json"})
    assert nan.status_code in (400, 422)
    ok = call("operator", "POST", "/v1/grid-events", json=event())
    assert ok.status_code == 201 and ok.json()["status"] == "pending" and ok.json()["start"].endswith("+08:00")
    assert call("operator", "POST", "/v1/grid-events", json=event()).status_code == 409
    assert [e["id"] for e in call("viewer", "GET", "/v1/grid-events").json()] == ["nj-cut"]
    assert call("viewer", "GET", "/v1/grid-events/none").status_code == 404
    assert call("viewer", "DELETE", "/v1/grid-events/nj-cut").status_code == 403
    gone = call("operator", "DELETE", "/v1/grid-events/nj-cut")
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"


def test_an_event_suspends_preemptible_work_never_inference_and_says_why_it_is_unmet(world, engine):
    app, loop, call, cycle = world
    assert call("t", "POST", "/v1/jobs", json={"jobs": [
        job("train", preemptible=True, checkpoint_h=0.5), job("serve", kind="inference", preemptible=True),
        job("pinned")]}).status_code == 201  # fmt: skip
    cycle(NOW)
    assert set(states(engine).values()) == {"submitted"}
    _running(loop, ["t/train", "t/serve", "t/pinned"], NOW)
    assert call("operator", "POST", "/v1/grid-events", json=event()).status_code == 201
    cycle(NOW + timedelta(minutes=5))  # announced, not yet due: a cap of half the draw
    e = call("viewer", "GET", "/v1/grid-events/nj-cut").json()
    assert e["status"] == "scheduled" and e["resolved_cap_kw"] == pytest.approx(1.5 * KW)
    assert states(engine)["train"] == "running"
    cycle(NOW + timedelta(minutes=15))  # due: the preemptible training job goes, inference stays
    e = call("viewer", "GET", "/v1/grid-events/nj-cut").json()
    assert e["status"] == "unmet" and e["suspended"] == ["t/train"]
    assert e["shed_kw"] == pytest.approx(KW) and e["shortfall_kw"] == pytest.approx(0.5 * KW)
    assert "inference draws 6.7 kW" in e["why"] and "non-preemptible work 6.7 kW" in e["why"]
    got = states(engine)
    assert got["train"] == "pending" and got["serve"] == "running" and got["pinned"] == "running"
    with sessions(engine)() as s:
        row = s.get(JobRow, "t/train")
        reasons = [t.reason for t in row.history]
        assert "done_h" not in row.spec  # 0.25 h run, a checkpoint every 0.5 h: nothing kept
    assert any("suspended for grid event nj-cut" in r and "0.25 h of work" in r for r in reasons)
    # the suspended job is not started again inside the window
    cycle(NOW + timedelta(minutes=30))
    assert states(engine)["train"] == "pending"
    text = generate_latest(app.state.registry).decode()
    assert f'suanwang_grid_event_cap_watts{{event="nj-cut"}} {1.5 * KW * 1000:.1f}' in text
    assert 'suanwang_grid_event_met{event="nj-cut"} 0.0' in text
    assert "suanwang_grid_suspended_jobs_total 1.0" in text
    # a submitter sees its own suspended jobs; another tenant sees none of them
    assert call("u", "GET", "/v1/grid-events/nj-cut").json()["suspended"] == []
    assert call("t", "GET", "/v1/grid-events/nj-cut").json()["suspended"] == ["train"]


def _night_job_planned(call, cycle) -> None:
    """A batch job with a 20-hour window, submitted and planned at 09:00."""
    later = (NOW + timedelta(hours=20)).isoformat() + "+08:00"
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("night", kind="batch", duration_h=4,
                window={"deadline": later})]}).status_code == 201  # fmt: skip
    cycle(NOW)


def test_a_deferrable_job_is_scheduled_not_placed(world, engine):
    _, _, call, cycle = world
    _night_job_planned(call, cycle)
    assert states(engine)["night"] == "pending"
    cycle(NOW + timedelta(minutes=1))  # the same schedule: one note, not one per cycle
    with sessions(engine)() as s:
        notes = [t.reason for t in s.get(JobRow, "t/night").history if t.source == t.target]
    assert len(notes) == 1 and notes[0].startswith("scheduled at nj-hub 07-16 00:00") and "valley band" in notes[0]
    why = call("t", "GET", "/v1/jobs/night/explain").json()["reasons"]
    assert why[0].startswith("scheduled at nj-hub: starts 07-16 00:00 (UTC+8) in the valley band, saves ¥")


def test_a_job_whose_scheduled_start_has_come_is_started(world, engine):
    _, loop, call, cycle = world
    _night_job_planned(call, cycle)
    assert loop._promised == {"t/night": datetime(2026, 7, 16, 0, 0)}
    restarted = ControlLoop(loop.app, time_limit_s=1, assume_empty=True)  # or a replica taking the lead
    assert restarted._promises() == loop._promised  # read from the latest recorded plan
    loop._promised["t/night"] = NOW + timedelta(minutes=5)  # as if a plan had scheduled it for 09:05
    cycle(NOW + timedelta(minutes=5))  # due: it starts now rather than wait for the valley again
    assert states(engine)["night"] == "submitted" and loop._promised == {}


def test_accounts_accrue_hour_by_hour_and_tenants_see_their_own(world, engine):
    app, loop, call, cycle = world
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("a")]}).status_code == 201
    assert call("u", "POST", "/v1/jobs", json={"jobs": [job("b", tenant="u")]}).status_code == 201
    cycle(NOW)
    _running(loop, ["t/a", "u/b"], NOW)
    cycle(NOW + timedelta(minutes=90))
    mine = call("t", "GET", "/v1/accounts/t?group=hour")
    assert mine.status_code == 200
    total = mine.json()["total"]
    assert total["energy_kwh"] == pytest.approx(1.5 * KW, rel=1e-4)
    assert total["cost_cny"] == pytest.approx(1.5 * KW * 0.697, rel=1e-4)
    assert total["carbon_location_kg"] == pytest.approx(1.5 * KW * 0.5827, rel=1e-4)
    assert total["carbon_market_kg"] == pytest.approx(total["carbon_location_kg"])  # no green share at nj-hub
    hours = [(r["hour"], r["energy_kwh"]) for r in mine.json()["rows"]]
    assert hours == [
        ("2026-07-15T09:00:00+08:00", pytest.approx(KW)),
        ("2026-07-15T10:00:00+08:00", pytest.approx(0.5 * KW)),
    ]
    assert call("t", "GET", "/v1/accounts/u").status_code == 403  # tenants are walls
    assert call("viewer", "GET", "/v1/accounts/" + "x" * 201).status_code == 422
    own = call("t", "GET", "/v1/accounts").json()  # the province view of a tenant is its own
    assert own["tenant"] == "t" and own["total"]["energy_kwh"] == pytest.approx(1.5 * KW, rel=1e-4)
    province = call("viewer", "GET", "/v1/accounts").json()
    assert province["total"]["energy_kwh"] == pytest.approx(3 * KW, rel=1e-4)
    assert province["basis"]["zones"]["js"] == {
        "carbon": "annual factor 0.5827 kg CO₂/kWh",
        "price": "time-of-use tariff",
    }
    assert {x["tenant"] for x in province["by_tenant"]} == {"t", "u"}
    assert call("viewer", "GET", "/v1/accounts?start=yesterday").status_code == 422
    text = generate_latest(app.state.registry).decode()
    joules = 1.5 * KW * 3.6e6
    line = next(x for x in text.splitlines() if x.startswith('suanwang_energy_joules_total{site="nj-hub",tenant="t"}'))
    assert float(line.split()[-1]) == pytest.approx(joules, rel=1e-4)
    assert 'suanwang_carbon_grams_total{basis="market",site="nj-hub",tenant="u"}' in text
    # nothing is counted twice: the next cycle adds only the time since
    cycle(NOW + timedelta(minutes=120))
    again = call("t", "GET", "/v1/accounts/t").json()["total"]["energy_kwh"]
    assert again == pytest.approx(2.0 * KW, rel=1e-4)


def test_a_cap_is_met_only_where_the_draw_is_measured(world, engine):
    from suanwang.solvers.problem import State

    app, loop, call, cycle = world
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("train", preemptible=True)]}).status_code == 201
    cycle(NOW)
    _running(loop, ["t/train"], NOW)
    assert call("operator", "POST", "/v1/grid-events", json=event(cap_kw=50.0, reduce_ratio=None)).status_code == 201
    cycle(NOW + timedelta(minutes=15))  # no collector: nothing measured, so not known to hold
    e = call("viewer", "GET", "/v1/grid-events/nj-cut").json()
    assert e["status"] == "unverified" and "no fresh power reading" in e["why"] and e["suspended"] == []
    app.state.live_state = State({}, {s.id: 0.0 for s in app.state.topology.sites})  # a fresh reading
    cycle(NOW + timedelta(minutes=20))
    e = call("viewer", "GET", "/v1/grid-events/nj-cut").json()
    assert e["status"] == "met" and e["draw_kw"] == pytest.approx(KW)  # never below our own jobs' draw


def test_suspended_work_keeps_what_it_saved_at_checkpoints(world, engine):
    app, loop, call, cycle = world
    jobs = [job("train", preemptible=True, checkpoint_h=0.5), job("pinned")]
    assert call("t", "POST", "/v1/jobs", json={"jobs": jobs}).status_code == 201
    cycle(NOW)
    _running(loop, ["t/train", "t/pinned"], NOW - timedelta(hours=1))
    assert call("operator", "POST", "/v1/grid-events", json=event()).status_code == 201
    cycle(NOW + timedelta(minutes=15))  # due after 1.25 h of running: 1 h saved, 0.25 h lost
    assert states(engine)["train"] == "pending"
    with sessions(engine)() as s:
        row = s.get(JobRow, "t/train")
        assert row.spec["done_h"] == 1.0 and "1.00 h of its work kept at checkpoints" in row.history[-1].reason
    assert dict(loop.store.specs(("pending",)))["t/train"]["duration_h"] == 5.0  # 6 h less the hour kept


def test_the_plan_counts_running_work_ending_within_a_slot(world, engine, monkeypatch):
    """Later slots see what running work gives back at its declared end (when it started, plus
    ``duration_h``); a job that has not started yet gives nothing back."""
    from suanwang.solvers.problem import State

    app, loop, call, cycle = world
    assert call("t", "POST", "/v1/jobs", json={"jobs": [job("a"), job("b")]}).status_code == 201
    cycle(NOW - timedelta(hours=6))
    _running(loop, ["t/a"], NOW - timedelta(hours=5, minutes=30))  # ends at 09:30
    app.state.live_state = State()  # measured: nothing else runs
    seen = []
    solve_isolating = loop._solve_isolating
    monkeypatch.setattr(loop, "_solve_isolating", lambda p, *a: seen.append(p) or solve_isolating(p, *a))
    _night_job_planned(call, cycle)
    (r,) = seen[-1].state.releases
    assert (r.site, r.accelerator, r.at, r.per_node) == ("nj-hub", "H800", NOW + timedelta(minutes=30), 8)


class OneJob:
    """Tenant t's one job on ``topo``, running from NOW; the accounts after the cycle at NOW + 90 min."""

    def __init__(self, engine, tmp_path, topo) -> None:
        self.clock = [NOW]
        self.app = create_app(engine, topo, now=lambda: self.clock[0])
        self.loop = ControlLoop(self.app, manifests_dir=tmp_path / "m", time_limit_s=1, assume_empty=True)
        with sessions(engine).begin() as s:
            token = repo.create_token(s, "submitter", "t", "setup", NOW)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.auth = {"Authorization": f"Bearer {token}"}
        assert self.client.post("/v1/jobs", json={"jobs": [job("a")]}, headers=self.auth).status_code == 201
        self.loop.cycle(NOW)
        _running(self.loop, ["t/a"], NOW)
        self.at(NOW + timedelta(minutes=90))

    def at(self, when) -> None:
        self.clock[0] = when
        self.loop.cycle(when)

    def accounts(self) -> dict:
        return self.client.get("/v1/accounts/t?group=hour", headers=self.auth).json()


def test_accounts_take_each_hour_from_the_topology_carbon_series(engine, tmp_path):
    """A zone that names an hourly series in the topology is accounted at that series, hour by hour."""
    import yaml

    from suanwang.topology.loader import load_topology
    from tests.conftest import MINI

    start = datetime(2026, 1, 1)
    rows = "".join(f"{start + timedelta(hours=h)},{500 + 100 * (h % 24)}\n" for h in range(24 * 366))
    (tmp_path / "js.csv").write_text("Datetime (UTC),g\n" + rows)  # 09:00 in UTC+8 is 01:00 UTC: 600 g
    doc = yaml.safe_load(MINI)
    doc["grid_zones"]["js"]["carbon_series"] = {"path": "js.csv", "column": "g"}
    (tmp_path / "topo.yaml").write_text(yaml.safe_dump(doc))
    topo = load_topology(tmp_path / "topo.yaml")
    run = OneJob(engine, tmp_path, topo)
    body = run.accounts()
    assert [(r["hour"], r["carbon_location_kg"]) for r in body["rows"]] == [
        ("2026-07-15T09:00:00+08:00", pytest.approx(KW * 0.6, rel=1e-4)),
        ("2026-07-15T10:00:00+08:00", pytest.approx(0.5 * KW * 0.7, rel=1e-4)),
    ]
    # the answer says where its figures come from: the series by its file name, never the server's path
    assert body["basis"]["zones"]["js"]["carbon"] == "hourly series js.csv (g), by hour of the year"
    assert str(tmp_path) not in str(body["basis"]) and "PUE" in body["basis"]["energy"]


def test_accounts_take_the_measured_hours_while_the_file_is_fresh(engine, tmp_path):
    """A zone's ``carbon_measured`` file: the hours it holds replace the series' in the accounts
    while it is fresh; the answer's basis names it, and its metric says it was taken."""
    from suanwang.topology.loader import load_topology
    from tests.collectors.test_carbon_feed import topology, write_feed

    topo = load_topology(topology(tmp_path, flat=False, measured={"path": "m.csv", "max_age_h": 2}))
    write_feed(tmp_path / "m.csv", NOW - timedelta(hours=1), [300, 300, 250], written=NOW + timedelta(minutes=80))
    run = OneJob(engine, tmp_path, topo)
    body = run.accounts()
    assert [(r["hour"], r["carbon_location_kg"]) for r in body["rows"]] == [
        ("2026-07-15T09:00:00+08:00", pytest.approx(KW * 0.3, rel=1e-4)),  # the series says 0.5
        ("2026-07-15T10:00:00+08:00", pytest.approx(0.5 * KW * 0.25, rel=1e-4)),
    ]
    assert body["basis"]["zones"]["js"]["carbon"].startswith("measured hours of m.csv while it is fresh, else")
    reg = run.app.state.registry
    assert reg.get_sample_value("suanwang_carbon_feed_used", {"zone": "js", "kind": "measured"}) == 1
    # three hours on, the file is stale: the hour accrued then is at the series again
    run.at(NOW + timedelta(hours=4))
    rows = run.accounts()["rows"]
    assert rows[-1]["hour"] == "2026-07-15T12:00:00+08:00"
    assert rows[-1]["carbon_location_kg"] == pytest.approx(KW * 0.5, rel=1e-4)
    assert reg.get_sample_value("suanwang_carbon_feed_used", {"zone": "js", "kind": "measured"}) == 0


def test_hours_accrued_before_their_measured_figure_are_settled_at_it(engine, tmp_path):
    """An hour accrued at the series (an estimate) is settled once the measured file holds it, and
    settled again when the grid revises its figure; the answer counts the settled energy, and the
    counters with their revisions add up to the accounts."""
    from suanwang.topology.loader import load_topology
    from tests.collectors.test_carbon_feed import topology, write_feed

    topo = load_topology(topology(tmp_path, flat=False, measured={"path": "m.csv", "max_age_h": 2}))
    m = tmp_path / "m.csv"
    write_feed(m, NOW - timedelta(hours=1), [300], written=NOW + timedelta(minutes=80))  # 08:00 only
    run = OneJob(engine, tmp_path, topo)  # accrued to 10:30 at the series' 0.5 kg/kWh
    body = run.accounts()
    assert [r["carbon_location_kg"] for r in body["rows"]] == [
        pytest.approx(KW * 0.5, rel=1e-4),
        pytest.approx(0.5 * KW * 0.5, rel=1e-4),
    ]
    assert body["total"]["energy_settled_kwh"] == 0.0

    write_feed(m, NOW - timedelta(hours=1), [300, 300, 250], written=NOW + timedelta(minutes=100))
    run.at(NOW + timedelta(minutes=105))  # 10:30–10:45 accrued at 0.25, then 09:00 and 10:00 settled
    body = run.accounts()
    assert [r["carbon_location_kg"] for r in body["rows"]] == [
        pytest.approx(KW * 0.3, rel=1e-4),
        pytest.approx(0.75 * KW * 0.25, rel=1e-4),
    ]
    assert body["total"]["energy_settled_kwh"] == pytest.approx(1.75 * KW, rel=1e-4)
    share = body["rows"][0]["carbon_market_kg"] / body["rows"][0]["carbon_location_kg"]
    assert share == pytest.approx(body["rows"][1]["carbon_market_kg"] / body["rows"][1]["carbon_location_kg"])
    green = next(x.green_share for x in topo.sites if x.id == "nj-hub")
    assert share == pytest.approx(1.0 - green)  # the market-based figure keeps the site's green share

    reg = run.app.state.registry

    def grams(name, **labels):
        return reg.get_sample_value(name, {"site": "nj-hub", "tenant": "t", "basis": "location", **labels}) or 0.0

    def balance():
        return (grams("suanwang_carbon_grams_total") + grams("suanwang_carbon_revised_grams_total", direction="up")
                - grams("suanwang_carbon_revised_grams_total", direction="down"))  # fmt: skip

    assert grams("suanwang_carbon_revised_grams_total", direction="down") == pytest.approx(
        1000 * KW * (0.2 + 0.5 * 0.25), rel=1e-4
    )
    assert balance() == pytest.approx(1000 * body["total"]["carbon_location_kg"], rel=1e-6)

    # the grid revises 09:00 to 350 g: the row follows, and nothing else changes
    write_feed(m, NOW - timedelta(hours=1), [300, 350, 250], written=NOW + timedelta(minutes=110))
    run.at(NOW + timedelta(minutes=115))
    rows = run.accounts()["rows"]
    assert rows[0]["carbon_location_kg"] == pytest.approx(KW * 0.35, rel=1e-4)
    assert grams("suanwang_carbon_revised_grams_total", direction="up") == pytest.approx(1000 * KW * 0.05, rel=1e-4)
    assert balance() == pytest.approx(1000 * run.accounts()["total"]["carbon_location_kg"], rel=1e-6)

    # stale: the next hours are estimates again and are not counted as settled
    run.at(NOW + timedelta(hours=4, minutes=30))
    body = run.accounts()
    assert body["rows"][-1]["carbon_location_kg"] == pytest.approx(0.5 * KW * 0.5, rel=1e-4)
    # 10:00's last quarter was accrued at the series: the row holds an estimate again, and says so
    assert body["total"]["energy_settled_kwh"] == pytest.approx(KW, rel=1e-4)
    assert [r["energy_settled_kwh"] for r in body["rows"][:2]] == [pytest.approx(KW, rel=1e-4), 0.0]
