"""``suanwang plan`` and ``suanwang demo`` through the CLI runner: contract of the plan JSON, exit codes."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from suanwang.scheduler.cli import app
from suanwang.scheduler.cli.errors import EXIT_INPUT, EXIT_USAGE
from tests.scheduler.test_jobfile import GOOD

PLACEMENT_KEYS = {
    "job",
    "site",
    "accelerator",
    "nodes",
    "start",
    "path",
    "rtt_ms",
    "energy_kwh",
    "cost_cny",
    "carbon_kg",
}


def test_plan_json_follows_contract(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD)
    r = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--time-limit", "1", "-o", "json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    as_yaml = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--time-limit", "1", "-o", "yaml"])
    assert as_yaml.exit_code == 0 and yaml.safe_load(as_yaml.stdout)["placements"]
    names = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--time-limit", "1", "-o", "name"]).stdout.split()
    assert sorted(names) == sorted(
        [f"placement/{p['job']}" for p in plan["placements"]] + [f"unplaced/{u['job']}" for u in plan["unplaced"]]
    )
    assert {"status", "objective", "bound", "gap", "solve_seconds", "placements", "unplaced"} <= set(plan)
    assert {p["job"] for p in plan["placements"]} | {u["job"] for u in plan["unplaced"]} == {
        "pretrain",
        "chat",
        "running",
    }
    for p in plan["placements"]:
        assert PLACEMENT_KEYS <= set(p)
    chat = next(p for p in plan["placements"] if p["job"] == "chat")
    assert chat["rtt_ms"] <= 5 and chat["path"][0] == "Xuzhou"


def test_plan_table_and_baseline(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD)
    r = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--solver", "karmada"])
    assert r.exit_code == 0, r.output
    assert "placements" in r.output and "karmada" in r.output and "gap" in r.output


def test_plan_bad_inputs(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD.replace("kind: training", "kind: train"))
    r = CliRunner().invoke(app, ["plan", "-f", str(jobs)])
    assert r.exit_code == EXIT_INPUT and "jobs[0].kind" in r.output
    jobs.write_text(GOOD)
    assert CliRunner().invoke(app, ["plan", "-f", str(jobs), "--solver", "magic"]).exit_code == EXIT_INPUT
    assert CliRunner().invoke(app, ["plan", "-f", str(jobs), "--now", "yesterday"]).exit_code == EXIT_INPUT
    assert CliRunner().invoke(app, ["plan"]).exit_code == EXIT_USAGE


def test_demo_beside_baselines(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--time-limit", "1"])
    assert r.exit_code == 0, r.output
    for name in ("cpsat", "greedy", "bestfit", "karmada"):
        assert name in r.output
    as_json = CliRunner().invoke(app, ["demo", "--time-limit", "1", "-o", "json"])
    plan = json.loads(as_json.stdout)["cpsat"]
    assert len(plan["placements"]) + len(plan["unplaced"]) >= 200
    assert plan["objective"] <= plan["bound"] + 1e-6


def test_plan_reads_several_files_and_stdin(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD)
    other = tmp_path / "more.yaml"
    other.write_text(
        GOOD.replace("id: pretrain", "id: pretrain-2")
        .replace("id: chat", "id: chat-2")
        .replace("id: running", "id: running-2")
    )
    r = CliRunner().invoke(
        app, ["plan", "-f", str(jobs), "-f", "-", "--time-limit", "1", "-o", "json"], input=other.read_text()
    )
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert len(plan["placements"]) + len(plan["unplaced"]) == 6
    dup = CliRunner().invoke(app, ["plan", "-f", str(jobs), "-f", str(jobs)])
    assert dup.exit_code == EXIT_INPUT and "more than one file" in dup.output


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.startswith("suanwang ") and r.stdout.split()[1][0].isdigit()


JULY = """plan_time: 2026-07-15T10:00:00+08:00
jobs:
  - {id: nightly-eval, kind: batch, tenant: lab, priority: 2, duration_h: 4,
     accelerators: {count: 8, per_node: 8, models: [H800]},
     window: {earliest: 2026-07-15T10:00:00+08:00, deadline: 2026-07-16T10:00:00+08:00}}
  - {id: urgent-train, kind: training, tenant: lab, priority: 2, duration_h: 4,
     accelerators: {count: 8, per_node: 8, models: [H800]}}
"""


def test_the_july_example_starts_in_the_valley_band(tmp_path):
    """Planned at 10:00 on a July day (critical peak, ¥1.185/kWh), a batch job with a 24-hour window
    starts at midnight in the valley band (¥0.372); a job without a window starts now."""
    import json

    f = tmp_path / "july.yaml"
    f.write_text(JULY)
    r = CliRunner().invoke(app, ["plan", "-f", str(f), "-o", "json"])
    assert r.exit_code == 0, r.output
    got = {p["job"]: p for p in json.loads(r.stdout)["placements"]}
    assert got["nightly-eval"]["scheduled"] and got["nightly-eval"]["start"] == "2026-07-16T00:00:00+08:00"
    assert "valley band, saves ¥12.02" in got["nightly-eval"]["note"]
    assert not got["urgent-train"]["scheduled"] and got["urgent-train"]["start"] == "2026-07-15T10:00:00+08:00"
    now = CliRunner().invoke(app, ["plan", "-f", str(f), "-o", "json", "--shift-horizon", "0"])
    assert {p["start"] for p in json.loads(now.stdout)["placements"]} == {"2026-07-15T10:00:00+08:00"}
    # an hour of waiting priced above what it saves: the batch job starts now too
    eager = CliRunner().invoke(app, ["plan", "-f", str(f), "-o", "json", "--wait-cost", "1000"])
    assert eager.exit_code == 0, eager.output
    got = {p["job"]: p for p in json.loads(eager.stdout)["placements"]}
    assert not got["nightly-eval"]["scheduled"] and got["nightly-eval"]["start"] == "2026-07-15T10:00:00+08:00"
    bad = CliRunner().invoke(app, ["plan", "-f", str(f), "--wait-cost", "-1"])
    assert bad.exit_code != 0 and "--wait-cost" in bad.output
    bad = CliRunner().invoke(app, ["plan", "-f", str(f), "--hold-share", "2"])
    assert bad.exit_code != 0 and "--hold-share" in bad.output
    from suanwang.scheduler.cli.flags import HoldOpt
    from suanwang.solvers.problem import Shift

    assert HoldOpt.default == Shift().hold_share  # the flag's default is the planner's


def test_a_time_indexed_plan_shows_its_score_against_its_bound(tmp_path):
    """The July plan's summary line gives the score the start times were chosen on and its bound
    (the placement bound, on priority × PFLOPS, is not what the time-indexed model proves)."""
    f = tmp_path / "july.yaml"
    f.write_text(JULY)
    doc = json.loads(CliRunner().invoke(app, ["plan", "-f", str(f), "-o", "json"]).stdout)
    assert doc["bound"] is None and doc["score_bound"] >= doc["score"] > 0
    r = CliRunner().invoke(app, ["plan", "-f", str(f)])
    assert r.exit_code == 0, r.output
    line = " ".join(r.stdout.split("cpsat-shift:", 1)[1].split())  # the line, as the terminal wrapped it
    assert f"score ¥{doc['score']:,.2f}" in line and f"bound ¥{doc['score_bound']:,.2f}" in line
    assert "bound —" not in line


def test_plan_keeps_to_the_tenants_quotas(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n"
        + "".join(
            f"  - {{id: q{i}, kind: training, tenant: lab, priority: 1, duration_h: 2,"
            f" accelerators: {{count: 8, per_node: 8, models: [H800]}}}}\n"
            for i in range(3)
        )
    )
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("name: lab\nquotas: [{accelerator: H800, nominal: 16}]\n")
    r = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--tenants", str(tenants), "--time-limit", "1", "-o", "json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert len(plan["placements"]) == 2 and len(plan["unplaced"]) == 1
    assert "tenant lab has used 16 of its 16 H800" in plan["unplaced"][0]["reasons"][0]
    tenants.write_text("name: lab\nquotas: [{accelerator: H800, nominal: -1}]\n")
    bad = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--tenants", str(tenants)])
    assert bad.exit_code == EXIT_INPUT and "tenants.yaml:2: quotas[0].nominal" in bad.stderr


def test_tenant_groups_are_checked_against_the_topology(tmp_path):
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - {name: lab, quotas: [{accelerator: H20, nominal: 8, group: {tier: edge, city: Nanjing}}]}\n"
        "  - {name: lab2, quotas: [{accelerator: H20, nominal: 8, group: {city: Atlantis}}]}\n"
    )
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD)
    r = CliRunner().invoke(app, ["plan", "-f", str(jobs), "--tenants", str(tenants)])
    assert r.exit_code == EXIT_INPUT
    assert "tenants.yaml:2: tenants[0].quotas[0].group" in r.stderr and "exactly one of" in r.stderr
    assert "tenants.yaml:3: tenants[1].quotas[0].group.city" in r.stderr and "unknown city" in r.stderr
