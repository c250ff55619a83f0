"""Energy, carbon and electricity cost of what runs, integrated hour by hour.

Each site's carbon factor (its zone's intensity × the share not covered by green supply) and
tariff are tabulated once per simulated hour; a run's interval is split at the hour boundaries
and each piece is charged at that hour's figures. So the hourly carbon series adds up to the
total, and a year-long zone series is applied as it changes during a long job.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from suanwang.topology.hourly import factors_for
from suanwang.topology.model import Topology


class Meter:
    def __init__(self, topology: Topology, start: datetime, end: datetime) -> None:
        self.t0 = start.replace(minute=0, second=0, microsecond=0)
        n = max(1, math.ceil((end - self.t0).total_seconds() / 3600))
        self.hours = [self.t0 + timedelta(hours=h) for h in range(n)]
        zones = {zid: factors_for(z, self.t0).hours_from(self.t0, n) for zid, z in topology.grid_zones.items()}
        self.carbon_kg_per_kwh = {
            s.id: [c * (1.0 - s.green_share) for c in zones[s.grid_zone][1]] for s in topology.sites
        }
        self.cny_per_kwh = {s.id: zones[s.grid_zone][0] for s in topology.sites}
        self.carbon_hour_kg = [0.0] * n
        self.energy_kwh = 0.0
        self.carbon_kg = 0.0
        self.cost_cny = 0.0
        self.energy_by_site_kwh: dict[str, float] = defaultdict(float)
        self.energy_hour_kwh = [0.0] * n

    def _hour(self, t: datetime) -> float:
        return (t - self.t0).total_seconds() / 3600.0

    def add(self, site: str, power_kw: float, start: datetime, end: datetime) -> tuple[float, float, float]:
        """Charge ``power_kw`` drawn at ``site`` from ``start`` to ``end``: (kWh, kg CO₂, CNY)."""
        a, b = self._hour(start), min(self._hour(end), len(self.hours))
        if b <= a or power_kw <= 0:
            return 0.0, 0.0, 0.0
        h0, h1 = int(a), math.ceil(b)
        factor, price = self.carbon_kg_per_kwh[site], self.cny_per_kwh[site]
        energy = power_kw * (b - a)
        carbon = cost = 0.0
        for h in range(h0, h1):
            kwh = power_kw * (min(b, h + 1) - max(a, h))
            c = kwh * factor[h]
            self.carbon_hour_kg[h] += c
            self.energy_hour_kwh[h] += kwh
            carbon += c
            cost += kwh * price[h]
        self.energy_kwh += energy
        self.energy_by_site_kwh[site] += energy
        self.carbon_kg += carbon
        self.cost_cny += cost
        return energy, carbon, cost

    def carbon_by_hour(self) -> dict[datetime, float]:
        return dict(zip(self.hours, self.carbon_hour_kg, strict=True))
