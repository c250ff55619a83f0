"""Load topology files: the contract of :mod:`.contract`, then what it cannot say alone.

A bad file is rejected with every fault at once: unknown accelerator, city, site or grid zone;
duplicate ids; sizes out of range; PUE below 1; links to unknown endpoints; sites that no path
reaches; malformed YAML with its line; a zone's ``carbon_series`` file that cannot be read or holds
a value out of range. A zone's ``carbon_forecast`` file is only placed (a relative path from the
topology's folder): its feed rewrites it, and plans read it when they are made
(:mod:`suanwang.collectors.carbon_feed`). The built-in topology is ``jiangsu``.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx

from suanwang.contract import Refs, validate
from suanwang.errors import InputError
from suanwang.topology.contract import KubeSpec, MetroSpec, SiteSpec, TopologyFile
from suanwang.topology.model import (
    Accelerator,
    AcceleratorModel,
    CarbonFeed,
    City,
    CityName,
    GridZone,
    KubeTarget,
    Link,
    Metro,
    Pool,
    Site,
    SiteId,
    Tariff,
    TariffPeriod,
    Topology,
    ZoneId,
)
from suanwang.topology.series import carbon_year
from suanwang.yamldoc import Checked, join, read_document

BUILTIN = "jiangsu"


def builtin_path(name: str = BUILTIN) -> Path:
    """Path of a topology shipped inside the package."""
    return Path(str(resources.files("suanwang.topology") / "data" / f"{name}.yaml"))


def load_topology(source: str | Path | None = None, text: str | None = None, *, files: bool = True) -> Topology:
    """Load a topology file; ``None`` or ``"jiangsu"`` gives the built-in one. With ``files``
    off (a topology in a request) a zone may name no file on the server."""
    if source is None or (text is None and str(source) == BUILTIN):
        source = builtin_path()
    doc = read_document(source, text)
    topo = _parse(doc, files)
    doc.raise_if_faulty("topology")
    assert topo is not None
    return topo


def _beside(doc: Checked, path: str) -> Path:
    """``path`` as an absolute path, a relative one taken from the topology file's folder."""
    full = Path(path).expanduser()
    if not full.is_absolute():
        here = Path(doc.file)
        full = (here.parent if here.is_file() else Path.cwd()) / full
    return full.resolve()


def _with_series(doc: Checked, zone: GridZone, path: str, column: str) -> GridZone:
    """The zone with its hourly carbon year read from ``path`` (relative to the topology file)."""
    full = _beside(doc, path)
    try:
        values = carbon_year(full, column)
    except InputError as e:
        doc.fault(f"grid_zones.{zone.id}.carbon_series.path", e.summary, "give an hourly year CSV of g CO₂/kWh", path)
        return zone
    return replace(zone, carbon_year_kg_per_kwh=values, carbon_series=(str(full), column))


def _parse(doc: Checked, files: bool = True) -> Topology | None:
    raw = doc.data if isinstance(doc.data, dict) else {}
    context = _refs(raw)
    spec = validate(TopologyFile, doc, doc.data, context)
    _duplicate_ids(doc, raw)
    if spec is None or doc.faults:
        return None
    accelerators = {
        AcceleratorModel(m): Accelerator(AcceleratorModel(m), a.fp16_tflops, a.memory_gb, a.power_w, a.resource)
        for m, a in spec.accelerators.items()
    }
    cities = {CityName(n): City(CityName(n), c.lat, c.lon) for n, c in spec.cities.items()}
    zones = {
        ZoneId(z): GridZone(
            ZoneId(z),
            g.carbon_kg_per_kwh,
            Tariff(
                tuple(
                    TariffPeriod(b.name or f"band{i}", b.start_hour, b.end_hour, b.cny_per_kwh, tuple(b.months))
                    for i, b in enumerate(g.tariff)
                )
            ),
            tuple(g.carbon_hourly_kg_per_kwh or ()),
        )
        for z, g in spec.grid_zones.items()
    }
    for z, g in spec.grid_zones.items():
        named_files = (
            ("carbon_series", g.carbon_series), ("carbon_forecast", g.carbon_forecast),
            ("carbon_measured", g.carbon_measured),
        )  # fmt: skip
        for key, named in named_files:
            if named is not None and not files:
                doc.fault(f"grid_zones.{z}.{key}", "names a file on the server",
                          f"leave {key} out of a topology sent in a request", named.path)  # fmt: skip
        if not files:
            continue
        if g.carbon_series is not None:
            zones[ZoneId(z)] = _with_series(doc, zones[ZoneId(z)], g.carbon_series.path, g.carbon_series.column)
        for key, fc in (("carbon_feed", g.carbon_forecast), ("carbon_measured", g.carbon_measured)):
            if fc is not None:  # read when plans are made and accounts accrue: a feed rewrites it
                feed = CarbonFeed(str(_beside(doc, fc.path)), fc.column, float(fc.max_age_h))
                zones[ZoneId(z)] = replace(zones[ZoneId(z)], **{key: feed})
    sites = [_site(s) for s in spec.sites]
    links = [Link(k.from_, k.to, k.kind, k.bandwidth_gbps, k.latency_ms, k.jitter_us) for k in spec.links]
    _reachability(doc, cities, sites, [(k.a, k.b) for k in links])
    if doc.faults:
        return None
    name = spec.name or Path(doc.file).stem
    return Topology(name, accelerators, cities, zones, tuple(sites), tuple(links), doc.file)


def _refs(raw: dict[str, Any]) -> Refs:
    """What the document's references may name, read from the document itself."""

    def keys(section: str) -> list[str]:
        value = raw.get(section)
        return [str(k) for k in value] if isinstance(value, dict) else []

    sites = raw.get("sites") if isinstance(raw.get("sites"), list) else []
    site_ids = [str(s["id"]) for s in sites if isinstance(s, dict) and s.get("id") is not None]
    return Refs(
        accelerators=keys("accelerators"),
        cities=keys("cities"),
        zones=keys("grid_zones"),
        endpoints=keys("cities") + site_ids,
    )


def topology_refs(topology: Topology) -> Refs:
    """What a site or link added to ``topology`` may name."""
    return Refs(
        accelerators=list(topology.accelerators),
        cities=list(topology.cities),
        zones=list(topology.grid_zones),
        endpoints=list(topology.cities) + [s.id for s in topology.sites],
    )


def _duplicate_ids(doc: Checked, raw: dict[str, Any]) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(raw.get("sites") if isinstance(raw.get("sites"), list) else []):
        sid = s.get("id") if isinstance(s, dict) else None
        if sid is None:
            continue
        if str(sid) in seen:
            doc.fault(
                join(join("sites", i), "id"),
                f"duplicate site id (also sites[{seen[str(sid)]}])",
                "give each site a unique id",
                sid,
            )
        seen.setdefault(str(sid), i)


def _site(s: SiteSpec) -> Site:
    kube = s.kube or KubeSpec()
    metro = s.metro or MetroSpec()
    return Site(
        SiteId(s.id),
        CityName(s.city),
        s.tier,
        s.pue,
        s.power_cap_kw,
        ZoneId(s.grid_zone),
        s.green_share,
        tuple(Pool(AcceleratorModel(p.accelerator), p.nodes, p.per_node) for p in s.pools),
        KubeTarget(
            kube.context or s.id,
            kube.namespace,
            kube.queue,
            None if kube.scheduler in (None, "default-scheduler") else kube.scheduler,
            kube.backend,
            kube.cluster,
        ),
        Metro(metro.kind, metro.bandwidth_gbps, metro.latency_ms, metro.jitter_us),
        s.lat,
        s.lon,
    )


def _reachability(doc: Checked, cities: dict, sites: list[Site], ends: list[tuple[str, str]]) -> None:
    """Every site must be reachable from the part of the network that holds most sites."""
    g = nx.Graph()
    g.add_nodes_from(cities)
    for s in sites:
        g.add_edge(s.id, s.city)
    g.add_edges_from(ends)
    components = sorted(nx.connected_components(g), key=lambda c: -sum(1 for s in sites if s.id in c))
    if len(components) <= 1:
        return
    main = components[0]
    index = {sid: i for i, sid in enumerate(_ids(doc))}
    for s in sites:
        if s.id not in main:
            doc.fault(
                join(join("sites", index.get(s.id, 0)), "city"),
                "no path reaches this site from the rest of the network",
                f"add a link from {s.city} (or from {s.id}) to a connected city under `links:`",
                s.city,
            )


def _ids(doc: Checked) -> list[str | None]:
    raw = doc.data.get("sites") if isinstance(doc.data, dict) else None
    return [e.get("id") if isinstance(e, dict) else None for e in raw] if isinstance(raw, list) else []
