"""Documents to plain data in one pass over libyaml's events, keeping where every value stood.

:func:`parse` builds the data of a YAML document straight from the event stream (no node tree,
no recursion) and, beside it, a mirror of line numbers that :class:`Lines` turns into
``field path → line`` only when a fault needs one. JSON documents (a file that opens with ``{``
or ``[``) go through the standard library's C decoder; their lines are recovered from the same
text by the YAML pass only if a fault asks for one. Both paths keep the reader's limits: nesting
depth, values built through aliases, recursive aliases, duplicate keys.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from suanwang.errors import Fault, InputError
from suanwang.gcpause import collector_paused

MAX_DEPTH = 64  # nesting levels; the deepest contract needs fewer than 10
MAX_ALIAS_NODES = 100_000  # values built through YAML aliases (a billion-laughs file needs 10⁹)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same events, faster
_STR = "tag:yaml.org,2002:str"
# YAML 1.2 reads 1.5e9 as a number; YAML 1.1 (PyYAML) wants 1.5e+9 and keeps 1.5e9 a string
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # on text reduced to quotes, backslashes and brackets
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"\\[]{}')
_OPEN_LIST, _OPEN_MAP = ord("["), ord("{")
_JSON_HEAD = re.compile(r"\s*[\[{]")

Mark = int | tuple[int, Any]  # a scalar's line, or a collection's line and its children's marks


def join(path: str, key: str | int) -> str:
    """Field path ``sites[3].pools`` extended by a key or an index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def limit_error(file: str, line: int | None, message: str, fix: str) -> InputError:
    return InputError(f"{file}: {message}; {fix}", [Fault(file, "", message, fix, None, line)])


def syntax_error(file: str, problem: str, line: int | None, column: int | None = None) -> InputError:
    col = f", column {column}" if column is not None else ""
    fault = Fault(
        file,
        "",
        f"malformed YAML: {problem}{col}",
        "correct the YAML syntax at that line (indentation, colons, quotes)",
        None,
        line,
    )
    return InputError(f"{file}: not valid YAML; fix the syntax and retry", [fault])


class Lines(Mapping[str, int]):
    """``field path → line``, worked out from the mirror of marks on first use."""

    def __init__(self, build: Callable[[], dict[str, int]]) -> None:
        self._build: Callable[[], dict[str, int]] | None = build
        self._map: dict[str, int] = {}

    def _lines(self) -> dict[str, int]:
        if self._build is not None:
            build, self._build = self._build, None
            self._map = build()
        return self._map

    def __getitem__(self, path: str) -> int:
        return self._lines()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines())

    def __len__(self) -> int:
        return len(self._lines())


def flatten(mark: Mark | None) -> dict[str, int]:
    out: dict[str, int] = {}
    if mark is None:
        return out
    todo: list[tuple[str, Mark]] = [("", mark)]
    while todo:
        path, m = todo.pop()
        if type(m) is int:
            out.setdefault(path, m)
            continue
        line, sub = m
        out.setdefault(path, line)
        items = sub.items() if type(sub) is dict else enumerate(sub)
        todo.extend((join(path, k), child) for k, child in items)
    return out


def parse(text: str, file: str) -> tuple[Any, Lines, list[Fault]]:
    """The data of a YAML or JSON document, its lines (lazily) and the faults found reading it."""
    with collector_paused():
        fast = _json(text, file)
        if fast is not None:
            (data,) = fast
            return data, Lines(lambda: _lines_of(text, file)), []
        data, marks, faults = _events(text, file)
    return data, Lines(lambda: flatten(marks)), faults


def _lines_of(text: str, file: str) -> dict[str, int]:
    try:
        return flatten(_events(text, file)[1])
    except InputError:
        return {}


def _json(text: str, file: str) -> tuple[Any] | None:
    """``(data,)`` for a JSON document without duplicate keys, else ``None`` (read it as YAML)."""
    if not _JSON_HEAD.match(text):
        return None
    # nesting depth before the (recursive) C decoder runs: brackets outside strings, summed
    marks = _JSON_STRING.sub(b"", text.encode("utf-8").translate(None, _NOT_STRUCTURE))
    steps = np.frombuffer(marks.translate(None, b'"\\'), dtype=np.uint8)  # stray ones: the decoder reports them
    if len(steps) and int(np.cumsum(np.where((steps == _OPEN_LIST) | (steps == _OPEN_MAP), 1, -1)).max()) > MAX_DEPTH:
        raise limit_error(file, None, f"nested deeper than {MAX_DEPTH} levels", "flatten the document")
    duplicate = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicate
        d = dict(pairs)
        duplicate = duplicate or len(d) != len(pairs)
        return d

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except (ValueError, RecursionError):
        return None  # flow-style YAML, or bad JSON: the YAML reader names the line
    return None if duplicate else (data,)


class _Frame:
    __slots__ = ("anchor", "count", "key", "line", "marks", "place", "value")

    def __init__(self, value: Any, marks: Any, line: int, anchor: str | None, place: str | int | None) -> None:
        self.value, self.marks, self.line, self.anchor, self.place = value, marks, line, anchor, place
        self.key: Any = _NO_KEY
        self.count = 1


_NO_KEY = object()
_SKIP = object()


def _events(text: str, file: str) -> tuple[Any, Mark | None, list[Fault]]:
    """One pass over the event stream: data, marks and faults; limits raise :class:`InputError`."""
    faults: list[Fault] = []
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, Mark, int]] = {}
    root: list[Any] = []
    through_aliases = 0
    cache: dict[str, Any] = {}
    resolve = Resolver().resolve
    constructor = SafeConstructor()

    def path_of(upto: int) -> str:
        path = ""
        for f in stack[1:upto]:
            path = join(path, f.place)  # type: ignore[arg-type]
        return path

    def scalar(ev: yaml.ScalarEvent, line: int) -> Any:
        tag, value, implicit = ev.tag, ev.value, ev.implicit
        plain = (tag is None or tag == "!") and implicit[0] and not ev.style
        if plain and value in cache:  # plain scalars build immutable values: one per distinct text
            return cache[value]
        if tag is None or tag == "!":
            tag = resolve(ScalarNode, value, implicit)
        if tag == _STR and plain and _EXPONENT.match(value):
            out: Any = float(value)
        else:
            try:
                out = constructor.construct_object(ScalarNode(tag, value, style=ev.style), deep=True)
            except ConstructorError as e:
                raise syntax_error(file, f"{e.problem or e} (remove the tag or quote the value)", line) from e
        if plain:
            cache[value] = out
        return out

    def deliver(value: Any, mark: Mark, line: int, count: int, is_scalar: bool) -> None:
        if not stack:
            root.append((value, mark))
            return
        top = stack[-1]
        top.count += count
        if type(top.value) is list:
            top.value.append(value)
            top.marks.append(mark)
            return
        if top.key is _NO_KEY:
            if not is_scalar:
                faults.append(
                    Fault(
                        file,
                        path_of(len(stack)),
                        "has a key that is not a plain value",
                        "write keys as plain text",
                        None,
                        line,
                    )
                )
                top.key = _SKIP
                return
            key = str(value)
            if key in top.value:
                path = join(path_of(len(stack)), key)
                faults.append(
                    Fault(
                        file,
                        path,
                        "duplicate key (YAML would keep only the last)",
                        "remove or rename one of the entries",
                        key,
                        line,
                    )
                )
                top.key = _SKIP
                return
            top.key = key
            return
        if top.key is not _SKIP:
            top.value[top.key] = value
            top.marks[top.key] = mark
        top.key = _NO_KEY

    def place() -> str | int | None:
        if not stack:
            return None
        top = stack[-1]
        return len(top.value) if type(top.value) is list else top.key

    ScalarEvent, AliasEvent = yaml.ScalarEvent, yaml.AliasEvent
    MappingStart, SequenceStart = yaml.MappingStartEvent, yaml.SequenceStartEvent
    CollectionEnd = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    StreamEnd = yaml.StreamEndEvent
    documents = 0
    parser = _LOADER(text)
    next_event = parser.get_event  # libyaml's parser, called straight (yaml.parse wraps it in a generator)
    try:
        while True:
            ev = next_event()
            kind = type(ev)
            if kind is StreamEnd or ev is None:
                break
            if kind is ScalarEvent:
                line = ev.start_mark.line + 1
                value = scalar(ev, line)
                if ev.anchor is not None:
                    anchors[ev.anchor] = (value, line, 1)
                deliver(value, line, line, 1, True)
            elif kind is MappingStart or kind is SequenceStart:
                line = ev.start_mark.line + 1
                if len(stack) >= MAX_DEPTH:
                    raise limit_error(file, line, f"nested deeper than {MAX_DEPTH} levels", "flatten the document")
                is_map = kind is MappingStart
                stack.append(_Frame({} if is_map else [], {} if is_map else [], line, ev.anchor, place()))
            elif kind in CollectionEnd:
                f = stack.pop()
                mark = (f.line, f.marks)
                if f.anchor is not None:
                    anchors[f.anchor] = (f.value, mark, f.count)
                deliver(f.value, mark, f.line, f.count, False)
            elif kind is AliasEvent:
                line = ev.start_mark.line + 1
                if ev.anchor not in anchors:
                    if any(f.anchor == ev.anchor for f in stack):
                        raise limit_error(file, line, "refers to itself through an alias", "remove the recursive alias")
                    raise syntax_error(file, f"found undefined alias {ev.anchor!r}", line)
                value, mark, count = anchors[ev.anchor]
                through_aliases += count
                if through_aliases > MAX_ALIAS_NODES:
                    raise limit_error(
                        file,
                        line,
                        f"aliases expand to more than {MAX_ALIAS_NODES:,} values",
                        "write the values out, or use fewer anchors and aliases",
                    )
                is_scalar = type(value) not in (dict, list)
                deliver(value if is_scalar else copy.deepcopy(value), mark, line, count, is_scalar)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise syntax_error(file, "expected a single document in the stream", ev.start_mark.line + 1)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        line = mark.line + 1 if mark is not None else None
        raise syntax_error(file, problem, line, mark.column + 1 if mark is not None else None) from e
    finally:
        parser.dispose()
    if not root:
        return None, None, faults
    data, mark = root[0]
    return data, mark, faults
