"""``suanwang topology`` commands through the CLI runner: output, JSON, exit codes, the map PNG."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from suanwang.scheduler.cli import app
from suanwang.scheduler.cli.errors import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_USAGE
from tests.topology.test_builtin import CITIES


@pytest.fixture()
def run():
    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(app, list(args))

    return _run


def test_show_lists_all_cities_and_province_totals(run):
    r = run("topology", "show")
    assert r.exit_code == 0, r.output
    for city in CITIES:
        assert city in r.output
    assert "province" in r.output and "PFLOPS" in r.output and "8,991.9" in r.output


def test_show_json(run, jiangsu):
    r = run("topology", "show", "-o", "json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert set(data["by_city"]) == CITIES
    assert len(data["sites"]) == len(jiangsu.sites)
    assert data["province"]["cards"] == sum(s["cards"] for s in data["sites"])


def test_show_other_topology(run, mini_file):
    r = run("topology", "show", "--topology", str(mini_file), "-o", "json")
    assert r.exit_code == 0
    assert json.loads(r.output)["name"] == "mini"


def test_validate_ok(run, mini_file):
    r = run("topology", "validate", "-f", str(mini_file))
    assert r.exit_code == 0 and "valid" in r.output


def test_validate_says_when_a_carbon_feed_would_not_be_used(run, tmp_path):
    """Feeds are read when plans are made, so a missing one is no fault (exit 0), but validate says
    that a plan made now would not take it, by kind; once the feed writes a fresh file, it says
    nothing of it."""
    from datetime import timedelta

    from suanwang.timeutil import now_local
    from tests.collectors.test_carbon_feed import topology, write_feed

    topo = topology(tmp_path, feed={"path": "fc.csv"}, measured={"path": "m.csv"})
    r = run("topology", "validate", "-f", topo)
    assert r.exit_code == 0 and "valid" in r.output
    assert "zone js's carbon forecast feed would not be used now" in " ".join(r.output.split())
    said = json.loads(run("topology", "validate", "-f", topo, "-o", "json").stdout)["feeds_not_used_now"]
    assert "no such file" in said["js"]["forecast"] and "no such file" in said["js"]["measured"]
    now = now_local()
    write_feed(tmp_path / "fc.csv", now.replace(minute=0, second=0), [300] * 24, written=now - timedelta(minutes=5))
    said = json.loads(run("topology", "validate", "-f", topo, "-o", "json").stdout)["feeds_not_used_now"]
    assert set(said["js"]) == {"measured"}  # the forecast is fresh; measured hours are still missing
    write_feed(tmp_path / "m.csv", now.replace(minute=0, second=0) - timedelta(hours=3), [300] * 4, written=now)
    assert json.loads(run("topology", "validate", "-f", topo, "-o", "json").stdout)["feeds_not_used_now"] == {}


def test_validate_lists_every_fault_exit_3(run, tmp_path):
    from tests.conftest import MINI

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        MINI.replace("nodes: 4", "nodes: 0").replace("pue: 1.3", "pue: 0.5").replace("to: Xuzhou", "to: Atlantis")
    )
    r = run("topology", "validate", "-f", str(bad))
    assert r.exit_code == EXIT_INPUT
    for path in ("sites[0].pools[0].nodes", "sites[2].pue", "links[4].to"):
        assert path in r.output
    rj = run("topology", "validate", "-f", str(bad), "-o", "json")
    assert rj.exit_code == EXIT_INPUT
    faults = json.loads(rj.stdout)["faults"]
    assert {f["path"] for f in faults} >= {"sites[0].pools[0].nodes", "sites[2].pue", "links[4].to"}
    assert all(f["fix"] and f["line"] for f in faults)


def test_route_and_deterministic(run):
    r = run("topology", "route", "--from", "Xuzhou", "--to", "sz-hub", "-o", "json")
    assert r.exit_code == 0
    plain = json.loads(r.output)
    d = run(
        "topology",
        "route",
        "--from",
        "Xuzhou",
        "--to",
        "sz-hub",
        "--deterministic",
        "--max-jitter-us",
        "10",
        "-o",
        "json",
    )
    det = json.loads(d.output)
    assert det["deterministic"] and set(det["kinds"]) == {"ceni"} and det["meets_jitter"]
    assert det["rtt_ms"] >= plain["rtt_ms"]
    t = run("topology", "route", "--from", "Xuzhou", "--to", "sz-hub", "--deterministic", "--max-jitter-us", "1")
    assert t.exit_code == EXIT_INFEASIBLE and "does NOT meet" in t.output  # a missed bound is not success


def test_route_without_ceni_is_infeasible(run):
    r = run("topology", "route", "--from", "Lianyungang", "--to", "lyg-city", "--deterministic")
    assert r.exit_code == EXIT_INFEASIBLE
    assert "no deterministic" in r.output


def test_route_unknown_name_is_input_error(run):
    r = run("topology", "route", "--from", "Nanjng", "--to", "nj-hub")
    assert r.exit_code == EXIT_INPUT and "Nanjing" in r.output


def test_reach(run):
    r = run("topology", "reach", "--from", "Nanjing", "--rtt-ms", "2", "-o", "json")
    assert r.exit_code == 0
    sites = [s["site"] for s in json.loads(r.output)["sites"]]
    assert sites[:2] == ["nj-hub", "nj-edge"] and "xz-city" not in sites
    assert all(s["rtt_ms"] <= 2 for s in json.loads(r.output)["sites"])
    t = run("topology", "reach", "--from", "Nanjing", "--rtt-ms", "2")
    assert "nj-hub" in t.output


def test_usage_errors_exit_2(run):
    assert run("topology", "reach", "--from", "Nanjing").exit_code == EXIT_USAGE
    assert run("topology", "nope").exit_code == EXIT_USAGE
    assert run("topology", "show", "-o", "xml").exit_code == EXIT_USAGE


def test_map_writes_a_real_png(run, tmp_path):
    out = tmp_path / "map.png"
    r = run("topology", "map", "--png", str(out))
    assert r.exit_code == 0, r.output
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.width > 400 and img.height > 400
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 24)) > 10  # something was drawn
    assert run("topology", "map", "--png", str(tmp_path / "map.jpg")).exit_code == EXIT_INPUT
