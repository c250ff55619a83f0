"""Two replicas, one leader: how fast the standby takes over and what is lost, duplicated or
written by a leader that lost its lease. Two `suanwang serve` processes on one private
PostgreSQL, submitting to the API server test double (tests/scheduler/k8s/apiserver_double.py),
lease 2 s, cycle period 1 s.

    python bench/failover.py [--kills 30] [--stops 10]

Rounds of two kinds: `kill -9` of the leader (seconds until the other reports itself leader on
/readyz), and SIGSTOP of the leader's process group (its API and planner processes) past its
lease then SIGCONT (requests the woken replica sent to the site afterwards). Every round counts
jobs lost (queued but never submitted) and submitted twice (a workload created more than once: a
new leader that finds its predecessor's object under the deterministic name adopts it instead).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from suanwang.scheduler.db import repo  # noqa: E402
from suanwang.scheduler.db.engine import sessions  # noqa: E402
from suanwang.scheduler.db.models import JobRow  # noqa: E402
from suanwang.topology.loader import load_topology  # noqa: E402
from tests.conftest import MINI  # noqa: E402
from tests.pgcluster import postgres_cluster  # noqa: E402
from tests.scheduler.k8s.apiserver_double import ApiServerDouble  # noqa: E402
from tests.scheduler.k8s.test_lifecycle import kubeconfig  # noqa: E402
from tests.scheduler.test_replicas import LEASE_S, fresh_schema, readyz, two_replicas, wait_for  # noqa: E402
from tests.scheduler.test_service import NOW, spec  # noqa: E402


def states(eng) -> dict[str, str]:
    with sessions(eng)() as s:
        return {repo.public_id(r.id): r.state for r in s.scalars(select(JobRow))}


def counts(eng, api, jobs: list[str]) -> tuple[int, int]:
    """Jobs not submitted within 10 s of their objects appearing, and objects created twice."""
    try:
        wait_for(lambda: all(states(eng).get(j) == "submitted" for j in jobs), 10)
    except AssertionError:
        pass
    now = states(eng)
    lost = sum(1 for j in jobs if now.get(j) != "submitted")
    workloads = [k for k in api.created if k[0] == "jobs"]
    return lost, len(workloads) - len(set(workloads))


def one_round(kind: str, url: str, work: Path, mini, mini_file: Path, n: int) -> dict:
    eng = fresh_schema(url)
    names = (f"{kind}{n}-1", f"{kind}{n}-2")
    with (
        ApiServerDouble() as api,
        two_replicas(url, kubeconfig(work, mini, api.url), mini_file, work, names) as (
            procs,
            lead,
        ),
    ):
        try:
            other = procs[1 - lead]
            jobs = [f"{kind}{n}-{k}" for k in range(3)]
            with sessions(eng).begin() as s:
                repo.add_jobs(s, [spec(jobs[0], "Ascend910B", 8)], "bench", NOW)
            wait_for(lambda: len(api.objects) == 1, 10)
            if kind == "kill":
                procs[lead][0].send_signal(signal.SIGKILL)
                procs[lead][0].wait(timeout=10)
                took = wait_for(lambda: readyz(other[1]).get("role") == "leader", 6 * LEASE_S)
                late = 0
            else:
                os.killpg(procs[lead][0].pid, signal.SIGSTOP)
                took = wait_for(lambda: readyz(other[1]).get("role") == "leader", 6 * LEASE_S)
            with sessions(eng).begin() as s:
                repo.add_jobs(s, [spec(j, "Ascend910B", 8) for j in jobs[1:]], "bench", NOW)
            wait_for(lambda: len(api.objects) == 3, 15)
            if kind == "stop":
                before = len(api.calls)
                os.killpg(procs[lead][0].pid, signal.SIGCONT)
                time.sleep(3 * LEASE_S)
                late = sum(1 for m, _ in api.calls[before:] if m in ("POST", "DELETE"))
            lost, twice = counts(eng, api, jobs)
            return {"took": took, "lost": lost, "twice": twice, "late": late}
        finally:
            eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--stops", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_cluster() as url:
        work = Path(tmp)
        mini_file = work / "mini.yaml"
        mini_file.write_text(MINI)
        mini = load_topology(mini_file)
        rows = []
        for kind, rounds in (("kill", args.kills), ("stop", args.stops)):
            results = []
            for n in range(rounds):
                r = one_round(kind, url, work, mini, mini_file, n)
                results.append(r)
                print(f"[{time.strftime('%H:%M:%S')}] {kind} round {n + 1}: {r}", file=sys.stderr)
            took = [r["took"] for r in results]
            rows.append(
                (
                    "kill -9 the leader" if kind == "kill" else "SIGSTOP past the lease, SIGCONT",
                    rounds,
                    statistics.median(took),
                    max(took),
                    sum(r["lost"] for r in results),
                    sum(r["twice"] for r in results),
                    sum(r["late"] for r in results),
                )
            )
    print("| scenario | rounds | takeover p50 s | takeover max s | jobs lost | submitted twice | late writes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rounds, p50, mx, lost, twice, late in rows:
        print(f"| {name} | {rounds} | {p50:.2f} | {mx:.2f} | {lost} | {twice} | {late} |")
    print(
        f"\nlease {LEASE_S:g} s, cycle period 1 s; PostgreSQL 15 (private cluster); "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
    )


if __name__ == "__main__":
    main()
