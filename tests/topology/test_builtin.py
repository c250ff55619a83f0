"""The built-in Jiangsu topology: cities, hubs, totals, PUE policy, power caps, CENI subset."""

from __future__ import annotations

import pytest

from suanwang.topology.loader import builtin_path
from suanwang.topology.totals import province_totals, site_totals, totals_by

CITIES = {
    "Nanjing",
    "Wuxi",
    "Xuzhou",
    "Changzhou",
    "Suzhou",
    "Nantong",
    "Lianyungang",
    "Huai'an",
    "Yancheng",
    "Yangzhou",
    "Zhenjiang",
    "Taizhou",
    "Suqian",
}
PUE_LIMIT = {"hub": 1.25, "city": 1.3, "edge": 1.5}


def test_shipped_inside_package():
    assert builtin_path().is_file()


def test_thirteen_cities_each_with_a_site(jiangsu):
    assert set(jiangsu.cities) == CITIES
    assert {s.city for s in jiangsu.sites} == CITIES
    assert jiangsu.cities["Nanjing"].lat == 32.07 and jiangsu.cities["Nanjing"].lon == 118.78


def test_hubs_and_tiers(jiangsu):
    hubs = {s.id: s.city for s in jiangsu.sites if s.tier == "hub"}
    assert set(hubs.values()) == {"Nanjing", "Suzhou"}
    assert any(s.lat == 31.17 and s.lon == 120.63 for s in jiangsu.sites if s.tier == "hub")  # Wujiang
    city_tier = {s.city for s in jiangsu.sites if s.tier == "city"}
    assert city_tier == CITIES - {"Nanjing", "Suzhou"}
    assert any(s.tier == "edge" for s in jiangsu.sites)


def test_total_about_9000_pflops(jiangsu):
    total = province_totals(jiangsu)
    assert total.pflops == pytest.approx(9000, rel=0.02)
    by_acc = totals_by(jiangsu, "accelerator")
    assert set(by_acc) == {"H800", "H20", "A800", "Ascend910B"}
    assert sum(t.cards for t in by_acc.values()) == total.cards
    assert sum(t.pflops for t in totals_by(jiangsu, "tier").values()) == pytest.approx(total.pflops)
    assert sum(t.pflops for t in totals_by(jiangsu, "city").values()) == pytest.approx(total.pflops)
    assert 10_000 <= total.facility_kw <= 26_000  # BRIEF: ≈ 12–26 MW of facility power


def test_pue_and_power_caps_fit(jiangsu):
    for s in jiangsu.sites:
        assert 1.0 <= s.pue <= PUE_LIMIT[s.tier], s.id
        assert site_totals(jiangsu, s).facility_kw <= s.power_cap_kw, s.id


def test_ceni_subset_and_grid(jiangsu):
    kinds = {lk.kind for lk in jiangsu.links}
    assert kinds == {"otn", "ceni", "internet"}
    ceni = [lk for lk in jiangsu.links if lk.kind == "ceni"]
    assert 0 < len(ceni) < len([lk for lk in jiangsu.links if lk.kind == "otn"])
    assert jiangsu.grid_zones["jiangsu"].carbon_kg_per_kwh == 0.5827


def test_every_number_in_the_file_has_a_source():
    text = builtin_path().read_text(encoding="utf-8")
    for line in text.splitlines():
        stripped = line.strip()
        if any(k in stripped for k in ("pue:", "power_cap_kw:", "green_share:", "carbon_kg_per_kwh:")):
            assert "#" in stripped, f"number without a source: {stripped}"
