"""``suanwang plan`` and ``suanwang demo`` through the CLI runner: contract of the plan JSON, exit codes."""

from __future__ import annotations

import json

from suanwang.scheduler.cli import app
from suanwang.scheduler.cli.errors import EXIT_INPUT, EXIT_USAGE
from typer.testing import CliRunner

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
    out = tmp_path / "plan.json"
    r = CliRunner().invoke(app, ["plan", "--jobs", str(jobs), "--time-limit", "1", "-o", str(out), "-f", "json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(out.read_text())
    assert json.loads(r.output) == plan
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
    r = CliRunner().invoke(app, ["plan", "--jobs", str(jobs), "--solver", "karmada"])
    assert r.exit_code == 0, r.output
    assert "placements" in r.output and "karmada" in r.output and "gap" in r.output


def test_plan_bad_inputs(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD.replace("kind: training", "kind: train"))
    r = CliRunner().invoke(app, ["plan", "--jobs", str(jobs)])
    assert r.exit_code == EXIT_INPUT and "jobs[0].kind" in r.output
    jobs.write_text(GOOD)
    assert CliRunner().invoke(app, ["plan", "--jobs", str(jobs), "--solver", "magic"]).exit_code == EXIT_INPUT
    assert CliRunner().invoke(app, ["plan", "--jobs", str(jobs), "--now", "yesterday"]).exit_code == EXIT_INPUT
    assert CliRunner().invoke(app, ["plan"]).exit_code == EXIT_USAGE


def test_demo_beside_baselines(tmp_path):
    out = tmp_path / "demo.json"
    r = CliRunner().invoke(app, ["demo", "--time-limit", "1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("cpsat", "greedy", "bestfit", "karmada"):
        assert name in r.output
    plan = json.loads(out.read_text())
    assert len(plan["placements"]) + len(plan["unplaced"]) >= 200
    assert plan["objective"] <= plan["bound"] + 1e-6
