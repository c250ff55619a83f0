"""An independent check of a plan against every constraint of the placement model.

It recomputes from the problem and the topology graph alone — nothing from the solvers' own
bookkeeping — and returns the violations in plain words (an empty list for a valid plan).
Constraints are numbered as in :mod:`suanwang.solvers`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from suanwang.solvers.instance import transfer_hours
from suanwang.solvers.ledger import pool_nodes
from suanwang.solvers.problem import Plan, Problem
from suanwang.solvers.slotcheck import check_slots
from suanwang.topology.graph import NetworkGraph
from suanwang.topology.model import facility_kw

_TOL = 1e-6


def check_plan(problem: Problem, plan: Plan) -> list[str]:
    topo = problem.topology
    graph = NetworkGraph(topo)
    jobs = {j.id: j for j in problem.jobs}
    sites = {s.id: s for s in topo.sites}
    nodes = {k: dict(v.free) for k, v in pool_nodes(topo, problem.state).items()}
    used: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    power: dict[str, float] = defaultdict(float)
    if problem.state is not None:
        for s, kw in problem.state.power_draw_kw.items():
            power[s] += kw
    bandwidth: dict[str, float] = defaultdict(float)
    if problem.state is not None:
        for lk, gbps in problem.state.reserved_gbps.items():
            bandwidth[lk] += gbps
    link_cap = graph.link_bandwidth_gbps()
    out: list[str] = []
    seen: set[str] = set()
    unplaced = {u.job for u in plan.unplaced}

    for p in plan.placements:
        job = jobs.get(p.job)
        if job is None:
            out.append(f"{p.job}: placed but not in the problem")
            continue
        if p.job in seen:
            out.append(f"{p.job}: placed twice")
        seen.add(p.job)
        if p.job in unplaced:
            out.append(f"{p.job}: both placed and unplaced")
        site = sites.get(p.site)
        if site is None:
            out.append(f"{p.job}: unknown site {p.site}")
            continue
        a = job.accelerators
        if p.fixed:
            if job.running is None or (job.running.site, job.running.accelerator) != (p.site, p.accelerator):
                out.append(f"{p.job}: marked fixed but is not running at {p.site}/{p.accelerator}")
        elif job.running is not None:
            out.append(f"{p.job}: running job was moved")
        # (1) model and memory
        acc = topo.accelerators.get(p.accelerator)
        if acc is None or (a.models and p.accelerator not in a.models) or acc.memory_gb < a.min_memory_gb:
            out.append(f"{p.job}: accelerator {p.accelerator} not allowed (models {a.models}, ≥ {a.min_memory_gb} GB)")
            continue
        # (5) gang in one site, (6) node-granular capacity
        if p.cards != a.count or p.nodes != a.nodes:
            out.append(f"{p.job}: {p.cards} cards on {p.nodes} nodes, asked {a.count} on {a.nodes}")
        count_nodes = problem.state is not None and p.fixed
        if p.scheduled:
            if p.node_names:
                out.append(f"{p.job}: scheduled for later but holds nodes now")
            if p.start <= problem.now or problem.shift is None:
                out.append(f"{p.job}: scheduled, but not for a later slot of a horizon")
        elif not count_nodes:
            if len(p.node_names) != a.nodes or len(set(p.node_names)) != a.nodes:
                out.append(f"{p.job}: needs {a.nodes} distinct nodes, got {list(p.node_names)}")
            pool = nodes.get((p.site, p.accelerator), {})
            for n in p.node_names:
                if n not in pool:
                    out.append(f"{p.job}: node {n} is not in {p.site}/{p.accelerator}")
                used[(p.site, p.accelerator)][n] += a.per_node
        if not (problem.state is not None and p.fixed) and not p.scheduled:
            power[p.site] += facility_kw(a.count, acc, site.pue)
        if p.fixed:
            if job.deterministic and job.origin:
                r = graph.deterministic_path(job.origin, p.site)
                for h in r.hops if r else ():
                    bandwidth[h.link_id] += job.deterministic.bandwidth_gbps
            continue
        # window
        if job.earliest is not None and p.start < job.earliest:
            out.append(f"{p.job}: starts {p.start} before its window opens {job.earliest}")
        # (2) latency and (3) deterministic path
        if job.kind == "inference" and job.origin:
            r = graph.deterministic_path(job.origin, p.site) if job.deterministic else graph.path(job.origin, p.site)
            if r is None:
                out.append(f"{p.job}: no deterministic path from {job.origin} to {p.site}")
                continue
            if job.latency_slo_ms is not None and r.rtt_ms > job.latency_slo_ms + _TOL:
                out.append(f"{p.job}: RTT {r.rtt_ms:.3f} ms from {job.origin} exceeds SLO {job.latency_slo_ms} ms")
            if p.rtt_ms is not None and abs(p.rtt_ms - r.rtt_ms) > 1e-6:
                out.append(f"{p.job}: reported RTT {p.rtt_ms} differs from the path's {r.rtt_ms}")
            if job.deterministic:
                if not r.meets_jitter(job.deterministic.max_jitter_us):
                    out.append(f"{p.job}: path jitter {r.jitter_us} µs exceeds {job.deterministic.max_jitter_us} µs")
                for h in r.hops:
                    bandwidth[h.link_id] += job.deterministic.bandwidth_gbps
        # (4) data and deadline
        transfer_h = 0.0
        if job.data is not None and job.data.size_tb > 0 and job.data.location != p.site:
            bw = graph.path(job.data.location, p.site).bottleneck_gbps
            transfer_h = transfer_hours(job.data.size_tb, bw)
        if abs(transfer_h - p.transfer_h) > 1e-6:
            out.append(f"{p.job}: transfer {p.transfer_h:.4f} h reported, {transfer_h:.4f} h computed")
        if job.deadline is not None:
            finish = (p.start if p.scheduled else problem.now + timedelta(hours=transfer_h)) + timedelta(
                hours=job.duration_h
            )
            if finish > job.deadline:
                out.append(f"{p.job}: finishes {finish} after its deadline {job.deadline}")
    # (6) node capacity
    for pool, per_node in used.items():
        for n, cards in per_node.items():
            free = nodes.get(pool, {}).get(n, 0)
            if cards > free:
                out.append(f"node {n} at {pool[0]}: {cards} cards placed, {free} free")
    # (8) site power
    for s, kw in power.items():
        if kw > sites[s].power_cap_kw + _TOL:
            out.append(f"site {s}: {kw:.1f} kW exceeds power cap {sites[s].power_cap_kw:.1f} kW")
    # (7) link bandwidth for deterministic reservations
    for lk, gbps in bandwidth.items():
        if gbps > link_cap.get(lk, 0.0) + _TOL:
            out.append(f"link {lk}: {gbps:g} Gbit/s reserved exceeds {link_cap.get(lk, 0.0):g}")
    # (9)–(12) every slot of the horizon
    base_kw = dict(problem.state.power_draw_kw) if problem.state is not None else {}
    for p in plan.placements:
        if p.fixed and problem.state is None and p.job in jobs and p.accelerator in topo.accelerators:
            base_kw[p.site] = base_kw.get(p.site, 0.0) + facility_kw(
                jobs[p.job].accelerators.count, topo.accelerators[p.accelerator], sites[p.site].pue
            )
    out += check_slots(problem, plan, graph, base_kw)
    out += _check_quotas(problem, plan, jobs)
    # every job accounted for
    missing = set(jobs) - seen - unplaced
    if missing:
        out.append(f"jobs neither placed nor unplaced: {sorted(missing)[:5]}")
    return out


def _check_quotas(problem: Problem, plan: Plan, jobs: dict) -> list[str]:
    """(25)–(27) at every start of the plan: cards of running work (held throughout) plus the
    placements running then, against every quota, cohort and guarantee (a row already over its
    limit before the plan is only a fault where the plan adds to it)."""
    if not problem.quotas:
        return []
    base = [(j.tenant, j.running.accelerator, j.running.site, j.accelerators.count) for j in problem.jobs if j.running]
    runs = []
    for p in plan.placements:
        if not p.fixed and p.job in jobs:
            j = jobs[p.job]
            runs.append(((j.tenant, p.accelerator, p.site), p.start, p.start + timedelta(hours=j.duration_h), p.cards))
    checks: list[tuple[str, list[tuple[str, str]], frozenset | None, int]] = []
    cohorts: dict[tuple, list] = defaultdict(list)
    for q in problem.quotas:
        if q.cohort is not None:
            cohorts[q.cohort, q.accelerator, q.sites].append(q)
        if q.cohort is None or q.borrowing_limit_cards is not None:
            extra = q.borrowing_limit_cards if q.cohort is not None else 0
            checks.append((f"tenant {q.tenant}", [(q.tenant, q.accelerator)], q.sites, q.nominal_cards + extra))
    for (cohort, m, group), qs in cohorts.items():
        total = sum(q.nominal_cards for q in qs)
        checks.append((f"cohort {cohort}", [(q.tenant, m) for q in qs], group, total))
        for q in qs:
            if q.lending_limit_cards is not None and q.nominal_cards > q.lending_limit_cards:
                others = [(o.tenant, m) for o in qs if o.tenant != q.tenant]
                kept = q.nominal_cards - q.lending_limit_cards
                checks.append((f"the guarantee of {q.tenant} in {cohort}", others, group, total - kept))
    out = []
    for at in sorted({start for _, start, _, _ in runs}):
        live = [(t, m, s, c, False) for t, m, s, c in base]
        live += [(*key, cards, True) for key, start, end, cards in runs if start <= at < end]
        for what, keys, group, limit in checks:
            inside = [(c, new) for t, m, s, c, new in live if (t, m) in keys and (group is None or s in group)]
            n = sum(c for c, _ in inside)
            if n > limit and any(new for _, new in inside):
                out.append(f"{what}: {n} {keys[0][1]} cards used at {at.isoformat()}, its quota allows {limit}")
    return list(dict.fromkeys(out))
