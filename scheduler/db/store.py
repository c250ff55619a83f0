"""The service's job store: the lifecycle's :class:`~suanwang.scheduler.store.Store` over the
database. Each call is one transaction; a job placed at a site is pinned there (its spec gains
``running: {site, accelerator}``) so the next plans keep it, until it is released."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from suanwang.errors import InputError
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.models import JobRow, JobTransition, StateSnapshot, Submission
from suanwang.scheduler.jobfile import jobs_to_dict
from suanwang.scheduler.jobstate import JobState, check
from suanwang.scheduler.store import JobView, ObjectRef, StaleObject, Transition
from suanwang.solvers.problem import Job


@dataclass(frozen=True)
class JobSummary:
    id: str
    state: str
    tenant: str
    priority: int
    cards: int
    running: tuple[str, str] | None


def _live_objects(s: Session, job_ids: list[str]) -> dict[str, list[Submission]]:
    """Each job's objects not yet stale, in one query per 900 jobs (not one per job)."""
    out: dict[str, list[Submission]] = {j: [] for j in job_ids}
    for chunk in range(0, len(job_ids), 900):
        q = select(Submission).where(Submission.job_id.in_(job_ids[chunk : chunk + 900]), Submission.stale.is_(False))
        for sub in s.scalars(q.order_by(Submission.id)):
            out[sub.job_id].append(sub)
    return out


def _view(s: Session, row: JobRow, subs: list[Submission] | None = None) -> JobView:
    if subs is None:
        subs = _live_objects(s, [row.id])[row.id]
    return JobView(
        row.id,
        row.state,
        row.site,
        None,
        tuple(ObjectRef(x.kind, x.namespace, x.name) for x in subs),
        tuple(Transition(t.at.isoformat(timespec="seconds"), t.source, t.target, t.reason) for t in row.history),
        (row.spec or {}).get("checkpoint_h"),
    )


class SqlStore:
    def __init__(self, sessions: sessionmaker, fence: Callable[[Session], None] = lambda s: None) -> None:
        self.sessions = sessions
        self.fence = fence  # raises unless this replica may write (the leader's lease, see db.lease)
        self._down: dict[str, datetime] = {}  # kept by the running service

    def guard(self) -> None:
        """Raise unless this replica may act (before creating or deleting objects at a site)."""
        with self.sessions.begin() as s:
            self.fence(s)

    def _row(self, s: Session, job_id: str) -> JobRow:
        row = s.get(JobRow, job_id)
        if row is None:
            raise InputError(f"no job {job_id!r}; check the id with `suanwang jobs get`")
        return row

    def get(self, job_id: str) -> JobView | None:
        with self.sessions() as s:
            row = s.get(JobRow, job_id)
            return None if row is None else _view(s, row)

    def ensure(self, job: Job, at: datetime) -> JobView:
        with self.sessions.begin() as s:
            self.fence(s)
            row = s.get(JobRow, job.id)
            if row is None:
                repo.add_jobs(s, jobs_to_dict([job])["jobs"], "lifecycle", at, keys=[job.id])
                row = s.get(JobRow, job.id)
            return _view(s, row)

    def in_states(self, states: tuple[str, ...]) -> list[JobView]:
        with self.sessions() as s:
            rows = repo.jobs_in(s, states, with_history=True)
            objects = _live_objects(s, [r.id for r in rows])
            return [_view(s, r, objects[r.id]) for r in rows]

    def move(self, job_id: str, target: str, reason: str, at: datetime) -> JobView:
        with self.sessions.begin() as s:
            self.fence(s)
            row = repo.transition(s, job_id, target, reason, at)
            return _view(s, row)

    def note(self, job_id: str, reason: str, at: datetime) -> None:
        with self.sessions.begin() as s:
            self.fence(s)
            row = self._row(s, job_id)
            s.add(JobTransition(job_id=job_id, at=at, source=row.state, target=row.state, reason=reason))

    def place_many(self, items: list[tuple[str, str, str, str, str]], at: datetime) -> None:
        """Every placement of one plan in one transaction (a cycle may place thousands of jobs)."""
        if not items:
            return
        with self.sessions.begin() as s:
            self.fence(s)
            ids = [i[0] for i in items]
            rows = {}
            for chunk in range(0, len(ids), 900):
                rows.update((r.id, r) for r in s.scalars(select(JobRow).where(JobRow.id.in_(ids[chunk : chunk + 900]))))
            for job_id, site, accelerator, _, reason in items:
                row = rows.get(job_id) or self._row(s, job_id)
                check(job_id, row.state, JobState.placed, reason)
                s.add(JobTransition(job_id=job_id, at=at, source=row.state, target=JobState.placed, reason=reason))
                row.state, row.updated_at, row.site = JobState.placed, at, site
                row.spec = {**row.spec, "running": {"site": site, "accelerator": accelerator}}

    def brief(self, job_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        out: dict[str, tuple[str, str | None]] = {}
        with self.sessions() as s:
            for chunk in range(0, len(job_ids), 900):
                q = select(JobRow.id, JobRow.state, JobRow.site).where(JobRow.id.in_(job_ids[chunk : chunk + 900]))
                out.update((k, (state, site)) for k, state, site in s.execute(q))
        return out

    def submitted_many(self, items: list[tuple[str, str, list[ObjectRef], str]], at: datetime) -> list[bool]:
        """Record each job's objects ``(job, site, objects, reason)`` in one transaction (their rows
        and the objects already recorded read in one query each); ``False`` for a job cancelled
        meanwhile (its state read in this transaction): its objects are then recorded stale."""
        ids = [job_id for job_id, *_ in items]
        out = []
        with self.sessions.begin() as s, s.no_autoflush:
            self.fence(s)
            rows: dict[str, JobRow] = {}
            for chunk in range(0, len(ids), 900):
                q = select(JobRow).where(JobRow.id.in_(ids[chunk : chunk + 900])).with_for_update()
                rows.update((r.id, r) for r in s.scalars(q))
            for job_id in ids:
                rows[job_id] = rows.get(job_id) or self._row(s, job_id)  # an unknown job: InputError
            placed = {job_id: rows[job_id].state == JobState.placed for job_id in ids}
            objects = [  # a job cancelled meanwhile: its objects are recorded stale, to be deleted
                (job_id, site, o.kind, o.namespace, o.name, not placed[job_id])
                for job_id, site, refs, _ in items
                for o in refs
            ]
            repo.record_submissions(s, objects, at)
            for job_id, site, _, reason in items:
                if placed[job_id]:
                    repo.transition(s, job_id, JobState.submitted, reason, at, site)
                    out.append(True)
                    continue
                for sub in s.scalars(select(Submission).where(Submission.job_id == job_id)):
                    sub.stale = True
                out.append(rows[job_id].state == JobState.submitted)
        return out

    def running_since(self) -> dict[str, datetime]:
        """When each job that is running now started (its latest move to running)."""
        with self.sessions() as s:
            q = (
                select(JobTransition.job_id, func.max(JobTransition.at))
                .join(JobRow, JobRow.id == JobTransition.job_id)
                .where(JobRow.state == JobState.running)
                .where(JobTransition.target == JobState.running, JobTransition.source != JobState.running)
                .group_by(JobTransition.job_id)
            )
            return {k: at for k, at in s.execute(q)}

    def release(self, job_id: str, target: str, reason: str, at: datetime, kept_h: float = 0.0) -> None:
        with self.sessions.begin() as s:
            self.fence(s)
            release(s, job_id, target, reason, at, kept_h)

    def stale(self) -> list[StaleObject]:
        with self.sessions() as s:
            return [
                StaleObject(str(x.id), x.site, ObjectRef(x.kind, x.namespace, x.name))
                for x in s.scalars(select(Submission).where(Submission.stale.is_(True)))
            ]

    def drop_stale(self, key: str) -> None:
        with self.sessions.begin() as s:
            self.fence(s)
            row = s.get(Submission, int(key))
            if row is not None:
                s.delete(row)

    def down(self) -> dict[str, datetime]:
        return dict(self._down)

    # -- what the control loop reads and records besides the lifecycle ---------------------------
    def queue(self, states: tuple[str, ...]) -> list[tuple[str, str]]:
        """``(key, state)`` of the jobs in ``states``, oldest first, without their specs."""
        with self.sessions() as s:
            q = select(JobRow.id, JobRow.state).where(JobRow.state.in_(states))
            return [(k, st) for k, st in s.execute(q.order_by(JobRow.created_at, JobRow.id))]

    def specs(self, states: tuple[str, ...], keys: list[str] | None = None) -> list[tuple[str, dict]]:
        """``(key, spec)`` of the jobs in ``states`` (only ``keys`` of them, when given), oldest first
        (specs in the job-file contract)."""
        base = select(JobRow.id, JobRow.spec, JobRow.created_at).where(JobRow.state.in_(states))
        with self.sessions() as s:
            if keys is None:
                rows = list(s.execute(base))
            else:
                rows = []
                for chunk in range(0, len(keys), 900):
                    rows += s.execute(base.where(JobRow.id.in_(keys[chunk : chunk + 900])))
        rows.sort(key=lambda r: (r[2], r[0]))
        # ``ran`` (where a released job last ran, for its accounts) and ``done_h`` (work kept from
        # runs that were stopped) are not part of the contract: the run still to do is shorter
        out = []
        for key, raw, _ in rows:  # columns, not ORM objects: a full cycle reads the whole queue
            spec = {k: v for k, v in raw.items() if k not in ("ran", "done_h")}
            done = float(raw.get("done_h", 0.0))
            if done > 0 and isinstance(spec.get("duration_h"), (int, float)):
                spec["duration_h"] = max(MIN_RUN_H, spec["duration_h"] - done)
            out.append((key, spec))
        return out

    def save_snapshot(self, body: dict, observed_at: datetime) -> None:
        """Keep ``body`` (a collected state) as the one latest snapshot."""
        with self.sessions.begin() as s:
            self.fence(s)
            s.execute(delete(StateSnapshot))
            s.add(StateSnapshot(observed_at=observed_at, body=body))

    def latest_snapshot(self) -> dict | None:
        with self.sessions() as s:
            row = s.scalar(select(StateSnapshot).order_by(StateSnapshot.id.desc()).limit(1))
            return None if row is None else row.body

    def drained(self) -> list[str]:
        with self.sessions() as s:
            return list(repo.drained_sites(s))

    def latest_plan(self) -> dict | None:
        """The body of the latest recorded plan, if any."""
        with self.sessions() as s:
            row = repo.latest_plan(s)
            return None if row is None else row.body

    def record_plan(self, plan_id: str, body: dict, at: datetime) -> None:
        with self.sessions.begin() as s:
            self.fence(s)
            repo.record_plan(s, plan_id, body, at)

    def summaries(self) -> list[JobSummary]:
        """The jobs that hold capacity (placed, submitted, running): state, tenant, priority, cards and
        pinned (site, model), for the metrics."""
        holding = (JobState.placed, JobState.submitted, JobState.running)
        with self.sessions() as s:  # columns, not ORM objects, and specs only where needed: every cycle
            pinned = {}
            for key, spec in s.execute(select(JobRow.id, JobRow.spec).where(JobRow.state.in_(holding))):
                run = spec.get("running")
                cards = int((spec.get("accelerators") or {}).get("count", 0))
                pinned[key] = (cards, (run["site"], run["accelerator"]) if run else None)
            q = select(JobRow.id, JobRow.state, JobRow.tenant, JobRow.priority).where(JobRow.state.in_(holding))
            return [JobSummary(k, st, t, p, *pinned.get(k, (0, None))) for k, st, t, p in s.execute(q)]

    def counts(self) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
        """Jobs by state, and pending jobs by (tenant, priority), counted by the database."""
        with self.sessions() as s:
            by_state = dict(s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all())
            q = select(JobRow.tenant, JobRow.priority, func.count()).where(JobRow.state == JobState.pending)
            waiting = {(t, p): n for t, p, n in s.execute(q.group_by(JobRow.tenant, JobRow.priority))}
        return by_state, waiting

    def set_down(self, site: str, since: datetime | None) -> None:
        if since is None:
            self._down.pop(site, None)
        else:
            self._down.setdefault(site, since)


MIN_RUN_H = 1.0 / 60  # a job with all but this much work done still gets a run of it


def release(s: Session, job_id: str, target: str, reason: str, at: datetime, kept_h: float = 0.0) -> JobRow:
    """In the caller's transaction: move the job to ``target``, unpin it from its site and mark
    its objects stale (the control loop deletes them once the site answers). Back to pending,
    ``kept_h`` hours of its work (those up to its last checkpoint) are added to its progress
    (``done_h``), which the next run does not repeat."""
    row = repo.transition(s, job_id, target, reason, at)
    if target == JobState.pending:
        ran = row.spec.get("running")
        done = float(row.spec.get("done_h", 0.0)) + max(0.0, kept_h)
        row.spec = (
            {k: v for k, v in row.spec.items() if k not in ("running", "done_h")}
            | ({"ran": ran} if ran else {})
            | ({"done_h": round(done, 6)} if done > 0 else {})
        )
        row.site = None
    for sub in s.scalars(select(Submission).where(Submission.job_id == job_id)):
        sub.stale = True
    return row
