"""YAML documents are read within budgets: a billion-laughs file, a recursive alias, deep nesting
and an oversized file are input errors (exit 3) in well under a second, while the anchors and
aliases people really write still work and keep their line numbers."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from suanwang.errors import InputError
from suanwang.scheduler.cli import app
from suanwang.yamldoc import MAX_DEPTH, read_capped, read_document

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
BOMBS = {
    "billion laughs": (LAUGHS, "aliases expand"),
    "recursive alias": ("a: &a [*a]\n", "refers to itself"),
    "deep nesting": ("x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", "nested deeper"),
    "20,000-deep nesting": ("[" * 20_000 + "]" * 20_000, ""),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_are_input_errors_at_once(name):
    text, message = BOMBS[name]
    t = time.perf_counter()
    with pytest.raises(InputError) as e:
        read_document(name, text)
    assert time.perf_counter() - t < 1.0
    assert message in str(e.value) and e.value.faults


def test_a_bomb_through_the_cli_exits_3_fast(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(LAUGHS)
    t = time.perf_counter()
    r = CliRunner().invoke(app, ["topology", "validate", "-f", str(f)])
    assert r.exit_code == 3 and time.perf_counter() - t < 2.0


def test_ordinary_anchors_and_lines_still_work():
    doc = read_document("ok", "base: &b {x: 1, y: 2}\nuse:\n  - *b\n  - *b\nn: 3\n")
    assert doc.data["use"] == [{"x": 1, "y": 2}] * 2 and doc.lines["n"] == 5


def test_oversized_files_are_refused(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_bytes(b"a: " + b"x" * 2000)
    with pytest.raises(InputError, match="larger than 1,000 bytes"):
        read_capped(f, str(f), limit=1000)
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        read_capped(f, str(f))
