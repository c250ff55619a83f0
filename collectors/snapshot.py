"""A collected state snapshot (its file format, and the typed :class:`State` the planner gets
from it, are owned by :mod:`suanwang.collectors.statefile`).

Per site and pool: free cards per node (node-granular), utilisation, unhealthy nodes; per site:
power draw at PUE, when it was observed, whether it is stale (kept from an earlier collection),
its age and the cause, and whether planning may use it. Measured link RTT and jitter between
cities; series that matched nothing in the topology; anomalies (NaN, missing labels, duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass
class PoolSnapshot:
    free_per_node: dict[str, int] = field(default_factory=dict)
    utilisation: float | None = None  # 0–1, mean over the pool's cards
    unhealthy: list[str] = field(default_factory=list)
    memory_used_gb: float | None = None  # accelerator memory in use over the pool


@dataclass
class SiteSnapshot:
    pools: dict[str, PoolSnapshot] = field(default_factory=dict)
    power_draw_kw: float = 0.0  # cards' board power × PUE
    utilisation: float | None = None
    observed_at: datetime | None = None
    stale: bool = False
    age_s: float = 0.0
    cause: str | None = None
    usable: bool = True


@dataclass(frozen=True)
class LinkMeasure:
    a: str
    b: str
    rtt_ms: float
    jitter_us: float | None
    samples: int
    observed_at: datetime | None = None


@dataclass
class Snapshot:
    observed_at: datetime
    max_stale_s: float
    sites: dict[str, SiteSnapshot] = field(default_factory=dict)
    links: list[LinkMeasure] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)

    def keep_stale(self, sites: list[str], previous: Snapshot | None, cause: str) -> None:
        """Carry the sites' last-known values over, marked stale with age and cause."""
        missing = []
        for sid in sites:
            old = previous.sites.get(sid) if previous else None
            if old is None or old.observed_at is None:
                missing.append(sid)
                continue
            age = (self.observed_at - old.observed_at).total_seconds()
            self.sites[sid] = replace(old, stale=True, age_s=age, cause=cause, usable=age <= self.max_stale_s)
        if missing:
            self.anomalies.append(f"no data, now or from before, for {', '.join(missing)}: {cause}")
