"""A zone's carbon feeds (``carbon_forecast`` and ``carbon_measured`` in the topology,
collectors.carbon_feed): the path taken from the topology's folder and refused in a request's
topology, the round trip through the serializer; a fresh file's hours placed by their UTC times
and taken by the outlook in place of the plan's own forecast (never in place of the oracle's
actual series); a stale, future-dated, missing or out-of-range file not used, with the reason; a
rewritten file read again; ``suanwang plan`` planning against the forecast (a dip only the actual
series holds does not move a job), the fresh feed (the job waits for the dip it shows) and not a
stale one; and measured hours replacing the series' up to the plan's hour while fresh."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.collectors.carbon_feed import MAX_FEED_ROWS, read_feeds, usable
from suanwang.errors import InputError
from suanwang.scheduler.cli import app
from suanwang.solvers.forecast import outlook
from suanwang.timeutil import CST
from suanwang.topology.loader import load_topology
from suanwang.topology.serialize import topology_to_yaml
from suanwang.topology.series import CARBON_COLUMN
from tests.conftest import MINI
from tests.topology.test_series import write_series

NOW = datetime(2026, 7, 15, 10, 0)  # plans' clock (UTC+8)
DIP = datetime(2026, 7, 16, 2, 0)  # the hours 02:00–06:00 of the next day
HOUR_OF_YEAR = int((DIP - datetime(2026, 1, 1)).total_seconds() // 3600)


def write_feed(path, first_local: datetime, values, written: datetime | None = NOW - timedelta(hours=1)) -> None:
    """A forecast file: one row an hour from ``first_local`` (written in UTC), modified at ``written``."""
    lines = [f"Datetime (UTC),{CARBON_COLUMN}"]
    for h, v in enumerate(values):
        lines.append(f"{(first_local + timedelta(hours=h - 8)).isoformat(sep=' ')},{v}")
    path.write_text("\n".join(lines) + "\n")
    if written is not None:
        t = written.replace(tzinfo=CST).timestamp()
        os.utime(path, (t, t))


def topology(
    tmp_path, *, feed: dict | None = None, series: bool = True, flat: bool = True, measured: dict | None = None
) -> str:
    doc = yaml.safe_load(MINI)
    zone = doc["grid_zones"]["js"]
    if flat:  # one price all day: carbon alone tells one hour from another
        zone["tariff"] = [{"name": "flat", "start_hour": 0, "end_hour": 24, "cny_per_kwh": 0.6}]
    if series:  # 500 g every hour, but 50 g at 02:00–06:00 of the day after the plan
        write_series(tmp_path / "js.csv", lambda h: 50 if 0 <= h + 8 - HOUR_OF_YEAR < 4 else 500)
        zone["carbon_series"] = {"path": "js.csv"}
    if feed is not None:
        zone["carbon_forecast"] = feed
    if measured is not None:
        zone["carbon_measured"] = measured
    f = tmp_path / "topo.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return str(f)


def test_the_feed_path_is_taken_from_the_topology_folder_and_kept_by_the_serializer(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    topo = load_topology(topology(tmp_path, feed={"path": "js-forecast.csv", "max_age_h": 6}))
    feed = topo.grid_zones["js"].carbon_feed
    assert feed is not None and feed.path == str(tmp_path / "js-forecast.csv") and feed.max_age_h == 6
    again = load_topology(text=topology_to_yaml(topo), source="again.yaml")
    assert again.grid_zones["js"].carbon_feed == feed
    with pytest.raises(InputError) as e:  # a topology sent in a request may name no server file
        load_topology(text=topology_to_yaml(topo), source="request", files=False)
    assert any(f.path == "grid_zones.js.carbon_forecast" and "on the server" in f.message for f in e.value.faults)
    with pytest.raises(InputError) as e:
        load_topology(topology(tmp_path, feed={"path": "x.csv", "max_age_h": 0}))
    assert any(f.path == "grid_zones.js.carbon_forecast.max_age_h" for f in e.value.faults)


def test_a_fresh_feed_gives_the_hours_it_covers_and_the_outlook_takes_them(tmp_path):
    topo = load_topology(topology(tmp_path, feed={"path": "fc.csv"}))
    write_feed(tmp_path / "fc.csv", NOW - timedelta(hours=2), [100 + h for h in range(30)])
    (r,) = read_feeds(topo, NOW).values()
    assert r.used and r.problem is None and abs(r.age_h - 1.0) < 1e-6
    assert min(r.hours) == NOW and r.hours[NOW] == pytest.approx(0.102)  # hours before the plan are left out
    look = outlook(topo, NOW, 48, "weekly", usable({"js": r}))
    carbon = look.carbon_kg_per_kwh["js"]
    assert carbon[:28] == pytest.approx([(102 + h) / 1000 for h in range(28)])
    assert carbon[28:] == pytest.approx([0.5] * 20)  # beyond the feed: the weekly profile
    assert "forecast feed for js 28 h" in look.source
    actual = outlook(topo, NOW, 48, "oracle", usable({"js": r})).carbon_kg_per_kwh["js"]
    assert min(actual) == pytest.approx(0.05)  # the oracle sees the actual series, never a forecast


@pytest.mark.parametrize(
    ("written", "values", "reason", "words"),
    [
        (NOW - timedelta(hours=30), [100] * 48, "stale", ["written 30.0 h before the plan", "max_age_h of 24"]),
        (NOW + timedelta(hours=3), [100] * 48, "future", ["after the plan's time", "clocks"]),
        (NOW - timedelta(hours=1), [100] * 3 + [6000] + [100] * 44, "invalid", ["line 5", "outside 0–5"]),
        (NOW - timedelta(hours=1), [100] * (MAX_FEED_ROWS + 1), "invalid", [f"more than {MAX_FEED_ROWS}"]),
    ],
)
def test_a_feed_that_cannot_be_trusted_is_not_used_and_says_why(tmp_path, written, values, reason, words):
    topo = load_topology(topology(tmp_path, feed={"path": "fc.csv"}))
    write_feed(tmp_path / "fc.csv", NOW - timedelta(hours=2), values, written)
    r = read_feeds(topo, NOW)["js"]
    assert not r.used and r.reason == reason and r.hours == {} and usable({"js": r}) == {}
    for w in words:
        assert w in r.problem, r.problem
    look = outlook(topo, NOW, 48, "weekly", usable({"js": r}))
    assert look.carbon_kg_per_kwh["js"] == pytest.approx([0.5] * 48) and "feed" not in look.source


def test_a_missing_or_past_feed_is_not_used_and_a_rewritten_one_is_read_again(tmp_path):
    topo = load_topology(topology(tmp_path, feed={"path": "fc.csv"}))
    assert "no such file" in read_feeds(topo, NOW)["js"].problem and read_feeds(topo, NOW)["js"].reason == "missing"
    f = tmp_path / "fc.csv"
    write_feed(f, NOW - timedelta(hours=30), [100] * 20)  # every hour before the plan
    assert "no hour from the plan's on" in read_feeds(topo, NOW)["js"].problem
    assert read_feeds(topo, NOW)["js"].reason == "empty"
    write_feed(f, NOW, [300] * 24, written=NOW - timedelta(minutes=30))
    r = read_feeds(topo, NOW)["js"]
    assert r.used and list(r.hours.values()) == pytest.approx([0.3] * 24)


def plan(tmp_path, *args: str) -> dict:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "plan_time: 2026-07-15T10:00:00+08:00\njobs:\n"
        "  - {id: eval, kind: batch, tenant: lab, priority: 2, duration_h: 2,\n"
        "     accelerators: {count: 8, per_node: 8, models: [H800]},\n"
        "     window: {earliest: 2026-07-15T10:00:00+08:00, deadline: 2026-07-16T10:00:00+08:00}}\n"
    )
    r = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--carbon-price", "100000", "-o", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_plan_takes_the_forecast_and_a_fresh_feed_never_the_actual_series(tmp_path):
    topo = topology(tmp_path, feed={"path": "fc.csv"})
    # no feed yet: the weekly profile shows no dip, so the job starts now although the actual series dips
    doc = plan(tmp_path, "-t", topo)
    (p,) = doc["placements"]
    assert not p["scheduled"] and p["start"] == "2026-07-15T10:00:00+08:00"
    assert doc["outlook"]["source"] == "tariff; carbon weekly"
    assert doc["outlook"]["feeds"]["js"]["used"] is False and "no such file" in doc["outlook"]["feeds"]["js"]["problem"]
    oracle = plan(tmp_path, "-t", topo, "--carbon-forecast", "oracle")["placements"][0]
    assert oracle["scheduled"] and oracle["start"] == "2026-07-16T02:00:00+08:00"
    # a fresh feed that forecasts the dip: the job waits for it
    write_feed(tmp_path / "fc.csv", NOW, [500] * 16 + [60] * 4 + [500] * 28)
    doc = plan(tmp_path, "-t", topo)
    (p,) = doc["placements"]
    assert p["scheduled"] and p["start"] == "2026-07-16T02:00:00+08:00", p
    assert doc["outlook"]["feeds"]["js"]["used"] is True and "forecast feed for js" in doc["outlook"]["source"]
    # the same file, written more than a day before the plan: not used, the job starts now
    t = (NOW - timedelta(hours=25)).replace(tzinfo=CST).timestamp()
    os.utime(tmp_path / "fc.csv", (t, t))
    doc = plan(tmp_path, "-t", topo)
    assert not doc["placements"][0]["scheduled"] and "written 25.0 h" in doc["outlook"]["feeds"]["js"]["problem"]
    human = CliRunner().invoke(app, ["plan", "-f", str(tmp_path / "jobs.yaml"), "-t", topo])
    assert "carbon forecast feed of zone js not used" in " ".join(human.stdout.split())
    bad = CliRunner().invoke(app, ["plan", "-f", str(tmp_path / "jobs.yaml"), "--carbon-forecast", "tarot"])
    assert bad.exit_code != 0 and "--carbon-forecast 'tarot'" in bad.output


def test_measured_hours_replace_the_series_up_to_the_plan_and_only_while_fresh(tmp_path):
    from suanwang.collectors.carbon_feed import read_measured
    from suanwang.topology.measured import with_measured_carbon

    topo = load_topology(topology(tmp_path, measured={"path": "m.csv", "max_age_h": 2}))
    assert read_measured(topo, NOW)["js"].reason == "missing"
    write_feed(tmp_path / "m.csv", NOW - timedelta(hours=5), [100 + h for h in range(8)], written=NOW)
    r = read_measured(topo, NOW)["js"]
    assert r.used and max(r.hours) == NOW and len(r.hours) == 6  # 05:00–10:00; the forecast hours after are left
    zone = with_measured_carbon(topo, usable({"js": r})).grid_zones["js"]
    assert zone.carbon_at(NOW) == pytest.approx(0.105) and zone.carbon_at(NOW - timedelta(hours=5)) == 0.1
    assert zone.carbon_at(NOW + timedelta(hours=1)) == 0.5  # the series beyond what was measured
    assert topo.grid_zones["js"].carbon_at(NOW) == 0.5  # the loaded topology is left as it was
    stale = read_measured(topo, NOW + timedelta(hours=3))["js"]
    assert stale.reason == "stale" and with_measured_carbon(topo, usable({"js": stale})) is topo
    flat = load_topology(topology(tmp_path, series=False, measured={"path": "m.csv"}))  # an annual factor only
    zone = with_measured_carbon(flat, usable(read_measured(flat, NOW))).grid_zones["js"]
    assert zone.carbon_at(NOW) == pytest.approx(0.105) and zone.carbon_at(NOW + timedelta(days=30)) == 0.5827
