"""Placement benchmark: CP-SAT and the baselines against the LP relaxation bound.

Instances: synthetic jobs (sizes 1–512 cards, training/inference/batch, origins across the 13
cities, data locations, deadlines, deterministic inference) on generated topologies of 13, 50 and
200 sites whose capacity is scaled so that cards asked ÷ cards held ≈ ``--load``.

Prints one row per instance: classes and CP-SAT variables, build seconds (aggregate model, LP
warm start, baselines, CP-SAT model), CP-SAT solve seconds, wall seconds of the whole solver call
(``solvers.solve`` with CP-SAT, instance included; the LP bound is solved apart), objective ÷ LP
bound for CP-SAT and each baseline, and peak memory. Also writes a PNG.

    python bench/placement.py                       # 1k×13, 10k×50, 100k×200
    python bench/placement.py --grid                # every size on every topology
    python bench/placement.py --jobs 10000 --sites 50 --time-limit 0.5
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suanwang.simulations.synthetic import demand_scale, generate_jobs, generate_topology  # noqa: E402
from suanwang.solvers import solve  # noqa: E402
from suanwang.solvers.aggregate import relaxation  # noqa: E402
from suanwang.solvers.baselines import solve_baseline  # noqa: E402
from suanwang.solvers.checker import check_plan  # noqa: E402
from suanwang.solvers.instance import build_instance  # noqa: E402
from suanwang.solvers.lp_bound import solve_lp  # noqa: E402
from suanwang.solvers.problem import Problem  # noqa: E402
from suanwang.topology.loader import load_topology  # noqa: E402

NOW = datetime(2026, 11, 25, 9, 0)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_one(n_jobs: int, n_sites: int, time_limit: float, load: float, seed: int, check: bool) -> dict:
    base = load_topology()
    draft = generate_jobs(base, n_jobs, NOW, seed=seed)
    topo = generate_topology(base, n_sites, seed=seed, scale=demand_scale(draft, base, load))
    jobs = generate_jobs(topo, n_jobs, NOW, seed=seed)
    problem = Problem(topo, tuple(jobs), NOW, time_limit_s=time_limit)
    log(f"{n_jobs} jobs × {n_sites} sites: CP-SAT (time limit {time_limit:g} s)")
    t = time.perf_counter()
    plan = solve(problem, "cpsat", with_bound=False)  # the bound comes below, timed apart
    wall = time.perf_counter() - t
    log(f"  CP-SAT {plan.status} in {wall:.2f} s; LP bound and baselines")
    inst = build_instance(problem)
    agg = relaxation(inst)  # the true upper bound (rows valid for every node-level plan)
    lp = solve_lp(agg)
    row = {
        "sites": n_sites,
        "jobs": n_jobs,
        "classes": len(inst.classes),
        "vars": len(agg.ub),
        "build_s": plan.build_seconds,
        "solve_s": plan.solve_seconds,
        "wall_s": wall,
        "cpsat": plan.objective / lp.bound,
        "status": plan.status.split(" ")[0],
        "lp_s": lp.seconds,
    }
    for name in ("greedy", "bestfit", "karmada"):
        b = solve_baseline(problem, name, inst)
        row[name] = b.objective / lp.bound
        row[f"{name}_s"] = b.solve_seconds
    if check:
        row["violations"] = len(check_plan(problem, plan))
    row["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(
        f"  done: CP-SAT {row['cpsat']:.4f} of the bound, best baseline "
        f"{max(row['greedy'], row['bestfit'], row['karmada']):.4f}"
    )
    return row


def print_table(rows: list[dict]) -> None:
    cols = [
        ("sites", "{:>5}"),
        ("jobs", "{:>7}"),
        ("classes", "{:>7}"),
        ("vars", "{:>7}"),
        ("build_s", "{:>7.2f}"),
        ("solve_s", "{:>7.2f}"),
        ("wall_s", "{:>7.2f}"),
        ("status", "{:>9}"),
        ("cpsat", "{:>7.4f}"),
        ("greedy", "{:>7.4f}"),
        ("bestfit", "{:>7.4f}"),
        ("karmada", "{:>7.4f}"),
        ("lp_s", "{:>6.2f}"),
        ("rss_mb", "{:>7.0f}"),
    ]
    if any("violations" in r for r in rows):
        cols.append(("violations", "{:>4}"))
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "|".join("---:" for _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(f.format(r[c]).strip() for c, f in cols) + " |")
    print(
        "\nobjective ÷ LP bound (higher is better; the bound is the LP relaxation of the model with node rows "
        "valid for every node-level plan, so a true upper bound). "
        f"Machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
        f"{__import__('os').cpu_count()} cores."
    )


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    names = ["cpsat", "karmada", "greedy", "bestfit"]
    width = 0.2
    for k, name in enumerate(names):
        ax.bar([i + k * width for i in range(len(rows))], [r[name] for r in rows], width, label=name)
    ax.set_xticks([i + 1.5 * width for i in range(len(rows))], [f"{r['jobs']:,}×{r['sites']}" for r in rows])
    ax.set_ylim(min(0.8, min(r[n] for r in rows for n in names) - 0.02), 1.005)
    ax.set_ylabel("objective ÷ LP bound")
    ax.set_title("placed priority-weighted compute, relative to the LP bound")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, nargs="*", help="job counts (default: paired with --sites)")
    ap.add_argument("--sites", type=int, nargs="*", help="site counts")
    ap.add_argument("--grid", action="store_true", help="every job count on every topology")
    ap.add_argument("--time-limit", type=float, default=None, help="CP-SAT time limit (default: by size)")
    ap.add_argument("--load", type=float, default=1.3, help="cards asked ÷ cards held")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check", action="store_true", help="run the plan checker on CP-SAT's plan")
    ap.add_argument("--plot", type=Path, default=Path("bench/placement.png"))
    args = ap.parse_args()
    jobs = args.jobs or [1000, 10000, 100000]
    sites = args.sites or [13, 50, 200]
    pairs = [(j, s) for j in jobs for s in sites] if args.grid else list(zip(jobs, sites, strict=False))
    rows = []
    for j, s in pairs:
        limit = args.time_limit if args.time_limit is not None else (0.3 if j <= 10_000 else 2.0)
        rows.append(run_one(j, s, limit, args.load, args.seed, args.check))
    print_table(rows)
    plot(rows, args.plot)
    log(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
