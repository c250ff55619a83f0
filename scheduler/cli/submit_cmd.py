"""``suanwang submit`` and ``suanwang jobs get|describe|cancel|explain``: the same verbs against a
server (``--server``) or against the local job records (``--store``) and the sites' clusters."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import typer

from suanwang.collectors.statefile import without_sites
from suanwang.errors import InputError, TemporaryError
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.flags import (
    FilenameOpt,
    KubeconfigOpt,
    Output,
    OutputOpt,
    ServerOpt,
    SolverOpt,
    StateOpt,
    StoreOpt,
    TimeLimitOpt,
    TokenOpt,
    TopologyOpt,
    emit,
)
from suanwang.scheduler.cli.output import console, note, table
from suanwang.scheduler.cli.plan_cmd import _problem
from suanwang.scheduler.cli.server_cmd import (
    remote_cancel,
    remote_explain,
    remote_job,
    remote_jobs,
    remote_submit,
)
from suanwang.scheduler.k8s.client import site_apis
from suanwang.scheduler.k8s.dryrun import plan_id, write_manifests
from suanwang.scheduler.lifecycle import Lifecycle
from suanwang.scheduler.store import JobView, JsonStore
from suanwang.solvers import solve
from suanwang.timeutil import iso_text, now_local
from suanwang.topology.loader import load_topology

TenantOpt = typer.Option(None, "--tenant", help="The job's tenant (--server, for operators: ids are per tenant).")
jobs_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Get, describe, cancel and explain jobs.")


def _lifecycle(topology, kubeconfig: Path | None, store: Path) -> Lifecycle:
    path = kubeconfig or Path(os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
    if not path.exists():
        raise InputError(f"{path}: no kubeconfig; give --kubeconfig with one context per site")
    apis = site_apis(topology, path)
    return Lifecycle(JsonStore(store), apis)


def submit(
    filename: list[Path] = FilenameOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Write the manifests instead of creating them."),
    manifests_dir: Path = typer.Option(
        Path("manifests"), "--manifests-dir", help="Folder for --dry-run, one per site."
    ),
    topology: Path | None = TopologyOpt,
    state: Path | None = StateOpt,
    solver: str = SolverOpt,
    time_limit: float = TimeLimitOpt,
    kubeconfig: Path | None = KubeconfigOpt,
    store: Path = StoreOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Queue the jobs on a server (--server), or plan them here and create their workloads in the
    chosen sites (or write them: --dry-run)."""
    if server:
        remote_submit(server, token, filename, output)
        return
    problem = _problem(filename, topology, state, None, time_limit, None)
    bare = [j.id for j in problem.jobs if j.container is None and j.running is None]
    if bare:
        raise InputError(
            f"{len(bare)} job(s) have no `container:` to run ({', '.join(bare[:5])}); "
            "add one with an image (planning alone needs none: `suanwang plan`)"
        )
    out = console()
    if dry_run:
        plan = solve(problem, solver)
        paths = write_manifests(problem, plan, manifests_dir)
        sites = sorted({p.parent.name for p in paths})
        contexts = {s.id: s.kube.context for s in problem.topology.sites}

        def human(wide: bool) -> None:
            out.print(
                f"{plan_id(problem, plan)}: {len(plan.placements)} placed, {len(plan.unplaced)} unplaced; "
                f"wrote {len(paths)} files for {len(sites)} sites under {manifests_dir}/; apply with:"
            )
            for sid in sites:
                out.print(f"  kubectl --context {contexts[sid]} apply -f {manifests_dir / sid}/")

        emit(
            {"plan_id": plan_id(problem, plan), "files": [str(p) for p in paths], "sites": sites},
            output,
            human=human,
            names=[str(p) for p in paths],
        )
        return
    life = _lifecycle(problem.topology, kubeconfig, store)
    now = now_local()
    life.reconcile(now)
    down = life.down_sites(now)
    if down:
        problem = dataclasses.replace(problem, state=without_sites(problem.state, problem.topology, down))
        out.print(f"not planning on unreachable sites: {', '.join(down)}")
    plan = solve(problem, solver)
    missing = sorted({p.site for p in plan.placements if not p.fixed} - set(life.apis))
    if missing:
        contexts = ", ".join(f"{s.kube.context} (site {s.id})" for s in problem.topology.sites if s.id in missing)
        raise InputError(f"the kubeconfig has no usable context for {contexts}; add them, or drain those sites")
    outcome = life.submit(problem, plan, now)
    results = outcome.jobs

    def human(wide: bool) -> None:
        out.print(table(f"{plan_id(problem, plan)}", ("job", "outcome"), sorted(results.items())))
        for u in plan.unplaced:
            out.print(f"[yellow]unplaced[/yellow] {u.job}: {' | '.join(u.reasons)}")

    emit(
        {
            "plan_id": plan_id(problem, plan),
            "results": results,
            "unplaced": [dataclasses.asdict(u) for u in plan.unplaced],
        },
        output,
        human=human,
        names=[f"job/{j}" for j in sorted(results)],
    )
    if outcome.retry:
        raise TemporaryError(
            f"{len(outcome.retry)} job(s) could not be submitted now ({', '.join(outcome.retry[:5])}); "
            "they stay placed, with the failure in their history: run submit again",
            retry_after_s=30,
        )


def _local(rec: JobView) -> dict[str, Any]:
    """A local job record in the shape the server's API gives a job."""
    return {
        "id": rec.id,
        "state": rec.state,
        "site": rec.site,
        "plan_id": rec.plan_id,
        "workloads": [f"{o.kind}/{o.namespace}/{o.name}" for o in rec.objects],
        "history": [{"at": iso_text(t.at), "from": t.source, "to": t.target, "reason": t.reason} for t in rec.history],
    }


def _rows(jobs: list[dict[str, Any]], wide: bool) -> None:
    cols = ["id", "tenant", "kind", "priority", "state", "site"] + (["plan_id", "workloads"] if wide else [])
    console().print(
        table(
            f"jobs ({len(jobs)})",
            cols,
            ([", ".join(v) if isinstance(v := j.get(c), list) else v for c in cols] for j in jobs),
        )
    )


@jobs_app.command("get")
def jobs_get(
    job_ids: list[str] = typer.Argument(None, help="Job ids (default: every job)."),
    state: str | None = typer.Option(None, "--state", help="Only jobs in this state."),
    tenant: str | None = typer.Option(None, "--tenant", help="This tenant's jobs (--server; ids are per tenant)."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="Page size (--server)."),
    offset: int = typer.Option(0, "--offset", min=0, help="Page start (--server)."),
    store: Path = StoreOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """List jobs, or the named ones: id, tenant, kind, priority, state, site."""
    if server and job_ids:
        jobs = [remote_job(server, token, j, tenant) for j in job_ids]
    elif server:
        jobs = remote_jobs(server, token, state, tenant, limit, offset)["items"]
    else:
        local = JsonStore(store)
        missing = [j for j in job_ids or [] if local.get(j) is None]
        if missing:
            raise InputError(f"no job {missing[0]!r} in {store}; submit it first or give --store")
        jobs = [_local(local.get(j)) for j in (job_ids or sorted(local.records))]
    if state:
        jobs = [j for j in jobs if j["state"] == state]
    emit(jobs, output, human=lambda wide: _rows(jobs, wide), names=[f"job/{j['id']}" for j in jobs])


@jobs_app.command("describe")
def jobs_describe(
    job_id: str = typer.Argument(...),
    tenant: str | None = TenantOpt,
    topology: Path | None = TopologyOpt,
    kubeconfig: Path | None = KubeconfigOpt,
    store: Path = StoreOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """A job's state, site, workloads and every transition with its reason (read back first)."""
    if server:
        job = remote_job(server, token, job_id, tenant)
    else:
        st = JsonStore(store)
        if st.get(job_id) is None:
            raise InputError(f"no job {job_id!r} in {store}; submit it first or give --store")
        try:
            life = _lifecycle(load_topology(topology), kubeconfig, store)
            life.reconcile(now_local(), [job_id])
            st = life.store
        except InputError as e:
            note(f"not read back: {e.summary}")
        job = _local(st.get(job_id))

    def human(wide: bool) -> None:
        out = console()
        who = ", ".join(str(job[k]) for k in ("tenant", "kind") if job.get(k))
        out.print(
            f"[bold]{job['id']}[/bold]{f' ({who})' if who else ''}: {job['state']} at {job.get('site') or '—'}"
            + (f"; workloads: {', '.join(job['workloads']) or 'none'}" if "workloads" in job else "")
        )
        out.print(
            table(
                "history",
                ("at", "from", "to", "reason"),
                ((h["at"], h["from"], h["to"], h["reason"]) for h in job["history"]),
            )
        )

    emit(job, output, human=human, names=[f"job/{job['id']}"])


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: str = typer.Argument(...),
    tenant: str | None = TenantOpt,
    topology: Path | None = TopologyOpt,
    kubeconfig: Path | None = KubeconfigOpt,
    store: Path = StoreOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
) -> None:
    """Cancel a job: on a server, or here (delete its workloads, foreground propagation) and record why."""
    if server:
        state = remote_cancel(server, token, job_id, tenant)["state"]
    else:
        state = _lifecycle(load_topology(topology), kubeconfig, store).cancel(job_id, now_local())
    console().print(f"job/{job_id}: {state}")


@jobs_app.command("explain")
def jobs_explain(
    job_id: str,
    tenant: str | None = TenantOpt,
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Why a job is not placed (asks the server, which plans against its live state)."""
    if not server:
        raise InputError("explain asks a server; give --server URL or set SUANWANG_SERVER")
    out = remote_explain(server, token, job_id, tenant)

    def human(wide: bool) -> None:
        console().print(f"{job_id} ({out['state']}):")
        for r in out["reasons"]:
            console().print(f"  - {r}")

    emit(out, output, human=human, names=[f"job/{job_id}"])
