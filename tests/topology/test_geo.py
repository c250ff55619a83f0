"""Derived latency model against hand-computed figures (BRIEF: 4.9 µs/km, route ×1.5, 0.1 ms/hop)."""

from __future__ import annotations

import pytest

from suanwang.topology.geo import derived_ceni_jitter_us, derived_latency_ms, great_circle_km

NANJING = (32.07, 118.78)
SUZHOU = (31.30, 120.58)
XUZHOU = (34.27, 117.18)


def test_great_circle_matches_brief():
    assert great_circle_km(*NANJING, *XUZHOU) == pytest.approx(286, abs=1)
    assert great_circle_km(*SUZHOU, *XUZHOU) == pytest.approx(458, abs=1)


def test_nanjing_xuzhou_latency_hand_computed():
    # 286.38 km × 1.5 = 429.57 km; × 4.9 µs/km = 2104.9 µs; + 100 µs one hop = 2.2049 ms one-way
    km = great_circle_km(*NANJING, *XUZHOU)
    assert derived_latency_ms(km) == pytest.approx(2.2049, abs=5e-4)


def test_suzhou_xuzhou_latency_hand_computed():
    # 458.29 km × 1.5 = 687.43 km; × 4.9 µs/km = 3368.4 µs; + 100 µs = 3.4684 ms one-way, 6.94 ms RTT
    km = great_circle_km(*SUZHOU, *XUZHOU)
    assert derived_latency_ms(km) == pytest.approx(3.4684, abs=5e-4)
    assert 2 * derived_latency_ms(km) > 5.0  # outside the 5 ms regional ring read as RTT


def test_ceni_jitter_rate():
    # CENI: 30 µs over 5000 km → 286.38 × 1.5 × 0.006 = 2.58 µs
    assert derived_ceni_jitter_us(286.38) == pytest.approx(2.577, abs=0.01)
    assert derived_ceni_jitter_us(0.0) == 1.0  # floor per hop
