"""Capacity plans posted to the API, run in the background one at a time.

A run is a row of ``capacity_plans``: queued → running → done | failed. The process that accepted
it runs it and beats its heartbeat every few seconds while it is queued or running; a row whose
heartbeat is older than ``STALE_AFTER_S`` is shown as ``interrupted`` (its process stopped, say by
a restart), never as still running — post it again. At most ``MAX_PENDING`` runs wait in a process;
beyond that a post is refused with "try again later".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from suanwang.errors import Busy, SuanwangError
from suanwang.scheduler.db.models import CapacityPlanRow
from suanwang.simulations.capacity_load import Planning
from suanwang.simulations.capacity_run import run_planning

log = logging.getLogger(__name__)
MAX_PENDING = 8
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0


def shown_status(row: CapacityPlanRow, now: datetime) -> str:
    """The row's status, with a queued or running row whose heartbeat stopped as ``interrupted``."""
    if row.status in ("queued", "running"):
        beat = row.heartbeat_at or row.created_at
        if now - beat > timedelta(seconds=STALE_AFTER_S):
            return "interrupted"
    return row.status


class CapacityRuns:
    def __init__(self, sessions, now: Callable[[], datetime], registry: CollectorRegistry) -> None:
        self.sessions = sessions
        self.now = now
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capacity")
        self._mine: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.finished = Counter(
            "suanwang_capacity_plans_total", "Capacity plans run, by outcome.", ["status"], registry=registry
        )
        self.pending = Gauge(
            "suanwang_capacity_plans_pending", "Capacity plans queued or running here.", registry=registry
        )
        self._beat: threading.Thread | None = None  # started with the first run posted here

    def submit(self, plan_id: str, planning: Planning, validate: bool, rules: tuple[str, ...]) -> None:
        with self._lock:
            if len(self._mine) >= MAX_PENDING:
                raise Busy(f"{MAX_PENDING} capacity plans are already waiting here; post again later", 60.0)
            self._mine.add(plan_id)
            self.pending.set(len(self._mine))
            if self._beat is None:
                self._beat = threading.Thread(target=self._heartbeat, name="capacity-heartbeat", daemon=True)
                self._beat.start()
        self._pool.submit(self._run, plan_id, planning, validate, rules)

    def _run(self, plan_id: str, planning: Planning, validate: bool, rules: tuple[str, ...]) -> None:
        last = [0.0]

        def say(message: str) -> None:
            if time.monotonic() - last[0] >= 1.0:  # progress, at most once a second
                last[0] = time.monotonic()
                self._update(plan_id, progress=message[:1000], heartbeat_at=self.now())

        status = "failed"
        try:
            self._update(plan_id, status="running", started_at=self.now(), heartbeat_at=self.now())
            plan, doc = run_planning(planning, with_validation=validate, rules=rules, say=say)
            status = "done"
            error = None if plan.status in ("optimal", "feasible") else "; ".join(plan.reasons)[:4000] or plan.status
            self._update(plan_id, status=status, result=_jsonable(doc), error=error, progress=f"plan {plan.status}")
        except SuanwangError as e:
            self._update(plan_id, status=status, error=str(e)[:4000], progress="failed")
        except Exception as e:  # a run never takes the service down; it is recorded as failed
            log.exception("capacity plan %s failed", plan_id)
            self._update(
                plan_id,
                status=status,
                error=f"unexpected error ({type(e).__name__}: {e}); report it",
                progress="failed",
            )
        finally:
            self.finished.labels(status).inc()
            with self._lock:
                self._mine.discard(plan_id)
                self.pending.set(len(self._mine))

    def _update(self, plan_id: str, **fields: Any) -> None:
        if fields.get("status") in ("done", "failed"):
            fields["finished_at"] = self.now()
        try:
            with self.sessions.begin() as s:
                row = s.get(CapacityPlanRow, plan_id)
                if row is not None:
                    for k, v in fields.items():
                        setattr(row, k, v)
        except Exception:  # the database is away for now: the heartbeat lapses and readers see it
            log.exception("could not record capacity plan %s", plan_id)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                ids = list(self._mine)
            if not ids:
                continue
            try:
                with self.sessions.begin() as s:
                    for row in s.query(CapacityPlanRow).filter(CapacityPlanRow.id.in_(ids)).all():
                        row.heartbeat_at = self.now()
            except Exception:
                log.exception("capacity plan heartbeat failed")

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _jsonable(doc: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(doc, default=str))
