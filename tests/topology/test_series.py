"""Hourly year series (topology.series) and a topology zone's ``carbon_series``: rows placed by
their UTC timestamps, the file's bounds (size, rows, finite values in range) as faults naming the
file, the line and the fix, the path taken from the topology's folder, the round trip through
the serializer, and the forecast the planner draws from the series."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml

import suanwang.topology.series as series_mod
from suanwang.errors import InputError
from suanwang.solvers.forecast import outlook
from suanwang.topology.loader import load_topology
from suanwang.topology.model import GridZone, Tariff, TariffPeriod
from suanwang.topology.serialize import topology_to_yaml
from suanwang.topology.series import CARBON_COLUMN, year_series
from tests.conftest import MINI

START = datetime(2023, 1, 1)


def write_series(path, value=lambda h: h % 24, hours: int = 8760, column: str = CARBON_COLUMN) -> None:
    lines = [f"Datetime (UTC),{column}"]
    lines += [f"{(START + timedelta(hours=h)).isoformat(sep=' ')},{value(h)}" for h in range(hours)]
    path.write_text("\n".join(lines) + "\n")


def with_series(tmp_path, path: str) -> str:
    doc = yaml.safe_load(MINI)
    doc["grid_zones"]["js"]["carbon_series"] = {"path": path}
    topo = tmp_path / "topo.yaml"
    topo.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return str(topo)


def test_year_series_are_read_by_their_utc_timestamps(tmp_path):
    f = tmp_path / "zone.csv"
    write_series(f)  # value = the UTC hour of the row
    series = year_series(f, CARBON_COLUMN)
    zone = GridZone("z", 0.5, Tariff((TariffPeriod("flat", 0, 24, 0.5),)), carbon_year_kg_per_kwh=series)
    # 08:00 in Jiangsu is 00:00 UTC: the row stamped 00:00 UTC, not the ninth row
    assert zone.carbon_at(datetime(2023, 3, 1, 8, 0)) == 0.0
    assert zone.carbon_at(datetime(2023, 3, 1, 20, 0)) == 12.0
    assert zone.carbon_at(datetime(2023, 1, 1, 0, 0)) == 16.0  # before the first row: wraps from year's end


@pytest.mark.parametrize(
    ("value", "hours", "words"),
    [
        (lambda h: 6000 if h == 100 else 500, 8760, ["line 102", "6000", "outside 0–5", "unit"]),
        (lambda h: "inf" if h == 7 else 500, 8760, ["line 9", "not finite"]),
        (lambda h: "lots" if h == 3 else 500, 8760, ["line 5", "not a number"]),
        (lambda h: -1 if h == 0 else 500, 8760, ["line 2", "outside 0–5"]),
        (lambda h: 500, 24 * 20, ["480 rows", "four weeks"]),
    ],
)
def test_a_bad_series_is_refused_naming_the_line_and_the_fix(tmp_path, value, hours, words):
    f = tmp_path / "zone.csv"
    write_series(f, value, hours)
    with pytest.raises(InputError) as e:
        year_series(f, CARBON_COLUMN, 0.001, low=0.0, high=5.0, unit="kg CO₂/kWh")
    assert str(f) in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_a_series_is_bounded_in_rows_and_names_its_columns(tmp_path, monkeypatch):
    f = tmp_path / "zone.csv"
    write_series(f, hours=24 * 30)
    with pytest.raises(InputError, match="no column 'grams'.*Datetime"):
        year_series(f, "grams")
    monkeypatch.setattr(series_mod, "MAX_ROWS", 24 * 29)
    with pytest.raises(InputError, match="more than 696 rows"):
        year_series(f, CARBON_COLUMN)


def test_gaps_take_the_previous_hour(tmp_path):
    f = tmp_path / "zone.csv"
    write_series(f, lambda h: "NaN" if h == 10 else ("" if h == 11 else h))
    s = year_series(f, CARBON_COLUMN)
    assert s[8 + 10] == 9.0 and s[8 + 11] == 9.0 and s[8 + 12] == 12.0  # rows sit 8 h on, in UTC+8


def test_a_topology_zone_reads_its_carbon_series_from_its_own_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write_series(tmp_path / "data" / "js.csv", lambda h: 400 + 10 * (h % 24))  # g/kWh
    topo_file = with_series(tmp_path, "data/js.csv")
    monkeypatch.chdir("/")  # the path is the topology file's, not the working directory's
    topo = load_topology(topo_file)
    zone = topo.grid_zones["js"]
    assert zone.carbon_series == (str((tmp_path / "data" / "js.csv").resolve()), CARBON_COLUMN)
    # 20:00 in UTC+8 is the row of 12:00 UTC: 400 + 120 g, as kg
    assert zone.carbon_at(datetime(2023, 5, 3, 20)) == pytest.approx(0.52)
    assert zone.carbon_at(datetime(2023, 5, 3, 8)) == pytest.approx(0.40)
    again = tmp_path / "again.yaml"  # the serializer keeps the series: the API's topology versions do
    again.write_text(topology_to_yaml(topo))
    assert load_topology(again).grid_zones == topo.grid_zones


def test_the_planner_forecasts_from_the_series_and_accounts_with_it(tmp_path):
    def g(h: int) -> float:  # a daily shape, and a day that breaks it (hours 24·130 on)
        return 300 + 10 * (h % 24) if h < 24 * 130 or h >= 24 * 131 else 900

    write_series(tmp_path / "js.csv", g)
    topo = load_topology(with_series(tmp_path, "js.csv"))
    now = datetime(2023, 5, 11, 8)  # UTC+8: hour of the year 24·130 + 8 in the series, 00:00 UTC
    o = outlook(topo, now, 24, "weekly")
    hist = [[g(24 * (130 - d) + h) / 1000 for d in range(1, 8)] for h in range(24)]
    assert list(o.carbon_kg_per_kwh["js"]) == pytest.approx([sum(x) / 7 for x in hist])  # the past week only
    actual = [topo.grid_zones["js"].carbon_at(now + timedelta(hours=h)) for h in range(24)]
    assert actual[0] == pytest.approx(0.9) and o.carbon_kg_per_kwh["js"][0] == pytest.approx(0.3)


def test_a_bad_carbon_series_is_a_topology_fault(tmp_path):
    with pytest.raises(InputError) as e:
        load_topology(with_series(tmp_path, "missing.csv"))
    (f,) = [x for x in e.value.faults if x.path == "grid_zones.js.carbon_series.path"]
    assert "missing.csv" in str(f) and "no such file" in str(f)
    write_series(tmp_path / "high.csv", lambda h: 7000 if h == 50 else 500)
    with pytest.raises(InputError) as e:
        load_topology(with_series(tmp_path, "high.csv"))
    (f,) = [x for x in e.value.faults if x.path == "grid_zones.js.carbon_series.path"]
    assert "line 52" in str(f) and "outside 0–5" in str(f) and "g CO₂/kWh" in str(f)
