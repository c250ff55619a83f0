"""YAML documents with line numbers, and a collector of every fault found in one.

Loaders of user files (topologies, jobs, states, scenarios, collector configs) read through
:class:`Checked` and validate its data against their contract (:mod:`suanwang.contract`), so that
a bad file is rejected once, with all its faults, each naming file, field path, line, value and fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from suanwang.errors import Fault, InputError

MAX_FILE_BYTES = 64 * 1024 * 1024  # a topology, job or state file larger than this is refused
MAX_DEPTH = 64  # nesting levels; the deepest contract needs fewer than 10
MAX_ALIAS_NODES = 100_000  # values built through YAML aliases (a billion-laughs file needs 10⁹)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same marks, faster


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
        text = read_capped(Path(source), file)
    elif len(text) > MAX_FILE_BYTES:
        raise InputError(f"{file}: larger than {MAX_FILE_BYTES:,} bytes; split it into smaller files")
    try:
        _check_shape(text, file)
        root = yaml.compose(text, Loader=_LOADER)
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
    budget = _Budget(file)
    data = _build(root, "", lines, faults, file, budget, 0) if root is not None else None
    return Checked(data, lines, file, faults)


def read_capped(path: Path, file: str, limit: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 file's text, refusing one larger than ``limit`` bytes."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except FileNotFoundError as e:
        raise InputError(
            f"{file}: no such file; check the path",
            [Fault(file, "", "file not found", "give the path of an existing file")],
        ) from e
    except OSError as e:
        raise InputError(f"{file}: cannot be read ({e}); give a readable file") from e
    if len(raw) > limit:
        raise InputError(f"{file}: larger than {limit:,} bytes; split it into smaller files")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{file}: not UTF-8 text ({e}); save it as UTF-8") from e


def _limit(file: str, line: int | None, message: str, fix: str) -> InputError:
    return InputError(f"{file}: {message}; {fix}", [Fault(file, "", message, fix, None, line)])


def _check_shape(text: str, file: str) -> None:
    """Nesting depth, read from the event stream before anything is built (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _limit(
                    file,
                    event.start_mark.line + 1,
                    f"nested deeper than {MAX_DEPTH} levels",
                    "flatten the document",
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


class _Budget:
    """Values built through aliases: a few are a convenience, millions are a YAML bomb."""

    def __init__(self, file: str) -> None:
        self.file, self.seen, self.through_aliases = file, set(), 0

    def enter(self, node: Node, via_alias: bool) -> bool:
        """Count ``node``; ``True`` if it (or an enclosing node) is reached again through an alias."""
        again = via_alias or id(node) in self.seen
        self.seen.add(id(node))
        if again:
            self.through_aliases += 1
            if self.through_aliases > MAX_ALIAS_NODES:
                raise _limit(
                    self.file,
                    node.start_mark.line + 1,
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} values",
                    "write the values out, or use fewer anchors and aliases",
                )
        return again


# YAML 1.2 reads 1.5e9 as a number; YAML 1.1 (PyYAML) wants 1.5e+9 and keeps 1.5e9 a string
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _scalar(node: Node) -> Any:
    if node.tag == "tag:yaml.org,2002:str" and not node.style and _EXPONENT.match(node.value):
        return float(node.value)
    constructor = SafeConstructor()
    return constructor.construct_object(node, deep=True)


def _build(
    node: Node,
    path: str,
    lines: dict[str, int],
    faults: list[Fault],
    file: str,
    budget: _Budget,
    depth: int,
    via_alias: bool = False,
) -> Any:
    if depth > MAX_DEPTH:  # only a recursive alias gets here: the event stream was checked
        raise _limit(file, node.start_mark.line + 1, "refers to itself through an alias", "remove the recursive alias")
    via_alias = budget.enter(node, via_alias)
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        return [
            _build(n, join(path, i), lines, faults, file, budget, depth + 1, via_alias)
            for i, n in enumerate(node.value)
        ]
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                faults.append(
                    Fault(
                        file,
                        path,
                        "has a key that is not a plain value",
                        "write keys as plain text",
                        None,
                        key_node.start_mark.line + 1,
                    )
                )
                continue
            key = str(_scalar(key_node))
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
            out[key] = _build(value_node, child, lines, faults, file, budget, depth + 1, via_alias)
        return out
    return None
