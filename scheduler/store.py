"""Where job records live, behind one interface for the one lifecycle (:mod:`.lifecycle`):
a JSON file for the CLI (:class:`JsonStore`, here) and the database for the service
(:class:`suanwang.scheduler.db.store.SqlStore`). Both check every transition against the table
in :mod:`.jobstate` and keep its time and reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from suanwang.errors import InputError
from suanwang.scheduler.jobstate import JobState, check
from suanwang.solvers.problem import Job
from suanwang.timeutil import parse_time


@dataclass(frozen=True)
class Transition:
    at: str
    source: str
    target: str
    reason: str


@dataclass(frozen=True)
class ObjectRef:
    """One Kubernetes object a job created at its site."""

    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class JobView:
    """What the lifecycle reads of a job record."""

    id: str
    state: str
    site: str | None
    plan_id: str | None
    objects: tuple[ObjectRef, ...]
    history: tuple[Transition, ...]
    checkpoint_h: float | None = None  # the job saves its progress every so many hours


@dataclass(frozen=True)
class StaleObject:
    """An object left at a site a job no longer runs at (failed over or cancelled): to delete."""

    key: str
    site: str
    ref: ObjectRef


class Store(Protocol):
    def get(self, job_id: str) -> JobView | None: ...

    def guard(self) -> None:
        """Raise unless this process may act at the sites now (a service replica that leads)."""
        ...

    def ensure(self, job: Job, at: datetime) -> JobView:
        """The job's record, created pending if the store has none."""
        ...

    def in_states(self, states: tuple[str, ...]) -> list[JobView]: ...

    def move(self, job_id: str, target: str, reason: str, at: datetime) -> JobView: ...

    def note(self, job_id: str, reason: str, at: datetime) -> None:
        """Record in the job's history something that happened without a change of state."""
        ...

    def place_many(self, items: list[tuple[str, str, str, str, str]], at: datetime) -> None:
        """pending → placed for each ``(job_id, site, accelerator, plan_id, reason)``, in one go: the
        jobs' next plans keep them at their sites."""
        ...

    def brief(self, job_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """``(state, site)`` of each of ``job_ids`` the store has, in one read."""
        ...

    def submitted_many(self, items: list[tuple[str, str, list[ObjectRef], str]], at: datetime) -> list[bool]:
        """Record the objects created for each job ``(job, site, objects, reason)`` and move it
        placed → submitted, in one write; ``False`` for a job cancelled meanwhile, its objects then
        stale (to be deleted)."""
        ...

    def release(self, job_id: str, target: str, reason: str, at: datetime, kept_h: float = 0.0) -> None:
        """Move the job to ``target`` (pending to be placed again, or cancelled); its objects
        become stale, to be deleted once its site answers, and it is no longer kept at a site.
        ``kept_h``: hours of its work kept at checkpoints, which its next run does not repeat."""
        ...

    def stale(self) -> list[StaleObject]: ...

    def drop_stale(self, key: str) -> None: ...

    def down(self) -> dict[str, datetime]:
        """Sites whose API server has not answered, and since when."""
        ...

    def set_down(self, site: str, since: datetime | None) -> None:
        """Record a site as down since ``since``, or as answering again (``None``)."""
        ...


@dataclass
class _Record:
    job_id: str
    state: str = JobState.pending.value
    site: str | None = None
    objects: list[list[str]] = field(default_factory=list)  # [kind, namespace, name]
    plan_id: str | None = None
    history: list[Transition] = field(default_factory=list)

    def view(self) -> JobView:
        return JobView(
            self.job_id,
            self.state,
            self.site,
            self.plan_id,
            tuple(ObjectRef(*o) for o in self.objects),
            tuple(self.history),
        )

    def move(self, target: str, reason: str, at: datetime) -> None:
        check(self.job_id, self.state, target, reason)
        self.history.append(Transition(at.isoformat(timespec="seconds"), self.state, target, reason))
        self.state = target


class JsonStore:
    """Job records, stale objects and down sites in a JSON file, written atomically after each change."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, _Record] = {}
        self._stale: dict[str, list[str]] = {}  # key -> [site, kind, namespace, name]
        self._down: dict[str, str] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                for r in data.get("jobs", []):
                    r.pop("unreachable_since", None)  # kept per site now
                    hist = [Transition(**t) for t in r.pop("history", [])]
                    self.records[r["job_id"]] = _Record(**r, history=hist)
                for e in data.get("stale", []):
                    for o in e.get("objects", [e.get("object")]):
                        self._stale["/".join([e["site"], *o])] = [e["site"], *o]
                self._down = dict(data.get("down", {}))
            except (ValueError, TypeError, KeyError) as e:
                raise InputError(f"{self.path}: not a suanwang job store ({e}); move it away and retry") from e

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        stale = [{"site": v[0], "object": v[1:]} for v in self._stale.values()]
        data = {"jobs": [asdict(r) for r in self.records.values()], "stale": stale, "down": self._down}
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def _rec(self, job_id: str) -> _Record:
        rec = self.records.get(job_id)
        if rec is None:
            raise InputError(f"no job {job_id!r} in {self.path}; check the id with `suanwang jobs get`")
        return rec

    def guard(self) -> None:
        """The CLI acts alone on its file."""

    def get(self, job_id: str) -> JobView | None:
        rec = self.records.get(job_id)
        return None if rec is None else rec.view()

    def ensure(self, job: Job, at: datetime) -> JobView:
        rec = self.records.get(job.id)
        if rec is None:
            rec = self.records[job.id] = _Record(job.id)
            rec.history.append(Transition(at.isoformat(timespec="seconds"), "new", JobState.pending, "recorded"))
            self._save()
        return rec.view()

    def in_states(self, states: tuple[str, ...]) -> list[JobView]:
        return [r.view() for r in self.records.values() if r.state in states]

    def move(self, job_id: str, target: str, reason: str, at: datetime) -> JobView:
        rec = self._rec(job_id)
        rec.move(target, reason, at)
        self._save()
        return rec.view()

    def note(self, job_id: str, reason: str, at: datetime) -> None:
        rec = self._rec(job_id)
        rec.history.append(Transition(at.isoformat(timespec="seconds"), rec.state, rec.state, reason))
        self._save()

    def place_many(self, items: list[tuple[str, str, str, str, str]], at: datetime) -> None:
        for job_id, site, _, plan_id, reason in items:
            rec = self._rec(job_id)
            rec.move(JobState.placed, reason, at)
            rec.site, rec.plan_id = site, plan_id
        if items:
            self._save()

    def brief(self, job_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        return {j: (r.state, r.site) for j in job_ids if (r := self.records.get(j)) is not None}

    def submitted_many(self, items: list[tuple[str, str, list[ObjectRef], str]], at: datetime) -> list[bool]:
        out = []
        for job_id, site, objects, reason in items:
            rec = self._rec(job_id)
            if rec.state != JobState.placed:
                for o in objects:
                    self._stale["/".join([site, o.kind, o.namespace, o.name])] = [site, o.kind, o.namespace, o.name]
                out.append(False)
                continue
            rec.move(JobState.submitted, reason, at)
            rec.site, rec.objects = site, [[o.kind, o.namespace, o.name] for o in objects]
            out.append(True)
        self._save()
        return out

    def release(self, job_id: str, target: str, reason: str, at: datetime, kept_h: float = 0.0) -> None:
        rec = self._rec(job_id)  # no specs here: kept work is noted in the reason only
        rec.move(target, reason, at)
        for o in rec.objects if rec.site else ():
            self._stale["/".join([rec.site, *o])] = [rec.site, *o]
        if target == JobState.pending:
            rec.site = None
        rec.objects = []
        self._save()

    def stale(self) -> list[StaleObject]:
        return [StaleObject(key, v[0], ObjectRef(*v[1:])) for key, v in self._stale.items()]

    def drop_stale(self, key: str) -> None:
        if self._stale.pop(key, None) is not None:
            self._save()

    def down(self) -> dict[str, datetime]:
        return {site: parse_time(since) for site, since in self._down.items()}

    def set_down(self, site: str, since: datetime | None) -> None:
        if since is None:
            if self._down.pop(site, None) is not None:
                self._save()
        elif site not in self._down:
            self._down[site] = since.isoformat(timespec="seconds")
            self._save()
