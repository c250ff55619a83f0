"""The control loop on SQLite and PostgreSQL, submitting through the official Kubernetes client to
the API server test double (not a cluster): a cycle places and submits queued jobs and reads their
status back; a restart after a failed cycle loses no job and creates nothing twice; dry-run mode
writes manifests. Also ``suanwang token create`` and ``suanwang serve --once``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.cli import app as cli
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.db.models import ApiToken, JobRow
from suanwang.scheduler.k8s.client import SiteApi, site_clients
from suanwang.scheduler.k8s.manifests import resource_name
from suanwang.scheduler.service import ControlLoop
from tests.scheduler.k8s.apiserver_double import ApiServerDouble
from tests.scheduler.k8s.test_lifecycle import kubeconfig

NOW = datetime(2026, 11, 25, 9, 0)


def spec(jid, model="H800", count=8):
    return {
        "id": jid,
        "kind": "training",
        "tenant": "t",
        "priority": 2,
        "duration_h": 2,
        "accelerators": {"count": count, "per_node": 8, "models": [model]},
        "container": {"image": "reg.example/train:1"},
    }


@pytest.fixture()
def cluster(tmp_path, mini):
    with ApiServerDouble() as api:
        clients = site_clients(mini, kubeconfig(tmp_path, mini, api.url))
        yield api, {sid: SiteApi(c, sid, retries=1, backoff_s=0.01, timeout_s=2) for sid, c in clients.items()}


def obj(job_id: str) -> str:
    """The name of a tenant-t job's workloads (ids are scoped per tenant, names carry the tenant)."""
    return resource_name(f"t/{job_id}")


def states(engine) -> dict[str, str]:
    with sessions(engine)() as s:
        return {repo.public_id(r.id): r.state for r in s.scalars(select(JobRow))}


def queue(engine, *jobs):
    with sessions(engine).begin() as s:
        repo.add_jobs(s, list(jobs), "test", NOW)


def test_cycle_places_submits_and_reads_back(engine, mini, cluster):
    api, apis = cluster
    queue(engine, spec("a"), spec("b", "Ascend910B", 16), spec("too-big", "H800", 32), spec("never", "H800", 64))
    loop = ControlLoop(create_app(engine, mini, now=lambda: NOW), apis=apis, time_limit_s=1, assume_empty=True)
    report = loop.cycle(NOW)
    assert (report.placed, report.submitted, report.unplaced) == (2, 2, 1) and not report.errors
    # the 32-card job is worth more placed compute than the 8-card one, which waits
    assert states(engine) == {"a": "pending", "b": "submitted", "too-big": "submitted", "never": "failed"}
    assert api.names("jobs") == {obj("too-big"), obj("b")} and api.names("services") == {obj("too-big"), obj("b")}
    with sessions(engine)() as s:
        assert repo.latest_plan(s).body["unplaced"][0]["job"] == "t/a"
    api.set_job_status("suanwang", obj("too-big"), active=4)
    api.set_job_status("suanwang", obj("b"), conditions=[{"type": "Complete", "status": "True"}])
    loop.cycle(NOW + timedelta(minutes=1))
    assert states(engine) == {"a": "pending", "b": "succeeded", "too-big": "running", "never": "failed"}
    with sessions(engine)() as s:
        assert "no pool has 8 nodes" in s.get(JobRow, "t/never").history[-1].reason


def test_restart_loses_nothing_and_submits_once(engine, mini, cluster):
    api, apis = cluster
    queue(engine, spec("r1"), spec("r2"))
    api.down = True
    first = ControlLoop(create_app(engine, mini, now=lambda: NOW), apis=apis, time_limit_s=1, assume_empty=True).cycle(
        NOW
    )
    assert first.errors and states(engine) == {"r1": "placed", "r2": "placed"}
    api.down = False
    # as if the service died after creating r1's Job but before recording it
    api.objects[("jobs", "suanwang", obj("r1"))] = {
        "kind": "Job",
        "metadata": {"name": obj("r1"), "namespace": "suanwang", "annotations": {"suanwang.io/job-id": "t/r1"}},
    }
    restarted = ControlLoop(create_app(engine, mini, now=lambda: NOW), apis=apis, time_limit_s=1, assume_empty=True)
    second = restarted.cycle(NOW + timedelta(minutes=1))
    assert second.submitted == 2 and states(engine) == {"r1": "submitted", "r2": "submitted"}
    posts = [c for c in api.calls if c[0] == "POST"]
    restarted.cycle(NOW + timedelta(minutes=2))
    assert [c for c in api.calls if c[0] == "POST"] == posts and len(api.objects) == 2
    with sessions(engine)() as s:
        history = [(t.source, t.target, t.reason) for t in s.get(JobRow, "t/r1").history]
    assert [h[1] for h in history] == ["pending", "placed", "placed", "submitted"]
    assert history[2][0] == "placed" and "failed" in history[2][2] and "retried" in history[2][2]  # the failure, noted


def test_dry_run_mode_writes_manifests(engine, mini, tmp_path):
    queue(engine, spec("d1"))
    loop = ControlLoop(
        create_app(engine, mini, now=lambda: NOW), manifests_dir=tmp_path / "m", time_limit_s=1, assume_empty=True
    )
    assert loop.cycle(NOW).submitted == 1
    written = tmp_path / "m" / "nj-hub" / f"{obj('d1')}.yaml"
    assert written.exists() and states(engine) == {"d1": "submitted"}
    with sessions(engine).begin() as s:  # what POST /v1/jobs/d1/cancel does
        from suanwang.scheduler.db.store import release

        release(s, "t/d1", "cancelled", "cancelled by request", NOW)
    loop.cycle(NOW + timedelta(minutes=1))
    assert not written.exists() and states(engine) == {"d1": "cancelled"}  # the manifest of a cancelled job goes


def test_drained_site_is_not_planned(engine, mini, cluster):
    _, apis = cluster
    with sessions(engine).begin() as s:
        repo.set_drained(s, "nj-hub", True, "maintenance", "op", NOW)
    queue(engine, spec("h"))
    report = ControlLoop(create_app(engine, mini, now=lambda: NOW), apis=apis, time_limit_s=1, assume_empty=True).cycle(
        NOW
    )
    assert report.placed == 0 and states(engine) == {"h": "pending"}


def test_token_create_and_serve_once(tmp_path, mini_file):
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    r = CliRunner().invoke(cli, ["token", "create", "--role", "submitter", "--tenant", "t", "--database-url", url])
    assert r.exit_code == 0 and r.output.strip().startswith("sw_")
    from suanwang.scheduler.db.engine import make_engine

    engine = make_engine(url)
    with sessions(engine)() as s:
        assert s.scalar(select(ApiToken)).token_hash != r.output.strip()
    queue(engine, spec("s1"))
    out = CliRunner().invoke(
        cli,
        [
            "serve",
            "--once",
            "--assume-empty-sites",
            "--topology",
            str(mini_file),
            "--manifests",
            str(tmp_path / "m"),
            "--database-url",
            url,
            "--time-limit",
            "1",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "1 placed, 1 submitted" in out.output and states(engine) == {"s1": "submitted"}
    bad = CliRunner().invoke(cli, ["token", "create", "--role", "root", "--database-url", url])
    assert bad.exit_code == 3
    long_id = CliRunner().invoke(cli, ["serve", "--once", "--replica-id", "x" * 300, "--database-url", url])
    assert long_id.exit_code == 3 and "--replica-id" in long_id.output  # else it could never hold the lease


def test_topology_versions_survive_restarts(tmp_path, mini_file):
    """A site added through the API is still there after a restart; a file that differs from the
    stored version is used only on request."""
    import yaml

    from suanwang.scheduler.db.engine import make_engine
    from suanwang.timeutil import now_local
    from suanwang.topology.loader import load_topology

    url = f"sqlite:///{tmp_path / 'topo.db'}"
    once = ["serve", "--once", "--assume-empty-sites", "--manifests", str(tmp_path / "m"), "--database-url", url]
    first = CliRunner().invoke(cli, [*once, "--topology", str(mini_file)])
    assert first.exit_code == 0, first.output
    engine = make_engine(url)
    doc = yaml.safe_load(mini_file.read_text())
    doc["sites"].append({**doc["sites"][-1], "id": "xz-edge2"})
    with sessions(engine).begin() as s:  # what POST /v1/sites stores
        repo.save_topology(s, "mini", yaml.safe_dump(doc), now_local() + timedelta(seconds=1))
    queue(
        engine,
        {
            **spec("on-new-site"),
            "running": {"site": "xz-edge2", "accelerator": doc["sites"][-1]["pools"][0]["accelerator"]},
        },
    )
    again = CliRunner().invoke(cli, once)
    assert again.exit_code == 0, again.output
    assert states(engine)["on-new-site"] == "running"  # its site is known: nothing failed
    differs = CliRunner().invoke(cli, [*once, "--topology", str(mini_file)])
    assert differs.exit_code == 3 and "--replace-topology" in differs.output
    replaced = CliRunner().invoke(cli, [*once, "--topology", str(mini_file), "--replace-topology"])
    assert replaced.exit_code == 0, replaced.output
    with sessions(engine)() as s:
        latest = repo.latest_topology(s)
    assert "xz-edge2" not in [x.id for x in load_topology("v", text=latest.yaml_text).sites]


def test_failover_when_a_site_stays_unreachable(engine, mini, tmp_path):
    """sz-hub has its own API server double, which goes down; the others share a second one."""
    import yaml

    with ApiServerDouble() as sz, ApiServerDouble() as rest:
        ctx = {s.kube.context: (sz.url if s.id == "sz-hub" else rest.url) for s in mini.sites}
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "sz-hub",
            "clusters": [{"name": c, "cluster": {"server": u}} for c, u in ctx.items()],
            "users": [{"name": "t", "user": {"token": "x"}}],
            "contexts": [{"name": c, "context": {"cluster": c, "user": "t"}} for c in ctx],
        }
        kc = tmp_path / "kc"
        kc.write_text(yaml.safe_dump(cfg))
        apis = {sid: SiteApi(c, sid, retries=0, timeout_s=2) for sid, c in site_clients(mini, kc).items()}
        queue(engine, spec("f", "Ascend910B", 8))
        loop = ControlLoop(
            create_app(engine, mini, now=lambda: NOW),
            apis=apis,
            time_limit_s=1,
            unreachable_after_s=300,
            assume_empty=True,
        )
        loop.cycle(NOW)
        assert sz.names("jobs") == {obj("f")} and states(engine) == {"f": "submitted"}
        sz.down = True
        loop.cycle(NOW + timedelta(seconds=60))
        assert states(engine) == {"f": "submitted"}  # not past the threshold yet
        loop.cycle(NOW + timedelta(seconds=400))
        assert states(engine) == {"f": "pending"}
        loop.cycle(NOW + timedelta(seconds=460))  # re-placed away from the down site
        assert states(engine) == {"f": "submitted"} and rest.names("jobs") == {obj("f")}
        with sessions(engine)() as s:
            row = s.get(JobRow, "t/f")
            assert row.site == "xz-city" and any("unreachable" in t.reason for t in row.history)
        sz.down = False
        loop.cycle(NOW + timedelta(seconds=520))  # the site answers: its stale Job goes
        assert not sz.names("jobs") and rest.names("jobs") == {obj("f")}


def test_running_job_with_checkpoints_loses_only_the_last_interval(engine, mini, cluster):
    api, apis = cluster
    queue(engine, {**spec("ck"), "checkpoint_h": 0.5})
    loop = ControlLoop(create_app(engine, mini, now=lambda: NOW), apis=apis, time_limit_s=1, assume_empty=True)
    loop.cycle(NOW)
    api.set_job_status("suanwang", obj("ck"), active=1)
    loop.cycle(NOW + timedelta(minutes=1))
    api.down = True
    loop.cycle(NOW + timedelta(hours=1))
    loop.cycle(NOW + timedelta(hours=1, minutes=20))
    with sessions(engine)() as s:
        row = s.get(JobRow, "t/ck")
        assert row.state == "pending" and "running" not in row.spec
        assert "last checkpoint: 0.32 h of 1.32 h of work lost" in row.history[-1].reason


def test_a_job_without_a_container_is_refused_at_submission(engine, mini, tmp_path):
    """Planning needs no container; creating a workload does: the job fails with the reason, not a
    placeholder that sleeps and restarts forever."""
    bare = {k: v for k, v in spec("bare").items() if k != "container"}
    queue(engine, bare, spec("ok"))
    loop = ControlLoop(
        create_app(engine, mini, now=lambda: NOW), manifests_dir=tmp_path / "m", time_limit_s=1, assume_empty=True
    )
    loop.cycle(NOW)
    assert states(engine) == {"bare": "failed", "ok": "submitted"}
    with sessions(engine)() as s:
        assert "no `container:`" in s.get(JobRow, "t/bare").history[-1].reason
    jobs = tmp_path / "bare.yaml"
    jobs.write_text(
        "jobs:\n  - {id: b, kind: inference, tenant: t, priority: 1, origin: Nanjing, latency_slo_ms: 5,\n"
        "     accelerators: {count: 8, per_node: 8, models: [H800]}}\n"
    )
    r = CliRunner().invoke(cli, ["submit", "-f", str(jobs), "--dry-run", "--manifests-dir", str(tmp_path / "d")])
    assert r.exit_code == 3 and "container" in r.output
    assert CliRunner().invoke(cli, ["plan", "-f", str(jobs)]).exit_code == 0  # planning alone needs none
