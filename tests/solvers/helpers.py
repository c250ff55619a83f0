"""Builders for small placement problems on the ``mini`` topology of tests/conftest.py."""

from __future__ import annotations

from datetime import datetime

from suanwang.solvers.problem import (
    AcceleratorRequest,
    Container,
    DataLocation,
    Deterministic,
    Job,
    JobId,
    Problem,
    State,
    Weights,
)

NOW = datetime(2026, 11, 25, 3, 0)


def job(
    jid: str,
    count: int = 8,
    per_node: int = 8,
    models: tuple[str, ...] = (),
    *,
    kind: str = "training",
    priority: int = 1,
    duration_h: float = 4.0,
    memory: float = 0.0,
    origin: str | None = None,
    slo: float | None = None,
    det: tuple[float, float] | None = None,
    data: tuple[str, float] | None = None,
    **kw,
) -> Job:
    if origin is not None:
        kind = "inference"
    kw.setdefault("container", Container("reg.example/workload:1"))
    return Job(
        JobId(jid),
        kind,
        "lab",
        priority,
        AcceleratorRequest(count, per_node, models, memory),
        duration_h=duration_h,
        origin=origin,
        latency_slo_ms=slo,
        deterministic=Deterministic(*det) if det else None,
        data=DataLocation(*data) if data else None,
        **kw,
    )


def problem(topology, jobs, state: State | None = None, **kw) -> Problem:
    return Problem(
        topology,
        tuple(jobs),
        kw.pop("now", NOW),
        state,
        kw.pop("weights", Weights()),
        time_limit_s=kw.pop("time_limit_s", 2.0),
        **kw,
    )
