"""YAML documents with line numbers, and a collector of every fault found in one.

Loaders of user files (topologies, jobs, states, scenarios, collector configs) read through
:class:`Checked` and validate its data against their contract (:mod:`suanwang.contract`), so that
a bad file is rejected once, with all its faults, each naming file, field path, line, value and fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from suanwang.errors import Fault, InputError


def join(path: str, key: str | int) -> str:
    """Field path ``sites[3].pools`` extended by a key or an index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class Checked:
    """A parsed document plus the faults found while reading it."""

    def __init__(self, data: Any, lines: dict[str, int], file: str, faults: list[Fault]) -> None:
        self.data = data
        self.lines = lines
        self.file = file
        self.faults = faults

    # -- fault recording --------------------------------------------------------------------
    def fault(self, path: str, message: str, fix: str, value: object = None) -> None:
        line = self.lines.get(path)
        if line is None:  # fall back to the closest enclosing field that has a line
            p = path
            while p and line is None:
                cut = max(p.rfind("."), p.rfind("["))
                p = p[:cut] if cut > 0 else ""
                line = self.lines.get(p)
        self.faults.append(Fault(self.file, path, message, fix, value, line))

    def raise_if_faulty(self, what: str) -> None:
        if self.faults:
            n = len(self.faults)
            raise InputError(f"{self.file}: {what} has {n} fault{'s' * (n != 1)}; fix each and retry", self.faults)


def read_document(source: str | Path, text: str | None = None) -> Checked:
    """Parse a YAML file (or ``text`` given for ``source``) keeping the line of every field.

    Malformed YAML raises :class:`InputError` at once, naming the line and column; duplicate
    keys are recorded as faults (YAML would silently keep the last one).
    """
    file = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise InputError(
                f"{file}: no such file; check the path",
                [Fault(file, "", "file not found", "give the path of an existing file")],
            ) from e
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{file}: cannot be read ({e}); give a readable UTF-8 file") from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        col = f", column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        fault = Fault(
            file,
            "",
            f"malformed YAML: {problem}{col}",
            "correct the YAML syntax at that line (indentation, colons, quotes)",
            None,
            line,
        )
        raise InputError(f"{file}: not valid YAML; fix the syntax and retry", [fault]) from e
    lines: dict[str, int] = {}
    faults: list[Fault] = []
    data = _build(root, "", lines, faults, file) if root is not None else None
    return Checked(data, lines, file, faults)


def _build(node: Node, path: str, lines: dict[str, int], faults: list[Fault], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, ScalarNode):
        return SafeConstructor().construct_object(node, deep=True)
    if isinstance(node, SequenceNode):
        return [_build(n, join(path, i), lines, faults, file) for i, n in enumerate(node.value)]
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = SafeConstructor().construct_object(key_node, deep=True)
            key = str(key)
            child = join(path, key)
            if key in out:
                faults.append(
                    Fault(
                        file,
                        child,
                        "duplicate key (YAML would keep only the last)",
                        "remove or rename one of the entries",
                        key,
                        key_node.start_mark.line + 1,
                    )
                )
                continue
            out[key] = _build(value_node, child, lines, faults, file)
        return out
    return None
