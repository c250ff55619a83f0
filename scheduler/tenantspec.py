"""The tenant contract, shared by ``PUT /v1/tenants/{name}``, ``suanwang tenant create -f``,
``suanwang plan --tenants`` and ``/openapi.json``::

    name: nju-ai-lab          # the tenant jobs name (letters, digits, '.', '_' and '-', at most 63)
    cohort: universities      # tenants of a cohort lend one another unused quota (optional)
    weight: 2                 # its share of contended capacity among equals (0–1,000; default 1)
    quotas:                   # cards per accelerator model (Kueue's nominalQuota and limits)
      - {accelerator: H800, nominal: 256, borrowing_limit: 128, lending_limit: 64}
      - {accelerator: Ascend910B, nominal: 512}

``borrowing_limit``: at most this many cards above nominal, borrowed from the cohort (absent: as
many as the cohort leaves unused); ``lending_limit``: at most this many of its nominal cards used
by others (absent: all while unused). Limits need a cohort. Cards up to 10,000,000.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from suanwang.contract import Contract, Name, Number, Text, fault, known, whole
from suanwang.solvers.quota import Quota

Cards = whole(ge=0, le=10_000_000)


class QuotaSpec(Contract):
    accelerator: Annotated[Text, known("accelerators", "accelerator")]
    nominal: Cards
    borrowing_limit: Cards | None = None
    lending_limit: Cards | None = None

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
        seen = [q.accelerator for q in v]
        twice = sorted({m for m in seen if seen.count(m) > 1})
        if twice:
            raise fault(f"more than one quota for {', '.join(twice)}", "give one quota per accelerator model")
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


def quotas_of(tenants: list[TenantSpec]) -> tuple[Quota, ...]:
    """The solvers' quotas for these tenants."""
    return tuple(
        Quota(t.name, q.accelerator, q.nominal, q.borrowing_limit, q.lending_limit, t.cohort)
        for t in tenants
        for q in t.quotas
    )
