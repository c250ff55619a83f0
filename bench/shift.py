"""Time-shifting benchmark: when to run, against TOU prices, hourly carbon and grid events.

Four parts, each a table (and ``bench/shift.png``):

- ``tou``: the PAI trace on the built-in Jiangsu topology from a July day, demand scaled until the
  hubs are ≥ 60 % busy while jobs arrive, half the training jobs deferrable (``--share``) with 12
  hours of slack (``--slack``); run-now, shifted (48 h horizon, 1 h slots, a plan every 15
  minutes: ``--interval``) and the perfect-foresight oracle side by side: energy cost of the
  deferrable jobs, its saving against run-now and as a share of the oracle's, mean and p95 delay,
  deadline misses. ``--wait-cost`` prices each hour a start is put off
  (``Weights.wait_cny_per_h``; default ¥0.01), ``--hold-share`` how much cheaper a later slot
  must be for a deferrable job to wait for it rather than start now (``Shift.hold_share``).
  Below the table, the most any start times could save on the shifted replay's own placements
  (``simulations.shift_bound``: an LP bound, every arrival known), and the share of it reached.
- ``carbon``: the same kind of run with the Jiangsu zone given each Electricity Maps zone's real
  2023 hourly series (``shared/data/sustaincluster-em-2023``) and a carbon price meant to dominate
  the tariff (``--carbon-price``, ¥100/kg, the most a scenario takes: the hubs run on 80 % green
  power, so their market-based intensity swings five times less than the zone's; in a zone whose
  series hardly swings, SG, the tariff still leads); the carbon saving of the shifted plan (its carbon outlook
  from ``--forecast``, the weekly profile unless told) as a share of the oracle's (actual series,
  every arrival known), and the forecast's measured error. ``--carbon-tariff flat`` replaces the
  zone's tariff by its daily mean, so that carbon alone tells one hour from another;
  ``--carbon-archive`` gives each zone an archive of issued forecasts (a vendor's, say) that the
  plans take as of their time.
- ``speed``: the time-indexed model on synthetic instances (``simulations.synthetic``) with half
  the training and batch jobs deferrable, 48 one-hour slots: build and wall seconds, the score
  against the model's bound (column generation, ``solvers.shift``), and the checker's verdict;
  the 10,000-job instance with the default ``Shift.hold_share`` and without it, at the load of
  ``bench/placement.py`` (cards asked ÷ cards held, 1.3), and with the default at each load of
  ``--speed-loads``.
- ``dr``: a 30 % cap cut on the Nanjing hub for four hours, announced at its start, in a shifted
  run: met within one cycle or not, what was shed, and what it cost in delay against the same
  run without the event.

    python bench/shift.py                 # every part
    python bench/shift.py --part speed    # one part
    python bench/shift.py --part tou --scale 0.0235 --slack 24 --wait-cost 0.1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suanwang.simulations.engine import Simulation  # noqa: E402
from suanwang.simulations.events import GridEvent  # noqa: E402
from suanwang.simulations.runner import run_scenario, shift_variants  # noqa: E402
from suanwang.simulations.scenario import Scenario, load_scenario  # noqa: E402
from suanwang.solvers.forecast import forecast_error  # noqa: E402
from suanwang.solvers.problem import Shift  # noqa: E402
from suanwang.topology.forecasts import read_archive  # noqa: E402
from suanwang.topology.series import carbon_year  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
EM = DATA / "sustaincluster-em-2023" / "carbon_intensity"
ZONES = ("AU-NSW", "AU-VIC", "BR-SP", "CA-ON", "DE-LU", "GB", "SG", "US-CAL-CISO", "US-MIDA-PJM", "US-NY-NYIS")
SCENARIO = """
name: {name}
start: {start}
hours: {hours}
drain_h: 48
seed: 5
demand:
  pai: {{path: {pai}, time_scale: {scale}}}
  growth: {growth}
  deferrable: {{share: {share}, slack_h: {slack}, checkpoint_h: 1}}
policy: {{solver: cpsat, interval_min: {interval}, shift: true, horizon_h: 48, slot_min: 60, time_limit_s: {limit},
         carbon_price_cny_per_t: {carbon}, forecast: {forecast}, wait_cny_per_h: {wait},
         hold_share: {hold}}}
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def scenario(tmp: Path, args, name: str, start: str, hours: float, growth: float, carbon: float, limit: float):
    """A scenario of the PAI trace at time scale ``args.scale``, with the outlook, slack, price on
    waiting and plan interval ``args`` asks for."""
    f = tmp / f"{name}.yaml"
    pai = DATA / "gaia-job-traces" / "pai-100k.csv"
    f.write_text(SCENARIO.format(name=name, start=start, hours=hours, pai=pai, scale=args.scale, growth=growth,
                                 carbon=carbon, limit=limit, forecast=args.forecast, slack=args.slack,
                                 wait=args.wait_cost, interval=args.interval, share=args.share,
                                 hold="null" if args.hold_share < 0 else args.hold_share))  # fmt: skip
    return load_scenario(f)


def busy_while_arriving(out, sc: Scenario, tier: str = "hub") -> float:
    """The tier's busy share averaged over the time jobs arrive (every start and end counted)."""
    end = sc.start + timedelta(hours=sc.hours)
    pairs = zip(out.series_t, out.series_util_mean_tier.get(tier, []), strict=False)
    vals = [u for t, u in pairs if sc.start < t <= end]  # each covers the tick interval ending at t
    return statistics.fmean(vals) if vals else 0.0


def three(sc: Scenario) -> dict[str, tuple[dict, object]]:
    out = {}
    for v in shift_variants(sc):
        label = v.name.rsplit("/", 1)[1]
        t = time.perf_counter()
        out[label] = run_scenario(v)
        log(f"  {v.name}: {time.perf_counter() - t:.0f} s")
    return out


def md(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


# -- parts ------------------------------------------------------------------------------------
def part_tou(tmp: Path, args) -> tuple[str, dict]:
    log("tou: PAI on Jiangsu, July, run-now / shifted / oracle")
    sc = scenario(tmp, args, "tou", "2026-07-15T00:00:00+08:00", args.hours, args.growth, 100, 2)
    res = three(sc)
    now_m, sh_m, or_m = (res[k][0] for k in ("run-now", "shifted", "oracle"))
    busy = busy_while_arriving(res["run-now"][1], sc)
    base = now_m["deferrable_cost_cny"]
    rows = []
    for k, (m, _) in res.items():
        saving = (base - m["deferrable_cost_cny"]) / base if base else 0.0
        rows.append([k, f"{m['deferrable_arrivals']:,}", f"{m['deferrable_cost_cny']:,.0f}", f"{saving:.1%}",
                     f"{m['deferrable_delay_mean_h'] or 0:.2f}", f"{m['deferrable_delay_p95_h'] or 0:.2f}",
                     f"{m['deadline_misses']}", f"{m['cost_cny']:,.0f}", f"{m['still_queued']}"])  # fmt: skip
    oracle_saving = base - or_m["deferrable_cost_cny"]
    if oracle_saving > 0:
        versus = f"{(base - sh_m['deferrable_cost_cny']) / oracle_saving:.1%}"
    else:  # its objective places priority × PFLOPS first: at full hubs it may save nothing on these jobs
        versus = f"not defined (the oracle costs ¥{-oracle_saving:,.0f} more than run-now on these jobs)"
    least = sh_m["deferrable_cost_bound_cny"]
    most = (base - least) / base if least is not None and base else float("nan")
    text = (
        f"{sc.hours:g} h of arrivals from the PAI trace (time scale {args.scale}, growth ×{args.growth}, "
        f"{now_m['arrivals']:,} jobs), hubs {busy:.1%} busy while jobs arrive (run-now)\n\n"
        + md(
            [
                "policy",
                "deferrable jobs",
                "their energy cost ¥",
                "saving vs run-now",
                "mean delay h",
                "p95 delay h",
                "deadline misses",
                "all energy ¥",
                "left queued",
            ],
            rows,
        )  # fmt: skip
        + f"\n\nshifted saving ÷ oracle saving: {versus}\n"
        + f"\nno start times on the shifted replay's placements cost less than ¥{least or float('nan'):,.0f} "
        + f"(simulations.shift_bound): a saving of at most {most:.1%}; the shifted plan reaches "
        + f"{((base - sh_m['deferrable_cost_cny']) / base) / most if most > 0 else float('nan'):.1%} of it\n"
    )
    return text, {"busy": busy, "res": res, "sc": sc, "most": most}


def part_carbon(tmp: Path, args) -> tuple[str, dict]:
    rows, shares = [], {}
    for zone in args.zones.split(","):
        log(f"carbon: {zone}")
        sc = scenario(tmp, args, f"co2-{zone}", "2026-07-15T00:00:00+08:00", args.carbon_hours,
                      args.carbon_growth, args.carbon_price * 1000, 1)  # fmt: skip
        series = carbon_year(EM / f"{zone}_2023_hourly.csv")  # the LCA column, in kg
        archive = read_archive(args.carbon_archive.format(zone=zone)) if args.carbon_archive else None
        zones = {zid: flat(replace(z, carbon_year_kg_per_kwh=series, carbon_forecasts=archive), args.carbon_tariff,
                           sc.start) for zid, z in sc.topology.grid_zones.items()}  # fmt: skip
        sc = replace(sc, topology=replace(sc.topology, grid_zones=zones))
        res = three(sc)
        base = res["run-now"][0]["deferrable_carbon_t"]
        sv, so = base - res["shifted"][0]["deferrable_carbon_t"], base - res["oracle"][0]["deferrable_carbon_t"]
        share = sv / so if so > 1e-9 else float("nan")
        shares[zone] = share
        err = forecast_error(zones["jiangsu"], sc.start, max(1, int(sc.hours // 24)), args.forecast)
        rows.append([zone, f"{base:,.2f}", f"{sv / base:.1%}" if base else "n/a", f"{so / base:.1%}" if base else "n/a",
                     f"{share:.1%}", f"{res['shifted'][0]['deferrable_delay_mean_h'] or 0:.2f}",
                     f"{res['oracle'][0]['deferrable_delay_mean_h'] or 0:.2f}", f"{err:.1%}",
                     f"{res['shifted'][0]['deadline_misses']}"])  # fmt: skip
    text = md(["zone", "run-now t CO₂ (deferrable)", "shifted saving", "oracle saving", "shifted ÷ oracle",
               "shifted delay h", "oracle delay h", "forecast MAPE", "misses"], rows)  # fmt: skip
    return text + "\n", {"shares": shares}


def flat(zone, how: str, start: datetime):
    """The zone as it is (``tou``), or with its tariff replaced by its mean over the day of ``start``
    (``flat``: carbon alone then tells one hour from another)."""
    if how == "tou":
        return zone
    day = [zone.price_at(start + timedelta(hours=h)) for h in range(24)]
    return replace(zone, price_year_cny_per_kwh=(statistics.fmean(day),) * 8760)


def part_speed(tmp: Path, args) -> tuple[str, dict]:
    import random

    from suanwang.simulations.synthetic import demand_scale, generate_jobs, generate_topology
    from suanwang.solvers import solve
    from suanwang.solvers.checker import check_plan
    from suanwang.solvers.problem import Problem
    from suanwang.topology.loader import load_topology

    now = datetime(2026, 7, 15, 10, 0)
    rows, out = [], {}
    default = Shift().hold_share
    made: dict[tuple[int, int, float], tuple] = {}  # one instance per size and load, with and without the rule
    loads = [float(x) for x in args.speed_loads.split(",") if x.strip()]
    big = args.speed_limit
    runs = [(1000, 13, 2.0, default, 1.3), (10_000, 50, big, default, 1.3), (10_000, 50, big, None, 1.3)]
    runs += [(10_000, 50, big, default, x) for x in loads]
    for n, sites, limit, hold, load in runs:
        log(f"speed: {n} jobs × {sites} sites × 48 slots, load {load:g}, hold share {hold}")
        if (n, sites, load) not in made:
            base = load_topology()
            draft = generate_jobs(base, n, now, seed=7)
            topo = generate_topology(base, sites, seed=7, scale=demand_scale(draft, base, load))
            rng = random.Random(3)
            jobs = []
            for j in generate_jobs(topo, n, now, seed=7):
                if j.kind != "inference" and j.deadline is None and rng.random() < 0.5:
                    j = replace(
                        j, earliest=now, deadline=now + timedelta(hours=j.duration_h + rng.choice([12, 18, 24]))
                    )
                jobs.append(j)
            made[(n, sites, load)] = (topo, jobs)
        topo, jobs = made[(n, sites, load)]
        p = Problem(topo, tuple(jobs), now, time_limit_s=limit, shift=Shift(48, 60, hold_share=hold))
        t = time.perf_counter()
        plan = solve(p)  # as `suanwang plan` and the service call it
        wall = time.perf_counter() - t
        bad = len(check_plan(p, plan))
        ratio = plan.score / plan.score_bound if plan.score_bound else float("nan")
        out[(n, sites, hold, load)] = (wall, ratio)
        rows.append([f"{sites}", f"{n:,}", "48", f"{load:g}", f"{limit:g}", "none" if hold is None else f"{hold:g}",
                     f"{wall:.1f}", plan.status.split(" ")[0], f"{ratio:.4f}",
                     f"{sum(1 for x in plan.placements if x.scheduled):,}", f"{len(plan.unplaced):,}",
                     f"{bad}"])  # fmt: skip
    return md(["sites", "jobs", "slots", "load", "time limit s", "hold share", "wall s", "status", "score ÷ bound",
               "scheduled", "unplaced", "violations"], rows) + "\n", out  # fmt: skip


def part_dr(tmp: Path, args) -> tuple[str, dict]:
    log(f"dr: 30 % cap cut on nj-hub for 4 h, announced {args.notice:g} h ahead")
    sc = scenario(tmp, args, "dr", "2026-07-15T00:00:00+08:00", 24, args.growth, 100, 1)
    at = sc.start + timedelta(hours=14)
    ev = GridEvent(
        "nj-cut", ("nj-hub",), at - timedelta(hours=args.notice), at, at + timedelta(hours=4), reduce_ratio=0.3
    )

    def run(events):
        return Simulation(sc.topology, list(sc.arrivals), sc.start, sc.hours, sc.policy, grid_events=events,
                          drain_h=sc.drain_h).run()  # fmt: skip

    without, with_ev = run([]), run([ev])
    row = with_ev.grid[0]
    wait = [statistics.fmean(o.waits_h) for o in (without, with_ev)]
    delay = [statistics.fmean(o.deferrable_delay_h or [0.0]) for o in (without, with_ev)]
    rows = [[
        f"{row['draw_at_announce_kw']:,.0f}", f"{row['cap_kw']:,.0f}", f"{row['draw_at_start_kw']:,.0f}",
        f"{row['shed_kw']:,.0f}", str(row["suspended"]),
        "yes" if row["met"] else f"no ({row['shortfall_kw']:,.0f} kW short)",
        f"{row['max_over_kw']:,.1f}", f"{60 * (wait[1] - wait[0]):+.1f}", f"{delay[1] - delay[0]:+.2f}",
        f"{with_ev.deadline_misses - without.deadline_misses:+d}",
    ]]  # fmt: skip
    head = ["draw when announced kW", "cap kW", "draw at start kW", "shed kW", "suspended", "met at start",
            "most above cap later kW", "mean wait Δ min", "mean deferrable delay Δ h", "misses Δ"]  # fmt: skip
    text = md(head, rows) + ("" if row["met"] else f"\n\nwhy unmet: {row['why']}")
    return text + "\n", {"met": row["met"], "over": row["max_over_kw"]}


def plot(tou: dict | None, carbon: dict | None, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(15, 4.5), dpi=100)
    if tou:
        ax = axes[0]
        zone = tou["sc"].topology.grid_zones["jiangsu"]
        for k, (_, o) in tou["res"].items():
            ax.step(o.hours, [kw / 1000 for kw in o.power_by_hour_kw], where="post", label=k, linewidth=1.1)
        hours = tou["res"]["run-now"][1].hours
        right = ax.twinx()
        right.step(hours, [zone.price_at(h) for h in hours], where="post", color="black", linestyle="--",
                   linewidth=0.8, label="tariff CNY/kWh")  # fmt: skip
        ax.set_ylabel("MW")
        right.set_ylabel("CNY/kWh")
        ax.legend(fontsize=7, loc="upper left")
        ax.set_title("PAI on Jiangsu in July: draw by hour against the tariff")
    if carbon:
        ax = axes[1]
        names = list(carbon["shares"])
        ax.bar(names, [carbon["shares"][z] for z in names])
        ax.axhline(0.9, color="red", linestyle="--", linewidth=1, label="goal 90 %")
        ax.set_ylabel("shifted carbon saving ÷ oracle's")
        ax.tick_params(axis="x", rotation=35, labelsize=8)
        ax.legend(fontsize=8)
        ax.set_title("carbon saving by Electricity Maps zone")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("all", "tou", "carbon", "speed", "dr"), default="all")
    ap.add_argument("--hours", type=float, default=48.0, help="hours of arrivals in the tou part")
    ap.add_argument("--scale", type=float, default=0.02, help="PAI time scale (smaller: more load)")
    ap.add_argument("--growth", type=float, default=1.0)
    ap.add_argument("--carbon-hours", type=float, default=72.0)
    ap.add_argument("--carbon-growth", type=float, default=0.5)
    ap.add_argument("--carbon-price", type=float, default=100.0, help="¥ per kg CO₂ in the carbon part")
    ap.add_argument("--carbon-tariff", choices=("tou", "flat"), default="tou",
                    help="the carbon part's tariff: the zone's own, or flat at its daily mean")  # fmt: skip
    ap.add_argument("--carbon-archive", default="",
                    help="the carbon part's archive of issued forecasts per zone, e.g. 'archives/{zone}.csv' "
                    "(topology/forecasts.py): plans take the latest issue before them")  # fmt: skip
    ap.add_argument("--forecast", default="weekly", help="carbon outlook: weekly, anchored or persistence")
    ap.add_argument(
        "--zones", default=",".join(ZONES), help="comma-separated Electricity Maps zones of the carbon part"
    )
    ap.add_argument("--slack", type=float, default=12.0, help="hours of slack of the deferrable jobs (tou, carbon, dr)")
    ap.add_argument("--share", type=float, default=0.5, help="share of training jobs that are deferrable")
    ap.add_argument("--wait-cost", type=float, default=0.01, help="¥ each hour a start is put off costs")
    ap.add_argument("--hold-share", type=float, default=Shift().hold_share,
                    help="a deferrable job waits for a later slot saving more than this share of starting now "
                    "(Shift.hold_share; negative: never waits while there is room)")  # fmt: skip
    ap.add_argument("--interval", type=float, default=15.0, help="minutes between plans (tou, carbon, dr)")
    ap.add_argument("--speed-limit", type=float, default=9.0, help="time limit at 10k × 50")
    ap.add_argument("--speed-loads", default="0.6,0.8,1.0,1.1,1.2",
                    help="comma-separated loads (cards asked ÷ cards held) of more 10k × 50 rows")  # fmt: skip
    ap.add_argument("--notice", type=float, default=0.0, help="hours a grid event is announced before it starts")
    args = ap.parse_args()
    import tempfile

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("tou", part_tou), ("carbon", part_carbon), ("speed", part_speed), ("dr", part_dr)):
            if args.part in ("all", name):
                text, results[name] = fn(Path(tmp), args)
                print(f"\n## {name}\n\n{text}", flush=True)
    if "tou" in results or "carbon" in results:
        plot(results.get("tou"), results.get("carbon"), HERE / "shift.png")


if __name__ == "__main__":
    main()
