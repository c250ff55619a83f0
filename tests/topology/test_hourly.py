"""Zone tariff and carbon intensity averaged over an interval: hand-checked means across
time-of-use bands and year-long series, and one table per zone and year."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from suanwang.topology.hourly import factors_for


def test_mean_across_tariff_bands(jiangsu):
    zone = jiangsu.grid_zones["jiangsu"]
    t = datetime(2026, 11, 25, 7, 30)
    hours = [(datetime(2026, 11, 25, 7), 0.5), (datetime(2026, 11, 25, 8), 1.0), (datetime(2026, 11, 25, 9), 0.25)]
    assert len({zone.price_at(h) for h, _ in hours}) > 1  # the interval crosses a band
    price, carbon = factors_for(zone, t).mean(t, 1.75)
    assert price == pytest.approx(sum(zone.price_at(h) * d for h, d in hours) / 1.75)
    assert carbon == pytest.approx(zone.carbon_kg_per_kwh)
    assert factors_for(zone, t).mean(t, 0) == (zone.price_at(t), zone.carbon_at(t))
    assert factors_for(zone, t) is factors_for(zone, datetime(2026, 3, 1))  # one table per zone and year


def test_mean_over_a_year_series(jiangsu):
    series = tuple(float(h % 24) for h in range(8760))
    zone = replace(jiangsu.grid_zones["jiangsu"], carbon_year_kg_per_kwh=series)
    t = datetime(2026, 2, 1, 22, 0)
    _, carbon = factors_for(zone, t).mean(t, 4)  # hours 22, 23, 0, 1
    assert carbon == pytest.approx((22 + 23 + 0 + 1) / 4)
    long = factors_for(zone, t).mean(t, 24 * 30)[1]
    assert long == pytest.approx(11.5)  # a whole number of days averages the daily cycle
