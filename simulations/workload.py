"""Demand for simulations: synthetic arrivals, and importers for real traces.

* synthetic — Poisson arrivals at ``jobs_per_hour`` shaped by a diurnal profile (busier 09–22 h),
  job shapes from :func:`simulations.synthetic.generate_jobs`;
* PAI (``gaia-job-traces/pai-100k.csv``: ``arrival_time`` h, ``length`` h, ``cpus``) — each job
  becomes a training job asking ``cpus`` accelerator cards (at most 8 per node, rounded up to a
  whole node above 8), of any model, running ``length`` hours, arriving ``arrival_time`` hours after
  the start, submitted by one of the synthetic tenants in turn.

Growth ×k scales arrivals by thinning (k < 1) or replication with jitter (k > 1), same seed, same
result.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from simulations.synthetic import TENANTS, generate_jobs
from solvers.problem import AcceleratorRequest, Job, JobId
from topology.errors import InputError
from topology.model import Topology

# hour-of-day weight of arrivals (working hours busier), mean 1
_DIURNAL = [
    0.4,
    0.3,
    0.3,
    0.3,
    0.3,
    0.4,
    0.6,
    0.9,
    1.2,
    1.4,
    1.5,
    1.4,
    1.2,
    1.3,
    1.4,
    1.5,
    1.4,
    1.3,
    1.2,
    1.2,
    1.1,
    1.0,
    0.8,
    0.6,
]
_NORM = sum(_DIURNAL) / 24


@dataclass(frozen=True)
class Arrival:
    at: datetime
    job: Job


def synthetic(topology: Topology, start: datetime, hours: float, jobs_per_hour: float, seed: int) -> list[Arrival]:
    rng = random.Random(seed)
    times: list[datetime] = []
    t = 0.0
    peak = max(_DIURNAL) / _NORM
    while True:  # thinning of a homogeneous Poisson process at the peak rate
        t += rng.expovariate(jobs_per_hour * peak)
        if t >= hours:
            break
        when = start + timedelta(hours=t)
        if rng.random() < _DIURNAL[when.hour] / _NORM / peak:
            times.append(when)
    shapes = generate_jobs(topology, len(times), start, seed=seed)
    out = []
    for when, j in zip(times, shapes, strict=True):
        deadline = None if j.deadline is None else when + (j.deadline - start)
        out.append(Arrival(when, replace(j, submitted_at=when, deadline=deadline)))
    return out


def pai_trace(
    path: str | Path, start: datetime, hours: float | None = None, limit: int | None = None, time_scale: float = 1.0
) -> list[Arrival]:
    """Arrivals from the PAI-derived trace; ``time_scale`` < 1 compresses time (more load)."""
    out = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f)):
                at_h = float(row["arrival_time"]) * time_scale
                if hours is not None and at_h >= hours:
                    break
                cpus = max(1, int(float(row["cpus"])))
                per_node = min(cpus, 8)
                count = per_node * math.ceil(cpus / per_node)
                when = start + timedelta(hours=at_h)
                job = Job(
                    JobId(f"pai-{i:06d}"),
                    "training",
                    TENANTS[i % len(TENANTS)],
                    1 + i % 3,
                    AcceleratorRequest(count, per_node),
                    duration_h=max(1 / 60, float(row["length"])),
                    submitted_at=when,
                )
                out.append(Arrival(when, job))
                if limit is not None and len(out) >= limit:
                    break
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: not a PAI trace with arrival_time, length, cpus ({e}); check the path") from e
    return out


def grow(arrivals: list[Arrival], factor: float, seed: int) -> list[Arrival]:
    """Demand ×factor: keep each arrival with probability factor (< 1) or add jittered copies (> 1)."""
    if factor == 1.0:
        return arrivals
    rng = random.Random(seed + 1)
    out = []
    for a in arrivals:
        copies = int(factor) + (1 if rng.random() < factor - int(factor) else 0)
        for k in range(copies):
            if k == 0:
                out.append(a)
            else:
                at = a.at + timedelta(minutes=rng.uniform(0, 60))
                out.append(Arrival(at, replace(a.job, id=JobId(f"{a.job.id}+{k}"), submitted_at=at)))
    return sorted(out, key=lambda x: (x.at, x.job.id))
