"""What the what-if engine takes and gives: its policy, the scenario's events (grid events,
centre failures, link outages), a run in progress, and the outcome it reports."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from suanwang.solvers.problem import Job, Shift, Weights


@dataclass(frozen=True)
class Policy:
    """How the simulated scheduler plans: which solver, every ``interval_min`` minutes, and with
    ``on_events`` also at once after arrivals, completions, failures and repairs."""

    solver: str = "greedy"
    interval_min: float = 10.0
    time_limit_s: float = 1.0
    weights: Weights = field(default_factory=Weights)
    max_wait_h: float = 72.0
    on_events: bool = False
    shift: Shift | None = None  # decide start slots of deferrable jobs against the outlook
    forecast: str = "weekly"  # carbon outlook: weekly, anchored, persistence or oracle (solvers.forecast)
    quotas: tuple = ()  # solvers.quota.Quota: tenants' quotas the plans keep to
    preempt: bool = False  # evict lower-priority running work for what is left out (solvers.preempt)
    tenant_weights: tuple[tuple[str, float], ...] = ()  # fair share among equals, and Jain's index
    node_policy: str = "bestfit"  # which nodes of a pool a job takes: bestfit or fragmentation


def origin_of(job: Job) -> str:
    """The city a job's demand comes from: its origin, else where its data is, else ""."""
    return job.origin or (job.data.location if job.data is not None else "")


@dataclass(frozen=True)
class GridEvent:
    """A grid event in a scenario: from ``announce`` on, the draw of ``sites`` must stay at or
    below a cap from ``start`` to ``end``: ``cap_kw``, or the draw at announcement less
    ``reduce_kw`` or times ``1 − reduce_ratio``."""

    id: str
    sites: tuple[str, ...]
    announce: datetime
    start: datetime
    end: datetime
    cap_kw: float | None = None
    reduce_kw: float | None = None
    reduce_ratio: float | None = None


@dataclass(frozen=True)
class Failure:
    site: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class LinkOutage:
    a: str
    b: str
    start: datetime
    end: datetime


@dataclass
class Run:
    job: Job
    site: str
    model: str
    nodes: tuple[str, ...]
    power_kw: float
    links: tuple[str, ...]
    start: datetime  # after any data transfer
    end: datetime
    started: bool = False


@dataclass(frozen=True)
class Started:
    """A run as it started, in a time-shifting replay (for :mod:`.shift_bound`)."""

    job: Job
    site: str
    model: str
    at: datetime
    power_kw: float
    deferrable: bool


@dataclass
class Outcome:
    """What happened, for the report and the conservation checks."""

    arrivals: int = 0
    placed: int = 0
    completed: int = 0
    rejected: int = 0
    preempted: int = 0
    still_queued: int = 0
    still_running: int = 0
    waits_h: list[float] = field(default_factory=list)
    completion_h: list[float] = field(default_factory=list)
    energy_kwh: float = 0.0
    energy_by_site_kwh: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    carbon_kg: float = 0.0
    cost_cny: float = 0.0
    inference_arrivals: int = 0
    inference_on_time: int = 0
    deterministic_arrivals: int = 0
    deterministic_admitted: int = 0
    max_overcommit: int = 0  # most cards ever placed beyond a node's size (must stay 0)
    deferrable_arrivals: int = 0
    deferrable_delay_h: list[float] = field(default_factory=list)  # start − window opening, per start
    deferrable_energy_kwh: float = 0.0
    deferrable_carbon_kg: float = 0.0
    deferrable_cost_cny: float = 0.0
    deadline_misses: int = 0  # deferrable jobs finished after their deadline or given up
    power_by_hour_kw: list[float] = field(default_factory=list)  # mean draw in each hour of the run
    hours: list[datetime] = field(default_factory=list)
    grid: list[dict] = field(default_factory=list)  # per grid event: cap, draw, shed, met
    suspended: int = 0
    series_t: list[datetime] = field(default_factory=list)
    series_queue: list[int] = field(default_factory=list)
    # share of cards busy at each sample (a tick), right after that tick's plan started its jobs
    series_util_site: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    series_util_tier: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # the share of cards busy averaged over the time since the previous sample (every start and end
    # counted when it happens): their mean over equal ticks is the time average
    series_util_mean_site: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    series_util_mean_tier: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    carbon_by_hour: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    solve_seconds: float = 0.0
    events: int = 0
    plans: Counter[str] = field(default_factory=Counter)  # placement calls by the solver's status
    runs: list[Started] = field(default_factory=list)  # time-shifting replays: every run as it started
    # by origin city (a job's origin, else its data's location; "" for neither): hours waited by
    # every job, and card-hours arrived and placed
    wait_by_origin_h: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    card_h_arrived: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    card_h_placed: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    evicted: int = 0  # running jobs preempted for higher-priority work or reclaimed quota
    evicted_lost_card_h: float = 0.0  # card-hours of work lost since their last checkpoint
    series_jain: list[float] = field(default_factory=list)  # Jain's index over tenants with demand, per sample
    nominal_ticks: int = 0  # samples at which the nominal quotas were checked
    nominal_short_ticks: int = 0  # … and some tenant's job was short of its nominal quota (simulations.nominal)
    series_nominal_short: list[bool] = field(default_factory=list)  # per sample, when quotas are checked
    waits_high_h: list[float] = field(default_factory=list)  # waits of priority ≥ 8 jobs (as waits_h)
    placed_value: float = 0.0  # Σ priority × cards × PFLOPS per card of what was placed
