"""Each grid zone's carbon feeds: the files the operator's feeds rewrite, read each time a plan is
made — ``carbon_forecast``, a forecast for the hours ahead (a weather-driven one, such as
Electricity Maps' or the grid's day-ahead forecast), and ``carbon_measured``, the measured
hours just past (:func:`read_measured`; the same rules, for the hours up to the plan's).

The format is that of the zone's ``carbon_series``: a CSV with a ``Datetime`` column (UTC unless
the times carry an offset) and a column in g CO₂/kWh, one row an hour; an empty cell leaves that
hour to the plan's own forecast. A file is used only while it is fresh: modified at most
``max_age_h`` before the plan, not more than an hour after it (a clock that disagrees is not
trusted), and holding at least one hour from the plan's on. A file that is missing, unreadable,
out of bounds or stale is not used, and the plan forecasts that zone as it would without a feed;
the reading says why (``/metrics`` and the plan's outlook say so too).

Bounds: at most 1 MiB and 24 × 31 rows (a month of hours), every value 0–5,000 g CO₂/kWh. A file is
parsed again only when its size or modification time changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from suanwang.errors import InputError
from suanwang.timeutil import to_local
from suanwang.topology.measured import with_measured_carbon
from suanwang.topology.model import CarbonFeed, Topology
from suanwang.topology.series import carbon_rows

__all__ = [
    "MAX_FEED_BYTES", "MAX_FEED_ROWS", "CarbonFeeds", "FeedReading", "read_all", "read_feeds", "read_measured",
    "usable",
]  # fmt: skip

MAX_FEED_BYTES = 1 << 20
MAX_FEED_ROWS = 24 * 31
CLOCK_SKEW_H = 1.0  # a file modified later than this after the plan's time is not trusted


@dataclass(frozen=True)
class FeedReading:
    """A zone's feed as a plan made at ``now`` finds it."""

    zone: str
    path: str
    written: datetime | None  # the file's modification time on the plans' clock (UTC+8)
    age_h: float | None
    hours: dict[datetime, float]  # hour start (UTC+8) → kg CO₂/kWh: a forecast's from the plan's hour on,
    # measured ones up to it
    problem: str | None = None  # why the plan does not use it; None: it does
    # which kind of problem: missing, unreadable, invalid, stale, future or empty (None: used)
    reason: str | None = None

    @property
    def used(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class CarbonFeeds:
    """What a plan (or an accrual) made at one time takes from the zones' carbon feeds."""

    topology: Topology  # with the fresh measured hours in place (:func:`with_measured_carbon`)
    readings: dict[str, dict[str, FeedReading]]  # kind (forecast, measured) -> zone -> reading

    @property
    def forecast(self) -> dict[str, dict[datetime, float]]:
        """The fresh forecast hours (:func:`suanwang.solvers.forecast.outlook`'s ``feeds``)."""
        return usable(self.readings["forecast"])

    @property
    def measured(self) -> dict[str, dict[datetime, float]]:
        """The fresh measured hours (what the accounts settle at)."""
        return usable(self.readings["measured"])

    def not_used(self) -> list[tuple[str, FeedReading]]:
        """(kind, reading) of every feed a plan at this time does not take, with why."""
        return [(kind, r) for kind, readings in self.readings.items() for r in readings.values() if not r.used]


def read_all(topology: Topology, now: datetime) -> CarbonFeeds:
    """Both kinds of feed of every zone, as a plan made at ``now`` finds them, and ``topology``
    with the measured hours in place."""
    measured = read_measured(topology, now)
    return CarbonFeeds(
        with_measured_carbon(topology, usable(measured)), {"forecast": read_feeds(topology, now), "measured": measured}
    )


def read_feeds(topology: Topology, now: datetime) -> dict[str, FeedReading]:
    """The forecast feed of every zone that names one, as a plan made at ``now`` (UTC+8) finds it."""
    return {zid: _reading(zid, z.carbon_feed, now, True) for zid, z in topology.grid_zones.items() if z.carbon_feed}


def read_measured(topology: Topology, now: datetime) -> dict[str, FeedReading]:
    """The measured hours of every zone that names a ``carbon_measured`` file, up to the hour that
    holds ``now`` (UTC+8), as a cycle at ``now`` finds them."""
    zones = topology.grid_zones.items()
    return {zid: _reading(zid, z.carbon_measured, now, False) for zid, z in zones if z.carbon_measured}


def usable(readings: dict[str, FeedReading]) -> dict[str, dict[datetime, float]]:
    """The hours of the feeds a plan takes (:func:`suanwang.solvers.forecast.outlook`'s ``feeds``)."""
    return {zid: r.hours for zid, r in readings.items() if r.used}


def _reading(zone: str, feed: CarbonFeed, now: datetime, ahead: bool) -> FeedReading:
    try:
        st = os.stat(feed.path)
    except FileNotFoundError:
        return FeedReading(zone, feed.path, None, None, {}, "no such file; check the feed that writes it", "missing")
    except OSError as e:
        why = f"cannot be read ({e.strerror}); check its permissions"
        return FeedReading(zone, feed.path, None, None, {}, why, "unreadable")
    written = to_local(datetime.fromtimestamp(st.st_mtime, UTC))
    age_h = (now - written).total_seconds() / 3600.0
    hours, problem = _parse(feed.path, feed.column, st.st_mtime_ns, st.st_size)
    first = now.replace(minute=0, second=0, microsecond=0)
    kept = {t: v for t, v in hours.items() if (t >= first if ahead else t <= first)}
    reason = None if problem is None else "invalid"
    if problem is None and age_h > feed.max_age_h:
        reason = "stale"
        problem = (
            f"written {age_h:.1f} h before the plan, more than its max_age_h of {feed.max_age_h:g}; check the feed"
        )
    elif problem is None and age_h < -CLOCK_SKEW_H:
        reason = "future"
        problem = f"modified {-age_h:.1f} h after the plan's time; check the clocks of the feed and this host"
    elif problem is None and not kept:
        reason = "empty"
        problem = (
            "holds no hour from the plan's on; check that the feed writes a forecast"
            if ahead
            else "holds no hour up to the plan's; check that the feed writes measured hours"
        )
    return FeedReading(zone, feed.path, written, age_h, kept if problem is None else {}, problem, reason)


@lru_cache(maxsize=64)
def _parse(path: str, column: str, mtime_ns: int, size: int) -> tuple[dict[datetime, float], str | None]:
    """The file's hours, or why it cannot be used (read again when its size or time changes)."""
    try:
        rows = carbon_rows(path, column, max_rows=MAX_FEED_ROWS, max_bytes=MAX_FEED_BYTES)
    except InputError as e:
        return {}, e.summary
    hours: dict[datetime, float] = {}
    for t, v in rows:
        if t is None:
            return {}, f"{path}: no Datetime column; give each hour its time (UTC)"
        if v is not None:
            hours[to_local(t).replace(minute=0, second=0, microsecond=0)] = v
    return hours, None
