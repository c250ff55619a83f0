"""Great-circle distance and the derived link latency and jitter model.

One-way latency of a link with no measured figure::

    latency_ms = great_circle_km × ROUTE_FACTOR × FIBRE_US_PER_KM / 1000 + hops × HOP_DELAY_MS

Round trip is twice the one-way sum along a path. Constants and their sources are in
:mod:`topology.constants`.
"""

from __future__ import annotations

import math

from suanwang.topology.constants import (
    CENI_JITTER_US_PER_KM,
    CENI_MIN_JITTER_US,
    EARTH_RADIUS_KM,
    FIBRE_US_PER_KM,
    HOP_DELAY_MS,
    ROUTE_FACTOR,
)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def route_km(great_circle: float) -> float:
    """Fibre route length for a great-circle distance."""
    return great_circle * ROUTE_FACTOR


def derived_latency_ms(great_circle: float, hops: int = 1, hop_delay_ms: float = HOP_DELAY_MS) -> float:
    """One-way latency in ms of a fibre link: propagation over the route plus equipment delay."""
    return route_km(great_circle) * FIBRE_US_PER_KM / 1000.0 + hops * hop_delay_ms


def derived_ceni_jitter_us(great_circle: float) -> float:
    """Jitter in µs of a CENI deterministic link, proportional to its route length."""
    return max(CENI_MIN_JITTER_US, route_km(great_circle) * CENI_JITTER_US_PER_KM)
