"""The topology file's contract (the BRIEF's topology format), defined once: the loader
(:mod:`.loader`), the API's site bodies and ``/openapi.json`` all use these models.

Ranges (beyond them a value is a fault): TFLOPS per card 0–100,000; memory 0–10,000 GB; board
power 0–100,000 W; PUE 1.0–3.0; power caps 0–10,000,000 kW; green share 0–1; nodes per pool up
to 1,000,000 of up to 64 cards; bandwidth 0–1,000,000 Gbit/s; latency 0–1,000 ms one-way; jitter
0–1,000,000 µs; carbon 0–5 kg CO₂/kWh (every hour of a zone's ``carbon_series`` and
``carbon_forecast`` files too); a forecast feed's ``max_age_h`` 0.25–168; prices
0–100 ¥/kWh. Ids are letters, digits, '.', '_' and '-' (at most 63).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from suanwang.contract import Contract, Label, Name, Number, Text, fault, known, refs, whole
from suanwang.topology.model import LinkKind, Metro, Tier
from suanwang.topology.series import CARBON_COLUMN

Lat = Annotated[Number, Field(ge=-90, le=90)]
Lon = Annotated[Number, Field(ge=-180, le=180)]
Gbps = Annotated[Number, Field(gt=0, le=1e6, description="Gbit/s")]
LatencyMs = Annotated[Number, Field(gt=0, le=1000, description="ms, one-way")]
JitterUs = Annotated[Number, Field(ge=0, le=1e6, description="µs")]
CarbonFactor = Annotated[Number, Field(ge=0, le=5, description="kg CO2 per kWh")]


class AcceleratorSpec(Contract):
    fp16_tflops: Annotated[Number, Field(gt=0, le=1e5, description="dense FP16/BF16 TFLOPS per card")]
    memory_gb: Annotated[Number, Field(gt=0, le=1e4)]
    power_w: Annotated[Number, Field(gt=0, le=1e5, description="board power per card, W")]
    resource: Annotated[str, Field(pattern=r"^[a-z0-9.-]+/[A-Za-z0-9._-]+$", max_length=253)]


class CitySpec(Contract):
    lat: Lat
    lon: Lon


class TariffBand(Contract):
    name: Text | None = None
    start_hour: whole(ge=0, le=23)
    end_hour: whole(ge=1, le=24)
    cny_per_kwh: Annotated[Number, Field(ge=0, le=100)]
    months: list[whole(ge=1, le=12)] = []

    @field_validator("end_hour")
    @classmethod
    def _after_start(cls, v: int, info: ValidationInfo) -> int:
        start = info.data.get("start_hour")
        if start is not None and v <= start:
            raise fault("must be after start_hour", "give end_hour > start_hour")
        return v


class CarbonSeriesSpec(Contract):
    """An hourly year of the zone's carbon intensity: a CSV in Electricity Maps' format
    (:mod:`.series`), the column in g CO₂/kWh; a relative path is taken from the topology file's
    folder."""

    path: Text
    column: Text = CARBON_COLUMN


FeedAge = Annotated[Number, Field(ge=0.25, le=168, description="hours")]


class CarbonForecastSpec(CarbonSeriesSpec):
    """A forecast of the zone's carbon intensity for the hours ahead: a CSV in the same format,
    rewritten by the operator's feed and read each time a plan is made. A plan takes its hours in
    place of its own forecast while the file is at most ``max_age_h`` old (by its modification
    time); an older, missing or unreadable file is not used, and the plan forecasts as without it.
    (A scenario's archive of issued forecasts, ``changes.carbon_forecasts``, is named the same way.)"""

    max_age_h: FeedAge = 24.0


class CarbonMeasuredSpec(CarbonSeriesSpec):
    """The zone's measured intensity of the hours just past (the grid's or Electricity Maps'
    published real-time figures): a CSV in the same format, rewritten by the operator's feed and
    read each control cycle. While the file is at most ``max_age_h`` old, its hours replace the
    year series' in the accounts and in the history plans forecast from; otherwise the series is
    taken as before."""

    max_age_h: FeedAge = 3.0


class ZoneSpec(Contract):
    carbon_kg_per_kwh: CarbonFactor
    carbon_hourly_kg_per_kwh: Annotated[list[CarbonFactor], Field(min_length=24, max_length=24)] | None = None
    carbon_series: CarbonSeriesSpec | None = None
    carbon_forecast: CarbonForecastSpec | None = None
    carbon_measured: CarbonMeasuredSpec | None = None
    tariff: Annotated[list[TariffBand], Field(min_length=1, max_length=48)]

    @field_validator("tariff")
    @classmethod
    def _covers_the_day(cls, bands: list[TariffBand]) -> list[TariffBand]:
        hours = [h for b in bands if not b.months for h in range(b.start_hour, b.end_hour)]
        if sorted(hours) != list(range(24)):
            missing = sorted(set(range(24)) - set(hours))
            doubled = sorted({h for h in hours if hours.count(h) > 1})
            raise fault(
                "all-year bands must cover each hour 0–23 exactly once",
                f"adjust the bands (missing hours {missing}, overlapping hours {doubled})",
            )
        return bands


class PoolSpec(Contract):
    accelerator: Annotated[
        Text, known("accelerators", "accelerator", "use a model listed under `accelerators:` ({names})")
    ]
    nodes: whole(gt=0, le=1_000_000)
    per_node: whole(gt=0, le=64)


class KubeSpec(Contract):
    context: Text | None = None
    namespace: Label = "suanwang"
    queue: Label | None = None
    scheduler: Literal["volcano", "default-scheduler"] | None = None
    backend: Literal["direct", "karmada", "multikueue"] = "direct"
    cluster: Label | None = None

    @field_validator("cluster")
    @classmethod
    def _federated(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("backend") == "direct":
            raise fault("names a member cluster, which only a federation uses", "set backend: karmada or multikueue")
        return v

    @model_validator(mode="after")
    def _multikueue_needs_a_queue(self) -> KubeSpec:
        if self.backend == "multikueue" and not self.queue:
            raise fault("a multikueue site needs `queue:`", "name the LocalQueue on the manager cluster")
        return self


class MetroSpec(Contract):
    kind: LinkKind = Metro.kind
    bandwidth_gbps: Gbps = Metro.bandwidth_gbps
    latency_ms: LatencyMs | None = None
    jitter_us: JitterUs | None = None


class SiteSpec(Contract):
    id: Label
    city: Annotated[Text, known("cities", "city", "use one of the cities defined under `cities:` ({names})")]
    tier: Tier
    pue: Annotated[Number, Field(ge=1.0, le=3.0, description="power usage effectiveness")]
    power_cap_kw: Annotated[Number, Field(gt=0, le=1e7)]
    grid_zone: Annotated[Text, known("zones", "grid zone", "use one of: {names}")]
    green_share: Annotated[Number, Field(ge=0, le=1)] = 0.0
    pools: Annotated[list[PoolSpec], Field(min_length=1, max_length=64)]
    kube: KubeSpec | None = None
    metro: MetroSpec | None = None
    lat: Lat | None = None
    lon: Lon | None = None

    @field_validator("id")
    @classmethod
    def _not_a_city(cls, v: str, info: ValidationInfo) -> str:
        r = refs(info)
        if r is not None and v in r["cities"]:
            raise fault("site id equals a city name", "rename the site (e.g. add -hub, -city or -edge)")
        return v


class LinkSpec(Contract):
    from_: Annotated[Text, Field(alias="from")]
    to: Text
    kind: LinkKind
    bandwidth_gbps: Gbps
    latency_ms: LatencyMs | None = None
    jitter_us: JitterUs | None = None

    @field_validator("from_", "to")
    @classmethod
    def _endpoint(cls, v: str, info: ValidationInfo) -> str:
        r = refs(info)
        if r is not None and v not in r["endpoints"]:
            raise fault("unknown endpoint", "name a city under `cities:` or a site id under `sites:`")
        if info.field_name == "to" and v == info.data.get("from_"):
            raise fault("a link cannot join an endpoint to itself", "name two different endpoints")
        return v


class TopologyFile(Contract):
    """A topology: accelerator models, cities, grid zones, sites with their pools, and links."""

    name: Text | None = None
    accelerators: Annotated[dict[Name, AcceleratorSpec], Field(min_length=1, max_length=100)]
    cities: Annotated[dict[Text, CitySpec], Field(max_length=1000)]
    grid_zones: Annotated[dict[Name, ZoneSpec], Field(max_length=1000)]
    sites: Annotated[list[SiteSpec], Field(max_length=10_000)]
    links: Annotated[list[LinkSpec], Field(max_length=100_000)] = []


class GridCap(Contract):
    """What a grid event asks of sites (``sites``, or every site of ``zone``): their draw at or
    below ``cap_kw``, or ``reduce_kw`` below it, or ``reduce_ratio`` of it below — exactly one.
    Caps and reductions in kW up to 100 GW; a ratio in (0, 1]. Shared by the grid-event contract of
    the API and CLI and by scenarios."""

    sites: Annotated[list[Annotated[Text, known("sites", "site")]], Field(max_length=10_000)] = []
    zone: Annotated[Text, known("zones", "grid zone")] | None = None
    cap_kw: Annotated[Number, Field(ge=0, le=1e8)] | None = None
    reduce_kw: Annotated[Number, Field(gt=0, le=1e8)] | None = None
    reduce_ratio: Annotated[Number, Field(gt=0, le=1)] | None = None

    @model_validator(mode="after")
    def _one_cap(self) -> GridCap:
        given = [k for k in ("cap_kw", "reduce_kw", "reduce_ratio") if getattr(self, k) is not None]
        if len(given) != 1:
            raise fault("give exactly one of cap_kw, reduce_kw, reduce_ratio", f"keep one of {given or 'them'}")
        if not self.sites and self.zone is None:
            raise fault("names no site", "give `sites: [...]` or `zone:`")
        return self
