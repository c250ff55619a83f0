"""The command line loads only the command it runs: ``suanwang plan`` starts without the API
server, the database layer or the plotting code, while ``--help`` and completion still list every
command and ``--version`` loads none; ``suanwang plan`` ends without tearing down its heap, its
output whole, exit handlers run and its exit code kept."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from suanwang.scheduler.cli import COMMANDS, app

PROBE = """
import atexit, sys
sys.argv = {argv!r}

@atexit.register
def report():
    heavy = sorted(m for m in ("fastapi", "sqlalchemy", "matplotlib", "alembic") if m in sys.modules)
    print("LOADED", ",".join(heavy))

from suanwang.scheduler.cli import main
main()
"""


def loaded(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("LOADED"))
    return [m for m in line.split(" ", 1)[1].split(",") if m]


def test_plan_and_version_load_no_server_database_or_plots():
    assert loaded(["suanwang", "plan", "--help"]) == []
    assert loaded(["suanwang", "--version"]) == []


def test_serve_loads_what_it_needs():
    assert "fastapi" in loaded(["suanwang", "serve", "--help"])


def test_help_lists_every_command():
    r = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert r.exit_code == 0
    listed = {ln.strip("│ ").split(" ")[0] for ln in r.output.splitlines()}
    assert set(COMMANDS) <= listed


def test_plan_exits_at_once_with_its_output_whole_and_its_exit_code(tmp_path):
    import json

    jobs = tmp_path / "jobs.yaml"
    asks = "accelerators: {count: 8, per_node: 8, models: [H800]}, duration_h: 2"
    jobs.write_text("jobs:\n" + "".join(f"  - {{id: j{i}, kind: training, {asks}}}\n" for i in range(3)))
    cmd = [sys.executable, "-m", "suanwang.scheduler.cli", "plan", "-f", str(jobs), "-o", "json"]
    done = subprocess.run([*cmd, "--shift-horizon", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)  # the whole document, flushed before the process ended
    assert plan["summary"]["placed"] == 3 and len(plan["placements"]) == 3
    bad = subprocess.run([*cmd[:-4], "-f", str(tmp_path / "missing.yaml")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 3 and "no such file" in bad.stderr  # an input error keeps its exit code
    # exit handlers still run (the end-to-end benchmark reads the peak memory in one)
    assert loaded(["suanwang", "plan", "-f", str(jobs), "-o", "name", "--shift-horizon", "0"]) == []
