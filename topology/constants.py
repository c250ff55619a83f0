"""Physical and policy constants of the network model, each with its source.

All latency-model constants live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Mean Earth radius for great-circle distances (IUGG mean radius R1 = 6371.0088 km).
EARTH_RADIUS_KM = 6371.0088

# Light in standard single-mode fibre (group index ≈ 1.468) travels ≈ 204,000 km/s,
# i.e. ≈ 4.9 µs per km one-way (physics; ITU-T G.652 fibre).
FIBRE_US_PER_KM = 4.9

# Fibre routes run ≈ 1.5 × the great-circle distance; MIIT's 2023 computing-infrastructure plan
# asks that direct links stay within 1.5 × the theoretical latency.
ROUTE_FACTOR = 1.5

# Equipment delay per hop (one electrical regeneration / OTN switching point) ≈ 100 µs one-way
# (typical OTN/ROADM regeneration; BRIEF "fibre propagation").
HOP_DELAY_MS = 0.100

# A site attaches to its city's aggregation point through one metro hop (same equipment delay);
# its distance from the city centre adds fibre delay. The national 1 ms city ring bounds it.
METRO_HOP_DELAY_MS = HOP_DELAY_MS

# Default metro attachment bandwidth when a site gives none: 4 × 100G wavelengths
# (planning assumption; Jiangsu's 2025–2027 plan builds 13,500 OTN sites, no per-link figure).
METRO_BANDWIDTH_GBPS = 400.0

# CENI acceptance reports (Dec 2025): ≈ 30 µs of jitter over 5,000 km of deterministic path,
# used to derive the jitter of a CENI link from its route length when a link gives none.
CENI_JITTER_US_PER_KM = 30.0 / 5000.0
# Floor for a CENI hop's jitter (queueing granularity of one deterministic hop), assumption.
CENI_MIN_JITTER_US = 1.0

# Latency rings of the national "East Data West Compute" opinions (NDRC et al., Dec 2023):
# 1 ms within a city, 5 ms within a region, 20 ms between national hubs. Whether the figure is
# one-way or round trip is not stated, so the basis is a parameter (default: round trip).
CITY_RING_MS = 1.0
REGION_RING_MS = 5.0
NATIONAL_RING_MS = 20.0

RingBasis = Literal["rtt", "one_way"]


@dataclass(frozen=True)
class LatencyRings:
    """The three policy latency rings and how they are read (``rtt`` or ``one_way``)."""

    city_ms: float = CITY_RING_MS
    region_ms: float = REGION_RING_MS
    national_ms: float = NATIONAL_RING_MS
    basis: RingBasis = "rtt"

    def measure(self, one_way_ms: float) -> float:
        """The figure to compare with a ring, from a one-way latency."""
        return 2.0 * one_way_ms if self.basis == "rtt" else one_way_ms


DEFAULT_RINGS = LatencyRings()
