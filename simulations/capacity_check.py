"""A capacity plan checked by simulation, and the simulator-driven baseline.

``validate`` builds each year's network as the plan leaves it (pools added, sites opened, links
upgraded) and replays that year's demand through the simulator: the rows' use as a Poisson stream
of standard jobs (:mod:`.capacity_demand`) for ``validate.hours``, then as long again with no
arrivals so that queued work can finish; a job that waits longer than ``validate.max_wait_h`` is
given up. It compares what the MILP promised — the share of demand served and how busy the
network is — with what the replay measured: the share of the arrived card-hours that were placed
(within the wait bound), the cards' utilisation after the first sixth of the run (warm-up), and
the p95 wait. A year served short of its promise by more than ``validate.tolerance``, or whose p95
wait exceeds ``validate.max_wait_h``, is flagged. How busy the network is shows side by side,
unflagged: the plan counts PFLOPS (a card's speed), the simulator counts cards (a job runs as long
on any model), so the two differ by the fleet's mix.

``queue_greedy`` is the planner's rule of thumb "add where the queue is longest": year by year it
replays demand on the network built so far, adds nodes at the cheapest pack in (or nearest to) the
city whose jobs waited longest, sized to the card-hours left unserved, and repeats until the
replay serves the demand and the province target is met (or ``rounds`` run out).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from suanwang.simulations.capacity_demand import arrivals_for, pflops_per_card
from suanwang.simulations.capacity_load import Planning
from suanwang.simulations.engine import Simulation
from suanwang.simulations.events import Outcome, Policy
from suanwang.solvers.capacity_baselines import Build, evaluate, nearest_cities, site_of
from suanwang.solvers.capacity_problem import CapacityPlan, CapacityProblem
from suanwang.topology.model import Link, Pool, Topology

Say = Callable[[str], None]


@dataclass(frozen=True)
class YearCheck:
    year: int
    promised_served: float  # share of capacity demand the MILP serves
    measured_served: float  # share of arrived card-hours the replay placed
    promised_busy: float  # load ÷ installed PFLOPS
    measured_busy: float  # busy cards ÷ cards, after warm-up
    wait_p95_h: float | None
    jobs: int
    flagged: bool
    why: str = ""


def year_topology(problem: CapacityProblem, plan: CapacityPlan | Build, year: int) -> Topology:
    """The network of ``year`` as a plan (or a rule's build) leaves it."""
    topo = problem.topology
    added: dict[str, list[Pool]] = {}
    if isinstance(plan, Build):
        opened = {problem.packs[i].site for (i, y), n in plan.nodes.items() if n and y <= year}
        for (i, y), n in plan.nodes.items():
            p = problem.packs[i]
            if n and y <= year:
                added.setdefault(p.site, []).append(Pool(p.accelerator, n, p.per_node))
        upgrades: dict[str, int] = {}
    else:
        opened = {s for s, y in plan.openings.items() if y <= year}
        for a in plan.additions:
            if a.year <= year:
                added.setdefault(a.site, []).append(Pool(a.accelerator, a.nodes, a.cards // a.nodes))
        upgrades = plan.upgrades
    sites = [replace(s, pools=s.pools + tuple(added.get(s.id, ()))) for s in topo.sites]
    sites += [
        replace(c.site, pools=tuple(added[c.site.id]))
        for c in problem.candidates
        if c.site.id in opened and added.get(c.site.id)
    ]
    links = list(topo.links)
    for u in problem.upgrades:
        if upgrades.get(u.id, year + 1) > year:
            continue
        if u.new:
            links.append(Link(u.a, u.b, u.kind, u.add_gbps, u.latency_ms, u.jitter_us))  # type: ignore[arg-type]
        else:
            links = [
                replace(lk, bandwidth_gbps=lk.bandwidth_gbps + u.add_gbps) if {lk.a, lk.b} == {u.a, u.b} else lk
                for lk in links
            ]
    return replace(topo, name=f"{topo.name}-{year}", sites=tuple(sites), links=tuple(links))


def replay(planning: Planning, topo: Topology, year: int) -> Outcome:
    """That year's demand through the simulator on ``topo``."""
    v = planning.spec.validate_
    models = {k: c.models for k, c in planning.problem.classes.items()}
    arrivals = arrivals_for(list(planning.uses[year]), topo, models, planning.start, v.hours, v.seed + year)
    policy = Policy(v.solver, v.interval_min, 1.0, max_wait_h=v.max_wait_h)
    return Simulation(topo, arrivals, planning.start, v.hours, policy, [], drain_h=v.hours).run()


def _served(out: Outcome) -> float:
    arrived = sum(out.card_h_arrived.values())
    return min(1.0, sum(out.card_h_placed.values()) / arrived) if arrived > 0 else 1.0


def _busy(out: Outcome, topo: Topology, hours: float) -> float:
    """Busy cards ÷ cards, averaged over the arrival period after its first sixth (over time: each
    value covers the tick before it)."""
    pf = {s.id: sum(p.cards for p in s.pools) for s in topo.sites}
    lo, hi = hours / 6, hours
    idx = [i for i, t in enumerate(out.series_t) if lo <= (t - out.series_t[0]).total_seconds() / 3600 <= hi]
    if not idx or not sum(pf.values()):
        return 0.0
    by_site = {
        s: statistics.fmean(series[i] for i in idx if i < len(series))
        for s, series in out.series_util_mean_site.items()
        if series
    }
    return sum(by_site.get(s, 0.0) * w for s, w in pf.items()) / sum(pf.values())


def validate(planning: Planning, plan: CapacityPlan, say: Say | None = None) -> list[YearCheck]:
    say = say or (lambda _m: None)
    p, v = planning.problem, planning.spec.validate_
    checks = []
    for y in p.years:
        topo = year_topology(p, plan, y)
        say(f"validating {y}: replaying {v.hours:g} h of its demand")
        out = replay(planning, topo, y)
        demand = sum(c for (o, k, yy), c in plan.demand.items() if yy == y)
        served = sum(c for (o, k, yy), c in plan.served.items() if yy == y)
        load = sum(c * p.classes[k].target_utilisation for (o, k, yy), c in plan.served.items() if yy == y)
        promised_served = served / demand if demand else 1.0
        promised_busy = load / plan.province_pflops[y] if plan.province_pflops.get(y) else 0.0
        measured_served, busy = _served(out), _busy(out, topo, v.hours)
        p95 = statistics.quantiles(out.waits_h, n=100)[94] if len(out.waits_h) > 1 else (out.waits_h or [None])[0]
        why = []
        if promised_served - measured_served > v.tolerance:
            why.append(f"served {measured_served:.1%} against {promised_served:.1%} promised")
        if p95 is not None and p95 > v.max_wait_h:
            why.append(f"p95 wait {p95:.1f} h above {v.max_wait_h:g} h")
        checks.append(
            YearCheck(
                y, promised_served, measured_served, promised_busy, busy, p95, out.arrivals, bool(why), "; ".join(why)
            )
        )
    return checks


def queue_greedy(planning: Planning, say: Say | None = None, rounds: int = 8) -> tuple[CapacityPlan, dict]:
    """The simulator-driven rule: add where the queue is longest until the replay serves all."""
    say = say or (lambda _m: None)
    p, v = planning.problem, planning.spec.validate_
    b = Build(p)
    all_sites = [s.id for s in p.topology.sites] + [c.site.id for c in p.candidates]
    city_of = {s: site_of(p, s).city for s in all_sites}
    for y in p.years:
        for r in range(rounds):
            topo = year_topology(p, b, y)
            out = replay(planning, topo, y)
            served = _served(out)
            say(f"queue rule, {y} round {r + 1}: {served:.1%} of the card-hours served")
            if served >= 1 - v.tolerance / 10:
                break
            named = {c: w for c, w in out.wait_by_origin_h.items() if c}
            city = max(named, key=named.get) if named else None  # type: ignore[arg-type]
            short_card_h = sum(out.card_h_arrived.values()) - sum(out.card_h_placed.values())
            need = max(1e-3, short_card_h / v.hours * pflops_per_card(topo, ()))
            order = nearest_cities(p, city) if city else list(p.topology.cities)
            for near in order:
                got = b.buy([s for s in all_sites if city_of[s] == near], y, need)
                need -= got
                if need <= 1e-9:
                    break
        target = p.targets.province_pflops.get(y, 0.0)
        if b.pflops(y) < target:
            b.buy(all_sites, y, target - b.pflops(y))
        b.ensure_centres(y)
    say("queue rule: pricing its build")
    plan = evaluate(p, b.fixed())
    for _ in range(5):  # what the replay missed (a ring it cannot see, say), bought where it is short
        if plan.status not in ("optimal", "feasible") or not plan.unserved:
            break
        for (origin, _k, y), short in sorted(plan.unserved.items(), key=str):
            for near in nearest_cities(p, origin) if origin else list(p.topology.cities):
                short -= b.buy([s for s in all_sites if city_of[s] == near], y, short)
                if short <= 1e-9:
                    break
        say("queue rule: pricing its build again, with what was short")
        plan = evaluate(p, b.fixed())
    return plan, b.fixed()


__all__ = ["YearCheck", "queue_greedy", "replay", "validate", "year_topology"]
