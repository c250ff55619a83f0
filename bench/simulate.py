"""Simulation benchmark: the PAI trace (gaia-job-traces/pai-100k.csv) on the built-in Jiangsu
topology, placement every 5 simulated minutes, with the greedy policy and with CP-SAT.

    python bench/simulate.py                        # 30 days, greedy and cpsat
    python bench/simulate.py --days 365 --solvers greedy
    python bench/simulate.py --days 30 --growth 1,20   # also the trace ×20, where capacity binds
    python bench/simulate.py --days 7 --growth 100 --node-policies bestfit,fragmentation

Columns: ``plans`` placement calls (ticks with nothing new are skipped); ``no model`` calls where
every queued job got its best candidate, ``LP proof`` calls where a warm start met the LP bound,
``CP-SAT`` calls that ran the CP-SAT search (for the greedy policy all calls are greedy).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suanwang.simulations.engine import Simulation  # noqa: E402
from suanwang.simulations.events import Outcome, Policy  # noqa: E402
from suanwang.simulations.workload import grow, pai_trace  # noqa: E402
from suanwang.topology.loader import load_topology  # noqa: E402

TRACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "gaia-job-traces" / "pai-100k.csv"


def plan_kinds(o: Outcome) -> tuple[int, int, int]:
    """(no model, LP proof, CP-SAT search) counts of the placement calls."""
    quick = sum(n for s, n in o.plans.items() if "best candidate" in s)
    lp = sum(n for s, n in o.plans.items() if "LP bound" in s)
    cp = sum(o.plans.values()) - quick - lp
    return quick, lp, cp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--solvers", default="greedy,cpsat")
    ap.add_argument("--growth", default="1", help="demand factors to run, comma-separated")
    ap.add_argument("--interval-min", type=float, default=5.0)
    ap.add_argument("--trace", type=Path, default=TRACE)
    ap.add_argument("--node-policies", default="bestfit", help="bestfit and/or fragmentation, comma-separated")
    args = ap.parse_args()
    topo = load_topology()
    start = datetime(2026, 1, 1)
    hours = args.days * 24
    trace = pai_trace(args.trace, start, hours)
    rows = []
    for factor in (float(x) for x in args.growth.split(",")):
        arrivals = grow(trace, factor, seed=1)
        for solver, node_policy in ((s, n) for s in args.solvers.split(",") for n in args.node_policies.split(",")):
            last = [0.0]

            def progress(f: float, solver=solver, last=last, factor=factor) -> None:
                if f - last[0] >= 0.1:
                    last[0] = f
                    print(f"[{time.strftime('%H:%M:%S')}] ×{factor:g} {solver}: {f:.0%}", file=sys.stderr, flush=True)

            t = time.perf_counter()
            policy = Policy(solver, args.interval_min, time_limit_s=0.5, node_policy=node_policy)
            o = Simulation(topo, arrivals, start, hours, policy, progress=progress).run()
            wall = time.perf_counter() - t
            kinds = plan_kinds(o) if solver == "cpsat" else ("", "", "")
            rows.append(
                [
                    solver if node_policy == "bestfit" else f"{solver}, {node_policy}",
                    f"{factor:g}",
                    f"{args.days:g}",
                    f"{len(arrivals):,}",
                    f"{int(hours * 60 / args.interval_min):,}",
                    f"{o.events:,}",
                    f"{wall:.1f}",
                    f"{o.events / wall:,.0f}",
                    f"{o.solve_seconds:.1f}",
                    f"{sum(o.plans.values()):,}",
                    *(f"{k:,}" if k != "" else "" for k in kinds),
                    f"{o.placed:,}",
                    f"{o.rejected:,}",
                    f"{o.still_queued:,}",
                    f"{100 * o.completed / max(1, o.arrivals):.1f}",
                    f"{60 * sorted(o.waits_h)[int(0.95 * (len(o.waits_h) - 1))] if o.waits_h else 0:.1f}",
                ]
            )
    head = (
        "policy", "demand ×", "days", "arrivals", "ticks", "events", "wall s", "events/s", "solver s", "plans",
        "no model", "LP proof", "CP-SAT", "placed", "rejected", "queued", "completed %", "wait p95 min",
    )  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.")


if __name__ == "__main__":
    main()
