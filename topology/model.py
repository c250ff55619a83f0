"""Domain types of the compute network: accelerators, cities, grid zones, sites, links.

All types are frozen dataclasses; units are in the field names. Identifiers are ``NewType`` s so
that a site id is never passed where a city name is expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, NewType

if TYPE_CHECKING:
    from suanwang.topology.forecasts import ForecastArchive

AcceleratorModel = NewType("AcceleratorModel", str)
CityName = NewType("CityName", str)
SiteId = NewType("SiteId", str)
ZoneId = NewType("ZoneId", str)

Tier = Literal["hub", "city", "edge"]
LinkKind = Literal["ceni", "otn", "internet"]
TIERS: tuple[Tier, ...] = ("hub", "city", "edge")
LINK_KINDS: tuple[LinkKind, ...] = ("ceni", "otn", "internet")


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model: dense FP16/BF16 throughput, memory, board power, k8s resource."""

    model: AcceleratorModel
    fp16_tflops: float
    memory_gb: float
    power_w: float
    resource: str

    @property
    def pflops(self) -> float:
        return self.fp16_tflops / 1000.0

    def kw_per_card(self, pue: float) -> float:
        """Facility power of one card at full load in a site of this PUE (kW)."""
        return self.power_w / 1000.0 * pue


def facility_kw(cards: int, accelerator: Accelerator, pue: float) -> float:
    """Facility power of ``cards`` at full load: cards × board power × PUE (kW). The one formula
    for a job's, a pool's or a site's draw."""
    return cards * accelerator.kw_per_card(pue)


@dataclass(frozen=True)
class City:
    name: CityName
    lat: float
    lon: float


@dataclass(frozen=True)
class TariffPeriod:
    """A time-of-use price band: hours [start_hour, end_hour) on the given months (all if empty)."""

    name: str
    start_hour: int
    end_hour: int
    cny_per_kwh: float
    months: tuple[int, ...] = ()

    def covers(self, when: datetime) -> bool:
        in_month = not self.months or when.month in self.months
        return in_month and self.start_hour <= when.hour < self.end_hour


@dataclass(frozen=True)
class Tariff:
    """Time-of-use electricity tariff. Month-restricted bands override the all-year bands."""

    periods: tuple[TariffPeriod, ...]

    def price_cny_per_kwh(self, when: datetime) -> float:
        return _price(self, when.month, when.hour)

    def _lookup(self, when: datetime) -> float:
        seasonal = [p for p in self.periods if p.months and p.covers(when)]
        if seasonal:
            return seasonal[0].cny_per_kwh
        for p in self.periods:
            if not p.months and p.covers(when):
                return p.cny_per_kwh
        raise ValueError(f"tariff has no price at hour {when.hour}")

    def period_at(self, when: datetime) -> str:
        seasonal = [p for p in self.periods if p.months and p.covers(when)]
        chosen = seasonal or [p for p in self.periods if not p.months and p.covers(when)]
        return chosen[0].name if chosen else "?"


@lru_cache(maxsize=4096)
def _price(tariff: Tariff, month: int, hour: int) -> float:
    return tariff._lookup(datetime(2000, month, 1, hour))


@dataclass(frozen=True)
class CarbonFeed:
    """A file of the zone's hourly carbon intensity that the operator's feed rewrites: a forecast
    of the hours ahead (a weather-driven one such as Electricity Maps' or the grid's day-ahead
    one), which plans take in place of their own forecast, or the measured hours just past, which
    accounts and forecasts take in place of the year series; either only while the file is
    younger than ``max_age_h``."""

    path: str  # absolute
    column: str
    max_age_h: float


@dataclass(frozen=True)
class GridZone:
    """A grid zone: its CO₂ factor (annual mean or 24 hourly values) and tariff."""

    id: ZoneId
    carbon_kg_per_kwh: float
    tariff: Tariff
    carbon_hourly_kg_per_kwh: tuple[float, ...] = ()
    # a whole year, hour by hour from 1 January 00:00 (a topology's carbon_series file, or a scenario's)
    carbon_year_kg_per_kwh: tuple[float, ...] = ()
    price_year_cny_per_kwh: tuple[float, ...] = ()
    carbon_series: tuple[str, str] | None = None  # the topology's series file (absolute path) and its column
    carbon_feed: CarbonFeed | None = None  # a forecast file the plans read each time they plan
    carbon_measured: CarbonFeed | None = None  # a file of measured hours, read each cycle
    carbon_forecasts: ForecastArchive | None = None  # issued forecasts a replay's plans take (a scenario's)

    def carbon_at(self, when: datetime) -> float:
        if self.carbon_year_kg_per_kwh:
            return self.carbon_year_kg_per_kwh[_hour_of_year(when) % len(self.carbon_year_kg_per_kwh)]
        if self.carbon_hourly_kg_per_kwh:
            return self.carbon_hourly_kg_per_kwh[when.hour]
        return self.carbon_kg_per_kwh

    def price_at(self, when: datetime) -> float:
        """CNY per kWh: the year series where given, else the time-of-use tariff."""
        if self.price_year_cny_per_kwh:
            return self.price_year_cny_per_kwh[_hour_of_year(when) % len(self.price_year_cny_per_kwh)]
        return self.tariff.price_cny_per_kwh(when)


def _hour_of_year(when: datetime) -> int:
    return int((when - datetime(when.year, 1, 1)).total_seconds() // 3600)


@dataclass(frozen=True)
class Pool:
    """Identical nodes of one accelerator model inside a site."""

    accelerator: AcceleratorModel
    nodes: int
    per_node: int

    @property
    def cards(self) -> int:
        return self.nodes * self.per_node


@dataclass(frozen=True)
class Metro:
    """The metro link that attaches a site to its city."""

    kind: LinkKind = "otn"
    bandwidth_gbps: float = 400.0
    latency_ms: float | None = None
    jitter_us: float | None = None


@dataclass(frozen=True)
class KubeTarget:
    """Where a site's workloads go: kubeconfig context and namespace; optionally a Kueue
    LocalQueue to label workloads with, or ``volcano`` as scheduler (gang start by PodGroup).

    ``backend`` says how: ``direct`` to the site's own API server; ``karmada`` to a Karmada API
    server (the context) with a PropagationPolicy pinning the workload to member cluster
    ``cluster``; ``multikueue`` to a Kueue manager cluster's LocalQueue ``queue``, whose
    ClusterQueue dispatches only to worker ``cluster`` (``suanwang topology kueue-setup``)."""

    context: str
    namespace: str = "default"
    queue: str | None = None
    scheduler: str | None = None
    backend: str = "direct"
    cluster: str | None = None  # the member (Karmada) or worker (MultiKueue) cluster; default: the site id


@dataclass(frozen=True)
class Site:
    """A compute centre. ``lat``/``lon`` default to its city's; ``green_share`` is 0–1."""

    id: SiteId
    city: CityName
    tier: Tier
    pue: float
    power_cap_kw: float
    grid_zone: ZoneId
    green_share: float
    pools: tuple[Pool, ...]
    kube: KubeTarget
    metro: Metro = field(default_factory=Metro)
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Link:
    """A link between two endpoints (city names or site ids). ``latency_ms`` is one-way."""

    a: str
    b: str
    kind: LinkKind
    bandwidth_gbps: float
    latency_ms: float | None = None
    jitter_us: float | None = None


@dataclass(frozen=True)
class Topology:
    """The whole network as loaded from a file; see :mod:`topology.graph` for its queries."""

    name: str
    accelerators: dict[AcceleratorModel, Accelerator]
    cities: dict[CityName, City]
    grid_zones: dict[ZoneId, GridZone]
    sites: tuple[Site, ...]
    links: tuple[Link, ...]
    source: str = "<memory>"

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def site_coordinates(self, site: Site) -> tuple[float, float]:
        """(lat, lon) of a site, falling back to its city's."""
        city = self.cities[site.city]
        return (site.lat if site.lat is not None else city.lat, site.lon if site.lon is not None else city.lon)
