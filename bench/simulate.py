"""Simulation benchmark: the PAI trace (gaia-job-traces/pai-100k.csv) on the built-in Jiangsu
topology, placement every 5 simulated minutes, with the greedy policy and with CP-SAT.

    python bench/simulate.py                        # 30 days, greedy and cpsat
    python bench/simulate.py --days 365 --solvers greedy
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

from simulations.engine import Policy, Simulation  # noqa: E402
from simulations.workload import pai_trace  # noqa: E402
from topology.loader import load_topology  # noqa: E402

TRACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "gaia-job-traces" / "pai-100k.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--solvers", default="greedy,cpsat")
    ap.add_argument("--interval-min", type=float, default=5.0)
    ap.add_argument("--trace", type=Path, default=TRACE)
    args = ap.parse_args()
    topo = load_topology()
    start = datetime(2026, 1, 1)
    hours = args.days * 24
    arrivals = pai_trace(args.trace, start, hours)
    rows = []
    for solver in args.solvers.split(","):
        last = [0.0]

        def progress(f: float, solver=solver, last=last) -> None:
            if f - last[0] >= 0.1:
                last[0] = f
                print(f"[{time.strftime('%H:%M:%S')}] {solver}: {f:.0%}", file=sys.stderr, flush=True)

        t = time.perf_counter()
        o = Simulation(
            topo, arrivals, start, hours, Policy(solver, args.interval_min, time_limit_s=0.5), progress=progress
        ).run()
        wall = time.perf_counter() - t
        rows.append(
            (
                solver,
                len(arrivals),
                int(hours * 60 / args.interval_min),
                o.events,
                wall,
                o.events / wall,
                o.solve_seconds,
                o.placed,
                o.rejected,
                o.still_queued,
                100 * o.completed / max(1, o.arrivals),
            )
        )
    print(
        "| policy | days | arrivals | ticks | events | wall s | events/s | solver s | placed | rejected | queued "
        "| completed % |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r[0]} | {args.days:g} | {r[1]:,} | {r[2]:,} | {r[3]:,} | {r[4]:.1f} | {r[5]:,.0f} | {r[6]:.1f} | "
            f"{r[7]:,} | {r[8]:,} | {r[9]:,} | {r[10]:.1f} |"
        )
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.")


if __name__ == "__main__":
    main()
