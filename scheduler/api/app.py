"""The FastAPI application: routes, problem-details errors, request metrics, and the shared state
(database sessions, topology, latest snapshot) the control loop also uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy.engine import Engine

from suanwang import __version__
from suanwang.collectors.statefile import without_sites
from suanwang.scheduler.api import (
    docs,
    problems,
    routes_capacity,
    routes_energy,
    routes_jobs,
    routes_ops,
    routes_tenants,
    routes_tokens,
)
from suanwang.scheduler.capacity_runs import CapacityRuns
from suanwang.scheduler.db.engine import sessions
from suanwang.scheduler.metrics import ServiceMetrics
from suanwang.solvers.problem import State
from suanwang.timeutil import now_local
from suanwang.topology.model import Topology


def create_app(
    engine: Engine,
    topology: Topology,
    registry: CollectorRegistry | None = None,
    now: Callable[[], datetime] = now_local,
    wake: Callable[[], None] = lambda: None,
) -> FastAPI:
    app = FastAPI(
        title="suanwang",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        responses=docs.error_responses(),
        description="Scheduler and capacity planner for a province-wide network of compute centres.",
    )
    app.state.sessions = sessions(engine)
    app.state.topology = topology
    app.state.topology_digest = None  # the stored version it is, where the service follows the database's
    app.state.registry = registry or CollectorRegistry()
    app.state.metrics = ServiceMetrics(app.state.registry)
    app.state.metrics_source = app.state.registry  # what /metrics shows (with a planner process: both)
    app.state.now = now
    app.state.wake = wake
    app.state.snapshot = None  # latest collected Snapshot, set by the control loop
    app.state.live_state = None  # the same as a solvers.problem.State
    app.state.loop_health = None  # set by the control loop that runs in this process
    app.state.shift = None  # start-time decisions, as the control loop's (set by it)
    app.state.forecast = "weekly"
    app.state.capacity = CapacityRuns(app.state.sessions, now, app.state.registry)

    def current_state() -> State | None:
        from suanwang.scheduler.db import repo

        with app.state.sessions() as s:
            drained = {sid: "drained by an operator" for sid in repo.drained_sites(s)}
        return without_sites(app.state.live_state, app.state.topology, drained)

    app.state.current_state = current_state
    duration = Histogram(
        "suanwang_api_request_duration_seconds",
        "API request duration.",
        ["method", "route", "status"],
        registry=app.state.registry,
    )

    @app.middleware("http")
    async def _timing(request: Request, call_next):
        t = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        duration.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).observe(
            time.perf_counter() - t
        )
        return response

    problems.install(app)
    app.add_middleware(problems.BodyLimit)
    docs.install(app)
    app.include_router(routes_jobs.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_tokens.router)
    app.include_router(routes_energy.router)
    app.include_router(routes_capacity.router)
    app.include_router(routes_tenants.router)
    return app
