"""Options shared by every ``suanwang`` command, defined once, following kubectl's habits:
``-o/--output json|yaml|wide|name`` picks the format of what a command prints (to stdout; redirect
to save), ``-f/--filename`` names input files (several allowed, ``-`` for stdin)."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer
import yaml

from suanwang.errors import InputError
from suanwang.solvers import SOLVERS

STDIN = Path("-")
MAX_STDIN_BYTES = 64 * 1024 * 1024  # a job or topology file larger than this is not a file people write


class Output(enum.StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"


OutputOpt = typer.Option(
    Output.table, "--output", "-o", help="Output format: json, yaml, wide, name (default: a table)."
)
FilenameOpt = typer.Option(..., "--filename", "-f", help="Input file; repeat for several; - reads stdin.")
TopologyOpt = typer.Option(None, "--topology", "-t", help="Topology YAML file (default: built-in jiangsu).")
StateOpt = typer.Option(None, "--state", "-s", help="State JSON (free cards per node, power draw).")
TimeLimitOpt = typer.Option(5.0, "--time-limit", min=0.05, max=3600.0, help="Solver time limit in seconds.")
ServerOpt = typer.Option(None, "--server", envvar="SUANWANG_SERVER", help="URL of a suanwang server.")
TokenOpt = typer.Option(None, "--token", envvar="SUANWANG_TOKEN", help="Bearer token for the server.")
KubeconfigOpt = typer.Option(
    None, "--kubeconfig", help="Kubeconfig with one context per site (default: $KUBECONFIG or ~/.kube/config)."
)
StoreOpt = typer.Option(Path(".suanwang/jobs.json"), "--store", help="Where job records are kept (no --server).")


def _solver(value: str) -> str:
    if value not in SOLVERS:
        raise InputError(f"--solver {value!r} is not a solver; use one of {', '.join(SOLVERS)}")
    return value


SolverOpt = typer.Option("cpsat", "--solver", callback=_solver, help=f"One of: {', '.join(SOLVERS)}.")


HorizonOpt = typer.Option(
    48.0, "--shift-horizon", min=0.0, max=168.0,
    help="Hours ahead in which jobs with a window get start times against the tariff and carbon outlook "
    "(0: every job starts as soon as it fits).",
)  # fmt: skip
SlotOpt = typer.Option(60.0, "--slot-minutes", min=5.0, max=240.0, help="Length of a start slot.")
HoldOpt = typer.Option(
    0.15, "--hold-share", min=0.0, max=1.0,
    help="A job with a window waits for a later slot that saves more than this share of what starting now "
    "costs, even where that slot shows no room yet (1: start now whenever there is room).",
)  # fmt: skip


ForecastOpt = typer.Option(
    "weekly", "--carbon-forecast",
    help="How plans forecast a zone's carbon from its series: weekly, anchored, persistence, or oracle (the "
    "actual series). A zone's carbon_forecast feed, while fresh, gives the hours it covers.",
)  # fmt: skip


def forecast_method(value: str) -> str:
    """``--carbon-forecast``'s value, checked."""
    from suanwang.solvers.forecast import METHODS

    if value not in METHODS:
        raise InputError(f"--carbon-forecast {value!r}: use one of {', '.join(METHODS)}")
    return value


def shift_from(horizon_h: float, slot_min: float, hold_share: float):
    """The start-time decisions ``--shift-horizon``, ``--slot-minutes`` and ``--hold-share`` ask for
    (``None``: off)."""
    from suanwang.solvers.problem import Shift

    if horizon_h <= 0:
        return None
    if abs(horizon_h * 60 / slot_min - round(horizon_h * 60 / slot_min)) > 1e-9:
        raise InputError("--shift-horizon is not a whole number of --slot-minutes; make hours × 60 a multiple of it")
    return Shift(horizon_h, slot_min, hold_share=hold_share)


def read_input(path: Path) -> tuple[str, str | None]:
    """``(source, text)`` for a loader: standard input is read here (capped), a file by the loader."""
    if path == STDIN:
        text = sys.stdin.read(MAX_STDIN_BYTES + 1)
        if len(text) > MAX_STDIN_BYTES:
            raise InputError(f"<stdin>: more than {MAX_STDIN_BYTES:,} bytes; give a smaller file")
        return "<stdin>", text
    return str(path), None


def one_file(paths: list[Path]) -> Path:
    if len(paths) != 1:
        raise InputError(f"this command reads one file; got {len(paths)}: give -f once")
    return paths[0]


class LazyRows:
    """Rows for :func:`write_json` made one at a time as they are written (``items`` through
    ``make``), so a long plan is never held as dicts all at once."""

    def __init__(self, items, make) -> None:
        self.items, self.make = items, make

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return (self.make(x) for x in self.items)


def write_json(data: Any) -> None:
    """``data`` as indented JSON on standard output, written in pieces. The rows of a
    :class:`LazyRows` come one to a line, each encoded by the C encoder (a plan of 100,000 jobs
    is tens of MB: never one string of it, nor the pure-Python indenting encoder over it)."""
    if not isinstance(data, dict) or not any(isinstance(v, LazyRows) for v in data.values()):
        data = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write(data + "\n")
        return
    out = sys.stdout
    row = json.JSONEncoder(ensure_ascii=False, default=str).encode
    out.write("{")
    for n, (key, value) in enumerate(data.items()):
        out.write(("," if n else "") + "\n  " + json.dumps(key, ensure_ascii=False) + ": ")
        if not isinstance(value, LazyRows):
            out.write(json.dumps(value, indent=2, ensure_ascii=False, default=str).replace("\n", "\n  "))
        elif not len(value):
            out.write("[]")
        else:
            parts: list[str] = ["["]
            for k, item in enumerate(value):
                parts.append(("," if k else "") + "\n    " + row(item))
                if len(parts) >= 4096:
                    out.write("".join(parts))
                    parts.clear()
            out.write("".join(parts) + "\n  ]")
    out.write("\n}\n")


def emit(
    data: Any,
    output: Output,
    *,
    human: Callable[[bool], None] | None = None,
    names: Iterable[str] = (),
) -> None:
    """Print ``data`` as ``output`` asks: JSON, YAML, resource names, or through ``human(wide)``."""
    if output is Output.json:
        write_json(data)
    elif output is Output.yaml:
        sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False, allow_unicode=True))
    elif output is Output.name:
        for n in names:
            sys.stdout.write(f"{n}\n")
    elif human is not None:
        human(output is Output.wide)
    else:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
