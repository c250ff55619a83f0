"""API benchmark: job submission throughput and latency over HTTP, single and batched, on SQLite
and on PostgreSQL. The server runs as its own process (``suanwang serve --no-loop``); this process
drives it with concurrent clients.

    python bench/api.py                    # both databases
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
from contextlib import ExitStack
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


def run_db(name: str, url: str, args) -> list[dict]:
    engine = make_engine(url)
    upgrade(engine)
    with sessions(engine).begin() as s:
        token = repo.create_token(s, "submitter", "bench", "bench", datetime.now())
    engine.dispose()
    port = free_port()
    env = {**os.environ, "SUANWANG_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "suanwang.scheduler.cli", "serve", "--no-loop", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
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
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--single", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
