"""A grid zone's electricity price and carbon intensity averaged over any interval.

Prices and intensities change by the hour (time-of-use bands, hourly or year-long series), so a
job's energy is priced by the time-weighted mean over the hours it runs, not by the hour it
starts. :class:`HourlyFactors` tabulates a zone hour by hour from 1 January of a year, with
running sums, so each mean costs O(1) once the hours are tabulated; :func:`factors_for` keeps
one table per zone and year.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta

from suanwang.topology.model import GridZone


class HourlyFactors:
    def __init__(self, zone: GridZone, origin: datetime) -> None:
        self.zone, self.origin = zone, origin
        self.price: list[float] = []  # CNY per kWh in hour h after the origin
        self.carbon: list[float] = []  # kg CO2 per kWh in hour h
        self._cum_price = [0.0]
        self._cum_carbon = [0.0]

    def _extend(self, hours: int) -> None:
        while len(self.price) < hours:
            t = self.origin + timedelta(hours=len(self.price))
            p, c = self.zone.price_at(t), self.zone.carbon_at(t)
            self.price.append(p)
            self.carbon.append(c)
            self._cum_price.append(self._cum_price[-1] + p)
            self._cum_carbon.append(self._cum_carbon[-1] + c)

    def hours_from(self, start: datetime, n: int) -> tuple[list[float], list[float]]:
        """(prices, intensities) of the ``n`` whole hours from the hour that holds ``start``."""
        first = int((start - self.origin).total_seconds() // 3600)
        self._extend(first + n)
        return self.price[first : first + n], self.carbon[first : first + n]

    def _integral(self, x: float) -> tuple[float, float]:
        """(∫ price, ∫ carbon) from the origin to ``x`` hours after it."""
        h = int(x)
        self._extend(h + 1)
        frac = x - h
        return self._cum_price[h] + frac * self.price[h], self._cum_carbon[h] + frac * self.carbon[h]

    def mean(self, start: datetime, hours: float) -> tuple[float, float]:
        """Time-weighted mean (CNY per kWh, kg CO2 per kWh) from ``start`` over ``hours``; the
        figures of the starting hour when ``hours`` is zero."""
        a = max(0.0, (start - self.origin).total_seconds() / 3600.0)
        if hours <= 0:
            self._extend(int(a) + 1)
            return self.price[int(a)], self.carbon[int(a)]
        p0, c0 = self._integral(a)
        p1, c1 = self._integral(a + hours)
        return (p1 - p0) / hours, (c1 - c0) / hours


_TABLES: dict[tuple[int, int], tuple[weakref.ref, HourlyFactors]] = {}


def factors_for(zone: GridZone, when: datetime) -> HourlyFactors:
    """The table of ``zone`` for the year of ``when`` (built once per zone object and year)."""
    key = (id(zone), when.year)
    hit = _TABLES.get(key)
    if hit is not None and hit[0]() is zone:
        return hit[1]
    table = HourlyFactors(zone, datetime(when.year, 1, 1, tzinfo=when.tzinfo))
    _TABLES[key] = (weakref.ref(zone), table)
    weakref.finalize(zone, _TABLES.pop, key, None)
    return table
