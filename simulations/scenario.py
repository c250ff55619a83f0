"""What-if scenarios in YAML: a base topology plus changes, demand, and a policy.

```yaml
name: suqian-plus-512
topology: jiangsu                 # or a topology file
start: 2026-11-25T00:00:00+08:00
hours: 72                         # arrivals in these hours
drain_h: 0                        # then the run goes on this long with no arrivals (default: the
                                  # shift horizon with `policy.shift`, else 0)
seed: 7
demand:
  synthetic: {jobs_per_hour: 30}  # or: pai: {path: ../shared/data/gaia-job-traces/pai-100k.csv, time_scale: 0.05}
  growth: 1.4                     # demand ×1.4
  deferrable: {share: 0.5, slack_h: 12}  # half the training and batch jobs may wait up to 12 h
                                  # (checkpoint_h: 1 also makes them preemptible)
changes:
  add_pools: [{site: sq-city, accelerator: Ascend910B, nodes: 64, per_node: 8}]
  remove_sites: [cz-edge]
  failures: [{site: nj-hub, start_h: 12, end_h: 36}]
  carbon_hourly: {jiangsu: [0.62, 0.61, ...]}      # 24 values, kg CO2/kWh
  # carbon_series / price_series: {jiangsu: {path, column}}: hourly years (topology/series.py);
  # carbon_forecasts: {jiangsu: {path, column, max_age_h}}: issued forecasts the shifted plans take
  # as of each plan's time, as they would a live feed (topology/forecasts.py)
  grid_events: [{id: nj-cut, sites: [nj-hub], start_h: 30, end_h: 34, reduce_ratio: 0.3}]
policy: {solver: greedy, interval_min: 10, carbon_price_cny_per_t: 100}
tenants:                          # optional: quotas plans keep to (the tenant contract, solvers/tenantspec.py)
  - {name: nju-ai-lab, cohort: unis, weight: 2, quotas: [{accelerator: H800, nominal: 256}]}
# policy also takes: on_events (plan at once on every arrival and completion, besides the
# interval), time_limit_s, max_wait_h, value_per_pflops, transfer_cny_per_tb, aging_step_h;
# preempt: true evicts lower-priority preemptible work (and reclaims borrowed quota) for what waits;
# node_policy: bestfit (default) or fragmentation (which nodes of a pool a job takes, solvers/ledger.py);
# shift: true (with horizon_h, slot_min, forecast: weekly|anchored|persistence|oracle, wait_cny_per_h,
# what each hour a start is put off costs, and hold_share, 0–1 or null: a deferrable job waits for a later
# slot that saves more than this share of starting now) decides start times of deferrable jobs, and the report
# then sets run-now, shifted and a perfect-foresight oracle side by side
```
A grid event names ``sites`` or a ``zone`` (all its sites), a window, optionally ``announce_h``
(default: its start), and one of ``cap_kw``, ``reduce_kw`` or ``reduce_ratio`` (of the draw when
announced).
Relative paths are read from the scenario file's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator

from suanwang.contract import Contract, Name, Number, Refs, Text, Time, fault, known, refs, validate, whole
from suanwang.errors import InputError
from suanwang.simulations.events import Failure, GridEvent, LinkOutage, Policy
from suanwang.simulations.workload import (
    Arrival,
    azure_llm,
    grow,
    openb_pods,
    pai_trace,
    synthetic,
    with_windows,
)
from suanwang.solvers import SOLVERS
from suanwang.solvers.forecast import METHODS
from suanwang.solvers.problem import Shift, Weights
from suanwang.solvers.tenantspec import TenantSpec, quotas_of
from suanwang.topology.contract import CarbonFactor, CarbonForecastSpec, GridCap, SiteSpec
from suanwang.topology.forecasts import read_archive
from suanwang.topology.loader import load_topology, topology_refs
from suanwang.topology.model import AcceleratorModel, Pool, Topology, facility_kw
from suanwang.topology.serialize import topology_to_dict
from suanwang.topology.series import carbon_year, year_series
from suanwang.yamldoc import Checked, join, read_document


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
    grid_events: tuple[GridEvent, ...] = ()
    drain_h: float = 0.0


Hours = Annotated[Number, Field(ge=0, le=87_600, description="hours from the scenario's start")]


SiteRef = Annotated[Text, known("sites", "site")]
ZoneRef = Annotated[Text, known("zones", "grid zone")]
CityRef = Annotated[Text, known("cities", "city")]
ModelRef = Annotated[Text, known("accelerators", "accelerator")]


class _Window(Contract):
    start_h: Hours
    end_h: Hours

    @field_validator("end_h")
    @classmethod
    def _after(cls, v: float, info: ValidationInfo) -> float:
        if info.data.get("start_h") is not None and v <= info.data["start_h"]:
            raise fault("must be after start_h", "give end_h > start_h")
        return v


class FailureSpec(_Window):
    site: SiteRef


class LinkOutageSpec(_Window):
    from_: Annotated[Text, Field(alias="from")]
    to: Text

    @field_validator("to")
    @classmethod
    def _a_link(cls, v: str, info: ValidationInfo) -> str:
        r, a = refs(info), info.data.get("from_")
        if r is not None and a is not None and frozenset((a, v)) not in r["links"]:
            raise fault(f"no link between {a} and {v}", "name the two ends of a link under the topology's `links:`")
        return v


class GridEventSpec(_Window, GridCap):
    id: Name
    announce_h: Hours | None = None

    @model_validator(mode="after")
    def _announced_before(self) -> GridEventSpec:
        if self.announce_h is not None and self.announce_h > self.start_h:
            raise fault("announce_h is after start_h", "announce the event at or before its start")
        return self


class PoolAddSpec(Contract):
    site: SiteRef
    accelerator: ModelRef
    nodes: whole(gt=0, le=1_000_000)
    per_node: whole(gt=0, le=64) = 8


class SeriesSpec(Contract):
    path: Text
    column: Text
    cny_per_usd: Annotated[Number, Field(gt=0, le=100)] = 7.1


class ChangesSpec(Contract):
    add_sites: Annotated[list[SiteSpec], Field(max_length=1000)] = []
    add_pools: Annotated[list[PoolAddSpec], Field(max_length=10_000)] = []
    remove_sites: Annotated[list[SiteRef], Field(max_length=10_000)] = []
    failures: Annotated[list[FailureSpec], Field(max_length=100_000)] = []
    link_outages: Annotated[list[LinkOutageSpec], Field(max_length=100_000)] = []
    carbon_hourly: dict[ZoneRef, Annotated[list[CarbonFactor], Field(min_length=24, max_length=24)]] = {}
    carbon_series: dict[ZoneRef, SeriesSpec] = {}
    price_series: dict[ZoneRef, SeriesSpec] = {}
    carbon_forecasts: dict[ZoneRef, CarbonForecastSpec] = {}  # issued forecasts (topology/forecasts.py)
    grid_events: Annotated[list[GridEventSpec], Field(max_length=10_000)] = []


class SyntheticSpec(Contract):
    jobs_per_hour: Annotated[Number, Field(gt=0, le=1e6)]
    growth_per_year: Annotated[Number, Field(ge=-0.99, le=100)] = 0.0
    city_weights: dict[CityRef, Annotated[Number, Field(ge=0, le=1e6)]] = {}


class TraceSpec(Contract):
    path: Text
    time_scale: Annotated[Number, Field(gt=0, le=1e6)] = 1.0
    limit: whole(gt=0, le=10_000_000) | None = None


class AzureSpec(Contract):
    path: Text
    city: CityRef = "Nanjing"
    bucket_min: Annotated[Number, Field(gt=0, le=1440)] = 5.0


class DeferrableSpec(Contract):
    share: Annotated[Number, Field(ge=0, le=1)]
    slack_h: Annotated[Number, Field(ge=0, le=720)] = 12.0
    checkpoint_h: Annotated[Number, Field(gt=0, le=720)] | None = None  # also preemptible


class DemandSpec(Contract):
    deferrable: DeferrableSpec | None = None
    synthetic: SyntheticSpec | None = None
    pai: TraceSpec | None = None
    azure: AzureSpec | None = None
    openb: TraceSpec | None = None
    growth: Annotated[Number, Field(gt=0, le=10_000)] = 1.0


_P, _W = Policy(), Weights()


class PolicySpec(Contract):
    solver: Literal[SOLVERS] = _P.solver  # type: ignore[valid-type]
    interval_min: Annotated[Number, Field(gt=0, le=1440)] = _P.interval_min
    on_events: Annotated[bool, Field(strict=True)] = _P.on_events
    time_limit_s: Annotated[Number, Field(gt=0, le=3600)] = _P.time_limit_s
    carbon_price_cny_per_t: Annotated[Number, Field(ge=0, le=1e5)] = 100.0
    max_wait_h: Annotated[Number, Field(gt=0, le=8760)] = _P.max_wait_h
    value_per_pflops: Annotated[Number, Field(ge=0, le=1e9)] = _W.value_per_pflops
    transfer_cny_per_tb: Annotated[Number, Field(ge=0, le=1e6)] = _W.transfer_cny_per_tb
    aging_step_h: Annotated[Number, Field(ge=0, le=8760)] = _W.aging_step_h
    wait_cny_per_h: Annotated[Number, Field(ge=0, le=1e6)] = _W.wait_cny_per_h
    preempt: Annotated[bool, Field(strict=True)] = False
    shift: Annotated[bool, Field(strict=True)] = False
    horizon_h: Annotated[Number, Field(ge=1, le=168)] = Shift().horizon_h
    slot_min: Annotated[Number, Field(ge=5, le=240)] = Shift().slot_min
    hold_share: Annotated[Number, Field(ge=0, le=1)] | None = Shift().hold_share
    forecast: Literal[METHODS] = "weekly"  # type: ignore[valid-type]
    node_policy: Literal["bestfit", "fragmentation"] = "bestfit"

    @model_validator(mode="after")
    def _whole_slots(self) -> PolicySpec:
        if self.shift and abs(self.horizon_h * 60 / self.slot_min - round(self.horizon_h * 60 / self.slot_min)) > 1e-9:
            raise fault("horizon_h is not a whole number of slots", "make horizon_h × 60 a multiple of slot_min")
        return self


class ScenarioFile(Contract):
    """A what-if scenario (format in this module's docstring)."""

    name: Name | None = None
    topology: Text = "jiangsu"
    start: Time | None = None
    hours: Annotated[Number, Field(gt=0, le=87_600)] = 24.0
    drain_h: Annotated[Number, Field(ge=0, le=8760)] | None = None
    seed: whole(ge=0, le=2**31 - 1) = 7
    demand: DemandSpec
    changes: ChangesSpec = ChangesSpec()
    policy: PolicySpec = PolicySpec()
    tenants: Annotated[list[TenantSpec], Field(max_length=10_000)] = []


def load_scenario(path: str | Path) -> Scenario:
    """A scenario file: its topology with the changes, demand and policy; every fault at once."""
    doc = read_document(path)
    raw = doc.data if isinstance(doc.data, dict) else {}
    base = Path(path).parent
    topo_ref = str(raw.get("topology") or "jiangsu")
    topo = load_topology(topo_ref if topo_ref == "jiangsu" else base / topo_ref)
    spec = validate(ScenarioFile, doc, doc.data, _refs(topo, raw))
    if spec is None:
        doc.raise_if_faulty("scenario")
    assert spec is not None
    start = spec.start or datetime(2026, 1, 1)
    topo, failures, outages = _changes(doc, spec.changes, topo, start, base)
    arrivals = demand_arrivals(doc, spec.demand, topo, start, spec.hours, spec.seed, base)
    doc.raise_if_faulty("scenario")
    p = spec.policy
    policy = Policy(
        p.solver,
        p.interval_min,
        p.time_limit_s,
        Weights(
            value_per_pflops=p.value_per_pflops,
            carbon_cny_per_kg=p.carbon_price_cny_per_t / 1000.0,
            transfer_cny_per_tb=p.transfer_cny_per_tb,
            aging_step_h=p.aging_step_h,
            wait_cny_per_h=p.wait_cny_per_h,
        ),
        p.max_wait_h,
        p.on_events,
        Shift(p.horizon_h, p.slot_min, hold_share=p.hold_share) if p.shift else None,
        p.forecast,
        quotas_of(spec.tenants, topo),
        p.preempt,
        tuple((t.name, t.weight) for t in spec.tenants),
        p.node_policy,
    )
    name = spec.name or Path(path).stem
    events = tuple(_grid_event(g, topo, start) for g in spec.changes.grid_events)
    drain = spec.drain_h if spec.drain_h is not None else (p.horizon_h if p.shift else 0.0)
    return Scenario(
        name, topo, start, spec.hours, spec.seed, tuple(arrivals), tuple(failures), policy, tuple(outages), events,
        drain,
    )  # fmt: skip


def _grid_event(g: GridEventSpec, topo: Topology, start: datetime) -> GridEvent:
    sites = tuple(dict.fromkeys([*g.sites, *(s.id for s in topo.sites if g.zone and s.grid_zone == g.zone)]))
    at = start + timedelta(hours=g.start_h)
    announce = start + timedelta(hours=g.announce_h) if g.announce_h is not None else at
    end = start + timedelta(hours=g.end_h)
    return GridEvent(g.id, sites, announce, at, end, g.cap_kw, g.reduce_kw, g.reduce_ratio)


def _refs(topo: Topology, raw: dict[str, Any]) -> Refs:
    """The base topology's names, plus the sites the scenario adds (for its other changes)."""
    refs = topology_refs(topo)
    changes = raw.get("changes") if isinstance(raw.get("changes"), dict) else {}
    added = changes.get("add_sites") if isinstance(changes.get("add_sites"), list) else []
    new = [str(x["id"]) for x in added if isinstance(x, dict) and x.get("id") is not None]
    links = {frozenset((lk.a, lk.b)) for lk in topo.links}
    return Refs(refs, sites=[s.id for s in topo.sites] + new, endpoints=refs["endpoints"] + new, links=links)


def _changes(doc: Checked, c: ChangesSpec, topo: Topology, start: datetime, base: Path):
    if c.add_sites:  # the topology loader checks the whole network with them, every fault with its path
        d = topology_to_dict(topo)
        d["sites"] += [x.model_dump(by_alias=True, exclude_none=True) for x in c.add_sites]
        try:
            topo = load_topology(
                f"{doc.file} (topology with changes.add_sites)",
                text=yaml.safe_dump(d, sort_keys=False, allow_unicode=True),
            )
        except InputError as e:
            for f in e.faults:
                doc.fault("changes.add_sites", f"{f.path}: {f.message}", f.fix, f.value)
            return topo, [], []
    sites = {s.id: s for s in topo.sites}
    for add in c.add_pools:
        s = sites[add.site]
        added_kw = facility_kw(add.nodes * add.per_node, topo.accelerators[add.accelerator], s.pue)
        sites[add.site] = replace(
            s,
            pools=s.pools + (Pool(AcceleratorModel(add.accelerator), add.nodes, add.per_node),),
            power_cap_kw=s.power_cap_kw + added_kw,
        )
    for sid in c.remove_sites:
        sites.pop(sid, None)
    failures = [
        Failure(f.site, start + timedelta(hours=f.start_h), start + timedelta(hours=f.end_h)) for f in c.failures
    ]
    outages = [
        LinkOutage(o.from_, o.to, start + timedelta(hours=o.start_h), start + timedelta(hours=o.end_h))
        for o in c.link_outages
    ]
    zones = dict(topo.grid_zones)
    for key, field_name in (("carbon_series", "carbon_year_kg_per_kwh"), ("price_series", "price_year_cny_per_kwh")):
        for zid, series in getattr(c, key).items():
            carbon = key == "carbon_series"
            full = Path(series.path) if Path(series.path).is_absolute() else base / series.path
            try:
                values = (
                    carbon_year(full, series.column)
                    if carbon
                    else year_series(
                        full, series.column, series.cny_per_usd / 1000.0, low=-100.0, high=100.0, unit="¥/kWh"
                    )  # fmt: skip
                )
                source = {"carbon_series": (str(full.resolve()), series.column)} if carbon else {}
                zones[zid] = replace(zones[zid], **{field_name: values}, **source)
            except InputError as e:
                doc.fault(
                    join(join(f"changes.{key}", zid), "path"),
                    e.summary,
                    "give an hourly year CSV and one of its columns",
                    series.path,
                )
    for zid, hourly in c.carbon_hourly.items():
        zones[zid] = replace(zones[zid], carbon_hourly_kg_per_kwh=tuple(hourly))
    for zid, arch in c.carbon_forecasts.items():
        full = Path(arch.path) if Path(arch.path).is_absolute() else base / arch.path
        try:
            zones[zid] = replace(zones[zid], carbon_forecasts=read_archive(full, arch.column, float(arch.max_age_h)))
        except InputError as e:
            doc.fault(join(join("changes.carbon_forecasts", zid), "path"), e.summary,
                      "give an archive of issued forecasts (Issued, Datetime and a column in g CO₂/kWh)",
                      arch.path)  # fmt: skip
    return replace(topo, sites=tuple(sites.values()), grid_zones=zones), failures, outages


def demand_arrivals(
    doc: Checked,
    d: DemandSpec,
    topo: Topology,
    start: datetime,
    hours: float,
    seed: int,
    base: Path,
    at: str = "demand",
) -> list[Arrival]:
    """The arrivals ``d`` asks for (faults recorded in ``doc`` under ``at``)."""

    def found(key: str, path: str, what: str) -> Path | None:
        full = Path(path) if Path(path).is_absolute() else base / path
        if not full.exists():
            doc.fault(f"{at}.{key}.path", "no such file", f"give the path of {what}", path)
            return None
        return full

    arrivals: list[Arrival] = []
    if d.synthetic is not None:
        s = d.synthetic
        arrivals += synthetic(
            topo, start, hours, s.jobs_per_hour, seed, s.growth_per_year, dict(s.city_weights) or None
        )
    if d.pai is not None and (full := found("pai", d.pai.path, "pai-100k.csv")):
        arrivals += pai_trace(full, start, hours, d.pai.limit, d.pai.time_scale)
    if d.azure is not None and (full := found("azure", d.azure.path, "the trace under shared/data")):
        arrivals += azure_llm(full, start, d.azure.city, hours, d.azure.bucket_min)
    if d.openb is not None and (full := found("openb", d.openb.path, "the trace under shared/data")):
        arrivals += openb_pods(full, start, hours, d.openb.time_scale, d.openb.limit)
    if not any((d.synthetic, d.pai, d.azure, d.openb)):
        doc.fault(at, "no demand given", "add `synthetic: {jobs_per_hour: N}`, `pai:`, `azure:` or `openb:`")
    out = grow(sorted(arrivals, key=lambda a: (a.at, a.job.id)), d.growth, seed)
    if d.deferrable is not None:
        out = with_windows(out, d.deferrable.share, d.deferrable.slack_h, seed, d.deferrable.checkpoint_h)
    return out
