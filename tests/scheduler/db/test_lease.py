"""One leader among replicas, on SQLite and PostgreSQL: the lease row with its epoch, takeover
after expiry, fencing of a leader that lost the lease (its writes refused, nothing created at a
site), release at shutdown, and the control loop of a standby replica doing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.db.lease import Fenced, Lease
from suanwang.scheduler.db.models import JobRow
from suanwang.scheduler.service import ControlLoop
from tests.scheduler.test_service import NOW, queue, spec

T0 = datetime(2026, 11, 30, 8, 0)


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def test_one_holder_takeover_after_expiry_and_fencing(engine):
    ca, cb = Clock(T0), Clock(T0)
    a = Lease(sessions(engine), "a", ttl_s=10, clock=ca)
    b = Lease(sessions(engine), "b", ttl_s=10, clock=cb)
    assert a.acquire() and not b.acquire()
    assert a.leader() == ("a", 1)
    ca.t = cb.t = T0 + timedelta(seconds=8)
    assert a.acquire() and not b.acquire()  # renewed in time
    cb.t = T0 + timedelta(seconds=19)  # a paused: its lease (renewed at 8 s) ran out at 18 s
    assert b.acquire() and b.epoch == 2
    ca.t = cb.t
    with sessions(engine).begin() as s, pytest.raises(Fenced, match="no longer leads"):
        a.fence(s)
    assert not a.acquire() and a.epoch is None
    b.release()
    assert a.acquire() and a.epoch == 3  # released at once: no waiting for expiry


def test_an_expired_leader_is_fenced_even_before_anyone_takes_over(engine):
    clock = Clock(T0)
    a = Lease(sessions(engine), "a", ttl_s=5, clock=clock)
    assert a.acquire()
    clock.t = T0 + timedelta(seconds=6)
    with sessions(engine).begin() as s, pytest.raises(Fenced, match="expired"):
        a.fence(s)


def test_a_paused_leader_that_wakes_changes_nothing(engine, mini, tmp_path):
    queue(engine, spec("p1"))
    clock = Clock(T0)
    lease_a = Lease(sessions(engine), "a", ttl_s=10, clock=clock)
    a = ControlLoop(
        create_app(engine, mini, now=lambda: NOW), manifests_dir=tmp_path / "a", time_limit_s=0.5,
        assume_empty=True, lease=lease_a,
    )  # fmt: skip
    assert a.leads()
    # a pauses here, after planning in memory; b takes over meanwhile
    problem_plan = a._plan  # noqa: SLF001 — the stage a was in when it paused
    clock_b = Clock(T0 + timedelta(seconds=30))
    lease_b = Lease(sessions(engine), "b", ttl_s=10, clock=clock_b)
    assert lease_b.acquire() and lease_b.epoch == 2
    clock.t = clock_b.t  # a wakes up
    from suanwang.scheduler.service import CycleReport

    with pytest.raises(Fenced):
        problem_plan(NOW, CycleReport(NOW))
    with sessions(engine)() as s:
        row = s.get(JobRow, "t/p1")
        assert row.state == "pending" and len(row.history) == 1  # nothing recorded by a
        assert repo.latest_plan(s) is None
    assert not (tmp_path / "a").exists()  # and nothing written for a site


def test_a_standby_replica_does_not_cycle(engine, mini, tmp_path):
    queue(engine, spec("s1"))
    clock = Clock(T0)
    leader = ControlLoop(
        create_app(engine, mini, now=lambda: NOW), manifests_dir=tmp_path / "m", time_limit_s=0.5,
        assume_empty=True, lease=Lease(sessions(engine), "lead", clock=clock),
    )  # fmt: skip
    standby_app = create_app(engine, mini, now=lambda: NOW)
    standby = ControlLoop(
        standby_app, manifests_dir=tmp_path / "m", time_limit_s=0.5, assume_empty=True,
        lease=Lease(sessions(engine), "spare", clock=clock),
    )  # fmt: skip
    assert leader.cycle(NOW).submitted == 1
    report = standby.cycle(NOW)
    assert report.placed == 0 and "standby" in report.errors[0] and standby.health.standby
    assert standby_app.state.registry.get_sample_value("suanwang_leader") == 0.0
    assert leader.app.state.registry.get_sample_value("suanwang_leader") == 1.0
    assert standby.health.problem() is None  # a standby is ready: it serves the API


def test_a_restarted_replica_takes_its_own_lease_back_with_a_new_epoch(engine):
    clock = Clock(T0)
    first = Lease(sessions(engine), "pod-0", clock=clock)
    assert first.acquire() and first.epoch == 1
    again = Lease(sessions(engine), "pod-0", clock=clock)  # the container restarted
    assert again.acquire() and again.epoch == 2
    with sessions(engine).begin() as s, pytest.raises(Fenced):
        first.fence(s)  # the earlier run, should it still be around, writes nothing
