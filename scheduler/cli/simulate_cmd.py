"""``suanwang simulate``: run what-if scenarios and compare them side by side."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from suanwang.errors import InputError
from suanwang.scheduler.cli.flags import FilenameOpt, Output, OutputOpt, emit
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.plots import draw_simulation
from suanwang.simulations.report import table_rows, write_report
from suanwang.simulations.runner import run_all, shift_variants, with_solver
from suanwang.simulations.scenario import load_scenario
from suanwang.solvers import SOLVERS


def simulate(
    scenarios: list[Path] = FilenameOpt,
    solvers: str | None = typer.Option(
        None, "--solvers", help=f"Compare policies, e.g. greedy,cpsat ({', '.join(SOLVERS)})."
    ),
    report_dir: Path = typer.Option(Path("simulation-report"), "--report-dir", help="Folder for the report and plots."),
    processes: int = typer.Option(1, "--processes", "-p", min=1, help="Run scenarios in parallel processes."),
    output: Output = OutputOpt,
    indexed_job_name: str | None = typer.Option(
        None,
        "--indexed-job",
        help="Print the sweep as a Kubernetes Indexed Job of this name (one scenario per index) instead of running it.",
    ),
    image: str = typer.Option("suanwang:latest", "--image", help="Container image for --indexed-job."),
    compare: bool = typer.Option(False, "--compare", help="One side-by-side table (default: a table each)."),
) -> None:
    """Replay demand on today's or a proposed network; print a side-by-side table and write a report."""
    loaded = [load_scenario(p) for p in scenarios]  # check every file before anything runs
    if indexed_job_name is not None:
        import sys

        import yaml

        from suanwang.scheduler.k8s.sweep import indexed_job

        docs = indexed_job(scenarios, indexed_job_name, image)
        if output is Output.json:
            emit({"apiVersion": "v1", "kind": "List", "items": docs}, output)
        else:
            sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
        return
    if solvers:
        names = [s.strip() for s in solvers.split(",") if s.strip()]
        bad = [s for s in names if s not in SOLVERS]
        if bad:
            raise InputError(f"unknown solver(s) {', '.join(bad)}; use {', '.join(SOLVERS)}")
        loaded = [with_solver(sc, s) for sc in loaded for s in names]
    loaded = [v for sc in loaded for v in shift_variants(sc)]
    if len({sc.name for sc in loaded}) != len(loaded):
        raise InputError("two scenarios share a name; give each a distinct `name:`")
    if processes > 1 or output not in (Output.table, Output.wide):
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
    paths = write_report(report_dir, metrics)
    paths += draw_simulation(
        report_dir, metrics, {name: o for name, (_, o) in results.items()}, loaded[0].topology if loaded else None
    )

    def human(wide: bool) -> None:
        if compare or len(metrics) == 1 or any(sc.policy.shift for sc in loaded):
            console().print(table("what-if comparison", ["metric", *metrics], table_rows(metrics), right=list(metrics)))
        else:
            for name, m in metrics.items():
                console().print(table(name, ["metric", name], table_rows({name: m}), right=[name]))
        console().print(f"report: {', '.join(str(p) for p in paths[:2])} and {len(paths) - 2} plots in {report_dir}/")

    emit(metrics, output, human=human, names=[f"scenario/{n}" for n in metrics])
