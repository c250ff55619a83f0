"""Measured link latency and jitter (blackbox probes between cities) applied to a topology."""

from __future__ import annotations

from dataclasses import replace

from suanwang.topology.model import Topology


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
