"""Whether every tenant's nominal quota was available to it when it had demand (the tenants
benchmark's first measure).

A quota is a number of cards of one accelerator model, not a reservation of nodes at a site, so
the measure asks what the quota promises: a job that waits two planning intervals although it
fits within its tenant's unused nominal quota of a model it accepts is short of its guarantee
when, at some site, the nodes of that model could hold it — free, or held by work running on
borrowed quota (each tenant above its nominal quota borrows with the work it started last; the
guarantee lets the tenant reclaim those cards). A job that no site could hold even then (a gang
larger than what any one site frees) is not counted: no policy that keeps the quotas could place it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from suanwang.simulations.events import Run
from suanwang.solvers.problem import Job


def short_of_nominal(
    at: datetime,
    running: Iterable[Run],
    waiting: Iterable[tuple[datetime, Job]],
    free: dict[tuple[str, str], dict[str, int]],
    nominal: dict[tuple[str, str], int],
    patience: timedelta,
    models_of: Callable[[Job], Iterable[str]],
) -> bool:
    """Whether some tenant's waiting job was short of its nominal quota at ``at`` (see above)."""
    runs = list(running)
    used: dict[tuple[str, str], int] = defaultdict(int)
    for r in runs:
        used[r.job.tenant, r.model] += r.job.accelerators.count
    reclaim: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    over = {k: used[k] - n for k, n in nominal.items() if used[k] > n}
    for r in sorted(runs, key=lambda r: r.start, reverse=True):  # the latest borrow first
        key = (r.job.tenant, r.model)
        if over.get(key, 0) > 0:
            over[key] -= r.job.accelerators.count
            for n in r.nodes:
                reclaim[r.site, r.model][n] += r.job.accelerators.per_node
    levels: dict[tuple[str, str], list[int]] = {}  # per pool: free plus reclaimable cards per node, sorted
    fits: dict[tuple[str, int, int], bool] = {}
    for arrived, j in waiting:
        if at - arrived < patience or (j.earliest is not None and j.earliest > at):
            continue
        a = j.accelerators
        for m in models_of(j):
            quota = nominal.get((j.tenant, m))
            if quota is None or used[j.tenant, m] + a.count > quota:
                continue
            key = (m, a.per_node, a.nodes)
            if key not in fits:
                fits[key] = any(
                    len(lv) - bisect_left(lv, a.per_node) >= a.nodes
                    for pool in free
                    if pool[1] == m
                    for lv in [_levels(levels, pool, free, reclaim)]
                )
            if fits[key]:
                return True
    return False


def _levels(cache: dict, pool: tuple[str, str], free: dict, reclaim: dict) -> list[int]:
    if pool not in cache:
        back = reclaim.get(pool, {})
        cache[pool] = sorted(f + back.get(n, 0) for n, f in free[pool].items())
    return cache[pool]
