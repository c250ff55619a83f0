"""YAML documents with line numbers, and a collector of every fault found in one.

Loaders of user files (topologies, jobs, scenarios) read through :class:`Checked` so that a bad
file is rejected once, with all its faults, each naming file, field path, line, value and fix.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from suanwang.errors import Fault, InputError

_MISSING = object()


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

    # -- typed access -----------------------------------------------------------------------
    def mapping(self, value: Any, path: str, *, required: bool = True) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.fault(path, "must be a mapping of key: value", "write it as `key: value` lines", _show(value))
            return {}
        return value

    def entries(self, value: Any, path: str, allowed: Iterable[str]) -> Iterator[tuple[str, dict[str, Any], str]]:
        """``(name, fields, field path)`` for each entry of a ``name: {fields}`` section, keys checked."""
        for name, spec in self.mapping(value, path).items():
            p = join(path, name)
            spec = self.mapping(spec, p)
            self.keys(spec, p, allowed)
            yield name, spec, p

    def sequence(self, value: Any, path: str, *, required: bool = True) -> list[Any]:
        if value is None and not required:
            return []
        if not isinstance(value, list):
            self.fault(path, "must be a list", "write each entry on a `- ` line", _show(value))
            return []
        return value

    def keys(self, obj: dict[str, Any], path: str, allowed: Iterable[str]) -> None:
        """Report keys that are not ``allowed``, with the nearest allowed spelling."""
        allowed = list(allowed)
        for k in obj:
            if k not in allowed:
                near = difflib.get_close_matches(str(k), allowed, n=1)
                hint = f"did you mean `{near[0]}`?" if near else f"allowed: {', '.join(allowed)}"
                self.fault(join(path, k), "unknown field", f"remove it; {hint}", k)

    def string(
        self, obj: dict[str, Any], key: str, path: str, *, default: Any = _MISSING, choices: Iterable[str] | None = None
    ) -> str | None:
        p = join(path, key)
        if key not in obj or obj[key] is None:
            if default is _MISSING:
                self.fault(p, "is required", f"add `{key}:`")
                return None
            return default
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            self.fault(p, "must be a text value", f"write `{key}: some-name`", _show(v))
            return None
        v = str(v)
        if choices is not None:
            options = list(choices)
            if v not in options:
                self.fault(p, "is not one of the allowed values", f"use one of: {', '.join(options)}", v)
                return None
        return v

    def boolean(self, obj: dict[str, Any], key: str, path: str, *, default: bool = False) -> bool:
        v = obj.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            self.fault(join(path, key), "must be true or false", f"write `{key}: true` or `{key}: false`", _show(v))
            return default
        return v

    def number(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        default: Any = _MISSING,
        positive: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
        unit: str = "",
    ) -> Any:
        p = join(path, key)
        if key not in obj or obj[key] is None:
            if default is _MISSING:
                self.fault(p, "is required", f"add `{key}:` with a number{' in ' + unit if unit else ''}")
                return None
            return default
        v = obj[key]
        kind = "a whole number" if integer else "a number"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
            self.fault(p, f"must be {kind}", f"write `{key}:` with {kind}{' in ' + unit if unit else ''}", _show(v))
            return None
        if integer and not float(v).is_integer():
            self.fault(p, "must be a whole number", f"round `{key}` to a whole number", v)
            return None
        if positive and v <= 0:
            self.fault(p, "must be greater than zero", f"give `{key}` a positive size", v)
            return None
        if minimum is not None and v < minimum:
            self.fault(p, f"must be at least {minimum}", f"raise `{key}` to {minimum} or more", v)
            return None
        if maximum is not None and v > maximum:
            self.fault(p, f"must be at most {maximum}", f"lower `{key}` to {maximum} or less", v)
            return None
        return int(v) if integer else float(v)


def _show(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return value


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
