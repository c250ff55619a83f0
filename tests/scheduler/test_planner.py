"""The planner process beside the API (``suanwang serve``, the default ``--planner process``): a
submission through the API is planned and submitted by it; ``/readyz`` and ``/metrics`` show its
cycles (one family per name, counters of both processes added up); a planner that dies takes the
API down with exit code 70, and an API killed with SIGKILL leaves no planner behind. Also: the loop
follows the topology version stored last (a site added through another process's API), and the
metric merge on its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.planner import MergedMetrics, merge_families
from suanwang.scheduler.service import ControlLoop
from suanwang.timeutil import now_local
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
JOB = {
    "id": "p1",
    "kind": "training",
    "duration_h": 2,
    "accelerators": {"count": 8, "per_node": 8, "models": ["Ascend910B"]},
    "container": {"image": "reg.example/train:1"},
}


def planners(pid: int) -> list[int]:
    """The planner processes ``pid`` started (not multiprocessing's resource tracker)."""
    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def start(tmp_path: Path, mini_file: Path) -> tuple[subprocess.Popen, str, str, object]:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with sessions(engine).begin() as s:
        token = repo.create_token(s, "admin", None, "test", datetime.now())
    port = free_port()
    cmd = [
        sys.executable, "-m", "suanwang.scheduler.cli", "serve", "--assume-empty-sites", "--topology", str(mini_file),
        "--manifests", str(tmp_path / "m"), "--period", "30", "--time-limit", "0.3", "--port", str(port),
        "--database-url", url,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=(tmp_path / "serve.log").open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    assert until(lambda: get(f"{base}/readyz")[0] == 200, 60), (tmp_path / "serve.log").read_text()[-2000:]
    return proc, base, token, engine


def test_serve_plans_in_a_process_of_its_own(tmp_path, mini_file):
    proc, base, token, engine = start(tmp_path, mini_file)
    try:
        planner = planners(proc.pid)
        assert len(planner) == 1, "no planner process"
        body = json.dumps({"jobs": [{**JOB, "tenant": "t"}]}).encode()
        req = urllib.request.Request(
            f"{base}/v1/jobs", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )  # fmt: skip
        t = time.monotonic()
        assert urllib.request.urlopen(req, timeout=5).status == 201

        def state() -> str:
            return json.loads(get(f"{base}/v1/jobs/p1?tenant=t", token)[1]).get("state", "")

        assert until(lambda: state() == "submitted", 20), state()
        assert time.monotonic() - t < 15.0  # woken by the submission, not at the next 30-s period
        assert (tmp_path / "m").exists()

        def metrics() -> str:
            status, text = get(f"{base}/metrics", token)
            assert status == 200
            return text

        # the planner reports after its cycle's last stage: the job's state is written before
        assert until(lambda: 'suanwang_job_transitions_total{to="submitted"}' in metrics(), 10)
        text = metrics()
        types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
        assert len(types) == len(set(types))  # one family per name
        samples = {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"
        }
        assert samples["suanwang_cycle_duration_seconds_count"] >= 1
        assert samples["suanwang_leader"] == 1.0
        assert samples['suanwang_job_transitions_total{to="submitted"}'] == 1.0
        assert json.loads(get(f"{base}/readyz")[1])["role"] == "leader"

        os.kill(planner[0], signal.SIGKILL)  # the planner dies: the API does not serve on without it
        assert proc.wait(timeout=20) == 70
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        engine.dispose()


def test_an_api_killed_leaves_no_planner_behind(tmp_path, mini_file):
    proc, _, _, engine = start(tmp_path, mini_file)
    try:
        planner = planners(proc.pid)
        assert len(planner) == 1 and alive(planner[0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert until(lambda: not alive(planner[0]), 5)  # no orphan keeps the lease
    finally:
        engine.dispose()


def test_the_loop_follows_the_topology_version_stored_last(tmp_path, mini, mini_file):
    engine = make_engine(f"sqlite:///{tmp_path / 'topo.db'}")
    upgrade(engine)
    with sessions(engine).begin() as s:
        digest = repo.save_topology(s, "mini", mini_file.read_text(), now_local()).sha256
    app = create_app(engine, mini)
    app.state.topology_digest = digest
    loop = ControlLoop(app, time_limit_s=0.3, assume_empty=True)
    loop.cycle()
    assert app.state.topology is mini
    doc = yaml.safe_load(mini_file.read_text())
    extra = {**doc["sites"][0], "id": "added-site"}
    doc["sites"].append(extra)
    with sessions(engine).begin() as s:  # what another process's API stores when a site is added
        repo.save_topology(s, "mini", yaml.safe_dump(doc), now_local())
    loop.cycle()
    assert "added-site" in [s.id for s in app.state.topology.sites]
    assert app.state.topology_digest != digest
    engine.dispose()


def test_metrics_of_both_processes_merge_into_one_family_each():
    api, planner = CollectorRegistry(), CollectorRegistry()
    for reg, n in ((api, 2), (planner, 3)):
        Counter("jobs_done", "done", ["to"], registry=reg).labels("x").inc(n)
        Gauge("leader", "leads", registry=reg).set(0 if reg is api else 1)
    Gauge("only_api", "api", registry=api).set(5)
    Gauge("only_planner", "planner", registry=planner).set(7)
    merged = merge_families(list(api.collect()), list(planner.collect()))
    names = [f.name for f in merged]
    assert sorted(names) == ["jobs_done", "leader", "only_api", "only_planner"]
    values = {(s.name, tuple(s.labels.items())): s.value for f in merged for s in f.samples}
    assert values[("jobs_done_total", (("to", "x"),))] == 5.0  # counters add up
    assert values[("leader", ())] == 1.0  # the planner's gauge stands
    text = generate_latest(MergedMetrics(api, lambda: list(planner.collect()))).decode()
    assert text.count("# TYPE jobs_done_total counter") == 1 and "only_planner 7.0" in text
