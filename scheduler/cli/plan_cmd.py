"""``suanwang plan`` and ``suanwang demo``: place jobs and show the plan."""

from __future__ import annotations

import dataclasses
import enum
import time
from datetime import datetime
from importlib import resources
from pathlib import Path

import typer

from suanwang.collectors.carbon_feed import read_all
from suanwang.collectors.statefile import load_state, state_note
from suanwang.errors import InputError
from suanwang.gcpause import collector_paused
from suanwang.scheduler.cli.flags import (
    FilenameOpt,
    ForecastOpt,
    HoldOpt,
    HorizonOpt,
    LazyRows,
    Output,
    OutputOpt,
    ServerOpt,
    SlotOpt,
    SolverOpt,
    StateOpt,
    TimeLimitOpt,
    TokenOpt,
    TopologyOpt,
    emit,
    forecast_method,
    read_input,
    shift_from,
    write_json,
)
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.jobfile import load_jobs
from suanwang.solvers import SOLVERS, solve
from suanwang.solvers.forecast import outlook, outlook_hours
from suanwang.solvers.problem import Job, Plan, Problem, Shift, Weights
from suanwang.timeutil import iso, now_local, parse_time
from suanwang.topology.loader import load_topology
from suanwang.topology.measured import with_measured_links


class NodePolicy(enum.StrEnum):
    bestfit = "bestfit"
    fragmentation = "fragmentation"


_RIGHT = (
    "nodes",
    "cards",
    "RTT ms",
    "cost ¥",
    "placed",
    "unplaced",
    "objective",
    "÷ bound",
    "carbon kg",
    "solve s",
    "kWh",
)


def demo_jobs_path() -> Path:
    return Path(str(resources.files("suanwang.scheduler") / "data" / "demo_jobs.yaml"))


def _now(value: str | None, from_file: datetime | None) -> datetime:
    if value is None:
        return from_file or now_local()
    t = parse_time(value)
    if t is None:
        raise InputError(f"--now {value!r} is not a date-time; write ISO 8601, e.g. 2026-11-25T09:00:00+08:00")
    return t


def _problem(
    job_files: list[Path],
    topology: Path | None,
    state: Path | None,
    now: str | None,
    time_limit: float,
    carbon_price: float | None,
    shift: Shift | None = None,
    wait_cost: float | None = None,
) -> Problem:
    topo = load_topology(topology)
    jobs: list[Job] = []
    plan_time: datetime | None = None
    for f in job_files:
        source, text = read_input(f)
        more, t = load_jobs(source, topo, text)
        jobs += more
        plan_time = plan_time or t
    seen: set[str] = set()
    dup = [j.id for j in jobs if j.id in seen or seen.add(j.id)]
    if dup:
        raise InputError(f"job id {dup[0]!r} is in more than one file; give every job its own id")
    st = load_state(state, topo) if state is not None else None
    if st is not None and st.links:
        topo = with_measured_links(topo, st.links)
    weights = Weights()
    if carbon_price is not None:
        weights = dataclasses.replace(weights, carbon_cny_per_kg=carbon_price / 1000.0)
    if wait_cost is not None:
        weights = dataclasses.replace(weights, wait_cny_per_h=wait_cost)
    return Problem(topo, tuple(jobs), _now(now, plan_time), st, weights, time_limit_s=time_limit, shift=shift)


def _print_plan(plan: Plan, problem: Problem, limit: int, wide: bool = False, feeds=None) -> None:
    out = console()
    jobs = {j.id: j for j in problem.jobs}
    rows = []
    for p in plan.placements[:limit]:
        j = jobs[p.job]
        rows.append(
            (
                p.job,
                j.kind,
                j.tenant,
                p.site,
                p.accelerator,
                p.nodes,
                p.cards,
                "" if p.rtt_ms is None else round(p.rtt_ms, 2),
                " → ".join(p.path),
                round(p.cost_cny, 1),
                round(p.energy_kwh, 1),
                round(p.carbon_kg, 1),
                "fixed" if p.fixed else p.note if p.scheduled else "",
                p.start.strftime("%m-%d %H:%M"),
            )
        )
    columns = (
        "job",
        "kind",
        "tenant",
        "site",
        "model",
        "nodes",
        "cards",
        "RTT ms",
        "path",
        "cost ¥",
        "kWh",
        "carbon kg",
        "note",
        "start (UTC+8)",
    )
    keep = range(len(columns)) if wide else [0, 1, 2, 3, 4, 5, 13, 7, 9, 12]
    out.print(
        table(
            f"placements ({len(plan.placements)})",
            [columns[i] for i in keep],
            ([r[i] for i in keep] for r in rows),
            right=_RIGHT,
        )
    )
    if len(plan.placements) > limit:
        out.print(f"… {len(plan.placements) - limit} more placements (use --limit or -o json)")
    if plan.unplaced:
        out.print(
            table(
                f"unplaced ({len(plan.unplaced)})",
                ("job", "why"),
                ((u.job, " | ".join(u.reasons)) for u in plan.unplaced[:limit]),
            )
        )
        if len(plan.unplaced) > limit:
            out.print(f"… {len(plan.unplaced) - limit} more unplaced")
    d = plan.to_dict()
    s = d["summary"]
    bound = "—" if plan.bound is None else f"{plan.bound:,.1f}"
    gap = "—" if plan.gap is None else f"{100 * plan.gap:.3f} %"
    measure = "(priority × PFLOPS placed)"
    if plan.score_bound:  # time-indexed plans are bounded on their score: value less the runs' costs, in ¥
        score_gap = max(0.0, (plan.score_bound - plan.score) / abs(plan.score_bound))
        measure += f"; score ¥{plan.score:,.2f} (value less energy, carbon, transfer and waiting)"
        bound, gap = f"¥{plan.score_bound:,.2f}", f"{100 * score_gap:.3f} %"
    note = state_note(problem.state, problem.topology)
    if note["mode"] == "what-if":
        out.print(f"[yellow]what-if[/yellow]: {note['note']}; give --state for the network as it is")
    elif note["sites_without_fresh_state"]:
        shut = note["sites_without_fresh_state"]
        out.print(
            f"[yellow]{len(shut)} site(s) got nothing new[/yellow] for want of fresh state: "
            + ", ".join(f"{k} ({v})" for k, v in list(shut.items())[:5])
            + (f" and {len(shut) - 5} more" if len(shut) > 5 else "")
        )
    for kind, r in feeds.not_used() if feeds is not None else ():
        out.print(f"[yellow]carbon {kind} feed of zone {r.zone} not used[/yellow]: {r.problem} ({r.path})")
    out.print(
        f"[bold]{plan.solver}[/bold]: status {plan.status}, objective {plan.objective:,.1f} "
        f"{measure}, bound {bound}, gap {gap}, solve {plan.solve_seconds:.2f} s; "
        f"{s['placed']} placed, {s['unplaced']} unplaced, {s['energy_kwh']:,.0f} kWh, "
        f"¥{s['cost_cny']:,.0f}, {s['carbon_kg']:,.0f} kg CO₂"
    )


def _outlook_note(problem: Problem, feeds) -> dict:
    """Where the plan's prices and carbon came from, and each zone's carbon feeds as it found them:
    ``feeds`` the forecasts, ``measured`` the measured hours."""

    def view(readings) -> dict:
        return {
            z: {"path": r.path, "written": iso(r.written), "used": r.used, "problem": r.problem}
            for z, r in readings.items()
        }

    return {
        "source": problem.outlook.source if problem.outlook is not None else "tariff; carbon as the topology gives it",
        "feeds": view(feeds.readings["forecast"]),
        "measured": view(feeds.readings["measured"]),
    }


def plan(
    filename: list[Path] = FilenameOpt,
    topology: Path | None = TopologyOpt,
    state: Path | None = StateOpt,
    solver: str = SolverOpt,
    time_limit: float = TimeLimitOpt,
    output: Output = OutputOpt,
    now: str | None = typer.Option(None, "--now", help="Plan time (ISO 8601; default: the file's plan_time or now)."),
    carbon_price: float | None = typer.Option(
        None, "--carbon-price", min=0.0, max=1e5, help="Carbon price in ¥ per tonne."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="Rows shown per table."),
    horizon_h: float = HorizonOpt,
    wait_cost: float | None = typer.Option(
        None,
        "--wait-cost",
        min=0.0,
        max=1e6,
        help="¥ each hour a job's start is put off costs (default 0.01: any saving is worth waiting for).",
    ),
    slot_min: float = SlotOpt,
    hold_share: float = HoldOpt,
    forecast: str = ForecastOpt,
    tenants: list[Path] = typer.Option(
        None, "--tenants", help="Tenant file(s) with quotas (the tenant contract); jobs keep to them."
    ),
    node_policy: NodePolicy = typer.Option(
        "bestfit", "--node-policy", help="Which nodes of a site a job takes: bestfit, or fragmentation (FGD)."
    ),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
) -> None:
    """Place jobs on the network; print placements, the unplaced with reasons, and the gap.
    With --server, the server plans them (dry run) against its live state and registered tenants."""
    if server:
        from suanwang.scheduler.cli.server_cmd import remote_plan  # the HTTP client only when asked for

        remote_plan(server, token, filename, time_limit, output)
        return
    forecast = forecast_method(forecast)
    with collector_paused():  # reading, planning and writing build acyclic structures only
        shift = shift_from(horizon_h, slot_min, hold_share) if solver == "cpsat" else None
        problem = _problem(filename, topology, state, now, time_limit, carbon_price, shift, wait_cost)
        feeds = read_all(problem.topology, problem.now)
        problem = dataclasses.replace(problem, topology=feeds.topology, node_policy=node_policy.value)
        if shift is not None and problem.jobs:  # the carbon a plan expects: forecast, never the actual series
            hours = outlook_hours(shift, problem.jobs)
            look = outlook(problem.topology, problem.now, hours, forecast, feeds.forecast)  # type: ignore[arg-type]
            problem = dataclasses.replace(problem, outlook=look)
        if tenants:
            from suanwang.contract import Refs
            from suanwang.scheduler.cli.tenant_cmd import read_tenants
            from suanwang.solvers.tenantspec import quotas_of
            from suanwang.topology.loader import topology_refs

            topo = problem.topology
            specs = read_tenants(tenants, Refs(topology_refs(topo), sites=[s.id for s in topo.sites]))
            problem = dataclasses.replace(problem, quotas=quotas_of(specs, problem.topology))
        result = solve(problem, solver)
        notes = {"state": state_note(problem.state, problem.topology), "outlook": _outlook_note(problem, feeds)}
        if output is Output.json:  # each row made as it is written
            write_json({**result.to_dict(LazyRows), **notes})
            return
        emit(
            {**result.to_dict(), **notes},
            output,
            human=lambda wide: _print_plan(result, problem, limit, wide, feeds),
            names=[f"placement/{p.job}" for p in result.placements] + [f"unplaced/{u.job}" for u in result.unplaced],
        )


def demo(time_limit: float = TimeLimitOpt, output: Output = OutputOpt) -> None:
    """Plan the built-in sample batch on the built-in Jiangsu network, CP-SAT beside the baselines."""
    problem = _problem([demo_jobs_path()], None, None, None, time_limit, None)
    human = output in (Output.table, Output.wide)
    plans: dict[str, Plan] = {}
    for name in SOLVERS:
        t = time.perf_counter()
        plans[name] = solve(problem, name)
        if human:
            console().print(f"  {name}: {time.perf_counter() - t:.2f} s")
    emit(
        {name: p.to_dict() for name, p in plans.items()},
        output,
        human=lambda wide: _print_demo(problem, plans),
        names=[f"plan/{name}" for name in plans],
    )


def _print_demo(problem: Problem, plans: dict[str, Plan]) -> None:
    out = console()
    kinds = {k: sum(1 for j in problem.jobs if j.kind == k) for k in ("training", "inference", "batch")}
    out.print(
        f"[bold]demo[/bold]: {len(problem.jobs)} jobs ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
        f"{len({j.tenant for j in problem.jobs})} tenants, "
        f"{len({j.origin for j in problem.jobs if j.origin})} origin cities, on {problem.topology.name}, "
        f"plan time {problem.now.isoformat()}"
    )
    rows = []
    for name, p in plans.items():
        s = p.to_dict()["summary"]
        rows.append(
            (
                name,
                p.status,
                s["placed"],
                s["unplaced"],
                round(p.objective, 1),
                f"{p.objective / p.bound:.4f}" if p.bound else "—",
                round(s["cost_cny"], 0),
                round(s["carbon_kg"], 0),
                round(p.solve_seconds, 2),
            )
        )
    out.print(
        table(
            "CP-SAT beside the baselines",
            ("solver", "status", "placed", "unplaced", "objective", "÷ bound", "cost ¥", "carbon kg", "solve s"),
            rows,
            right=_RIGHT,
        )
    )
    best = plans["cpsat"]
    if best.unplaced:
        out.print(
            table(
                "why jobs are not placed (CP-SAT, first 8)",
                ("job", "why"),
                ((u.job, " | ".join(u.reasons)) for u in best.unplaced[:8]),
            )
        )
