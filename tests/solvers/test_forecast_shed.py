"""Carbon outlooks (solvers.forecast) read only the hours before the plan time, reproduce a real
Electricity Maps series' daily shape with a measured error, and leave tariffs exact; demand
response for running work (solvers.shed) never suspends inference or non-preemptible jobs,
takes the least work lost first, and says by how much and why a cap stays unmet."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from suanwang.solvers.forecast import carbon_forecast, forecast_error, outlook
from suanwang.solvers.problem import PowerLimit
from suanwang.solvers.shed import Draw, shed
from suanwang.topology.series import year_series
from tests.conftest import SHARED_DATA

EM = SHARED_DATA / "sustaincluster-em-2023" / "carbon_intensity"


@pytest.fixture(scope="module")
def de_zone(jiangsu):
    series = year_series(EM / "DE-LU_2023_hourly.csv", "Carbon Intensity gCO₂eq/kWh (LCA)", 0.001)
    return replace(jiangsu.grid_zones["jiangsu"], carbon_year_kg_per_kwh=series)


@pytest.mark.parametrize("method", ["persistence", "weekly", "anchored"])
def test_a_forecast_uses_only_the_past(de_zone, method):
    start = datetime(2023, 3, 10, 0, 0)
    before = carbon_forecast(de_zone, start, 48, method)
    cut = (start - datetime(2023, 1, 1)).days * 24
    future_changed = de_zone.carbon_year_kg_per_kwh[:cut] + tuple(9.9 for _ in de_zone.carbon_year_kg_per_kwh[cut:])
    after = carbon_forecast(replace(de_zone, carbon_year_kg_per_kwh=future_changed), start, 48, method)
    assert before == after
    assert len(before) == 48 and all(0 < v < 2 for v in before)


def test_persistence_repeats_yesterday(de_zone):
    start = datetime(2023, 5, 2, 0, 0)
    fc = carbon_forecast(de_zone, start, 24, "persistence")
    yesterday = [de_zone.carbon_at(start - timedelta(days=1) + timedelta(hours=h)) for h in range(24)]
    assert list(fc) == pytest.approx(yesterday)


def test_anchored_starts_from_the_last_observed_hour_and_fades_to_the_profile(de_zone):
    start = datetime(2023, 3, 10, 7, 0)
    weekly = carbon_forecast(de_zone, start, 48, "weekly")
    anchored = carbon_forecast(de_zone, start, 48, "anchored")
    last = de_zone.carbon_at(start - timedelta(hours=1))
    profile_then = sum(de_zone.carbon_at(start - timedelta(hours=1, days=d)) for d in range(1, 8)) / 7
    gap = last - profile_then
    assert abs(gap) > 0.01  # the day differs from its profile: the forecast is moved by it
    assert anchored[0] - weekly[0] == pytest.approx(gap * 0.5 ** (1 / 12), rel=1e-6)
    assert anchored[23] - weekly[23] == pytest.approx(gap * 0.5**2, rel=1e-6)  # a day on: a quarter


def test_forecast_error_is_measured_and_the_oracle_is_exact(de_zone, jiangsu):
    start = datetime(2023, 6, 1)
    errs = {m: forecast_error(de_zone, start, 14, m) for m in ("persistence", "weekly", "oracle")}
    assert errs["oracle"] == 0.0
    assert 0.01 < errs["persistence"] < 0.6 and 0.01 < errs["weekly"] < 0.6
    # a zone without a series is its own forecast: nothing to measure
    assert forecast_error(jiangsu.grid_zones["jiangsu"], start, 14, "weekly") is None


def test_outlook_keeps_the_tariff_exact(jiangsu):
    now = datetime(2026, 7, 15, 10, 20)
    look = outlook(jiangsu, now, 30, "weekly")
    zone = jiangsu.grid_zones["jiangsu"]
    assert look.start == datetime(2026, 7, 15, 10, 0)
    assert look.price_cny_per_kwh["jiangsu"][0] == pytest.approx(1.185)
    assert look.price_cny_per_kwh["jiangsu"][14] == pytest.approx(zone.price_at(datetime(2026, 7, 16, 0, 0)))


def _draws():
    return [
        Draw("llm", "nj", 300.0, True, True),  # inference: never shed, even if marked preemptible
        Draw("pinned", "nj", 200.0, False, False),
        Draw("fresh", "nj", 100.0, True, False, lost_h=0.1),
        Draw("old", "nj", 400.0, True, False, lost_h=5.0),
        Draw("elsewhere", "sz", 900.0, True, False),
    ]


def test_shed_takes_least_lost_work_first_and_meets_the_cap():
    lim = PowerLimit("e", ("nj",), datetime(2026, 7, 15), datetime(2026, 7, 15, 4), cap_kw=900.0)
    r = shed(lim, {"nj": 1000.0, "sz": 900.0}, _draws())
    assert r.met and r.suspend == ("fresh",) and r.shed_kw == 100.0
    deeper = shed(replace(lim, cap_kw=500.0), {"nj": 1000.0, "sz": 900.0}, _draws())
    assert deeper.met and deeper.suspend == ("fresh", "old")


def test_shed_says_why_a_cap_stays_unmet():
    lim = PowerLimit("e", ("nj",), datetime(2026, 7, 15), datetime(2026, 7, 15, 4), cap_kw=100.0)
    r = shed(lim, {"nj": 1000.0}, _draws())
    assert not r.met and set(r.suspend) == {"fresh", "old"}
    assert r.shortfall_kw == pytest.approx(400.0)  # 1000 − 500 shed − cap 100
    assert "inference draws 300.0 kW" in r.why and "non-preemptible work 200.0 kW" in r.why


def test_shed_spares_jobs_whose_deadline_would_not_survive_the_event():
    lim = PowerLimit("e", ("nj",), datetime(2026, 7, 15), datetime(2026, 7, 15, 4), cap_kw=900.0)
    tight = Draw("tight", "nj", 100.0, True, False, lost_h=0.0, slack_h=1.0)  # would miss its deadline
    loose = Draw("loose", "nj", 100.0, True, False, lost_h=0.5, slack_h=10.0)
    assert shed(lim, {"nj": 1000.0}, [tight, loose]).suspend == ("loose",)
