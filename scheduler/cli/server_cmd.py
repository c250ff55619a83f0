"""CLI commands that talk to a running server: ``jobs list|get|cancel|explain`` and
``sites list|drain|undrain``; ``submit`` and ``plan`` use the server when ``--server`` is given."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.output import Format, console, print_json, table
from suanwang.scheduler.cli.remote import ServerOpt, TokenOpt, call

from suanwang.errors import InputError

sites_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Sites on a server.")
FormatOpt = typer.Option(Format.table, "--format", "-f")


def need(server: str | None) -> str:
    if not server:
        raise InputError("this command talks to a server; give --server URL or set SUANWANG_SERVER")
    return server


def job_specs(path: Path) -> list[dict]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"{path}: cannot be read as YAML ({e}); check the file") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list):
        raise InputError(f"{path}: no `jobs:` list; see the job file format in the README")
    return doc["jobs"]


def remote_submit(server: str, token: str | None, path: Path) -> None:
    out = call(server, token, "POST", "/v1/jobs", {"jobs": job_specs(path)})
    console().print(
        f"queued {len(out['added'])} job(s)"
        + (f"; already queued: {', '.join(out['existing'])}" if out["existing"] else "")
    )


def remote_plan(server: str, token: str | None, path: Path, time_limit: float, fmt: Format) -> None:
    plan = call(server, token, "POST", f"/v1/plans/dry-run?time_limit_s={time_limit}", {"jobs": job_specs(path)})
    if fmt is Format.json:
        print_json(plan)
        return
    console().print(
        table(
            f"dry-run plan ({plan['status']})",
            ("job", "site", "model", "nodes", "RTT ms"),
            ((p["job"], p["site"], p["accelerator"], p["nodes"], p["rtt_ms"]) for p in plan["placements"]),
        )
    )
    for u in plan["unplaced"]:
        console().print(f"unplaced {u['job']}: {' | '.join(u['reasons'])}")


def jobs_list(
    state: str | None = typer.Option(None, "--state"),
    tenant: str | None = typer.Option(None, "--tenant"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    offset: int = typer.Option(0, "--offset", min=0),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Jobs on the server, with filters and pagination."""
    q = "&".join(
        f"{k}={v}"
        for k, v in (("state", state), ("tenant", tenant), ("limit", limit), ("offset", offset))
        if v is not None
    )
    page = call(need(server), token, "GET", f"/v1/jobs?{q}")
    if fmt is Format.json:
        print_json(page)
        return
    console().print(
        table(
            f"jobs {offset + 1}–{offset + len(page['items'])} of {page['total']}",
            ("id", "tenant", "kind", "priority", "state", "site"),
            ((j["id"], j["tenant"], j["kind"], j["priority"], j["state"], j["site"] or "") for j in page["items"]),
        )
    )


def jobs_get(
    job_id: str, server: str | None = ServerOpt, token: str | None = TokenOpt, fmt: Format = FormatOpt
) -> None:
    """One job with its history."""
    job = call(need(server), token, "GET", f"/v1/jobs/{job_id}")
    if fmt is Format.json:
        print_json(job)
        return
    console().print(
        f"[bold]{job['id']}[/bold] ({job['tenant']}, {job['kind']}, priority {job['priority']}): "
        f"{job['state']} at {job['site'] or '—'}"
    )
    console().print(
        table(
            "history",
            ("at", "from", "to", "reason"),
            ((h["at"], h["from"], h["to"], h["reason"]) for h in job["history"]),
        )
    )


def jobs_explain(job_id: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """Why a job is not placed."""
    out = call(need(server), token, "GET", f"/v1/jobs/{job_id}/explain")
    console().print(f"{job_id} ({out['state']}):")
    for r in out["reasons"]:
        console().print(f"  - {r}")


@sites_app.command("list")
def sites_list(server: str | None = ServerOpt, token: str | None = TokenOpt, fmt: Format = FormatOpt) -> None:
    """Sites with capacity and drain state."""
    sites = call(need(server), token, "GET", "/v1/sites")
    if fmt is Format.json:
        print_json(sites)
        return
    console().print(
        table(
            "sites",
            ("site", "city", "tier", "cards", "PFLOPS", "drained"),
            (
                (
                    s["id"],
                    s["city"],
                    s["tier"],
                    s["cards"],
                    s["pflops"],
                    f"yes: {s['drain_reason']}" if s["drained"] else "",
                )
                for s in sites
            ),
        )
    )


@sites_app.command("drain")
def sites_drain(
    site: str,
    reason: str = typer.Option("maintenance", "--reason"),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
) -> None:
    """Stop placing new work on a site."""
    call(need(server), token, "POST", f"/v1/sites/{site}/drain", {"reason": reason})
    console().print(f"{site}: drained ({reason})")


@sites_app.command("undrain")
def sites_undrain(site: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """Place work on a site again."""
    call(need(server), token, "POST", f"/v1/sites/{site}/undrain")
    console().print(f"{site}: undrained")
