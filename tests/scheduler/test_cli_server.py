"""The CLI against a real running server (uvicorn on a loopback port, SQLite): submit a job file,
list, get, explain, cancel, plan dry-run, sites list/drain/undrain; tokens and their roles; tenants
with quotas from flags and files."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from typer.testing import CliRunner

from suanwang.scheduler.api.app import create_app
from suanwang.scheduler.cli import app as cli
from suanwang.scheduler.cli.errors import EXIT_DENIED
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from tests.ports import free_port
from tests.scheduler.test_service import NOW

JOBS = """jobs:
  - {id: srv-1, kind: training, tenant: lab, priority: 2, duration_h: 2,
     accelerators: {count: 8, per_node: 8, models: [H800]}}
  - {id: srv-far, kind: inference, tenant: lab, priority: 1, origin: Lianyungang, latency_slo_ms: 3.3,
     accelerators: {count: 8, per_node: 8, models: [H20]}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, jiangsu):
    folder = tmp_path_factory.mktemp("srv")
    engine = make_engine(f"sqlite:///{folder / 'srv.db'}")
    upgrade(engine)
    tokens = {}
    with sessions(engine).begin() as s:
        tokens["submitter"] = repo.create_token(s, "submitter", "lab", "test", NOW)
        tokens["viewer"] = repo.create_token(s, "viewer", None, "test", NOW)
        tokens["operator"] = repo.create_token(s, "operator", None, "test", NOW)
        tokens["admin"] = repo.create_token(s, "admin", None, "test", NOW)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(engine, jiangsu, now=lambda: NOW), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", tokens, folder
    srv.should_exit = True
    thread.join(10)


def run(server, who, *args):
    url, tokens, _ = server
    return CliRunner().invoke(cli, [*args], env={"SUANWANG_SERVER": url, "SUANWANG_TOKEN": tokens.get(who, "")})


def test_submit_list_get_explain_cancel(server):
    jobs = server[2] / "jobs.yaml"
    jobs.write_text(JOBS)
    r = run(server, "submitter", "submit", "-f", str(jobs))
    assert r.exit_code == 0 and "queued 2 job(s)" in r.output
    assert "already queued: srv-1, srv-far" in run(server, "submitter", "submit", "-f", str(jobs)).output
    listed = run(server, "viewer", "jobs", "get", "--state", "pending")
    assert listed.exit_code == 0 and "srv-1" in listed.output and "jobs (2)" in listed.output
    names = run(server, "viewer", "jobs", "get", "-o", "name")
    assert sorted(names.stdout.split()) == ["job/srv-1", "job/srv-far"]
    got = run(server, "submitter", "jobs", "describe", "srv-1")
    assert "pending" in got.output and "submitted by" in got.output
    why = run(server, "submitter", "jobs", "explain", "srv-far")
    assert why.exit_code == 0 and ("Lianyungang" in why.output or "next planning cycle" in why.output)
    assert run(server, "viewer", "jobs", "cancel", "srv-1").exit_code == EXIT_DENIED  # a viewer may not cancel
    c = run(server, "submitter", "jobs", "cancel", "srv-1")
    assert c.exit_code == 0 and "cancelled" in c.output, c.output
    plan = run(server, "submitter", "plan", "-f", str(jobs), "--time-limit", "1")
    assert plan.exit_code == 0 and "dry-run plan" in plan.output


def test_sites_and_errors(server):
    assert "nj-hub" in run(server, "viewer", "sites", "get").output
    assert run(server, "viewer", "sites", "drain", "nj-hub").exit_code == EXIT_DENIED
    assert run(server, "operator", "sites", "drain", "nj-hub", "--reason", "works").exit_code == 0
    assert "yes: works" in run(server, "viewer", "sites", "get").output
    assert run(server, "operator", "sites", "undrain", "nj-hub").exit_code == 0
    bad = server[2] / "bad.yaml"
    bad.write_text(JOBS.replace("count: 8, per_node: 8, models: [H800]", "count: 12, per_node: 8, models: [H800]"))
    r = run(server, "submitter", "submit", "-f", str(bad))
    assert r.exit_code == 3 and "jobs[0].accelerators.per_node" in r.output
    assert run(server, "nobody", "jobs", "get").exit_code == EXIT_DENIED
    down = CliRunner().invoke(cli, ["jobs", "get", "--server", f"http://127.0.0.1:{free_port()}"])
    assert down.exit_code == 75


def test_grid_events_and_accounts(server):
    ev = ["--id", "js-peak", "--zone", "jiangsu", "--start", "2026-11-25T10:00:00+08:00",
          "--end", "2026-11-25T12:00:00+08:00", "--reduce-ratio", "0.3"]  # fmt: skip
    assert run(server, "viewer", "grid-event", "create", *ev).exit_code == EXIT_DENIED
    made = run(server, "operator", "grid-event", "create", *ev)
    assert made.exit_code == 0 and "grid-event/js-peak created (pending)" in made.output, made.output
    two = run(server, "operator", "grid-event", "create", *ev[:-2], "--reduce-ratio", "0.3", "--cap-kw", "100")
    assert two.exit_code == 3 and "exactly one of" in two.output  # checked before anything is sent
    f = server[2] / "event.yaml"
    f.write_text("id: nj-cut\nsites: [nj-hub]\nstart: 2026-11-25T10:00:00+08:00\nend: 2026-11-25T09:00:00+08:00\n"
                 "cap_kw: 100\n")  # fmt: skip
    bad = run(server, "operator", "grid-event", "create", "-f", str(f))
    assert bad.exit_code == 3 and "end is not after start" in bad.output and str(f) in bad.output
    f.write_text(f.read_text().replace("T09:00", "T13:00").replace("nj-hub", "atlantis"))
    unknown = run(server, "operator", "grid-event", "create", "-f", str(f))
    assert unknown.exit_code == 3 and "sites[0]" in unknown.output and "unknown site" in unknown.output
    names = run(server, "viewer", "grid-event", "get", "-o", "name")
    assert names.stdout.split() == ["grid-event/js-peak"]
    shown = run(server, "viewer", "grid-event", "describe", "js-peak")
    assert "reduce_ratio:" in shown.output and "0.3" in shown.output and "nj-hub" in shown.output
    assert "cancelled" in run(server, "operator", "grid-event", "delete", "js-peak").output
    acc = run(server, "submitter", "accounts", "lab", "-o", "json")
    assert acc.exit_code == 0 and '"energy_kwh": 0.0' in acc.stdout and '"tenant": "lab"' in acc.stdout
    assert run(server, "submitter", "accounts", "other-lab").exit_code == EXIT_DENIED
    province = " ".join(run(server, "viewer", "accounts", "--group", "day").output.split())
    assert "accounts: province" in province and "carbon from the annual factor" in province


def test_tenants_from_flags_and_files(server):
    args = ("tenant", "create", "--name", "lab", "--cohort", "unis", "--quota", "H800=64,borrow=32,lend=16")
    assert run(server, "operator", *args).exit_code == EXIT_DENIED  # admins register tenants
    made = run(server, "admin", *args)
    assert made.exit_code == 0 and "tenant/lab saved" in made.output, made.output
    bad = run(server, "admin", "tenant", "create", "--name", "x", "--quota", "H800=8,lend=9", "--cohort", "c")
    assert bad.exit_code == 3 and "lending_limit is above nominal" in bad.output  # checked before sending
    f = server[2] / "tenants.yaml"
    f.write_text("tenants:\n  - {name: lab2, quotas: [{accelerator: Z9, nominal: 8}]}\n")
    unknown = run(server, "admin", "tenant", "create", "-f", str(f))
    assert unknown.exit_code == 3 and "quotas[0].accelerator" in unknown.output
    f.write_text("tenants:\n  - {name: lab2, cohort: unis, quotas: [{accelerator: H800, nominal: 32}]}\n")
    assert run(server, "admin", "tenant", "create", "-f", str(f)).exit_code == 0
    listed = run(server, "viewer", "tenant", "get", "-o", "name")
    assert listed.stdout.split() == ["tenant/lab", "tenant/lab2"]
    mine = run(server, "submitter", "tenant", "get", "-o", "json")
    assert mine.exit_code == 0 and '"name": "lab"' in mine.stdout and "lab2" not in mine.stdout
    shown = run(server, "viewer", "tenant", "describe", "lab")
    assert "unis" in shown.output and "borrowing_limit" in shown.output
    assert "tenant/lab2 deleted" in run(server, "admin", "tenant", "delete", "lab2").output
