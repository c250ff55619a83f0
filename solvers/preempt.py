"""Preemption: which running jobs to evict so that higher-priority work left out of a plan can run.

For each job the plan leaves out for want of capacity or quota (highest priority first), and each
pool that could ever host it, the running jobs there that may be evicted are:
  1. preemptible jobs of lower priority;
  2. then lower-priority jobs of another tenant of its cohort running on borrowed quota (the
     quota is reclaimed);
  3. for a job that stays within its tenant's nominal quota, jobs of any priority of another
     tenant of its cohort running on borrowed quota, cheapest first (Kueue's
     ``reclaimWithinCohort: Any``: the nominal quota is a guarantee);
never inference (its SLO holds) unless ``Problem.preempt_inference``. Of another tenant with a
quota for the model, only work on borrowed quota is taken: jobs while that tenant still borrows (a
job counts as borrowed if any of its cards are), so what a tenant runs within its nominal quota is
never evicted for another tenant; and a job that would borrow takes nothing another tenant runs
without a quota (re-queued, that work would go first).

Each eviction costs the work lost since the victim's last checkpoint (all of it without
checkpoints; unknown progress counts as the whole run) plus a restart, in card-hours; victims are
taken cheapest first until the pool has the nodes, power and quota the job needs, and the pool
that costs the least is chosen: the fewest card-hours lost. Where the victims' nodes are known
(``Running.nodes``) freed capacity is counted node by node: the job's nodes are freed one at a
time, each where it costs least, merging what a victim frees with what was free beside it;
otherwise conservatively (a victim's node frees what the victim held on it, never merged with
anything), so the job fits once they stop. The job is placed in the next plan, when the evicted
work has stopped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from suanwang.solvers.instance import Instance
from suanwang.solvers.problem import Job, Plan, Problem, Unplaced, lost_since_checkpoint
from suanwang.solvers.quota import running_usage, within_nominal
from suanwang.topology.model import facility_kw

RESTART_H = 0.25  # a restart costs about a quarter hour of the job's cards (scheduling, image pull, warm-up)


@dataclass(frozen=True)
class Eviction:
    job: str  # the evicted running job
    site: str
    accelerator: str
    cards: int
    lost_h: float  # work since its last checkpoint
    for_job: str  # the job it makes room for
    reason: str

    @property
    def lost_card_h(self) -> float:
        return self.cards * self.lost_h

    def to_dict(self) -> dict[str, object]:
        return {"job": self.job, "site": self.site, "accelerator": self.accelerator, "cards": self.cards,
                "lost_h": round(self.lost_h, 4), "for": self.for_job, "reason": self.reason}  # fmt: skip


def lost_hours(job: Job, problem: Problem) -> float:
    """Work a restart of running ``job`` loses: hours since its last checkpoint (unknown: the run)."""
    started = job.running.started_at if job.running is not None else None
    if started is None:
        return job.duration_h
    return lost_since_checkpoint((problem.now - started).total_seconds() / 3600.0, job.checkpoint_h)


def preemptions(problem: Problem, instance: Instance, plan: Plan) -> tuple[tuple[Eviction, ...], tuple[Unplaced, ...]]:
    """Evictions that make room for the plan's unplaced jobs, and their reasons updated."""
    jobs = {j.id: j for j in problem.jobs}
    index = {j.id: i for i, j in enumerate(problem.jobs)}
    cls = {i: jc for jc in instance.classes for i in jc.jobs}
    nodes = {pool: dict(ps.free) for pool, ps in instance.nodes.items()}
    power = dict(instance.power_headroom_kw)
    room = {r: row.room_cards for r, row in enumerate(instance.quota_rows)}
    for p in plan.placements:  # what the plan itself takes now
        if p.fixed or p.scheduled or p.job not in jobs:
            continue
        j = jobs[p.job]
        for n in p.node_names:
            if n in nodes.get((p.site, p.accelerator), {}):
                nodes[p.site, p.accelerator][n] -= j.accelerators.per_node
        acc = problem.topology.accelerators[p.accelerator]
        power[p.site] = power.get(p.site, 0.0) - facility_kw(p.cards, acc, instance.sites[p.site].pue)
        for r in instance.quota_for(j.tenant, p.accelerator, p.site):
            room[r] -= p.cards
    borrowing = _borrowing(problem)
    nominal = dict(instance.nominal_room)  # _use replaces a key's list, never changes it in place
    for p in plan.placements:  # the plan's own placements use their tenant's nominal room
        if not (p.fixed or p.scheduled) and p.job in jobs:
            _use(nominal, jobs[p.job].tenant, p.accelerator, p.site, p.cards)
    running: dict[tuple[str, str], list[Job]] = defaultdict(list)  # pool → running jobs there
    for j in problem.jobs:
        if j.running is not None:
            running[j.running.site, j.running.accelerator].append(j)
    if not running:
        return (), plan.unplaced
    taken: set[str] = set()
    out: list[Eviction] = []
    reasons: dict[str, tuple[str, ...]] = {u.job: u.reasons for u in plan.unplaced}
    order = sorted(plan.unplaced, key=lambda u: -cls[index[u.job]].priority if index.get(u.job) in cls else 0)
    for u in order:
        i = index.get(u.job)
        if i is None or i not in cls:
            continue
        jc, job = cls[i], jobs[u.job]
        best = None
        for cand in jc.candidates:
            pick = _cover(problem, instance, job, jc, cand, running.get(cand.pool, []), (nodes, power, room, nominal),
                          borrowing, taken)  # fmt: skip
            if pick is not None and (best is None or pick[0] < best[0]):
                best = (pick[0], cand, pick[1])
        if best is None:
            continue
        _, cand, victims = best
        for v in victims:
            lost = lost_hours(v, problem)
            why = (f"preempted for {job.id} (priority {jc.priority}) at {cand.site}: {lost:.2f} h of work since its "
                   "last checkpoint lost; re-queued")  # fmt: skip
            if v.priority >= jc.priority:
                why = (f"{v.tenant}'s borrowed {cand.model} reclaimed for {job.id} of {job.tenant}, within its "
                       f"nominal quota, at {cand.site}: {lost:.2f} h since its checkpoint lost; re-queued")  # fmt: skip
            if (v.tenant, cand.model) in borrowing:
                borrowing[v.tenant, cand.model] -= v.accelerators.count
            out.append(Eviction(v.id, cand.site, cand.model, v.accelerators.count, lost, job.id, why))
            taken.add(v.id)
        names = ", ".join(v.id for v in victims)
        kind = "lower-priority" if all(v.priority < jc.priority for v in victims) else "borrowing"
        reasons[job.id] = (
            f"waits for {len(victims)} {kind} job(s) at {cand.site} to stop ({names}); placed once they have",
            *reasons.get(job.id, ()),
        )
        # what the victims free goes to this job: take its share off the pool
        pool = nodes.setdefault(cand.pool, {})
        for v in victims:
            for n in v.running.nodes:
                pool[n] = pool.get(n, 0) + v.accelerators.per_node
        _consume(instance, job, cand, nodes, power, room)
        _use(nominal, job.tenant, cand.model, cand.site, job.accelerators.count)
    unplaced = tuple(Unplaced(u.job, reasons[u.job]) for u in plan.unplaced)
    return tuple(out), unplaced


def _borrowing(problem: Problem) -> dict[tuple[str, str], int]:
    """Cards each (tenant, model) runs beyond its nominal quota (in a cohort: borrowed)."""
    used = running_usage(problem.jobs)
    return {(q.tenant, q.accelerator): used[q.tenant, q.accelerator] - q.nominal_cards
            for q in problem.quotas if q.cohort and used[q.tenant, q.accelerator] > q.nominal_cards}  # fmt: skip


def _use(nominal: dict, tenant: str, model: str, site: str, cards: int) -> None:
    """Take ``cards`` off the nominal room of every quota of (tenant, model) that holds at ``site``."""
    rows = nominal.get((tenant, model))
    if rows:
        nominal[tenant, model] = [(g, left - cards if g is None or site in g else left) for g, left in rows]


def _cover(problem, instance, job, jc, cand, there, left, borrowing, taken):
    """The cheapest victims at ``cand``'s pool that give ``job`` its nodes, power and quota."""
    nodes, power, room, nominal = left
    within = within_nominal(nominal, job.tenant, cand.model, cand.site, job.accelerators.count)
    site, model = cand.pool
    a = job.accelerators
    free = nodes.get(cand.pool, {})
    have_nodes = sum(1 for f in free.values() if f >= a.per_node)
    have_kw = power.get(site, 0.0)
    rows = instance.quota_for(job.tenant, model, site) if jc.governed else ()
    have_q = {r: room.get(r, 0) for r in rows}
    cohort = {q.cohort for q in problem.quotas if q.tenant == job.tenant and q.accelerator == model and q.cohort}
    mates = {q.tenant for q in problem.quotas if q.cohort in cohort and q.tenant != job.tenant}
    able = []
    for v in there:
        if v.id in taken or (v.kind == "inference" and not problem.preempt_inference):
            continue
        reclaim = v.tenant in mates and borrowing.get((v.tenant, model), 0) > 0
        lower = v.priority < jc.priority
        if lower and (v.preemptible or reclaim):
            tier = (0 if v.preemptible else 1, 0)
        elif reclaim and within:
            tier = (2, 0)
        else:
            continue
        cost = v.accelerators.count * (lost_hours(v, problem) + RESTART_H)
        able.append((tier, cost, v.id, v))
    able.sort(key=lambda t: t[:3])
    lent = dict(borrowing)  # what each mate still borrows once this pick's victims stop
    acc = problem.topology.accelerators[model]
    pue = instance.sites[site].pue
    borrower = (job.tenant, model) in nominal and not within
    exact = bool(able) and all(v.running.nodes for *_, v in able)  # where each victim runs is known
    spare = dict(free)  # exact: free cards per node once the chosen victims stop
    chosen: list[Job] = []
    total = 0.0

    def allowed(tier, v) -> bool:
        if v.tenant == job.tenant:
            return True
        if (v.tenant, model) in nominal:  # of another tenant's quota only while it still borrows
            return lent.get((v.tenant, model), 0) > 0
        return not borrower  # work no quota governs goes before work that would borrow

    def take(cost, v) -> None:
        nonlocal have_nodes, have_kw, total
        if v.tenant != job.tenant and (v.tenant, model) in lent:
            lent[v.tenant, model] -= v.accelerators.count
        chosen.append(v)
        total += cost
        va = v.accelerators
        if exact:
            for n in v.running.nodes:
                spare[n] = spare.get(n, 0) + va.per_node
            have_nodes = sum(1 for f in spare.values() if f >= a.per_node)
        elif va.per_node >= a.per_node:  # each of its nodes hosts one of the job's (a gang takes distinct nodes)
            have_nodes += va.nodes
        have_kw += facility_kw(va.count, acc, pue)
        for q in rows:
            if instance.quota_rows[q].counts(v.tenant, model, site):
                have_q[q] += va.count

    def helps(v) -> bool:
        """Whether evicting ``v`` brings the job closer to fitting on something it lacks."""
        if have_nodes < a.nodes and (exact or v.accelerators.per_node >= a.per_node):
            return True
        if have_kw < cand.power_kw - 1e-9:
            return True
        return any(have_q[q] < a.count and instance.quota_rows[q].counts(v.tenant, model, site) for q in rows)

    if exact:  # whole nodes first: at each step the node that costs least to free for one of the job's
        while have_nodes < a.nodes:
            pick = _cheapest_node(able, spare, a.per_node, {v.id for v in chosen}, allowed)
            if pick is None:
                return None
            for _, cost, _, v in pick:
                take(cost, v)
    for tier, cost, _, v in able:
        if _fits(a, have_nodes, have_kw, have_q, cand.power_kw):
            break
        if v not in chosen and allowed(tier, v) and helps(v):
            take(cost, v)
    if not chosen or not _fits(a, have_nodes, have_kw, have_q, cand.power_kw):
        return None
    return total, chosen


def _cheapest_node(able, spare, per_node, chosen, allowed):
    """Victims that free ``per_node`` cards on one node at the least cost (tier, then card-hours)."""
    on: dict[str, list] = defaultdict(list)
    for item in able:
        if item[3].id not in chosen and allowed(item[0], item[3]):
            for n in item[3].running.nodes:
                on[n].append(item)
    best = None
    for n, items in on.items():
        need = per_node - spare.get(n, 0)
        if need <= 0:
            continue
        got, pick = 0, []
        for item in items:  # already cheapest first
            pick.append(item)
            got += item[3].accelerators.per_node
            if got >= need:
                key = (max(i[0] for i in pick), sum(i[1] for i in pick))
                if best is None or key < best[0]:
                    best = (key, pick)
                break
    return None if best is None else best[1]


def _fits(a, have_nodes: int, have_kw: float, have_q: dict[int, int], need_kw: float) -> bool:
    return have_nodes >= a.nodes and have_kw >= need_kw - 1e-9 and all(v >= a.count for v in have_q.values())


def _consume(instance, job, cand, nodes, power, room) -> None:
    a = job.accelerators
    pool = nodes.setdefault(cand.pool, {})
    for k in [n for n, f in pool.items() if f >= a.per_node][: a.nodes]:
        pool[k] -= a.per_node
    power[cand.site] = power.get(cand.site, 0.0) - cand.power_kw
    for r in instance.quota_for(job.tenant, cand.model, cand.site):
        room[r] = room.get(r, 0) - a.count
