"""``suanwang carbon pull``: a zone's carbon forecast or measured hours from a public API, written
to the file its topology names (:mod:`suanwang.collectors.carbon_pull`). Run it on a timer — a
cron entry, a systemd timer or a Kubernetes CronJob that shares the feeds folder — more often than
the feed's ``max_age_h``; a pull that fails writes nothing and exits non-zero, and the plans stop
taking the old file once it is stale."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from suanwang.collectors.carbon_pull import BASE_URLS, SOURCES, pull, write_feed
from suanwang.errors import InputError
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.flags import Output, OutputOpt, TopologyOpt, emit
from suanwang.scheduler.cli.output import console
from suanwang.timeutil import iso
from suanwang.topology.loader import load_topology
from suanwang.topology.series import CARBON_COLUMN

carbon_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="A zone's carbon feeds.")
_FIELDS = {"forecast": "carbon_forecast", "measured": "carbon_measured"}


@carbon_app.command("pull")
def pull_cmd(
    zone: str = typer.Argument(..., help="The grid zone of the topology whose feed file to write."),
    source: str = typer.Option(..., "--source", help=f"Where from: {', '.join(SOURCES)}."),
    area: str = typer.Option(..., "--source-zone", help="The source's zone code, e.g. GB or AU-VIC."),
    kind: str = typer.Option("forecast", "--kind", help="forecast (hours ahead) or measured (hours just past)."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of the file the topology names."),
    token_env: str = typer.Option(
        "ELECTRICITYMAPS_TOKEN", "--token-env", help="Environment variable that holds the source's token."
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="The source's URL (default: its public API)."),
    topology: Path | None = TopologyOpt,
    output: Output = OutputOpt,
) -> None:
    """Pull a zone's carbon forecast (or measured hours) and replace its feed file with it."""
    if kind not in _FIELDS:
        raise InputError(f"--kind {kind!r}: use forecast or measured")
    if not area or len(area) > 40 or not all(c.isalnum() or c in "-_" for c in area):
        raise InputError(f"--source-zone {area[:40]!r}: give the source's zone code (letters, digits, - and _)")
    if not token_env or len(token_env) > 100 or not all(c.isalnum() or c == "_" for c in token_env):
        raise InputError(f"--token-env {token_env[:40]!r}: name an environment variable (letters, digits and _)")
    if base_url is not None and (len(base_url) > 200 or not base_url.startswith(("http://", "https://"))):
        raise InputError(f"--base-url {base_url[:40]!r}: give an http:// or https:// URL of at most 200 characters")
    topo = load_topology(topology)
    if zone not in topo.grid_zones:
        raise InputError(f"zone {zone!r} is not in the topology; use one of {', '.join(sorted(topo.grid_zones))}")
    feed = getattr(topo.grid_zones[zone], "carbon_feed" if kind == "forecast" else "carbon_measured")
    if out is None and feed is None:
        raise InputError(
            f"zone {zone} names no grid_zones.{zone}.{_FIELDS[kind]} file; add one to the topology or give --out"
        )
    path = out if out is not None else Path(feed.path)
    column = feed.column if feed is not None else CARBON_COLUMN
    if not path.parent.is_dir():
        raise InputError(f"{path.parent} is not a folder; create it or give another --out")
    hours = pull(source, area, kind, datetime.now(UTC), token=os.environ.get(token_env), base_url=base_url)  # type: ignore[arg-type]
    write_feed(path, hours, column)
    first, last = min(hours), max(hours)
    data = {"zone": zone, "kind": kind, "source": source, "source_zone": area,
            "url": base_url or BASE_URLS[source], "path": str(path), "column": column, "hours": len(hours),
            "first": iso(first), "last": iso(last)}  # fmt: skip

    def human(_wide: bool) -> None:
        console().print(f"wrote {len(hours)} {kind} hours of {area} ({source}) to {path}: {iso(first)} to {iso(last)}")

    emit(data, output, human=human, names=[f"carbon-feed/{zone}-{kind}"])
