"""The control loop: collect → grid events (:mod:`.gridevents`) → plan (queued jobs, with start
times over a rolling horizon against the tariff and carbon outlook; placed, submitted and
running ones fixed) → submit → reconcile → carbon accounts (:mod:`.accounting`); plan to
reconcile go through the one job lifecycle (:mod:`.lifecycle`) over the database store. Each
step commits on its own, so a failing cycle leaves the queue intact and the next cycle retries;
planning runs outside any request, in a process of its own under ``serve`` (:mod:`.planner`), so
it never blocks the API. Each cycle plans on the topology version stored last. While nothing
frees room or changes the network (no job left the placed, submitted or running states, same live
state, same drained sites, quotas and grid caps, nothing scheduled for later or evicted), a cycle
plans only the jobs that arrived since the last plan, and a cycle with none plans nothing; the
whole queue is planned after any such change and at least every ``full_every_s``
(``serve --full-plan-seconds``).

Submission goes to the sites' API servers (a kubeconfig with one context per site) or, with a
manifests folder, is written there as a dry run.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from suanwang.collectors.carbon_feed import CarbonFeeds, read_all
from suanwang.collectors.collect import collect
from suanwang.collectors.config import CollectorConfig
from suanwang.collectors.statefile import (
    snapshot_from_dict,
    snapshot_state,
    snapshot_to_dict,
    state_note,
    without_sites,
)
from suanwang.errors import InputError, SuanwangError
from suanwang.gcpause import collector_paused
from suanwang.scheduler import gridevents
from suanwang.scheduler.accounting import accrue
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.lease import Lease
from suanwang.scheduler.db.store import SqlStore
from suanwang.scheduler.jobfile import jobs_from_data
from suanwang.scheduler.jobstate import QUEUED, JobState, allowed
from suanwang.scheduler.k8s.client import SiteApi
from suanwang.scheduler.k8s.dryrun import plan_id
from suanwang.scheduler.lifecycle import Lifecycle
from suanwang.solvers import solve
from suanwang.solvers.problem import Problem, Shift, lost_since_checkpoint
from suanwang.solvers.shift import due, promises
from suanwang.solvers.slots import declared_ends
from suanwang.timeutil import parse_time
from suanwang.topology.loader import load_topology
from suanwang.topology.measured import with_measured_links

log = logging.getLogger("suanwang.loop")


@dataclass(frozen=True)
class _View:
    """What a plan depends on besides the pending jobs: the network, its live state, the sites
    left out, and the jobs that hold capacity (placed, submitted, running)."""

    topology: object
    live_state: object
    drained: dict[str, str]
    fixed: frozenset[str]


@dataclass(frozen=True)
class _Last:
    """The latest plan: what it saw, the jobs it left waiting, when the queue was last planned whole."""

    view: _View
    pending: frozenset[str]
    full_at: datetime
    unsettled: bool  # it scheduled later starts or evicted work: plan everything next time
    terms: tuple

    def settled(self, view: _View, now: datetime, full_every_s: float, queue: list[tuple[str, str]]) -> bool:
        """Whether only new arrivals need planning: nothing freed room or changed the network
        since, no placed job awaits its submission, and the last whole plan is recent."""
        return (
            not self.unsettled
            and view.topology is self.view.topology
            and view.live_state is self.view.live_state
            and view.drained == self.view.drained
            and view.fixed == self.view.fixed
            and not any(s == JobState.placed for _, s in queue)
            and (now - self.full_at).total_seconds() < full_every_s
        )

    def same_terms(self, problem: Problem) -> bool:
        return (problem.quotas, problem.fair_share, problem.limits) == self.terms


@dataclass
class CycleReport:
    at: datetime
    placed: int = 0
    submitted: int = 0
    unplaced: int = 0
    transitions: int = 0
    errors: list[str] = field(default_factory=list)
    failed_stages: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class LoopHealth:
    """Whether the control loop makes progress: a cycle completes when none of its stages failed.
    Not ready once no cycle has completed for ``stale_periods`` periods (or since the start)."""

    period_s: float = 60.0
    stale_periods: float = 3.0
    started: float = field(default_factory=time.monotonic)
    last_ok: float | None = None
    last_errors: list[str] = field(default_factory=list)
    standby: bool = False  # another replica leads: this one only serves the API
    cycles: int = 0  # cycles reported since the start, standby ones included

    def record(self, report: CycleReport) -> None:
        self.cycles += 1
        if self.standby:
            self.last_ok = time.monotonic()  # a standby waits; when it leads, it gets the full grace
            return
        if report.failed_stages:
            self.last_errors = report.errors[-3:]
        else:
            self.last_ok, self.last_errors = time.monotonic(), []

    def problem(self, now: float | None = None) -> str | None:
        """Why the loop is not ready, or ``None``."""
        now = time.monotonic() if now is None else now
        if self.standby:
            return None
        since = self.last_ok if self.last_ok is not None else self.started
        limit = self.stale_periods * self.period_s
        if now - since <= limit:
            return None
        what = "since the start" if self.last_ok is None else f"for {now - since:.0f} s"
        why = "; ".join(self.last_errors) or "no cycle has finished"
        return f"no control-loop cycle completed {what} (limit {limit:.0f} s): {why}"


class ControlLoop:
    def __init__(
        self,
        app,
        collector: CollectorConfig | None = None,
        apis: dict[str, SiteApi] | None = None,
        manifests_dir: Path | None = None,
        time_limit_s: float = 5.0,
        unreachable_after_s: float = 300.0,
        assume_empty: bool = False,
        running_grace_s: float = 900.0,
        lease: Lease | None = None,
        shift: Shift | None = Shift(),
        forecast: str = "weekly",
        preempt_inference: bool = False,
        full_every_s: float = 300.0,
    ) -> None:
        self.app, self.collector = app, collector
        self.shift, self.forecast = shift, forecast
        self.preempt_inference = preempt_inference  # an operator's choice: inference keeps its SLO by default
        app.state.shift, app.state.forecast = shift, forecast  # dry runs and explanations plan the same way
        self.time_limit_s = time_limit_s
        self._loaded: tuple[object, dict[str, tuple[dict, Any]]] = (None, {})  # (topology, key → (spec, job))
        self._last: _Last | None = None  # what the latest plan saw (incremental cycles)
        # queued job → the start a plan scheduled it for; once that start has come the job is due
        # (Problem.due): it starts as soon as capacity allows. Read again from the latest recorded
        # plan when this replica starts or takes the lead.
        self._promised: dict[str, datetime] | None = None
        self._feed_reasons: dict[tuple[str, str], str | None] = {}  # (zone, kind) -> why its feed was not taken
        self._feeds_at: tuple[Any, datetime, CarbonFeeds] | None = None  # the topology and time they were read for
        self.full_every_s = full_every_s
        self.wake = threading.Event()
        self.health = LoopHealth()
        app.state.loop_health = self.health
        self.lease = lease  # with several replicas: only the holder cycles, and its writes are fenced
        self.store = SqlStore(app.state.sessions, lease.fence if lease is not None else (lambda s: None))
        app.state.lease = lease
        self.lifecycle = Lifecycle(
            self.store,
            apis,
            manifests_dir=manifests_dir,
            unreachable_after_s=unreachable_after_s,
            running_grace_s=running_grace_s,
            on_transition=lambda target: app.state.metrics.transitions.labels(target).inc(),
        )
        app.state.wake = self.wake.set
        self._start_state(assume_empty)

    def _start_state(self, assume_empty: bool) -> None:
        """Fail closed from the first cycle: with a collector, the last good snapshot (its age
        grows while the service was down); without one, nothing is known of any site unless the
        operator asked for the what-if of an empty network."""
        st = self.app.state
        if self.collector is None:
            why = "no collector configured; give --collector-config, or --assume-empty-sites for a what-if"
            st.live_state = (
                None if assume_empty else without_sites(None, st.topology, {s.id: why for s in st.topology.sites})
            )
            return
        body = self.store.latest_snapshot()
        if body is not None:
            snap = snapshot_from_dict(body)
            now = st.now()
            for site in snap.sites.values():
                if site.observed_at is not None:
                    site.age_s = (now - site.observed_at).total_seconds()
                    site.usable = site.usable and site.age_s <= snap.max_stale_s
                    if not site.usable:
                        site.stale, site.cause = True, site.cause or "kept from before a restart"
            st.snapshot = snap
        st.live_state = (
            snapshot_state(st.snapshot, st.topology)
            if st.snapshot
            else without_sites(None, st.topology, {s.id: "not collected yet" for s in st.topology.sites})
        )

    # -- steps ------------------------------------------------------------------------------------
    def _refresh_topology(self) -> None:
        """Plan on the topology version stored last: a site added or changed through any
        replica's API (or the API process beside this loop) is stored as a new version."""
        st = self.app.state
        if getattr(st, "topology_digest", None) is None:
            return  # a topology the database does not hold (tests, what-ifs): nothing to follow
        with st.sessions() as s:
            latest = repo.latest_topology_digest(s)
            if latest is None or latest == st.topology_digest:
                return
            row = repo.latest_topology(s)
            st.topology = load_topology(f"topology version {row.id}", text=row.yaml_text)
            st.topology_digest = row.sha256
        log.info("planning on topology version %s from now on", row.id)

    def _collect(self, now: datetime) -> None:
        self._refresh_topology()
        if self.collector is None:
            return
        st = self.app.state
        snap = collect(st.topology, self.collector, st.snapshot, now)
        st.snapshot, st.live_state = snap, snapshot_state(snap, st.topology)
        if any(not s.stale for s in snap.sites.values()):
            self.store.save_snapshot(snapshot_to_dict(snap), snap.observed_at)

    def _plan(self, now: datetime, report: CycleReport):
        st = self.app.state
        queue = self.store.queue(QUEUED)
        if not queue:
            self._last = None
            return None, None
        drained = {sid: "drained by an operator" for sid in self.store.drained()}
        drained.update({sid: "its API server does not answer" for sid in self.lifecycle.down_sites(now)})
        view = _View(st.topology, st.live_state, drained, frozenset(k for k, s in queue if s != JobState.pending))
        pending = [k for k, s in queue if s == JobState.pending]
        last = self._last
        new = pending
        if last is not None and last.settled(view, now, self.full_every_s, queue):
            new = [k for k in pending if k not in last.pending]  # the others' decisions stand
            if not new:
                return None, None  # nothing arrived and nothing freed room since the last plan
        problem = self._problem(view, None if new is pending else sorted(view.fixed) + new, now, report)
        if problem is not None and new is not pending and not last.same_terms(problem):
            problem = self._problem(view, None, now, report)  # quotas or grid caps changed: plan everything
            new = pending
        if problem is None:
            return None, None
        plan, problem = self._solve_isolating(problem, now, report)
        self._promised = promises(plan, self._promises(), {k for k, _ in queue})
        self.store.record_plan(
            plan_id(problem, plan), {**plan.to_dict(), "state": state_note(problem.state, problem.topology)}, now
        )
        out = self.lifecycle.place(problem, plan, now)
        report.placed += out.transitions
        report.transitions += out.transitions
        plan = self._evict(problem, plan, now, report)
        report.unplaced = len(plan.unplaced)
        placed = {p.job for p in plan.placements if not p.fixed and not p.scheduled}
        self._last = _Last(
            dataclasses.replace(view, fixed=view.fixed | placed),
            frozenset(pending) - placed,
            now if new is pending else last.full_at,  # type: ignore[union-attr]
            any(p.scheduled for p in plan.placements) or bool(plan.evictions),
            (problem.quotas, problem.fair_share, problem.limits),
        )
        return problem, plan

    def _problem(self, view: _View, keys: list[str] | None, now: datetime, report: CycleReport) -> Problem | None:
        """The problem over the queue (only ``keys`` of it, when given: the placed and running
        jobs and what arrived since the last plan)."""
        jobs = self._load(self.store.specs(QUEUED, keys), now, report)
        if not jobs:
            return None
        st = self.app.state
        feeds = self._feeds(now)
        topology = feeds.topology  # measured carbon: the history plans forecast from
        if st.live_state is not None and st.live_state.links:  # measured RTT and jitter, as the CLI uses them
            topology = with_measured_links(topology, st.live_state.links)
        state = without_sites(st.live_state, st.topology, view.drained)
        if self.shift is not None and state is not None:  # later slots count work ending within one slot
            state = dataclasses.replace(state, releases=declared_ends(st.topology, jobs, now))
        return Problem(
            topology,
            tuple(jobs),
            now,
            state,
            time_limit_s=self.time_limit_s,
            preempt=True,
            preempt_inference=self.preempt_inference,
            due=due(self._promises(), now),
            **gridevents.plan_terms(
                self.store.sessions, self.shift, self.forecast, topology, jobs, now, feeds.forecast
            ),
        )

    def _feeds(self, now: datetime) -> CarbonFeeds:
        """The zones' carbon feeds at ``now``, read once a cycle (the accrual and every plan of the
        cycle share them); their metrics, and a log line when whether a feed is taken, or the kind
        of reason why not, changes (not every cycle its age grows)."""
        topology = self.app.state.topology
        if self._feeds_at is not None and self._feeds_at[0] is topology and self._feeds_at[1] == now:
            return self._feeds_at[2]
        feeds = read_all(topology, now)
        for kind, readings in feeds.readings.items():
            self.app.state.metrics.observe_feeds(readings, kind)
            for zone, r in readings.items():
                if self._feed_reasons.get((zone, kind), "") != r.reason:
                    if r.used:
                        log.info("carbon %s feed of zone %s is used (%s)", kind, zone, r.path)
                    else:
                        log.warning("carbon %s feed of zone %s is not used: %s (%s)", kind, zone, r.problem, r.path)
                    self._feed_reasons[(zone, kind)] = r.reason
        self._feeds_at = (topology, now, feeds)
        return feeds

    def _promises(self) -> dict[str, datetime]:
        """The starts scheduled so far: this replica's, or those of the latest recorded plan (the
        whole queue is planned after any plan that scheduled a start, so the latest holds them all)."""
        if self._promised is None:
            body = self.store.latest_plan() or {}
            self._promised = {}
            for p in body.get("placements", []):
                start = parse_time(p.get("start")) if p.get("scheduled") else None
                if start is not None:
                    self._promised[p["job"]] = start - timedelta(hours=float(p.get("transfer_h") or 0.0))
        return self._promised

    def _evict(self, problem: Problem, plan, now: datetime, report: CycleReport):
        """Stop the running work the plan evicts: its workloads go, it is re-queued with its progress
        (the work up to its last checkpoint) kept and the work lost noted; what it made room for is
        placed next cycle. The plan without the evicted work."""
        st = self.app.state
        jobs = {j.id: j for j in problem.jobs}
        for e in plan.evictions:
            job = jobs.get(e.job)
            started = job.running.started_at if job is not None and job.running is not None else None
            ran_h = (now - started).total_seconds() / 3600.0 if started is not None else 0.0
            kept_h = max(0.0, ran_h - e.lost_h)
            why = f"{e.reason}; {kept_h:.2f} h of its work kept at checkpoints, {e.lost_h:.2f} h lost"
            self.store.release(e.job, JobState.pending, why[:900], now, kept_h)
            st.metrics.transitions.labels(JobState.pending).inc()
            st.metrics.preemptions.labels(e.site).inc()
            st.metrics.preempted_lost.labels(e.site).inc(e.lost_card_h * 3600.0)
            report.transitions += 1
        if plan.evictions:
            self.lifecycle.remove_stale()
            gone = {e.job for e in plan.evictions}
            plan = dataclasses.replace(plan, placements=tuple(p for p in plan.placements if p.job not in gone))
        return plan

    def _solve_isolating(self, problem: Problem, now: datetime, report: CycleReport):
        """The plan; should the solver fail on this queue, the jobs that make it fail are found
        (by halves), failed with the reason in their history, and the rest planned in this cycle."""
        try:
            return solve(problem, "cpsat"), problem
        except Exception as first:  # noqa: BLE001 — any solver fault: find who causes it
            fixed = [j for j in problem.jobs if j.running is not None]
            movable = [j for j in problem.jobs if j.running is None]

            def fails(jobs: list) -> BaseException | None:
                trial = dataclasses.replace(problem, jobs=tuple(fixed + jobs), time_limit_s=0.2)
                try:
                    solve(trial, "greedy")
                    solve(trial, "cpsat")
                except Exception as e:  # noqa: BLE001
                    return e
                return None

            def culprits(jobs: list) -> list:
                if not jobs or fails(jobs) is None:
                    return []
                if len(jobs) == 1:
                    return jobs
                half = len(jobs) // 2
                return culprits(jobs[:half]) + culprits(jobs[half:])

            bad = culprits(movable)
            if not bad:
                raise
            log.error("planning failed (%s: %s); setting aside %s", type(first).__name__, first, [j.id for j in bad])
            for j in bad:
                why = fails([j])
                reason = f"set aside: planning it fails ({type(why).__name__}: {why}); correct the job and resubmit"
                self.store.move(j.id, JobState.failed, reason[:900], now)
                self.app.state.metrics.transitions.labels(JobState.failed).inc()
                report.transitions += 1
                report.errors.append(f"job {j.id} set aside: {type(why).__name__}")
            ids = {j.id for j in bad}
            rest = dataclasses.replace(problem, jobs=tuple(j for j in problem.jobs if j.id not in ids))
            return solve(rest, "cpsat"), rest

    def _load(self, specs: list[tuple[str, dict]], now: datetime, report: CycleReport) -> list:
        """Queued specs as jobs, each known by its key (tenant and id); one that no longer validates
        (the topology changed) fails alone. A spec already checked against this topology in an
        earlier cycle is not checked again."""
        topo = self.app.state.topology
        since = self.store.running_since()
        known = self._loaded[1] if self._loaded[0] is topo else {}
        loaded: dict[str, tuple[dict, Any]] = {}
        self._loaded = (topo, loaded)
        fresh = [(key, spec) for key, spec in specs if key not in known or known[key][0] != spec]
        try:  # all new specs at once; should one fail, one by one to find it
            checked = dict(
                zip((k for k, _ in fresh), jobs_from_data([s for _, s in fresh], topo, "queued job"), strict=True)
            )
        except InputError:
            checked = {}
        jobs = []
        for key, spec in specs:
            try:
                if key in checked:
                    job = checked[key]
                elif key in known and known[key][0] == spec:
                    job = known[key][1]
                else:
                    (job,) = jobs_from_data([spec], topo, "queued job")
                loaded[key] = (spec, job)
                j = job
                if j.running is not None and key in since:
                    j = dataclasses.replace(j, running=dataclasses.replace(j.running, started_at=since[key]))
                jobs.append(dataclasses.replace(j, id=key))
            except InputError as e:
                rec = self.store.get(key)
                if rec is not None and allowed(rec.state, JobState.failed):
                    reason = "; ".join(f"{f.path}: {f.message}" for f in e.faults) or e.summary
                    self.store.move(rec.id, JobState.failed, f"no longer valid for {topo.name}: {reason}", now)
                    self.app.state.metrics.transitions.labels(JobState.failed).inc()
                    report.transitions += 1
        return jobs

    def _submit(self, problem: Problem, plan, now: datetime, report: CycleReport) -> None:
        if self.lifecycle.manifests_dir is None and not self.lifecycle.apis:
            return
        out = self.lifecycle.submit(problem, plan, now)
        report.submitted += out.submitted
        report.errors += out.errors

    def _grid(self, now: datetime, report: CycleReport) -> None:
        """Grid events: caps resolved, statuses updated, preemptible work suspended where needed."""
        st = self.app.state
        with self.store.sessions.begin() as s:
            self.store.fence(s)
            suspend = gridevents.step(s, st.topology, st.live_state, now)
        since = self.store.running_since() if suspend else {}
        for key, why in suspend:  # suspended work keeps what it saved at its checkpoints
            rec = self.store.get(key)
            ran_h = (now - since[key]).total_seconds() / 3600.0 if key in since else 0.0
            kept_h = ran_h - lost_since_checkpoint(ran_h, rec.checkpoint_h if rec is not None else None)
            if kept_h > 0:
                why = f"{why}; {kept_h:.2f} h of its work kept at checkpoints"
            self.store.release(key, JobState.pending, why[:900], now, kept_h)
            st.metrics.transitions.labels(JobState.pending).inc()
            st.metrics.suspended.inc()
            report.transitions += 1
        if suspend:
            self.lifecycle.remove_stale()

    def _accounts(self, now: datetime) -> None:
        st = self.app.state
        feeds = self._feeds(now)  # the zones' measured hours, where fresh
        with self.store.sessions.begin() as s:
            self.store.fence(s)
            accrued = accrue(s, feeds.topology, now, feeds.measured)
        st.metrics.observe_accrual(accrued)

    def _reconcile(self, now: datetime, report: CycleReport) -> None:
        out = self.lifecycle.reconcile(now)
        report.transitions += out.transitions
        report.errors += out.errors

    # -- cycle ------------------------------------------------------------------------------------
    def leads(self) -> bool:
        """Take or renew the lease (always ``True`` for a single replica without one)."""
        held = self.lease is None or self.lease.acquire()
        self.app.state.metrics.leader.set(1 if held else 0)
        self.health.standby = not held
        return held

    def cycle(self, now: datetime | None = None) -> CycleReport:
        """One cycle, the cyclic garbage collector paused: the loop keeps every queued job's
        checked spec, and a collector's pass over them mid-cycle stalls the cycle."""
        with collector_paused():
            return self._cycle(now)

    def _cycle(self, now: datetime | None) -> CycleReport:
        now = now or self.app.state.now()
        report = CycleReport(now)
        t = time.perf_counter()
        if not self.leads():
            self._last = None  # another replica may plan meanwhile: the next plan here is whole
            self._promised = None  # … and its scheduled starts are read from its plans on taking the lead
            report.errors.append("standby: another replica leads")
            return report
        planned: list[Any] = [None, None]

        def plan_step():
            planned[0], planned[1] = self._plan(now, report)

        stages = (
            ("collect", lambda: self._collect(now)),
            ("grid", lambda: self._grid(now, report)),
            ("plan", plan_step),
            ("submit", lambda: planned[1] is not None and self._submit(planned[0], planned[1], now, report)),
            ("reconcile", lambda: self._reconcile(now, report)),
            ("accounts", lambda: self._accounts(now)),
        )
        for name, step in stages:
            if not self.leads():  # renewed before each stage; a lost lease ends the cycle here
                self._last, self._promised = None, None
                report.errors.append(f"lost the lease before {name}")
                report.failed_stages.append(name)
                break
            self._guard(name, step, report)
        self._guard("metrics", lambda: self._metrics(planned[0], planned[1], now), report)
        report.seconds = time.perf_counter() - t
        self.app.state.metrics.cycle.observe(report.seconds)
        self.health.record(report)
        return report

    def _metrics(self, problem: Problem | None, plan, now: datetime) -> None:
        st = self.app.state
        rows = self.store.summaries()
        allocated: Counter = Counter()
        for r in rows:
            if r.state in (JobState.placed, JobState.submitted, JobState.running) and r.running is not None:
                allocated[r.running] += r.cards
        st.metrics.refresh_sites(st.topology, st.live_state, allocated, set(self.store.drained()), st.snapshot, now)
        st.metrics.refresh_queue(*self.store.counts())
        if plan is not None:
            st.metrics.observe_plan(plan, problem.due if problem is not None else frozenset())
        with self.store.sessions() as s:
            st.metrics.refresh_grid(gridevents.open_events(s) + gridevents.recent_final(s, now))

    def _guard(self, name: str, step, report: CycleReport) -> None:
        """Run one stage; any error is logged, counted and reported, and the cycle goes on."""
        try:
            step()
        except SuanwangError as e:
            report.errors.append(f"{name}: {e}")
            report.failed_stages.append(name)
            self.app.state.metrics.loop_errors.labels(name).inc()
            log.warning("cycle stage %s failed: %s", name, e)
        except Exception as e:  # noqa: BLE001 — the loop must survive anything a stage raises
            report.errors.append(f"{name}: unexpected {type(e).__name__}: {e}")
            report.failed_stages.append(name)
            self.app.state.metrics.loop_errors.labels(name).inc()
            log.exception("cycle stage %s failed unexpectedly", name)

    def run(self, period_s: float, stop, after: Callable[[CycleReport], None] | None = None) -> None:
        """Cycle every ``period_s`` (sooner when woken) until ``stop``; after a cycle with failed
        stages, wait with exponential backoff (1 s doubling, at most the period) instead.
        ``after`` sees each cycle's report (the planner process passes it to the API's)."""
        self.health.period_s = period_s
        backoff = 1.0
        while not stop.is_set():
            try:
                report = self.cycle()
                log.info("cycle: %s", report)
                failed = bool(report.failed_stages)
            except Exception as e:  # noqa: BLE001 — counted, logged, and the loop goes on
                self.app.state.metrics.loop_errors.labels("cycle").inc()
                log.exception("control-loop cycle failed unexpectedly")
                failed = True
                report = CycleReport(self.app.state.now(), errors=[f"cycle: {type(e).__name__}: {e}"])
                report.failed_stages.append("cycle")
            if after is not None:
                after(report)
            wait = min(backoff, period_s) if failed else period_s
            if self.health.standby and self.lease is not None:  # ready to take over within a lease period
                wait = min(period_s, self.lease.ttl_s / 3)
            backoff = min(backoff * 2, period_s) if failed else 1.0
            self.wake.wait(timeout=wait)
            self.wake.clear()
