"""``suanwang collect`` and ``suanwang state show``: live state from Prometheus, and a look at it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from suanwang.collectors.collect import collect as run_collect
from suanwang.collectors.config import CollectorConfig, Source, load_collector_config
from suanwang.collectors.statefile import load_state, snapshot_from_dict, snapshot_to_dict
from suanwang.errors import InputError, TemporaryError
from suanwang.scheduler.cli.errors import SuanwangGroup
from suanwang.scheduler.cli.flags import FilenameOpt, Output, OutputOpt, TopologyOpt, emit, one_file, read_input
from suanwang.scheduler.cli.output import console, table
from suanwang.topology.loader import load_topology
from suanwang.yamldoc import read_capped

state_app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Inspect state files.")
_RIGHT = ("free cards", "nodes", "util %", "power kW", "age s")


def collect(
    config: Path | None = typer.Option(None, "--config", "-c", help="Collector config YAML."),
    prometheus: str = typer.Option("http://127.0.0.1:9090", "--prometheus", help="Central Prometheus (no --config)."),
    previous: Path | None = typer.Option(
        None, "--previous", help="The last state (its values are kept for sites that fail)."
    ),
    topology: Path | None = TopologyOpt,
    output: Output = OutputOpt,
) -> None:
    """Read utilisation, free cards, power and link probes from Prometheus into a state
    (`-o json > state.json` saves it for `plan --state`)."""
    topo = load_topology(topology)
    cfg = load_collector_config(config, topo) if config else CollectorConfig(central=Source(prometheus))
    before = None
    prev_path = previous
    if prev_path is not None:
        try:
            before = snapshot_from_dict(json.loads(read_capped(prev_path, str(prev_path))))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(
                f"{prev_path}: not a state file written by `suanwang collect` ({e}); "
                "give another --previous or remove it"
            ) from e
    snap = run_collect(topo, cfg, before)
    data = snapshot_to_dict(snap)
    emit(data, output, human=lambda wide: _show(data, topo), names=[f"site/{sid}" for sid in data.get("sites", {})])
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
    filename: list[Path] = FilenameOpt,
    topology: Path | None = TopologyOpt,
    output: Output = OutputOpt,
) -> None:
    """Per site: free cards by model, utilisation, power, staleness."""
    topo = load_topology(topology)
    source, text = read_input(one_file(filename))
    if text is None:
        text = Path(source).read_text(encoding="utf-8")
    state = load_state(source, topo, text)  # validates, with field paths
    data = json.loads(text)
    if "sites" in data:  # hand-written histograms: show what the loader understood
        for (sid, model), ps in state.pools.items():
            site = data["sites"].setdefault(sid, {})
            pool = site.setdefault("pools", {}).setdefault(model, {})
            pool["free_per_node"] = dict(ps.free_per_node)
    emit(data, output, human=lambda wide: _show(data, topo), names=[f"site/{sid}" for sid in data.get("sites", {})])
