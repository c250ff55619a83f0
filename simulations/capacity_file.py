"""The capacity-planning file: its contract, shared by the CLI, the API and ``/openapi.json``.

```yaml
name: jiangsu-2025-2027
network: jiangsu-2025.yaml           # the starting network: jiangsu (built-in) or a topology file
years: [2025, 2026, 2027]            # consecutive
solver: highs                        # or cbc
objective: npv                       # or lexicographic: serve the most, then the cheapest
gap: 0.01                            # relative MILP gap to stop at
time_limit_s: 60
discount_rate: 0.06
carbon_price_cny_per_t: 100
prices_cny_per_kwh: {jiangsu: 0.62}  # per zone; default: the zone's tariff averaged over a year
budgets_cny: {2025: 3.0e9}           # capital ordered in a year; years not named are unlimited
rings_ms: {city: 1, region: 5, hub: 20}   # the latency rings, read as round trips (rings_are: one_way doubles them)
classes:                             # how each class uses capacity (defaults in CLASS_DEFAULTS)
  inference: {models: [H20, Ascend910B], target_utilisation: 0.5}
packs:                               # nodes that may be added to a site (existing or new)
  - {site: nj-hub, accelerator: Ascend910B, per_node: 8, capex_cny_per_node: 1.2e6, max_nodes: 600,
     kw_per_node: 4.0, earliest_year: 2025, lead_years: 0, opex_cny_per_node_year: 0}
new_sites:                           # sites that may be opened, once, for a fixed cost
  - {id: sq-city2, city: Suqian, tier: city, pue: 1.25, power_cap_kw: 2000, grid_zone: jiangsu,
     green_share: 0.3, fixed_cost_cny: 1.5e8, earliest_year: 2026}
network_upgrades:                    # more bandwidth on a link, or a new link (`new: true`)
  - {id: xz-lyg, from: Xuzhou, to: Lianyungang, new: true, kind: ceni, add_gbps: 400, cost_cny: 6.0e7}
demand:
  rows:                              # per year, origin city and class
    - {year: 2025, origin: Nanjing, class: training, pflops_h: 4.0e6}
    - {year: 2025, origin: Suzhou, class: inference, pflops: 120, ring: region}   # or rtt_slo_ms
    - {year: 2025, origin: Suzhou, class: deterministic, pflops: 10, max_jitter_us: 100, ring: region}
  simulation: {synthetic: {jobs_per_hour: 30}, hours: 168}  # or pai:, azure:; first-year rows from arrivals
  growth: {2026: 1.5, 2027: 2.2}     # later years: the first year's rows × this (added to their own rows)
targets:
  province_pflops: {2027: 9000}      # installed PFLOPS by year
  city_centres: {2027: 10}           # open city-tier sites by year
  pue_cap: {hub: 1.25, city: 1.3, edge: 1.5}   # nothing is built at a site above its tier's cap
  min_green_share: {2027: 0.3}       # of the energy served
  coverage: 1.0                      # share of each inference row served within its ring
validate: {hours: 72, tolerance: 0.1, solver: greedy, max_wait_h: 4}   # a job waiting longer is not served
```
Ranges: years 2000–2100 (at most 30); money up to ¥10¹³; PFLOPS up to 10⁹; utilisation in (0, 1];
nodes per pack up to 10⁶ of up to 64 cards; lead time up to 10 years. Relative paths are read from
the file's folder. A training row's origin may be left out (no place of its own).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from suanwang.contract import Contract, Label, Name, Number, Text, fault, known, refs, whole
from suanwang.simulations.scenario import DemandSpec
from suanwang.solvers import SOLVERS
from suanwang.solvers.capacity_problem import CAPACITY_SOLVERS, CLASSES
from suanwang.topology.contract import Gbps, JitterUs, LatencyMs, MetroSpec, TopologyFile
from suanwang.topology.model import LINK_KINDS, TIERS


def _year_key(v: Any) -> Any:
    return int(v) if isinstance(v, str) and v.strip().isdigit() else v


Year = Annotated[int, Field(ge=2000, le=2100), BeforeValidator(_year_key)]
Money = Annotated[Number, Field(ge=0, le=1e13, description="¥")]
Pflops = Annotated[Number, Field(ge=0, le=1e9)]
SiteRef = Annotated[Text, known("sites", "site", "name a site of the network or of `new_sites:` ({names})")]
CityRef = Annotated[Text, known("cities", "city")]
ZoneRef = Annotated[Text, known("zones", "grid zone")]
ModelRef = Annotated[Text, known("accelerators", "accelerator")]
Endpoint = Annotated[Text, known("endpoints", "city or site")]

# Defaults per class: utilisation is the headroom a planner keeps (training queues tolerate more
# load than interactive inference); traffic per PFLOPS and penalties are planning assumptions,
# stated here so that a plan's reader can change them.
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "training": {"target_utilisation": 0.8, "gbps_per_pflops": 0.02, "penalty_cny_per_pflops_year": 1.5e6},
    "inference": {"target_utilisation": 0.5, "gbps_per_pflops": 0.1, "penalty_cny_per_pflops_year": 3.0e6},
    "deterministic": {"target_utilisation": 0.5, "gbps_per_pflops": 1.0, "penalty_cny_per_pflops_year": 5.0e6},
}


class ClassSpecFile(Contract):
    models: Annotated[list[ModelRef], Field(max_length=100)] = []
    target_utilisation: Annotated[Number, Field(gt=0, le=1)] | None = None
    gbps_per_pflops: Annotated[Number, Field(ge=0, le=1e4)] | None = None
    penalty_cny_per_pflops_year: Money | None = None


class PackSpec(Contract):
    site: SiteRef
    accelerator: ModelRef
    per_node: whole(gt=0, le=64) = 8
    capex_cny_per_node: Annotated[Number, Field(gt=0, le=1e10)]
    kw_per_node: Annotated[Number, Field(gt=0, le=1000, description="IT kW at full load")] | None = None
    earliest_year: Year | None = None
    lead_years: whole(ge=0, le=10) = 0
    max_nodes: whole(gt=0, le=1_000_000)
    opex_cny_per_node_year: Annotated[Number, Field(ge=0, le=1e9)] = 0.0


class NewSiteSpec(Contract):
    id: Label
    city: CityRef
    tier: Literal[TIERS]  # type: ignore[valid-type]
    pue: Annotated[Number, Field(ge=1.0, le=3.0)]
    power_cap_kw: Annotated[Number, Field(gt=0, le=1e7)]
    grid_zone: ZoneRef
    green_share: Annotated[Number, Field(ge=0, le=1)] = 0.0
    fixed_cost_cny: Money
    earliest_year: Year | None = None
    metro: MetroSpec | None = None

    @field_validator("id")
    @classmethod
    def _new(cls, v: str, info: ValidationInfo) -> str:
        r = refs(info)
        if r is not None and (v in r["existing"] or v in r["cities"]):
            raise fault("already names a site or city of the network", "give the new site an id of its own")
        return v


class UpgradeSpec(Contract):
    id: Name
    from_: Annotated[Endpoint, Field(alias="from")]
    to: Endpoint
    add_gbps: Gbps
    cost_cny: Money
    earliest_year: Year | None = None
    new: Annotated[bool, Field(strict=True)] = False
    kind: Literal[LINK_KINDS] = "ceni"  # type: ignore[valid-type]
    latency_ms: LatencyMs | None = None
    jitter_us: JitterUs | None = None

    @field_validator("to")
    @classmethod
    def _a_link(cls, v: str, info: ValidationInfo) -> str:
        r, a = refs(info), info.data.get("from_")
        if a is not None and a == v:
            raise fault("a link joins two different endpoints", "name two different endpoints")
        if r is not None and a is not None and not info.data.get("new") and frozenset((a, v)) not in r["links"]:
            raise fault(f"no link between {a} and {v}", "name the ends of a link of the network, or set `new: true`")
        return v


class DemandRow(Contract):
    year: Year
    origin: CityRef | None = None
    class_: Annotated[Literal[CLASSES], Field(alias="class")]  # type: ignore[valid-type]
    pflops_h: Annotated[Number, Field(ge=0, le=1e13, description="PFLOPS·h a year (training)")] | None = None
    pflops: Annotated[Pflops, Field(description="PFLOPS used on average")] | None = None
    ring: Literal["city", "region", "hub"] | None = None
    rtt_slo_ms: Annotated[Number, Field(gt=0, le=2000)] | None = None
    max_jitter_us: JitterUs | None = None

    @model_validator(mode="after")
    def _by_class(self) -> DemandRow:
        if (self.pflops_h is None) == (self.pflops is None):
            raise fault("give one of pflops_h (work a year) and pflops (average use)", "keep one of them")
        if self.class_ != "training" and self.origin is None:
            raise fault(f"{self.class_} demand needs an origin city", "add `origin:`")
        if self.class_ == "training" and (self.ring or self.rtt_slo_ms or self.max_jitter_us is not None):
            raise fault("training has no latency ring or jitter bound", "drop ring, rtt_slo_ms and max_jitter_us")
        if self.class_ != "training" and (self.ring is None) == (self.rtt_slo_ms is None):
            raise fault("give one of ring and rtt_slo_ms", "e.g. `ring: region` (5 ms) or `rtt_slo_ms: 5`")
        if (self.class_ == "deterministic") != (self.max_jitter_us is not None):
            raise fault("max_jitter_us goes with deterministic demand, and only there", "set class or max_jitter_us")
        return self


class SimulatedDemand(DemandSpec):
    hours: Annotated[Number, Field(gt=0, le=8760)] = 168.0
    seed: whole(ge=0, le=2**31 - 1) = 7


class PlanDemand(Contract):
    rows: Annotated[list[DemandRow], Field(max_length=100_000)] = []
    simulation: SimulatedDemand | None = None
    growth: dict[Year, Annotated[Number, Field(ge=0, le=1e4)]] = {}

    @model_validator(mode="after")
    def _some(self) -> PlanDemand:
        if not self.rows and self.simulation is None:
            raise fault("no demand given", "add `rows:` or `simulation:`")
        return self


class Rings(Contract):
    city: Annotated[Number, Field(gt=0, le=1000)] = 1.0  # NDRC et al., Dec 2023: 1 ms within a city
    region: Annotated[Number, Field(gt=0, le=1000)] = 5.0  # 5 ms within a region
    hub: Annotated[Number, Field(gt=0, le=1000)] = 20.0  # 20 ms between national hubs


class TargetsSpec(Contract):
    province_pflops: dict[Year, Pflops] = {}
    city_centres: dict[Year, whole(ge=0, le=100_000)] = {}
    pue_cap: dict[Literal[TIERS], Annotated[Number, Field(ge=1.0, le=3.0)]] = {}  # type: ignore[valid-type]
    min_green_share: dict[Year, Annotated[Number, Field(ge=0, le=1)]] = {}
    coverage: Annotated[Number, Field(ge=0, le=1)] = 1.0


class ValidateSpec(Contract):
    hours: Annotated[Number, Field(ge=1, le=2000)] = 72.0
    tolerance: Annotated[Number, Field(gt=0, le=1)] = 0.1
    solver: Literal[SOLVERS] = "greedy"  # type: ignore[valid-type]
    max_wait_h: Annotated[Number, Field(gt=0, le=8760)] = 4.0  # longer, a job counts as not served
    interval_min: Annotated[Number, Field(gt=0, le=1440)] = 30.0
    seed: whole(ge=0, le=2**31 - 1) = 7


class PlanningFile(Contract):
    """A capacity-planning problem (format in :mod:`suanwang.simulations.capacity_file`)."""

    name: Name | None = None
    network: Text | TopologyFile = "jiangsu"
    years: Annotated[list[Year], Field(min_length=1, max_length=30)]
    solver: Literal[CAPACITY_SOLVERS] = "highs"  # type: ignore[valid-type]
    objective: Literal["npv", "lexicographic"] = "npv"
    gap: Annotated[Number, Field(ge=0, le=1)] = 0.01
    time_limit_s: Annotated[Number, Field(gt=0, le=86_400)] = 60.0
    discount_rate: Annotated[Number, Field(ge=0, le=1)] = 0.06
    carbon_price_cny_per_t: Annotated[Number, Field(ge=0, le=1e5)] = 100.0
    prices_cny_per_kwh: dict[ZoneRef, Annotated[Number, Field(ge=0, le=100)]] = {}
    budgets_cny: dict[Year, Money] = {}
    rings_ms: Rings = Rings()
    rings_are: Literal["rtt", "one_way"] = "rtt"
    classes: dict[Literal[CLASSES], ClassSpecFile] = {}  # type: ignore[valid-type]
    packs: Annotated[list[PackSpec], Field(max_length=100_000)] = []
    new_sites: Annotated[list[NewSiteSpec], Field(max_length=10_000)] = []
    network_upgrades: Annotated[list[UpgradeSpec], Field(max_length=10_000)] = []
    demand: PlanDemand
    targets: TargetsSpec = TargetsSpec()
    validate_: Annotated[ValidateSpec, Field(alias="validate")] = ValidateSpec()

    @field_validator("years")
    @classmethod
    def _consecutive(cls, v: list[int]) -> list[int]:
        if v != list(range(v[0], v[0] + len(v))):
            raise fault("years must be consecutive and ascending", f"write [{v[0]}, {v[0] + 1}, …]")
        return v

    @model_validator(mode="after")
    def _years_known(self) -> PlanningFile:
        years = set(self.years)
        named = [
            ("budgets_cny", self.budgets_cny),
            ("targets.province_pflops", self.targets.province_pflops),
            ("targets.city_centres", self.targets.city_centres),
            ("targets.min_green_share", self.targets.min_green_share),
            ("demand.growth", self.demand.growth),
        ]
        for where, table in named:
            bad = sorted(set(table) - years)
            if bad:
                raise fault(f"{where} names years outside the plan: {bad}", f"use years of {sorted(years)}")
        if self.years[0] in self.demand.growth:
            raise fault("demand.growth names the first year", "the first year's rows are the base; grow later years")
        for i, r in enumerate(self.demand.rows):
            if r.year not in years:
                raise fault(f"demand.rows[{i}].year {r.year} is outside the plan", f"use years of {sorted(years)}")
        for i, p in enumerate(self.packs):
            if p.earliest_year is not None and p.earliest_year > self.years[-1]:
                raise fault(f"packs[{i}] can enter service only after the plan's last year", "lower earliest_year")
        return self
