"""The capacity-planning problem and its result: what may be built, what is asked, what is
promised. Frozen dataclasses with units in field names; the model is :mod:`.capacity`.

Demand is counted in **capacity PFLOPS**: the sustained dense FP16 PFLOPS a row uses over the
year divided by its class's target utilisation (headroom that keeps queues short). A training
row of ``pflops_h`` a year uses ``pflops_h / 8760`` PFLOPS on average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from suanwang.topology.model import AcceleratorModel, CityName, Site, SiteId, Topology

HOURS_PER_YEAR = 8760.0
DemandClass = Literal["training", "inference", "deterministic"]
CLASSES: tuple[DemandClass, ...] = ("training", "inference", "deterministic")
CapacitySolver = Literal["cbc", "highs"]
CAPACITY_SOLVERS: tuple[CapacitySolver, ...] = ("cbc", "highs")


@dataclass(frozen=True)
class Pack:
    """Nodes of one accelerator model that may be added to a site (existing or candidate)."""

    site: SiteId
    accelerator: AcceleratorModel
    per_node: int
    capex_cny_per_node: float
    kw_per_node: float  # IT power of a node at full load (facility power = × the site's PUE)
    earliest_year: int  # first year nodes may enter service
    lead_years: int  # ordered (and paid) this many years before they enter service
    max_nodes: int  # floor space: at most this many nodes of this pack, ever
    opex_cny_per_node_year: float = 0.0


@dataclass(frozen=True)
class CandidateSite:
    """A new site that may be opened (once, for good): the site with empty pools, its fixed cost."""

    site: Site
    fixed_cost_cny: float
    earliest_year: int


@dataclass(frozen=True)
class LinkUpgrade:
    """More bandwidth on a link between two endpoints, or a new link (``new``), from a year on."""

    id: str
    a: str
    b: str
    add_gbps: float
    cost_cny: float
    earliest_year: int
    new: bool = False
    kind: str = "ceni"
    latency_ms: float | None = None
    jitter_us: float | None = None


@dataclass(frozen=True)
class ClassSpec:
    """How a demand class uses capacity: which models, at what utilisation, with what traffic."""

    models: tuple[AcceleratorModel, ...]  # empty: any model
    target_utilisation: float  # 0–1
    gbps_per_pflops: float  # traffic between the origin and the site per capacity PFLOPS
    penalty_cny_per_pflops_year: float  # cost of one capacity PFLOPS left unserved for a year


@dataclass(frozen=True)
class Demand:
    """One row of demand: an origin city, a class and a year, in capacity PFLOPS."""

    origin: CityName | None  # None: a training row with no place of its own
    klass: DemandClass
    year: int
    capacity_pflops: float
    rtt_slo_ms: float | None = None  # inference: served only within this round trip
    max_jitter_us: float | None = None  # deterministic: over a CENI path within this jitter


@dataclass(frozen=True)
class Targets:
    """Policy targets; each is a hard row of the model (an infeasible set is diagnosed)."""

    province_pflops: dict[int, float] = field(default_factory=dict)  # installed PFLOPS by year
    city_centres: dict[int, int] = field(default_factory=dict)  # open city-tier sites by year
    pue_cap: dict[str, float] = field(default_factory=dict)  # tier → PUE above which nothing is built
    min_green_share: dict[int, float] = field(default_factory=dict)  # of the energy served, by year
    coverage: float = 0.0  # share of each inference row served within its ring (hard)


@dataclass(frozen=True)
class CapacityProblem:
    topology: Topology  # the starting network
    years: tuple[int, ...]
    packs: tuple[Pack, ...]
    candidates: tuple[CandidateSite, ...]
    upgrades: tuple[LinkUpgrade, ...]
    classes: dict[str, ClassSpec]
    demand: tuple[Demand, ...]
    budgets_cny: dict[int, float]  # capital spent (ordered) in each year; absent: no limit
    price_cny_per_kwh: dict[str, float]  # zone → mean energy price
    carbon_cny_per_t: float
    discount_rate: float
    targets: Targets
    objective: Literal["npv", "lexicographic"] = "npv"
    solver: CapacitySolver = "highs"
    gap: float = 0.01
    time_limit_s: float = 60.0


@dataclass(frozen=True)
class Addition:
    site: SiteId
    accelerator: AcceleratorModel
    year: int  # in service from
    nodes: int
    cards: int
    pflops: float
    capex_cny: float
    order_year: int


@dataclass(frozen=True)
class SiteYear:
    """A site in a year of the plan: what is installed, what is used, its power."""

    site: SiteId
    year: int
    open: bool
    installed_pflops: float
    used_pflops: float  # capacity PFLOPS given to demand
    power_kw: float  # facility power of what is installed, at full load
    power_cap_kw: float

    @property
    def utilisation(self) -> float:
        return self.used_pflops / self.installed_pflops if self.installed_pflops > 1e-9 else 0.0


@dataclass(frozen=True)
class CapacityPlan:
    """What to build, what it serves, what it costs (NPV at the discount rate) and how sure it is."""

    status: str  # optimal | feasible | infeasible | not solved
    solver: str
    npv_cny: float | None  # capex, opex, sites, network, energy and carbon, discounted
    bound_cny: float | None  # a lower bound on the objective of any plan
    gap: float | None
    solve_seconds: float
    additions: tuple[Addition, ...] = ()
    openings: dict[str, int] = field(default_factory=dict)  # site → year opened
    upgrades: dict[str, int] = field(default_factory=dict)  # upgrade id → year in service
    sites: tuple[SiteYear, ...] = ()
    served: dict[tuple[str, str, int], float] = field(default_factory=dict)  # (origin, class, year)
    unserved: dict[tuple[str, str, int], float] = field(default_factory=dict)
    demand: dict[tuple[str, str, int], float] = field(default_factory=dict)
    costs_cny: dict[int, dict[str, float]] = field(default_factory=dict)  # year → part → NPV ¥
    province_pflops: dict[int, float] = field(default_factory=dict)
    power_value_cny_per_kw: dict[tuple[str, int], float] = field(default_factory=dict)
    budget_value_cny_per_cny: dict[int, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    variables: int = 0
    rows: int = 0
    objective_cny: float | None = None  # the NPV plus the penalty for unserved demand

    @property
    def penalty_cny(self) -> float:
        return sum(c.get("unserved", 0.0) for c in self.costs_cny.values())

    @property
    def served_share(self) -> float:
        total = sum(self.demand.values())
        return sum(self.served.values()) / total if total > 1e-12 else 1.0
