"""Capacity-planning benchmark: the MILP against hand-made plans, and how it scales.

Two parts, each a table (and ``bench/capacity.png``):

- ``jiangsu``: the example ``examples/capacity-jiangsu-2025-2027.yaml`` (13 cities × 3 years ×
  4 accelerator models, 23 packs, 6 candidate sites, 3 link upgrades) solved by HiGHS and by CBC
  to a 1 % gap: time, gap, NPV; then the hand-made rules priced by the same model (proportional
  to demand by city, all at the hubs, and "add where the queue is longest" driven by the
  simulator) with the share of demand each serves and how much lower the MILP's NPV is; and the
  validation by simulation of the MILP's plan, year by year.
- ``scale``: synthetic problems (``simulations.capacity_synthetic``) up to 200 candidate sites ×
  5 years × 6 models, CBC and HiGHS side by side, stopping at a 1 % gap or the time limit
  (600 s at the largest size): variables, rows, time, the gap reached.

    python bench/capacity.py                   # both parts
    python bench/capacity.py --part scale      # one part
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suanwang.simulations.capacity_check import queue_greedy, validate  # noqa: E402
from suanwang.simulations.capacity_load import load_planning  # noqa: E402
from suanwang.simulations.capacity_synthetic import synthetic_planning  # noqa: E402
from suanwang.solvers.capacity import plan_capacity  # noqa: E402
from suanwang.solvers.capacity_baselines import baseline  # noqa: E402

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "capacity-jiangsu-2025-2027.yaml"
SIZES = ((13, 3, 4, 60.0), (50, 3, 4, 120.0), (200, 5, 6, 600.0))  # candidate sites, years, models, limit


def say(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


def _m(v) -> str:
    return "—" if v is None else f"{v / 1e6:,.1f}"


def jiangsu() -> dict:
    pl = load_planning(EXAMPLE)
    print("\n### Jiangsu 2025–2027 (the example)\n")
    print("| solver | status | time_s | gap | NPV ¥ M | 2027 PFLOPS | served |")
    print("|---|---|---:|---:|---:|---:|---:|")
    plans = {}
    for solver in ("highs", "cbc"):
        say(f"MILP, {solver}")
        p = plan_capacity(replace(pl.problem, solver=solver))
        plans[solver] = p
        print(
            f"| {solver} | {p.status} | {p.solve_seconds:.2f} | {p.gap:.2%} | {_m(p.npv_cny)} | "
            f"{p.province_pflops[2027]:,.0f} | {p.served_share:.1%} |"
        )
    best = min(plans.values(), key=lambda p: p.npv_cny)
    bound = max(p.bound_cny for p in plans.values() if p.bound_cny is not None)  # the tighter proven bound
    print(f"\nevery plan within the targets costs at least ¥{bound / 1e6:,.1f} M (proven lower bound)")
    print(
        "\n| plan | status | NPV ¥ M | served | the MILP's NPV is lower by | no plan's by more than | time_s | notes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|")
    head = f"| MILP ({best.solver}) | {best.status} | {_m(best.npv_cny)} | {best.served_share:.1%} | — | — "
    print(head + f"| {best.solve_seconds:.1f} | |")
    rules = {}
    for rule in ("proportional", "hubs", "queue"):
        say(f"baseline {rule}")
        t = time.perf_counter()
        b = queue_greedy(pl, say)[0] if rule == "queue" else baseline(pl.problem, rule)[0]
        rules[rule] = b
        ok = b.status in ("optimal", "feasible")
        saving = f"{1 - best.npv_cny / b.npv_cny:.1%} | {1 - bound / b.npv_cny:.1%}" if ok else "— | —"
        served = f"{b.served_share:.1%}" if ok else "—"
        notes = "; ".join(b.reasons)[:160]
        print(
            f"| {rule} | {b.status} | {_m(b.npv_cny)} | {served} | {saving} | {time.perf_counter() - t:.1f} | {notes} |"
        )
    say("validation by simulation")
    checks = validate(pl, best, say)
    print("\n| year | served promised | served measured | busy promised (PFLOPS) | busy measured (cards) ", end="")
    print("| wait p95 h | jobs | flag |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for c in checks:
        print(
            f"| {c.year} | {c.promised_served:.1%} | {c.measured_served:.1%} | {c.promised_busy:.1%} | "
            f"{c.measured_busy:.1%} | {c.wait_p95_h:.2f} | {c.jobs:,} | {c.why or 'ok'} |"
        )
    return {"plans": plans, "rules": rules}


def scale() -> list[dict]:
    print("\n### Scale (synthetic)\n")
    print("| candidate sites | years | models | packs | variables | rows | solver | status | time_s | gap | NPV ¥ M |")
    print("|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|")
    rows = []
    for sites, years, models, limit in SIZES:
        pl = synthetic_planning(sites, years, models)
        for solver in ("highs", "cbc"):
            say(f"{sites} sites × {years} years × {models} models, {solver} (limit {limit:g} s)")
            p = plan_capacity(replace(pl.problem, solver=solver, time_limit_s=limit), progress=say)
            gap = "—" if p.gap is None else f"{p.gap:.2%}"
            print(
                f"| {sites} | {years} | {models} | {len(pl.problem.packs):,} | {p.variables:,} | {p.rows:,} "
                f"| {solver} | {p.status} | {p.solve_seconds:.1f} | {gap} | {_m(p.npv_cny)} |"
            )
            rows.append({"sites": sites, "solver": solver, "time": p.solve_seconds, "gap": p.gap})
    return rows


def draw(result_j: dict | None, result_s: list[dict] | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    if result_j:
        names = ["MILP"] + list(result_j["rules"])
        best = min(result_j["plans"].values(), key=lambda p: p.npv_cny)
        vals = [best.npv_cny] + [b.npv_cny or 0.0 for b in result_j["rules"].values()]
        ax1.bar(names, [v / 1e6 for v in vals], color=["#2471a3"] + ["#95a5a6"] * len(result_j["rules"]))
        ax1.set_ylabel("NPV, ¥ million (0: no plan meets the targets)")
        ax1.set_title("Jiangsu 2025–2027: the MILP against hand-made plans")
    if result_s:
        for solver, marker in (("highs", "o"), ("cbc", "s")):
            pts = [r for r in result_s if r["solver"] == solver]
            ax2.plot([r["sites"] for r in pts], [r["time"] for r in pts], marker=marker, label=solver)
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("candidate sites")
        ax2.set_ylabel("seconds to a 1 % gap (or the limit)")
        ax2.legend()
        ax2.set_title("scale")
    fig.tight_layout()
    fig.savefig(HERE / "capacity.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("jiangsu", "scale", "all"), default="all")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    j = jiangsu() if args.part in ("jiangsu", "all") else None
    s = scale() if args.part in ("scale", "all") else None
    draw(j, s)


if __name__ == "__main__":
    main()
