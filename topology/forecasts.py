"""Archives of issued carbon intensity forecasts: what a forecaster said and when, to replay plans
as they would have been made with it (a scenario's ``changes.carbon_forecasts``): say, a month of a
weather-driven forecast a vendor offers, before buying its live feed.

The file is a CSV with an ``Issued`` column (when the forecast was made), a ``Datetime`` column
(the hour it forecasts), both UTC unless they carry an offset, and a column in g CO₂/kWh: one row
per issue and hour, as an archive of Electricity Maps' forecast answers would keep them. A plan
made at ``t`` takes the latest issue at or before ``t`` while it is at most ``max_age_h`` old, for
the hours from ``t``'s on; without one it forecasts as it would with no archive.

Bounds (beyond them the file is refused, naming the line, the column and the fix): at most
``MAX_FILE_BYTES`` (64 MiB) and ``MAX_ARCHIVE_ROWS`` rows; values finite, 0–5,000 g CO₂/kWh; an
hour at most ``MAX_LEAD_H`` after its issue and not before the issue's hour.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from suanwang.errors import InputError
from suanwang.topology.series import CARBON_COLUMN, MAX_KG_PER_KWH, _utc, _value
from suanwang.yamldoc import read_capped

__all__ = ["MAX_ARCHIVE_ROWS", "MAX_LEAD_H", "ForecastArchive", "read_archive"]

MAX_ARCHIVE_ROWS = 2_000_000  # a year of hourly issues of three days each is 631,000
MAX_LEAD_H = 336
ORIGIN = datetime(2000, 1, 1)  # hours are counted from here on the plans' clock (UTC+8)


@dataclass(frozen=True, eq=False)
class ForecastArchive:
    """Issues in time order; issue ``i``'s rows are ``offsets[i]:offsets[i + 1]`` of ``hours``
    (each an hour's start, in hours from ``ORIGIN``) and ``kg_per_kwh``."""

    path: str
    max_age_h: float
    issued_h: np.ndarray
    offsets: np.ndarray
    hours: np.ndarray
    kg_per_kwh: np.ndarray

    def as_of(self, now: datetime) -> dict[datetime, float]:
        """The hours from ``now``'s on of the latest issue at or before ``now`` (UTC+8), while at
        most ``max_age_h`` old; none otherwise."""
        x = _h(now)
        i = int(np.searchsorted(self.issued_h, x, side="right")) - 1
        if i < 0 or x - self.issued_h[i] > self.max_age_h:
            return {}
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        first = np.floor(x)
        return {
            ORIGIN + timedelta(hours=int(h)): float(v)
            for h, v in zip(self.hours[lo:hi], self.kg_per_kwh[lo:hi], strict=True)
            if h >= first
        }


def read_archive(path: str | Path, column: str = CARBON_COLUMN, max_age_h: float = 24.0) -> ForecastArchive:
    """The archive in ``path`` (its ``column`` in g CO₂/kWh)."""
    file = str(path)
    reader = csv.DictReader(io.StringIO(read_capped(Path(path), file), newline=""))
    rows: list[tuple[float, float, float]] = []
    try:
        fields = reader.fieldnames or ()
        issued_col = next((c for c in fields if c.lower().startswith("issued")), None)
        time_col = next((c for c in fields if c.lower().startswith("datetime")), None)
        if column not in fields or issued_col is None or time_col is None:
            raise InputError(
                f"{file}: needs an Issued column, a Datetime column and {column!r}; it has {list(fields)[:12]}"
            )
        for row in reader:
            if len(rows) >= MAX_ARCHIVE_ROWS:
                raise InputError(f"{file}: more than {MAX_ARCHIVE_ROWS:,} rows; give a shorter archive")
            value = _value(file, reader.line_num, row, column, 0.001)
            if value is None:
                continue  # an hour the issue did not forecast
            where = f"{file}: line {reader.line_num}"
            if not 0.0 <= value <= MAX_KG_PER_KWH:
                raise InputError(
                    f"{where}, column {column!r}: {value * 1000:g} g/kWh is outside 0–5,000; check its unit"
                )
            issued, hour = _h(_local(row.get(issued_col) or "")), np.floor(_h(_local(row.get(time_col) or "")))
            if not np.floor(issued) <= hour <= issued + MAX_LEAD_H:
                raise InputError(
                    f"{where}: the hour {row[time_col][:40]!r} is not within {MAX_LEAD_H} h after its issue "
                    f"{row[issued_col][:40]!r}; check the two columns"
                )
            rows.append((issued, hour, value))
    except csv.Error as e:
        raise InputError(f"{file}: not a CSV file ({e}); give the archive as CSV") from e
    except ValueError as e:
        raise InputError(f"{file}: line {reader.line_num}: {e}; give ISO 8601 times") from e
    if not rows:
        raise InputError(f"{file}: no forecast in it; give at least one issue")
    a = np.asarray(rows)
    a = a[np.lexsort((a[:, 1], a[:, 0]))]
    issued, first = np.unique(a[:, 0], return_index=True)
    offsets = np.append(first, len(a))
    return ForecastArchive(file, float(max_age_h), issued, offsets, a[:, 1], a[:, 2])


def _local(text: str) -> datetime:
    return (_utc(text) + timedelta(hours=8)).replace(tzinfo=None)  # the plans' clock


def _h(t: datetime) -> float:
    return (t - ORIGIN).total_seconds() / 3600.0
