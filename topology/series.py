"""Hourly year series of a grid zone (carbon intensity, day-ahead prices) read from a CSV file.

The format is that of Electricity Maps' hourly exports (``shared/data/sustaincluster-em-2023``):
one row an hour, a ``Datetime`` column (UTC when its name says so or the times carry no offset)
and a column of numbers. Rows are placed by their timestamps on the plans' clock (UTC+8), by hour
of the year; hours the file does not reach wrap around from the other end of the year, and empty
cells take the previous hour's value.

Bounds (beyond them the file is refused, naming the row, the column and the fix): at most
``MAX_FILE_BYTES`` (64 MiB) and ``MAX_ROWS`` rows, at least four weeks of hours; every value a
finite number within the range the caller gives after scaling (carbon 0–5 kg CO₂/kWh, prices
−100–100 ¥/kWh).
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suanwang.errors import InputError
from suanwang.yamldoc import MAX_FILE_BYTES, read_capped

__all__ = ["CARBON_COLUMN", "MAX_KG_PER_KWH", "MAX_ROWS", "carbon_rows", "carbon_year", "read_rows", "year_series"]

CARBON_COLUMN = "Carbon Intensity gCO₂eq/kWh (LCA)"  # Electricity Maps' life-cycle intensity, g per kWh
MAX_KG_PER_KWH = 5.0  # the most any carbon intensity may be, as the topology's CarbonFactor (contract.py)
MAX_ROWS = 24 * 366 * 2  # two years of hours: one year is what a series holds, a second is slack for overlap
MIN_ROWS = 24 * 28


def year_series(
    path: str | Path, column: str, scale: float = 1.0, *, low: float = -math.inf, high: float = math.inf, unit: str = ""
) -> tuple[float, ...]:
    """One column of an hourly year CSV × ``scale``, indexed by hour of the year on the plans'
    clock (UTC+8); each value after scaling must lie in [``low``, ``high``] (``unit`` names them)."""
    file = str(path)
    rows = read_rows(path, column, scale, low=low, high=high, unit=unit, max_rows=MAX_ROWS)
    if len(rows) < MIN_ROWS:
        raise InputError(f"{file}: {len(rows)} rows, less than four weeks of hours; give an hourly year")
    n = len(rows)
    slots: list[float | None] = [None] * n
    for k, (t, v) in enumerate(rows):
        if t is None:
            slots[k] = v
            continue
        local = (t + timedelta(hours=8)).replace(tzinfo=None)  # the tariffs' and plans' clock
        slots[int((local - datetime(local.year, 1, 1)).total_seconds() // 3600) % n] = v
    values: list[float] = []
    last = next((v for v in reversed(slots) if v is not None), 0.0)
    for v in slots:
        last = v if v is not None else last
        values.append(last)
    return tuple(values)


def read_rows(
    path: str | Path,
    column: str,
    scale: float = 1.0,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    unit: str = "",
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_FILE_BYTES,
) -> list[tuple[datetime | None, float | None]]:
    """(UTC time or ``None`` without a ``Datetime`` column, value × ``scale`` or ``None`` for an
    empty cell) of each row of an hourly CSV, every value checked against [``low``, ``high``]."""
    file = str(path)
    reader = csv.DictReader(io.StringIO(read_capped(Path(path), file, max_bytes), newline=""))
    try:
        fields = reader.fieldnames or ()
        if column not in fields:
            raise InputError(f"{file}: no column {column!r}; name one of {list(fields)[:12]}")
        tcol = next((c for c in fields if c.lower().startswith("datetime")), None)
        rows: list[tuple[datetime | None, float | None]] = []
        for row in reader:
            if len(rows) >= max_rows:
                raise InputError(f"{file}: more than {max_rows:,} rows; give at most that many hours")
            value = _value(file, reader.line_num, row, column, scale)
            if value is not None and not low <= value <= high:
                raise InputError(
                    f"{file}: line {reader.line_num}, column {column!r}: {value / scale:g} is {value:g} {unit} "
                    f"after scaling, outside {low:g}–{high:g}; check the column and its unit"
                )
            rows.append((_utc(row.get(tcol) or "") if tcol else None, value))
    except csv.Error as e:
        raise InputError(f"{file}: not a CSV file ({e}); give the hourly export as CSV") from e
    except ValueError as e:
        raise InputError(f"{file}: line {reader.line_num}: {e}; give ISO 8601 times in its Datetime column") from e
    return rows


def carbon_year(path: str | Path, column: str = CARBON_COLUMN) -> tuple[float, ...]:
    """A zone's hourly carbon intensity in kg CO₂/kWh from a column in g CO₂/kWh (0–5,000 g)."""
    return year_series(path, column, 0.001, low=0.0, high=MAX_KG_PER_KWH, unit="kg CO₂/kWh")


def carbon_rows(
    path: str | Path, column: str, *, max_rows: int, max_bytes: int
) -> list[tuple[datetime | None, float | None]]:
    """:func:`read_rows` of a column in g CO₂/kWh, in kg CO₂/kWh (0–5,000 g)."""
    return read_rows(
        path, column, 0.001, low=0.0, high=MAX_KG_PER_KWH, unit="kg CO₂/kWh", max_rows=max_rows, max_bytes=max_bytes
    )


def _value(file: str, line: int, row: dict, column: str, scale: float) -> float | None:
    text = (row.get(column) or "").strip()
    if text.lower() in ("", "nan"):  # a gap: the previous hour's value
        return None
    try:
        v = float(text) * scale
    except ValueError:
        raise InputError(
            f"{file}: line {line}, column {column!r}: {text[:40]!r} is not a number; fix or empty it"
        ) from None
    if not math.isfinite(v):
        raise InputError(
            f"{file}: line {line}, column {column!r}: {text[:40]!r} is not finite; give a number or leave it empty"
        )
    return v


def _utc(text: str) -> datetime:
    t = datetime.fromisoformat(text.strip())
    if t.tzinfo is None:  # Electricity Maps: "Datetime (UTC)"
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)
