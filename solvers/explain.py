"""Plain-word reasons, with numbers, for why a job is not placed.

Reasons name the binding constraint and by how much, e.g. "no site within 5 ms RTT of Xuzhou has
2 nodes with 8 free H800 (xz-city: 0.4 ms, 1 such node; nj-hub: 4.3 ms, power cap leaves 3.1 kW)".
They are computed against the capacity left once the plan's placements are made, and follow the
constraint numbering of :mod:`suanwang.solvers`: eligibility (1)–(4) first, then capacity (6),
power (8) and bandwidth (7).
"""

from __future__ import annotations

import itertools

from suanwang.solvers.instance import Instance, JobClass, allowed_models, job_route, transfer_hours
from suanwang.solvers.ledger import Demand, Ledger
from suanwang.solvers.quota import quota_reason, running_usage
from suanwang.topology.model import facility_kw

_SHOW = 3  # sites quoted per reason


def _models(job) -> str:
    return "/".join(job.accelerators.models) if job.accelerators.models else "any model"


def explain(
    instance: Instance, ledger: Ledger, jc: JobClass, job_index: int, memo: dict | None = None
) -> tuple[str, ...]:
    """Why job ``job_index`` of class ``jc`` is not placed, against the capacity left in ``ledger``;
    with the sites that offered nothing for want of fresh state (or drained, or down). ``memo``
    keeps what jobs of one shape share (their candidate sites, the capacity left there) across the
    calls for one plan."""
    reasons = _explain(instance, ledger, jc, job_index, {} if memo is None else memo)
    state = instance.problem.state
    if state is not None and state.unusable:
        models = set(allowed_models(instance.problem, instance.problem.jobs[job_index]))
        shut = [sid for sid in state.unusable if any(p[0] == sid and p[1] in models for p in instance.nodes)]
        if shut:
            shown = ", ".join(f"{sid} ({state.why.get(sid, 'left out')})" for sid in shut[:_SHOW])
            more = f" and {len(shut) - _SHOW} more" if len(shut) > _SHOW else ""
            reasons += (f"{len(shut)} site(s) with the model offered nothing: {shown}{more}",)
    return reasons


def _explain(instance: Instance, ledger: Ledger, jc: JobClass, job_index: int, memo: dict) -> tuple[str, ...]:
    problem, graph = instance.problem, instance.graph
    job = problem.jobs[job_index]
    a = job.accelerators
    models = memo.get(("models", a.models, a.min_memory_gb))
    if models is None:
        models = memo["models", a.models, a.min_memory_gb] = allowed_models(problem, job)
    if not models:
        return (
            f"no accelerator model in the catalog matches {_models(job)} with ≥ {a.min_memory_gb:g} GB; "
            "allow more models or lower min_memory_gb",
        )
    pools, big = memo.get(("pools", tuple(models), a.per_node, a.nodes)) or (None, None)
    if pools is None:
        pools = [p for p in instance.nodes if p[1] in models]
        big = [p for p in pools if instance.nodes_with(p, a.per_node) >= a.nodes]
        memo["pools", tuple(models), a.per_node, a.nodes] = pools, big
    if not pools:
        return (f"no site has {_models(job)} cards; allow another model",)
    if not big:
        best = max(pools, key=lambda p: instance.nodes_with(p, a.per_node))
        n = instance.nodes_with(best, a.per_node)
        return (
            f"no site has {a.nodes} nodes with {a.per_node} free {'/'.join(models)} with current usage "
            f"(most: {best[0]} with {n}); split the job or lower per_node",
        )
    # static filters, in the order a user thinks about them
    # what the rows and the capacity left depend on: the data's location, not its size
    located = job.data.location if job.data is not None and job.data.size_tb > 0 else None
    shape = (tuple(models), a.per_node, a.nodes, job.kind == "inference" and job.origin, job.deterministic, located)
    rows = memo.get(("rows", shape))
    if rows is None:
        rows = memo["rows", shape] = [(p, instance.sites[p[0]], *job_route(graph, job, p[0])) for p in big]
    if job.kind == "inference" and job.origin:
        kind = "deterministic (CENI) path" if job.deterministic else "path"
        ok_rows = [r for r in rows if r[2] is not None]
        if not ok_rows:
            return (
                f"no site with {'/'.join(models)} has a {kind} from {job.origin}; "
                "relax `deterministic` or add CENI links",
            )
        slo = job.latency_slo_ms
        within = [r for r in ok_rows if slo is None or r[2].rtt_ms <= slo + 1e-9]
        if not within:
            near = sorted(ok_rows, key=lambda r: r[2].rtt_ms)[:_SHOW]
            shown = "; ".join(f"{r[1].id}: {r[2].rtt_ms:.2f} ms" for r in near)
            return (
                f"no site with {a.nodes} nodes of {a.per_node} {'/'.join(models)} is within {slo:g} ms RTT of "
                f"{job.origin} (nearest: {shown}); raise latency_slo_ms by "
                f"{near[0][2].rtt_ms - slo:.2f} ms or add capacity near {job.origin}",
            )
        rows = within
        if job.deterministic:
            d = job.deterministic
            jit = [r for r in rows if r[2].meets_jitter(d.max_jitter_us)]
            if not jit:
                near = sorted(rows, key=lambda r: r[2].jitter_us or 0)[:_SHOW]
                shown = "; ".join(f"{r[1].id}: {r[2].jitter_us:.1f} µs" for r in near)
                return (
                    f"no CENI path from {job.origin} within {slo:g} ms keeps summed jitter ≤ "
                    f"{d.max_jitter_us:g} µs ({shown}); raise max_jitter_us",
                )
            rows = jit
    if job.deadline is not None:
        hours = memo.get(("transfer", shape, job.data, job.latency_slo_ms))  # (shape, SLO) decide the rows left
        if hours is None:
            hours = memo["transfer", shape, job.data, job.latency_slo_ms] = [
                transfer_hours(job.data.size_tb, r[3].bottleneck_gbps) if job.data and r[3] else 0.0 for r in rows
            ]
        slack_h = (job.deadline - problem.now).total_seconds() / 3600.0 - job.duration_h
        fits = [r for r, t in zip(rows, hours, strict=True) if t <= slack_h + 1e-9]
        if not fits:
            left_h = (job.deadline - problem.now).total_seconds() / 3600.0
            what = f"data transfer of {job.data.size_tb:g} TB plus " if job.data else ""
            return (
                f"{what}{job.duration_h:g} h of run time cannot finish before the deadline "
                f"({left_h:.1f} h left); extend the deadline or move the data closer",
            )
        rows = fits
    # capacity left after this plan: the same for every job of this shape on these sites
    key = (
        "left",
        shape,
        a.count,
        job.latency_slo_ms,
        job.tenant if instance.quota_rows else None,
        tuple(r[0] for r in rows),
    )
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = _left(instance, ledger, job, models, rows)
    return hit


def _left(instance: Instance, ledger: Ledger, job, models: list[str], rows: list) -> tuple[str, ...]:
    """Why none of ``rows`` (pool, site, user route, data route) has room left for ``job``."""
    problem = instance.problem
    a = job.accelerators
    bw = job.deterministic.bandwidth_gbps if job.deterministic else 0.0
    cat = problem.topology.accelerators
    free = (
        r
        for r in rows
        if ledger.fits(
            r[0],
            Demand(
                a.per_node,
                a.nodes,
                facility_kw(a.count, cat[r[0][1]], r[1].pue),
                tuple(h.link_id for h in r[2].hops) if bw and r[2] is not None else (),
                bw,
            ),
        )
    )
    free_now = list(free) if instance.quota_rows else list(itertools.islice(free, 1))  # without quotas one will do
    if free_now and instance.quota_rows:  # (25)–(27): room in the sites, none in the tenant's quota
        blocked = []
        for r in free_now:
            rows_q = instance.quota_for(job.tenant, r[0][1], r[0][0])
            short = [q for q in rows_q if ledger.quota.get(q, 0) < a.count]
            if not short:
                break
            blocked.append(instance.quota_rows[short[0]])
        else:
            reasons = []
            for row in blocked:
                used = dict(running_usage(problem.jobs, row.sites))
                for (t, m, site), n in ledger.quota_used.items():
                    if row.sites is None or site in row.sites:
                        used[t, m] = used.get((t, m), 0) + n
                reasons.append(quota_reason(row, job.tenant, problem.quotas, used))
            return tuple(dict.fromkeys(reasons))
    if free_now:
        return (
            f"{free_now[0][1].id} still has room for it, but the solver stopped before placing it; "
            "raise --time-limit or use another solver",
        )
    where = f" within {job.latency_slo_ms:g} ms RTT of {job.origin}" if job.kind == "inference" and job.origin else ""
    details = []
    need_kw = None
    nearest = sorted(rows, key=lambda r: (r[2].rtt_ms if r[2] else 0.0, r[1].id))
    for p, site, user, _ in nearest[:_SHOW]:  # the sites quoted
        if need_kw is None:
            need_kw = facility_kw(a.count, problem.topology.accelerators[p[1]], site.pue)
        n = ledger.nodes_with(p, a.per_node)
        head = ledger.power.get(site.id, 0.0)
        rtt = f" {user.rtt_ms:.2f} ms" if user is not None and job.origin else ""
        part = [f"{site.id}{rtt}: {n} such node{'s' * (n != 1)} of {p[1]}"]
        if head < need_kw - 1e-9:
            part.append(f"power cap leaves {max(0.0, head):.1f} kW of {need_kw:.1f} kW needed")
        if job.deterministic and user is not None:
            short = [
                lk
                for lk in (h.link_id for h in user.hops)
                if ledger.links.get(lk, 0.0) < job.deterministic.bandwidth_gbps - 1e-9
            ]
            if short:
                part.append(
                    f"CENI link {short[0]} has {max(0.0, ledger.links.get(short[0], 0.0)):g} Gbit/s left "
                    f"of {job.deterministic.bandwidth_gbps:g} needed"
                )
        details.append(", ".join(part))
    shown = "; ".join(details) + (f"; {len(nearest) - _SHOW} more" if len(nearest) > _SHOW else "")
    return (
        f"no site{where} has {a.nodes} node{'s' * (a.nodes != 1)} with {a.per_node} free "
        f"{'/'.join(sorted({r[0][1] for r in rows}))} left after higher-priority work ({shown}); "
        "wait for capacity, lower the request, or allow more models",
    )
