"""The house: one import name in the wheel, layering contracts that hold (and fail when broken),
no bare imports of the layers, and solvers that do no I/O."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("topology", "solvers", "collectors", "scheduler", "simulations")
LINT = ROOT / ".ci" / "lint-imports"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("suanwang-*.whl")
    return whl


def test_wheel_installs_one_top_level_name(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
        toplevel = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        if toplevel:
            assert z.read(toplevel[0]).decode().split() == ["suanwang"]
    assert top == {"suanwang"}
    for layer in LAYERS:
        assert f"suanwang/{layer}/__init__.py" in names
    assert "suanwang/topology/data/jiangsu.yaml" in names
    assert "suanwang/scheduler/db/migrations/versions/0001_initial.py" in names


def _lint(probe: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SUANWANG_LINT_PROBE", None)
    if probe:
        env["SUANWANG_LINT_PROBE"] = probe
    return subprocess.run(["bash", str(LINT), sys.executable], env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    r = _lint()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(
    ("probe", "contract"),
    [
        ("suanwang.topology.probe:import suanwang.scheduler.service", "layers point inward"),
        ("suanwang.solvers.probe:import kubernetes", "draw, serve, store and deploy nothing"),
        ("suanwang.simulations.probe:from suanwang.collectors import promapi", "never the scheduler"),
    ],
)
def test_import_contracts_fail_on_a_forbidden_import(probe, contract):
    r = _lint(probe)
    assert r.returncode != 0
    assert f"{contract}" in r.stdout and "BROKEN" in r.stdout


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_nothing_imports_a_bare_layer_name():
    files = [p for d in (*LAYERS, "suanwang", "tests", "bench") for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 100
    for f in files:
        bad = _imports(f) & set(LAYERS)
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}; import suanwang.{sorted(bad)[0]} instead"


def test_solvers_do_no_io():
    for f in sorted((ROOT / "solvers").rglob("*.py")):
        calls = {
            n.func.id
            for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert not calls & {"print", "open", "input"}, f.name
