"""Graph queries: lowest-latency path and RTT, deterministic path choice and jitter sums,
bottleneck bandwidth, reach sets, tariff lookup."""

from __future__ import annotations

from datetime import datetime

import pytest

from suanwang.errors import InputError
from suanwang.topology.geo import derived_latency_ms, great_circle_km


def test_lowest_latency_path_uses_direct_link(mini_graph):
    r = mini_graph.path("Nanjing", "sz-hub")
    assert r.nodes == ("Nanjing", "Suzhou", "sz-hub")
    km = great_circle_km(32.07, 118.78, 31.30, 120.58)
    assert r.latency_ms == pytest.approx(derived_latency_ms(km) + 0.1)
    assert r.rtt_ms == pytest.approx(2 * r.latency_ms)
    assert r.jitter_us is None and not r.deterministic  # the direct OTN hop has no jitter bound


def test_deterministic_path_minimises_summed_jitter(mini_graph):
    r = mini_graph.deterministic_path("Nanjing", "sz-hub")
    assert r.nodes == ("Nanjing", "Wuxi", "Suzhou", "sz-hub")
    assert [h.kind for h in r.hops] == ["ceni"] * 3
    assert r.jitter_us == pytest.approx(2 + 3 + 1.0)  # stated 2 and 3 µs, metro floor 1 µs
    assert r.meets_jitter(6.0) and not r.meets_jitter(5.9)
    assert r.bottleneck_gbps == 50


def test_no_deterministic_path_without_ceni(mini_graph):
    assert mini_graph.deterministic_path("Nanjing", "xz-city") is None


def test_rtt_to_far_site_sums_hops(mini_graph):
    r = mini_graph.path("Nanjing", "xz-city")
    assert r.nodes == ("Nanjing", "Suzhou", "Xuzhou", "xz-city")
    assert r.bottleneck_gbps == 200
    assert r.rtt_ms == pytest.approx(2 * sum(h.latency_ms for h in r.hops))


def test_reach_sets(mini_graph):
    near = mini_graph.reach("Nanjing", 0.2)
    assert [s for s, _ in near] == ["nj-hub"]
    rtt_sz = mini_graph.rtt_ms("Nanjing", "sz-hub")
    mid = mini_graph.reach("Nanjing", rtt_sz)
    assert [s for s, _ in mid] == ["nj-hub", "sz-hub"]
    assert [s for s, _ in mini_graph.reach("Nanjing", 100)] == ["nj-hub", "sz-hub", "xz-city"]


def test_reach_requires_city(mini_graph):
    with pytest.raises(InputError, match="not a city"):
        mini_graph.reach("nj-hub", 5)
    with pytest.raises(InputError, match="did you mean"):
        mini_graph.reach("Nanjin", 5)


def test_builtin_rtt_nanjing_xuzhou(jiangsu_graph):
    # direct OTN Nanjing–Xuzhou 2.2049 ms + metro 0.1 ms, both ways
    assert jiangsu_graph.rtt_ms("Nanjing", "xz-city") == pytest.approx(2 * (2.2049 + 0.1), abs=1e-3)


def test_builtin_deterministic_xuzhou_to_suzhou(jiangsu_graph):
    r = jiangsu_graph.deterministic_path("Xuzhou", "sz-hub")
    assert r is not None and r.deterministic
    assert r.nodes == ("Xuzhou", "Huai'an", "Nanjing", "Suzhou", "sz-hub")
    assert r.jitter_us == pytest.approx(sum(h.jitter_us for h in r.hops))
    assert jiangsu_graph.deterministic_path("Lianyungang", "lyg-city") is None


def test_metro_latency_within_city_ring(jiangsu, jiangsu_graph):
    for s in jiangsu.sites:
        assert jiangsu_graph.rtt_ms(s.city, s.id) <= 1.0, s.id


def test_tariff_bands(jiangsu):
    tariff = jiangsu.grid_zones["jiangsu"].tariff
    assert tariff.price_cny_per_kwh(datetime(2026, 4, 1, 3)) == 0.372
    assert tariff.price_cny_per_kwh(datetime(2026, 4, 1, 10, 30)) == 1.021
    assert tariff.price_cny_per_kwh(datetime(2026, 7, 1, 10, 30)) == 1.185
    assert tariff.price_cny_per_kwh(datetime(2026, 7, 1, 14, 5)) == 1.185
    assert tariff.price_cny_per_kwh(datetime(2026, 4, 1, 14, 5)) == 0.697
    assert tariff.period_at(datetime(2026, 1, 5, 10)) == "critical-peak"
