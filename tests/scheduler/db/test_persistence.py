"""Persistence on SQLite and on a real PostgreSQL: migrations, jobs with specs and history, no
duplicates, plans, submissions, hashed tokens, the audit log, and what a restart keeps."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect, select

from suanwang.errors import InputError, PermanentError, TemporaryError
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import database_url, make_engine, sessions, upgrade
from suanwang.scheduler.db.models import ApiToken, AuditEntry, JobRow
from suanwang.scheduler.jobfile import jobs_to_dict, load_jobs

AT = datetime(2026, 11, 25, 9, 0)


def specs(jiangsu):
    jobs, _ = load_jobs("scheduler/data/demo_jobs.yaml", jiangsu)
    return jobs_to_dict(jobs[:20])["jobs"]


def test_migrations_create_every_table(engine):
    names = set(inspect(engine).get_table_names())
    assert {
        "topology_versions",
        "jobs",
        "job_transitions",
        "plans",
        "submissions",
        "api_tokens",
        "audit_log",
        "alembic_version",
    } <= names
    upgrade(engine)  # idempotent


def test_jobs_round_trip_with_history_and_no_duplicates(engine, jiangsu):
    make = sessions(engine)
    batch = specs(jiangsu)
    with make.begin() as s:
        added, existing = repo.add_jobs(s, batch, "alice", AT)
    assert len(added) == 20 and not existing
    with make.begin() as s:
        added2, existing2 = repo.add_jobs(s, batch[:5] + batch[:1], "alice", AT)
    assert not added2 and len(existing2) == 6
    key = [repo.job_key(b["tenant"], b["id"]) for b in batch]
    with make.begin() as s:
        repo.transition(s, key[0], "placed", "plan-1: nj-hub", AT, site="nj-hub")
        repo.transition(s, key[0], "submitted", "created Job", AT)
        with pytest.raises(PermanentError):
            repo.transition(s, key[1], "running", "skipped ahead", AT)
        with pytest.raises(InputError):
            repo.transition(s, "nope", "placed", "x", AT)
    with make() as s:
        rows = s.scalars(select(JobRow)).all()
        assert len(rows) == 20
        first = s.get(JobRow, key[0])
        assert first.spec == batch[0] and first.site == "nj-hub"
        assert [(t.source, t.target) for t in first.history] == [
            ("new", "pending"),
            ("pending", "placed"),
            ("placed", "submitted"),
        ]
        assert len(repo.jobs_in(s, ("pending",))) == 19
        tenant = batch[3]["tenant"]
        assert all(r.tenant == tenant for r in repo.jobs_in(s, ("pending", "submitted"), tenant))


def test_a_restart_keeps_everything(engine, jiangsu):
    make = sessions(engine)
    with make.begin() as s:
        repo.add_jobs(s, specs(jiangsu)[:3], "bob", AT)
    engine.dispose()  # the service stops
    again = sessions(make_engine(engine.url.render_as_string(hide_password=False)))
    with again() as s:
        assert len(s.scalars(select(JobRow)).all()) == 3


def test_failed_transaction_loses_nothing_accepted(engine, jiangsu):
    make = sessions(engine)
    batch = specs(jiangsu)
    with make.begin() as s:
        repo.add_jobs(s, batch[:2], "carol", AT)
    with pytest.raises(RuntimeError), make.begin() as s:
        repo.add_jobs(s, batch[2:4], "carol", AT)
        raise RuntimeError("the call fails half-way")
    with make() as s:
        assert {r.id for r in s.scalars(select(JobRow))} == {repo.job_key(b["tenant"], b["id"]) for b in batch[:2]}


def test_plans_submissions_tokens_audit(engine):
    make = sessions(engine)
    with make.begin() as s:
        repo.add_jobs(s, [{"id": "j1", "kind": "training", "tenant": "t", "priority": 1}], "admin", AT)
        repo.record_plan(
            s,
            "plan-1",
            {"solver": "cpsat", "status": "OPTIMAL", "objective": 1.0, "bound": 1.0, "gap": 0.0, "placements": []},
            AT,
        )
        assert repo.record_submissions(s, [("t/j1", "nj-hub", "Job", "suanwang", "j1", False)], AT) == [True]
        assert repo.record_submissions(s, [("t/j1", "nj-hub", "Job", "suanwang", "j1", False)], AT) == [False]
        token = repo.create_token(s, "submitter", "t", "admin", AT)
        with pytest.raises(InputError):
            repo.create_token(s, "submitter", None, "admin", AT)
        with pytest.raises(InputError):
            repo.create_token(s, "root", None, "admin", AT)
        repo.save_topology(s, "jiangsu", "name: x\n", AT)
        assert repo.save_topology(s, "jiangsu", "name: x\n", AT).id == repo.save_topology(s, "j", "name: x\n", AT).id
    with make() as s:
        stored = s.scalars(select(ApiToken)).all()
        assert len(stored) == 1 and token not in stored[0].token_hash and len(stored[0].token_hash) == 64
        assert repo.verify_token(s, token, AT).tenant == "t" and repo.verify_token(s, token + "x", AT) is None
        actions = [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["jobs.submit", "token.create"]


def test_database_url_and_errors(monkeypatch):
    monkeypatch.delenv("SUANWANG_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///suanwang.db"
    monkeypatch.setenv("SUANWANG_DATABASE_URL", "postgresql://u@h:5/db")
    assert database_url() == "postgresql+psycopg://u@h:5/db"
    with pytest.raises(InputError):
        make_engine("not a url")
    with pytest.raises(TemporaryError, match="not reachable"):
        upgrade(make_engine("postgresql://nobody@127.0.0.1:9/none"))


def test_jobs_already_running_are_recorded_as_running(engine):
    make = sessions(engine)
    running = {
        "id": "r",
        "kind": "training",
        "tenant": "t",
        "priority": 1,
        "running": {"site": "nj-hub", "accelerator": "H800"},
    }
    with make.begin() as s:
        repo.add_jobs(s, [running], "alice", AT)
    with make() as s:
        row = s.get(JobRow, "t/r")
        assert (row.state, row.site) == ("running", "nj-hub") and "already running" in row.history[0].reason
        assert not repo.jobs_in(s, ("pending",))
