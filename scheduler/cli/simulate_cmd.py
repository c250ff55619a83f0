"""``suanwang simulate``: run what-if scenarios and compare them side by side."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from suanwang.scheduler.cli.output import Format, console, print_json, table
from suanwang.scheduler.plots import draw_simulation
from suanwang.simulations.report import write_report
from suanwang.simulations.runner import run_all, with_solver
from suanwang.simulations.scenario import load_scenario
from suanwang.solvers import SOLVERS

from suanwang.errors import InputError


def simulate(
    scenarios: list[Path] = typer.Argument(..., help="Scenario YAML files."),
    solvers: str | None = typer.Option(
        None, "--solvers", help=f"Compare policies, e.g. greedy,cpsat ({', '.join(SOLVERS)})."
    ),
    output: Path = typer.Option(Path("simulation-report"), "--output", "-o", help="Report folder."),
    processes: int = typer.Option(1, "--processes", "-p", min=1, help="Run scenarios in parallel processes."),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
    emit_job: Path | None = typer.Option(
        None,
        "--emit-indexed-job",
        help="Write the sweep as a Kubernetes Indexed Job (one scenario per index) instead of running it.",
    ),
    image: str = typer.Option("suanwang:latest", "--image", help="Container image for --emit-indexed-job."),
    compare: bool = typer.Option(False, "--compare", help="One side-by-side table (default: a table each)."),
) -> None:
    """Replay demand on today's or a proposed network; print a side-by-side table and write a report."""
    loaded = [load_scenario(p) for p in scenarios]  # check every file before anything runs
    if emit_job is not None:
        import yaml
        from suanwang.scheduler.k8s.sweep import indexed_job

        docs = indexed_job(scenarios, emit_job.stem, image)
        emit_job.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
        console().print(f"wrote {emit_job}: {len(scenarios)} scenarios, one per index; kubectl apply -f {emit_job}")
        return
    if solvers:
        names = [s.strip() for s in solvers.split(",") if s.strip()]
        bad = [s for s in names if s not in SOLVERS]
        if bad:
            raise InputError(f"unknown solver(s) {', '.join(bad)}; use {', '.join(SOLVERS)}")
        loaded = [with_solver(sc, s) for sc in loaded for s in names]
    if len({sc.name for sc in loaded}) != len(loaded):
        raise InputError("two scenarios share a name; give each a distinct `name:`")
    if processes > 1 or fmt is Format.json:
        results = run_all(loaded, processes)
    else:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=console(),
            transient=True,
        ) as bar:
            tasks = {sc.name: bar.add_task(sc.name, total=1.0) for sc in loaded}
            results = run_all(loaded, 1, lambda name, f: bar.update(tasks[name], completed=f))
    metrics = {name: m for name, (m, _) in results.items()}
    paths = write_report(output, metrics)
    paths += draw_simulation(output, metrics, {name: o for name, (_, o) in results.items()})
    if fmt is Format.json:
        print_json(metrics)
        return
    from suanwang.simulations.report import table_rows

    if compare or len(metrics) == 1:
        console().print(table("what-if comparison", ["metric", *metrics], table_rows(metrics), right=list(metrics)))
    else:
        for name, m in metrics.items():
            console().print(table(name, ["metric", name], table_rows({name: m}), right=[name]))
    console().print(f"report: {', '.join(str(p) for p in paths[:2])} and {len(paths) - 2} plots in {output}/")
