"""``suanwang collect`` and ``suanwang state show``: live state from Prometheus, and a look at it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from suanwang.collectors.collect import collect as run_collect
from suanwang.collectors.config import CollectorConfig, Source, load_collector_config
from suanwang.collectors.snapshot import snapshot_from_dict
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.output import Format, console, print_json, table
from suanwang.scheduler.statefile import load_state
from suanwang.topology.loader import load_topology

from suanwang.errors import InputError, TemporaryError

state_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Inspect state files.")
TopologyOpt = typer.Option(None, "--topology", "-t", help="Topology YAML file (default: built-in jiangsu).")
_RIGHT = ("free cards", "nodes", "util %", "power kW", "age s")


def collect(
    config: Path | None = typer.Option(None, "--config", "-c", help="Collector config YAML."),
    prometheus: str = typer.Option("http://127.0.0.1:9090", "--prometheus", help="Central Prometheus (no --config)."),
    output: Path = typer.Option(Path("state.json"), "--output", "-o", help="State JSON to write."),
    previous: Path | None = typer.Option(None, "--previous", help="Last state (default: the output file)."),
    topology: Path | None = TopologyOpt,
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
) -> None:
    """Read utilisation, free cards, power and link probes from Prometheus into a state file."""
    topo = load_topology(topology)
    cfg = load_collector_config(config, topo) if config else CollectorConfig(central=Source(prometheus))
    before = None
    prev_path = previous or (output if output.exists() else None)
    if prev_path is not None and prev_path.exists():
        try:
            before = snapshot_from_dict(json.loads(prev_path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(
                f"{prev_path}: not a state file written by `suanwang collect` ({e}); "
                "give another --previous or remove it"
            ) from e
    snap = run_collect(topo, cfg, before)
    output.write_text(json.dumps(snap.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if fmt is Format.json:
        print_json(snap.to_dict())
    else:
        _show(snap.to_dict(), topo)
        console().print(f"wrote {output}")
    if not any(not s.stale for s in snap.sites.values()):
        raise TemporaryError(
            "no site could be read fresh from Prometheus; the state keeps last-known values", retry_after_s=30
        )


def _show(data: dict, topo) -> None:
    out = console()
    rows = []
    for sid, s in data.get("sites", {}).items():
        for model, p in s.get("pools", {}).items():
            free = p.get("free_per_node", {})
            rows.append(
                (
                    sid,
                    model,
                    len(free),
                    sum(free.values()),
                    "" if p.get("utilisation") is None else round(100 * p["utilisation"], 1),
                    round(s.get("power_draw_kw", 0.0), 1),
                    "stale" if s.get("stale") else "fresh",
                    round(s.get("age_s", 0.0)),
                    "yes" if s.get("usable", True) else "NO",
                    s.get("cause") or "",
                )
            )
    out.print(
        table(
            f"state observed {data.get('observed_at')}",
            ("site", "model", "nodes", "free cards", "util %", "power kW", "data", "age s", "plan on it", "cause"),
            rows,
            right=_RIGHT,
        )
    )
    if data.get("links"):
        out.print(
            table(
                "measured links",
                ("from", "to", "RTT ms", "jitter µs", "samples"),
                ((lk["from"], lk["to"], lk["rtt_ms"], lk.get("jitter_us"), lk.get("samples")) for lk in data["links"]),
            )
        )
    for key in ("unmatched", "anomalies"):
        if data.get(key):
            out.print(table(key, ("what",), ((x,) for x in data[key])))


@state_app.command("show")
def state_show(
    file: Path = typer.Argument(..., help="State JSON."),
    topology: Path | None = TopologyOpt,
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
) -> None:
    """Per site: free cards by model, utilisation, power, staleness."""
    topo = load_topology(topology)
    state = load_state(file, topo)  # validates, with field paths
    data = json.loads(file.read_text(encoding="utf-8"))
    if "sites" in data:  # hand-written histograms: show what the loader understood
        for (sid, model), ps in state.pools.items():
            site = data["sites"].setdefault(sid, {})
            pool = site.setdefault("pools", {}).setdefault(model, {})
            pool["free_per_node"] = dict(ps.free_per_node)
    if fmt is Format.json:
        print_json(data)
        return
    _show(data, topo)
