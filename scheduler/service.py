"""The control loop: collect → plan (queued jobs; placed, submitted and running ones fixed) →
submit → reconcile, the last three through the one job lifecycle (:mod:`.lifecycle`) over the
database store. Each step commits on its own, so a failing cycle leaves the queue intact and the
next cycle retries; planning runs outside any request, so it never blocks the API.

Submission goes to the sites' API servers (a kubeconfig with one context per site) or, with a
manifests folder, is written there as a dry run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from suanwang.collectors.collect import collect
from suanwang.collectors.config import CollectorConfig
from suanwang.collectors.statefile import snapshot_state, without_sites
from suanwang.errors import InputError, SuanwangError
from suanwang.scheduler.db.store import SqlStore
from suanwang.scheduler.jobfile import jobs_from_data
from suanwang.scheduler.jobstate import QUEUED, JobState, allowed
from suanwang.scheduler.k8s.client import SiteApi
from suanwang.scheduler.k8s.dryrun import plan_id
from suanwang.scheduler.lifecycle import Lifecycle
from suanwang.solvers import solve
from suanwang.solvers.problem import Problem

log = logging.getLogger("suanwang.loop")


@dataclass
class CycleReport:
    at: datetime
    placed: int = 0
    submitted: int = 0
    unplaced: int = 0
    transitions: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class ControlLoop:
    def __init__(
        self,
        app,
        collector: CollectorConfig | None = None,
        apis: dict[str, SiteApi] | None = None,
        manifests_dir: Path | None = None,
        time_limit_s: float = 5.0,
        unreachable_after_s: float = 300.0,
    ) -> None:
        self.app, self.collector = app, collector
        self.time_limit_s = time_limit_s
        self.wake = threading.Event()
        self.store = SqlStore(app.state.sessions)
        self.lifecycle = Lifecycle(
            self.store,
            apis,
            manifests_dir=manifests_dir,
            unreachable_after_s=unreachable_after_s,
            on_transition=lambda target: app.state.metrics.transitions.labels(target).inc(),
        )
        app.state.wake = self.wake.set

    # -- steps ------------------------------------------------------------------------------------
    def _collect(self, now: datetime) -> None:
        if self.collector is None:
            return
        st = self.app.state
        snap = collect(st.topology, self.collector, st.snapshot, now)
        st.snapshot, st.live_state = snap, snapshot_state(snap, st.topology)

    def _plan(self, now: datetime, report: CycleReport):
        st = self.app.state
        specs = self.store.specs(QUEUED)
        if not specs:
            return None, None
        jobs = self._load(specs, now, report)
        if not jobs:
            return None, None
        drained = self.store.drained() + self.lifecycle.down_sites(now)
        problem = Problem(
            st.topology,
            tuple(jobs),
            now,
            without_sites(st.live_state, st.topology, drained),
            time_limit_s=self.time_limit_s,
        )
        plan = solve(problem, "cpsat")
        self.store.record_plan(plan_id(problem, plan), plan.to_dict(), now)
        out = self.lifecycle.place(problem, plan, now)
        report.placed += out.transitions
        report.transitions += out.transitions
        report.unplaced = len(plan.unplaced)
        return problem, plan

    def _load(self, specs: list[dict], now: datetime, report: CycleReport) -> list:
        """Queued specs as jobs; one that no longer validates (the topology changed) fails alone."""
        topo = self.app.state.topology
        jobs = []
        for spec in specs:
            try:
                jobs.extend(jobs_from_data([spec], topo, "queued job"))
            except InputError as e:
                rec = self.store.get(str(spec["id"]))
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

    def _reconcile(self, now: datetime, report: CycleReport) -> None:
        out = self.lifecycle.reconcile(now)
        report.transitions += out.transitions
        report.errors += out.errors

    # -- cycle ------------------------------------------------------------------------------------
    def cycle(self, now: datetime | None = None) -> CycleReport:
        now = now or self.app.state.now()
        report = CycleReport(now)
        t = time.perf_counter()
        for name, step in (("collect", lambda: self._collect(now)),):
            self._guard(name, step, report)
        planned: list[Any] = [None, None]

        def plan_step():
            planned[0], planned[1] = self._plan(now, report)

        self._guard("plan", plan_step, report)
        if planned[1] is not None:
            self._guard("submit", lambda: self._submit(planned[0], planned[1], now, report), report)
        self._guard("reconcile", lambda: self._reconcile(now, report), report)
        self._guard("metrics", lambda: self._metrics(planned[1], now), report)
        report.seconds = time.perf_counter() - t
        self.app.state.metrics.cycle.observe(report.seconds)
        return report

    def _metrics(self, plan, now: datetime) -> None:
        st = self.app.state
        rows = self.store.summaries()
        allocated: Counter = Counter()
        for r in rows:
            if r.state in (JobState.placed, JobState.submitted, JobState.running) and r.running is not None:
                allocated[r.running] += r.cards
        st.metrics.refresh_sites(st.topology, st.live_state, allocated, set(self.store.drained()), st.snapshot, now)
        st.metrics.refresh_queue(rows)
        if plan is not None:
            st.metrics.observe_plan(plan)

    def _guard(self, name: str, step, report: CycleReport) -> None:
        try:
            step()
        except SuanwangError as e:
            report.errors.append(f"{name}: {e}")
            self.app.state.metrics.cycle_failures.labels(name).inc()
            log.warning("cycle step %s failed: %s", name, e)

    def run(self, period_s: float, stop: threading.Event) -> None:
        while not stop.is_set():
            report = self.cycle()
            log.info("cycle: %s", report)
            self.wake.wait(timeout=period_s)
            self.wake.clear()
