"""The capacity report's pictures: additions on the map by year, the cost breakdown, utilisation
by year, and the marginal values of power and budget. Drawn from the plan's document
(:func:`suanwang.simulations.capacity_report.plan_document`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from suanwang.scheduler.plots import LINK_STYLES, TIER_COLOURS, _pyplot
from suanwang.simulations.capacity_report import PARTS
from suanwang.topology.model import Topology

CAPACITY_PLOTS = ("additions.png", "costs.png", "utilisation.png", "marginal.png")
_YEAR_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def draw_capacity(folder: Path, doc: dict[str, Any], topology: Topology, new_sites: dict[str, str]) -> list[Path]:
    """Write the four PNGs into ``folder``; ``new_sites`` maps candidate sites to their cities."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in CAPACITY_PLOTS]
    _additions(plt, paths[0], doc, topology, new_sites)
    _costs(plt, paths[1], doc)
    _utilisation(plt, paths[2], doc)
    _marginal(plt, paths[3], doc)
    return paths


def _additions(plt, out: Path, doc, topo: Topology, new_sites: dict[str, str]) -> None:
    fig, ax = plt.subplots(figsize=(9, 10), dpi=100)
    cities = topo.cities
    for link in topo.links:
        if link.a in cities and link.b in cities:
            colour, style, width = LINK_STYLES[link.kind]
            a, b = cities[link.a], cities[link.b]
            ax.plot([a.lon, b.lon], [a.lat, b.lat], color=colour, linestyle=style, linewidth=width * 0.6, alpha=0.5)
    city_of = {s.id: s.city for s in topo.sites} | new_sites
    start = defaultdict(float)
    for s in topo.sites:
        start[s.city] += sum(p.cards * topo.accelerators[p.accelerator].pflops for p in s.pools)
    for name, c in cities.items():
        ax.scatter([c.lon], [c.lat], s=20 + start[name] * 0.15, color="#bdc3c7", edgecolor="#7f8c8d", zorder=2)
        ax.annotate(name, (c.lon, c.lat), textcoords="offset points", xytext=(8, 8), fontsize=9)
    years = doc["years"]
    added: dict[tuple[str, int], float] = defaultdict(float)
    for a in doc["additions"]:
        added[city_of.get(a["site"], a["city"]), a["year"]] += a["pflops"]
    for j, y in enumerate(years):
        colour = _YEAR_COLOURS[j % len(_YEAR_COLOURS)]
        for (name, yy), pf in added.items():
            if yy == y:
                c = cities[name]
                dx = 0.09 * (j - (len(years) - 1) / 2)
                ax.scatter([c.lon + dx], [c.lat - 0.12], s=15 + pf * 0.6, color=colour, alpha=0.8, zorder=3)
        ax.scatter([], [], s=60, color=colour, label=f"added in {y}")
    for site, y in doc["openings"].items():
        c = cities[city_of[site]]
        ax.scatter([c.lon], [c.lat], s=160, facecolor="none", edgecolor=TIER_COLOURS["city"], linewidth=2, zorder=4)
        ax.annotate(f"opens {y}", (c.lon, c.lat), textcoords="offset points", xytext=(8, -14), fontsize=8)
    ax.scatter([], [], s=60, color="#bdc3c7", label="installed at the start (area ∝ PFLOPS)")
    ax.legend(loc="lower left", fontsize=9)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(f"{doc['name']}: PFLOPS added by year (area ∝ PFLOPS)")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _costs(plt, out: Path, doc) -> None:
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    years = [r["year"] for r in doc["by_year"]]
    bottom = [0.0] * len(years)
    for part in PARTS:
        vals = [r["npv_cny"][part] / 1e6 for r in doc["by_year"]]
        if any(vals):
            ax.bar([str(y) for y in years], vals, bottom=bottom, label=part)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_ylabel("NPV, ¥ million")
    ax.set_title(f"cost by year and part (NPV at {doc['discount_rate']:.0%})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _utilisation(plt, out: Path, doc) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5), dpi=100)
    years = [r["year"] for r in doc["by_year"]]
    labels = [str(y) for y in years]
    ax1.bar(labels, [r["installed_pflops"] or 0 for r in doc["by_year"]], color="#bdc3c7", label="installed")
    ax1.plot(labels, [r["demand_pflops"] for r in doc["by_year"]], "o-", label="demand (capacity PFLOPS)")
    ax1.plot(labels, [r["served_pflops"] for r in doc["by_year"]], "s--", label="served")
    targets = [r["target_pflops"] for r in doc["by_year"]]
    if any(t is not None for t in targets):
        ax1.plot(labels, [t if t is not None else float("nan") for t in targets], "k_", markersize=30, label="target")
    ax1.set_ylabel("PFLOPS")
    ax1.set_title("province")
    ax1.legend(fontsize=8)
    by_site: dict[str, dict[int, float]] = defaultdict(dict)
    for s in doc["sites"]:
        by_site[s["site"]][s["year"]] = s["utilisation"]
    for site, series in sorted(by_site.items()):
        ax2.plot(
            [str(y) for y in years if y in series], [series[y] for y in years if y in series], marker="o", label=site
        )
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("capacity given to demand ÷ installed")
    ax2.set_title("utilisation by site")
    ax2.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _marginal(plt, out: Path, doc) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5), dpi=100)
    mv = doc["marginal_values"]
    rows = mv["power_cny_per_kw"]
    if rows:
        ax1.barh([f"{r['site']} {r['year']}" for r in rows], [r["value"] for r in rows], color="#c0392b")
    else:
        ax1.text(0.5, 0.5, "no power cap binds", ha="center", va="center", transform=ax1.transAxes)
    ax1.set_xlabel("¥ of NPV saved by one more kW of power cap")
    ax1.set_title("power caps")
    budget = mv["budget_cny_per_cny"]
    ax2.bar(list(budget), list(budget.values()), color="#2471a3")
    ax2.set_ylabel("¥ of NPV saved by one more ¥ of budget")
    ax2.set_title("budgets")
    fig.suptitle("marginal values (LP relaxation duals)")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
