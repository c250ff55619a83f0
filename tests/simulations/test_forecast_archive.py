"""A scenario's archive of issued carbon forecasts (``changes.carbon_forecasts``): read relative to
the scenario's folder, refused with the field named when it is bad, and taken by every shifted
plan of the replay as of the plan's time — with an archive of the actual hours the plans expect
what the oracle sees, and the report's forecast error is zero, where the weekly profile's is not."""

from __future__ import annotations

from datetime import timedelta

import pytest

import suanwang.simulations.engine as engine_mod
from suanwang.errors import InputError
from suanwang.simulations.runner import run_scenario, shift_variants
from suanwang.simulations.scenario import load_scenario
from suanwang.solvers.forecast import outlook
from suanwang.topology.series import CARBON_COLUMN
from tests.conftest import SHARED_DATA

PAI = SHARED_DATA / "gaia-job-traces" / "pai-100k.csv"
VIC = SHARED_DATA / "sustaincluster-em-2023" / "carbon_intensity" / "AU-VIC_2023_hourly.csv"
SCENARIO = """
name: vic
start: 2026-07-15T00:00:00+08:00
hours: 4
drain_h: 4
seed: 4
demand:
  pai: {{path: {pai}, time_scale: 0.08}}
  deferrable: {{share: 0.6, slack_h: 12}}
changes:
  carbon_series: {{jiangsu: {{path: {vic}, column: "{column}"}}}}
{archive}
policy: {{solver: cpsat, interval_min: 60, shift: true, horizon_h: 24, slot_min: 60, time_limit_s: 0.3}}
"""


def scenario(tmp_path, archive: str = ""):
    f = tmp_path / "vic.yaml"
    f.write_text(SCENARIO.format(pai=PAI, vic=VIC, column=CARBON_COLUMN, archive=archive))
    return load_scenario(f)


def perfect_archive(tmp_path, sc) -> None:
    """Issued every hour from an hour before the run to its end, the actual series 72 h ahead."""
    zone = sc.topology.grid_zones["jiangsu"]
    lines = [f"Issued (UTC),Datetime (UTC),{CARBON_COLUMN}"]
    for k in range(-1, 10):
        at = sc.start + timedelta(hours=k)
        for h in range(72):
            t = at + timedelta(hours=h)
            lines.append(f"{at - timedelta(hours=8)},{t - timedelta(hours=8)},{zone.carbon_at(t) * 1000:.3f}")
    (tmp_path / "arch.csv").write_text("\n".join(lines) + "\n")


def test_the_replay_plans_with_the_archive_as_of_each_plan(tmp_path, monkeypatch):
    base = scenario(tmp_path)
    perfect_archive(tmp_path, base)
    sc = scenario(tmp_path, "  carbon_forecasts: {jiangsu: {path: arch.csv, max_age_h: 2}}")
    assert sc.topology.grid_zones["jiangsu"].carbon_forecasts is not None
    seen = []

    def spy(topology, now, hours, method="weekly", feeds=None):
        look = outlook(topology, now, hours, method, feeds)
        seen.append((now, look, outlook(topology, now, hours, "oracle")))
        return look

    monkeypatch.setattr(engine_mod, "outlook", spy)
    shifted = next(v for v in shift_variants(sc) if v.name.endswith("/shifted"))
    report, _ = run_scenario(shifted)
    assert len(seen) >= 4
    for _, look, actual in seen:  # every plan expected the actual hours the archive holds
        assert look.carbon_kg_per_kwh["jiangsu"][:48] == pytest.approx(actual.carbon_kg_per_kwh["jiangsu"][:48])
        assert "forecast feed for jiangsu" in look.source
    assert report["forecast_mape"] == pytest.approx(0.0, abs=1e-6)
    weekly = next(v for v in shift_variants(base) if v.name.endswith("/shifted"))
    seen.clear()
    assert run_scenario(weekly)[0]["forecast_mape"] > 0.05
    assert all("feed" not in look.source for _, look, _ in seen)


def test_a_bad_archive_names_its_field(tmp_path):
    (tmp_path / "arch.csv").write_text(f"Datetime (UTC),{CARBON_COLUMN}\n2023-01-01 00:00,100\n")
    with pytest.raises(InputError) as e:
        scenario(tmp_path, "  carbon_forecasts: {jiangsu: {path: arch.csv}}")
    (fault,) = [f for f in e.value.faults if f.path == "changes.carbon_forecasts.jiangsu.path"]
    assert "needs an Issued column" in fault.message
