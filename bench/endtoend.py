"""End-to-end benchmark: ``suanwang plan`` as a user runs it, from a job file to the printed plan.

For each size the script writes a generated topology and the same jobs as YAML and as JSON (jobs
no site could ever host are left out, as the job file's checks would refuse them), then runs
``suanwang plan -f JOBS -t TOPOLOGY -o json`` in a fresh process and reads the plan it prints.

Columns: `read_s` reading and checking the job file in this process (`compose_s`: PyYAML's
libyaml-backed node composition of the same file, for reference; the reader does not use it);
`limit_s` CP-SAT's time limit (`--time-limit`); `wall_s` the whole command from process start to
exit, the median of ``--repeat`` runs (3, after one run not timed that writes the modules'
bytecode, as an installed package has it; `wall_range` the fastest and slowest), with that run's
`rss_mb` (the command's peak resident memory, its VmHWM), `ratio` and `placed`; `solver_s` the
solver call alone (instance, model, LP bound, warm starts, search, per-job assembly), timed in
this process on the same input; `ratio` the plan's objective ÷ its LP bound (with start times
planned: its score ÷ the time-indexed model's bound). `shift` says whether start times were
planned (the command's default 48-hour horizon) or every job starts as soon as it fits
(`--shift-horizon 0`).

    python bench/endtoend.py                           # 10k × 50 and 100k × 200
    python bench/endtoend.py --jobs 10000 --sites 50 --shift
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from suanwang.errors import InputError  # noqa: E402
from suanwang.scheduler.jobfile import jobs_to_dict, load_jobs  # noqa: E402
from suanwang.simulations.synthetic import demand_scale, generate_jobs, generate_topology  # noqa: E402
from suanwang.solvers import solve  # noqa: E402
from suanwang.solvers.problem import Problem, Shift  # noqa: E402
from suanwang.topology.loader import load_topology  # noqa: E402
from suanwang.topology.serialize import topology_to_yaml  # noqa: E402

NOW = datetime(2026, 11, 25, 9, 0)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_inputs(n_jobs: int, n_sites: int, folder: Path, seed: int) -> tuple[Path, dict[str, Path]]:
    """A topology file and the same hostable jobs as YAML and JSON."""
    base = load_topology()
    draft = generate_jobs(base, n_jobs, NOW, seed=seed)
    topo = generate_topology(base, n_sites, seed=seed, scale=demand_scale(draft, base, 1.3))
    doc = jobs_to_dict(generate_jobs(topo, n_jobs, NOW, seed=seed), NOW)
    topo_file = folder / f"topology-{n_sites}.yaml"
    topo_file.write_text(topology_to_yaml(topo))
    probe = folder / "probe.json"
    probe.write_text(json.dumps(doc))
    try:
        load_jobs(probe, topo)
    except InputError as e:  # a few generated jobs ask for what no site offers: leave them out
        bad = {int(m.group(1)) for f in e.faults if (m := re.match(r"jobs\[(\d+)\]", f.path))}
        doc["jobs"] = [j for i, j in enumerate(doc["jobs"]) if i not in bad]
    probe.unlink()
    files = {"yaml": folder / f"jobs-{n_jobs}.yaml", "json": folder / f"jobs-{n_jobs}.json"}
    files["yaml"].write_text(yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
    files["json"].write_text(json.dumps(doc, indent=1))
    return topo_file, files


def in_process(path: Path, topo_file: Path, time_limit: float, shift: bool) -> dict:
    """Reading the job file, PyYAML's composition of it (reference), and the solver call alone."""
    topo = load_topology(topo_file)
    t = time.perf_counter()
    jobs, _ = load_jobs(path, topo)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    yaml.compose(path.read_text(), Loader=_LOADER)
    compose_s = time.perf_counter() - t
    problem = Problem(topo, tuple(jobs), NOW, time_limit_s=time_limit, shift=Shift() if shift else None)
    t = time.perf_counter()
    solve(problem)
    return {"read_s": read_s, "compose_s": compose_s, "solver_s": time.perf_counter() - t}


# The command's own peak memory: VmHWM of its address space, written at exit (a child's ru_maxrss
# would also count the pages of this process that it held between fork and exec).
_PEAK = """
import atexit, os, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(os.environ["PEAK_FILE"], "w").write(line.split()[1])
atexit.register(peak)
sys.argv = ["suanwang", *sys.argv[1:]]
from suanwang.scheduler.cli import main
main()
"""


def _env(peak_file: str) -> dict[str, str]:
    """The command's environment: as an installed package runs, with its modules' bytecode cached
    (in a folder of this run; the first run of each row, not timed, writes it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        "PEAK_FILE": peak_file,
        "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "suanwang-bench-pyc"),
    }


def run_plan(jobs: Path, topo_file: Path, time_limit: float, shift: bool) -> dict:
    cmd = [sys.executable, "-c", _PEAK, "plan", "-f", str(jobs), "-t", str(topo_file)]
    cmd += ["--time-limit", str(time_limit), "-o", "json"] + ([] if shift else ["--shift-horizon", "0"])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as peak:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=_env(peak.name))
        proc.wait()
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.read().decode()[-2000:]}")
        out.seek(0)
        plan = json.loads(out.read())
        rss_mb = int(Path(peak.name).read_text() or 0) / 1024
    if plan.get("bound"):
        ratio = plan["objective"] / plan["bound"]
    else:  # start times planned: the time-indexed model's score against its own bound
        ratio = plan["score"] / plan["score_bound"] if plan.get("score_bound") else float("nan")
    return {
        "wall_s": wall,
        "rss_mb": rss_mb,
        "ratio": ratio,
        "placed": plan["summary"]["placed"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--sites", type=int, nargs="*", default=[50, 200])
    ap.add_argument("--shift", action="store_true", help="also run with start-time planning (the default horizon)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the command per row (the median is shown)")
    ap.add_argument(
        "--time-limits",
        type=float,
        nargs="*",
        help="CP-SAT time limits, s (default: 0.3 and 0.1 up to 10k jobs, else 2)",
    )
    ap.add_argument("--formats", nargs="*", default=["yaml", "json"], choices=["yaml", "json"])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_jobs, n_sites in zip(args.jobs, args.sites, strict=True):
            log(f"{n_jobs} jobs × {n_sites} sites: writing the files")
            topo_file, files = write_inputs(n_jobs, n_sites, Path(tmp), args.seed)
            limits = args.time_limits or ([0.3, 0.1] if n_jobs <= 10_000 else [2.0])
            for fmt, path, limit in ((f, files[f], t) for f in args.formats for t in limits):
                for shift in (False, True) if args.shift else (False,):
                    log(
                        f"  suanwang plan -f {path.name} ({path.stat().st_size / 1e6:.1f} MB), {limit} s, shift {shift}"
                    )
                    run_plan(path, topo_file, limit, shift)  # warm-up: bytecode and page cache
                    runs = sorted((run_plan(path, topo_file, limit, shift) for _ in range(args.repeat)),
                                  key=lambda x: x["wall_s"])  # fmt: skip
                    r = runs[len(runs) // 2]  # the median run
                    r["wall_range"] = f"{runs[0]['wall_s']:.2f}–{runs[-1]['wall_s']:.2f}"
                    r.update(in_process(path, topo_file, limit, shift))
                    rows.append({"sites": n_sites, "jobs": n_jobs, "format": fmt, "mb": path.stat().st_size / 1e6,
                                 "limit_s": limit, "shift": "yes" if shift else "no", **r})  # fmt: skip
                    log(f"    {r['wall_s']:.2f} s, {r['rss_mb']:.0f} MB, {r['ratio']:.4f} of the bound")
    cols = [("sites", "{}"), ("jobs", "{}"), ("format", "{}"), ("mb", "{:.1f}"), ("limit_s", "{:g}"), ("shift", "{}"),
            ("read_s", "{:.2f}"), ("compose_s", "{:.2f}"), ("wall_s", "{:.2f}"), ("wall_range", "{}"),
            ("solver_s", "{:.2f}"), ("rss_mb", "{:.0f}"), ("ratio", "{:.4f}"), ("placed", "{}")]  # fmt: skip
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "|".join("---:" for _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(f.format(r[c]) for c, f in cols) + " |")
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; {datetime.now().date().isoformat()}."
    )


if __name__ == "__main__":
    main()
