"""From a :class:`Problem` to the data every solver shares: job classes and their candidates.

Jobs with identical requirements form a *class* (kind, shape, allowed models, memory, origin and
SLO, deterministic needs, data, deadline, effective priority); solvers decide how many jobs of a
class go to each candidate pool, so model size follows the number of distinct shapes, not jobs.

A candidate ``(class, pool)`` exists when the pool can ever host a job of the class: model and
memory (constraint 1 of :mod:`suanwang.solvers`), RTT from the origin within the SLO (2), a CENI
path within the jitter bound (3) with room for its bandwidth (7), data transfer plus duration
before the deadline (4), and a job that fits the empty pool's nodes (6) and the site's power cap (8).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np

from suanwang.solvers.fair import fair_bonus
from suanwang.solvers.ledger import CountLedger, Demand, Ledger, PoolKey, ceil_pow2_level, pool_nodes
from suanwang.solvers.problem import Job, Placement, PoolState, Problem, Release
from suanwang.solvers.quota import GUARANTEE_LIFT, QuotaRow, governs, guaranteed_jobs, nominal_room, quota_rows
from suanwang.topology.graph import NetworkGraph, Route, graph_for
from suanwang.topology.hourly import factors_for
from suanwang.topology.model import Site, facility_kw

TB_TO_GBIT = 8000.0  # 1 TB = 8,000 Gbit


class Candidate(NamedTuple):
    """A pool that can host a class's jobs, with per-job figures (a tuple: built by the 100,000)."""

    pool: PoolKey
    value: float  # priority × cards × PFLOPS per card
    cost_cny: float  # per job, at the class's mean duration
    power_kw: float  # per job, at PUE
    links: tuple[str, ...]  # links whose bandwidth a deterministic job reserves

    @property
    def site(self) -> str:
        return self.pool[0]

    @property
    def model(self) -> str:
        return self.pool[1]


@dataclass
class JobClass:
    """Jobs with identical requirements, and the pools that can ever host them."""

    index: int
    jobs: list[int]  # indices into problem.jobs
    rep: Job
    priority: int  # effective priority (aged)
    per_node: int
    nodes: int
    bandwidth_gbps: float
    candidates: list[Candidate] = field(default_factory=list)
    governed: bool = False  # its tenant has a quota: the class holds one tenant's jobs
    fair: float = 0.0  # share of its value added to the score among equals (solvers.fair)
    lift: dict = field(default_factory=dict)  # pool → value added where the jobs stay within a nominal quota

    def score(self, cand: Candidate, value_per_pflops: float) -> float:
        """A candidate's score in the objective: its value, plus the fair-share gain and the lift of
        a guarantee, weighted by ¥ per PFLOPS, less its cost in ¥."""
        return value_per_pflops * (cand.value * (1.0 + self.fair) + self.lift.get(cand.pool, 0.0)) - cand.cost_cny

    @property
    def level(self) -> int:
        return ceil_pow2_level(self.per_node)

    @property
    def block_demand(self) -> int:
        """Cards a job takes in the block model (per-node demand rounded up to a power of two)."""
        return (1 << self.level) * self.nodes


@dataclass
class Instance:
    """What every solver shares: the problem, its graph, the job classes and the free-node ledger."""

    problem: Problem
    graph: NetworkGraph
    classes: list[JobClass]
    nodes: dict[PoolKey, PoolState]  # free cards per node once running jobs hold theirs
    power_headroom_kw: dict[str, float]
    link_capacity_gbps: dict[str, float]
    fixed: list[Placement]
    not_ready: dict[int, str]  # job index -> reason it is outside its window
    sites: dict[str, Site]
    quota_rows: list[QuotaRow] = field(default_factory=list)  # rows (25)–(27)
    quota_index: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)  # (tenant, model) → rows
    # (tenant, model) → [(site group, cards of its nominal quota running work leaves unused)] (solvers.quota)
    nominal_room: dict[tuple[str, str], list] = field(default_factory=dict)
    aggregate_model: object = None  # solvers.aggregate.Aggregate, built once by aggregate()
    relaxed_model: object = None  # the bound's model (solvers.aggregate.relaxation), built once
    demands: dict = field(default_factory=dict)  # (class, candidate) → ledger.Demand, made once (solvers.assemble)

    def nodes_with(self, pool: PoolKey, k: int) -> int:
        """Nodes of ``pool`` with at least ``k`` free cards before any placement of this plan."""
        ps = self.nodes.get(pool)
        if ps is None:
            return 0
        return len(ps.free_ascending) - bisect.bisect_left(ps.free_ascending, k)

    def quota_for(self, tenant: str, model: str, site: str) -> tuple[int, ...]:
        """The quota rows a job of ``tenant`` on ``model`` at ``site`` counts in."""
        rows = self.quota_index.get((tenant, model), ())
        return tuple(r for r in rows if self.quota_rows[r].sites is None or site in self.quota_rows[r].sites)

    def ledger(self, counting: bool = False) -> Ledger:
        """A fresh ledger of what is free before this plan; ``counting`` for a :class:`CountLedger`."""
        room = {i: r.room_cards for i, r in enumerate(self.quota_rows)}
        share: dict[int, float] | None = None
        if self.problem.node_policy == "fragmentation":  # the pending demand's per-node sizes
            share = defaultdict(float)
            for jc in self.classes:
                share[jc.per_node] += len(jc.jobs) * jc.nodes
        return (CountLedger if counting else Ledger)(
            self.nodes, self.power_headroom_kw, self.link_capacity_gbps, room, share
        )


def effective_priority(job: Job, now: datetime, aging_step_h: float) -> int:
    """Priority plus one step for every ``aging_step_h`` hours waited since submission."""
    if job.submitted_at is None or aging_step_h <= 0:
        return job.priority
    waited_h = max(0.0, (now - job.submitted_at).total_seconds() / 3600.0)
    return job.priority + int(waited_h // aging_step_h)


def requirement_key(job: Job, prio: int) -> tuple:
    """What makes two jobs interchangeable for placement (their class), at effective priority ``prio``."""
    a = job.accelerators
    deadline = None
    if job.deadline is not None:
        deadline = (job.deadline, job.duration_h)
    return (
        job.kind,
        a.count,
        a.per_node,
        a.models,
        a.min_memory_gb,
        job.origin if job.kind == "inference" else None,
        job.latency_slo_ms,
        job.deterministic,
        job.data,
        deadline,
        prio,
    )


def _evictable(problem: Problem, sites: dict[str, Site]) -> list[Release]:
    """Running work preemption may stop, as releases of its cards (node names of its own: which
    nodes it holds need not be known)."""
    out = []
    for j in problem.jobs:
        r = j.running
        if r is None or r.site not in sites or (j.kind == "inference" and not problem.preempt_inference):
            continue
        if not j.preemptible and not any(q.cohort and q.tenant == j.tenant for q in problem.quotas):
            continue
        a, acc = j.accelerators, problem.topology.accelerators.get(r.accelerator)
        kw = facility_kw(a.count, acc, sites[r.site].pue) if acc else 0.0
        out.append(
            Release(r.site, r.accelerator, problem.now, a.per_node, tuple(f"{j.id}#{k}" for k in range(a.nodes)), kw)
        )
    return out


def build_instance(problem: Problem) -> Instance:
    """Classes and candidates for ``problem``, checking constraints (1)–(4) and fit in an empty pool."""
    topo, now, w = problem.topology, problem.now, problem.weights
    graph = graph_for(topo)
    sites = {s.id: s for s in topo.sites}
    nodes = pool_nodes(topo, problem.state)
    draw = dict(problem.state.power_draw_kw) if problem.state else {}
    reserved = problem.state.reserved_gbps if problem.state else {}
    links = {lk: gbps - reserved.get(lk, 0.0) for lk, gbps in graph.link_bandwidth_gbps().items()}

    # -- fixed (running) jobs: keep their nodes (when no state counts them), power and bandwidth --
    fixed: list[Placement] = []
    base = Ledger(nodes, {s: sites[s].power_cap_kw - draw.get(s, 0.0) for s in sites}, links)
    for job in problem.jobs:
        if job.running is None or job.running.site not in sites:
            continue
        pool = (job.running.site, job.running.accelerator)
        site = sites[pool[0]]
        power = _power_kw(problem, job, site, pool[1])
        det_links: tuple[str, ...] = ()
        if job.deterministic and job.origin:
            r = graph.deterministic_routes_from(job.origin).get(site.id)
            det_links = tuple(h.link_id for h in r.hops) if r else ()
        a = job.accelerators
        bw = job.deterministic.bandwidth_gbps if job.deterministic else 0.0
        if problem.state is None:
            names = base.take(pool, Demand(a.per_node, a.nodes, power, det_links, bw)) or ()
        else:
            names = ()
            for lk in det_links:
                base.links[lk] = base.links.get(lk, 0.0) - bw
        energy, cost, carbon = _energy_cost(problem, job, site, pool[1], job.duration_h, 0.0)
        fixed.append(
            Placement(
                job.id,
                site.id,
                pool[1],
                a.nodes,
                a.count,
                tuple(names),
                job.earliest or now,
                (site.id,),
                None,
                energy,
                cost,
                carbon,
                0.0,
                fixed=True,
            )
        )
    nodes_after = base.snapshot()

    # -- fine classes: identical requirements ---------------------------------------------------
    not_ready: dict[int, str] = {}
    fine: dict[tuple, list[int]] = {}
    quota_tenants = {q.tenant for q in problem.quotas}
    fair = fair_bonus(problem) if problem.fair_share else {}
    by_tenant = quota_tenants | set(fair)
    prios: dict[tuple, int] = {}
    opens_by = now + timedelta(hours=problem.shift.horizon_h) if problem.shift is not None else now
    ready: list[tuple[int, Job, int]] = []
    for i, job in enumerate(problem.jobs):
        if job.running is not None:
            continue
        if job.earliest is not None and job.earliest > opens_by:
            not_ready[i] = (
                f"its window opens at {job.earliest.isoformat()}, after the plan time "
                f"{now.isoformat()}{' and its horizon' if problem.shift else ''}; it is planned once the window opens"
            )
            continue
        ready.append((i, job, effective_priority(job, now, w.aging_step_h)))
    room = nominal_room(problem.quotas, problem.jobs) if problem.quotas else {}
    sure = guaranteed_jobs(ready, room, lambda j: allowed_models(problem, j)) if room else set()
    for i, job, prio in ready:
        key = requirement_key(job, prio) + ((job.tenant, i in sure) if job.tenant in by_tenant else ())
        fine.setdefault(key, []).append(i)
        prios[key] = prio

    # -- candidates per fine class, then merge classes with the same footprint ------------------
    ctx = _Context(problem, graph, sites, nodes_after, base)
    releases = list(problem.state.releases) if problem.shift is not None and problem.state is not None else []
    if problem.preempt:  # a pool full of evictable work may fit a job once it is evicted (solvers.preempt)
        releases += _evictable(problem, sites)
    if releases:
        ctx.at_most_free(releases)  # a pool full now may fit a job once running work ends
    merged: dict[tuple, JobClass] = {}
    sums: dict[tuple, np.ndarray] = {}
    elig_of: dict[tuple, _Eligible] = {}
    for key, members in fine.items():
        rep = problem.jobs[members[0]]
        el = ctx.eligible(rep)
        a = rep.accelerators
        bw = rep.deterministic.bandwidth_gbps if rep.deterministic else 0.0
        gov = rep.tenant in quota_tenants
        mkey = (prios[key], a.count, a.per_node, bw, el.signature, rep.tenant if rep.tenant in by_tenant else None,
                members[0] in sure)  # fmt: skip
        jc = merged.get(mkey)
        if jc is None:
            jc = merged[mkey] = JobClass(len(merged), [], rep, prios[key], a.per_node, a.nodes, bw, governed=gov,
                                         fair=fair.get(rep.tenant, 0.0))  # fmt: skip
            sums[mkey] = np.zeros(len(el.pools))
            elig_of[mkey] = el
        jc.jobs.extend(members)
        if len(el.pools):
            mean_h = sum(problem.jobs[i].duration_h for i in members) / len(members)
            sums[mkey] += ctx.cost_vector(rep, el, mean_h) * len(members)
    classes = list(merged.values())
    cat = problem.topology.accelerators
    pf_top = max((a.pflops for a in cat.values()), default=0.0)
    for mkey, jc in merged.items():
        el = elig_of[mkey]
        cost = sums[mkey] / len(jc.jobs)
        count = jc.rep.accelerators.count
        prio = jc.priority
        kw = ctx.kw_per_card
        pf = {m: a.pflops for m, a in cat.items()}
        jc.candidates = [
            Candidate(pool, prio * count * pf[pool[1]], c, count * kw[pool], lk)
            for pool, c, lk in zip(el.pools, cost.tolist(), el.links, strict=True)
        ]
        if room:  # guaranteed or ungoverned work outranks any priority of work that would borrow
            t, up = jc.rep.tenant, GUARANTEE_LIFT * count * pf_top
            jc.lift = {p: up for p in el.pools if mkey[-1] or not governs(room, t, p[1], p[0])}
    rows = quota_rows(problem.quotas, problem.jobs)
    index: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r, row in enumerate(rows):
        for member in row.members:
            index[member].append(r)
    return Instance(
        problem, graph, classes, nodes_after, dict(base.power), dict(base.links), fixed, not_ready, sites,
        quota_rows=rows, quota_index={k: tuple(v) for k, v in index.items()}, nominal_room=room,
    )  # fmt: skip


def allowed_models(problem: Problem, job: Job) -> list[str]:
    """Models the job accepts that have enough memory (constraint 1)."""
    a = job.accelerators
    cat = problem.topology.accelerators
    names = a.models or tuple(cat)
    return [m for m in names if m in cat and cat[m].memory_gb >= a.min_memory_gb]


def transfer_hours(size_tb: float, bottleneck_gbps: float) -> float:
    """Hours to move ``size_tb`` over a path whose narrowest link has ``bottleneck_gbps``
    (0 for no data or an unbounded path, ∞ for a path with no bandwidth)."""
    if size_tb <= 0:
        return 0.0
    if bottleneck_gbps <= 0 or math.isinf(bottleneck_gbps):
        return 0.0 if math.isinf(bottleneck_gbps) else math.inf
    return size_tb * TB_TO_GBIT / bottleneck_gbps / 3600.0


def job_route(graph: NetworkGraph, job: Job, site_id: str) -> tuple[Route | None, Route | None]:
    """(route the job's users reach it by, route its data arrives by); ``None`` where not needed
    or (for a deterministic job) where no CENI route exists."""
    user = None
    if job.kind == "inference" and job.origin:
        table = graph.deterministic_routes_from(job.origin) if job.deterministic else graph.routes_from(job.origin)
        user = table.get(site_id)
    data = None
    if job.data is not None and job.data.size_tb > 0 and job.data.location != site_id:
        data = graph.routes_from(job.data.location).get(site_id)
    return user, data


def _power_kw(problem: Problem, job: Job, site: Site, model: str) -> float:
    return facility_kw(job.accelerators.count, problem.topology.accelerators[model], site.pue)


def _energy_cost(
    problem: Problem, job: Job, site: Site, model: str, duration_h: float, transfer_h: float
) -> tuple[float, float, float]:
    """(energy kWh at PUE, cost CNY, carbon kg) of running ``job`` at ``site`` on ``model``, at the
    zone's tariff and intensity averaged over the run."""
    start = problem.now + timedelta(hours=transfer_h)
    price, intensity = factors_for(problem.topology.grid_zones[site.grid_zone], start).mean(start, duration_h)
    energy = _power_kw(problem, job, site, model) * duration_h
    carbon = energy * intensity * (1.0 - site.green_share)
    cost = energy * price + carbon * problem.weights.carbon_cny_per_kg
    if job.data is not None and job.data.location != site.id and job.data.location != site.city:
        cost += job.data.size_tb * problem.weights.transfer_cny_per_tb
    return energy, cost, carbon


class _Context:
    """Caches of the eligibility factors: pools by shape, sites by latency, sites by data."""

    def __init__(
        self,
        problem: Problem,
        graph: NetworkGraph,
        sites: dict[str, Site],
        nodes: dict[PoolKey, PoolState],
        base: Ledger,
    ) -> None:
        self.problem, self.graph, self.sites, self.base = problem, graph, sites, base
        self.by_model: dict[str, list[PoolKey]] = defaultdict(list)
        self.nodes = nodes
        self.fit_nodes, self.fit_power = nodes, base.power  # what a job must fit to be a candidate
        for key in nodes:
            self.by_model[key[1]].append(key)
        cat = problem.topology.accelerators
        self.kw_per_card = {k: cat[k[1]].kw_per_card(sites[k[0]].pue) for k in nodes}
        zone_ids = list(problem.topology.grid_zones)
        self._zones = [factors_for(problem.topology.grid_zones[z], problem.now) for z in zone_ids]
        self._site_zone = np.array([zone_ids.index(site.grid_zone) for site in sites.values()], dtype=int)
        self._site_dirty = np.array([1.0 - site.green_share for site in sites.values()])
        self._cny_per_kwh: dict[float, np.ndarray] = {}
        self._pools: dict[tuple, list[PoolKey]] = {}
        self._user: dict[tuple, dict[str, Route]] = {}
        self._data: dict = {}
        self.site_index = {sid: i for i, sid in enumerate(sites)}
        self._eligible: dict[tuple, _Eligible] = {}
        self._reach: dict[tuple, list] = {}
        self._subsets: dict[tuple, _Eligible] = {}

    def at_most_free(self, releases) -> None:
        """Judge whether a job can ever fit a pool by what is free once every release is back."""
        free = {k: dict(v.free) for k, v in self.nodes.items()}
        power = dict(self.base.power)
        for r in releases:
            pool = free.setdefault((r.site, r.accelerator), {})
            for n in r.nodes:
                pool[n] = pool.get(n, 0) + r.per_node
            power[r.site] = power.get(r.site, 0.0) + r.power_kw
        self.fit_nodes = {k: PoolState(tuple(v.items())) for k, v in free.items() if k in self.nodes}
        self.fit_power = power

    def pools(self, job: Job) -> list[PoolKey]:
        a = job.accelerators
        key = (a.models, a.min_memory_gb, a.per_node, a.nodes, a.count)
        if key not in self._pools:
            out = []
            for model in allowed_models(self.problem, job):
                for pool in self.by_model.get(model, ()):
                    frees = self.fit_nodes[pool].free_ascending  # the a.nodes-th fullest node must fit
                    if len(frees) < a.nodes or frees[-a.nodes] < a.per_node:
                        continue
                    if a.count * self.kw_per_card[pool] > self.fit_power.get(pool[0], 0.0) + 1e-9:
                        continue
                    out.append(pool)
            self._pools[key] = out
        return self._pools[key]

    def user_sites(self, job: Job) -> dict[str, Route] | None:
        """Sites whose route from the origin meets the SLO (and jitter, bandwidth); None: no limit."""
        if job.kind != "inference" or not job.origin:
            return None
        key = (job.origin, job.latency_slo_ms, job.deterministic)
        if key not in self._user:
            det = job.deterministic
            table = self.graph.deterministic_routes_from(job.origin) if det else self.graph.routes_from(job.origin)
            slo = job.latency_slo_ms
            out = {}
            for sid, r in table.items():
                if slo is not None and r.rtt_ms > slo + 1e-9:
                    continue
                if det is not None:
                    if not r.meets_jitter(det.max_jitter_us):
                        continue
                    if any(self.base.links.get(h.link_id, 0.0) < det.bandwidth_gbps - 1e-9 for h in r.hops):
                        continue
                out[sid] = r
            self._user[key] = out
        return self._user[key]

    def data_sites(self, job: Job) -> np.ndarray | None:
        """Transfer hours of the job's data to every site (inf where no path); None: no data."""
        if job.data is None or job.data.size_tb <= 0:
            return None
        key = job.data
        if key not in self._data:
            loc = job.data.location
            hours = np.full(len(self.site_index), np.inf)
            for sid, r in self.graph.routes_from(loc).items():
                hours[self.site_index[sid]] = 0.0 if sid == loc else transfer_hours(job.data.size_tb, r.bottleneck_gbps)
            self._data[key] = hours
        return self._data[key]

    def eligible(self, job: Job) -> _Eligible:
        """Pools that can ever host ``job``, with reserved links (cached)."""
        a = job.accelerators
        ukey = (job.origin, job.latency_slo_ms, job.deterministic) if job.kind == "inference" else None
        dkey = (job.data, job.deadline, job.duration_h if job.deadline else None)
        key = ((a.models, a.min_memory_gb, a.per_node, a.nodes, a.count), ukey, dkey)
        hit = self._eligible.get(key)
        if hit is not None:
            return hit
        reach = self._reachable(job, key[0], ukey)
        slack_h = math.inf
        if job.deadline is not None:
            slack_h = (job.deadline - self.problem.now).total_seconds() / 3600.0 - job.duration_h
        datas = self.data_sites(job)
        if slack_h < 0:
            idx = np.zeros(0, dtype=int)
        elif datas is None:
            idx = None
        else:
            idx = np.flatnonzero(datas[reach.site_idx] <= slack_h + 1e-12)
        if idx is None or len(idx) == len(reach.pools):
            el = reach
        else:  # one object per subset: jobs with their own deadlines and data mostly share a few
            skey = (key[0], ukey, idx.tobytes())
            el = self._subsets.get(skey)
            if el is None:
                pools = [reach.pools[i] for i in idx]
                links = [reach.links[i] for i in idx]
                sig = tuple(zip(pools, links, strict=True))
                el = self._subsets[skey] = _Eligible(pools, links, sig, reach.kw[idx], reach.site_idx[idx], {})
        self._eligible[key] = el
        return el

    def _reachable(self, job: Job, shape: tuple, ukey: tuple | None) -> _Eligible:
        """Pools of the right shape that the job's users reach within the SLO (cached)."""
        key = (shape, ukey)
        hit = self._reach.get(key)
        if hit is None:
            users = self.user_sites(job)
            pools = [p for p in self.pools(job) if users is None or p[0] in users]
            if users is not None and job.deterministic:
                links = [tuple(h.link_id for h in users[p[0]].hops) for p in pools]
            else:
                links = [()] * len(pools)
            kw = np.array([self.kw_per_card[p] for p in pools])
            site_idx = np.array([self.site_index[p[0]] for p in pools], dtype=int)
            hit = _Eligible(pools, links, tuple(zip(pools, links, strict=True)), kw, site_idx, {})
            self._reach[key] = hit
        return hit

    def site_cny_per_kwh(self, hours: float) -> np.ndarray:
        """CNY per kWh at each site for a run of ``hours`` from now: the zone's mean tariff and
        carbon intensity over those hours, carbon priced and reduced by the site's green share."""
        hit = self._cny_per_kwh.get(hours)
        if hit is None:
            means = np.array([z.mean(self.problem.now, hours) for z in self._zones]).reshape(-1, 2)
            price, carbon = means[self._site_zone, 0], means[self._site_zone, 1]
            hit = price + carbon * self._site_dirty * self.problem.weights.carbon_cny_per_kg
            self._cny_per_kwh[hours] = hit
        return hit

    def cost_vector(self, job: Job, el: _Eligible, mean_h: float) -> np.ndarray:
        """Cost in CNY of one job on each eligible pool, at duration ``mean_h``."""
        cost = el.kw * self.site_cny_per_kwh(mean_h)[el.site_idx] * (job.accelerators.count * mean_h)
        if job.data is not None and job.data.size_tb > 0:
            loc = job.data.location
            remote = el.remote.get(loc)
            if remote is None:
                remote = el.remote[loc] = np.array(
                    [0.0 if loc in (p[0], self.sites[p[0]].city) else 1.0 for p in el.pools]
                )
            cost = cost + remote * (job.data.size_tb * self.problem.weights.transfer_cny_per_tb)
        return cost


@dataclass
class _Eligible:
    pools: list[PoolKey]
    links: list[tuple[str, ...]]
    signature: tuple
    kw: np.ndarray  # kW per card at each pool (at PUE)
    site_idx: np.ndarray  # index of each pool's site
    remote: dict[str, np.ndarray]  # data location -> 1 where the pool is in another city
