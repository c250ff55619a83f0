"""The control loop never dies silently: a stage that raises anything is logged with its
traceback, counted in ``suanwang_loop_errors_total{stage}``, and the loop goes on (with backoff);
a database outage is ridden out; ``/readyz`` turns 503 with the reason when no cycle completes
within a few periods; a loop thread that ends makes the process exit so its supervisor restarts it;
one queued job that no longer validates fails alone while the others are planned."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.cli import serve_cmd
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.db.models import JobRow
from suanwang.scheduler.service import ControlLoop, LoopHealth
from tests.scheduler.test_service import spec as service_spec

NOW = datetime(2026, 11, 25, 9, 0)


def spec(jid, **extra):
    return {**service_spec(jid), **extra}


@pytest.fixture()
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'loop.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def errors_total(app, stage: str) -> float:
    return app.state.registry.get_sample_value("suanwang_loop_errors_total", {"stage": stage}) or 0.0


def test_an_unexpected_error_in_a_stage_is_counted_and_the_cycle_goes_on(engine, mini, caplog):
    app = create_app(engine, mini, now=lambda: NOW)
    loop = ControlLoop(app, time_limit_s=0.5, assume_empty=True)

    def broken(now, report):
        raise ZeroDivisionError("a bug in planning")

    loop._plan = broken
    with caplog.at_level(logging.ERROR, logger="suanwang.loop"):
        report = loop.cycle(NOW)
    assert report.failed_stages == ["plan"] and "ZeroDivisionError" in report.errors[0]
    assert errors_total(app, "plan") == 1.0
    assert any(r.exc_info and "plan" in r.getMessage() for r in caplog.records)  # with its traceback
    assert "metrics" not in report.failed_stages  # the stages after it still ran


def test_run_survives_every_cycle_failing_and_backs_off(engine, mini):
    app = create_app(engine, mini, now=lambda: NOW)
    loop = ControlLoop(app, time_limit_s=0.5, assume_empty=True)
    calls: list[float] = []

    def always_fails(now=None):
        calls.append(time.monotonic())
        raise RuntimeError("the whole cycle broke")

    loop.cycle = always_fails
    stop = threading.Event()
    t = threading.Thread(target=loop.run, args=(0.4, stop), daemon=True)
    t.start()
    time.sleep(1.5)
    stop.set()
    loop.wake.set()
    t.join(timeout=5)
    assert not t.is_alive() and len(calls) >= 3
    assert errors_total(app, "cycle") == len(calls)
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(g <= 0.4 + 0.25 for g in gaps)  # backoff never longer than the period


def test_database_outage_is_ridden_out_and_readyz_says_why(engine, mini, monkeypatch):
    app = create_app(engine, mini, now=lambda: NOW)
    loop = ControlLoop(app, time_limit_s=0.5, assume_empty=True)
    with sessions(engine).begin() as s:
        repo.add_jobs(s, [spec("a")], "test", NOW)
    real = app.state.sessions

    class Down:
        def __call__(self, *a, **k):
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

        def begin(self, *a, **k):
            return self()

    monkeypatch.setattr(loop.store, "sessions", Down())
    app.state.sessions = Down()
    report = loop.cycle(NOW)
    assert "plan" in report.failed_stages and errors_total(app, "plan") >= 1
    loop.health.period_s, loop.health.started = 0.01, time.monotonic() - 10
    client = TestClient(app, raise_server_exceptions=False)
    down = client.get("/readyz")
    assert down.status_code == 503 and "database" in down.json()["detail"]
    app.state.sessions = real
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and "no control-loop cycle completed" in not_ready.json()["detail"]
    assert "connection refused" in not_ready.json()["detail"] and not_ready.headers["retry-after"]
    monkeypatch.setattr(loop.store, "sessions", real)
    ok = loop.cycle(NOW)  # the database is back: the next cycle plans as if nothing happened
    assert not ok.failed_stages and ok.placed == 1
    assert client.get("/readyz").status_code == 200


def test_health_turns_red_only_after_a_few_periods():
    h = LoopHealth(period_s=10.0, stale_periods=3.0, started=100.0)
    assert h.problem(now=125.0) is None
    assert "since the start" in h.problem(now=131.0)
    h.last_ok = 200.0
    assert h.problem(now=229.0) is None and "for 31 s" in h.problem(now=231.0)


def test_a_loop_thread_that_ends_exits_the_process(monkeypatch):
    codes: list[int] = []
    monkeypatch.setattr(serve_cmd.os, "_exit", codes.append)

    class Dies:
        def run(self, period_s, stop):
            raise MemoryError("out of memory")

    serve_cmd._supervised(Dies(), 1.0, threading.Event())
    assert codes == [70]
    stopped = threading.Event()
    stopped.set()

    class Stops:
        def run(self, period_s, stop):
            return None

    serve_cmd._supervised(Stops(), 1.0, stopped)
    assert codes == [70]  # a loop stopped on purpose is no failure


def test_one_invalid_queued_job_fails_alone(engine, mini):
    app = create_app(engine, mini, now=lambda: NOW)
    with sessions(engine).begin() as s:
        repo.add_jobs(s, [spec("good"), spec("other")], "test", NOW)
        s.add(
            JobRow(
                id="bad",
                tenant="t",
                kind="training",
                priority=1,
                spec=spec("bad", duration_h=float("inf")),
                state="pending",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    report = ControlLoop(app, time_limit_s=0.5, assume_empty=True).cycle(NOW)
    with sessions(engine)() as s:
        states = {repo.public_id(r.id): r.state for r in s.query(JobRow)}
        reason = s.get(JobRow, "bad").history[-1].reason
    assert states == {"good": "placed", "other": "placed", "bad": "failed"}, report
    assert "duration_h" in reason


def test_a_job_the_solver_chokes_on_is_set_aside_and_the_rest_planned(engine, mini, monkeypatch):
    from suanwang.scheduler import service

    real = service.solve

    def picky(problem, name="cpsat", **kw):
        if any(j.id.endswith("poison") for j in problem.jobs):
            raise OverflowError("cannot convert float infinity to integer")
        return real(problem, name, **kw)

    monkeypatch.setattr(service, "solve", picky)
    app = create_app(engine, mini, now=lambda: NOW)
    with sessions(engine).begin() as s:
        repo.add_jobs(s, [spec("a"), spec("poison"), spec("b")], "test", NOW)
    report = ControlLoop(app, time_limit_s=0.5, assume_empty=True).cycle(NOW)
    with sessions(engine)() as s:
        states = {repo.public_id(r.id): r.state for r in s.query(JobRow)}
        reason = s.get(JobRow, "t/poison").history[-1].reason
    assert states == {"a": "placed", "b": "placed", "poison": "failed"}
    assert "OverflowError" in reason and "set aside" in reason
    assert not report.failed_stages and any("poison" in e for e in report.errors)


def test_readyz_says_whether_the_loop_has_cycled(engine, mini):
    app = create_app(engine, mini, now=lambda: NOW)
    loop = ControlLoop(app, time_limit_s=0.5, assume_empty=True)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/readyz").json() == {"status": "ready", "loop": "starting"}  # within its grace
    loop.cycle(NOW)
    assert client.get("/readyz").json() == {"status": "ready", "loop": "running"}
