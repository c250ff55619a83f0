"""``suanwang topology``: show, validate, route, reach, map."""

from __future__ import annotations

from pathlib import Path

import typer

from suanwang.collectors.carbon_feed import read_all
from suanwang.errors import InfeasibleError, InputError
from suanwang.scheduler.cli.errors import EXIT_INFEASIBLE, EXIT_INPUT, SuanwangGroup
from suanwang.scheduler.cli.flags import FilenameOpt, Output, OutputOpt, TopologyOpt, emit, one_file, read_input
from suanwang.scheduler.cli.output import console, table
from suanwang.scheduler.k8s.kueue import setup_objects
from suanwang.scheduler.plots import draw_map
from suanwang.timeutil import now_local
from suanwang.topology.graph import NetworkGraph, Route
from suanwang.topology.loader import load_topology
from suanwang.topology.model import Topology
from suanwang.topology.totals import province_totals, site_totals, totals_by

app = typer.Typer(cls=SuanwangGroup, no_args_is_help=True, help="Inspect and check a topology.")

_RIGHT = ("sites", "nodes", "cards", "PFLOPS", "kW at PUE", "cap kW", "PUE", "RTT ms")


def _load(path: Path | None) -> Topology:
    return load_topology(path)


@app.command()
def show(topology: Path | None = TopologyOpt, output: Output = OutputOpt) -> None:
    """Sites, totals by city, tier and accelerator, and the province totals."""
    topo = _load(topology)
    by = {k: totals_by(topo, k) for k in ("city", "tier", "accelerator")}
    total = province_totals(topo)
    emit(
        {
            "name": topo.name,
            "source": topo.source,
            "sites": [
                {
                    "id": s.id,
                    "city": s.city,
                    "tier": s.tier,
                    "pue": s.pue,
                    "power_cap_kw": s.power_cap_kw,
                    "green_share": s.green_share,
                    **site_totals(topo, s).to_dict(),
                }
                for s in topo.sites
            ],
            **{f"by_{k}": {name: t.to_dict() for name, t in v.items()} for k, v in by.items()},
            "province": total.to_dict(),
        },
        output,
        human=lambda wide: _print_show(topo, by, total),
        names=[f"site/{s.id}" for s in topo.sites],
    )


def _print_show(topo: Topology, by: dict, total) -> None:
    out = console()
    out.print(
        table(
            f"{topo.name}: sites",
            ("site", "city", "tier", "PUE", "cap kW", "nodes", "cards", "PFLOPS", "kW at PUE"),
            (
                (s.id, s.city, s.tier, s.pue, s.power_cap_kw, t.nodes, t.cards, t.pflops, t.facility_kw)
                for s in topo.sites
                for t in [site_totals(topo, s)]
            ),
            right=_RIGHT,
        )
    )
    for key, label in (("city", "city"), ("tier", "tier"), ("accelerator", "accelerator")):
        out.print(
            table(
                f"by {label}",
                (label, "sites", "cards", "PFLOPS", "kW at PUE"),
                ((name, t.sites, t.cards, t.pflops, t.facility_kw) for name, t in by[key].items()),
                right=_RIGHT,
            )
        )
    out.print(
        f"[bold]province[/bold]: {len(topo.cities)} cities, {total.sites} sites, {total.nodes:,} nodes, "
        f"{total.cards:,} cards, {total.pflops:,.1f} PFLOPS FP16, {total.facility_kw:,.0f} kW at PUE "
        f"(caps {total.power_cap_kw:,.0f} kW), {len(topo.links)} links"
    )


@app.command()
def validate(filename: list[Path] = FilenameOpt, output: Output = OutputOpt) -> None:
    """Check a topology file; list every fault with its field path (exit 3 if any)."""
    source, text = read_input(one_file(filename))
    file = source
    try:
        topo = load_topology(source, text)
    except InputError as e:
        if output in (Output.json, Output.yaml):
            emit({"file": str(file), "valid": False, "faults": [f.to_dict() for f in e.faults]}, output)
            raise typer.Exit(EXIT_INPUT) from e
        raise
    total = province_totals(topo)
    # carbon feeds are read when plans are made; say now what a plan would find
    feeds: dict[str, dict[str, str | None]] = {}
    for kind, r in read_all(topo, now_local()).not_used():
        feeds.setdefault(r.zone, {})[kind] = r.problem
    summary = {
        "file": str(file),
        "valid": True,
        "sites": total.sites,
        "links": len(topo.links),
        "cities": len(topo.cities),
        "pflops": round(total.pflops, 3),
        "feeds_not_used_now": feeds,
    }

    def human(wide: bool) -> None:
        out = console()
        out.print(
            f"{file}: valid — {len(topo.cities)} cities, {total.sites} sites, {len(topo.links)} links, "
            f"{total.pflops:,.1f} PFLOPS"
        )
        for z, kinds in feeds.items():
            for kind, why in kinds.items():
                out.print(f"[yellow]zone {z}'s carbon {kind} feed would not be used now[/yellow]: {why}")

    emit(summary, output, human=human, names=[f"topology/{topo.name}"])


def _print_route(r: Route, title: str, max_jitter_us: float | None) -> None:
    out = console()
    out.print(
        table(
            title,
            ("from", "to", "kind", "latency ms", "jitter µs", "Gbit/s"),
            (
                (
                    h.a,
                    h.b,
                    h.kind,
                    round(h.latency_ms, 4),
                    "—" if h.jitter_us is None else round(h.jitter_us, 2),
                    h.bandwidth_gbps,
                )
                for h in r.hops
            ),
        )
    )
    jitter = "unbounded (not deterministic)" if r.jitter_us is None else f"{r.jitter_us:.2f} µs"
    out.print(
        f"one-way {r.latency_ms:.3f} ms, RTT {r.rtt_ms:.3f} ms, jitter {jitter}, "
        f"bottleneck {r.bottleneck_gbps:g} Gbit/s"
    )
    if max_jitter_us is not None:
        verdict = "meets" if r.meets_jitter(max_jitter_us) else "does NOT meet"
        out.print(f"{verdict} the jitter bound of {max_jitter_us:g} µs")


@app.command()
def route(
    from_: str = typer.Option(..., "--from", help="Origin city (or site)."),
    to: str = typer.Option(..., "--to", help="Destination site (or city)."),
    deterministic: bool = typer.Option(False, "--deterministic", help="CENI links only, least summed jitter."),
    max_jitter_us: float | None = typer.Option(None, "--max-jitter-us", help="Check the path against this bound."),
    topology: Path | None = TopologyOpt,
    output: Output = OutputOpt,
) -> None:
    """Lowest-latency (or deterministic) path, with RTT, jitter and bottleneck bandwidth."""
    g = NetworkGraph(_load(topology))
    if deterministic:
        r = g.deterministic_path(from_, to)
        if r is None:
            raise InfeasibleError(
                f"no deterministic (CENI-only) path from {from_} to {to}",
                [
                    f"{to} or {from_} is not attached to the CENI subset; route without "
                    "--deterministic, or add CENI links in the topology"
                ],
            )
    else:
        r = g.path(from_, to)
    if output not in (Output.table, Output.wide):
        d = r.to_dict()
        if max_jitter_us is not None:
            d["max_jitter_us"] = max_jitter_us
            d["meets_jitter"] = r.meets_jitter(max_jitter_us)
        d["hops"] = [
            {
                "from": h.a,
                "to": h.b,
                "kind": h.kind,
                "latency_ms": h.latency_ms,
                "jitter_us": h.jitter_us,
                "bandwidth_gbps": h.bandwidth_gbps,
            }
            for h in r.hops
        ]
        emit(d, output, names=[f"route/{from_}-{to}"])
    else:
        kind = "deterministic" if deterministic else "lowest-latency"
        _print_route(r, f"{kind} path {from_} → {to}", max_jitter_us)
    if max_jitter_us is not None and not r.meets_jitter(max_jitter_us):
        raise typer.Exit(EXIT_INFEASIBLE)


@app.command()
def reach(
    from_: str = typer.Option(..., "--from", help="Origin city."),
    rtt_ms: float = typer.Option(..., "--rtt-ms", min=0.0, help="Round-trip budget in ms."),
    topology: Path | None = TopologyOpt,
    output: Output = OutputOpt,
) -> None:
    """Sites within an RTT budget of a city, nearest first."""
    topo = _load(topology)
    found = NetworkGraph(topo).reach(from_, rtt_ms)
    rows = []
    for sid, rtt in found:
        s = topo.site(sid)
        rows.append(
            {
                "site": sid,
                "city": s.city,
                "tier": s.tier,
                "rtt_ms": round(rtt, 4),
                "pflops": round(site_totals(topo, s).pflops, 3),
            }
        )
    emit(
        {"from": from_, "rtt_budget_ms": rtt_ms, "sites": rows},
        output,
        human=lambda wide: console().print(
            table(
                f"sites within {rtt_ms:g} ms RTT of {from_}: {len(rows)}",
                ("site", "city", "tier", "RTT ms", "PFLOPS"),
                ((r["site"], r["city"], r["tier"], r["rtt_ms"], r["pflops"]) for r in rows),
                right=_RIGHT,
            )
        ),
        names=[f"site/{r['site']}" for r in rows],
    )


@app.command("kueue-setup")
def kueue_setup(topology: Path | None = TopologyOpt, output: Output = OutputOpt) -> None:
    """Print the Kueue objects that pin each multikueue site's LocalQueue to its worker cluster
    (apply them once on the manager cluster: `suanwang topology kueue-setup -t T | kubectl apply -f -`)."""
    import sys

    import yaml

    docs = setup_objects(_load(topology))
    if not docs:
        raise InputError("no site has `kube: {backend: multikueue}`; nothing to set up")
    if output is Output.json:
        emit({"apiVersion": "v1", "kind": "List", "items": docs}, output)
    elif output is Output.name:
        emit(docs, output, names=[f"{d['kind'].lower()}/{d['metadata']['name']}" for d in docs])
    else:
        sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))


@app.command("map")
def map_(
    png: Path = typer.Option(..., "--png", help="PNG file to write."),
    topology: Path | None = TopologyOpt,
) -> None:
    """Draw the network: sites by tier and PFLOPS, links by kind, city names."""
    if png.suffix.lower() != ".png":
        raise InputError(f"{png}: the map is written as PNG; give a file name ending in .png")
    path = draw_map(NetworkGraph(_load(topology)), png)
    console().print(f"wrote {path}")
