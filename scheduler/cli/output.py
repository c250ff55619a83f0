"""Printing helpers shared by the CLI commands: rich tables on stdout, notes on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def console() -> Console:
    """A console on the current stdout; wide when not a terminal so tables never truncate."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 180, highlight=False)


def note(message: str) -> None:
    """A remark beside the result (stderr), so that ``-o json`` output stays parseable."""
    Console(file=sys.stderr, highlight=False).print(message)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[str] = ()) -> Table:
    right = set(right)
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left")
    for r in rows:
        t.add_row(*[_cell(v) for v in r])
    return t


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)
