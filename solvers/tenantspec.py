"""The tenant contract, shared by ``PUT /v1/tenants/{name}``, ``suanwang tenant create -f``,
``suanwang plan --tenants`` and ``/openapi.json``::

    name: nju-ai-lab          # the tenant jobs name (letters, digits, '.', '_' and '-', at most 63)
    cohort: universities      # tenants of a cohort lend one another unused quota (optional)
    weight: 2                 # its share of contended capacity among equals (0–1,000; default 1)
    quotas:                   # cards per accelerator model (Kueue's nominalQuota and limits)
      - {accelerator: H800, nominal: 256, borrowing_limit: 128, lending_limit: 64}
      - {accelerator: Ascend910B, nominal: 512}
      - {accelerator: H20, nominal: 64, group: {tier: edge}}   # for one site group only

``borrowing_limit``: at most this many cards above nominal, borrowed from the cohort (absent: as
many as the cohort leaves unused); ``lending_limit``: at most this many of its nominal cards used
by others (absent: all while unused). Limits need a cohort. ``group`` (one of ``tier``, ``city``
or ``sites: [...]``) makes a quota hold for those sites only, with its own cohort sharing. Cards
up to 10,000,000.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from suanwang.contract import Contract, Name, Number, Text, fault, known, whole
from suanwang.solvers.quota import Quota
from suanwang.topology.model import Tier, Topology

Cards = whole(ge=0, le=10_000_000)


class GroupSpec(Contract):
    """A group of sites: a tier, a city, or named sites (exactly one)."""

    tier: Tier | None = None
    city: Annotated[Text, known("cities", "city")] | None = None
    sites: Annotated[list[Annotated[Text, known("sites", "site")]], Field(min_length=1, max_length=10_000)] | None = (
        None
    )

    @model_validator(mode="after")
    def _one(self) -> GroupSpec:
        given = [k for k in ("tier", "city", "sites") if getattr(self, k) is not None]
        if len(given) != 1:
            raise fault("give exactly one of tier, city, sites", f"keep one of {given or 'them'}")
        return self

    def resolve(self, topology: Topology) -> frozenset[str]:
        if self.sites is not None:
            return frozenset(self.sites)
        return frozenset(s.id for s in topology.sites if s.tier == self.tier or s.city == self.city)

    def key(self) -> tuple:
        return (self.tier, self.city, tuple(sorted(self.sites)) if self.sites else None)


class QuotaSpec(Contract):
    accelerator: Annotated[Text, known("accelerators", "accelerator")]
    nominal: Cards
    borrowing_limit: Cards | None = None
    lending_limit: Cards | None = None
    group: GroupSpec | None = None

    @model_validator(mode="after")
    def _lend_what_it_has(self) -> QuotaSpec:
        if self.lending_limit is not None and self.lending_limit > self.nominal:
            raise fault("lending_limit is above nominal", f"lend at most the nominal {self.nominal} cards")
        return self


class TenantSpec(Contract):
    """A tenant: its cohort, weight and quotas per accelerator model."""

    name: Name
    cohort: Name | None = None
    weight: Annotated[Number, Field(gt=0, le=1000)] = 1.0
    quotas: Annotated[list[QuotaSpec], Field(max_length=100)] = []

    @field_validator("quotas")
    @classmethod
    def _one_per_model(cls, v: list[QuotaSpec]) -> list[QuotaSpec]:
        seen = [(q.accelerator, q.group.key() if q.group else None) for q in v]
        twice = sorted({m for m, g in seen if seen.count((m, g)) > 1})
        if twice:
            raise fault(
                f"more than one quota for {', '.join(twice)} on the same sites", "give one quota per model and group"
            )
        return v

    @model_validator(mode="after")
    def _limits_need_a_cohort(self) -> TenantSpec:
        if self.cohort is None and any(
            q.borrowing_limit is not None or q.lending_limit is not None for q in self.quotas
        ):
            raise fault("borrowing and lending limits need a cohort", "add `cohort:` or drop the limits")
        return self


class TenantsFile(Contract):
    tenants: Annotated[list[TenantSpec], Field(max_length=10_000)]


def quotas_of(tenants: list[TenantSpec], topology: Topology) -> tuple[Quota, ...]:
    """The solvers' quotas for these tenants, site groups resolved on ``topology``."""
    return tuple(
        Quota(
            t.name,
            q.accelerator,
            q.nominal,
            q.borrowing_limit,
            q.lending_limit,
            t.cohort,
            q.group.resolve(topology) if q.group else None,
        )  # fmt: skip
        for t in tenants
        for q in t.quotas
    )
