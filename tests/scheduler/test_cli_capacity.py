"""``suanwang capacity plan`` through the CLI runner: the example planned to its 2027 target with
a validated report folder (markdown, JSON, four PNGs), -o json|yaml|wide|name, baselines compared,
the solver overridden, an infeasible budget exiting 4 with the binding targets, a bad file 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from suanwang.scheduler.cli import app
from suanwang.scheduler.cli.errors import EXIT_INFEASIBLE, EXIT_INPUT

EXAMPLE = Path(__file__).parents[2] / "examples" / "capacity-jiangsu-2025-2027.yaml"


def test_the_example_plans_jiangsu_to_its_target_with_a_validated_report(tmp_path):
    out = tmp_path / "report"
    r = CliRunner().invoke(
        app,
        [
            "capacity",
            "plan",
            str(EXAMPLE),
            "-o",
            "json",
            "--report-dir",
            str(out),
            "--validate",
            "--baselines",
            "proportional,hubs",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["status"] == "optimal" and doc["gap"] <= 0.01
    last = doc["by_year"][-1]
    assert last["year"] == 2027 and last["installed_pflops"] >= 9000 and last["unserved_pflops"] < 1e-3
    assert doc["validation"]["confirmed"] and len(doc["validation"]["years"]) == 3
    prop = doc["baselines"]["proportional"]
    assert prop["plan_saving"] > 0.2
    # the most any plan could save against it: one at the proven bound, at or above the plan's saving
    assert prop["saving_bound"] == pytest.approx(1 - doc["bound_cny"] / prop["npv_cny"])
    assert prop["plan_saving"] <= prop["saving_bound"] <= prop["plan_saving"] + doc["gap"] + 1e-9
    assert doc["baselines"]["hubs"]["status"] == "infeasible"
    assert doc["marginal_values"]["power_cny_per_kw"]  # the hubs' power caps bind in 2027
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert (
        "no plan's by more than" in summary
        and "Validation by simulation (confirmed" in summary
        and "| 2027 |" in summary
    )
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["npv_cny"] == doc["npv_cny"]
    for png in ("additions.png", "costs.png", "utilisation.png", "marginal.png"):
        with Image.open(out / png) as im:
            assert im.size[0] > 500 and len(im.convert("L").getcolors(maxcolors=256)) > 10
    assert "[" in r.stderr and "building the model" in r.stderr  # progress on stderr, JSON alone on stdout


def test_output_formats_and_solver_override():
    runner = CliRunner()
    as_yaml = runner.invoke(app, ["capacity", "plan", str(EXAMPLE), "-o", "yaml", "--solver", "cbc"])
    assert as_yaml.exit_code == 0, as_yaml.output
    doc = yaml.safe_load(as_yaml.stdout)
    assert doc["solver"] == "cbc" and doc["gap"] <= 0.01 + 1e-9
    names = runner.invoke(app, ["capacity", "plan", str(EXAMPLE), "-o", "name"]).stdout.split()
    assert names and all(n.startswith("addition/") for n in names)
    wide = runner.invoke(app, ["capacity", "plan", str(EXAMPLE), "-o", "wide"])
    assert wide.exit_code == 0 and "capex ¥ M" in wide.stdout and "2027" in wide.stdout
    bad = runner.invoke(app, ["capacity", "plan", str(EXAMPLE), "--solver", "gurobi"])
    assert bad.exit_code == EXIT_INPUT


def test_an_infeasible_budget_exits_4_naming_the_targets(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "budgets_cny: {2025: 1.5e9, 2026: 2.5e9, 2027: 2.5e9}", "budgets_cny: {2025: 1.0e8, 2026: 1.0e8, 2027: 1.0e8}"
    )
    plan = tmp_path / "tight.yaml"
    plan.write_text(text.replace("network: jiangsu-2025.yaml", f"network: {EXAMPLE.parent / 'jiangsu-2025.yaml'}"))
    r = CliRunner().invoke(app, ["capacity", "plan", str(plan), "--report-dir", str(tmp_path / "rep")])
    assert r.exit_code == EXIT_INFEASIBLE
    assert "province target for 2027" in r.stderr and "budgets of 2025, 2026, 2027 bind" in r.stderr
    assert json.loads((tmp_path / "rep" / "plan.json").read_text())["status"] == "infeasible"


def test_a_bad_file_exits_3_with_line_and_field(tmp_path):
    plan = tmp_path / "bad.yaml"
    plan.write_text("years: [2025]\ndemand:\n  rows:\n    - {year: 2025, class: training, pflops: -1}\n")
    r = CliRunner().invoke(app, ["capacity", "plan", str(plan)])
    assert r.exit_code == EXIT_INPUT
    assert "bad.yaml:4: demand.rows[0].pflops" in r.stderr
