"""Kill ``suanwang serve --once`` mid-cycle (SIGKILL while it creates workloads in the API server
test double), start it again: no job is lost and none is submitted twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.db.models import JobRow, Submission
from suanwang.scheduler.k8s.manifests import resource_name
from tests.scheduler.k8s.apiserver_double import ApiServerDouble
from tests.scheduler.k8s.test_lifecycle import kubeconfig
from tests.scheduler.test_service import NOW, spec

ROOT = Path(__file__).resolve().parents[2]


def test_kill_mid_cycle_and_restart(tmp_path, mini, mini_file):
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with sessions(engine).begin() as s:
        repo.add_jobs(s, [spec("k1"), spec("k2", "Ascend910B", 8), spec("k3", "Ascend910B", 8)], "test", NOW)
    with ApiServerDouble() as api:
        kc = kubeconfig(tmp_path, mini, api.url)
        cmd = [
            sys.executable,
            "-m",
            "suanwang.scheduler.cli",
            "serve",
            "--once",
            "--assume-empty-sites",
            "--replica-id",
            "restart-test",  # the same replica, restarted: it takes its own lease back at once
            "--topology",
            str(mini_file),
            "--kubeconfig",
            str(kc),
            "--database-url",
            url,
            "--time-limit",
            "0.5",
        ]
        api.post_delay_s = 1.0
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not api.objects and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()  # mid-cycle: some workloads exist, their records may not
        proc.wait(10)
        assert api.objects, "the service was killed before it created anything"
        created_before = set(api.objects)
        with sessions(engine)() as s:
            assert s.scalar(select(func.count()).select_from(JobRow)) == 3  # nothing lost
        api.post_delay_s = 0.0
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        with sessions(engine)() as s:
            states = {repo.public_id(r.id): r.state for r in s.scalars(select(JobRow))}
            subs = s.scalars(select(Submission)).all()
        assert states == {"k1": "submitted", "k2": "submitted", "k3": "submitted"}
        jobs_in_cluster = [k for k in api.objects if k[0] == "jobs"]
        names = sorted(resource_name(f"t/{j}") for j in ("k1", "k2", "k3"))
        assert sorted(k[2] for k in jobs_in_cluster) == names  # one workload per job
        assert created_before <= set(api.objects)
        assert len({(x.site, x.kind, x.name) for x in subs}) == len(subs) == len(api.objects)
