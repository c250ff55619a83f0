"""Discrete-event simulation of the network in simulated time.

Events: arrivals, placement ticks every ``interval_min`` (the same solvers as the scheduler, on the
queue and the nodes' current occupancy) and, with ``Policy.on_events``, a placement right after
any arrival, completion, failure or repair; completions; centre failures and repairs; link
outages. Occupancy is kept per node, as the placement engine sees it. A failure kills the site's
running jobs (they return to the queue) and takes its nodes away until the repair; a link outage
kills the deterministic jobs whose reserved path uses it. A job waiting longer than
``max_wait_h``, or past the point where its deadline can still be met, is rejected.

Bookkeeping is incremental, so a tick costs what changed, not the size of the network: pool
snapshots are rebuilt only for pools whose nodes changed, power draw, reserved bandwidth and busy
cards are kept as running sums, rejections come off a heap of expiry times, and energy, carbon and
cost are charged by :class:`~simulations.meter.Meter` when a run ends.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from suanwang.simulations.events import (
    Failure,
    GridEvent,
    LinkOutage,
    Outcome,
    Policy,
    Run,
    Started,
    origin_of,
)
from suanwang.simulations.meter import Meter
from suanwang.simulations.nominal import short_of_nominal
from suanwang.simulations.workload import Arrival
from suanwang.solvers import solve
from suanwang.solvers.forecast import outlook
from suanwang.solvers.ledger import pool_nodes
from suanwang.solvers.problem import (
    Job,
    PoolState,
    PowerLimit,
    Problem,
    Release,
    Running,
    State,
    lost_since_checkpoint,
)
from suanwang.solvers.shed import Draw, shed
from suanwang.solvers.shift import deferrable, due, promises
from suanwang.topology.graph import graph_for, link_id
from suanwang.topology.model import Topology, facility_kw
from suanwang.topology.totals import site_totals


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
        grid_events: list[GridEvent] | None = None,
        drain_h: float = 0.0,
        nominal_quotas: tuple = (),
    ) -> None:
        self.topo, self.policy, self.start = topology, policy, start
        self.arrive_until = start + timedelta(hours=hours)
        self.end = self.arrive_until + timedelta(hours=drain_h)  # queued work may finish after the last arrival
        self.arrivals, self.failures, self.outages = arrivals, failures or [], outages or []
        self.grid_events = grid_events or []
        self.limits: dict[str, PowerLimit] = {}
        self.grid_rows: dict[str, dict] = {}
        self.deferrable: set[str] = set()
        self.base_topo = topology
        self.links_down: set[int] = set()
        self.progress = progress
        self.on_time = timedelta(minutes=inference_on_time_min)
        self.capacity = {k: dict(v.free) for k, v in pool_nodes(topology, None).items()}
        self.free = {k: dict(v) for k, v in self.capacity.items()}
        self.snapshots: dict[tuple[str, str], PoolState] = {}  # pools unchanged since their snapshot
        self.sites = {s.id: s for s in topology.sites}
        self.site_index = {sid: i for i, sid in enumerate(self.sites)}
        self.cards = np.array([site_totals(topology, s).cards for s in topology.sites], dtype=float)
        self.busy = np.zeros(len(self.sites))  # cards of started runs per site
        # ∫ busy dt per site in card-seconds, each site integrated up to ``_busy_since`` (seconds
        # from the start) when its busy cards change and at every sample
        self._busy_card_s = np.zeros(len(self.sites))
        self._busy_since = np.zeros(len(self.sites))
        self._integral_rows: list[np.ndarray] = []
        self.power_kw: dict[str, float] = defaultdict(float)  # draw of placed runs per site
        self.reserved_gbps: dict[str, float] = defaultdict(float)
        self.meter = Meter(topology, start, self.end)
        self.down: set[str] = set()
        self.queue: dict[str, tuple[datetime, Job]] = {}
        self.promised: dict[str, datetime] = {}  # queued job → the start an earlier plan scheduled
        self.expiry: list[tuple[datetime, int, str, datetime]] = []  # (reject after, seq, job, arrived)
        self.running: dict[str, Run] = {}
        self.out = Outcome()
        self._busy_rows: list[np.ndarray] = []
        self._seq = itertools.count()
        self._events: list = []
        self._dirty = True  # something changed since the last placement attempt
        self._plan_at: datetime | None = None  # an on-event plan already pending at this time
        # nominal quotas (tenant, model) → cards, against which the replay measures (enforced or not)
        self.nominal = {(q.tenant, q.accelerator): q.nominal_cards for q in (nominal_quotas or policy.quotas)}

    # -- events -------------------------------------------------------------------------------------
    def _push(self, at: datetime, kind: str, payload) -> None:
        heapq.heappush(self._events, (at, next(self._seq), kind, payload))

    def run(self) -> Outcome:
        for a in self.arrivals:
            if a.at < self.arrive_until:
                self._push(a.at, "arrive", a)
        for f in self.failures:
            self._push(f.start, "fail", f.site)
            self._push(f.end, "repair", f.site)
        for lo in self.outages:
            self._push(lo.start, "link_down", lo)
            self._push(lo.end, "link_up", lo)
        for ev in self.grid_events:
            self._push(ev.announce, "grid_announce", ev)
            self._push(ev.start, "grid_start", ev)
            self._push(ev.end, "grid_end", ev)
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
        for arrived, job in self.queue.values():  # still waiting: at least this long (a wait percentile counts them)
            self.out.waits_h.append((self.end - arrived).total_seconds() / 3600)
            if job.priority >= 8:
                self.out.waits_high_h.append((self.end - arrived).total_seconds() / 3600)
            self.out.wait_by_origin_h[origin_of(job)] += (self.end - arrived).total_seconds() / 3600
            if job.id in self.deferrable:
                opens = max(arrived, job.earliest) if job.earliest else arrived
                self.out.deferrable_delay_h.append(max(0.0, (self.end - opens).total_seconds() / 3600))
        for run in self.running.values():  # energy of what is still running, up to the end
            self._account(run, self.end)
        self._finish()
        return self.out

    def _enqueue(self, at: datetime, arrived: datetime, job: Job) -> None:
        self.queue[job.id] = (arrived, job)
        limit = arrived + timedelta(hours=self.policy.max_wait_h)
        if job.deadline is not None:
            limit = min(limit, job.deadline - timedelta(hours=job.duration_h))
        heapq.heappush(self.expiry, (limit, next(self._seq), job.id, arrived))
        self._changed(at)

    def _on_arrive(self, at: datetime, a: Arrival) -> None:
        self.out.arrivals += 1
        self.out.card_h_arrived[origin_of(a.job)] += a.job.accelerators.count * a.job.duration_h
        if deferrable(a.job, at, 1.0):
            self.deferrable.add(a.job.id)
            self.out.deferrable_arrivals += 1
        if a.job.kind == "inference":
            self.out.inference_arrivals += 1
        if a.job.deterministic:
            self.out.deterministic_arrivals += 1
        self._enqueue(at, at, a.job)
        if a.job.earliest is not None and a.job.earliest > at:
            self._push(a.job.earliest, "wake", None)  # its window opens: plan again then

    def _on_wake(self, at: datetime, _payload) -> None:
        self._changed(at)

    def _on_start(self, at: datetime, run: Run) -> None:
        if self.running.get(run.job.id) is run:  # not killed while its data moved
            run.started = True
            self._busy_change(self.site_index[run.site], run.job.accelerators.count, at)
            if self.policy.shift is not None:  # for the bound on what start times could save
                self.out.runs.append(
                    Started(run.job, run.site, run.model, at, run.power_kw, run.job.id in self.deferrable)
                )

    def _on_complete(self, at: datetime, run: Run) -> None:
        if self.running.get(run.job.id) is not run:
            return  # killed by a failure before it finished
        self._release(run, at)
        self._changed(at)
        self.out.completed += 1
        arrived = run.job.submitted_at or run.start
        self.out.completion_h.append((at - arrived).total_seconds() / 3600)

    def _kill(self, runs: list[Run], at: datetime) -> None:
        for run in runs:
            self._release(run, at)
            self.out.preempted += 1
            self._enqueue(at, run.job.submitted_at or at, run.job)

    def _set_site_nodes(self, site: str, up: bool) -> None:
        for key in self.free:
            if key[0] == site:
                self.free[key] = dict(self.capacity[key]) if up else {n: 0 for n in self.free[key]}
                self.snapshots.pop(key, None)

    def _on_fail(self, at: datetime, site: str) -> None:
        self.down.add(site)
        self._changed(at)
        self._kill([r for r in self.running.values() if r.site == site], at)
        self._set_site_nodes(site, up=False)

    def _on_repair(self, at: datetime, site: str) -> None:
        self.down.discard(site)
        self._changed(at)
        self._set_site_nodes(site, up=True)

    def _link_ids(self, lo: LinkOutage) -> set[int]:
        return {i for i, lk in enumerate(self.base_topo.links) if {lk.a, lk.b} == {lo.a, lo.b}}

    def _apply_links(self, at: datetime) -> None:
        """The topology with down links unusable (kept in place, so link ids stay the same)."""
        links = tuple(
            replace(lk, bandwidth_gbps=1e-9, latency_ms=1e6) if i in self.links_down else lk
            for i, lk in enumerate(self.base_topo.links)
        )
        self.topo = replace(self.base_topo, links=links)
        self._changed(at)

    def _on_link_down(self, at: datetime, lo: LinkOutage) -> None:
        ids = self._link_ids(lo)
        self.links_down |= ids
        self._apply_links(at)
        down = {link_id(i, self.base_topo.links[i]) for i in ids}
        self._kill([r for r in self.running.values() if down & set(r.links)], at)  # their reserved path is gone

    def _on_link_up(self, at: datetime, lo: LinkOutage) -> None:
        self.links_down -= self._link_ids(lo)
        self._apply_links(at)

    # -- grid events ----------------------------------------------------------------------------
    def _site_draw(self) -> dict[str, float]:
        draw: dict[str, float] = defaultdict(float)
        for run in self.running.values():
            draw[run.site] += run.power_kw
        return draw

    def _on_grid_announce(self, at: datetime, ev: GridEvent) -> None:
        draw = sum(self._site_draw().get(s, 0.0) for s in ev.sites)
        if ev.cap_kw is not None:
            cap = ev.cap_kw
        elif ev.reduce_kw is not None:
            cap = max(0.0, draw - ev.reduce_kw)
        else:
            cap = draw * (1.0 - (ev.reduce_ratio or 0.0))
        self.limits[ev.id] = PowerLimit(ev.id, ev.sites, ev.start, ev.end, cap)
        self.grid_rows[ev.id] = {"event": ev.id, "sites": list(ev.sites), "cap_kw": cap, "draw_at_announce_kw": draw}
        self._changed(at)

    def _on_grid_start(self, at: datetime, ev: GridEvent) -> None:
        lim = self.limits[ev.id]
        running = [
            Draw(
                r.job.id,
                r.site,
                r.power_kw,
                r.job.preemptible,
                r.job.kind == "inference",
                self._lost_h(r, at),
                self._slack_h(r, at),
            )  # fmt: skip
            for r in self.running.values()
        ]
        result = shed(lim, self._site_draw(), running)
        victims = [self.running[j] for j in result.suspend]
        for run in victims:
            self._release(run, at)
            self.out.suspended += 1
            done_h = (at - run.start).total_seconds() / 3600 - self._lost_h(run, at)
            rest = replace(run.job, duration_h=max(1e-3, run.job.duration_h - max(0.0, done_h)))
            self._enqueue(at, run.job.submitted_at or at, rest)
        row = self.grid_rows[ev.id]
        row.update(draw_at_start_kw=result.draw_kw, shed_kw=result.shed_kw, shortfall_kw=result.shortfall_kw,
                   met=result.met, suspended=len(victims), why=result.why, max_over_kw=0.0)  # fmt: skip
        self._changed(at)

    def _slack_h(self, run: Run, at: datetime) -> float:
        """Hours to the job's deadline beyond the work it would still have after a suspension."""
        if run.job.deadline is None:
            return float("inf")
        left = (run.end - at).total_seconds() / 3600 + self._lost_h(run, at)
        return (run.job.deadline - at).total_seconds() / 3600 - left

    def _lost_h(self, run: Run, at: datetime) -> float:
        return lost_since_checkpoint((at - run.start).total_seconds() / 3600, run.job.checkpoint_h)

    def _on_grid_end(self, at: datetime, ev: GridEvent) -> None:
        self.limits.pop(ev.id, None)
        self._changed(at)

    def _watch_limits(self, at: datetime) -> None:
        """The most any event's sites drew above its cap during its window (0 when met)."""
        draw = None
        for lim in self.limits.values():
            if lim.start <= at < lim.end:
                draw = draw or self._site_draw()
                over = sum(draw.get(s, 0.0) for s in lim.sites) - lim.cap_kw
                row = self.grid_rows[lim.id]
                row["max_over_kw"] = max(row.get("max_over_kw", 0.0), over)

    def _changed(self, at: datetime) -> None:
        """Something the plan depends on changed: plan at the next tick, or at once on events."""
        self._dirty = True
        if self.policy.on_events and self._plan_at != at:
            self._plan_at = at
            self._push(at, "plan", None)  # after the other events of this instant

    def _on_plan(self, at: datetime, _payload) -> None:
        self._reject_hopeless(at)
        # with nothing new, the same queue would get the same answer — unless time itself matters
        if self.queue and (self._dirty or self.policy.shift is not None):
            self._place(at)
            self._dirty = False

    def _on_tick(self, at: datetime, _payload) -> None:
        self._on_plan(at, None)
        self._watch_limits(at)
        self._sample(at)

    # -- placement ----------------------------------------------------------------------------------
    def _state(self) -> State:
        pools = {}
        for key, free in self.free.items():
            snap = self.snapshots.get(key)
            if snap is None:
                snap = self.snapshots[key] = PoolState(tuple(free.items()))
            pools[key] = snap
        releases: tuple[Release, ...] = ()
        if self.policy.shift is not None:  # the replay knows when each run ends; the plan counts those
            releases = tuple(  # within one slot of now (solvers.slots.released_by), as the service does
                Release(
                    r.site,
                    r.model,
                    r.end,
                    r.job.accelerators.per_node,
                    r.nodes,
                    r.power_kw,
                    r.links,
                    r.job.deterministic.bandwidth_gbps if r.job.deterministic else 0.0,
                )  # fmt: skip
                for r in self.running.values()
                if r.site not in self.down
            )
        return State(pools, dict(self.power_kw), unusable=tuple(self.down), reserved_gbps=dict(self.reserved_gbps),
                     releases=releases)  # fmt: skip

    def _place(self, at: datetime, rounds: int = 6) -> None:
        """Plan the queue; when the plan evicts work, plan again at once (up to ``rounds`` plans) with
        what the evicted work freed, so that a sample at this instant sees where it went."""
        jobs = tuple(j for _, j in self.queue.values())
        shift, look = self.policy.shift, None
        if shift is not None:
            hours = int(shift.horizon_h + max(j.duration_h for j in jobs)) + 2
            look = outlook(self.topo, at, hours, self.policy.forecast)  # type: ignore[arg-type]
        limits = tuple(lim for lim in self.limits.values() if lim.end > at)
        if self.policy.quotas or self.policy.preempt or self.policy.tenant_weights:  # running work counts
            jobs += tuple(
                replace(r.job, running=Running(r.site, r.model, r.start, r.nodes)) for r in self.running.values()
            )
        problem = Problem(
            self.topo, jobs, at, self._state(), self.policy.weights, time_limit_s=self.policy.time_limit_s,
            shift=shift, outlook=look, limits=limits, quotas=self.policy.quotas, preempt=self.policy.preempt,
            fair_share=self.policy.tenant_weights, node_policy=self.policy.node_policy,
            due=due(self.promised, at),
        )  # fmt: skip
        t = time.perf_counter()
        plan = solve(problem, self.policy.solver, with_bound=False)
        self.out.solve_seconds += time.perf_counter() - t  # the whole call, instance build included
        self.out.plans[plan.status] += 1
        self.promised = promises(plan, self.promised, self.queue) if shift is not None else {}
        evictions = plan.evictions if rounds > 1 else ()  # the last round evicts nothing it cannot re-plan
        for e in evictions:  # stop them; they go back to the queue with the work since their checkpoint lost
            run = self.running.get(e.job)
            if run is None:
                continue
            self._release(run, at)
            self.out.evicted += 1
            self.out.evicted_lost_card_h += run.job.accelerators.count * self._lost_h(run, at)
            done_h = (at - run.start).total_seconds() / 3600 - self._lost_h(run, at)
            rest = replace(run.job, duration_h=max(1e-3, run.job.duration_h - max(0.0, done_h)))
            self._enqueue(at, run.job.submitted_at or at, rest)
        graph = graph_for(self.topo)
        for p in plan.placements:
            if p.scheduled or p.fixed:
                continue  # re-planned at the next tick, against what is known then
            arrived, job = self.queue.pop(p.job)
            key = (p.site, p.accelerator)
            free = self.free[key]
            for n in p.node_names:
                free[n] -= job.accelerators.per_node
                self.out.max_overcommit = max(self.out.max_overcommit, -free[n])
            self.snapshots.pop(key, None)
            links: tuple[str, ...] = ()
            if job.deterministic and job.origin:
                route = graph.deterministic_routes_from(job.origin).get(p.site)
                links = tuple(h.link_id for h in route.hops) if route else ()
                self.out.deterministic_admitted += 1
                for lk in links:
                    self.reserved_gbps[lk] += job.deterministic.bandwidth_gbps
            start = at + timedelta(hours=p.transfer_h)
            power = self._power(job, p.site, p.accelerator)
            run = Run(
                job, p.site, p.accelerator, p.node_names, power, links, start, start + timedelta(hours=job.duration_h)
            )
            self.running[job.id] = run
            self.power_kw[p.site] += power
            if start <= at:
                self._on_start(at, run)
            else:
                self._push(start, "start", run)
            self.out.placed += 1
            self.out.waits_h.append((at - arrived).total_seconds() / 3600)
            if job.priority >= 8:
                self.out.waits_high_h.append((at - arrived).total_seconds() / 3600)
            self.out.placed_value += (
                job.priority * job.accelerators.count * self.topo.accelerators[p.accelerator].pflops
            )
            self.out.wait_by_origin_h[origin_of(job)] += (at - arrived).total_seconds() / 3600
            self.out.card_h_placed[origin_of(job)] += job.accelerators.count * job.duration_h
            if job.id in self.deferrable:
                opens = max(arrived, job.earliest) if job.earliest else arrived
                self.out.deferrable_delay_h.append(max(0.0, (at - opens).total_seconds() / 3600))
            if job.kind == "inference" and at - arrived <= self.on_time:
                self.out.inference_on_time += 1
            self._push(run.end, "complete", run)
        if evictions and self.queue:  # plan again, with what they freed
            self._place(at, rounds - 1)

    def _short_of_nominal(self, at: datetime) -> bool:
        """Whether a tenant's job waited two planning intervals short of its nominal quota
        (:mod:`suanwang.simulations.nominal`)."""
        return short_of_nominal(
            at, self.running.values(), self.queue.values(), self.free, self.nominal,
            timedelta(minutes=2 * self.policy.interval_min),
            lambda j: j.accelerators.models or tuple(self.topo.accelerators),
        )  # fmt: skip

    def _jain(self) -> float:
        """Jain's fairness index of the cards each tenant with demand runs, divided by its weight:
        1 when every such tenant has the same weighted share, 1/n when one has it all."""
        weight = dict(self.policy.tenant_weights)
        alloc: dict[str, float] = {j.tenant: 0.0 for _, j in self.queue.values()}
        for r in self.running.values():
            alloc[r.job.tenant] = alloc.get(r.job.tenant, 0.0) + r.job.accelerators.count
        x = [v / weight.get(t, 1.0) for t, v in alloc.items()]
        sq = sum(v * v for v in x)
        return (sum(x) ** 2) / (len(x) * sq) if sq > 0 else 1.0

    def _power(self, job: Job, site: str, model: str) -> float:
        return facility_kw(job.accelerators.count, self.topo.accelerators[model], self.sites[site].pue)

    def _release(self, run: Run, at: datetime) -> None:
        self.running.pop(run.job.id, None)
        key = (run.site, run.model)
        if run.site not in self.down:
            free = self.free[key]
            for n in run.nodes:
                free[n] += run.job.accelerators.per_node
            self.snapshots.pop(key, None)
        self.power_kw[run.site] -= run.power_kw
        if abs(self.power_kw[run.site]) < 1e-6:
            self.power_kw[run.site] = 0.0  # no drift left behind by the running sum
        for lk in run.links:
            self.reserved_gbps[lk] -= run.job.deterministic.bandwidth_gbps  # type: ignore[union-attr]
        if run.started:
            self._busy_change(self.site_index[run.site], -run.job.accelerators.count, at)
        self._account(run, at)

    def _account(self, run: Run, until: datetime) -> None:
        kwh, kg, cny = self.meter.add(run.site, run.power_kw, run.start, min(until, run.end))
        if run.job.id in self.deferrable:
            o = self.out
            o.deferrable_energy_kwh += kwh
            o.deferrable_carbon_kg += kg
            o.deferrable_cost_cny += cny
            if until >= run.end and run.job.deadline is not None and run.end > run.job.deadline:
                o.deadline_misses += 1

    def _reject_hopeless(self, at: datetime) -> None:
        """Reject jobs that waited past ``max_wait_h`` or can no longer meet their deadline."""
        while self.expiry and self.expiry[0][0] < at:
            _, _, jid, arrived = heapq.heappop(self.expiry)
            entry = self.queue.get(jid)
            if entry is not None and entry[0] == arrived:
                del self.queue[jid]
                self.out.rejected += 1
                if jid in self.deferrable:
                    self.out.deadline_misses += 1
                self.out.waits_h.append((at - arrived).total_seconds() / 3600)  # it waited, then gave up
                if entry[1].priority >= 8:
                    self.out.waits_high_h.append((at - arrived).total_seconds() / 3600)
                self.out.wait_by_origin_h[origin_of(entry[1])] += (at - arrived).total_seconds() / 3600

    # -- sampling -----------------------------------------------------------------------------------
    def _integrate(self, at: datetime, sites: int | slice = slice(None)) -> None:
        """∫ busy dt of ``sites`` (an index, or all) up to ``at``."""
        t = (at - self.start).total_seconds()
        self._busy_card_s[sites] += self.busy[sites] * (t - self._busy_since[sites])
        self._busy_since[sites] = t

    def _busy_change(self, i: int, cards: int, at: datetime) -> None:
        self._integrate(at, i)
        self.busy[i] += cards

    def _sample(self, at: datetime) -> None:
        self.out.series_t.append(at)
        self.out.series_queue.append(len(self.queue))
        if self.policy.tenant_weights:
            self.out.series_jain.append(self._jain())
        if self.nominal:
            short = self._short_of_nominal(at)
            self.out.nominal_ticks += 1
            self.out.nominal_short_ticks += short
            self.out.series_nominal_short.append(short)
        self._busy_rows.append(self.busy.copy())
        self._integrate(at)
        self._integral_rows.append(self._busy_card_s.copy())

    def _finish(self) -> None:
        """Utilisation series per site and tier, and the metered totals, into the outcome."""
        o, m = self.out, self.meter
        busy = np.array(self._busy_rows).reshape(len(self._busy_rows), len(self.sites))
        util = busy / np.maximum(self.cards, 1)  # a site without cards is never busy
        # busy cards averaged over the time since the previous sample (the first: at its instant)
        ints = np.array(self._integral_rows).reshape(len(self._integral_rows), len(self.sites))
        span = np.diff([(t - self.start).total_seconds() for t in o.series_t])
        mean = busy.copy()
        mean[1:] = np.diff(ints, axis=0) / np.maximum(span, 1e-9)[:, None]
        for sid, i in self.site_index.items():
            o.series_util_site[sid] = util[:, i].tolist()
            o.series_util_mean_site[sid] = (mean[:, i] / max(self.cards[i], 1)).tolist()
        for tier in sorted({s.tier for s in self.sites.values()}):
            cols = [i for sid, i in self.site_index.items() if self.sites[sid].tier == tier]
            total = self.cards[cols].sum()
            o.series_util_tier[tier] = (busy[:, cols].sum(axis=1) / total if total else np.zeros(len(busy))).tolist()
            o.series_util_mean_tier[tier] = (
                mean[:, cols].sum(axis=1) / total if total else np.zeros(len(mean))
            ).tolist()
        o.energy_kwh, o.carbon_kg, o.cost_cny = m.energy_kwh, m.carbon_kg, m.cost_cny
        o.hours, o.power_by_hour_kw = list(m.hours), list(m.energy_hour_kwh)  # kWh in one hour = mean kW
        o.grid = list(self.grid_rows.values())
        o.energy_by_site_kwh.update(m.energy_by_site_kwh)
        o.carbon_by_hour.update(m.carbon_by_hour())
