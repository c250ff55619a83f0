"""The one job lifecycle — submission, status, cancel and failover through the official Kubernetes
client — run over both stores (the CLI's JSON file and the service's database, SQLite and
PostgreSQL), against the API server test double of :mod:`tests.scheduler.k8s.apiserver_double`
(not a cluster) reached through a kubeconfig file with one context per site; and the double's own
behaviour."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from suanwang.errors import PermanentError
from suanwang.scheduler.k8s.client import SiteApi, site_clients
from suanwang.scheduler.k8s.manifests import resource_name
from suanwang.scheduler.lifecycle import Lifecycle
from suanwang.scheduler.store import JsonStore
from suanwang.solvers import solve
from tests.scheduler.k8s.apiserver_double import ApiServerDouble
from tests.solvers.helpers import NOW, job, problem


def kubeconfig(tmp_path, topology, url: str):
    contexts = [{"name": s.kube.context, "context": {"cluster": "double", "user": "tester"}} for s in topology.sites]
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0]["name"],
        "clusters": [{"name": "double", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "test-token"}}],
        "contexts": contexts,
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(params=["json", "sqlite", "postgresql"])
def make_store(request, tmp_path):
    """A factory of empty stores of one kind: the CLI's JSON file or the service's database."""
    engines = []

    def make(name: str = "jobs"):
        if request.param == "json":
            return JsonStore(tmp_path / f"{name}.json")
        from sqlalchemy import text

        from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
        from suanwang.scheduler.db.models import Base
        from suanwang.scheduler.db.store import SqlStore

        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / (name + '.db')}"
        else:
            url = request.getfixturevalue("postgres_url")
        eng = make_engine(url)
        if eng.dialect.name == "postgresql":
            with eng.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(eng)
        engines.append(eng)
        return SqlStore(sessions(eng))

    yield make
    for eng in engines:
        eng.dispose()


@pytest.fixture()
def world(tmp_path, mini, make_store):
    with ApiServerDouble() as api:
        clients = site_clients(mini, kubeconfig(tmp_path, mini, api.url))
        apis = {sid: SiteApi(c, sid, retries=2, backoff_s=0.01, timeout_s=2) for sid, c in clients.items()}
        store = make_store()
        yield api, Lifecycle(store, apis, unreachable_after_s=300), store


def plan_for(mini, jobs):
    prob = problem(mini, jobs)
    return prob, solve(prob, "greedy")


def test_submit_creates_once_and_repeats_create_nothing(world, mini, make_store):
    api, life, store = world
    prob, plan = plan_for(mini, [job("train-a", 16, 8, ("H800",))])
    out = life.submit(prob, plan, NOW).jobs
    assert "submitted to nj-hub" in out["train-a"]
    assert api.names("jobs") == {"train-a"} and api.names("services") == {"train-a"}
    posts = [c for c in api.calls if c[0] == "POST"]
    again = life.submit(prob, plan, NOW).jobs
    assert "already submitted" in again["train-a"] and [c for c in api.calls if c[0] == "POST"] == posts
    fresh = Lifecycle(make_store("other"), life.apis)  # records lost: adopt, never duplicate
    assert "adopted Job train-a" in fresh.submit(prob, plan, NOW).jobs["train-a"]
    assert len(api.objects) == 2
    rec = store.get("train-a")
    assert [t.target for t in rec.history] == ["pending", "placed", "submitted"] and all(t.reason for t in rec.history)


def test_retries_server_errors(world, mini):
    api, life, _ = world
    api.fail_next = [500, 503]
    prob, plan = plan_for(mini, [job("r", 8, 8, ("H800",))])
    assert "submitted" in life.submit(prob, plan, NOW).jobs["r"]
    assert api.names("jobs") == {"r"}


def test_conflict_with_foreign_object(world, mini):
    api, life, store = world
    api.objects[("jobs", "suanwang", "x")] = {"kind": "Job", "metadata": {"name": "x", "annotations": {}}}
    prob, plan = plan_for(mini, [job("x", 8, 8, ("H800",))])
    assert "not suanwang's job" in life.submit(prob, plan, NOW).jobs["x"]
    assert store.get("x").state == "failed"


def test_status_read_back(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("t", 8, 8, ("H800",)), job("s", 8, 8, ("Ascend910B",), origin="Xuzhou", slo=1.0)])
    life.submit(prob, plan, NOW)
    api.set_job_status("suanwang", "t", active=1)
    api.set_deployment_available("suanwang", "s", 1)
    life.reconcile(NOW + timedelta(minutes=1))
    assert store.get("t").state == "running" and store.get("s").state == "running"
    api.set_job_status(
        "suanwang",
        "t",
        conditions=[
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ],
    )
    life.reconcile(NOW + timedelta(minutes=2))
    rec = store.get("t")
    assert rec.state == "failed" and "BackoffLimitExceeded" in rec.history[-1].reason


def test_workload_deleted_from_its_cluster_fails_the_job(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("gone", 8, 8, ("H800",))])
    life.submit(prob, plan, NOW)
    api.objects.pop(("jobs", "suanwang", "gone"))
    life.reconcile(NOW + timedelta(minutes=1))
    rec = store.get("gone")
    assert rec.state == "failed" and "disappeared from nj-hub" in rec.history[-1].reason


def test_cancel_deletes_with_foreground_propagation(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("c", 16, 8, ("H800",))])
    life.submit(prob, plan, NOW)
    assert life.cancel("c", NOW) == "cancelled"
    assert not api.objects and {p for _, p in api.deleted} == {"Foreground"}
    assert not store.stale() and store.get("c").history[-1].target == "cancelled"
    with pytest.raises(PermanentError):
        store.move("c", "running", "too late", NOW)


def test_cancel_while_the_site_is_down_deletes_when_it_returns(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("late", 8, 8, ("H800",))])
    life.submit(prob, plan, NOW)
    api.down = True
    assert life.cancel("late", NOW) == "cancelled"
    assert store.stale() and api.names("jobs") == {"late"}
    api.down = False
    life.reconcile(NOW + timedelta(minutes=1))
    assert not store.stale() and not api.names("jobs")


def test_failover_after_site_unreachable(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("f", 8, 8, ("H800",))])
    life.submit(prob, plan, NOW)
    api.down = True
    life.reconcile(NOW + timedelta(seconds=60))
    assert store.get("f").state == "submitted"  # not yet past the threshold
    life.reconcile(NOW + timedelta(seconds=400))
    rec = store.get("f")
    assert rec.state == "pending" and "unreachable" in rec.history[-1].reason and rec.site is None
    assert store.stale() and api.names("jobs") == {"f"}  # still there while the site is down
    api.down = False
    life.reconcile(NOW + timedelta(seconds=500))
    assert not store.stale() and not api.names("jobs")  # stale submission removed on return
    if isinstance(store, JsonStore):
        saved = json.loads(store.path.read_text())
        assert saved["jobs"][0]["state"] == "pending"


def test_double_rejects_what_an_api_server_would():
    with ApiServerDouble() as api:
        assert api.handle("POST", "/apis/batch/v1/namespaces/x/cronjobs", b"{}")[0] == 404
        no_template = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}
        assert api.handle("POST", "/apis/batch/v1/namespaces/x/jobs", json.dumps(no_template).encode())[0] == 422
        wrong_kind = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j"}}
        assert api.handle("POST", "/apis/batch/v1/namespaces/x/jobs", json.dumps(wrong_kind).encode())[0] == 400
        good = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
        assert api.handle("POST", "/api/v1/namespaces/x/services", json.dumps(good).encode())[0] == 201
        assert api.handle("POST", "/api/v1/namespaces/x/services", json.dumps(good).encode())[0] == 409
        assert api.handle("GET", "/api/v1/namespaces/x/services/nope", b"")[0] == 404


def test_failed_over_job_is_placed_elsewhere(world, mini):
    from suanwang.collectors.statefile import without_sites

    api, life, store = world
    j = job("g", 8, 8, ("Ascend910B",))
    prob, plan = plan_for(mini, [j])
    life.submit(prob, plan, NOW)
    first = store.get("g").history[1].reason
    api.down = True
    later = NOW + timedelta(seconds=400)
    life.reconcile(NOW)
    life.reconcile(later)
    down = life.down_sites(later)
    assert down and store.get("g").state == "pending"
    prob2 = problem(mini, [j], without_sites(None, mini, down), now=later)
    plan2 = solve(prob2, "greedy")
    assert plan2.placements[0].site not in down and plan2.placements[0].site in ("sz-hub", "xz-city")
    assert down[0] in first


def test_cli_submit_status_cancel(tmp_path, mini_file, mini):
    from typer.testing import CliRunner

    from suanwang.scheduler.cli import app

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  - {id: cli-job, kind: training, tenant: t, priority: 2, duration_h: 2,\n"
        "     accelerators: {count: 16, per_node: 8, models: [H800]},\n"
        "     container: {image: 'reg.example/train:1', command: [python, train.py]}}\n"
    )
    with ApiServerDouble() as api:
        kc = kubeconfig(tmp_path, mini, api.url)
        common = ["--topology", str(mini_file), "--kubeconfig", str(kc), "--store", str(tmp_path / "s.json")]
        run = CliRunner().invoke
        r = run(app, ["submit", "-f", str(jobs), "--time-limit", "0.5", *common])
        assert r.exit_code == 0, r.output
        assert "submitted to nj-hub" in r.output and api.names("jobs") == {"cli-job"}
        api.set_job_status("suanwang", "cli-job", active=2)
        s = run(app, ["jobs", "describe", "cli-job", *common])
        assert s.exit_code == 0 and "running" in s.output and "2 pods active" in s.output
        got = run(app, ["jobs", "get", "-o", "json", "--store", str(tmp_path / "s.json")])
        assert [(j["id"], j["state"], j["site"]) for j in json.loads(got.stdout)] == [("cli-job", "running", "nj-hub")]
        assert all(h["at"].endswith("+08:00") for h in json.loads(got.stdout)[0]["history"])  # times carry their zone
        names = run(app, ["jobs", "get", "cli-job", "-o", "name", "--store", str(tmp_path / "s.json")])
        assert names.stdout.split() == ["job/cli-job"]
        again = run(app, ["submit", "-f", str(jobs), "--time-limit", "0.5", *common])
        posts = [c for c in api.calls if c[0] == "POST"]
        assert "already running" in again.output and len(posts) == 3
        assert posts[0] == ("POST", "/api/v1/namespaces") and "suanwang" in api.namespaces  # created once
        c = run(app, ["jobs", "cancel", "cli-job", *common])
        assert c.exit_code == 0 and "cancelled" in c.output and not api.objects
        assert run(app, ["jobs", "describe", "nope", *common]).exit_code == 3


def test_unreachable_api_server_is_temporary(tmp_path, mini):
    from suanwang.errors import TemporaryError

    clients = site_clients(mini, kubeconfig(tmp_path, mini, "http://127.0.0.1:9"))
    api = SiteApi(clients["nj-hub"], "nj-hub", retries=1, backoff_s=0.01, timeout_s=1)
    with pytest.raises(TemporaryError, match="did not answer"):
        api.read("Job", "suanwang", "x")


def test_cli_submit_exit_codes_contexts_and_namespace(tmp_path, mini_file, mini):
    from typer.testing import CliRunner

    from suanwang.scheduler.cli import app

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  - {id: ns-job, kind: training, tenant: t, priority: 2, duration_h: 2,\n"
        "     accelerators: {count: 8, per_node: 8, models: [H800]},\n"
        "     container: {image: 'reg.example/train:1'}}\n"
    )
    store = str(tmp_path / "s.json")
    with ApiServerDouble() as api:
        api.require_namespaces = True
        full = kubeconfig(tmp_path, mini, api.url)
        cfg = yaml.safe_load(full.read_text())
        cfg["contexts"] = [c for c in cfg["contexts"] if c["name"] == "nj-hub"]  # only the site the plan uses
        only_nj = tmp_path / "only-nj"
        only_nj.write_text(yaml.safe_dump(cfg))
        common = ["--topology", str(mini_file), "--store", store, "--time-limit", "0.5"]
        api.down = True
        down = CliRunner().invoke(app, ["submit", "-f", str(jobs), "--kubeconfig", str(only_nj), *common])
        assert down.exit_code == 75, down.output  # nothing submitted: say so
        note = json.loads((tmp_path / "s.json").read_text())["jobs"][0]["history"][-1]
        assert note["source"] == note["target"] == "placed" and "retried by the next submit" in note["reason"]
        api.down = False
        ok = CliRunner().invoke(app, ["submit", "-f", str(jobs), "--kubeconfig", str(only_nj), *common])
        assert ok.exit_code == 0, ok.output
        assert "suanwang" in api.namespaces and api.names("jobs") == {"ns-job"}  # namespace created first
        cfg["contexts"] = [c for c in yaml.safe_load(full.read_text())["contexts"] if c["name"] == "sz-hub"]
        only_sz = tmp_path / "only-sz"
        only_sz.write_text(yaml.safe_dump(cfg))
        other = tmp_path / "other.yaml"
        other.write_text(jobs.read_text().replace("ns-job", "ns-job-2"))
        missing = CliRunner().invoke(
            app,
            [
                "submit",
                "-f",
                str(other),
                "--kubeconfig",
                str(only_sz),
                *common[:2],
                "--store",
                str(tmp_path / "t.json"),
            ],
        )
        assert missing.exit_code == 3 and "nj-hub" in missing.output


def test_a_cancel_that_races_the_submission_wins(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("race", 8, 8, ("H800",))])
    life.place(prob, plan, NOW)
    real = life.apis["nj-hub"].create

    def create_then_cancelled(doc, job_id):
        result = real(doc, job_id)
        if store.get("race").state != "cancelled":  # the user cancels while the objects are created
            store.release("race", "cancelled", "cancelled by request", NOW)
        return result

    life.apis["nj-hub"].create = create_then_cancelled
    out = life.submit(prob, plan, NOW)
    assert "cancelled while it was being submitted" in out.jobs["race"]
    assert store.get("race").state == "cancelled" and not api.names("jobs") and not store.stale()


def test_running_jobs_fail_over_after_the_grace_period(world, mini):
    api, life, store = world
    prob, plan = plan_for(mini, [job("long", 8, 8, ("H800",))])
    life.submit(prob, plan, NOW)
    api.set_job_status("suanwang", resource_name("long"), active=1)
    life.reconcile(NOW + timedelta(minutes=1))
    assert store.get("long").state == "running"
    api.down = True
    life.reconcile(NOW + timedelta(hours=2))
    assert store.get("long").state == "running"  # the grace period starts now
    life.reconcile(NOW + timedelta(hours=2, minutes=10))
    assert store.get("long").state == "running"  # 10 min < 15 min
    life.reconcile(NOW + timedelta(hours=2, minutes=16))
    rec = store.get("long")
    assert rec.state == "pending" and rec.site is None
    assert "while the job ran" in rec.history[-1].reason and "2.25 h of work lost" in rec.history[-1].reason
    assert store.stale()  # its Job is still at the dead site
    api.down = False
    life.reconcile(NOW + timedelta(hours=3))
    assert not store.stale() and not api.names("jobs")
