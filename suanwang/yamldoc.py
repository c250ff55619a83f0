"""YAML documents with line numbers, and a collector of every fault found in one.

Loaders of user files (topologies, jobs, states, scenarios, collector configs) read through
:class:`Checked` and validate its data against their contract (:mod:`suanwang.contract`), so that
a bad file is rejected once, with all its faults, each naming file, field path, line, value and fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from suanwang.docparse import MAX_ALIAS_NODES, MAX_DEPTH, join, parse
from suanwang.errors import Fault, InputError

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "MAX_FILE_BYTES", "Checked", "join", "read_capped", "read_document"]

MAX_FILE_BYTES = 64 * 1024 * 1024  # a topology, job or state file larger than this is refused


class Checked:
    """A parsed document plus the faults found while reading it."""

    def __init__(self, data: Any, lines: Mapping[str, int], file: str, faults: list[Fault]) -> None:
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
    """Parse a YAML or JSON file (or ``text`` given for ``source``) keeping the line of every field.

    Malformed YAML raises :class:`InputError` at once, naming the line and column; duplicate
    keys are recorded as faults (YAML would silently keep the last one).
    """
    file = str(source)
    if text is None:
        text = read_capped(Path(source), file)
    elif len(text) > MAX_FILE_BYTES:
        raise InputError(f"{file}: larger than {MAX_FILE_BYTES:,} bytes; split it into smaller files")
    data, lines, faults = parse(text, file)
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
