"""Demand for simulations: synthetic arrivals, and importers for real traces.

* synthetic — Poisson arrivals at ``jobs_per_hour`` shaped by a diurnal profile (busier 09–22 h),
  job shapes from :func:`simulations.synthetic.generate_jobs`;
* Azure LLM inference arrivals and the Alibaba openb pod list (see :func:`azure_llm` and
  :func:`openb_pods` for how their fields map to jobs);
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

from suanwang.errors import InputError
from suanwang.simulations.synthetic import TENANTS, generate_jobs
from suanwang.solvers.problem import AcceleratorRequest, Job, JobId
from suanwang.topology.model import Topology

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


def synthetic(
    topology: Topology,
    start: datetime,
    hours: float,
    jobs_per_hour: float,
    seed: int,
    growth_per_year: float = 0.0,
    city_weights: dict[str, float] | None = None,
) -> list[Arrival]:
    """Arrivals at ``jobs_per_hour`` (mean over a day), shaped by hour of day, growing by
    ``growth_per_year`` (0.4 = +40 % a year, compounding), with inference origins drawn by
    ``city_weights`` (default: by population)."""
    rng = random.Random(seed)
    times: list[datetime] = []
    t = 0.0
    top = max(_DIURNAL) / _NORM * (1 + growth_per_year) ** (hours / 8760)
    while True:  # thinning of a homogeneous Poisson process at the highest rate
        t += rng.expovariate(jobs_per_hour * top)
        if t >= hours:
            break
        when = start + timedelta(hours=t)
        rate = _DIURNAL[when.hour] / _NORM * (1 + growth_per_year) ** (t / 8760)
        if rng.random() < rate / top:
            times.append(when)
    shapes = generate_jobs(topology, len(times), start, seed=seed)
    if city_weights:
        cities = [c for c in city_weights if c in topology.cities]
        weights = [city_weights[c] for c in cities]
        crng = random.Random(seed + 2)
        shapes = [replace(j, origin=crng.choices(cities, weights)[0]) if j.origin else j for j in shapes]
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


def with_windows(
    arrivals: list[Arrival], share: float, slack_h: float, seed: int, checkpoint_h: float | None = None
) -> list[Arrival]:
    """Give ``share`` of the training and batch arrivals (chosen at random with ``seed``) a window
    from arrival to a deadline ``slack_h`` hours after the run would end if it started at once:
    work that may wait, as a tenant declares it in ``window:``. With ``checkpoint_h`` that work
    is also preemptible, saving its progress every so many hours."""
    rng = random.Random(seed + 2)
    out = []
    for a in arrivals:
        j = a.job
        if j.kind != "inference" and j.deadline is None and rng.random() < share:
            deadline = a.at + timedelta(hours=j.duration_h + slack_h)
            j = replace(j, earliest=a.at, deadline=deadline)
            if checkpoint_h is not None:
                j = replace(j, preemptible=True, checkpoint_h=checkpoint_h)
        out.append(Arrival(a.at, j))
    return out


def azure_llm(
    path: str | Path,
    start: datetime,
    city: str,
    hours: float | None = None,
    bucket_min: float = 5.0,
    tokens_per_card_s: float = 400.0,
    slo_ms: float = 20.0,
) -> list[Arrival]:
    """Azure LLM inference arrivals (``TIMESTAMP, ContextTokens, GeneratedTokens``) as inference
    demand at ``city``: the requests of each ``bucket_min`` window become one inference job at the
    start of the window, sized to serve the window's tokens at ``tokens_per_card_s`` per card (at
    least one card; per node at most 8), running for the window. The trace's own start is mapped
    to ``start``. ``tokens_per_card_s`` is a planning assumption (an H20-class card at moderate
    batch), to be replaced by measured serving throughput.
    """
    buckets: dict[int, int] = {}
    first = None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ts = datetime.fromisoformat(row["TIMESTAMP"][:26])
                first = first or ts
                offset_h = (ts - first).total_seconds() / 3600
                if hours is not None and offset_h >= hours:
                    break
                b = int(offset_h * 60 // bucket_min)
                buckets[b] = buckets.get(b, 0) + int(row["ContextTokens"]) + int(row["GeneratedTokens"])
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: not an Azure LLM inference trace ({e}); check the path") from e
    out = []
    for b, tokens in sorted(buckets.items()):
        cards = max(1, math.ceil(tokens / (tokens_per_card_s * bucket_min * 60)))
        per_node = min(cards, 8)
        count = per_node * math.ceil(cards / per_node)
        when = start + timedelta(minutes=b * bucket_min)
        out.append(
            Arrival(
                when,
                Job(
                    JobId(f"azure-{b:05d}"),
                    "inference",
                    "azure-llm",
                    3,
                    AcceleratorRequest(count, per_node),
                    duration_h=bucket_min / 60,
                    origin=city,
                    latency_slo_ms=slo_ms,
                    submitted_at=when,
                ),
            )
        )
    return out


def openb_pods(
    path: str | Path, start: datetime, hours: float | None = None, time_scale: float = 1.0, limit: int | None = None
) -> list[Arrival]:
    """Alibaba openb pods as jobs: ``num_gpu`` cards (a GPU share counts as one card; CPU-only pods
    are skipped), arriving at ``creation_time`` s and running until ``deletion_time`` s, both
    scaled by ``time_scale``; openb's GPU models (P100, T4, V100, A10, G2, G3) are not in the
    catalog, so any model is accepted. LS pods become inference-like batch at priority 3, others
    priority 1."""
    out = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                n = int(row["num_gpu"])
                if n == 0:
                    continue
                created = float(row["creation_time"]) * time_scale / 3600
                if hours is not None and created >= hours:
                    continue
                ended = float(row["deletion_time"]) * time_scale / 3600
                per_node = min(n, 8)
                when = start + timedelta(hours=created)
                out.append(
                    Arrival(
                        when,
                        Job(
                            JobId(row["name"]),
                            "batch",
                            row.get("qos") or "openb",
                            3 if row.get("qos") == "LS" else 1,
                            AcceleratorRequest(per_node * math.ceil(n / per_node), per_node),
                            duration_h=max(1 / 60, ended - created),
                            submitted_at=when,
                        ),
                    )
                )
                if limit is not None and len(out) >= limit:
                    break
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: not an openb pod list ({e}); check the path") from e
    return sorted(out, key=lambda a: (a.at, a.job.id))
