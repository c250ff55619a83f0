"""The one job lifecycle: place, submit, reconcile, fail over, remove stale objects, cancel —
the same code for the CLI (over :class:`~.store.JsonStore`) and the service's control loop (over
:class:`~.db.store.SqlStore`); the states and transitions are those of :mod:`.jobstate`.

Submission is idempotent: a job already submitted to a site is not submitted again, and an object
found under its deterministic name is adopted if it is ours. Workloads go to the sites' API
servers, or, with a manifests folder, are written there as a dry run. When a site's API server has
not answered for ``unreachable_after_s``, its jobs not yet running go back to pending, to be placed
elsewhere; their objects become stale and are deleted once the site answers again. A workload that
disappears from its cluster fails its job. Cancelling deletes a job's objects (foreground).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from suanwang.errors import InputError, PermanentError, TemporaryError
from suanwang.scheduler.jobstate import ACTIVE, JobState, allowed
from suanwang.scheduler.k8s.client import SiteApi, workload_phase
from suanwang.scheduler.k8s.dryrun import manifests_by_site, plan_id, write_manifests
from suanwang.scheduler.store import JobView, ObjectRef, Store
from suanwang.solvers.problem import Plan, Problem, lost_since_checkpoint

RECORD_EVERY = 200  # submitted jobs recorded per transaction


@dataclass
class Outcome:
    """What one call did: per job, and the transitions and errors met on the way."""

    jobs: dict[str, str] = field(default_factory=dict)
    transitions: int = 0
    submitted: int = 0
    errors: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)  # jobs whose submission failed for now


def _lost_work(rec: JobView, now: datetime) -> str:
    """What a job that ran at a dead site loses: the work since its last checkpoint, or since it
    started when it declares none."""
    started = next((t.at for t in reversed(rec.history) if t.target == JobState.running != t.source), None)
    if started is None:
        return "having run for an unknown time"
    ran_h = max(0.0, (now - datetime.fromisoformat(started)).total_seconds() / 3600.0)
    if rec.checkpoint_h:
        lost = lost_since_checkpoint(ran_h, rec.checkpoint_h)
        return f"restarting from its last checkpoint: {lost:.2f} h of {ran_h:.2f} h of work lost"
    return f"restarting from the start (no checkpoint declared): {ran_h:.2f} h of work lost"


class Lifecycle:
    def __init__(
        self,
        store: Store,
        apis: dict[str, SiteApi] | None = None,
        *,
        manifests_dir: Path | None = None,
        unreachable_after_s: float = 300.0,
        running_grace_s: float = 900.0,
        on_transition: Callable[[str], None] = lambda target: None,
    ) -> None:
        self.store, self.apis, self.manifests_dir = store, apis or {}, manifests_dir
        self.unreachable_after_s = unreachable_after_s
        self.running_grace_s = running_grace_s
        self.on_transition = on_transition

    def _move(self, job_id: str, target: str, reason: str, at: datetime, out: Outcome) -> None:
        self.store.move(job_id, target, reason, at)
        self.on_transition(target)
        out.transitions += 1

    # -- place and submit -------------------------------------------------------------------------
    def place(self, problem: Problem, plan: Plan, now: datetime, out: Outcome | None = None) -> Outcome:
        """Move the plan's pending jobs to placed at their sites (the next plans keep them there)."""
        out = out or Outcome()
        pid = plan_id(problem, plan)
        jobs = {j.id: j for j in problem.jobs}
        states = self.store.brief([p.job for p in plan.placements if not p.fixed])  # one read, not one per job
        todo: list[tuple[str, str, str, str, str]] = []
        for p in plan.placements:
            state = states.get(p.job, (None, None))[0]
            if state is None and not p.fixed:
                state = self.store.ensure(jobs[p.job], now).state
            if state != JobState.pending:
                continue
            if p.scheduled:  # starts in a later slot: stays pending, re-planned each cycle
                rec = self.store.get(p.job)
                head = f"scheduled at {p.site} {p.start:%m-%d %H:%M}"
                if rec is not None and not (rec.history and rec.history[-1].reason.startswith(head)):
                    self.store.note(p.job, f"{head}: {p.note}", now)
                out.jobs[p.job] = f"{head}: {p.note}"
                continue
            todo.append((p.job, p.site, p.accelerator, pid, f"{pid}: {p.site}/{p.accelerator}, {p.nodes} nodes"))
        self.store.place_many(todo, now)  # one transaction for the plan's placements
        for _ in todo:
            self.on_transition(JobState.placed)
        out.transitions += len(todo)
        return out

    def submit(self, problem: Problem, plan: Plan, now: datetime) -> Outcome:
        """Place the plan's pending jobs and create the workloads of every placed one."""
        out = self.place(problem, plan, now)
        pid = plan_id(problem, plan)
        todo = []
        states = self.store.brief([p.job for p in plan.placements])
        for p in plan.placements:
            if p.job not in states:
                continue  # runs outside suanwang's records
            state, site = states[p.job]
            if state in ACTIVE and site == p.site:
                out.jobs[p.job] = f"already {state} at {p.site}"
            elif state != JobState.placed:
                out.jobs[p.job] = f"left alone: {state}"
            else:
                todo.append(dataclasses.replace(p, fixed=False))
        if not todo:
            return out
        ids = {p.job for p in todo}
        sub_plan = dataclasses.replace(plan, placements=tuple(todo), unplaced=())
        sub_problem = dataclasses.replace(problem, jobs=tuple(j for j in problem.jobs if j.id in ids), state=None)
        by_site = manifests_by_site(sub_problem, sub_plan, pid)
        if self.manifests_dir is not None:
            write_manifests(sub_problem, sub_plan, self.manifests_dir, pid, by_site)
        by_job: dict[tuple[str, str], list[dict]] = {}
        for site_id, site_docs in by_site.items():
            for d in site_docs:
                by_job.setdefault((site_id, d["metadata"]["annotations"].get("suanwang.io/job-id")), []).append(d)
        jobs = {j.id: j for j in sub_problem.jobs}
        done: list[tuple[str, str, list[ObjectRef], str]] = []
        for p in todo:
            if jobs[p.job].container is None:
                why = f"has no `container:`, so there is nothing to run at {p.site}; add one with an image and resubmit"
                self._move(p.job, JobState.failed, why, now, out)
                out.jobs[p.job] = f"failed: {why}"
                continue
            docs = by_job.get((p.site, p.job), [])
            refs = [ObjectRef(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs]
            if self.manifests_dir is not None:
                reason = f"written to {self.manifests_dir / p.site} (dry run)"
            else:
                try:
                    reason = self._create(p.site, docs, p.job)
                except TemporaryError as e:
                    why = f"submission to {p.site} failed ({e}); retried by the next submit or cycle"
                    self.store.note(p.job, why, now)
                    out.jobs[p.job] = f"placed; {why}"
                    out.errors.append(str(e))
                    out.retry.append(p.job)
                    continue
                except PermanentError as e:
                    self._move(p.job, JobState.failed, str(e), now, out)
                    out.jobs[p.job] = f"failed: {e}"
                    continue
            done.append((p.job, p.site, refs, reason))
            if len(done) >= RECORD_EVERY:
                self._record(done, now, out)
        self._record(done, now, out)
        return out

    def _record(self, done: list[tuple[str, str, list[ObjectRef], str]], now: datetime, out: Outcome) -> None:
        """Record created workloads, several jobs to a transaction (a crash before it loses no
        job: the next cycle submits them again and adopts the objects it finds)."""
        if not done:
            return
        for (job_id, site, _, reason), ok in zip(done, self.store.submitted_many(done, now), strict=True):
            if not ok:
                out.jobs[job_id] = "cancelled while it was being submitted; its objects are deleted"
                self.remove_stale(out)
                continue
            self.on_transition(JobState.submitted)
            out.transitions += 1
            out.submitted += 1
            out.jobs[job_id] = f"submitted to {site} ({reason})"
        done.clear()

    def _create(self, site: str, docs: list[dict], job_id: str) -> str:
        if site not in self.apis:
            raise TemporaryError(f"no API server configured for site {site}; add its context to the kubeconfig")
        api = self.apis[site]
        self.store.guard()  # a replica that lost its lease creates nothing
        for ns in dict.fromkeys(d["metadata"]["namespace"] for d in docs):
            api.ensure_namespace(ns)
        results = [api.create(d, job_id) for d in docs]
        return f"{site}: " + ", ".join(f"{r.action} {r.kind} {r.name}" for r in results)

    # -- reconcile ----------------------------------------------------------------------------------
    def reconcile(self, now: datetime, job_ids: list[str] | None = None) -> Outcome:
        """Read statuses back; fail over jobs of sites unreachable past the threshold; delete
        stale objects of sites that answer."""
        out = Outcome()
        for rec in self.store.in_states(ACTIVE):
            if job_ids is not None and rec.id not in job_ids:
                continue
            main = next((o for o in rec.objects if o.kind in ("Job", "Deployment")), None)
            if main is None or rec.site not in self.apis:
                continue
            try:
                phase, reason = workload_phase(
                    main.kind, self.apis[rec.site].observe(main.kind, main.namespace, main.name)
                )
            except TemporaryError as e:
                out.errors.append(str(e))
                self.store.set_down(rec.site, now)
                down_s = (now - self.store.down()[rec.site]).total_seconds()
                if rec.state == JobState.submitted and down_s >= self.unreachable_after_s:
                    why = f"site {rec.site} unreachable for {down_s:.0f} s ({e}); eligible for re-placement elsewhere"
                elif rec.state == JobState.running and down_s >= self.running_grace_s:
                    why = (
                        f"site {rec.site} unreachable for {down_s:.0f} s while the job ran ({e}); "
                        f"re-placed elsewhere, {_lost_work(rec, now)}"
                    )
                else:
                    continue
                self.store.release(rec.id, JobState.pending, why, now)
                self.on_transition(JobState.pending)
                out.transitions += 1
                continue
            self.store.set_down(rec.site, None)
            if phase == "missing":
                self._move(rec.id, JobState.failed, f"{main.kind} {main.name} disappeared from {rec.site}", now, out)
            elif phase != rec.state and allowed(rec.state, phase):
                self._move(rec.id, phase, reason, now, out)
        self.remove_stale(out)
        return out

    def remove_stale(self, out: Outcome | None = None) -> Outcome:
        """Delete objects left behind by failed-over or cancelled jobs, where the site answers."""
        out = out or Outcome()
        stale = self.store.stale()
        if stale:
            self.store.guard()
        for st in stale:
            if self.manifests_dir is not None and not self.apis:
                (self.manifests_dir / st.site / f"{st.ref.name}.yaml").unlink(missing_ok=True)
            elif st.site in self.apis:
                try:
                    self.apis[st.site].delete(st.ref.kind, st.ref.namespace, st.ref.name)
                except TemporaryError as e:
                    out.errors.append(str(e))
                    continue
                self.store.set_down(st.site, None)
            else:
                continue
            self.store.drop_stale(st.key)
        return out

    def down_sites(self, now: datetime) -> list[str]:
        """Sites whose API server has not answered for ``unreachable_after_s``: not to be planned on."""
        return [
            sid for sid, since in self.store.down().items() if (now - since).total_seconds() >= self.unreachable_after_s
        ]

    # -- cancel ---------------------------------------------------------------------------------------
    def cancel(self, job_id: str, now: datetime, reason: str = "cancelled by request") -> str:
        """Cancel a job: record it, then delete its objects (now if the site answers, else later)."""
        rec = self.store.get(job_id)
        if rec is None:
            raise InputError(f"no job {job_id!r}; check the id with `suanwang jobs get`")
        where = f"; deleting its objects at {rec.site}" if rec.objects else ""
        self.store.release(job_id, JobState.cancelled, reason + where, now)
        self.on_transition(JobState.cancelled)
        self.remove_stale()
        return JobState.cancelled.value
