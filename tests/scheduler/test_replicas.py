"""Two ``suanwang serve`` processes on one PostgreSQL, submitting to the API server test double:
exactly one leads; after ``kill -9`` of the leader the other leads within two lease periods and
goes on, no job lost or submitted twice; a leader stopped (SIGSTOP to its process group: the API
and its planner process) past its lease and continued (SIGCONT) submits nothing. Each scenario
runs twice, bounded in time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.db.models import Base, JobRow, Submission
from tests.ports import free_port
from tests.scheduler.k8s.apiserver_double import ApiServerDouble
from tests.scheduler.k8s.test_lifecycle import kubeconfig
from tests.scheduler.test_service import NOW, spec

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 2.0


def fresh_schema(url: str):
    """An engine on ``url`` with every table dropped and the schema migrated anew."""
    eng = make_engine(url)
    with eng.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(eng)
    return eng


@contextmanager
def two_replicas(url: str, kc: Path, mini_file: Path, work: Path, names: tuple[str, str]):
    """Two `serve` processes; yields ``(procs, leader index)`` once one leads and both loops have
    cycled (the standby's planner watches the lease); ends both."""
    procs = [start(n, url, kc, mini_file, work / f"{n}.log") for n in names]
    try:
        wait_for(lambda: any(readyz(p).get("role") == "leader" for _, p in procs), 10)
        wait_for(lambda: all(readyz(p).get("loop") == "running" for _, p in procs), 30)
        yield procs, next(i for i, (_, p) in enumerate(procs) if readyz(p)["role"] == "leader")
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture()
def pg(postgres_url):
    eng = fresh_schema(postgres_url)
    yield postgres_url, eng
    eng.dispose()


def readyz(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return json.loads(r.read())
    except Exception:  # noqa: BLE001 — not up yet, or gone
        return {}


def start(name: str, url: str, kc: Path, mini_file: Path, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "suanwang.scheduler.cli", "serve", "--assume-empty-sites",
        "--topology", str(mini_file), "--kubeconfig", str(kc), "--database-url", url,
        "--port", str(port), "--period", "1", "--time-limit", "0.3",
        "--replica-id", name, "--lease-seconds", str(LEASE_S),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and readyz(port).get("status") != "ready":
        time.sleep(0.2)
    assert readyz(port).get("status") == "ready", log.read_text()[-2000:]
    return proc, port


def wait_for(predicate, seconds: float) -> float:
    """Seconds until ``predicate()`` held (or raise after ``seconds``)."""
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        if predicate():
            return time.monotonic() - t
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def submitted_once(eng, api, jobs: list[str]) -> None:
    def done() -> bool:
        with sessions(eng)() as s:
            return all(s.get(JobRow, f"t/{j}").state == "submitted" for j in jobs)

    wait_for(done, 10)  # objects first, then the record of them
    with sessions(eng)() as s:
        states = {repo.public_id(r.id): r.state for r in s.scalars(select(JobRow))}
        subs = s.scalar(select(func.count()).select_from(Submission))
    assert {j: states.get(j) for j in jobs} == dict.fromkeys(jobs, "submitted")  # none lost
    workloads = [k for k in api.created if k[0] == "jobs"]
    assert len(workloads) == len(set(workloads)) == len(jobs)  # none created twice (a retry adopts)
    assert subs == len(api.objects)


@pytest.mark.parametrize("round_", [1, 2])
def test_kill_the_leader_and_the_other_takes_over(pg, tmp_path, mini, mini_file, round_):
    url, eng = pg
    with (
        ApiServerDouble() as api,
        two_replicas(url, kubeconfig(tmp_path, mini, api.url), mini_file, tmp_path, ("r1", "r2")) as (procs, lead),
    ):
        other = procs[1 - lead]
        assert {readyz(p).get("role") for _, p in procs} == {"leader", "standby"}
        with sessions(eng).begin() as s:
            repo.add_jobs(s, [spec("a1", "Ascend910B", 8), spec("a2", "Ascend910B", 8)], "test", NOW)
        wait_for(lambda: len(api.objects) == 2, 10)
        procs[lead][0].send_signal(signal.SIGKILL)
        procs[lead][0].wait(timeout=10)
        took = wait_for(lambda: readyz(other[1]).get("role") == "leader", 4 * LEASE_S)
        assert took <= 2 * LEASE_S + 1.0, took  # within two lease periods (+ polling)
        with sessions(eng).begin() as s:
            repo.add_jobs(s, [spec("b1", "Ascend910B", 8)], "test", NOW)
        wait_for(lambda: len(api.objects) == 3, 10)
        submitted_once(eng, api, ["a1", "a2", "b1"])


@pytest.mark.parametrize("round_", [1, 2])
def test_a_stopped_leader_that_continues_submits_nothing(pg, tmp_path, mini, mini_file, round_):
    url, eng = pg
    with (
        ApiServerDouble() as api,
        two_replicas(url, kubeconfig(tmp_path, mini, api.url), mini_file, tmp_path, ("s1", "s2")) as (procs, lead),
    ):
        paused, other = procs[lead], procs[1 - lead]
        os.killpg(paused[0].pid, signal.SIGSTOP)
        wait_for(lambda: readyz(other[1]).get("role") == "leader", 4 * LEASE_S)
        with sessions(eng).begin() as s:
            repo.add_jobs(s, [spec("c1", "Ascend910B", 8), spec("c2", "Ascend910B", 8)], "test", NOW)
        wait_for(lambda: len(api.objects) == 2, 10)
        calls_before = len(api.calls)
        os.killpg(paused[0].pid, signal.SIGCONT)
        time.sleep(3 * LEASE_S)  # it wakes up believing it leads, then finds the lease gone
        assert readyz(paused[1]).get("role") == "standby"
        submitted_once(eng, api, ["c1", "c2"])
        assert not [m for m, _ in api.calls[calls_before:] if m in ("POST", "DELETE")]


def test_sigterm_hands_the_lease_over_at_once(pg, tmp_path, mini, mini_file):
    from typer.testing import CliRunner

    from suanwang.scheduler.cli import app

    url, eng = pg
    with (
        ApiServerDouble() as api,
        two_replicas(url, kubeconfig(tmp_path, mini, api.url), mini_file, tmp_path, ("t1", "t2")) as (procs, lead),
    ):
        other = procs[1 - lead]
        shown = CliRunner().invoke(app, ["status", "--server", f"http://127.0.0.1:{other[1]}"])
        assert shown.exit_code == 0 and "is standby" in shown.output and "not cycled" not in shown.output
        assert f"leader {('t1', 't2')[lead]}" in shown.output
        procs[lead][0].send_signal(signal.SIGTERM)
        assert procs[lead][0].wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises it when done
        took = wait_for(lambda: readyz(other[1]).get("role") == "leader", 4 * LEASE_S)
        assert took < LEASE_S  # released, not left to expire
