"""``suanwang tenant`` (create, get, describe, delete) against a server (``--server``): tenants with
their cohort, weight and quotas, in the tenant contract (:mod:`suanwang.solvers.tenantspec`) from
files or flags, checked here before anything is sent. ``--quota H800=256`` gives a nominal quota;
``--quota H800=256,borrow=128,lend=64`` adds the borrowing and lending limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from suanwang.contract import Refs, validate
from suanwang.errors import InputError
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.flags import Output, OutputOpt, ServerOpt, TokenOpt, emit, read_input
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.cli.remote import call, seg
from suanwang.scheduler.cli.server_cmd import need
from suanwang.solvers.tenantspec import TenantsFile, TenantSpec
from suanwang.yamldoc import read_document

tenant_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Tenants: cohorts, weights and quotas.")


def read_tenants(paths: list[Path], refs: Refs | None = None) -> list[TenantSpec]:
    """Tenants from files: one tenant, or ``tenants: [...]`` (every fault with its line); with
    ``refs`` (a topology's names) unknown models, cities and sites are faults too."""
    out: list[TenantSpec] = []
    for path in paths:
        source, text = read_input(path)
        doc = read_document(source, text=text)
        if isinstance(doc.data, dict) and "tenants" in doc.data:
            spec = validate(TenantsFile, doc, doc.data, refs)
            out += spec.tenants if spec is not None else []
        else:
            one = validate(TenantSpec, doc, doc.data, refs)
            out += [one] if one is not None else []
        doc.raise_if_faulty("tenant file")
    names = [t.name for t in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"tenant(s) {', '.join(twice)} given more than once; give each tenant once")
    return out


def _quota_flag(text: str) -> dict[str, Any]:
    head, *rest = [p.strip() for p in text.split(",")]
    model, _, nominal = head.partition("=")
    keys = {"borrow": "borrowing_limit", "lend": "lending_limit"}
    out: dict[str, Any] = {"accelerator": model, "nominal": _int(nominal, text)}
    for part in rest:
        k, _, v = part.partition("=")
        if k not in keys:
            raise InputError(f"--quota {text!r}: unknown part {k!r}; write MODEL=N[,borrow=N][,lend=N]")
        out[keys[k]] = _int(v, text)
    return out


def _int(v: str, text: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise InputError(f"--quota {text!r}: {v!r} is not a whole number of cards; write MODEL=N") from None


@tenant_app.command("create")
def create(
    filenames: list[Path] = typer.Option(None, "--filename", "-f", help="Tenant file(s) in the tenant contract."),
    name: str | None = typer.Option(None, "--name", help="The tenant (as jobs name it)."),
    cohort: str | None = typer.Option(None, "--cohort", help="Its cohort: members lend one another unused quota."),
    weight: float | None = typer.Option(None, "--weight", help="Its share among equals (default 1)."),
    quotas: list[str] = typer.Option(None, "--quota", help="MODEL=CARDS[,borrow=N][,lend=N]; repeat per model."),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Register tenants, or replace their cohort, weight and quotas (admin)."""
    if filenames:
        specs = read_tenants(filenames)
    else:
        raw = {"name": name, "cohort": cohort, "weight": weight, "quotas": [_quota_flag(q) for q in quotas or []]}
        doc = read_document("command-line flags", text=yaml.safe_dump({k: v for k, v in raw.items() if v is not None}))
        one = validate(TenantSpec, doc, doc.data)
        doc.raise_if_faulty("tenant")
        specs = [one] if one is not None else []
    made = [
        call(need(server), token, "PUT", f"/v1/tenants/{seg(t.name)}", t.model_dump(mode="json", exclude_none=True))
        for t in specs
    ]
    emit(made if len(made) > 1 else made[0], output,
         human=lambda wide: [console().print(f"tenant/{t['name']} saved") for t in made],
         names=[f"tenant/{t['name']}" for t in made])  # fmt: skip


def _show(rows: list[dict[str, Any]], wide: bool) -> None:
    cols = ["tenant", "cohort", "weight", "model", "used", "nominal", "borrow ≤", "lend ≤"]
    out = []
    for t in rows:
        for q in t["quotas"] or [{"accelerator": "", "nominal": None}]:
            out.append([t["name"], t["cohort"] or "", f"{t['weight']:g}", q["accelerator"],
                        t["used"].get(q["accelerator"], 0) if q["accelerator"] else "",
                        "" if q["nominal"] is None else q["nominal"],
                        "" if q.get("borrowing_limit") is None else q["borrowing_limit"],
                        "" if q.get("lending_limit") is None else q["lending_limit"]])  # fmt: skip
    console().print(table("tenants", cols, out, right=cols[2:]))


@tenant_app.command("get")
def get(
    name: str | None = typer.Argument(None, help="One tenant (default: all you may see)."),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Tenants with their quotas and the cards they use now."""
    rows = (
        [call(need(server), token, "GET", f"/v1/tenants/{seg(name)}")]
        if name
        else call(need(server), token, "GET", "/v1/tenants")
    )
    emit(rows[0] if name else rows, output, human=lambda wide: _show(rows, wide),
         names=[f"tenant/{t['name']}" for t in rows])  # fmt: skip


@tenant_app.command("describe")
def describe(name: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """One tenant in full."""
    t = call(need(server), token, "GET", f"/v1/tenants/{seg(name)}")
    for key in ("name", "cohort", "weight", "quotas", "used", "created_by", "created_at", "updated_at"):
        console().print(f"{key + ':':<12} {t[key]}")


@tenant_app.command("delete")
def delete(name: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """Remove a tenant (admin): its jobs are no longer held to quotas."""
    t = call(need(server), token, "DELETE", f"/v1/tenants/{seg(name)}")
    console().print(f"tenant/{t['name']} deleted")
