"""``suanwang submit``: place jobs and turn the plan into Kubernetes workloads per site."""

from __future__ import annotations

from pathlib import Path

import typer

from scheduler.cli.output import console
from scheduler.cli.plan_cmd import TimeLimitOpt, TopologyOpt, _problem
from scheduler.k8s.dryrun import plan_id, write_manifests
from solvers import SOLVERS, solve
from topology.errors import InputError, PermanentError


def submit(
    jobs: Path = typer.Option(..., "--jobs", "-j", help="Job YAML file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write the manifests instead of creating them."),
    output: Path = typer.Option(Path("manifests"), "--output", "-o", help="Folder for --dry-run, one per site."),
    topology: Path | None = TopologyOpt,
    state: Path | None = typer.Option(None, "--state", "-s", help="State JSON."),
    solver: str = typer.Option("cpsat", "--solver", help=f"One of: {', '.join(SOLVERS)}."),
    time_limit: float = TimeLimitOpt,
) -> None:
    """Plan the jobs and write (``--dry-run``) their workloads for each chosen site."""
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    if not dry_run:
        raise PermanentError(
            "creating workloads in the clusters is not available in this version; "
            "use --dry-run -o DIR and apply the folders with kubectl"
        )
    problem = _problem(jobs, topology, state, None, time_limit, None)
    plan = solve(problem, solver)
    paths = write_manifests(problem, plan, output)
    sites = sorted({p.parent.name for p in paths})
    out = console()
    out.print(
        f"{plan_id(problem, plan)}: {len(plan.placements)} placed, {len(plan.unplaced)} unplaced; "
        f"wrote {len(paths)} files for {len(sites)} sites under {output}/; apply with:"
    )
    contexts = {s.id: s.kube.context for s in problem.topology.sites}
    for sid in sites:
        out.print(f"  kubectl --context {contexts[sid]} apply -f {output / sid}/")
