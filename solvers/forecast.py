"""Day-ahead outlooks of each grid zone: the tariff as published, carbon intensity forecast.

The price of a zone is known: its time-of-use table, or the hourly price series a scenario gives
(day-ahead market prices are published the day before). Carbon intensity is forecast from the
zone's series up to the plan time only:

- ``persistence``: the value at the same hour on the last day already observed (day-ahead
  seasonal persistence: a lead of 1–24 h looks back one day, 25–48 h two days);
- ``weekly``: the mean of the same hour over the last seven observed days (the default: it
  smooths single odd days; see the forecast error the simulator reports);
- ``anchored``: the weekly profile, anchored on the last observed hour: how far that hour lay
  from its profile carries into the forecast and fades by half every ``ANCHOR_HALF_LIFE_H`` hours
  (weather that keeps a grid above or below its usual day for hours — wind, cloud — is seen by a
  plan made each hour). Its day-ahead error is lower than the weekly profile's in all ten
  Electricity Maps zones of the carbon benchmark, but there its plans save more carbon in eight
  zones and less in two, which then fall below 90 % of the oracle's saving (``bench/README.md``),
  so it is not the default;
- ``oracle``: the actual series (what a perfect-foresight plan sees).

A zone whose topology names a ``carbon_forecast`` feed (a weather-driven forecast the operator
buys or the grid publishes; read by :mod:`suanwang.collectors.carbon_feed`) takes the hours the
feed gives in place of these, while the feed is fresh; in a replay, a zone's archive of issued
forecasts (:mod:`suanwang.topology.forecasts`) does the same as of each plan's time.

A zone without a year series (a constant or a 24-hour profile) is its own forecast.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from suanwang.solvers.problem import Outlook
from suanwang.topology.hourly import factors_for
from suanwang.topology.model import GridZone, Topology

Method = Literal["anchored", "persistence", "weekly", "oracle"]
METHODS: tuple[Method, ...] = ("anchored", "persistence", "weekly", "oracle")
ANCHOR_HALF_LIFE_H = (
    12.0  # of 3, 6, 12, 24, 48 h: the least error of hourly forecasts over the ten Electricity Maps zones
)


def outlook(
    topology: Topology,
    now: datetime,
    hours: int,
    method: Method = "weekly",
    feeds: Mapping[str, Mapping[datetime, float]] | None = None,
) -> Outlook:
    """Hourly price and carbon of every zone for ``hours`` from the hour that holds ``now``; a
    zone's ``feeds`` (hour start → kg CO₂/kWh, from its live forecast feed), else its archive of
    issued forecasts (a scenario's), take the hours they give in place of ``method``'s forecast
    (never in place of the oracle's actual series)."""
    start = now.replace(minute=0, second=0, microsecond=0)
    price, carbon = {}, {}
    fed = []
    for zid, zone in topology.grid_zones.items():
        p, _ = factors_for(zone, start).hours_from(start, hours)
        price[zid] = tuple(p)
        carbon[zid], given = zone_carbon(zone, now, hours, method, (feeds or {}).get(zid))
        if given:
            fed.append(f"{zid} {given} h")
    feed_note = f"; forecast feed for {', '.join(fed)}" if fed else ""
    return Outlook(start, price, carbon, f"tariff; carbon {method}{feed_note}")


def zone_carbon(
    zone: GridZone, now: datetime, hours: int, method: Method, feed: Mapping[datetime, float] | None = None
) -> tuple[tuple[float, ...], int]:
    """The zone's carbon a plan made at ``now`` expects for ``hours`` from its hour, and how many
    of them a forecast feed (``feed``, else the zone's archive as of ``now``) gave."""
    start = now.replace(minute=0, second=0, microsecond=0)
    _, actual = factors_for(zone, start).hours_from(start, hours)
    if method == "oracle":
        return tuple(actual), 0
    own = carbon_forecast(zone, start, hours, method) if zone.carbon_year_kg_per_kwh else tuple(actual)
    given = feed or (zone.carbon_forecasts.as_of(now) if zone.carbon_forecasts is not None else {})
    if not given:
        return own, 0
    times = [start + timedelta(hours=h) for h in range(hours)]
    return tuple(given.get(t, v) for t, v in zip(times, own, strict=True)), sum(t in given for t in times)


def outlook_hours(shift, jobs) -> int:
    """Hours an outlook must cover for a plan of ``jobs`` over ``shift``'s horizon: the longest run
    may start in its last slot."""
    return int(shift.horizon_h + max((j.duration_h for j in jobs), default=0.0)) + 2


def carbon_forecast(zone: GridZone, start: datetime, hours: int, method: Method) -> tuple[float, ...]:
    """Forecast of the zone's intensity for ``hours`` from ``start`` using only hours before it."""
    past_days = 1 if method == "persistence" else 7
    first = start - timedelta(days=past_days + (hours + 23) // 24)
    table = factors_for(zone, first)
    span = int((start - first).total_seconds() // 3600)
    _, history = table.hours_from(first, span)
    hist = np.asarray(history)  # hist[-1] is the hour before ``start``
    out = []
    for h in range(hours):
        back = 24 * (h // 24 + 1)  # the same hour on the last observed day
        if method == "persistence":
            out.append(float(hist[len(hist) - back + (h % 24)]))
        else:
            idx = [len(hist) - back - 24 * d + (h % 24) for d in range(past_days)]
            out.append(float(np.mean(hist[[i for i in idx if i >= 0]])))
    if method == "anchored" and len(hist) > 24:  # the last hour's distance from its own profile
        idx = [len(hist) - 1 - 24 * d for d in range(1, past_days + 1) if len(hist) - 1 - 24 * d >= 0]
        gap = float(hist[-1] - np.mean(hist[idx]))
        fade = 0.5 ** (np.arange(1, hours + 1) / ANCHOR_HALF_LIFE_H)
        out = [max(0.0, v + gap * f) for v, f in zip(out, fade, strict=True)]
    return tuple(out)


def forecast_error(zone: GridZone, start: datetime, days: int, method: Method) -> float | None:
    """Mean absolute percentage error of day-ahead forecasts made each midnight over ``days``, the
    zone's archive of issued forecasts included (``None`` for a zone without a series, which is exact)."""
    if not zone.carbon_year_kg_per_kwh or method == "oracle":
        return None if not zone.carbon_year_kg_per_kwh else 0.0
    errs = []
    for d in range(days):
        t = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=d)
        fc = np.asarray(zone_carbon(zone, t, 24, method)[0])
        _, actual = factors_for(zone, t).hours_from(t, 24)
        a = np.asarray(actual)
        ok = a > 1e-9
        if ok.any():
            errs.append(np.mean(np.abs(fc[ok] - a[ok]) / a[ok]))
    return float(np.mean(errs)) if errs else None
