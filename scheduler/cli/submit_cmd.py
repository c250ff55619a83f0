"""``suanwang submit`` and ``suanwang jobs``: plan, create workloads per site, follow them."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.output import Format, console, print_json, table
from suanwang.scheduler.cli.plan_cmd import TimeLimitOpt, TopologyOpt, _problem
from suanwang.scheduler.cli.remote import ServerOpt, TokenOpt, call
from suanwang.scheduler.cli.server_cmd import jobs_explain, jobs_get, jobs_list, remote_submit
from suanwang.scheduler.k8s.client import SiteApi, site_clients
from suanwang.scheduler.k8s.dryrun import plan_id, write_manifests
from suanwang.scheduler.lifecycle import JobStore, Lifecycle
from suanwang.scheduler.statefile import without_sites
from suanwang.solvers import SOLVERS, solve
from suanwang.topology.loader import load_topology

from suanwang.errors import InputError
from suanwang.timeutil import now_local

jobs_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Follow submitted jobs.")
KubeconfigOpt = typer.Option(
    None, "--kubeconfig", help="Kubeconfig with one context per site (default: $KUBECONFIG or ~/.kube/config)."
)
StoreOpt = typer.Option(Path(".suanwang/jobs.json"), "--store", help="Where job records are kept.")


def _lifecycle(topology, kubeconfig: Path | None, store: Path) -> Lifecycle:
    path = kubeconfig or Path(os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
    if not path.exists():
        raise InputError(f"{path}: no kubeconfig; give --kubeconfig with one context per site")
    apis = {sid: SiteApi(c, sid) for sid, c in site_clients(topology, path).items()}
    return Lifecycle(JobStore(store), apis)


def submit(
    file: Path | None = typer.Argument(None, help="Job YAML file (or --jobs)."),
    jobs: Path | None = typer.Option(None, "--jobs", "-j", help="Job YAML file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write the manifests instead of creating them."),
    output: Path = typer.Option(Path("manifests"), "--output", "-o", help="Folder for --dry-run, one per site."),
    topology: Path | None = TopologyOpt,
    state: Path | None = typer.Option(None, "--state", "-s", help="State JSON."),
    solver: str = typer.Option("cpsat", "--solver", help=f"One of: {', '.join(SOLVERS)}."),
    time_limit: float = TimeLimitOpt,
    kubeconfig: Path | None = KubeconfigOpt,
    store: Path = StoreOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
) -> None:
    """Queue the jobs on a server (--server), or plan them here and create their workloads in the
    chosen sites (or write them: --dry-run)."""
    jobs = file or jobs
    if jobs is None:
        raise InputError("give the job file: `suanwang submit FILE` or --jobs FILE")
    if server:
        remote_submit(server, token, jobs)
        return
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    problem = _problem(jobs, topology, state, None, time_limit, None)
    out = console()
    if dry_run:
        plan = solve(problem, solver)
        paths = write_manifests(problem, plan, output)
        sites = sorted({p.parent.name for p in paths})
        out.print(
            f"{plan_id(problem, plan)}: {len(plan.placements)} placed, {len(plan.unplaced)} unplaced; "
            f"wrote {len(paths)} files for {len(sites)} sites under {output}/; apply with:"
        )
        contexts = {s.id: s.kube.context for s in problem.topology.sites}
        for sid in sites:
            out.print(f"  kubectl --context {contexts[sid]} apply -f {output / sid}/")
        return
    life = _lifecycle(problem.topology, kubeconfig, store)
    now = now_local()
    life.reconcile(now)
    down = life.down_sites(now)
    if down:
        import dataclasses

        problem = dataclasses.replace(problem, state=without_sites(problem.state, problem.topology, down))
        out.print(f"not planning on unreachable sites: {', '.join(down)}")
    plan = solve(problem, solver)
    results = life.submit(problem, plan, now)
    out.print(table(f"{plan_id(problem, plan)}", ("job", "outcome"), sorted(results.items())))
    for u in plan.unplaced:
        out.print(f"[yellow]unplaced[/yellow] {u.job}: {' | '.join(u.reasons)}")


@jobs_app.command("status")
def status(
    job_id: str = typer.Argument(...),
    topology: Path | None = TopologyOpt,
    kubeconfig: Path | None = KubeconfigOpt,
    store: Path = StoreOpt,
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
) -> None:
    """A job's state, site, workloads and every transition with its reason (read back first)."""
    st = JobStore(store)
    if job_id not in st.records:
        raise InputError(f"no job {job_id!r} in {store}; submit it first or give --store")
    try:
        life = _lifecycle(load_topology(topology), kubeconfig, store)
        life.reconcile(now_local(), [job_id])
        st = life.store
    except InputError as e:
        console().print(f"[yellow]not read back[/yellow]: {e.summary}")
    rec = st.records[job_id]
    if fmt is Format.json:
        from dataclasses import asdict

        print_json(asdict(rec))
        return
    out = console()
    out.print(
        f"[bold]{rec.job_id}[/bold]: {rec.state} at {rec.site or '—'} ({rec.plan_id or 'no plan'}); "
        f"workloads: {', '.join('/'.join(o) for o in rec.objects) or 'none'}"
    )
    out.print(
        table("history", ("at", "from", "to", "reason"), ((t.at, t.source, t.target, t.reason) for t in rec.history))
    )


@jobs_app.command("cancel")
def cancel(
    job_id: str = typer.Argument(...),
    topology: Path | None = TopologyOpt,
    kubeconfig: Path | None = KubeconfigOpt,
    store: Path = StoreOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
) -> None:
    """Cancel a job: on a server, or here (delete its workloads, foreground propagation) and record why."""
    if server:
        out = call(server, token, "POST", f"/v1/jobs/{job_id}/cancel", {"reason": "cancelled from the CLI"})
        console().print(f"{job_id}: {out['state']}")
        return
    life = _lifecycle(load_topology(topology), kubeconfig, store)
    console().print(f"{job_id}: {life.cancel(job_id, now_local())}")


jobs_app.command("list")(jobs_list)
jobs_app.command("get")(jobs_get)
jobs_app.command("explain")(jobs_explain)
