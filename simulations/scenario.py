"""What-if scenarios in YAML: a base topology plus changes, demand, and a policy.

```yaml
name: suqian-plus-512
topology: jiangsu                 # or a topology file
start: 2026-11-25T00:00:00+08:00
hours: 72
seed: 7
demand:
  synthetic: {jobs_per_hour: 30}  # or: pai: {path: ../shared/data/gaia-job-traces/pai-100k.csv, time_scale: 0.05}
  growth: 1.4                     # demand ×1.4
changes:
  add_pools: [{site: sq-city, accelerator: Ascend910B, nodes: 64, per_node: 8}]
  remove_sites: [cz-edge]
  failures: [{site: nj-hub, start_h: 12, end_h: 36}]
  carbon_hourly: {jiangsu: [0.62, 0.61, ...]}      # 24 values, kg CO2/kWh
policy: {solver: greedy, interval_min: 10, carbon_price_cny_per_t: 100}
# policy also takes: on_events (plan at once on every arrival and completion, besides the
# interval), time_limit_s, max_wait_h, value_per_pflops, transfer_cny_per_tb, aging_step_h
```
Relative paths are read from the scenario file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from suanwang.errors import InputError
from suanwang.simulations.engine import Failure, LinkOutage, Policy
from suanwang.simulations.workload import Arrival, azure_llm, grow, openb_pods, pai_trace, synthetic, year_series
from suanwang.solvers import SOLVERS
from suanwang.solvers.problem import Weights
from suanwang.timeutil import parse_time
from suanwang.topology.loader import load_topology
from suanwang.topology.model import AcceleratorModel, Pool, Topology, facility_kw
from suanwang.topology.serialize import topology_to_dict
from suanwang.yamldoc import join, read_document

_KEYS = ("name", "topology", "start", "hours", "seed", "demand", "changes", "policy")


@dataclass(frozen=True)
class Scenario:
    name: str
    topology: Topology
    start: datetime
    hours: float
    seed: int
    arrivals: tuple[Arrival, ...]
    failures: tuple[Failure, ...]
    policy: Policy
    outages: tuple[LinkOutage, ...] = ()


def load_scenario(path: str | Path) -> Scenario:
    doc = read_document(path)
    root = doc.mapping(doc.data, "")
    doc.keys(root, "", _KEYS)
    base = Path(path).parent
    topo_ref = str(root.get("topology") or "jiangsu")
    topo = load_topology(topo_ref if topo_ref == "jiangsu" else base / topo_ref)
    name = doc.string(root, "name", "", default=Path(path).stem)
    start = parse_time(root.get("start")) if root.get("start") is not None else datetime(2026, 1, 1)
    if start is None:
        doc.fault("start", "is not a date-time", "write ISO 8601, e.g. 2026-11-25T00:00:00+08:00", root.get("start"))
        start = datetime(2026, 1, 1)
    hours = doc.number(root, "hours", "", default=24.0, positive=True)
    seed = doc.number(root, "seed", "", default=7, integer=True)
    topo, failures, outages = _changes(doc, root.get("changes"), topo, start, base)
    policy = _policy(doc, root.get("policy"))
    arrivals = _demand(doc, root.get("demand"), topo, start, hours or 24.0, seed or 7, base)
    doc.raise_if_faulty("scenario")
    return Scenario(
        name or "scenario", topo, start, hours, seed, tuple(arrivals), tuple(failures), policy, tuple(outages)
    )


def _changes(doc, raw: Any, topo: Topology, start: datetime, base: Path):
    c = doc.mapping(raw, "changes", required=False)
    doc.keys(
        c,
        "changes",
        (
            "add_sites",
            "add_pools",
            "remove_sites",
            "failures",
            "link_outages",
            "carbon_hourly",
            "carbon_series",
            "price_series",
        ),
    )
    added = doc.sequence(c.get("add_sites"), "changes.add_sites", required=False)
    if added:  # new sites are checked by the topology loader, every fault with its path
        d = topology_to_dict(topo)
        d["sites"] += added
        try:
            topo = load_topology(
                f"{doc.file} (topology with changes.add_sites)",
                text=yaml.safe_dump(d, sort_keys=False, allow_unicode=True),
            )
        except InputError as e:
            for f in e.faults:
                doc.fault("changes.add_sites", f"{f.path}: {f.message}", f.fix, f.value)
    sites = {s.id: s for s in topo.sites}
    for i, spec in enumerate(doc.sequence(c.get("add_pools"), "changes.add_pools", required=False)):
        p = join("changes.add_pools", i)
        spec = doc.mapping(spec, p)
        sid = doc.string(spec, "site", p, choices=list(sites))
        model = doc.string(spec, "accelerator", p, choices=list(topo.accelerators))
        nodes = doc.number(spec, "nodes", p, positive=True, integer=True)
        per_node = doc.number(spec, "per_node", p, default=8, positive=True, integer=True)
        if None not in (sid, model, nodes, per_node):
            s = sites[sid]
            added_kw = facility_kw(nodes * per_node, topo.accelerators[model], s.pue)
            sites[sid] = replace(
                s,
                pools=s.pools + (Pool(AcceleratorModel(model), nodes, per_node),),
                power_cap_kw=s.power_cap_kw + added_kw,
            )
    for i, sid in enumerate(doc.sequence(c.get("remove_sites"), "changes.remove_sites", required=False)):
        if sid not in sites:
            doc.fault(join("changes.remove_sites", i), "unknown site", "name a site of the topology", sid)
        else:
            del sites[sid]
    failures = []
    for i, spec in enumerate(doc.sequence(c.get("failures"), "changes.failures", required=False)):
        p = join("changes.failures", i)
        spec = doc.mapping(spec, p)
        sid = doc.string(spec, "site", p, choices=list(sites))
        a = doc.number(spec, "start_h", p, minimum=0.0)
        b = doc.number(spec, "end_h", p, minimum=0.0)
        if a is not None and b is not None and b <= a:
            doc.fault(join(p, "end_h"), "must be after start_h", "give end_h > start_h", b)
        elif None not in (sid, a, b):
            failures.append(Failure(sid, start + timedelta(hours=a), start + timedelta(hours=b)))
    outages = []
    for i, spec in enumerate(doc.sequence(c.get("link_outages"), "changes.link_outages", required=False)):
        p = join("changes.link_outages", i)
        spec = doc.mapping(spec, p)
        a, b = doc.string(spec, "from", p), doc.string(spec, "to", p)
        t0, t1 = doc.number(spec, "start_h", p, minimum=0.0), doc.number(spec, "end_h", p, minimum=0.0)
        if a and b and not any({lk.a, lk.b} == {a, b} for lk in topo.links):
            doc.fault(p, f"no link between {a} and {b}", "name the two ends of a link under the topology's `links:`")
        elif None not in (a, b, t0, t1):
            outages.append(LinkOutage(a, b, start + timedelta(hours=t0), start + timedelta(hours=t1)))
    zones = dict(topo.grid_zones)
    for key, field_name, scale_of in (
        ("carbon_series", "carbon_year_kg_per_kwh", lambda spec: 0.001),
        ("price_series", "price_year_cny_per_kwh", lambda spec: float(spec.get("cny_per_usd", 7.1)) / 1000.0),
    ):
        for zid, spec in doc.mapping(c.get(key), f"changes.{key}", required=False).items():
            p = join(f"changes.{key}", zid)
            spec = doc.mapping(spec, p)
            doc.keys(spec, p, ("path", "column", "cny_per_usd"))
            path, column = doc.string(spec, "path", p), doc.string(spec, "column", p)
            if zid not in zones:
                doc.fault(p, "unknown grid zone", f"use one of: {', '.join(zones)}", zid)
            elif path and column:
                full = Path(path) if Path(path).is_absolute() else base / path
                try:
                    zones[zid] = replace(zones[zid], **{field_name: year_series(full, column, scale_of(spec))})
                except InputError as e:
                    doc.fault(join(p, "path"), e.summary, "give an hourly year CSV and one of its columns", path)
    for zid, series in doc.mapping(c.get("carbon_hourly"), "changes.carbon_hourly", required=False).items():
        p = join("changes.carbon_hourly", zid)
        if zid not in zones:
            doc.fault(p, "unknown grid zone", f"use one of: {', '.join(zones)}", zid)
        elif not isinstance(series, list) or len(series) != 24 or not all(isinstance(v, (int, float)) for v in series):
            doc.fault(p, "must be 24 hourly values in kg CO2/kWh", "give one value per hour 0–23")
        else:
            zones[zid] = replace(zones[zid], carbon_hourly_kg_per_kwh=tuple(float(v) for v in series))
    return replace(topo, sites=tuple(sites.values()), grid_zones=zones), failures, outages


def _policy(doc, raw: Any) -> Policy:
    p = doc.mapping(raw, "policy", required=False)
    doc.keys(
        p,
        "policy",
        (
            "solver",
            "interval_min",
            "on_events",
            "time_limit_s",
            "carbon_price_cny_per_t",
            "max_wait_h",
            "value_per_pflops",
            "transfer_cny_per_tb",
            "aging_step_h",
        ),
    )
    base, w = Policy(), Weights()

    def num(key: str, default: float, **checks: Any) -> float:
        v = doc.number(p, key, "policy", default=default, **checks)
        return default if v is None else v  # a fault is recorded and raised with the others

    return Policy(
        doc.string(p, "solver", "policy", default=base.solver, choices=SOLVERS) or base.solver,
        num("interval_min", base.interval_min, positive=True, unit="minutes"),
        num("time_limit_s", base.time_limit_s, positive=True, unit="seconds"),
        Weights(
            value_per_pflops=num("value_per_pflops", w.value_per_pflops, minimum=0.0),
            carbon_cny_per_kg=num("carbon_price_cny_per_t", 100.0, minimum=0.0, unit="CNY per t CO2") / 1000.0,
            transfer_cny_per_tb=num("transfer_cny_per_tb", w.transfer_cny_per_tb, minimum=0.0),
            aging_step_h=num("aging_step_h", w.aging_step_h, minimum=0.0, unit="hours"),
        ),
        num("max_wait_h", base.max_wait_h, positive=True, unit="hours"),
        doc.boolean(p, "on_events", "policy"),
    )


def _demand(doc, raw: Any, topo: Topology, start: datetime, hours: float, seed: int, base: Path) -> list[Arrival]:
    d = doc.mapping(raw, "demand")
    doc.keys(d, "demand", ("synthetic", "pai", "azure", "openb", "growth"))
    growth = doc.number(d, "growth", "demand", default=1.0, positive=True)
    arrivals: list[Arrival] = []
    if d.get("synthetic") is not None:
        s = doc.mapping(d["synthetic"], "demand.synthetic")
        doc.keys(s, "demand.synthetic", ("jobs_per_hour", "growth_per_year", "city_weights"))
        rate = doc.number(s, "jobs_per_hour", "demand.synthetic", positive=True)
        yearly = doc.number(s, "growth_per_year", "demand.synthetic", default=0.0, minimum=-0.99)
        weights = doc.mapping(s.get("city_weights"), "demand.synthetic.city_weights", required=False)
        for city, w in weights.items():
            if city not in topo.cities or not isinstance(w, (int, float)) or w < 0:
                doc.fault(
                    join("demand.synthetic.city_weights", city),
                    "needs a city of the topology and a weight ≥ 0",
                    "fix the city name or the weight",
                    w,
                )
        if rate and yearly is not None:
            arrivals += synthetic(
                topo,
                start,
                hours,
                rate,
                seed,
                yearly,
                {c: float(w) for c, w in weights.items() if c in topo.cities} or None,
            )
    if d.get("pai") is not None:
        s = doc.mapping(d["pai"], "demand.pai")
        doc.keys(s, "demand.pai", ("path", "time_scale", "limit"))
        path = doc.string(s, "path", "demand.pai")
        scale = doc.number(s, "time_scale", "demand.pai", default=1.0, positive=True)
        limit = doc.number(s, "limit", "demand.pai", default=None, positive=True, integer=True)
        if path:
            full = Path(path) if Path(path).is_absolute() else base / path
            if not full.exists():
                doc.fault("demand.pai.path", "no such file", "give the path of pai-100k.csv", path)
            else:
                arrivals += pai_trace(full, start, hours, limit, scale or 1.0)
    for key, keys in (("azure", ("path", "city", "bucket_min")), ("openb", ("path", "time_scale", "limit"))):
        if d.get(key) is None:
            continue
        p = f"demand.{key}"
        s = doc.mapping(d[key], p)
        doc.keys(s, p, keys)
        path = doc.string(s, "path", p)
        full = (Path(path) if Path(path).is_absolute() else base / path) if path else None
        if full is not None and not full.exists():
            doc.fault(f"{p}.path", "no such file", "give the path of the trace under shared/data", path)
        elif full is not None and key == "azure":
            city = doc.string(s, "city", p, default="Nanjing", choices=list(topo.cities))
            bucket = doc.number(s, "bucket_min", p, default=5.0, positive=True)
            if city and bucket:
                arrivals += azure_llm(full, start, city, hours, bucket)
        elif full is not None:
            scale = doc.number(s, "time_scale", p, default=1.0, positive=True)
            limit = doc.number(s, "limit", p, default=None, positive=True, integer=True)
            arrivals += openb_pods(full, start, hours, scale or 1.0, limit)
    if not any(d.get(k) for k in ("synthetic", "pai", "azure", "openb")):
        doc.fault("demand", "no demand given", "add `synthetic: {jobs_per_hour: N}`, `pai:`, `azure:` or `openb:`")
    return grow(sorted(arrivals, key=lambda a: (a.at, a.job.id)), growth or 1.0, seed)
