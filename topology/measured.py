"""Measurements applied to a topology: link latency and jitter (blackbox probes between cities),
and grid zones' measured hourly carbon intensity (their ``carbon_measured`` feeds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from suanwang.topology.model import Topology

HOURS_OF_A_YEAR = 8784  # a leap year's: a zone without a year series gets one of its own profile this long


def with_measured_carbon(topology: Topology, measured: Mapping[str, Mapping[datetime, float]]) -> Topology:
    """A copy whose zones take their measured hours (hour start, UTC+8 → kg CO₂/kWh) in place of
    their year series' (or of their annual factor or 24-hour profile): the accounts accrue at them,
    and plans forecast from them."""
    if not any(measured.values()):
        return topology
    zones = dict(topology.grid_zones)
    for zid, hours in measured.items():
        zone = zones.get(zid)
        if zone is None or not hours:
            continue
        year = list(zone.carbon_year_kg_per_kwh)
        if not year:  # the zone's own profile, hour by hour from 1 January of a leap year
            origin = datetime(2024, 1, 1)
            year = [zone.carbon_at(origin + timedelta(hours=h)) for h in range(HOURS_OF_A_YEAR)]
        for t, v in hours.items():
            year[int((t - datetime(t.year, 1, 1)).total_seconds() // 3600) % len(year)] = v
        zones[zid] = replace(zone, carbon_year_kg_per_kwh=tuple(year))
    return replace(topology, grid_zones=zones)


def with_measured_links(topology: Topology, links: dict[tuple[str, str], tuple[float, float | None]]) -> Topology:
    """A copy whose links between two measured cities take the measured one-way latency (RTT / 2)
    and, where measured, jitter. Both directions of a pair are read; their mean is used.

    A CENI link keeps its jitter: its bound comes from resource reservation on a fixed route
    (RFC 8655), which ICMP probes over the shared network do not measure."""
    if not links:
        return topology
    merged: dict[frozenset, list[tuple[float, float | None]]] = {}
    for (a, b), m in links.items():
        merged.setdefault(frozenset((a, b)), []).append(m)
    out = []
    for lk in topology.links:
        ms = merged.get(frozenset((lk.a, lk.b)))
        if not ms:
            out.append(lk)
            continue
        rtt = sum(m[0] for m in ms) / len(ms)
        jit = [m[1] for m in ms if m[1] is not None]
        measured = sum(jit) / len(jit) if jit else None
        jitter = lk.jitter_us if lk.kind == "ceni" or measured is None else measured
        out.append(replace(lk, latency_ms=rtt / 2.0, jitter_us=jitter))
    return replace(topology, links=tuple(out))
