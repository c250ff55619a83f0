"""The command line loads only the command it runs: ``suanwang plan`` starts without the API
server, the database layer or the plotting code, while ``--help`` and completion still list every
command and ``--version`` loads none."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from suanwang.scheduler.cli import COMMANDS, app

PROBE = """
import sys
sys.argv = {argv!r}
from suanwang.scheduler.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("fastapi", "sqlalchemy", "matplotlib", "alembic") if m in sys.modules)
print("LOADED", ",".join(heavy))
"""


def loaded(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
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
