"""Archives of issued carbon forecasts (topology.forecasts): a plan made at ``t`` takes the latest
issue at or before ``t`` while it is young enough, for the hours from ``t`` on, placed by their UTC
times; the file's bounds (columns, values, hours outside an issue's reach, rows) as errors naming
the line and the fix; and the outlook taking an archive's hours in place of the plan's own forecast,
a live feed's before them, and neither in place of the oracle's actual series."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import suanwang.topology.forecasts as forecasts_mod
from suanwang.errors import InputError
from suanwang.solvers.forecast import outlook
from suanwang.topology.forecasts import read_archive
from suanwang.topology.model import GridZone, Tariff, TariffPeriod, Topology
from suanwang.topology.series import CARBON_COLUMN, year_series
from tests.topology.test_series import write_series

NOW = datetime(2026, 7, 15, 10, 30)  # plans' clock (UTC+8)


def write_archive(path, issues, lead_h: int = 6, value=lambda issue, h: 100 + h, extra: str = "") -> None:
    """One issue at each local time in ``issues``, forecasting the ``lead_h`` hours from its own."""
    lines = [f"Issued (UTC),Datetime (UTC),{CARBON_COLUMN}"]
    for k, at in enumerate(issues):
        first = at.replace(minute=0)
        for h in range(lead_h):
            utc = lambda t: (t - timedelta(hours=8)).isoformat(sep=" ")  # noqa: E731
            lines.append(f"{utc(at)},{utc(first + timedelta(hours=h))},{value(k, h)}")
    path.write_text("\n".join(lines) + "\n" + extra)


def test_a_plan_takes_the_latest_issue_before_it_while_young_enough(tmp_path):
    f = tmp_path / "arch.csv"
    issues = [NOW - timedelta(hours=3), NOW - timedelta(minutes=20), NOW + timedelta(hours=1)]
    write_archive(f, issues, value=lambda k, h: 100 * (k + 1) + h)
    arch = read_archive(f, max_age_h=2)
    got = arch.as_of(NOW)  # the issue of 10:10, not the one of 07:30 nor the one of 11:30
    assert min(got) == datetime(2026, 7, 15, 10) and got[datetime(2026, 7, 15, 10)] == pytest.approx(0.2)
    assert len(got) == 6 and got[datetime(2026, 7, 15, 15)] == pytest.approx(0.205)
    later = arch.as_of(NOW + timedelta(minutes=90))  # 12:00: the issue of 11:30, its hours from 12:00
    assert min(later) == datetime(2026, 7, 15, 12) and later[min(later)] == pytest.approx(0.301)
    assert arch.as_of(NOW + timedelta(hours=4)) == {}  # the latest issue is older than max_age_h
    assert arch.as_of(NOW - timedelta(hours=4)) == {}  # nothing issued yet


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("2026-07-15 01:00,2026-07-15 02:00,6000\n", ["6000", "outside 0–5,000"]),
        ("2026-07-15 01:00,2026-07-14 23:00,100\n", ["not within 336 h after its issue"]),
        ("2026-07-15 01:00,2026-08-15 01:00,100\n", ["not within 336 h after its issue"]),
        ("2026-07-15 01:00,2026-07-15 02:00,lots\n", ["not a number"]),
        ("soon,2026-07-15 02:00,100\n", ["ISO 8601"]),
    ],
)
def test_a_bad_archive_is_refused_naming_the_line_and_the_fix(tmp_path, extra, words):
    f = tmp_path / "arch.csv"
    write_archive(f, [NOW], extra=extra)
    with pytest.raises(InputError) as e:
        read_archive(f)
    assert "line 8" in str(e.value) or "line 8" in e.value.summary
    for w in words:
        assert w in e.value.summary, e.value.summary


def test_an_archive_is_bounded_and_names_its_columns(tmp_path, monkeypatch):
    f = tmp_path / "arch.csv"
    write_archive(f, [NOW, NOW + timedelta(hours=1)])
    with pytest.raises(InputError, match="needs an Issued column"):
        read_archive(f, "grams")
    monkeypatch.setattr(forecasts_mod, "MAX_ARCHIVE_ROWS", 10)
    with pytest.raises(InputError, match="more than 10 rows"):
        read_archive(f)
    cut = tmp_path / "cut.csv"  # the value first, and a row cut short before its hour
    cut.write_text(f"{CARBON_COLUMN},Issued (UTC),Datetime (UTC)\n100,2026-07-15 01:00\n")
    with pytest.raises(InputError, match="line 2.*ISO 8601"):
        read_archive(cut)
    (tmp_path / "empty.csv").write_text(f"Issued (UTC),Datetime (UTC),{CARBON_COLUMN}\n")
    with pytest.raises(InputError, match="no forecast"):
        read_archive(tmp_path / "empty.csv")


def test_the_outlook_takes_an_archive_then_a_feed_never_for_the_oracle(tmp_path):
    write_series(tmp_path / "y.csv", lambda h: 500)
    series = year_series(tmp_path / "y.csv", CARBON_COLUMN, 0.001)
    write_archive(tmp_path / "arch.csv", [NOW - timedelta(minutes=20)], lead_h=4)
    zone = GridZone(
        "z", 0.5, Tariff((TariffPeriod("flat", 0, 24, 0.5),)), carbon_year_kg_per_kwh=series,
        carbon_forecasts=read_archive(tmp_path / "arch.csv"),
    )  # fmt: skip
    topo = Topology("t", {}, {}, {"z": zone}, (), ())
    look = outlook(topo, NOW, 8, "weekly")
    assert look.carbon_kg_per_kwh["z"] == pytest.approx([0.1, 0.101, 0.102, 0.103, 0.5, 0.5, 0.5, 0.5])
    assert "forecast feed for z 4 h" in look.source
    fed = outlook(topo, NOW, 8, "weekly", {"z": {datetime(2026, 7, 15, 10): 0.3}}).carbon_kg_per_kwh["z"]
    assert fed == pytest.approx([0.3] + [0.5] * 7)  # a live feed comes first; beyond it the plan's own forecast
    assert outlook(topo, NOW, 8, "oracle").carbon_kg_per_kwh["z"] == pytest.approx([0.5] * 8)
