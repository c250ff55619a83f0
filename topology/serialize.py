"""Topology to plain data (the file contract) and back to YAML text: the loader's inverse."""

from __future__ import annotations

from typing import Any

import yaml

from suanwang.topology.model import Metro, Site, Topology


def _site(s: Site) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "city": s.city,
        "tier": s.tier,
        "pue": s.pue,
        "power_cap_kw": s.power_cap_kw,
        "grid_zone": s.grid_zone,
        "green_share": s.green_share,
        "pools": [{"accelerator": p.accelerator, "nodes": p.nodes, "per_node": p.per_node} for p in s.pools],
        "kube": {
            "context": s.kube.context,
            "namespace": s.kube.namespace,
            **({"queue": s.kube.queue} if s.kube.queue else {}),
            **({"scheduler": s.kube.scheduler} if s.kube.scheduler else {}),
            **({"backend": s.kube.backend} if s.kube.backend != "direct" else {}),
            **({"cluster": s.kube.cluster} if s.kube.cluster else {}),
        },
    }
    if s.metro != Metro():
        m = {"kind": s.metro.kind, "bandwidth_gbps": s.metro.bandwidth_gbps}
        if s.metro.latency_ms is not None:
            m["latency_ms"] = s.metro.latency_ms
        if s.metro.jitter_us is not None:
            m["jitter_us"] = s.metro.jitter_us
        out["metro"] = m
    if s.lat is not None:
        out["lat"] = s.lat
    if s.lon is not None:
        out["lon"] = s.lon
    return out


def topology_to_dict(t: Topology) -> dict[str, Any]:
    """The topology as the YAML contract's plain data."""
    zones: dict[str, Any] = {}
    for z in t.grid_zones.values():
        bands = []
        for p in z.tariff.periods:
            band: dict[str, Any] = {
                "name": p.name,
                "start_hour": p.start_hour,
                "end_hour": p.end_hour,
                "cny_per_kwh": p.cny_per_kwh,
            }
            if p.months:
                band["months"] = list(p.months)
            bands.append(band)
        zone: dict[str, Any] = {"carbon_kg_per_kwh": z.carbon_kg_per_kwh, "tariff": bands}
        if z.carbon_hourly_kg_per_kwh:
            zone["carbon_hourly_kg_per_kwh"] = list(z.carbon_hourly_kg_per_kwh)
        if z.carbon_series is not None:
            zone["carbon_series"] = {"path": z.carbon_series[0], "column": z.carbon_series[1]}
        for key, f in (("carbon_forecast", z.carbon_feed), ("carbon_measured", z.carbon_measured)):
            if f is not None:
                zone[key] = {"path": f.path, "column": f.column, "max_age_h": f.max_age_h}
        zones[z.id] = zone
    links = []
    for lk in t.links:
        d: dict[str, Any] = {"from": lk.a, "to": lk.b, "kind": lk.kind, "bandwidth_gbps": lk.bandwidth_gbps}
        if lk.latency_ms is not None:
            d["latency_ms"] = lk.latency_ms
        if lk.jitter_us is not None:
            d["jitter_us"] = lk.jitter_us
        links.append(d)
    return {
        "name": t.name,
        "accelerators": {
            a.model: {
                "fp16_tflops": a.fp16_tflops,
                "memory_gb": a.memory_gb,
                "power_w": a.power_w,
                "resource": a.resource,
            }
            for a in t.accelerators.values()
        },
        "cities": {c.name: {"lat": c.lat, "lon": c.lon} for c in t.cities.values()},
        "grid_zones": zones,
        "sites": [_site(s) for s in t.sites],
        "links": links,
    }


def topology_to_yaml(t: Topology) -> str:
    return yaml.safe_dump(topology_to_dict(t), sort_keys=False, allow_unicode=True)
