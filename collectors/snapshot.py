"""A collected state snapshot, written in the state-file format that ``suanwang plan --state`` reads.

Per site and pool: free cards per node (node-granular), utilisation, unhealthy nodes; per site:
power draw at PUE, when it was observed, whether it is stale (kept from an earlier collection),
its age and the cause, and whether planning may use it. Measured link RTT and jitter between
cities; series that matched nothing in the topology; anomalies (NaN, missing labels, duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from suanwang.timeutil import parse_time

_OFFSET = "+08:00"


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds") + _OFFSET


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

    def to_dict(self) -> dict[str, Any]:
        sites = {}
        for sid, s in sorted(self.sites.items()):
            sites[sid] = {
                "power_draw_kw": round(s.power_draw_kw, 3),
                "utilisation": None if s.utilisation is None else round(s.utilisation, 4),
                "observed_at": _iso(s.observed_at),
                "stale": s.stale,
                "age_s": round(s.age_s, 1),
                "cause": s.cause,
                "usable": s.usable,
                "pools": {
                    m: {
                        "free_per_node": dict(sorted(p.free_per_node.items())),
                        "utilisation": None if p.utilisation is None else round(p.utilisation, 4),
                        "unhealthy": sorted(p.unhealthy),
                        "memory_used_gb": None if p.memory_used_gb is None else round(p.memory_used_gb, 3),
                    }
                    for m, p in sorted(s.pools.items())
                },
            }
        return {
            "observed_at": _iso(self.observed_at),
            "policy": {"max_stale_s": self.max_stale_s},
            "sites": sites,
            "links": [
                {
                    "from": lk.a,
                    "to": lk.b,
                    "rtt_ms": round(lk.rtt_ms, 4),
                    "jitter_us": None if lk.jitter_us is None else round(lk.jitter_us, 2),
                    "samples": lk.samples,
                    "observed_at": _iso(lk.observed_at),
                }
                for lk in self.links
            ],
            "unmatched": list(self.unmatched),
            "anomalies": list(self.anomalies),
        }


def snapshot_from_dict(d: dict[str, Any]) -> Snapshot:
    """Read back a snapshot written by :meth:`Snapshot.to_dict` (the previous collection)."""
    snap = Snapshot(
        parse_time(d.get("observed_at")) or datetime.min, float((d.get("policy") or {}).get("max_stale_s", 900.0))
    )
    for sid, s in (d.get("sites") or {}).items():
        pools = {
            m: PoolSnapshot(
                {str(k): int(v) for k, v in (p.get("free_per_node") or {}).items()},
                p.get("utilisation"),
                list(p.get("unhealthy") or []),
                p.get("memory_used_gb"),
            )
            for m, p in (s.get("pools") or {}).items()
        }
        snap.sites[sid] = SiteSnapshot(
            pools,
            float(s.get("power_draw_kw") or 0.0),
            s.get("utilisation"),
            parse_time(s.get("observed_at")),
            bool(s.get("stale")),
            float(s.get("age_s") or 0.0),
            s.get("cause"),
            bool(s.get("usable", True)),
        )
    for lk in d.get("links") or []:
        snap.links.append(
            LinkMeasure(
                lk["from"],
                lk["to"],
                float(lk["rtt_ms"]),
                lk.get("jitter_us"),
                int(lk.get("samples", 0)),
                parse_time(lk.get("observed_at")),
            )
        )
    return snap
