"""YAML documents are read within budgets: a billion-laughs file, a recursive alias, deep nesting
and an oversized file are input errors (exit 3) in well under a second, while the anchors and
aliases people really write still work and keep their line numbers. JSON documents give the same
data, with the same limits and the same line and field path in every fault."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from typer.testing import CliRunner

from suanwang.errors import InputError
from suanwang.scheduler.cli import app
from suanwang.scheduler.jobfile import load_jobs
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


# -- one pass over the events, and JSON through the C decoder ------------------------------------


def test_json_and_yaml_give_the_same_data_and_lines():
    doc = {"plan_time": "2026-11-25T09:00:00+08:00", "jobs": [{"id": "a", "n": 1.5e9, "ok": True}, {"id": "b"}]}
    as_json = read_document("jobs.json", json.dumps(doc, indent=2))
    as_yaml = read_document("jobs.yaml", yaml.safe_dump(doc, sort_keys=False))
    assert as_json.data == as_yaml.data == doc
    text = json.dumps(doc, indent=2).splitlines()
    expect = next(i for i, ln in enumerate(text, 1) if '"id": "b"' in ln)
    assert as_json.lines["jobs[1].id"] == expect
    assert as_yaml.lines["jobs[1].id"] == 6 and as_yaml.lines["jobs[0].n"] == 4


def test_json_duplicate_keys_and_deep_nesting_are_caught():
    doc = read_document("dup.json", '{"jobs": [{"id": "a",\n "id": "b"}]}')
    assert [(f.path, f.line) for f in doc.faults] == [("jobs[0].id", 2)] and doc.data == {"jobs": [{"id": "a"}]}
    with pytest.raises(InputError, match="nested deeper"):
        read_document("deep.json", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert read_document("strings.json", '{"a": "[[[[{{{{" }').data == {"a": "[[[[{{{{"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: !custom 3\n", "could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", "single document"),
        ("a: *nowhere\n", "undefined alias"),
    ],
)
def test_tags_documents_and_aliases_are_input_errors(text, message):
    with pytest.raises(InputError) as e:
        read_document("x.yaml", text)
    assert message in str(e.value.faults[0]) and e.value.faults[0].line is not None


def test_job_faults_keep_line_and_field_path_in_yaml_and_json(jiangsu, tmp_path):
    jobs = {
        "jobs": [
            {"id": "ok", "kind": "batch", "accelerators": {"count": 8}, "duration_h": 1},
            {"id": "bad", "kind": "batch", "accelerators": {"count": -8}, "duration_h": 1},
        ]
    }
    for name, text in (("jobs.yaml", yaml.safe_dump(jobs, sort_keys=False)), ("jobs.json", json.dumps(jobs, indent=1))):
        f = tmp_path / name
        f.write_text(text)
        with pytest.raises(InputError) as e:
            load_jobs(f, jiangsu)
        (fault,) = e.value.faults
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if "-8" in ln)
        assert (fault.file, fault.path, fault.line) == (str(f), "jobs[1].accelerators.count", line)
