"""``suanwang capacity plan``: where to add which accelerators, year by year, at the lowest NPV."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import typer

from suanwang.errors import InfeasibleError, InputError
from suanwang.scheduler.capacity_plots import draw_capacity
from suanwang.scheduler.cli.flags import Output, OutputOpt, emit, read_input
from suanwang.scheduler.cli.output import console, note, table
from suanwang.simulations.capacity_load import load_planning
from suanwang.simulations.capacity_report import table_rows, write_report
from suanwang.simulations.capacity_run import RULES, run_planning
from suanwang.solvers.capacity_problem import CAPACITY_SOLVERS

capacity_app = typer.Typer(no_args_is_help=True, help="Capacity planning: where to add which accelerators.")


@capacity_app.command("plan")
def plan_command(
    planfile: Path = typer.Argument(..., help="Planning file (YAML); - reads stdin.", metavar="PLANFILE"),
    output: Output = OutputOpt,
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="Write summary.md, plan.json and four PNGs into this folder."
    ),
    validate: bool = typer.Option(False, "--validate", help="Replay each year's demand on its network by simulation."),
    baselines: str | None = typer.Option(
        None, "--baselines", help=f"Compare with hand-made plans: a comma list of {', '.join(RULES)}, or all."
    ),
    solver: str | None = typer.Option(
        None, "--solver", help=f"Override the file's solver: {', '.join(CAPACITY_SOLVERS)}."
    ),
    time_limit: float | None = typer.Option(None, "--time-limit", min=1.0, max=86_400.0, help="Override time_limit_s."),
) -> None:
    """Plan capacity from a planning file: additions by site, model and year; NPV, gap, marginal values."""
    source, text = read_input(planfile)
    planning = load_planning(source, text)
    if solver is not None:
        if solver not in CAPACITY_SOLVERS:
            raise InputError(f"--solver {solver!r} is not a capacity solver; use one of {', '.join(CAPACITY_SOLVERS)}")
        planning = replace(planning, problem=replace(planning.problem, solver=solver))  # type: ignore[arg-type]
    if time_limit is not None:
        planning = replace(planning, problem=replace(planning.problem, time_limit_s=time_limit))
    rules = _rules(baselines)
    t0 = time.perf_counter()
    limit = planning.problem.time_limit_s
    with _progress() as bar:  # a spinner with the time elapsed, on stderr; each step also noted
        task = bar.add_task("planning", total=None)

        def say(message: str) -> None:
            note(f"[{time.perf_counter() - t0:6.1f} s] {message}")
            bar.update(task, description=f"{message} (solver limit {limit:g} s)" if "solving" in message else message)

        plan, doc = run_planning(planning, with_validation=validate, rules=rules, say=say)
    if report_dir is not None:
        paths = write_report(report_dir, doc)
        if plan.status in ("optimal", "feasible"):
            new = {c.site.id: c.site.city for c in planning.problem.candidates}
            paths += draw_capacity(report_dir, doc, planning.problem.topology, new)
        note(f"report: {len(paths)} files in {report_dir}/")
    if plan.status == "infeasible":
        raise InfeasibleError(f"{planning.name}: no plan meets the targets; change what the reasons name", plan.reasons)
    if plan.status == "not solved":
        raise InfeasibleError(f"{planning.name}: no plan found in time", plan.reasons)

    def human(wide: bool) -> None:
        cols = ["in service", "site", "city", "accelerator", "nodes", "PFLOPS"]
        if wide:
            cols += ["ordered", "cards", "capex ¥ M"]
        console().print(table(f"capacity plan {planning.name}", cols, table_rows(doc, wide), right=cols[4:]))
        gap = "—" if doc["gap"] is None else f"{doc['gap']:.2%}"
        console().print(
            f"{doc['status']} ({doc['solver']}): NPV ¥{doc['npv_cny'] / 1e6:,.1f} M, gap {gap}, "
            f"{doc['solve_seconds']:.1f} s; sites opened: {', '.join(doc['openings']) or 'none'}"
        )
        for r in doc["by_year"]:
            share = r["served_pflops"] / r["demand_pflops"] if r["demand_pflops"] else 1.0
            console().print(
                f"  {r['year']}: {r['installed_pflops']:,.0f} PFLOPS installed, {share:.1%} of demand served"
            )
        for name, b in doc.get("baselines", {}).items():
            saving = "—" if b["plan_saving"] is None else f"{b['plan_saving']:.1%}"
            most = "" if b["saving_bound"] is None else f" (no plan's by more than {b['saving_bound']:.1%})"
            console().print(f"  against {name}: {b['status']}, the plan's NPV is lower by {saving}{most}")
        if "validation" in doc:
            v = doc["validation"]
            console().print(f"  validation: {'confirmed' if v['confirmed'] else 'NOT confirmed'}")
            for c in v["years"]:
                if c["flagged"]:
                    console().print(f"    {c['year']}: {c['why']}")

    emit(
        doc,
        output,
        human=human,
        names=[f"addition/{a['site']}/{a['accelerator']}/{a['year']}" for a in doc["additions"]],
    )


def _rules(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = RULES if value.strip() == "all" else tuple(s.strip() for s in value.split(",") if s.strip())
    bad = [n for n in names if n not in RULES]
    if bad:
        raise InputError(f"--baselines: unknown rule(s) {', '.join(bad)}; use {', '.join(RULES)} or all")
    return names


def _progress():
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr, highlight=False),
        transient=True,
    )
