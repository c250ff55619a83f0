"""Demand for capacity planning, both ways: rows of PFLOPS from a simulation's arrivals, and
arrivals for the simulator from rows (to replay a planned year).

A job's PFLOPS are its cards times the mean PFLOPS per card of the models it accepts, weighted by
the cards of those models in the network (what it would most likely get). Arrivals over ``hours``
stand for a steady year: a row's PFLOPS is the work of its jobs divided by ``hours``.

From rows, jobs are of a standard shape per class (``SHAPES``): arrivals form a Poisson stream
whose mean load equals the row's use, seeded, so a replay is repeatable.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from suanwang.errors import InputError
from suanwang.simulations.events import origin_of
from suanwang.simulations.synthetic import TENANTS
from suanwang.simulations.workload import Arrival
from suanwang.solvers.problem import AcceleratorRequest, DataLocation, Deterministic, Job, JobId
from suanwang.topology.model import Topology

# class → (cards per job, hours per job): one node of eight cards, a training shift or an
# inference deployment of a few hours (planning shapes, not measured)
SHAPES = {"training": (8, 6.0), "inference": (8, 4.0), "deterministic": (8, 4.0)}


@dataclass(frozen=True)
class Use:
    """Average use in PFLOPS of one origin and class (with its ring and jitter bound)."""

    origin: str | None
    klass: str
    pflops: float
    rtt_slo_ms: float | None = None
    max_jitter_us: float | None = None


def pflops_per_card(topology: Topology, models: tuple[str, ...]) -> float:
    """Mean PFLOPS per card of ``models`` (any: all), weighted by their cards in ``topology``."""
    cards: dict[str, int] = defaultdict(int)
    for s in topology.sites:
        for p in s.pools:
            if not models or p.accelerator in models:
                cards[p.accelerator] += p.cards
    total = sum(cards.values())
    if total == 0:
        chosen = models or tuple(topology.accelerators)
        return sum(topology.accelerators[m].pflops for m in chosen if m in topology.accelerators) / max(1, len(chosen))
    return sum(topology.accelerators[m].pflops * n for m, n in cards.items()) / total


def uses_from_arrivals(arrivals: list[Arrival], topology: Topology, hours: float) -> list[Use]:
    """Rows of average use (PFLOPS) from the arrivals of ``hours`` hours."""
    city_of = {s.id: s.city for s in topology.sites}
    work: dict[tuple, float] = defaultdict(float)
    for a in arrivals:
        j = a.job
        pf = pflops_per_card(topology, j.accelerators.models) * j.accelerators.count * j.duration_h
        where = origin_of(j)
        where = city_of.get(where, where) or None
        if where is not None and where not in topology.cities:
            where = None
        if j.deterministic is not None:
            key = (where, "deterministic", j.latency_slo_ms, j.deterministic.max_jitter_us)
        elif j.kind == "inference":
            key = (where, "inference", j.latency_slo_ms, None)
        else:
            key = (where, "training", None, None)
        if key[1] != "training" and where is None:
            key = (None, "training", None, None)  # no place to be near: it may run anywhere
        work[key] += pf
    return [Use(o, k, w / hours, rtt, jit) for (o, k, rtt, jit), w in sorted(work.items(), key=str)]


MAX_REPLAY_JOBS = 1_000_000


def expected_jobs(uses: list[Use], topology: Topology, models: dict[str, tuple[str, ...]], hours: float) -> float:
    """How many jobs :func:`arrivals_for` would make, on average."""
    total = 0.0
    for u in uses:
        cards, dur = SHAPES[u.klass]
        per_job = cards * pflops_per_card(topology, models.get(u.klass, ())) * dur
        total += u.pflops / per_job * hours if per_job > 0 else 0.0
    return total


def arrivals_for(
    uses: list[Use], topology: Topology, models: dict[str, tuple[str, ...]], start: datetime, hours: float, seed: int
) -> list[Arrival]:
    """A repeatable Poisson stream of standard jobs whose mean load is each row's use (at most
    :data:`MAX_REPLAY_JOBS` on average, else an error saying what to lower)."""
    n = expected_jobs(uses, topology, models, hours)
    if n > MAX_REPLAY_JOBS:
        raise InputError(
            f"replaying this demand for {hours:g} h would make ≈ {n:,.0f} jobs, more than {MAX_REPLAY_JOBS:,}; "
            "lower validate.hours"
        )
    rng = random.Random(seed)
    out: list[Arrival] = []
    for i, u in enumerate(uses):
        cards, dur = SHAPES[u.klass]
        allowed = models.get(u.klass, ())
        per_job = cards * pflops_per_card(topology, allowed) * dur  # PFLOPS·h of one job
        rate = u.pflops / per_job if per_job > 0 else 0.0  # jobs per hour
        t = 0.0
        n = 0
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= hours:
                break
            at = start + timedelta(hours=t)
            job = Job(
                JobId(f"cap-{i}-{n}"),
                "training" if u.klass == "training" else "inference",
                TENANTS[i % len(TENANTS)],
                5,
                AcceleratorRequest(cards, min(cards, 8), tuple(allowed)),
                duration_h=dur,
                data=DataLocation(u.origin, 0.01) if u.klass == "training" and u.origin else None,
                origin=u.origin if u.klass != "training" else None,
                latency_slo_ms=u.rtt_slo_ms,
                deterministic=Deterministic(u.max_jitter_us, 0.1) if u.max_jitter_us is not None else None,
                submitted_at=at,
            )
            out.append(Arrival(at, job))
            n += 1
    return sorted(out, key=lambda a: (a.at, a.job.id))
