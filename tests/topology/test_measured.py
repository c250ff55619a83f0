"""Measured link RTT and jitter replace the derived figures of the links they measure."""

from __future__ import annotations

import pytest

from suanwang.topology.graph import NetworkGraph
from suanwang.topology.measured import with_measured_links


def test_measured_latency_and_jitter_override(jiangsu):
    before = NetworkGraph(jiangsu).path("Nanjing", "sz-hub")
    measured = with_measured_links(jiangsu, {("Nanjing", "Suzhou"): (9.0, 50.0), ("Suzhou", "Nanjing"): (11.0, None)})
    links = [lk for lk in measured.links if {lk.a, lk.b} == {"Nanjing", "Suzhou"}]
    assert links and all(lk.latency_ms == pytest.approx(5.0) for lk in links)  # mean RTT 10 ms → 5 ms one-way
    assert all(lk.jitter_us == 50.0 for lk in links if lk.kind != "ceni")
    original = {(lk.a, lk.b, lk.kind): lk.jitter_us for lk in jiangsu.links}
    assert all(lk.jitter_us == original[(lk.a, lk.b, lk.kind)] for lk in links if lk.kind == "ceni")  # reserved
    after = NetworkGraph(measured).path("Nanjing", "sz-hub")
    assert after.rtt_ms > before.rtt_ms  # the slower measured link is now avoided or paid for
    assert jiangsu.links != measured.links  # the input is not changed
    assert with_measured_links(jiangsu, {}) is jiangsu
