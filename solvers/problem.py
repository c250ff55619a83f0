"""Inputs and outputs of placement: jobs, current state, weights, the problem and the plan.

A job asks for ``count`` accelerators at ``per_node`` per node (``count / per_node`` nodes, all in
one site: gang start) of an allowed model with enough memory. Inference jobs name an ``origin``
city and a round-trip ``latency_slo_ms``; deterministic ones also need a CENI path with bounded
summed jitter and reserve ``bandwidth_gbps`` on every link of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, NewType

from suanwang.timeutil import CST
from suanwang.topology.model import Topology

JobId = NewType("JobId", str)
JobKind = Literal["training", "inference", "batch"]
JOB_KINDS: tuple[JobKind, ...] = ("training", "inference", "batch")


@dataclass(frozen=True)
class AcceleratorRequest:
    """``count`` cards, ``per_node`` on each node; ``models`` empty means any model."""

    count: int
    per_node: int
    models: tuple[str, ...] = ()
    min_memory_gb: float = 0.0

    @property
    def nodes(self) -> int:
        return self.count // self.per_node


@dataclass(frozen=True)
class DataLocation:
    """Where a job's input lives (a city name or a site id) and how much, in TB."""

    location: str
    size_tb: float


@dataclass(frozen=True)
class Deterministic:
    """A reserved CENI path: summed jitter ≤ ``max_jitter_us``, ``bandwidth_gbps`` reserved."""

    max_jitter_us: float
    bandwidth_gbps: float


@dataclass(frozen=True)
class Running:
    """Where an already running job is (it is fixed: never moved by a plan)."""

    site: str
    accelerator: str
    started_at: datetime | None = None  # when it started running (for the work a restart loses)
    nodes: tuple[str, ...] = ()  # the nodes it holds, each with its per-node cards (empty: not known)


@dataclass(frozen=True)
class Container:
    """What runs: image, command and args, environment, CPU and memory requests, service port."""

    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cpu: str = "1"
    memory: str = "4Gi"
    port: int = 8000


@dataclass(frozen=True)
class Job:
    """A job as the job file gives it, normalised: times local, sizes in the units of the field names."""

    id: JobId
    kind: JobKind
    tenant: str
    priority: int
    accelerators: AcceleratorRequest
    duration_h: float = 1.0
    data: DataLocation | None = None
    earliest: datetime | None = None
    deadline: datetime | None = None
    preemptible: bool = False
    origin: str | None = None
    latency_slo_ms: float | None = None
    deterministic: Deterministic | None = None
    submitted_at: datetime | None = None
    running: Running | None = None
    container: Container | None = None
    checkpoint_h: float | None = None  # hours between the job's checkpoints (what a restart loses)


@dataclass(frozen=True)
class PoolState:
    """Free cards on each node of one pool (node name → free cards).

    A snapshot is immutable, so the views solvers read (by name, by free level, sorted, binary
    blocks) are computed once per snapshot; a caller that keeps unchanged pools' snapshots from
    one plan to the next pays for them once.
    """

    free_per_node: tuple[tuple[str, int], ...]

    @cached_property
    def free(self) -> dict[str, int]:
        """Node name → free cards, in name order; a negative reading counts as 0."""
        out = dict(sorted(self.free_per_node))
        if out and min(out.values()) < 0:
            out = {name: max(0, f) for name, f in out.items()}
        return out

    @cached_property
    def stacks(self) -> dict[int, tuple[str, ...]]:
        """Free cards → node names in reverse name order (popping the end yields names in order)."""
        out: dict[int, list[str]] = {}
        for name, f in reversed(self.free.items()):
            out.setdefault(f, []).append(name)
        return {f: tuple(names) for f, names in out.items()}

    @cached_property
    def level_counts(self) -> dict[int, int]:
        """Free cards → how many nodes have that many free."""
        return {f: len(names) for f, names in self.stacks.items()}

    @cached_property
    def free_ascending(self) -> tuple[int, ...]:
        return tuple(sorted(self.free.values()))

    @cached_property
    def free_cards(self) -> int:
        return sum(max(0, f) for _, f in self.free_per_node)

    @cached_property
    def bit_counts(self) -> dict[int, int]:
        """Bit ``b`` → nodes whose free cards have bit ``b`` set (their binary blocks of ``2^b``)."""
        return count_bits((f, len(names)) for f, names in self.stacks.items())


def count_bits(free_with_counts: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Bit ``b`` → nodes holding a binary block of ``2^b``, from (free cards, nodes with that many)."""
    out: dict[int, int] = {}
    for f, n in free_with_counts:
        b = 0
        while f >> b:
            if (f >> b) & 1:
                out[b] = out.get(b, 0) + n
            b += 1
    return out


@dataclass(frozen=True)
class Release:
    """What a running job gives back when it ends at ``at``: ``per_node`` cards on each of its
    ``nodes``, its power, and its bandwidth on ``links``. Only a caller that knows when work ends
    (the simulator; the service, from when work started and its ``duration_h``) lists releases;
    start-time decisions count those within one slot of now (:func:`.slots.released_by`), and
    running work holds the rest of its capacity for the whole horizon."""

    site: str
    accelerator: str
    at: datetime
    per_node: int
    nodes: tuple[str, ...]
    power_kw: float
    links: tuple[str, ...] = ()
    bandwidth_gbps: float = 0.0


@dataclass(frozen=True)
class State:
    """Current usage: free cards per node per (site, accelerator model), and power draw per site.

    Pools absent from the state are empty (all cards free): whoever builds a State from live data
    lists the sites it knows nothing fresh about in ``unusable`` (see
    :func:`suanwang.collectors.statefile.snapshot_state`); sites absent draw no power.
    """

    pools: dict[tuple[str, str], PoolState] = field(default_factory=dict)
    power_draw_kw: dict[str, float] = field(default_factory=dict)
    observed_at: datetime | None = None
    # measured (city, city) -> (RTT ms, jitter µs or None), from blackbox probes
    links: dict[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)
    unusable: tuple[str, ...] = ()  # sites with no fresh state (or drained, or down): no free cards
    why: dict[str, str] = field(default_factory=dict)  # site -> why it offers nothing
    reserved_gbps: dict[str, float] = field(default_factory=dict)  # link id -> bandwidth already reserved
    releases: tuple[Release, ...] = ()  # capacity running work gives back, for start-time decisions


@dataclass(frozen=True)
class Weights:
    """Objective weights and prices.

    Score of placing a job = ``value_per_pflops`` × priority × placed PFLOPS − cost in CNY, where
    cost = energy × tariff + carbon kg × ``carbon_cny_per_kg`` + TB moved × ``transfer_cny_per_tb``.
    With the defaults, placing any job is worth more than the cost of running it for
    up to ≈ 250 hours, so placed compute comes first and cost decides among equal placements.
    """

    value_per_pflops: float = 1000.0
    # China's national carbon market traded ≈ ¥60–100/t in 2024–2025 (MEE ETS reports): ¥0.1/kg.
    carbon_cny_per_kg: float = 0.1
    # Inter-city data movement, planning assumption (leased-line cost amortised per TB).
    transfer_cny_per_tb: float = 5.0
    # Priority grows by one step for every ``aging_step_h`` hours a job has waited (anti-starvation).
    aging_step_h: float = 6.0
    # Start-time decisions: what each hour a job's start is put off costs (at least ¥0.01 a slot, so
    # that equal costs start early). Larger values keep jobs whose saving is small running now: the
    # saving of a deferral grows with the job's energy, this cost does not.
    wait_cny_per_h: float = 0.01


@dataclass(frozen=True)
class Shift:
    """Start-time decisions over a rolling horizon of ``horizon_h`` hours in slots of ``slot_min``."""

    horizon_h: float = 48.0
    slot_min: float = 60.0
    # False: node rows that every node-level plan meets (9') instead of the exact block rows —
    # a relaxation, for a perfect-foresight reference whose plan is never carried out
    exact_nodes: bool = True
    # slots a job with no slack may wait for room (each costs a tenth of its value, so it never
    # waits for a price): 0 in live plans, where it simply waits for the next cycle; the oracle
    # gives it the room a replay gives it between ticks
    grace_slots: int = 0
    # a deferrable job starts now only when no later slot of its window would save more than this
    # share of what starting now costs (energy and carbon at the outlook, less the price of the
    # wait); otherwise it waits for such a slot, even where no room shows there yet (later slots
    # show only the room of now). None: it starts now whenever no later slot has room for it (the
    # oracle, which knows every later arrival)
    hold_share: float | None = 0.15

    @property
    def slot_h(self) -> float:
        return self.slot_min / 60.0

    @property
    def slots(self) -> int:
        return max(1, round(self.horizon_h / self.slot_h))


@dataclass(frozen=True)
class Outlook:
    """What the planner expects of each grid zone, hour by hour from ``start`` (an hour boundary):
    price in CNY per kWh and carbon intensity in kg CO₂ per kWh. ``source`` says where the figures
    come from (the tariff table, a forecaster, or the actual series for an oracle)."""

    start: datetime
    price_cny_per_kwh: dict[str, tuple[float, ...]]
    carbon_kg_per_kwh: dict[str, tuple[float, ...]]
    source: str = "forecast"


@dataclass(frozen=True)
class PowerLimit:
    """A grid event as the planner sees it: the facility draw of ``sites`` together stays at or
    below ``cap_kw`` from ``start`` to ``end``."""

    id: str
    sites: tuple[str, ...]
    start: datetime
    end: datetime
    cap_kw: float


@dataclass(frozen=True)
class Problem:
    """What a solver is asked: the topology, the jobs, the plan time, the live state and the weights.

    With ``shift`` the planner also decides when deferrable jobs start (:mod:`.shift`), against
    ``outlook`` (the topology's own tariff and series when absent) and within ``limits``. Jobs in
    ``due`` were scheduled by an earlier plan for a slot that has now begun: the start promised is
    not put off to a later slot again; they start as soon as capacity allows, as jobs without slack
    do (:func:`.shift.due`).
    """

    topology: Topology
    jobs: tuple[Job, ...]
    now: datetime
    state: State | None = None
    weights: Weights = field(default_factory=Weights)
    time_limit_s: float = 5.0
    workers: int = 2
    shift: Shift | None = None
    outlook: Outlook | None = None
    limits: tuple[PowerLimit, ...] = ()
    quotas: tuple = ()  # solvers.quota.Quota: tenants' quotas, rows (25)–(27)
    preempt: bool = False  # evict lower-priority running work for what is left out (solvers.preempt)
    preempt_inference: bool = False  # … inference too (operators only)
    fair_share: tuple[tuple[str, float], ...] = ()  # (tenant, weight): DRF among equal priorities (solvers.fair)
    node_policy: str = "bestfit"  # which nodes of a pool a job takes: bestfit or fragmentation (solvers.ledger)
    due: frozenset[str] = frozenset()  # job ids whose scheduled start has come


@dataclass(frozen=True)
class Placement:
    """Where one job goes: site, model, nodes, start, path and what it costs in kWh, ¥ and kg CO₂."""

    job: str
    site: str
    accelerator: str
    nodes: int
    cards: int
    node_names: tuple[str, ...]
    start: datetime
    path: tuple[str, ...]
    rtt_ms: float | None
    energy_kwh: float
    cost_cny: float
    carbon_kg: float
    transfer_h: float = 0.0
    fixed: bool = False
    scheduled: bool = False  # starts later (a slot of the horizon); nodes are chosen when it starts
    note: str = ""  # why it starts when it does

    def to_dict(self) -> dict[str, object]:
        return {
            "job": self.job,
            "site": self.site,
            "accelerator": self.accelerator,
            "nodes": self.nodes,
            "cards": self.cards,
            "node_names": list(self.node_names),
            "start": self.start.replace(tzinfo=CST).isoformat(),  # times carry their zone (UTC+8)
            "path": list(self.path),
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 4),
            "energy_kwh": round(self.energy_kwh, 3),
            "cost_cny": round(self.cost_cny, 2),
            "carbon_kg": round(self.carbon_kg, 3),
            "transfer_h": round(self.transfer_h, 4),
            "fixed": self.fixed,
            "scheduled": self.scheduled,
            "note": self.note,
        }


@dataclass(frozen=True)
class Unplaced:
    """A job left out, with the reasons in plain words (which constraint, by how much)."""

    job: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"job": self.job, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Plan:
    """A placement plan (the BRIEF's plan contract).

    ``objective`` is the placed priority-weighted compute (Σ priority × PFLOPS); ``bound`` an upper
    bound on it (the solver's or the LP relaxation's); ``gap`` = (bound − objective) / bound.
    """

    solver: str
    status: str
    objective: float
    bound: float | None
    gap: float | None
    solve_seconds: float
    placements: tuple[Placement, ...]
    unplaced: tuple[Unplaced, ...]
    score: float = 0.0
    build_seconds: float = 0.0
    score_bound: float | None = None  # time-indexed plans: an upper bound on ``score``
    evictions: tuple = ()  # solvers.preempt.Eviction: running work to stop for what is left out

    @property
    def cost_cny(self) -> float:
        return sum(p.cost_cny for p in self.placements if not p.fixed)

    def to_dict(
        self, listed: Callable[[Sequence[Any], Callable[[Any], dict]], list] | None = None
    ) -> dict[str, object]:
        """The plan contract as data; ``listed(items, to_dict)`` makes its long lists (default:
        lists of dicts; a writer may pass one that makes each dict as it is written)."""
        listed = listed or (lambda items, fn: [fn(x) for x in items])
        new = [p for p in self.placements if not p.fixed]
        return {
            "solver": self.solver,
            "status": self.status,
            "objective": round(self.objective, 4),
            "bound": None if self.bound is None else round(self.bound, 4),
            "gap": None if self.gap is None else round(self.gap, 6),
            "solve_seconds": round(self.solve_seconds, 4),
            "build_seconds": round(self.build_seconds, 4),
            "score": round(self.score, 3),
            "score_bound": None if self.score_bound is None else round(self.score_bound, 3),
            "summary": {
                "placed": len(new),
                "scheduled": sum(1 for p in new if p.scheduled),
                "fixed": len(self.placements) - len(new),
                "unplaced": len(self.unplaced),
                "cards": sum(p.cards for p in new),
                "energy_kwh": round(sum(p.energy_kwh for p in new), 3),
                "cost_cny": round(self.cost_cny, 2),
                "carbon_kg": round(sum(p.carbon_kg for p in new), 3),
            },
            "placements": listed(self.placements, Placement.to_dict),
            "unplaced": listed(self.unplaced, Unplaced.to_dict),
            "evictions": listed(self.evictions, lambda e: e.to_dict()),
        }


def lost_since_checkpoint(ran_h: float, checkpoint_h: float | None) -> float:
    """Hours of work a restart loses after ``ran_h`` hours of running: those since the last
    checkpoint, or all of them without checkpoints."""
    ran_h = max(0.0, ran_h)
    return ran_h % checkpoint_h if checkpoint_h else ran_h
