"""The job file's contract (the BRIEF's job format), defined once: the job loader
(:mod:`.jobfile`), the API's request bodies and ``/openapi.json`` all use these models.

Ranges: ids and tenants of letters, digits, '.', '_' and '-' (at most 63); priority 0–1,000;
1–100,000 cards per job, 1–64 per node; duration up to 8,760 h (a year); data up to 100,000 TB;
round-trip SLO up to 10,000 ms; jitter bound up to 1,000,000 µs; reserved bandwidth up to
100,000 Gbit/s; a container with up to 256 arguments and 256 environment variables of up to
32 KiB each. Times are ISO 8601; without an offset they are Jiangsu local time (UTC+8).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, ValidationInfo, field_validator

from suanwang.contract import PRINTABLE, Contract, Name, Number, Text, Time, fault, known, must_be_one_of, refs, whole

MAX_JOBS = 10_000  # jobs in one API request
MAX_FILE_JOBS = 100_000  # jobs in one file (a file is also capped at 64 MiB)
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _models(value: Any) -> Any:
    """``any`` (or nothing) allows every model: the empty list."""
    return [] if value in ("any", None) else _listed(value)


def _quantity(value: str) -> str:
    if not re.fullmatch(QUANTITY, value):
        raise fault("is not a Kubernetes quantity", 'write e.g. cpu: "16" or memory: 256Gi')
    return value


Quantity = Annotated[
    str, StringConstraints(max_length=32), AfterValidator(_quantity), Field(json_schema_extra={"pattern": QUANTITY})
]
Arg = Annotated[str, StringConstraints(max_length=32 * 1024, pattern=PRINTABLE)]
Args = Annotated[list[Arg], BeforeValidator(_listed), Field(max_length=256)]


class AcceleratorsSpec(Contract):
    count: whole(ge=1, le=100_000, description="cards")
    per_node: whole(ge=1, le=64, description="cards per node; default min(count, 8)") | None = Field(
        None, validate_default=True
    )
    models: Annotated[
        list[Annotated[Text, known("accelerators", "accelerator model", "use one of: {names} or `any`")]],
        BeforeValidator(_models),
        Field(max_length=64, description="allowed models; `any` or an empty list allows every model"),
    ] = []
    min_memory_gb: Annotated[Number, Field(ge=0, le=10_000)] = 0.0

    @field_validator("per_node")
    @classmethod
    def _divides(cls, v: int | None, info: ValidationInfo) -> int | None:
        count = info.data.get("count")
        if v is None or count is None:
            return v
        if count % v:
            raise fault(
                f"does not divide count {count}",
                f"make count a multiple of per_node (e.g. {count - count % v or v})",
            )
        return v


class DataSpec(Contract):
    location: Text
    size_tb: Annotated[Number, Field(ge=0, le=100_000)]

    @field_validator("location")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        r = refs(info)
        if r is not None and v not in r["cities"] and v not in r["sites"]:
            raise fault("unknown city or site", "name a city or a site id of the topology")
        return v


class WindowSpec(Contract):
    earliest: Time | None = None
    deadline: Time | None = None

    @field_validator("deadline")
    @classmethod
    def _after(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        earliest = info.data.get("earliest")
        if v is not None and earliest is not None and v <= earliest:
            raise fault("is not after earliest", "give a deadline later than the earliest start")
        return v


class DeterministicSpec(Contract):
    max_jitter_us: Annotated[Number, Field(gt=0, le=1e6)]
    bandwidth_gbps: Annotated[Number, Field(gt=0, le=1e5)]


class RunningSpec(Contract):
    site: Text
    accelerator: Text

    @field_validator("site")
    @classmethod
    def _site(cls, v: str, info: ValidationInfo) -> str:
        r = refs(info)
        if r is not None and v not in r["pools"]:
            raise fault("unknown site", "name a site id of the topology")
        return v

    @field_validator("accelerator")
    @classmethod
    def _pool(cls, v: str, info: ValidationInfo) -> str:
        r = refs(info)
        site = info.data.get("site")
        if r is not None and site in r["pools"] and v not in r["pools"][site]:
            raise fault(f"site {site} has no {v} pool", f"use one of: {', '.join(r['pools'][site])}")
        return v


class ContainerSpec(Contract):
    image: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")]
    command: Args = []
    args: Args = []
    env: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")], Arg], Field(max_length=256)
    ] = {}
    cpu: Quantity = "1"
    memory: Quantity = "4Gi"
    port: whole(ge=1, le=65535) = 8000


class JobSpec(Contract):
    """One job, as a `jobs:` entry of a job file or an element of an API body."""

    id: Name
    kind: Literal["training", "inference", "batch"]
    tenant: Name = "default"
    priority: whole(ge=0, le=1000) = 1
    accelerators: AcceleratorsSpec
    duration_h: Annotated[Number, Field(gt=0, le=8760, description="hours")] | None = Field(None, validate_default=True)
    data: DataSpec | None = None
    window: WindowSpec | None = None
    preemptible: Annotated[bool, Field(strict=True)] = False
    checkpoint_h: Annotated[Number, Field(gt=0, le=8760, description="hours between checkpoints")] | None = None
    origin: Text | None = Field(None, validate_default=True)
    latency_slo_ms: Annotated[Number, Field(gt=0, le=10_000, description="round trip, ms")] | None = None
    deterministic: DeterministicSpec | None = None
    submitted_at: Time | None = None
    running: RunningSpec | None = None
    container: ContainerSpec | None = None

    @field_validator("duration_h")
    @classmethod
    def _duration(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is None and info.data.get("kind") in ("training", "batch"):
            raise fault("is required", "add `duration_h:` with a number in hours")
        return v

    @field_validator("origin")
    @classmethod
    def _origin(cls, v: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if v is None:
            if kind == "inference":
                raise fault("is required for inference", "add `origin:` with the city its users are in")
            return v
        r = refs(info)
        if r is not None:
            must_be_one_of(v, r["cities"], "city", f"use a city of the topology ({', '.join(r['cities'])})")
        return v

    @field_validator("origin", "latency_slo_ms", "deterministic")
    @classmethod
    def _inference_only(cls, v: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if v is not None and kind is not None and kind != "inference":
            key = info.field_name
            raise fault(f"applies to inference only, not {kind}", f"remove `{key}` or set kind: inference")
        return v


class JobFile(Contract):
    """A job file: the jobs and, optionally, the time to plan them at."""

    plan_time: Time | None = None
    jobs: Annotated[list[JobSpec], Field(min_length=1, max_length=MAX_FILE_JOBS)]
