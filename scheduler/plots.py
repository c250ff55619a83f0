"""Pictures people would rather look at than read: the network map and the what-if report's plots.

Drawing lives at the edge; the domain, the solvers and the simulator hand over plain data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suanwang.simulations.events import Outcome
from suanwang.simulations.report import PLOTS
from suanwang.topology.graph import NetworkGraph
from suanwang.topology.totals import site_totals

TIER_COLOURS = {"hub": "#c0392b", "city": "#2471a3", "edge": "#27ae60"}
LINK_STYLES = {  # kind -> (colour, line style, width)
    "ceni": ("#8e44ad", "-", 2.4),
    "otn": ("#7f8c8d", "-", 1.0),
    "internet": ("#e67e22", ":", 1.2),
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_map(graph: NetworkGraph, out: str | Path, title: str | None = None) -> Path:
    """Write the map to ``out`` (PNG) and return its path."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    topo = graph.topology
    fig, ax = plt.subplots(figsize=(9, 10), dpi=110)
    pos = {n: (d["lon"], d["lat"]) for n, d in graph.g.nodes(data=True)}
    # links: parallel links of different kinds are offset slightly so both show
    for u, v, d in graph.g.edges(data=True):
        if d["link_id"].startswith("metro:"):
            continue
        colour, style, width = LINK_STYLES[d["kind"]]
        off = {"ceni": 0.012, "otn": 0.0, "internet": -0.012}[d["kind"]]
        (x1, y1), (x2, y2) = pos[u], pos[v]
        ax.plot(
            [x1 + off, x2 + off],
            [y1 + off, y2 + off],
            color=colour,
            linestyle=style,
            linewidth=width,
            zorder=1,
            alpha=0.85,
        )
    # sites; those sharing a spot are fanned out so each stays visible
    drawn: dict[tuple[float, float], int] = {}
    for s in topo.sites:
        x, y = pos[f"site:{s.id}"]
        k = drawn.get((x, y), 0)
        drawn[(x, y)] = k + 1
        dx, dy = [(0, 0), (0.07, -0.06), (-0.07, -0.06), (0.07, 0.06)][k % 4]
        cx, cy = pos[f"city:{s.city}"]
        if (x + dx, y + dy) != (cx, cy):
            ax.plot([x + dx, cx], [y + dy, cy], color="#95a5a6", linewidth=0.8, zorder=1)
        pf = site_totals(topo, s).pflops
        ax.scatter(
            [x + dx],
            [y + dy],
            s=30 + pf * 0.6,
            color=TIER_COLOURS[s.tier],
            alpha=0.75,
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
        )
        ax.annotate(s.id, (x + dx, y + dy), fontsize=6, xytext=(4, -8), textcoords="offset points", zorder=4)
    for c in topo.cities.values():
        ax.annotate(
            c.name, (c.lon, c.lat), fontsize=9, fontweight="bold", xytext=(5, 5), textcoords="offset points", zorder=5
        )
        ax.plot([c.lon], [c.lat], marker="+", color="black", zorder=4)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=f"{t} site") for t, c in TIER_COLOURS.items()]
    handles += [
        Line2D([], [], color=c, linestyle=ls, linewidth=w, label=f"{k} link") for k, (c, ls, w) in LINK_STYLES.items()
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=8, title="marker area ∝ PFLOPS")
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title(title or f"{topo.name}: {len(topo.sites)} sites, {len(topo.links)} links")
    ax.set_aspect(1.0 / 0.85)  # ≈ 1/cos(32°) so distances look right at this latitude
    ax.grid(True, alpha=0.3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def draw_simulation(
    folder: Path, results: dict[str, dict[str, Any]], outcomes: dict[str, Outcome], topology=None
) -> list[Path]:
    """The what-if report's plots: utilisation per site, queue length, carbon per hour, comparison."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    names = list(results)

    fig, axes = plt.subplots(len(names), 1, figsize=(10, 3 * len(names)), dpi=100, squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        o = outcomes[name]
        top = sorted(o.series_util_site, key=lambda s: -max(o.series_util_site[s] or [0]))[:8]
        for sid in top:
            ax.plot(o.series_t, o.series_util_site[sid], label=sid, linewidth=1)
        ax.set_title(f"{name}: utilisation per site (busiest 8)")
        ax.set_ylim(0, 1.05)
        if top:
            ax.legend(fontsize=7, ncol=4)
        else:  # the perfect-foresight oracle is one plan over the whole run, not a sampled replay
            ax.text(0.5, 0.5, "not sampled: one plan over the whole run", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(folder / "utilisation.png")
    plt.close(fig)
    for fname, title, getter in (
        ("queue.png", "jobs waiting", lambda o: (o.series_t, o.series_queue)),
        (
            "carbon.png",
            "kg CO2 per hour",
            lambda o: (sorted(o.carbon_by_hour), [o.carbon_by_hour[h] for h in sorted(o.carbon_by_hour)]),
        ),
    ):
        fig, ax = plt.subplots(figsize=(10, 3.5), dpi=100)
        for name in names:
            x, y = getter(outcomes[name])
            ax.plot(x, y, label=name, linewidth=1.2)
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / fname)
        plt.close(fig)
    keys = ["wait_p95_min", "util_hub", "util_city", "energy_mwh", "carbon_t", "cost_cny", "rejected"]
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        vals = [
            (results[name][k] or 0.0) / max(1e-9, max(results[n][k] or 0.0 for n in names)) for k in keys
        ]  # n/a (nothing to measure) plots as 0
        ax.bar([j + i * width for j in range(len(keys))], vals, width, label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(keys))], keys, rotation=20, fontsize=8)
    ax.set_ylabel("relative to the largest")
    ax.set_title("scenario comparison")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "comparison.png")
    plt.close(fig)
    _draw_power(plt, folder / "power.png", outcomes, topology)
    return [folder / n for n in PLOTS]


def _draw_power(plt, out: Path, outcomes: dict[str, Outcome], topology) -> None:
    """Hourly power draw of each run against the tariff and the carbon intensity it was metered at."""
    fig, ax = plt.subplots(figsize=(11, 4), dpi=100)
    for name, o in outcomes.items():
        if o.hours:
            ax.step(o.hours, [kw / 1000 for kw in o.power_by_hour_kw], where="post", label=name, linewidth=1.2)
    ax.set_ylabel("mean draw (MW)")
    hours = next((o.hours for o in outcomes.values() if o.hours), [])
    if topology is not None and hours:
        zone = next(iter(topology.grid_zones.values()))
        busiest = max(topology.sites, key=lambda s: s.power_cap_kw, default=None)
        if busiest is not None:
            zone = topology.grid_zones[busiest.grid_zone]
        right = ax.twinx()
        right.step(hours, [zone.price_at(h) for h in hours], where="post", color="black", linestyle="--",
                   linewidth=1, label=f"tariff {zone.id} (CNY/kWh)")  # fmt: skip
        right.step(hours, [zone.carbon_at(h) for h in hours], where="post", color="green", linestyle=":",
                   linewidth=1, label=f"carbon {zone.id} (kg/kWh)")  # fmt: skip
        right.set_ylabel("CNY/kWh, kg CO2/kWh")
        right.legend(fontsize=7, loc="upper right")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("power draw by hour (UTC+8) against the tariff and carbon intensity")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
