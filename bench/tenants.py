"""Tenant-governance benchmark: quotas with a cohort, preemption and fair share under contention.

Eight tenants share the built-in Jiangsu network. Demand is the PAI trace (``shared/data``),
compressed in time until it exceeds capacity, its jobs given to the tenants unevenly (two heavy
tenants send half the work), one job in ten urgent (priority 9; the rest 1–3), and six in ten of
the others preemptible with an hourly checkpoint. Each tenant has a nominal quota of one eighth of
every accelerator model's cards, all in one cohort (unused quota is lent; borrowing is unlimited).

The same arrivals under three policies:
  - ``suanwang``: CP-SAT with the quotas as rows, preemption (preemptible work, then reclaiming
    borrowed quota) and fair share among equals;
  - ``kueue-like``: the quotas with cohort borrowing, first fit (classes by priority, then size),
    no preemption, no cross-site optimisation;
  - ``none``: CP-SAT with no governance.
Reported per policy: the share of planning ticks at which every tenant's nominal quota was
available to it when it had demand (no job within its tenant's unused nominal quota waited two
planning intervals while some site's nodes, free or held by work on borrowed quota, could have
held it: ``simulations/nominal.py``), with the number of ticks and of ticks with work waiting;
p95 wait of priority ≥ 8 jobs, preemptions and card-hours lost, Jain's index over tenants with
demand (mean, lowest), and placed priority-weighted PFLOPS.

    python bench/tenants.py [--hours 12] [--scale 0.005] [--interval 10] [--seeds 5,6]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suanwang.simulations.engine import Simulation  # noqa: E402
from suanwang.simulations.events import Policy  # noqa: E402
from suanwang.simulations.report import metrics  # noqa: E402
from suanwang.simulations.synthetic import TENANTS  # noqa: E402
from suanwang.simulations.workload import pai_trace  # noqa: E402
from suanwang.solvers.quota import Quota  # noqa: E402
from suanwang.topology.loader import load_topology  # noqa: E402

HERE = Path(__file__).resolve().parent
PAI = HERE.parents[1] / "shared" / "data" / "gaia-job-traces" / "pai-100k.csv"
START = datetime(2026, 11, 25, 0, 0)
SKEW = (4, 4, 1, 1, 1, 1, 1, 1)  # the first two tenants send half the work


def arrivals(hours: float, scale: float, seed: int = 5):
    rng = random.Random(seed)
    out = []
    for a in pai_trace(PAI, START, hours, None, scale):
        tenant = rng.choices(TENANTS, SKEW)[0]
        urgent = rng.random() < 0.1
        pre = not urgent and rng.random() < 0.6
        job = replace(a.job, tenant=tenant, priority=9 if urgent else 1 + rng.randrange(3), preemptible=pre,
                      checkpoint_h=1.0 if pre else None)  # fmt: skip
        out.append(replace(a, job=job))
    return out


def quotas(topo) -> tuple[Quota, ...]:
    cards: dict[str, int] = {}
    for s in topo.sites:
        for p in s.pools:
            cards[p.accelerator] = cards.get(p.accelerator, 0) + p.cards
    return tuple(Quota(t, m, n // len(TENANTS), cohort="province") for t in TENANTS for m, n in cards.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--scale", type=float, default=0.005, help="PAI time scale (smaller: more load)")
    ap.add_argument("--interval", type=float, default=10.0, help="minutes between plans")
    ap.add_argument("--seeds", default="5", help="comma-separated seeds of the tenant mix; each is one run")
    args = ap.parse_args()
    topo = load_topology(None)
    for seed in (int(s) for s in args.seeds.split(",")):
        run(topo, args, seed)


def run(topo, args, seed: int) -> None:
    arr = arrivals(args.hours, args.scale, seed)
    q = quotas(topo)
    weights = tuple((t, 1.0) for t in TENANTS)
    asked = sum(a.job.accelerators.count * a.job.duration_h for a in arr)
    held = sum(p.cards for s in topo.sites for p in s.pools) * args.hours
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"seed {seed}: {len(arr):,} jobs in {args.hours:g} h; card-hours asked ÷ held = {asked / held:.2f}\n")
    policies = {
        "suanwang": Policy("cpsat", args.interval, 1.0, quotas=q, preempt=True, tenant_weights=weights),
        "kueue-like": Policy("greedy", args.interval, 1.0, quotas=q, tenant_weights=weights),
        "none": Policy("cpsat", args.interval, 1.0, tenant_weights=weights),
    }
    rows, series = {}, {}
    for name, pol in policies.items():
        print(f"  … {name}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        out = Simulation(topo, arr, START, args.hours, pol, nominal_quotas=q).run()
        rows[name] = metrics(out, time.perf_counter() - t)
        rows[name]["ticks"] = out.nominal_ticks
        rows[name]["short"] = out.nominal_short_ticks
        rows[name]["waiting"] = sum(1 for n in out.series_queue if n)
        series[name] = out
    keys = [
        ("nominal_available", "nominal quota available when asked", "{:.2%}"),
        ("short", "… ticks short of it", "{:,.0f}"),
        ("waiting", "… ticks with work waiting", "{:,.0f}"),
        ("ticks", "… ticks", "{:,.0f}"),
        ("wait_high_p95_min", "wait p95, priority ≥ 8 (min)", "{:,.1f}"),
        ("wait_p95_min", "wait p95, all (min)", "{:,.1f}"),
        ("evicted", "preemptions", "{:,.0f}"),
        ("evicted_lost_card_h", "card-hours lost by preemption", "{:,.1f}"),
        ("jain_mean", "Jain's index, mean", "{:.3f}"),
        ("jain_min", "Jain's index, lowest", "{:.3f}"),
        ("placed_value_pflops", "placed priority-weighted PFLOPS", "{:,.0f}"),
        ("placed", "jobs placed", "{:,.0f}"),
        ("wall_s", "wall time (s)", "{:,.1f}"),
    ]
    print("| metric | " + " | ".join(rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for key, label, fmt in keys:
        cells = ["n/a" if rows[n].get(key) is None else fmt.format(rows[n][key]) for n in rows]
        print(f"| {label} | " + " | ".join(cells) + " |")
    png = HERE / f"tenants-seed{seed}.png"
    plot(series, png)
    print(f"\n(plot: {png.relative_to(HERE.parent)})\n")


def plot(series: dict, out: Path) -> None:
    """Jain's index over time per policy, ticks short of a nominal quota marked, and the queue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, low) = plt.subplots(2, 1, figsize=(9, 5.5), dpi=110, sharex=True, height_ratios=(3, 2))
    for k, (name, o) in enumerate(series.items()):
        hours = [(t - o.series_t[0]).total_seconds() / 3600 for t in o.series_t]
        line = top.plot(hours, o.series_jain, lw=1.2, label=name)[0]
        short = [h for h, s in zip(hours, o.series_nominal_short, strict=True) if s]
        top.plot(short, [0.05 + 0.04 * k] * len(short), "|", ms=10, color=line.get_color(),
                 label=f"{name}: short of a nominal quota ({len(short)} ticks)")  # fmt: skip
        low.plot(hours, o.series_queue, lw=1.0, color=line.get_color(), label=name)
    top.set_ylim(0, 1.02)
    top.set_ylabel("Jain's index")
    top.set_title("fairness over tenants with demand, and ticks short of a nominal quota")
    top.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    low.set_ylabel("jobs waiting")
    low.set_xlabel("hours")
    for ax in (top, low):
        ax.grid(alpha=0.3)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()
