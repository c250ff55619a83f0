"""``suanwang serve`` (the API and the control loop) and ``suanwang token create``."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from datetime import timedelta
from pathlib import Path

import typer

from suanwang.collectors.config import load_collector_config
from suanwang.errors import InputError, TemporaryError
from suanwang.gcpause import freeze_startup_heap
from suanwang.scheduler.api.routes_tokens import MAX_TTL_H, token_view
from suanwang.scheduler.cli.errors import EXIT_LOOP_DIED, SuanwangGroup
from suanwang.scheduler.cli.flags import (
    ForecastOpt,
    HoldOpt,
    HorizonOpt,
    Output,
    OutputOpt,
    SlotOpt,
    emit,
    forecast_method,
    shift_from,
)
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.db import repo
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade
from suanwang.scheduler.db.lease import Lease
from suanwang.timeutil import now_local
from suanwang.topology.loader import load_topology
from suanwang.yamldoc import read_capped

token_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="API tokens.")
db_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="The service's database.")
DbOpt = typer.Option(
    None, "--database-url", envvar="SUANWANG_DATABASE_URL", help="Database URL (default: sqlite:///suanwang.db)."
)


def _expiry(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m``."""
    units = {"d": 24.0, "h": 1.0, "m": 1 / 60}
    try:
        hours = float(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        hours = -1.0
    if not 0 < hours <= MAX_TTL_H:
        raise InputError(f"--expires-in {text!r}: give e.g. 90d, 12h or 30m, at most 366d")
    return timedelta(hours=hours)


@db_app.command("upgrade")
def db_upgrade(database_url: str | None = DbOpt) -> None:
    """Bring the database schema to this version's migrations (what a deployment's hook runs)."""
    engine = make_engine(database_url)
    upgrade(engine)
    console().print(f"{engine.url.render_as_string(hide_password=True)}: schema up to date")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., "--role", help="admin, operator, planner, submitter or viewer."),
    tenant: str | None = typer.Option(None, "--tenant", help="The tenant a submitter acts for."),
    expires_in: str = typer.Option("90d", "--expires-in", help="Lifetime: e.g. 90d, 12h, 30m (at most 366d)."),
    description: str | None = typer.Option(None, "--description", help="Who or what the token is for."),
    database_url: str | None = DbOpt,
) -> None:
    """Create a bearer token; it is printed once and only its hash is stored."""
    ttl = _expiry(expires_in)
    engine = make_engine(database_url)
    upgrade(engine)
    now = now_local()
    with sessions(engine).begin() as s:
        token = repo.create_token(s, role, tenant, "cli", now, now + ttl, description)
    print(token)


@token_app.command("get")
def token_get(database_url: str | None = DbOpt, output: Output = OutputOpt) -> None:
    """Tokens with role, tenant and lifetime (never their secrets)."""
    engine = make_engine(database_url)
    upgrade(engine)
    now = now_local()
    with sessions(engine)() as s:
        rows = [token_view(r, now) for r in repo.list_tokens(s)]
    cols = ("id", "role", "tenant", "description", "created_at", "expires_at", "revoked_at", "active")
    emit(
        rows,
        output,
        human=lambda wide: console().print(table("tokens", cols, ([r[c] for c in cols] for r in rows))),
        names=[f"token/{r['id']}" for r in rows],
    )


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="The token's id (see `suanwang token get`)."),
    database_url: str | None = DbOpt,
) -> None:
    """Revoke a token: it is refused from the next request on."""
    engine = make_engine(database_url)
    upgrade(engine)
    with sessions(engine).begin() as s:
        repo.revoke_token(s, token_id, "cli", now_local())
    console().print(f"token/{token_id} revoked")


def _supervised(loop, period_s: float, stop: threading.Event) -> None:
    """The loop thread: should it ever end without being stopped, the process exits (code 70,
    EX_SOFTWARE) so that its supervisor restarts it rather than serving without planning."""
    try:
        loop.run(period_s, stop)
    except BaseException:  # noqa: BLE001
        logging.getLogger("suanwang.loop").critical("the control loop died", exc_info=True)
    if not stop.is_set():
        logging.getLogger("suanwang.loop").critical("the control loop ended; exiting so that it restarts")
        os._exit(EXIT_LOOP_DIED)


def _topology(engine, path: Path | None, replace: bool):
    """The topology the service plans on and its stored digest: the latest version stored (sites
    added through the API included); a file that differs from it is used only when the operator
    says so."""
    with sessions(engine).begin() as s:
        stored = repo.latest_topology(s)
        if stored is not None and not replace:
            if path is not None:
                text = read_capped(path, str(path))
                if repo.topology_digest(text) != stored.sha256:
                    raise InputError(
                        f"{path} differs from the topology the service plans on (version {stored.id}, "
                        f"{stored.name}, stored {stored.created_at:%Y-%m-%d %H:%M}); give --replace-topology "
                        "to plan on the file from now on, or leave out --topology"
                    )
            return load_topology(f"topology version {stored.id}", text=stored.yaml_text), stored.sha256
        topo = load_topology(path)
        row = repo.save_topology(s, topo.name, read_capped(Path(topo.source), topo.source), now_local())
        return topo, row.sha256


def _once(app, loop, lease, lease_s: float, cfg) -> None:
    """``serve --once``: one cycle in this process, and an exit code that says whether it did all
    it should."""
    report = loop.cycle()
    if loop.health.standby:
        raise TemporaryError("another replica holds the leader lease; this one ran no cycle", lease_s)
    lease.release()
    console().print(
        f"cycle: {report.placed} placed, {report.submitted} submitted, {report.unplaced} unplaced, "
        f"{report.transitions} status changes, {report.seconds:.2f} s"
        + (f"; errors: {' | '.join(report.errors)}" if report.errors else "")
    )
    stale = cfg is not None and not any(
        not x.stale for x in (app.state.snapshot.sites.values() if app.state.snapshot else ())
    )
    if report.failed_stages or stale:
        why = ", ".join(report.failed_stages) or "no site could be read fresh"
        raise TemporaryError(f"the cycle did not do all it should ({why}); see the errors above and retry", 30)


def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    once: bool = typer.Option(False, "--once", help="Run one control-loop cycle and exit."),
    no_loop: bool = typer.Option(False, "--no-loop", help="Serve the API only (another instance plans)."),
    period_s: float = typer.Option(60.0, "--period", min=1.0, help="Seconds between cycles."),
    topology: Path | None = typer.Option(None, "--topology", "-t", help="Topology YAML (default: built-in)."),
    collector: Path | None = typer.Option(None, "--collector-config", help="Collect live state each cycle."),
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", help="Submit to the sites' clusters."),
    manifests: Path | None = typer.Option(None, "--manifests", help="Write manifests here instead (dry run)."),
    time_limit: float = typer.Option(5.0, "--time-limit", min=0.05, max=3600.0),
    replace_topology: bool = typer.Option(
        False,
        "--replace-topology",
        help="Plan on --topology from now on, though the database holds another version (jobs it "
        "cannot host fail, with the reason).",
    ),
    assume_empty: bool = typer.Option(
        False,
        "--assume-empty-sites",
        help="Without --collector-config, plan as if every site were empty (a what-if, labelled so). "
        "Otherwise nothing is known of the sites and nothing new is placed.",
    ),
    replica_id: str = typer.Option(
        f"{socket.gethostname()}-{os.getpid()}", "--replica-id", help="This replica's name in the leader lease."
    ),
    lease_s: float = typer.Option(15.0, "--lease-seconds", min=1.0, max=600.0, help="How long a leader's lease lasts."),
    horizon_h: float = HorizonOpt,
    slot_min: float = SlotOpt,
    hold_share: float = HoldOpt,
    forecast: str = ForecastOpt,
    preempt_inference: bool = typer.Option(
        False, "--preempt-inference", help="Let higher-priority work evict inference too (default: never)."
    ),
    full_plan_s: float = typer.Option(
        300.0,
        "--full-plan-seconds",
        min=0.0,
        max=86400.0,
        help="Between changes that free room, cycles plan only new arrivals; the whole queue at least this often.",
    ),
    planner: str = typer.Option(
        "process",
        "--planner",
        help="Run the control loop in a process of its own (process, the default: the API never waits "
        "for it) or in a thread of the API's process (thread).",
    ),
    database_url: str | None = DbOpt,
) -> None:
    """Run the operations API and the control loop (collect → plan → submit → reconcile). Several
    replicas may share one database: all serve the API, the one holding the lease runs the loop."""
    from suanwang.scheduler.api.app import create_app
    from suanwang.scheduler.k8s.client import site_apis
    from suanwang.scheduler.planner import PlannerProcess, PlannerSettings, make_loop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    engine = make_engine(database_url)
    upgrade(engine)
    bootstrap = os.environ.get("SUANWANG_BOOTSTRAP_ADMIN_TOKEN")
    if bootstrap:  # a deployment's first admin token, from its Secret
        with sessions(engine).begin() as s:
            repo.adopt_token(s, bootstrap.strip(), "admin", "bootstrap", now_local())
    topo, digest = _topology(engine, topology, replace_topology)
    app = create_app(engine, topo)
    app.state.topology_digest = digest
    apis = None
    if kubeconfig is not None:
        apis = site_apis(topo, kubeconfig)
    cfg = load_collector_config(collector, topo) if collector else None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}", replica_id):
        raise InputError(
            f"--replica-id {replica_id[:80]!r}: letters, digits, '.', '_' and '-', at most 200; give e.g. the pod name"
        )
    if assume_empty and cfg is not None:
        raise InputError("--assume-empty-sites is for running without a collector; drop one of the two")
    if planner not in ("process", "thread"):
        raise InputError(f"--planner {planner!r}: use process or thread")
    forecast = forecast_method(forecast)
    shift = shift_from(horizon_h, slot_min, hold_share)
    lease = Lease(sessions(engine), replica_id, ttl_s=lease_s)
    settings = PlannerSettings(
        database_url=database_url, replica_id=replica_id, lease_s=lease_s, period_s=period_s,
        collector=collector, kubeconfig=kubeconfig, manifests=manifests, time_limit_s=time_limit,
        assume_empty=assume_empty, shift=shift, forecast=forecast, preempt_inference=preempt_inference,
        full_every_s=full_plan_s,
    )  # fmt: skip
    if once or planner == "thread":
        loop = make_loop(app, settings, cfg, apis, lease)
    if once:
        _once(app, loop, lease, lease_s, cfg)
        return
    import uvicorn

    stop = threading.Event()
    app.state.lease = lease  # /readyz names the leader
    app.state.shift, app.state.forecast = shift, forecast  # dry runs plan as the loop does
    planned = None
    if not no_loop and planner == "thread":
        threading.Thread(target=_supervised, args=(loop, period_s, stop), daemon=True, name="control-loop").start()
    elif not no_loop:
        planned = PlannerProcess(app, settings, on_exit=lambda: os._exit(EXIT_LOOP_DIED))

    def shut_down() -> None:  # SIGTERM: stop cycling and give the lease up at once (fencing refuses a late write)
        stop.set()
        app.state.wake()  # the loop thread or the planner process, whichever runs
        if planned is not None:
            planned.stop()
        lease.release()

    app.router.add_event_handler("shutdown", shut_down)  # runs before uvicorn re-raises the signal
    freeze_startup_heap()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning" if no_loop else "info")
    finally:
        shut_down()
