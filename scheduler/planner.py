"""The control loop in a process of its own, beside the API (``suanwang serve``).

Planning a large queue holds one interpreter for seconds; in the API's process it stalls every
request for as long (a single submission's p99 under 1,000 jobs/s: 257 ms with the loop in the
API's process, 27–35 ms with it in its own; bench/README.md). The planner therefore runs as a
child process over the same database:

- the API wakes it at once after a submission, a cancellation or an operator's change (an event
  shared by the two processes), as it woke the in-process loop;
- after each cycle the planner sends its report, the latest live state and its metrics; the API
  answers ``/readyz`` from those reports (red when no cycle completed for three periods, or the
  planner sent none), serves ``/v1/state`` from that state, and merges the metrics into its own
  ``/metrics``;
- the planner follows the topology versions the API stores (sites added or changed), as every
  replica's loop does;
- the planner dies with the API (the kernel's parent-death signal), so no orphan keeps a leader's
  lease; should the planner end on its own, the API exits (code 70) so that its supervisor
  restarts the replica rather than serving without planning.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanwang.collectors.statefile import without_sites
from suanwang.scheduler.service import CycleReport, LoopHealth

log = logging.getLogger("suanwang.planner")
PR_SET_PDEATHSIG = 1  # prctl(2)
_NOTHING = object()


@dataclass(frozen=True)
class PlannerSettings:
    """What the planner process needs to build its loop (plain values: they cross a process start)."""

    database_url: str | None
    replica_id: str
    lease_s: float
    period_s: float
    collector: Path | None
    kubeconfig: Path | None
    manifests: Path | None
    time_limit_s: float
    assume_empty: bool
    shift: Any  # solvers.problem.Shift | None
    forecast: str
    preempt_inference: bool
    full_every_s: float


def make_loop(app, settings: PlannerSettings, cfg, apis, lease):
    """The control loop ``settings`` describe, over ``app``'s state (in this process or the planner's)."""
    from suanwang.scheduler.service import ControlLoop

    return ControlLoop(
        app,
        cfg,
        apis,
        settings.manifests,
        settings.time_limit_s,
        assume_empty=settings.assume_empty,
        lease=lease,
        shift=settings.shift,
        forecast=settings.forecast,
        preempt_inference=settings.preempt_inference,
        full_every_s=settings.full_every_s,
    )


# -- the child ------------------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the API's process ends, however it ends (Linux); elsewhere a
    thread notices within a second."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent:  # the parent ended before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def planner_main(settings: PlannerSettings, parent: int, wake, stop, conn) -> None:
    """The planner process: build the loop over the stored topology and cycle until ``stop``."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the API; it stops the planner
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from suanwang.collectors.config import load_collector_config
    from suanwang.gcpause import freeze_startup_heap
    from suanwang.scheduler.api.app import create_app
    from suanwang.scheduler.db import repo
    from suanwang.scheduler.db.engine import make_engine, sessions
    from suanwang.scheduler.db.lease import Lease
    from suanwang.scheduler.k8s.client import site_apis
    from suanwang.topology.loader import load_topology

    engine = make_engine(settings.database_url)
    with sessions(engine)() as s:
        row = repo.latest_topology(s)
        topo = load_topology(f"topology version {row.id}", text=row.yaml_text)
        digest = row.sha256
    app = create_app(engine, topo)  # not served: the loop's state and metrics
    app.state.topology_digest = digest
    cfg = load_collector_config(settings.collector, topo) if settings.collector else None
    apis = site_apis(topo, settings.kubeconfig) if settings.kubeconfig else None
    lease = Lease(sessions(engine), settings.replica_id, ttl_s=settings.lease_s)
    loop = make_loop(app, settings, cfg, apis, lease)
    loop.wake = wake
    sent: list[Any] = [_NOTHING]

    def after(report: CycleReport) -> None:
        st = app.state
        state = None if st.live_state is sent[0] else (st.snapshot, st.live_state)
        sent[0] = st.live_state
        try:
            conn.send((report, loop.health.standby, state, list(st.registry.collect())))
        except (BrokenPipeError, EOFError, OSError):
            stop.set()  # the API is gone
        except Exception:  # noqa: BLE001 — unsent, the API's /readyz turns red for want of reports
            st.metrics.loop_errors.labels("report").inc()
            log.exception("the cycle's report could not be sent to the API")

    freeze_startup_heap()
    try:
        loop.run(settings.period_s, stop, after)
    finally:
        lease.release()
        conn.close()


# -- the parent -----------------------------------------------------------------------------------
class PlannerProcess:
    """Starts the planner beside the API ``app`` and keeps the API's view of it current."""

    def __init__(self, app, settings: PlannerSettings, on_exit) -> None:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads or connections
        self.app, self.settings, self.on_exit = app, settings, on_exit
        self.wake, self.stop_event = ctx.Event(), ctx.Event()
        self._conn, child = ctx.Pipe(duplex=False)
        self.health = LoopHealth(period_s=settings.period_s)
        self.families: list = []
        app.state.loop_health = self.health
        unknown = "the planner process has not reported yet"
        app.state.live_state = without_sites(
            None, app.state.topology, {s.id: unknown for s in app.state.topology.sites}
        )
        app.state.wake = self.wake.set
        app.state.metrics_source = MergedMetrics(app.state.registry, lambda: self.families)
        self.process = ctx.Process(
            target=planner_main,
            args=(settings, os.getpid(), self.wake, self.stop_event, child),
            name="suanwang-planner",
        )
        self.process.start()
        child.close()
        self._listener = threading.Thread(target=self._listen, daemon=True, name="planner-reports")
        self._listener.start()

    def _listen(self) -> None:
        while True:
            try:
                report, standby, state, families = self._conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # noqa: BLE001 — counted; without reports /readyz turns red
                self.app.state.metrics.loop_errors.labels("report").inc()
                log.exception("a report from the planner process could not be read")
                continue
            self.health.standby = standby
            self.health.record(report)
            if state is not None:
                self.app.state.snapshot, self.app.state.live_state = state
            self.families = families
        self.process.join(5)
        if not self.stop_event.is_set():
            log.critical("the planner process ended (exit code %s)", self.process.exitcode)
            self.on_exit()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let the planner finish its cycle and give up its lease; end it after ``timeout_s``."""
        self.stop_event.set()
        self.wake.set()
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class MergedMetrics:
    """The API's own metric families with the planner's: counters and histograms add up (both
    processes count transitions), for gauges the planner's value stands (it sets them)."""

    def __init__(self, registry, planner) -> None:
        self.registry, self.planner = registry, planner

    def collect(self):
        return merge_families(list(self.registry.collect()), self.planner())


def merge_families(own: list, other: list) -> list:
    """``own`` and ``other`` (lists of prometheus_client Metric) as one list, one family per name."""
    theirs = {f.name: f for f in other}
    out = []
    for fam in own:
        mate = theirs.pop(fam.name, None)
        if mate is None:
            out.append(fam)
            continue
        additive = fam.type in ("counter", "histogram", "summary")
        values: dict[tuple, Any] = {}
        for sample in [*fam.samples, *mate.samples]:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            seen = values.get(key)
            if seen is None or not additive:
                values[key] = sample
            elif sample.name.endswith("_created"):
                values[key] = seen if seen.value <= sample.value else sample
            else:
                values[key] = seen._replace(value=seen.value + sample.value)
        merged = type(fam)(fam.name, fam.documentation, fam.type, fam.unit)
        merged.samples = list(values.values())
        out.append(merged)
    return out + list(theirs.values())
