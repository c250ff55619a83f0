"""API benchmark: job submission throughput and latency over HTTP, single and batched, on SQLite
and on PostgreSQL. The server runs as its own process (``suanwang serve --no-loop``); this process
drives it with concurrent clients.

    python bench/api.py                    # both databases
    python bench/api.py --loop --db sqlite --rate 1000 --seconds 60   # into the running control loop
    python bench/api.py --db sqlite --single 2000 --batches 20 --batch-size 500 --clients 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from suanwang.scheduler.db import repo  # noqa: E402
from suanwang.scheduler.db.engine import make_engine, sessions, upgrade  # noqa: E402
from tests.pgcluster import postgres_cluster  # noqa: E402
from tests.ports import free_port  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def job(i: int, prefix: str) -> dict:
    return {
        "id": f"{prefix}-{i:07d}",
        "kind": "training",
        "tenant": "bench",
        "priority": 1 + i % 5,
        "duration_h": 4,
        "accelerators": {"count": 8, "per_node": 8, "models": ["H800", "A800"]},
        "container": {"image": "reg.example/bench:1"},
    }


def post(url: str, token: str, body: dict) -> float:
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        f"{url}/v1/jobs",
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
        if r.status != 201:
            raise RuntimeError(f"HTTP {r.status}")
    return time.perf_counter() - t


def drive(url: str, token: str, bodies: list[dict], clients: int) -> tuple[float, list[float]]:
    lat: list[float] = []
    lock = threading.Lock()
    it = iter(bodies)

    def worker():
        while True:
            with lock:
                body = next(it, None)
            if body is None:
                return
            d = post(url, token, body)
            with lock:
                lat.append(d)

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, lat


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) >= 2 else values[0] * 1000


@contextmanager
def serving(url: str, flags: list[str]) -> Iterator[tuple[str, str, object]]:
    """``suanwang serve FLAGS`` on a fresh schema at ``url``, in its own process: its base URL, a
    submitter's token and an engine on the same database."""
    engine = make_engine(url)
    upgrade(engine)
    with sessions(engine).begin() as s:
        token = repo.create_token(s, "submitter", "bench", "bench", datetime.now())
    port = free_port()
    env = {**os.environ, "SUANWANG_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "suanwang.scheduler.cli", "serve", "--port", str(port), *flags]
    errors = tempfile.NamedTemporaryFile("w+", prefix="suanwang-serve-", suffix=".log", delete=False)
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        yield base, token, engine
    finally:
        server.terminate()
        server.wait(10)
        engine.dispose()
        errors.close()
        log(f"server log: {errors.name}")


def run_db(name: str, url: str, args) -> list[dict]:
    with serving(url, ["--no-loop"]) as (base, token, _):
        rows = []
        post(base, token, {"jobs": [job(0, f"{name}-warm")]})
        for clients in sorted({1, args.clients}):
            log(f"{name}: {args.single} single submissions, {clients} client(s)")
            bodies = [{"jobs": [job(i, f"{name}-s{clients}")]} for i in range(args.single)]
            secs, lat = drive(base, token, bodies, clients)
            rows.append(
                {
                    "db": name,
                    "mode": f"single, {clients} client{'s' * (clients > 1)}",
                    "requests": args.single,
                    "jobs": args.single,
                    "seconds": secs,
                    "jobs_per_s": args.single / secs,
                    "p50_ms": pct(lat, 50),
                    "p99_ms": pct(lat, 99),
                }
            )
        log(f"{name}: {args.batches} batches of {args.batch_size}")
        bodies = [
            {"jobs": [job(b * args.batch_size + i, f"{name}-b") for i in range(args.batch_size)]}
            for b in range(args.batches)
        ]
        secs, lat = drive(base, token, bodies, min(args.clients, 2))
        n = args.batches * args.batch_size
        rows.append(
            {
                "db": name,
                "mode": f"batch×{args.batch_size}",
                "requests": args.batches,
                "jobs": n,
                "seconds": secs,
                "jobs_per_s": n / secs,
                "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99),
            }
        )
        return rows


def run_loop(name: str, url: str, args) -> dict:
    """A stream of batched submissions into a server whose control loop runs, with one client
    sending single jobs beside it; then, from the database, how long each job waited for the loop's
    decision (the first plan that placed it or gave the reason it waits)."""
    with tempfile.TemporaryDirectory() as manifests, serving(url, [
        "--assume-empty-sites", "--manifests", manifests, "--period", str(args.period),
        "--time-limit", str(args.loop_time_limit),
    ]) as (base, token, engine):  # fmt: skip
        per_s = max(1, args.rate // args.batch_size)
        bodies = [
            {"jobs": [job(b * args.batch_size + i, f"{name}-l") for i in range(args.batch_size)]}
            for b in range(per_s * args.seconds)
        ]
        log(f"{name}: {args.rate} jobs/s for {args.seconds} s into the running loop, single jobs beside")
        single: list[float] = []
        batch: list[float] = []
        sent: dict[str, float] = {}  # job key → when its request went out
        stop = threading.Event()

        def singles() -> None:
            i = 0
            while not stop.is_set():
                body = {"jobs": [job(i, f"{name}-one")]}
                sent[f"bench/{body['jobs'][0]['id']}"] = time.perf_counter()
                single.append(post(base, token, body))
                i += 1
                time.sleep(0.05)

        def stream(k: int) -> None:
            t0 = time.perf_counter()
            for n, body in enumerate(bodies[k::2]):
                due = t0 + (2 * n + k) / per_s
                time.sleep(max(0.0, due - time.perf_counter()))
                now = time.perf_counter()
                sent.update((f"bench/{j['id']}", now) for j in body["jobs"])
                batch.append(post(base, token, body))

        watcher = _Watcher(engine)
        threads = [threading.Thread(target=singles)] + [threading.Thread(target=stream, args=(k,)) for k in (0, 1)]
        t = time.perf_counter()
        watcher.start()
        for th in threads:
            th.start()
        for th in threads[1:]:
            th.join()
        secs = time.perf_counter() - t
        stop.set()
        threads[0].join()
        total = len(sent)
        deadline = time.perf_counter() + args.settle
        while len(watcher.seen.keys() & sent.keys()) < total and time.perf_counter() < deadline:
            time.sleep(0.5)
        watcher.stop.set()
        watcher.join()
        decided = [watcher.seen[k] - t_sent for k, t_sent in sent.items() if k in watcher.seen]
    lat = sorted(decided)
    return {
        "db": name, "offered": f"{args.rate}/s × {args.seconds} s", "jobs": total, "seconds": secs,
        "jobs_per_s": (total - len(single)) / secs, "batch_p99_ms": pct(batch, 99), "single_p99_ms": pct(single, 99),
        "decided": len(lat), "decision_p50_s": lat[len(lat) // 2] if lat else float("nan"),
        "decision_p99_s": lat[int(0.99 * (len(lat) - 1))] if lat else float("nan"),
    }  # fmt: skip


class _Watcher(threading.Thread):
    """Reads the plans the loop records as they appear (every 0.1 s), noting when each job was
    first in one: placed, or unplaced with its reason."""

    def __init__(self, engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.seen, self.stop = engine, {}, threading.Event()

    def run(self) -> None:
        from sqlalchemy import select

        from suanwang.scheduler.db.models import PlanRow

        done: set[str] = set()
        while not self.stop.is_set():
            with sessions(self.engine)() as s:
                ids = [pid for (pid,) in s.execute(select(PlanRow.id)) if pid not in done]
                new = list(s.execute(select(PlanRow.id, PlanRow.body).where(PlanRow.id.in_(ids)))) if ids else []
            now = time.perf_counter()
            for pid, body in new:
                done.add(pid)
                for p in [*body.get("placements", []), *body.get("unplaced", [])]:
                    self.seen.setdefault(p["job"], now)
            time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--single", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--loop", action="store_true", help="stream into a server whose control loop runs")
    ap.add_argument("--rate", type=int, default=1000, help="jobs per second offered (--loop)")
    ap.add_argument("--seconds", type=int, default=60, help="length of the stream (--loop)")
    ap.add_argument("--period", type=float, default=1.0, help="seconds between control-loop cycles (--loop)")
    ap.add_argument("--loop-time-limit", type=float, default=0.5, help="solver time limit per cycle (--loop)")
    ap.add_argument("--settle", type=float, default=120.0, help="seconds to wait for the last decisions (--loop)")
    args = ap.parse_args()
    if args.loop:
        return main_loop(args)
    rows = []
    with ExitStack() as stack:
        if args.db in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            rows += run_db("sqlite", f"sqlite:///{folder}/bench.db", args)
        if args.db in ("postgresql", "both"):
            rows += run_db("postgresql", stack.enter_context(postgres_cluster("bench")), args)
    print("| db | mode | requests | jobs | seconds | jobs/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['db']} | {r['mode']} | {r['requests']} | {r['jobs']} | {r['seconds']:.2f} | "
            f"{r['jobs_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    print(
        f"\nServer: `suanwang serve --no-loop` (uvicorn, one worker) in its own process; clients in this "
        f"process. Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
    )


def main_loop(args) -> None:
    rows = []
    with ExitStack() as stack:
        if args.db in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            rows.append(run_loop("sqlite", f"sqlite:///{folder}/bench.db", args))
        if args.db in ("postgresql", "both"):
            rows.append(run_loop("postgresql", stack.enter_context(postgres_cluster("bench")), args))
    cols = ["db", "offered", "jobs", "seconds", "jobs_per_s", "batch_p99_ms", "single_p99_ms", "decided",
            "decision_p50_s", "decision_p99_s"]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|---|---|" + "---:|" * (len(cols) - 2))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:,.2f}" if isinstance(r[c], float) else f"{r[c]}" for c in cols) + " |")
    print(
        f"\nServer: `suanwang serve --assume-empty-sites --manifests DIR --period {args.period:g}` (the loop "
        f"plans every cycle; uvicorn, one worker) in its own process. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}."
    )


if __name__ == "__main__":
    main()
