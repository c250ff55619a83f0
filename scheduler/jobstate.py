"""The job state machine: the states, and the allowed transitions in one table.

pending → placed → submitted → running → succeeded | failed | cancelled. A placed, submitted or
running job whose site fails goes back to pending; any job not yet finished can be cancelled or fail.
Every store records each transition with its time and reason, checked against this table.
"""

from __future__ import annotations

import enum

from suanwang.errors import PermanentError


class JobState(enum.StrEnum):
    pending = "pending"
    placed = "placed"
    submitted = "submitted"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


S = JobState
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    S.pending: frozenset({S.placed, S.cancelled, S.failed}),
    S.placed: frozenset({S.submitted, S.pending, S.failed, S.cancelled}),
    S.submitted: frozenset({S.running, S.succeeded, S.failed, S.pending, S.cancelled}),
    S.running: frozenset({S.succeeded, S.failed, S.cancelled, S.pending}),  # pending: its site died
    S.succeeded: frozenset(),
    S.failed: frozenset(),
    S.cancelled: frozenset(),
}
ACTIVE = (S.submitted, S.running)  # workloads exist at a site
QUEUED = (S.pending, S.placed, S.submitted, S.running)  # not finished
TERMINAL = (S.succeeded, S.failed, S.cancelled)


def allowed(source: str, target: str) -> bool:
    return JobState(target) in TRANSITIONS[JobState(source)]


def check(job_id: str, source: str, target: str, reason: str) -> None:
    """Raise :class:`PermanentError` unless ``source → target`` is in the table."""
    if not allowed(source, target):
        raise PermanentError(f"job {job_id}: cannot go from {source} to {target} ({reason}); it stays {source}")
