"""Job lifecycle: pending → placed → submitted → running → succeeded | failed | cancelled.

Every transition is recorded with its time and reason. Submission is idempotent (a job already
submitted to a site is not submitted again; an object found under its deterministic name is
adopted if it is ours). When a site's API server stays unreachable past ``unreachable_after_s``,
its jobs that are not yet running go back to pending, eligible for re-placement elsewhere, and
their stale objects are deleted once the site answers again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from suanwang.errors import InputError, PermanentError, TemporaryError
from suanwang.scheduler.k8s.client import SiteApi, workload_phase
from suanwang.scheduler.k8s.dryrun import manifests_by_site, plan_id
from suanwang.solvers.problem import Plan, Problem
from suanwang.timeutil import parse_time

ALLOWED = {
    "pending": {"placed", "cancelled", "failed"},
    "placed": {"submitted", "pending", "failed", "cancelled"},
    "submitted": {"running", "succeeded", "failed", "pending", "cancelled"},
    "running": {"succeeded", "failed", "cancelled"},
    "succeeded": set(),
    "failed": set(),
    "cancelled": set(),
}
ACTIVE = ("submitted", "running")


@dataclass
class Transition:
    at: str
    source: str
    target: str
    reason: str


@dataclass
class JobRecord:
    job_id: str
    state: str = "pending"
    site: str | None = None
    objects: list[list[str]] = field(default_factory=list)  # [kind, namespace, name]
    plan_id: str | None = None
    unreachable_since: str | None = None
    history: list[Transition] = field(default_factory=list)

    def move(self, target: str, reason: str, at: datetime) -> None:
        if target not in ALLOWED[self.state]:
            raise PermanentError(f"job {self.job_id}: cannot go from {self.state} to {target} ({reason})")
        self.history.append(Transition(at.isoformat(timespec="seconds"), self.state, target, reason))
        self.state = target


class JobStore:
    """Job records and stale submissions in a JSON file (written atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, JobRecord] = {}
        self.stale: list[dict] = []  # {"site": ..., "objects": [[kind, ns, name], ...]}
        self.down: dict[str, str] = {}  # site -> since when its API server has not answered
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                for r in data.get("jobs", []):
                    hist = [Transition(**t) for t in r.pop("history", [])]
                    self.records[r["job_id"]] = JobRecord(**r, history=hist)
                self.stale = list(data.get("stale", []))
                self.down = dict(data.get("down", {}))
            except (ValueError, TypeError, KeyError) as e:
                raise InputError(f"{self.path}: not a suanwang job store ({e}); move it away and retry") from e

    def get(self, job_id: str) -> JobRecord:
        return self.records.setdefault(job_id, JobRecord(job_id))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"jobs": [asdict(r) for r in self.records.values()], "stale": self.stale, "down": self.down}
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


class Lifecycle:
    def __init__(self, store: JobStore, apis: dict[str, SiteApi], unreachable_after_s: float = 300.0) -> None:
        self.store, self.apis, self.unreachable_after_s = store, apis, unreachable_after_s

    def submit(self, problem: Problem, plan: Plan, now: datetime) -> dict[str, str]:
        """Create the plan's workloads; returns job id → what happened."""
        pid = plan_id(problem, plan)
        by_site = manifests_by_site(problem, plan)
        out: dict[str, str] = {}
        for p in plan.placements:
            if p.fixed:
                continue
            rec = self.store.get(p.job)
            if rec.state in ACTIVE and rec.site == p.site:
                out[p.job] = f"already {rec.state} at {p.site}"
                continue
            if rec.state not in ("pending", "placed"):
                out[p.job] = f"left alone: {rec.state}"
                continue
            if rec.state == "pending":
                rec.move("placed", f"{pid}: {p.site}/{p.accelerator}, {p.nodes} nodes", now)
            rec.site, rec.plan_id = p.site, pid
            docs = [d for d in by_site[p.site] if d["metadata"]["annotations"].get("suanwang.io/job-id") == p.job]
            try:
                results = [self.apis[p.site].create(d, p.job) for d in docs]
            except TemporaryError as e:
                out[p.job] = f"placed; submission retried later: {e}"
                continue
            except PermanentError as e:
                rec.move("failed", str(e), now)
                out[p.job] = f"failed: {e}"
                continue
            finally:
                self.store.save()
            rec.objects = [[d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]] for d in docs]
            actions = ", ".join(f"{r.action} {r.kind} {r.name}" for r in results)
            rec.move("submitted", f"{p.site}: {actions}", now)
            out[p.job] = f"submitted to {p.site} ({actions})"
        self.store.save()
        return out

    def reconcile(self, now: datetime, job_ids: list[str] | None = None) -> None:
        """Read statuses back; fail over jobs of unreachable sites; remove stale submissions."""
        for rec in list(self.store.records.values()):
            if rec.state not in ACTIVE or (job_ids is not None and rec.job_id not in job_ids):
                continue
            main = next((o for o in rec.objects if o[0] in ("Job", "Deployment")), None)
            if main is None:
                continue
            try:
                phase, reason = workload_phase(main[0], self.apis[rec.site].read(*main))
            except TemporaryError as e:
                self.store.down.setdefault(rec.site, now.isoformat(timespec="seconds"))
                since = parse_time(rec.unreachable_since) if rec.unreachable_since else now
                rec.unreachable_since = since.isoformat(timespec="seconds")
                down_s = (now - since).total_seconds()
                if rec.state == "submitted" and down_s >= self.unreachable_after_s:
                    self.store.stale.append({"site": rec.site, "objects": rec.objects})
                    rec.move(
                        "pending",
                        f"site {rec.site} unreachable for {down_s:.0f} s ({e}); eligible for re-placement",
                        now,
                    )
                    rec.site, rec.objects, rec.unreachable_since = None, [], None
                continue
            rec.unreachable_since = None
            self.store.down.pop(rec.site, None)
            if phase == "missing":
                rec.move("failed", f"{main[0]} {main[2]} disappeared from {rec.site}", now)
            elif phase != rec.state and phase in ALLOWED[rec.state]:
                rec.move(phase, reason, now)
        keep = []
        for entry in self.store.stale:
            try:
                for kind, ns, name in entry["objects"]:
                    self.apis[entry["site"]].delete(kind, ns, name)
                self.store.down.pop(entry["site"], None)
            except TemporaryError:
                keep.append(entry)
        self.store.stale = keep
        self.store.save()

    def down_sites(self, now: datetime) -> list[str]:
        """Sites whose API server has not answered for ``unreachable_after_s``: not to be planned on."""
        return [
            sid
            for sid, since in self.store.down.items()
            if (now - parse_time(since)).total_seconds() >= self.unreachable_after_s
        ]

    def cancel(self, job_id: str, now: datetime) -> str:
        rec = self.store.records.get(job_id)
        if rec is None:
            raise InputError(f"no job {job_id!r} in {self.store.path}; check the id with `suanwang jobs status`")
        if rec.state in ACTIVE:
            for kind, ns, name in rec.objects:
                self.apis[rec.site].delete(kind, ns, name)
        rec.move("cancelled", "cancelled by request" + (f"; deleted from {rec.site}" if rec.objects else ""), now)
        self.store.save()
        return rec.state
