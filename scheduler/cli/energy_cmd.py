"""``suanwang grid-event`` (create, get, describe, delete) and ``suanwang accounts``, against a
server (``--server``). A grid event comes from flags or from files in the grid-event contract
(:mod:`suanwang.scheduler.gridspec`), checked here before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import typer
import yaml

from suanwang.contract import validate
from suanwang.errors import InputError
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.flags import Output, OutputOpt, ServerOpt, TokenOpt, emit, read_input
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.cli.remote import call, seg
from suanwang.scheduler.cli.server_cmd import need
from suanwang.scheduler.gridspec import GridEventSpec
from suanwang.yamldoc import read_document

grid_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Grid events: power caps for sites in a window.")


def _specs(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        source, text = read_input(path)
        doc = read_document(source, text=text)
        items = doc.data.get("events") if isinstance(doc.data, dict) and "events" in doc.data else [doc.data]
        if not isinstance(items, list):
            doc.fault("events", "is not a list", "give `events: [...]` or one event")
            doc.raise_if_faulty("grid event")
        for i, item in enumerate(items):
            spec = validate(GridEventSpec, doc, item, None, f"events[{i}]" if len(items) > 1 else "")
            if spec is not None:
                out.append(spec.model_dump(exclude_unset=True, mode="json"))
        doc.raise_if_faulty("grid event")
    return out


@grid_app.command("create")
def create(
    filenames: list[Path] = typer.Option(None, "--filename", "-f", help="Event file(s) in the grid-event contract."),
    event_id: str | None = typer.Option(None, "--id", help="The event's id (letters, digits, . _ -)."),
    sites: list[str] = typer.Option(None, "--site", help="A site under the cap; repeat for several."),
    zone: str | None = typer.Option(None, "--zone", help="Every site of this grid zone."),
    start: str | None = typer.Option(None, "--start", help="ISO 8601; without an offset, UTC+8."),
    end: str | None = typer.Option(None, "--end", help="ISO 8601; without an offset, UTC+8."),
    cap_kw: float | None = typer.Option(None, "--cap-kw", help="The sites' draw stays at or below this."),
    reduce_kw: float | None = typer.Option(None, "--reduce-kw", help="… or this much below their draw now."),
    reduce_ratio: float | None = typer.Option(None, "--reduce-ratio", help="… or this share (0–1] below it."),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Post a grid event; the server's next cycle defers and suspends work to meet it."""
    if filenames:
        specs = _specs(filenames)
    else:
        raw = {
            "id": event_id,
            "sites": sites or [],
            "zone": zone,
            "start": start,
            "end": end,
            "cap_kw": cap_kw,
            "reduce_kw": reduce_kw,
            "reduce_ratio": reduce_ratio,
        }
        raw = {k: v for k, v in raw.items() if v not in (None, [])}
        specs = _specs_from_flags(raw)
    made = [call(need(server), token, "POST", "/v1/grid-events", spec) for spec in specs]
    emit(
        made if len(made) > 1 else made[0],
        output,
        human=lambda wide: [console().print(f"grid-event/{e['id']} created ({e['status']})") for e in made],
        names=[f"grid-event/{e['id']}" for e in made],
    )


def _specs_from_flags(raw: dict[str, Any]) -> list[dict[str, Any]]:
    text = yaml.safe_dump(raw, sort_keys=False)
    doc = read_document("command-line flags", text=text)
    spec = validate(GridEventSpec, doc, doc.data, None)
    doc.raise_if_faulty("grid event")
    assert spec is not None
    return [spec.model_dump(exclude_unset=True, mode="json")]


def _show(events: list[dict[str, Any]], wide: bool) -> None:
    cols = ["event", "sites", "start", "end", "cap kW", "status", "draw kW", "shed kW", "short kW"]
    if wide:
        cols.append("why")
    rows = []
    for e in events:
        row = [e["id"], ",".join(e["sites"]), e["start"], e["end"],
               "" if e["resolved_cap_kw"] is None else f"{e['resolved_cap_kw']:,.1f}", e["status"],
               "" if e["draw_kw"] is None else f"{e['draw_kw']:,.1f}", f"{e['shed_kw']:,.1f}",
               f"{e['shortfall_kw']:,.1f}"]  # fmt: skip
        if wide:
            row.append(e["why"])
        rows.append(row)
    console().print(table("grid events", cols, rows))


@grid_app.command("get")
def get(
    event_id: str | None = typer.Argument(None, help="One event (default: all)."),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Grid events with their cap, status, draw and what was shed."""
    events = (
        [call(need(server), token, "GET", f"/v1/grid-events/{seg(event_id)}")]
        if event_id
        else call(need(server), token, "GET", "/v1/grid-events")
    )
    emit(events[0] if event_id else events, output, human=lambda wide: _show(events, wide),
         names=[f"grid-event/{e['id']}" for e in events])  # fmt: skip


@grid_app.command("describe")
def describe(event_id: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """One grid event in full: its window, cap, outcome, why, and the jobs suspended for it."""
    e = call(need(server), token, "GET", f"/v1/grid-events/{seg(event_id)}")
    for key in ("id", "sites", "zone", "start", "end", "cap_kw", "reduce_kw", "reduce_ratio", "resolved_cap_kw",
                "baseline_kw", "status", "draw_kw", "shed_kw", "shortfall_kw", "suspended", "why", "created_by",
                "created_at", "updated_at"):  # fmt: skip
        console().print(f"{key + ':':<17} {e[key]}")


@grid_app.command("delete")
def delete(event_id: str, server: str | None = ServerOpt, token: str | None = TokenOpt) -> None:
    """Cancel a grid event (its cap no longer binds)."""
    e = call(need(server), token, "DELETE", f"/v1/grid-events/{seg(event_id)}")
    console().print(f"grid-event/{e['id']} {e['status']}")


def accounts(
    tenant: str | None = typer.Argument(None, help="One tenant (default: the province, by tenant and site)."),
    start: str | None = typer.Option(None, "--start", help="From (ISO 8601; default: the beginning)."),
    end: str | None = typer.Option(None, "--end", help="Until (ISO 8601; default: now)."),
    group: str = typer.Option("total", "--group", help="Rows by hour, by day, or only totals."),
    server: str | None = ServerOpt,
    token: str | None = TokenOpt,
    output: Output = OutputOpt,
) -> None:
    """Carbon accounts: energy, carbon (location- and market-based) and cost of what ran."""
    if group not in ("hour", "day", "total"):
        raise InputError(f"--group {group!r}: use hour, day or total")
    q = urlencode({k: v for k, v in (("start", start), ("end", end), ("group", group)) if v})
    path = f"/v1/accounts/{seg(tenant)}?{q}" if tenant else f"/v1/accounts?{q}"
    data = call(need(server), token, "GET", path)

    def fig(x: dict[str, Any]) -> list[str]:
        return [f"{x['energy_kwh']:,.1f}", f"{x['carbon_location_kg']:,.1f}", f"{x['carbon_market_kg']:,.1f}",
                f"{x['cost_cny']:,.2f}", f"{x.get('energy_settled_kwh', 0.0):,.1f}"]  # fmt: skip

    def human(wide: bool) -> None:
        # kWh settled: energy whose carbon is at the zone's measured intensity (the rest is an estimate)
        head = ["kWh", "kg CO2 (location)", "kg CO2 (market)", "CNY", "kWh settled"]
        scope = data.get("tenant") or "province"
        console().print(table(f"accounts: {scope}", ["", *head], [["total", *fig(data["total"])]]))
        console().print(table("by site", ["site", *head], [[x["site"], *fig(x)] for x in data["by_site"]]))
        if data.get("by_tenant"):
            console().print(table("by tenant", ["tenant", *head], [[x["tenant"], *fig(x)] for x in data["by_tenant"]]))
        if wide and data.get("rows"):
            console().print(table(f"by {group}", [group, "tenant", "site", *head],
                                  [[x[group], x["tenant"], x["site"], *fig(x)] for x in data["rows"]]))  # fmt: skip
        b = data.get("basis") or {}
        for zone, how in (b.get("zones") or {}).items():
            console().print(f"[dim]zone {zone}: carbon from the {how['carbon']}; price from the {how['price']}[/dim]")
        if b.get("energy"):
            console().print(f"[dim]energy: {b['energy']}[/dim]")

    emit(data, output, human=human, names=[f"account/{data.get('tenant') or 'province'}"])
