"""The independent check of a time-indexed plan, slot by slot (constraints (9)–(12)).

For every slot of the horizon it takes the plan's new jobs that run in it (started now on their
named nodes, or scheduled: from their start slot to the end of their run) and checks that the
scheduled ones pack onto the nodes the started ones leave (first fit, largest first), that each
site's draw stays under its cap, each grid event's sites under the event's cap, and each link's
reservations under its bandwidth. Only the problem and the topology are read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from suanwang.solvers.ledger import pool_nodes
from suanwang.solvers.problem import Placement, Plan, Problem
from suanwang.solvers.slots import known_releases, released_by, slot_starts_h
from suanwang.topology.graph import NetworkGraph
from suanwang.topology.model import facility_kw

_TOL = 1e-6


def check_slots(problem: Problem, plan: Plan, graph: NetworkGraph, base_kw: dict[str, float]) -> list[str]:
    """Violations of (9)–(12); ``base_kw`` is each site's draw before the plan's new jobs."""
    shift = problem.shift
    if shift is None:
        return []
    topo, now = problem.topology, problem.now
    jobs = {j.id: j for j in problem.jobs}
    sites = {s.id: s for s in topo.sites}
    free0 = {k: dict(v.free) for k, v in pool_nodes(topo, problem.state).items()}
    link_cap = graph.link_bandwidth_gbps()
    reserved0 = dict(problem.state.reserved_gbps) if problem.state else {}
    out: list[str] = []
    new = [p for p in plan.placements if not p.fixed and p.job in jobs]
    starts = slot_starts_h(now, shift.slot_h, shift.slots)
    bounds = [now + timedelta(hours=float(h)) for h in starts]
    freed = released_by(known_releases(problem), bounds[:-1], now, shift.slot_h)
    for t in range(shift.slots):
        a, b = bounds[t], bounds[t + 1]
        active = [p for p in new if _overlaps(p, jobs[p.job].duration_h, a, b, now)]
        if not active:
            continue
        free = {k: dict(v) for k, v in free0.items()}
        back_kw: dict[str, float] = defaultdict(float)
        back_gbps: dict[str, float] = defaultdict(float)
        for r in freed[t]:  # running work that ended by the slot's start gave its capacity back
            pool = free.setdefault((r.site, r.accelerator), {})
            for n in r.nodes:
                pool[n] = pool.get(n, 0) + r.per_node
            back_kw[r.site] += r.power_kw
            for lk in r.links:
                back_gbps[lk] += r.bandwidth_gbps
        later: dict[tuple[str, str], list[tuple[str, int, int]]] = defaultdict(list)
        kw: dict[str, float] = defaultdict(float)
        gbps: dict[str, float] = defaultdict(float)
        for p in active:
            job = jobs[p.job]
            acc = job.accelerators
            kw[p.site] += facility_kw(acc.count, topo.accelerators[p.accelerator], sites[p.site].pue)
            if p.scheduled:
                later[(p.site, p.accelerator)].append((p.job, acc.per_node, acc.nodes))
            else:
                for n in p.node_names:
                    free.setdefault((p.site, p.accelerator), {})[n] = (
                        free.get((p.site, p.accelerator), {}).get(n, 0) - acc.per_node
                    )
            if job.deterministic and job.origin:
                r = graph.deterministic_path(job.origin, p.site)
                for h in r.hops if r else ():
                    gbps[h.link_id] += job.deterministic.bandwidth_gbps
        when = a.strftime("%m-%d %H:%M")
        for pool, items in later.items():  # (9) the scheduled jobs pack onto what is left
            nodes = sorted((f for f in free.get(pool, {}).values() if f > 0), reverse=True)
            for job_id, per_node, count in sorted(items, key=lambda x: (-x[1], x[0])):
                for _ in range(count):
                    fit = next((i for i, f in enumerate(nodes) if f >= per_node), None)
                    if fit is None:
                        out.append(
                            f"slot {when}: {job_id} finds no node with {per_node} free cards at {pool[0]}/{pool[1]}"
                        )
                        break
                    nodes[fit] -= per_node
                    nodes.sort(reverse=True)
        for s, k in kw.items():  # (10)
            total, cap = base_kw.get(s, 0.0) - back_kw[s] + k, sites[s].power_cap_kw
            if total > cap + _TOL:
                out.append(f"slot {when}: site {s} draws {total:.1f} kW over its cap {cap:.1f} kW")
        for lk, g in gbps.items():  # (11)
            total, cap = reserved0.get(lk, 0.0) - back_gbps[lk] + g, link_cap.get(lk, 0.0)
            if total > cap + _TOL:
                out.append(f"slot {when}: link {lk} reserves {total:g} Gbit/s over {cap:g}")
        for lim in problem.limits:  # (12)
            if lim.start < b and lim.end > a:
                draw = sum(base_kw.get(s, 0.0) - back_kw[s] + kw.get(s, 0.0) for s in lim.sites)
                added = sum(kw.get(s, 0.0) for s in lim.sites)
                if added > 0 and draw > lim.cap_kw + _TOL:
                    out.append(
                        f"slot {when}: grid event {lim.id} caps {lim.cap_kw:.1f} kW, its sites draw {draw:.1f} kW"
                    )
    return out


def _first_fit(nodes: list[int], items: list[tuple[str, int, int]], round_up: bool) -> tuple[str, int] | None:
    """First fit, largest first, of (job, cards per node, nodes) items onto free cards per node;
    the first item that finds no node, or ``None``. With ``round_up`` each demand takes a whole
    power-of-two block (exact for such sizes, so a packing exists when either way finds one)."""
    free = sorted(nodes, reverse=True)
    size = (lambda k: 1 << max(0, (k - 1).bit_length())) if round_up else (lambda k: k)
    for job_id, per_node, count in sorted(items, key=lambda x: (-size(x[1]), x[0])):
        for _ in range(count):
            fit = next((i for i, f in enumerate(free) if f >= size(per_node)), None)
            if fit is None:
                return job_id, per_node
            free[fit] -= size(per_node)
            free.sort(reverse=True)
    return None


def _overlaps(p: Placement, duration_h: float, a: datetime, b: datetime, now: datetime) -> bool:
    """Whether the job holds capacity in [a, b): from now (a start now) or from its start slot
    (data transfer included) to the end of its run."""
    begin = p.start - timedelta(hours=p.transfer_h) if p.scheduled else now
    end = p.start + timedelta(hours=duration_h)
    return begin < b and end > a
