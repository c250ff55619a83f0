"""``suanwang sites`` and the server side of ``jobs``, ``submit`` and ``plan`` (``--server``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import typer
import yaml

from suanwang.errors import InputError
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.flags import Output, OutputOpt, ServerOpt, TokenOpt, emit, read_input
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.cli.remote import call, seg

sites_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Sites on a server.")


def need(server: str | None) -> str:
    if not server:
        raise InputError("this command talks to a server; give --server URL or set SUANWANG_SERVER")
    return server


def job_specs(paths: list[Path]) -> list[dict]:
    specs: list[dict] = []
    for path in paths:
        source, text = read_input(path)
        try:
            doc = yaml.safe_load(text if text is not None else Path(source).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise InputError(f"{source}: cannot be read as YAML ({e}); check the file") from e
        if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list):
            raise InputError(f"{source}: no `jobs:` list; see the job file format in the README")
        specs += doc["jobs"]
    return specs


def remote_submit(server: str, token: str | None, paths: list[Path], output: Output) -> None:
    out = call(server, token, "POST", "/v1/jobs", {"jobs": job_specs(paths)})
    emit(
        out,
        output,
        human=lambda wide: console().print(
            f"queued {len(out['added'])} job(s)"
            + (f"; already queued: {', '.join(out['existing'])}" if out["existing"] else "")
        ),
        names=[f"job/{j}" for j in out["added"]],
    )


def remote_plan(server: str, token: str | None, paths: list[Path], time_limit: float, output: Output) -> None:
    q = urlencode({"time_limit_s": time_limit})
    plan = call(server, token, "POST", f"/v1/plans/dry-run?{q}", {"jobs": job_specs(paths)})

    def human(wide: bool) -> None:
        console().print(
            table(
                f"dry-run plan ({plan['status']})",
                ("job", "site", "model", "nodes", "RTT ms"),
                ((p["job"], p["site"], p["accelerator"], p["nodes"], p["rtt_ms"]) for p in plan["placements"]),
            )
        )
        for u in plan["unplaced"]:
            console().print(f"unplaced {u['job']}: {' | '.join(u['reasons'])}")

    emit(plan, output, human=human, names=[f"placement/{p['job']}" for p in plan["placements"]])


def remote_jobs(server: str, token: str | None, state: str | None, tenant: str | None, limit: int, offset: int) -> Any:
    q = urlencode(
        {k: v for k, v in (("state", state), ("tenant", tenant), ("limit", limit), ("offset", offset)) if v is not None}
    )
    return call(server, token, "GET", f"/v1/jobs?{q}")


def _of(tenant: str | None) -> str:
    return f"?{urlencode({'tenant': tenant})}" if tenant else ""


def remote_job(server: str, token: str | None, job_id: str, tenant: str | None = None) -> Any:
    return call(server, token, "GET", f"/v1/jobs/{seg(job_id)}{_of(tenant)}")


def remote_cancel(server: str, token: str | None, job_id: str, tenant: str | None = None) -> Any:
    body = {"reason": "cancelled from the CLI"}
    return call(server, token, "POST", f"/v1/jobs/{seg(job_id)}/cancel{_of(tenant)}", body)


def remote_explain(server: str, token: str | None, job_id: str, tenant: str | None = None) -> Any:
    return call(server, token, "GET", f"/v1/jobs/{seg(job_id)}/explain{_of(tenant)}")


@sites_app.command("get")
def sites_get(
    site: str | None = typer.Argument(None, help="One site (default: all)."),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Sites with capacity and drain state."""
    if site:
        sites = [call(need(server), token, "GET", f"/v1/sites/{seg(site)}")]
    else:
        sites = call(need(server), token, "GET", "/v1/sites")

    def human(wide: bool) -> None:
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

    emit(sites if not site else sites[0], output, human=human, names=[f"site/{s['id']}" for s in sites])


@sites_app.command("drain")
def sites_drain(
    site: str,
    reason: str = typer.Option("maintenance", "--reason"),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
) -> None:
    """Stop placing new work on a site."""
    call(need(server), token, "POST", f"/v1/sites/{seg(site)}/drain", {"reason": reason})
    console().print(f"site/{site} drained ({reason})")


@sites_app.command("undrain")
def sites_undrain(site: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """Place work on a site again."""
    call(need(server), token, "POST", f"/v1/sites/{seg(site)}/undrain")
    console().print(f"site/{site} undrained")


def status(server: str | None = ServerOpt, token: str | None = TokenOpt, output: Output = OutputOpt) -> None:
    """Is the server ready, and which replica leads the control loop."""
    ready = call(need(server), token, "GET", "/readyz")

    def human(wide: bool) -> None:
        lead = f"; leader {ready['leader']} (epoch {ready['epoch']})" if ready.get("leader") else ""
        role = f"{ready['replica']} is {ready['role']}" if ready.get("replica") else "single replica"
        loop = "; its control loop has not cycled yet" if ready.get("loop") == "starting" else ""
        console().print(f"{server}: {ready['status']}, {role}{lead}{loop}")

    emit(ready, output, human=human, names=[f"replica/{ready.get('replica', 'single')}"])
