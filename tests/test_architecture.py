"""Dependencies point inward: topology and solvers import no Kubernetes, FastAPI, Prometheus or
HTTP client, and solvers never print or open files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "kubernetes",
    "fastapi",
    "prometheus_client",
    "requests",
    "httpx",
    "urllib3",
    "aiohttp",
    "scheduler",
    "collectors",
    "simulations",
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", ["topology", "solvers"])
def test_inner_packages_import_nothing_outward(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for f in files:
        bad = imports(f) & FORBIDDEN
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_solvers_do_no_io():
    for f in sorted((ROOT / "solvers").rglob("*.py")):
        calls = {
            n.func.id
            for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert not calls & {"print", "open", "input"}, f.name
