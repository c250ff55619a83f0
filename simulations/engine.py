"""Discrete-event simulation of the network in simulated time.

Events: arrivals, placement ticks every ``interval_min`` (the same solvers as the scheduler, on the
queue and the nodes' current occupancy), completions, and centre failures and repairs. Occupancy is
kept per node, as the placement engine sees it. A failure kills the site's running jobs (they
return to the queue) and takes its nodes away until the repair. A job waiting longer than
``max_wait_h``, or past the point where its deadline can still be met, is rejected.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from simulations.workload import Arrival
from solvers import solve
from solvers.ledger import pool_nodes
from solvers.problem import Job, PoolState, Problem, State, Weights
from topology.graph import graph_for
from topology.model import Topology
from topology.totals import site_totals


@dataclass(frozen=True)
class Policy:
    solver: str = "greedy"
    interval_min: float = 10.0
    time_limit_s: float = 1.0
    weights: Weights = field(default_factory=Weights)
    max_wait_h: float = 72.0


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
    start: datetime
    end: datetime


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
    series_t: list[datetime] = field(default_factory=list)
    series_queue: list[int] = field(default_factory=list)
    series_util_site: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    series_util_tier: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    carbon_by_hour: dict[datetime, float] = field(default_factory=lambda: defaultdict(float))
    solve_seconds: float = 0.0
    events: int = 0


class Simulation:
    def __init__(
        self,
        topology: Topology,
        arrivals: list[Arrival],
        start: datetime,
        hours: float,
        policy: Policy,
        failures: list[Failure] | None = None,
        progress: Callable[[float], None] | None = None,
        inference_on_time_min: float = 10.0,
        outages: list[LinkOutage] | None = None,
    ) -> None:
        self.topo, self.policy, self.start = topology, policy, start
        self.end = start + timedelta(hours=hours)
        self.arrivals, self.failures, self.outages = arrivals, failures or [], outages or []
        self.base_topo = topology
        self.links_down: set[int] = set()
        self.progress = progress
        self.on_time = timedelta(minutes=inference_on_time_min)
        self.capacity = {k: dict(v) for k, v in pool_nodes(topology, None).items()}
        self.free = {k: dict(v) for k, v in self.capacity.items()}
        self.sites = {s.id: s for s in topology.sites}
        self.cards = {s.id: site_totals(topology, s).cards for s in topology.sites}
        self.down: set[str] = set()
        self.queue: dict[str, tuple[datetime, Job]] = {}
        self.running: dict[str, Run] = {}
        self.out = Outcome()
        self._seq = itertools.count()
        self._events: list = []
        self._dirty = True  # something changed since the last placement attempt

    # -- events -------------------------------------------------------------------------------------
    def _push(self, at: datetime, kind: str, payload) -> None:
        heapq.heappush(self._events, (at, next(self._seq), kind, payload))

    def run(self) -> Outcome:
        for a in self.arrivals:
            if a.at < self.end:
                self._push(a.at, "arrive", a)
        for f in self.failures:
            self._push(f.start, "fail", f.site)
            self._push(f.end, "repair", f.site)
        for lo in self.outages:
            self._push(lo.start, "link_down", lo)
            self._push(lo.end, "link_up", lo)
        tick = self.start
        while tick < self.end:
            self._push(tick, "tick", None)
            tick += timedelta(minutes=self.policy.interval_min)
        total = (self.end - self.start).total_seconds()
        while self._events:
            at, _, kind, payload = heapq.heappop(self._events)
            if at >= self.end:
                break
            self.out.events += 1
            getattr(self, f"_on_{kind}")(at, payload)
            if self.progress and kind == "tick":
                self.progress((at - self.start).total_seconds() / total)
        self.out.still_queued = len(self.queue)
        self.out.still_running = len(self.running)
        for run in self.running.values():  # energy of what is still running, up to the end
            self._account(run, self.end)
        return self.out

    def _on_arrive(self, at: datetime, a: Arrival) -> None:
        self.out.arrivals += 1
        if a.job.kind == "inference":
            self.out.inference_arrivals += 1
        if a.job.deterministic:
            self.out.deterministic_arrivals += 1
        self.queue[a.job.id] = (at, a.job)
        self._dirty = True
        if a.job.earliest is not None and a.job.earliest > at:
            self._push(a.job.earliest, "wake", None)  # its window opens: plan again then

    def _on_wake(self, at: datetime, _payload) -> None:
        self._dirty = True

    def _on_complete(self, at: datetime, job_id: str) -> None:
        run = self.running.get(job_id)
        if run is None or run.end != at:
            return  # killed by a failure before it finished
        self._release(run, at)
        self._dirty = True
        self.out.completed += 1
        arrived = run.job.submitted_at or run.start
        self.out.completion_h.append((at - arrived).total_seconds() / 3600)

    def _on_fail(self, at: datetime, site: str) -> None:
        self.down.add(site)
        self._dirty = True
        for run in [r for r in self.running.values() if r.site == site]:
            self._release(run, at)
            self.out.preempted += 1
            self.queue[run.job.id] = (run.job.submitted_at or at, run.job)
        for key in self.free:
            if key[0] == site:
                self.free[key] = {n: 0 for n in self.free[key]}

    def _on_repair(self, at: datetime, site: str) -> None:
        self.down.discard(site)
        self._dirty = True
        for key in self.free:
            if key[0] == site:
                self.free[key] = dict(self.capacity[key])

    def _link_ids(self, lo: LinkOutage) -> set[int]:
        return {i for i, lk in enumerate(self.base_topo.links) if {lk.a, lk.b} == {lo.a, lo.b}}

    def _apply_links(self) -> None:
        """The topology with down links unusable (kept in place, so link ids stay the same)."""
        links = tuple(
            replace(lk, bandwidth_gbps=1e-9, latency_ms=1e6) if i in self.links_down else lk
            for i, lk in enumerate(self.base_topo.links)
        )
        self.topo = replace(self.base_topo, links=links)
        self._dirty = True

    def _on_link_down(self, at: datetime, lo: LinkOutage) -> None:
        ids = self._link_ids(lo)
        self.links_down |= ids
        self._apply_links()
        down = {
            f"{self.base_topo.links[i].kind}:{self.base_topo.links[i].a}-{self.base_topo.links[i].b}#{i}" for i in ids
        }
        for run in [r for r in self.running.values() if down & set(r.links)]:  # their reserved path is gone
            self._release(run, at)
            self.out.preempted += 1
            self.queue[run.job.id] = (run.job.submitted_at or at, run.job)

    def _on_link_up(self, at: datetime, lo: LinkOutage) -> None:
        self.links_down -= self._link_ids(lo)
        self._apply_links()

    def _on_tick(self, at: datetime, _payload) -> None:
        self._reject_hopeless(at)
        if self.queue and self._dirty:  # with nothing new, the same queue would get the same answer
            self._place(at)
            self._dirty = False
        self._sample(at)

    # -- placement ----------------------------------------------------------------------------------
    def _state(self) -> State:
        power: dict[str, float] = defaultdict(float)
        reserved: dict[str, float] = defaultdict(float)
        for r in self.running.values():
            power[r.site] += r.power_kw
            for lk in r.links:
                reserved[lk] += r.job.deterministic.bandwidth_gbps  # type: ignore[union-attr]
        pools = {k: PoolState(tuple(v.items())) for k, v in self.free.items()}
        return State(pools, dict(power), None, {}, tuple(self.down), dict(reserved))

    def _place(self, at: datetime) -> None:
        jobs = tuple(j for _, j in self.queue.values())
        problem = Problem(
            self.topo, jobs, at, self._state(), self.policy.weights, time_limit_s=self.policy.time_limit_s
        )
        plan = solve(problem, self.policy.solver, with_bound=False)
        self.out.solve_seconds += plan.solve_seconds + plan.build_seconds
        graph = graph_for(self.topo)
        for p in plan.placements:
            arrived, job = self.queue.pop(p.job)
            key = (p.site, p.accelerator)
            for n in p.node_names:
                self.free[key][n] -= job.accelerators.per_node
                self.out.max_overcommit = max(self.out.max_overcommit, -self.free[key][n])
            links: tuple[str, ...] = ()
            if job.deterministic and job.origin:
                route = graph.deterministic_routes_from(job.origin).get(p.site)
                links = tuple(h.link_id for h in route.hops) if route else ()
                self.out.deterministic_admitted += 1
            start = at + timedelta(hours=p.transfer_h)
            run = Run(
                job,
                p.site,
                p.accelerator,
                p.node_names,
                self._power(job, p.site, p.accelerator),
                links,
                start,
                start + timedelta(hours=job.duration_h),
            )
            self.running[job.id] = run
            self.out.placed += 1
            self.out.waits_h.append((at - arrived).total_seconds() / 3600)
            if job.kind == "inference" and at - arrived <= self.on_time:
                self.out.inference_on_time += 1
            self._push(run.end, "complete", job.id)

    def _power(self, job: Job, site: str, model: str) -> float:
        return job.accelerators.count * self.topo.accelerators[model].power_w / 1000.0 * self.sites[site].pue

    def _release(self, run: Run, at: datetime) -> None:
        self.running.pop(run.job.id, None)
        key = (run.site, run.model)
        if run.site not in self.down:
            for n in run.nodes:
                self.free[key][n] += run.job.accelerators.per_node
        self._account(run, at)

    def _account(self, run: Run, until: datetime) -> None:
        hours = max(0.0, (min(until, run.end) - run.start).total_seconds() / 3600)
        kwh = run.power_kw * hours
        site = self.sites[run.site]
        zone = self.topo.grid_zones[site.grid_zone]
        self.out.energy_kwh += kwh
        self.out.energy_by_site_kwh[run.site] += kwh
        self.out.carbon_kg += kwh * zone.carbon_at(run.start) * (1 - site.green_share)
        self.out.cost_cny += kwh * zone.price_at(run.start)

    def _reject_hopeless(self, at: datetime) -> None:
        for jid, (arrived, job) in list(self.queue.items()):
            late = job.deadline is not None and at + timedelta(hours=job.duration_h) > job.deadline
            if late or (at - arrived).total_seconds() / 3600 > self.policy.max_wait_h:
                del self.queue[jid]
                self.out.rejected += 1

    # -- sampling -----------------------------------------------------------------------------------
    def _sample(self, at: datetime) -> None:
        o = self.out
        o.series_t.append(at)
        o.series_queue.append(len(self.queue))
        busy: dict[str, float] = defaultdict(float)
        for r in self.running.values():
            if r.start <= at:
                busy[r.site] += r.job.accelerators.count
        tier_busy: dict[str, float] = defaultdict(float)
        tier_total: dict[str, float] = defaultdict(float)
        for s in self.topo.sites:
            cards = self.cards[s.id]
            o.series_util_site[s.id].append(busy[s.id] / cards if cards else 0.0)
            tier_busy[s.tier] += busy[s.id]
            tier_total[s.tier] += cards
        for tier, total in tier_total.items():
            o.series_util_tier[tier].append(tier_busy[tier] / total if total else 0.0)
        hour = at.replace(minute=0, second=0, microsecond=0)
        dt_h = self.policy.interval_min / 60
        for r in self.running.values():
            site = self.sites[r.site]
            zone = self.topo.grid_zones[site.grid_zone]
            o.carbon_by_hour[hour] += r.power_kw * dt_h * zone.carbon_at(at) * (1 - site.green_share)
