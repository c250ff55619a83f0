"""Fair share among equal priorities: weighted dominant-resource fairness (DRF) across tenants.

A tenant's dominant share is the largest share it holds of any resource — the cards of each
accelerator model, and the power of the network — divided by its weight. Among jobs of equal
priority the planner prefers tenants furthest below the others: each class's score gains
``FAIR_SHARE × (1 − share / highest share)`` of its value (a tenant holding nothing gains the
full amount, the tenant with the highest weighted share none). The gain is below one priority
step (up to priority 100), so fairness orders equals and never outranks priority; the plan's
objective (priority-weighted PFLOPS) is unchanged.
"""

from __future__ import annotations

from collections import defaultdict

from suanwang.solvers.problem import Problem
from suanwang.topology.model import facility_kw

FAIR_SHARE = 0.01


def dominant_shares(problem: Problem) -> dict[str, float]:
    """Weighted dominant share of every tenant with work (running or asked for)."""
    topo = problem.topology
    cards: dict[str, int] = defaultdict(int)
    for s in topo.sites:
        for p in s.pools:
            cards[p.accelerator] += p.cards
    power = sum(s.power_cap_kw for s in topo.sites) or 1.0
    sites = {s.id: s for s in topo.sites}
    weight = dict(problem.fair_share)
    held: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for j in problem.jobs:
        held[j.tenant]  # noqa: B018 — a tenant with work and nothing running has a share of 0
        r = j.running
        if r is None or r.site not in sites or r.accelerator not in topo.accelerators:
            continue
        n = j.accelerators.count
        held[j.tenant][r.accelerator] += n / max(1, cards[r.accelerator])
        held[j.tenant]["power"] += facility_kw(n, topo.accelerators[r.accelerator], sites[r.site].pue) / power
    return {t: max(h.values(), default=0.0) / max(1e-9, weight.get(t, 1.0)) for t, h in held.items()}


def fair_bonus(problem: Problem) -> dict[str, float]:
    """Share of value each tenant's classes gain in the score (0 to ``FAIR_SHARE``)."""
    shares = dominant_shares(problem)
    top = max(shares.values(), default=0.0)
    if top <= 0:
        return {t: FAIR_SHARE for t in shares}
    return {t: FAIR_SHARE * (1.0 - s / top) for t, s in shares.items()}
