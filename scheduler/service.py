"""The control loop: collect → plan (queued jobs; submitted and running ones fixed) → submit →
reconcile. Each step commits on its own, so a failing cycle leaves the queue intact and the next
cycle retries; planning runs outside any request, so it never blocks the API.

Submission goes to the sites' API servers (a kubeconfig with one context per site) or, with a
manifests folder, is written there as a dry run.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from suanwang.collectors.collect import collect
from suanwang.collectors.config import CollectorConfig
from suanwang.collectors.statefile import snapshot_state, without_sites
from suanwang.errors import InputError, SuanwangError, TemporaryError
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import JobRow, Submission
from suanwang.scheduler.jobfile import jobs_from_data
from suanwang.scheduler.k8s.client import SiteApi, workload_phase
from suanwang.scheduler.k8s.dryrun import manifests_by_site, plan_id, write_manifests
from suanwang.scheduler.lifecycle import ALLOWED
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


def _move(app, s, job_id: str, target: str, reason: str, at: datetime, site: str | None = None):
    row = repo.transition(s, job_id, target, reason, at, site)
    app.state.metrics.transitions.labels(target).inc()
    return row


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
        self.app, self.collector, self.apis, self.manifests_dir = app, collector, apis, manifests_dir
        self.time_limit_s = time_limit_s
        self.wake = threading.Event()
        self.unreachable_after_s = unreachable_after_s
        self.down_since: dict[str, datetime] = {}  # sites whose API server has not answered
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
        with st.sessions() as s:
            queued = repo.jobs_in(s, ("pending", "placed", "submitted", "running"))
            drained = list(repo.drained_sites(s)) + self._down(now)
            specs = [r.spec for r in queued]
        if not specs:
            return None, None
        jobs = self._load(specs, now, report)
        if not jobs:
            return None, None
        problem = Problem(
            st.topology,
            tuple(jobs),
            now,
            without_sites(st.live_state, st.topology, drained),
            time_limit_s=self.time_limit_s,
        )
        plan = solve(problem, "cpsat")
        pid = plan_id(problem, plan)
        with st.sessions.begin() as s:
            repo.record_plan(s, pid, plan.to_dict(), now)
            for p in plan.placements:
                row = s.get(JobRow, p.job)
                if p.fixed or row is None or row.state != "pending":
                    continue
                _move(self.app, s, p.job, "placed", f"{pid}: {p.site}/{p.accelerator}, {p.nodes} nodes", now, p.site)
                row.spec = {**row.spec, "running": {"site": p.site, "accelerator": p.accelerator}}
                report.placed += 1
        report.unplaced = len(plan.unplaced)
        return problem, plan

    def _load(self, specs: list[dict], now: datetime, report: CycleReport) -> list:
        """Queued specs as jobs; one that no longer validates (the topology changed) fails alone."""
        topo = self.app.state.topology
        try:
            return jobs_from_data(specs, topo, "queued jobs")
        except InputError:
            pass
        jobs = []
        for spec in specs:
            try:
                jobs.extend(jobs_from_data([spec], topo, "queued job"))
            except InputError as e:
                with self.app.state.sessions.begin() as s:
                    row = s.get(JobRow, spec["id"])
                    if row is not None and "failed" in ALLOWED[row.state]:
                        reason = "; ".join(f"{f.path}: {f.message}" for f in e.faults) or e.summary
                        _move(self.app, s, spec["id"], "failed", f"no longer valid for {topo.name}: {reason}", now)
                        report.transitions += 1
        return jobs

    def _submit(self, problem: Problem, plan, now: datetime, report: CycleReport) -> None:
        st = self.app.state
        with st.sessions() as s:
            placed = {r.id for r in repo.jobs_in(s, ("placed",))}
        fresh = tuple(dataclasses.replace(p, fixed=False) for p in plan.placements if p.job in placed)
        if not fresh:
            return
        sub = dataclasses.replace(plan, placements=fresh, unplaced=())
        unfixed = dataclasses.replace(problem, jobs=tuple(j for j in problem.jobs if j.id in placed), state=None)
        if self.manifests_dir is not None:
            write_manifests(unfixed, sub, self.manifests_dir)
            with st.sessions.begin() as s:
                for p in fresh:
                    _move(self.app, s, p.job, "submitted", f"written to {self.manifests_dir / p.site} (dry run)", now)
                    report.submitted += 1
            return
        if not self.apis:
            return
        for site, docs in manifests_by_site(unfixed, sub).items():
            for d in docs:
                jid = d["metadata"]["annotations"]["suanwang.io/job-id"]
                try:
                    outcome = self.apis[site].create(d, jid)
                except TemporaryError as e:
                    report.errors.append(str(e))
                    continue
                with st.sessions.begin() as s:
                    repo.record_submission(
                        s, jid, site, d["kind"], d["metadata"]["namespace"], d["metadata"]["name"], now
                    )
                    row = s.get(JobRow, jid)
                    if row.state == "placed":
                        _move(self.app, s, jid, "submitted", f"{site}: {outcome.action} {outcome.kind}", now)
                        report.submitted += 1

    def _down(self, now: datetime) -> list[str]:
        return [sid for sid, t in self.down_since.items() if (now - t).total_seconds() >= self.unreachable_after_s]

    def _reconcile(self, now: datetime, report: CycleReport) -> None:
        """Read statuses back; fail over jobs not yet running at a site unreachable past the
        threshold (back to pending, their objects marked stale); delete stale objects once the site
        answers again."""
        if not self.apis:
            return
        st = self.app.state
        with st.sessions() as s:
            rows = [(r.id, r.site, r.state) for r in repo.jobs_in(s, ("submitted", "running"))]
            subs = {
                sub.job_id: sub
                for sub in s.scalars(select(Submission).where(Submission.stale.is_(False)))
                if sub.kind in ("Job", "Deployment")
            }
        for jid, site, state in rows:
            sub = subs.get(jid)
            if sub is None or site not in self.apis:
                continue
            try:
                phase, reason = workload_phase(sub.kind, self.apis[site].read(sub.kind, sub.namespace, sub.name))
            except TemporaryError as e:
                report.errors.append(str(e))
                since = self.down_since.setdefault(site, now)
                down_s = (now - since).total_seconds()
                if state == "submitted" and down_s >= self.unreachable_after_s:
                    with st.sessions.begin() as s:
                        row = _move(
                            self.app,
                            s,
                            jid,
                            "pending",
                            f"site {site} unreachable for {down_s:.0f} s; eligible for re-placement elsewhere",
                            now,
                        )
                        row.spec = {k: v for k, v in row.spec.items() if k != "running"}
                        for stale in s.scalars(
                            select(Submission).where(Submission.job_id == jid, Submission.site == site)
                        ):
                            stale.stale = True
                        report.transitions += 1
                continue
            self.down_since.pop(site, None)
            if phase not in (state, "missing") and phase in ALLOWED[state]:
                with st.sessions.begin() as s:
                    _move(self.app, s, jid, phase, reason, now)
                    report.transitions += 1
        self._remove_stale(report)

    def _remove_stale(self, report: CycleReport) -> None:
        st = self.app.state
        with st.sessions() as s:
            stale = [
                (x.id, x.site, x.kind, x.namespace, x.name)
                for x in s.scalars(select(Submission).where(Submission.stale.is_(True)))
            ]
        for sid, site, kind, ns, name in stale:
            if site not in self.apis:
                continue
            try:
                self.apis[site].delete(kind, ns, name)
            except TemporaryError:
                continue
            self.down_since.pop(site, None)
            with st.sessions.begin() as s:
                s.delete(s.get(Submission, sid))

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
        with st.sessions() as s:
            rows = list(s.scalars(select(JobRow)))
            drained = set(repo.drained_sites(s))
        allocated: Counter = Counter()
        for r in rows:
            run = (r.spec or {}).get("running")
            if r.state in ("placed", "submitted", "running") and run:
                allocated[(run["site"], run["accelerator"])] += int(r.spec["accelerators"]["count"])
        st.metrics.refresh_sites(st.topology, st.live_state, allocated, drained, st.snapshot, now)
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
