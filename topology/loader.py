"""Load and validate topology files (the BRIEF's topology contract).

A bad file is rejected with every fault at once: unknown accelerator, city, site or grid zone;
duplicate ids; zero or negative sizes; PUE below 1; links to unknown endpoints; sites that no
path reaches; malformed YAML with its line. The built-in topology is ``jiangsu``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx

from suanwang.topology.model import (
    LINK_KINDS,
    TIERS,
    Accelerator,
    AcceleratorModel,
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
from suanwang.yamldoc import Checked, join, read_document

BUILTIN = "jiangsu"
_TOP_KEYS = ("name", "accelerators", "cities", "grid_zones", "sites", "links")


def builtin_path(name: str = BUILTIN) -> Path:
    """Path of a topology shipped inside the package."""
    return Path(str(resources.files("suanwang.topology") / "data" / f"{name}.yaml"))


def load_topology(source: str | Path | None = None, text: str | None = None) -> Topology:
    """Load a topology file; ``None`` or ``"jiangsu"`` gives the built-in one."""
    if source is None or (text is None and str(source) == BUILTIN):
        source = builtin_path()
    doc = read_document(source, text)
    topo = _parse(doc)
    doc.raise_if_faulty("topology")
    assert topo is not None
    return topo


def _parse(doc: Checked) -> Topology | None:
    root = doc.mapping(doc.data, "")
    doc.keys(root, "", _TOP_KEYS)
    accelerators = _accelerators(doc, root.get("accelerators"))
    cities = _cities(doc, root.get("cities"))
    zones = _zones(doc, root.get("grid_zones"))
    sites = _sites(doc, root.get("sites"), accelerators, cities, zones)
    links, ends = _links(doc, root.get("links"), cities, sites)
    _reachability(doc, cities, sites, ends)
    if doc.faults:
        return None
    name = str(root.get("name") or Path(doc.file).stem)
    return Topology(name, accelerators, cities, zones, tuple(sites), tuple(links), doc.file)


def _accelerators(doc: Checked, raw: Any) -> dict[AcceleratorModel, Accelerator]:
    out: dict[AcceleratorModel, Accelerator] = {}
    for model, spec, p in doc.entries(raw, "accelerators", ("fp16_tflops", "memory_gb", "power_w", "resource")):
        tflops = doc.number(spec, "fp16_tflops", p, positive=True, unit="TFLOPS")
        mem = doc.number(spec, "memory_gb", p, positive=True, unit="GB")
        power = doc.number(spec, "power_w", p, positive=True, unit="W")
        resource = doc.string(spec, "resource", p)
        if None not in (tflops, mem, power, resource):
            out[AcceleratorModel(model)] = Accelerator(AcceleratorModel(model), tflops, mem, power, resource)
    if not out and not doc.faults:
        doc.fault("accelerators", "no accelerator models defined", "list at least one model under `accelerators:`")
    return out


def _cities(doc: Checked, raw: Any) -> dict[CityName, City]:
    out: dict[CityName, City] = {}
    for name, spec, p in doc.entries(raw, "cities", ("lat", "lon")):
        lat = doc.number(spec, "lat", p, minimum=-90, maximum=90, unit="degrees")
        lon = doc.number(spec, "lon", p, minimum=-180, maximum=180, unit="degrees")
        if lat is not None and lon is not None:
            out[CityName(name)] = City(CityName(name), lat, lon)
    return out


def _zones(doc: Checked, raw: Any) -> dict[ZoneId, GridZone]:
    out: dict[ZoneId, GridZone] = {}
    for zid, spec, p in doc.entries(raw, "grid_zones", ("carbon_kg_per_kwh", "carbon_hourly_kg_per_kwh", "tariff")):
        carbon = doc.number(spec, "carbon_kg_per_kwh", p, minimum=0, unit="kg CO2/kWh")
        hourly = tuple(_hourly(doc, spec.get("carbon_hourly_kg_per_kwh"), join(p, "carbon_hourly_kg_per_kwh")))
        tariff = _tariff(doc, spec.get("tariff"), join(p, "tariff"))
        if carbon is not None and tariff is not None:
            out[ZoneId(zid)] = GridZone(ZoneId(zid), carbon, tariff, hourly)
    return out


def _hourly(doc: Checked, raw: Any, path: str) -> list[float]:
    values = doc.sequence(raw, path, required=False)
    if values and len(values) != 24:
        doc.fault(path, "must list 24 hourly values", "give one value per hour 0–23", len(values))
        return []
    ok = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0]
    if len(ok) != len(values):
        doc.fault(path, "hourly values must be non-negative numbers", "fix the non-numeric entries")
        return []
    return [float(v) for v in ok]


def _tariff(doc: Checked, raw: Any, path: str) -> Tariff | None:
    periods: list[TariffPeriod] = []
    for i, spec in enumerate(doc.sequence(raw, path)):
        p = join(path, i)
        spec = doc.mapping(spec, p)
        doc.keys(spec, p, ("name", "start_hour", "end_hour", "cny_per_kwh", "months"))
        name = doc.string(spec, "name", p, default=f"band{i}")
        start = doc.number(spec, "start_hour", p, integer=True, minimum=0, maximum=23)
        end = doc.number(spec, "end_hour", p, integer=True, minimum=1, maximum=24)
        price = doc.number(spec, "cny_per_kwh", p, minimum=0, unit="CNY/kWh")
        months = doc.sequence(spec.get("months"), join(p, "months"), required=False)
        if any(not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 12 for m in months):
            doc.fault(join(p, "months"), "months must be numbers 1–12", "list months as 1–12", months)
            months = []
        if None in (start, end, price):
            continue
        if end <= start:
            doc.fault(join(p, "end_hour"), "must be after start_hour", "give end_hour > start_hour", end)
            continue
        periods.append(TariffPeriod(name or f"band{i}", start, end, price, tuple(months)))
    base_hours = [h for per in periods if not per.months for h in range(per.start_hour, per.end_hour)]
    if periods and sorted(base_hours) != list(range(24)):
        missing = sorted(set(range(24)) - set(base_hours))
        doubled = sorted({h for h in base_hours if base_hours.count(h) > 1})
        doc.fault(
            path,
            "all-year bands must cover each hour 0–23 exactly once",
            f"adjust the bands (missing hours {missing}, overlapping hours {doubled})",
        )
        return None
    return Tariff(tuple(periods)) if periods else None


def _sites(doc: Checked, raw: Any, accelerators: dict, cities: dict, zones: dict) -> list[Site]:
    out: list[Site] = []
    seen: dict[str, int] = {}
    site_keys = (
        "id",
        "city",
        "tier",
        "pue",
        "power_cap_kw",
        "grid_zone",
        "green_share",
        "pools",
        "kube",
        "metro",
        "lat",
        "lon",
    )
    for i, spec in enumerate(doc.sequence(raw, "sites")):
        p = join("sites", i)
        spec = doc.mapping(spec, p)
        doc.keys(spec, p, site_keys)
        sid = doc.string(spec, "id", p)
        if sid is not None:
            if sid in seen:
                doc.fault(
                    join(p, "id"), f"duplicate site id (also sites[{seen[sid]}])", "give each site a unique id", sid
                )
            elif sid in cities:
                doc.fault(
                    join(p, "id"), "site id equals a city name", "rename the site (e.g. add -hub, -city or -edge)", sid
                )
            seen.setdefault(sid, i)
        city = doc.string(spec, "city", p)
        if city is not None and city not in cities:
            doc.fault(
                join(p, "city"),
                "unknown city",
                f"use one of the cities defined under `cities:` ({', '.join(cities)})",
                city,
            )
        tier = doc.string(spec, "tier", p, choices=TIERS)
        pue = doc.number(spec, "pue", p, minimum=1.0)
        cap = doc.number(spec, "power_cap_kw", p, positive=True, unit="kW")
        zone = doc.string(spec, "grid_zone", p)
        if zone is not None and zone not in zones:
            doc.fault(
                join(p, "grid_zone"),
                "unknown grid zone",
                f"use one of: {', '.join(zones) or '(define grid_zones first)'}",
                zone,
            )
        green = doc.number(spec, "green_share", p, default=0.0, minimum=0.0, maximum=1.0)
        lat = doc.number(spec, "lat", p, default=None, minimum=-90, maximum=90)
        lon = doc.number(spec, "lon", p, default=None, minimum=-180, maximum=180)
        pools = _pools(doc, spec.get("pools"), join(p, "pools"), accelerators)
        kube = _kube(doc, spec.get("kube"), join(p, "kube"), sid or "")
        metro = _metro(doc, spec.get("metro"), join(p, "metro"))
        if None in (sid, city, tier, pue, cap, zone, green, kube, metro) or pools is None:
            continue
        out.append(Site(SiteId(sid), CityName(city), tier, pue, cap, ZoneId(zone), green, pools, kube, metro, lat, lon))
    return out


def _pools(doc: Checked, raw: Any, path: str, accelerators: dict) -> tuple[Pool, ...] | None:
    items = doc.sequence(raw, path)
    if not items and isinstance(raw, list):
        doc.fault(path, "a site needs at least one pool", "add `- {accelerator: ..., nodes: N, per_node: K}`")
        return None
    pools: list[Pool] = []
    ok = True
    for j, spec in enumerate(items):
        p = join(path, j)
        spec = doc.mapping(spec, p)
        doc.keys(spec, p, ("accelerator", "nodes", "per_node"))
        model = doc.string(spec, "accelerator", p)
        if model is not None and model not in accelerators:
            doc.fault(
                join(p, "accelerator"),
                "unknown accelerator",
                f"use a model listed under `accelerators:` ({', '.join(accelerators)})",
                model,
            )
            model = None
        nodes = doc.number(spec, "nodes", p, positive=True, integer=True)
        per_node = doc.number(spec, "per_node", p, positive=True, integer=True)
        if None in (model, nodes, per_node):
            ok = False
            continue
        pools.append(Pool(AcceleratorModel(model), nodes, per_node))
    return tuple(pools) if ok and pools else None


def _kube(doc: Checked, raw: Any, path: str, sid: str) -> KubeTarget | None:
    spec = doc.mapping(raw, path, required=False)
    doc.keys(spec, path, ("context", "namespace", "queue", "scheduler"))
    context = doc.string(spec, "context", path, default=sid)
    namespace = doc.string(spec, "namespace", path, default="suanwang")
    queue = doc.string(spec, "queue", path, default=None)
    scheduler = doc.string(spec, "scheduler", path, default=None, choices=("volcano", "default-scheduler"))
    if context is None or namespace is None:
        return None
    return KubeTarget(context, namespace, queue, None if scheduler == "default-scheduler" else scheduler)


def _metro(doc: Checked, raw: Any, path: str) -> Metro | None:
    spec = doc.mapping(raw, path, required=False)
    doc.keys(spec, path, ("kind", "bandwidth_gbps", "latency_ms", "jitter_us"))
    default = Metro()
    kind = doc.string(spec, "kind", path, default=default.kind, choices=LINK_KINDS)
    bw = doc.number(spec, "bandwidth_gbps", path, default=default.bandwidth_gbps, positive=True)
    lat = doc.number(spec, "latency_ms", path, default=None, positive=True)
    jit = doc.number(spec, "jitter_us", path, default=None, minimum=0)
    if kind is None or bw is None:
        return None
    return Metro(kind, bw, lat, jit)


def _links(doc: Checked, raw: Any, cities: dict, sites: list[Site]) -> tuple[list[Link], list[tuple[str, str]]]:
    """Links that parsed, and the endpoint pairs of every link whose two ends are known."""
    site_ids = {s.id for s in sites}
    out: list[Link] = []
    ends_known: list[tuple[str, str]] = []
    for i, spec in enumerate(doc.sequence(raw, "links", required=False)):
        p = join("links", i)
        spec = doc.mapping(spec, p)
        doc.keys(spec, p, ("from", "to", "kind", "bandwidth_gbps", "latency_ms", "jitter_us"))
        ends = [doc.string(spec, k, p) for k in ("from", "to")]
        for k, end in zip(("from", "to"), ends, strict=True):
            if end is not None and end not in cities and end not in site_ids:
                doc.fault(
                    join(p, k), "unknown endpoint", "name a city under `cities:` or a site id under `sites:`", end
                )
        if all(e in cities or e in site_ids for e in ends):
            ends_known.append((ends[0], ends[1]))
        if ends[0] is not None and ends[0] == ends[1]:
            doc.fault(
                join(p, "to"), "a link cannot join an endpoint to itself", "name two different endpoints", ends[1]
            )
        kind = doc.string(spec, "kind", p, choices=LINK_KINDS)
        bw = doc.number(spec, "bandwidth_gbps", p, positive=True, unit="Gbit/s")
        lat = doc.number(spec, "latency_ms", p, default=None, positive=True, unit="ms one-way")
        jit = doc.number(spec, "jitter_us", p, default=None, minimum=0, unit="µs")
        if None in (ends[0], ends[1], kind, bw):
            continue
        out.append(Link(ends[0], ends[1], kind, bw, lat, jit))
    return out, ends_known


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
