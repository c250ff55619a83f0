"""Start-time decisions: the aggregate placement model indexed by start slot, in CP-SAT.

Notation (besides that of :mod:`.aggregate`; slots as in :mod:`.slots`)
    t, τ ∈ 0..T−1   slots of Δ hours over the horizon
    c ∈ C           shift classes: jobs of one placement class with the same duration in slots
                    d_c = ⌈dur_c / Δ⌉, the same earliest slot e_c and the same deadline bucket
    k ∈ K_c         the class's candidate pools p(k) (constraints (1)–(4) of :mod:`suanwang.solvers`)
    y[c,k,t] ∈ ℤ≥0  jobs of class c that start on pool p(k) in slot t
    S[c,k]          start slots: deferrable classes (a window with at least one slot of slack)
                    any e_c ≤ t ≤ l_{c,k}, the last slot from which transfer and run end by the
                    deadline, but slot 0 only where no later slot scores more than θ · (its run's
                    cost from now) above it, and where one does, only such slots (θ =
                    ``Shift.hold_share``: the job waits for them even with no room showing there
                    yet, as later slots show only the room of now); the others only their first
                    slot e_c (as soon as the window opens), and so do jobs ``Problem.due``: an
                    earlier plan scheduled them for a slot that has begun, and a start promised
                    is not put off to a later slot again
    act(c,t)        slots τ with t ≤ τ < t + d_c (cut at the horizon)
    g[c,k,t]        W · v[c,k] − kW_{c,k} · ∫ rate over the run from slot t − transfer − δ · t
                    (rate: forecast price + carbon × its price; δ = max(¥0.01, Weights.wait_cny_per_h × Δ)
                    per slot of waiting)
    H_s, R_l, B[p,a]  power, bandwidth and block capacity free now (and in every later slot, with
                    what running work gives back within one slot of now)
    L ∈ 𝓛           grid events: sites S_L, window W_L ⊆ slots, cap_L; D_L their draw now

Constraints (one numbering with :mod:`suanwang.solvers`)
    (5)  Σ_{k,t} y[c,k,t] ≤ n_c                                           ∀ c
    (9)  Σ_{c,k: p(k)=p, a_c ≥ a} d_c^blk · Σ_{t: τ ∈ act(c,t)} y ≤ B[p,a]   ∀ p, a, τ   ((6) per slot)
         (a level's row whose room equals the level below's in every slot is implied by it — the
         lower row holds the same terms and more — and is not built: on whole free nodes only a = 0
         remains)
    (10) Σ_{c,k: s(k)=s} w_{c,k} · Σ_{t: τ ∈ act(c,t)} y ≤ H_s              ∀ s, τ      ((8) per slot)
    (11) Σ_{c,k: l ∈ path(c,k)} b_c · Σ_{t: τ ∈ act(c,t)} y ≤ R_l            ∀ l, τ      ((7) per slot)
    (12) Σ_{c,k: s(k) ∈ S_L} w_{c,k} · Σ_{t: τ ∈ act(c,t)} y ≤ cap_L − D_L    ∀ L, τ ∈ W_L
    (9') with ``Shift.exact_nodes = False``, (9) becomes the rows every node-level plan meets
         (nodes with at least k free cards, and free cards; as (6') of :mod:`.aggregate`): a
         relaxation, for references such as the simulator's perfect-foresight oracle
    Capacity, power and bandwidth per slot are what is free now plus what running work gives
    back by the slot's start, counting the work that ends within one slot of now
    (``State.releases``, where the caller knows when work ends; :func:`.slots.released_by`).

Objective
    max Σ g[c,k,t] · y[c,k,t]
    With the default W, placing compute comes first; among plans that place the same jobs the
    cheapest start (energy, carbon, transfer) wins, and among equal costs the earliest.

Bound (column generation on the LP relaxation)
    The restricted master holds the warm start's columns and, per class, its best-scoring ones;
    HiGHS solves it (from the last basis) and, from its duals π ≥ 0 on rows (9)–(12),
        U(π) = Σ_i π_i · rhs_i + Σ_c n_c · max(0, max_{k,t} (g[c,k,t] − π · A[c,k,t]))
    is an upper bound on every plan (Lagrangian relaxation of (9)–(12), (5) kept), computed for
    all columns at once with prefix sums of π over the slots. Each class's two columns of largest
    positive reduced cost join the master and the round repeats until none is left or the time
    limit comes; the smallest U is the reported bound (equal to the LP optimum when the generation
    converges).

Solve: a greedy over class counts (classes by value density, each to its best-scoring feasible
start), run while the first master solves, and the LP-guided fill of the last master's solution
are the warm starts; the time limit counts from the start of the call (of
:func:`suanwang.solvers.solve`, the instance's building included), and the generation takes what
is left after building, while another round is expected to end in time. CP-SAT then works on the
master's columns with the better warm start as hint, if time is left, and keeps that start if it
finds nothing better. Extraction: starts in slot 0 get their nodes now (best fit through the
ledger, as in :mod:`.cpsat`); later starts are scheduled at a site and time, and re-planned each
cycle. Rows are kept in whole units for every stage (cards; power in W and bandwidth in Mbit/s,
coefficients rounded up and capacities down, so every plan is feasible in real numbers); scores
in ¥0.01 for CP-SAT (δ must count).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from suanwang.solvers.assemble import assemble, place_many
from suanwang.solvers.instance import Instance, build_instance, job_route, transfer_hours
from suanwang.solvers.ledger import bit_counts, block_capacity, ceil_pow2_level
from suanwang.solvers.problem import Placement, Plan, Problem, Unplaced
from suanwang.solvers.shift_model import LEVELS, SClass, build_model, classes_of, deferrable, freed_by_slot
from suanwang.solvers.shift_notes import deferral_note, hold_note
from suanwang.solvers.shift_search import cpsat, generate, greedy, guided, total
from suanwang.solvers.slots import Grid, build_grid

__all__ = ["deferrable", "due", "promises", "solve_shift"]

CPSAT_S_PER_NONZERO = 4e-7  # measured: 0.8 s to build and load CP-SAT's model at 2 million non-zeros


def promises(plan: Plan, before: Mapping[str, datetime], queued: Collection[str]) -> dict[str, datetime]:
    """When each queued job was promised to start (the slot its transfer begins in), after
    ``plan``: its later starts as scheduled now, the jobs it starts at once dropped, the rest as
    ``before``."""
    out = {j: t for j, t in before.items() if j in queued}
    for p in plan.placements:
        if p.scheduled:
            out[p.job] = p.start - timedelta(hours=p.transfer_h)
        elif not p.fixed:
            out.pop(p.job, None)
    return out


def due(promised: Mapping[str, datetime], now: datetime) -> frozenset[str]:
    """The jobs whose promised start has come (``Problem.due``)."""
    return frozenset(j for j, t in promised.items() if t <= now)


def solve_shift(
    problem: Problem, instance: Instance | None = None, *, with_bound: bool = True, called: float | None = None
) -> Plan:
    """Decide site and start slot for ``problem``'s jobs (``problem.shift`` must be set); the time
    limit counts from ``called`` (a ``perf_counter`` time: when the caller began, ``instance``'s
    building included) or from now."""
    t0 = time.perf_counter() if called is None else called
    inst = instance or build_instance(problem)
    longest = max((j.duration_h for j in problem.jobs), default=1.0)
    grid = build_grid(problem, longest)
    classes = classes_of(inst, grid)
    m = build_model(inst, grid, classes)
    rhs = m.flat_rhs()
    # the time limit counts from the start of the call; the greedy runs beside the first LP
    status = "FEASIBLE (greedy over start slots)"
    bound, cols, x, counts, nnz = generate(m, classes, rhs, t0 + problem.time_limit_s, lambda: greedy(m, classes, rhs))
    building = CPSAT_S_PER_NONZERO * nnz  # CP-SAT's model from the master's columns, before it searches
    if cols:
        lp_fill = guided(m, classes, rhs, cols, x)
        if total(classes, lp_fill) > total(classes, counts):
            counts, status = lp_fill, "FEASIBLE (LP-guided start slots)"
        if bound is not None and total(classes, counts) >= bound - 1e-9 * max(1.0, abs(bound)):
            status = "OPTIMAL (warm start meets the bound)"
        elif (left := problem.time_limit_s - (time.perf_counter() - t0) - building) < 0.2:
            status = f"{status.split(' (')[0]} (time limit spent on the bound; {status.split('(')[-1]}"
        else:
            cp, st = cpsat(m, classes, sorted(set(cols) | set(counts)), rhs, counts, left, problem.workers)
            slack = 0.006 * sum(len(sc.jobs) for sc in classes)  # CP-SAT scores are rounded to ¥0.01
            if cp is not None and total(classes, cp) >= total(classes, counts) - slack:
                counts, status = cp, st
            else:
                status = f"{st} ({status.split('(')[-1].rstrip(')')} kept)"
    t1 = time.perf_counter()
    return _extract(inst, grid, classes, counts, status, bound if with_bound else None, t1 - t0)


def _extract(inst: Instance, grid: Grid, classes: list[SClass], counts: dict, status: str, bound, seconds) -> Plan:
    """Slot-0 starts get nodes now; later ones are scheduled with a note on what waiting saves."""
    problem = inst.problem
    ledger = inst.ledger()
    now_batches = []
    later: list[Placement] = []
    gained: dict[str, tuple[float, float]] = {}  # job -> (model score, priority-weighted PFLOPS) of its column
    by_class: dict[int, list[tuple[int, int, int]]] = {}
    for (ci, k, t), n in sorted(counts.items(), key=lambda kv: kv[0][2]):
        by_class.setdefault(ci, []).append((k, t, n))
    order = sorted(classes, key=lambda sc: (-sc.jc.per_node, -sc.jc.nodes, sc.index))
    for sc in order:
        picks = by_class.get(sc.index)
        if not picks:
            continue
        jobs = sorted(sc.jobs, key=lambda i: (problem.jobs[i].deadline or problem.now + timedelta(days=3650), i))
        at = 0
        for k, t, n in picks:
            cand = sc.jc.candidates[k]
            mine, at = jobs[at : at + n], at + n
            if t == 0:
                b = place_many(inst, ledger, sc.jc, cand, mine)
                now_batches.append(b)
                mine = b.jobs
            else:
                later.extend(_scheduled(inst, grid, sc, cand, i, t) for i in mine)
            for i in mine:
                gained[problem.jobs[i].id] = (float(sc.g[k, t]), cand.value)
    plan = assemble(inst, ledger, now_batches, solver="cpsat-shift", status=status, bound=None, solve_seconds=seconds)
    dropped: tuple = ()
    if problem.shift is None or problem.shift.exact_nodes:  # a relaxation's plan is not held to nodes
        later, dropped = admit_later(inst, grid, plan.placements, later)
    scheduled = {p.job for p in later}
    held = {problem.jobs[i].id: sc for sc in classes if sc.held is not None for i in sc.jobs}
    unplaced = tuple(_due_note(_held_note(u, problem, grid, held), problem) for u in plan.unplaced
                     if u.job not in scheduled) + dropped  # fmt: skip
    for u in dropped:
        gained.pop(u.job, None)
    # the figures of what the plan holds: starts that found no nodes or no room later are not counted
    score = sum(g for g, _ in gained.values())
    value = sum(v for _, v in gained.values())
    return Plan(
        plan.solver, status, value, None, None, seconds, plan.placements + tuple(later), unplaced, score, 0.0, bound
    )


def _held_note(u: Unplaced, problem: Problem, grid: Grid, held: Mapping[str, SClass]) -> Unplaced:
    """A deferrable job kept from starting now by a cheaper later slot says so first."""
    sc = held.get(u.job)  # only classes the rule held, so the problem has a share
    if sc is None or sc.held is None:
        return u
    t, saved, now_cny = sc.held
    note = hold_note(problem, grid.slot_start(t), saved, now_cny, problem.shift.hold_share)
    return Unplaced(u.job, (note, *u.reasons))


def _due_note(u: Unplaced, problem: Problem) -> Unplaced:
    """A due job left out says so first: its start has come, and it starts once there is room."""
    if u.job not in problem.due:
        return u
    first = "its scheduled start has come: it starts as soon as capacity allows, without waiting for a cheaper slot"
    return Unplaced(u.job, (first, *u.reasons))


def admit_later(inst: Instance, grid: Grid, started: tuple[Placement, ...], later: list[Placement]):
    """Keep the scheduled starts that pack, slot by slot, onto the nodes this plan's starts now
    leave (they hold named nodes until they end; the model counted them as blocks); the others
    become unplaced, to be planned again next cycle. The largest are tried first: where not all
    fit, small starts give way, and they are worth the least."""
    problem = inst.problem
    jobs = {j.id: j for j in problem.jobs}
    pools = {(p.site, p.accelerator) for p in later}
    pinned: dict[tuple, list[tuple]] = {}  # pool -> (end, nodes, cards a node) of this plan's starts now
    for q in started:
        if not q.fixed and (q.site, q.accelerator) in pools:
            j = jobs[q.job]
            end = q.start + timedelta(hours=j.duration_h)
            pinned.setdefault((q.site, q.accelerator), []).append((end, q.node_names, j.accelerators.per_node))
    used: dict[tuple, dict[int, int]] = {}  # (pool, slot) -> level -> cards held by admitted starts
    caps: dict[tuple, dict[int, int]] = {}
    freed = freed_by_slot(inst, grid)
    kept, dropped = [], []
    for p in sorted(later, key=lambda x: (-x.nodes * jobs[x.job].accelerators.per_node, x.start, x.job)):
        job = jobs[p.job]
        pool = (p.site, p.accelerator)
        first = grid.slot_of(p.start - timedelta(hours=p.transfer_h))
        last = first + int(grid.widths(p.transfer_h + job.duration_h)[first])
        a = ceil_pow2_level(job.accelerators.per_node)
        demand = (1 << a) * job.accelerators.nodes
        ok = True
        for t in range(first, last):
            cap = caps.get((pool, t))
            if cap is None:
                free = dict(inst.nodes[pool].free) if pool in inst.nodes else {}
                for r in freed[t]:
                    if (r.site, r.accelerator) == pool:
                        for n in r.nodes:
                            free[n] = free.get(n, 0) + r.per_node
                at = grid.slot_start(t)
                for end, names, per_node in pinned.get(pool, ()):
                    if end > at:
                        for n in names:
                            free[n] -= per_node
                cap = caps[(pool, t)] = block_capacity(bit_counts(free.values()), range(LEVELS))
            held = used.get((pool, t), {})
            if any(held.get(b, 0) + demand > cap[b] for b in range(a + 1)):
                ok = False
                break
        if not ok:
            when = p.start.strftime("%m-%d %H:%M")
            dropped.append(Unplaced(p.job, (
                f"its start at {when} at {p.site} does not pack onto the nodes this plan's starts now "
                "leave there; it is planned again next cycle",
            )))  # fmt: skip
            continue
        for t in range(first, last):
            held = used.setdefault((pool, t), {})
            for b in range(a + 1):
                held[b] = held.get(b, 0) + demand
        kept.append(p)
    return kept, tuple(dropped)


def _scheduled(inst: Instance, grid: Grid, sc: SClass, cand, i: int, t: int) -> Placement:
    problem = inst.problem
    job = problem.jobs[i]
    site = inst.sites[cand.site]
    user, data = job_route(inst.graph, job, site.id)
    transfer = transfer_hours(job.data.size_tb, data.bottleneck_gbps) if job.data and data else 0.0
    start_h = float(grid.starts_h[t]) + transfer
    rate, cost, carbon = grid.run_cost(site.id, cand.power_kw, start_h, job.duration_h)
    _, cost0, carbon0 = grid.run_cost(site.id, cand.power_kw, transfer, job.duration_h)
    if job.data is not None and job.data.location not in (site.id, site.city):  # as the placements of now
        rate = rate + job.data.size_tb * problem.weights.transfer_cny_per_tb
    route = user or data
    note = deferral_note(problem, site, grid.slot_start(t), float(cost0 - cost), float(carbon0 - carbon))
    return Placement(
        job.id,
        cand.site,
        cand.model,
        sc.jc.nodes,
        job.accelerators.count,
        (),
        grid.slot_start(t) + timedelta(hours=transfer),
        route.nodes if route is not None else (site.id,),
        user.rtt_ms if user else None,
        cand.power_kw * job.duration_h,
        float(rate),
        float(carbon),
        transfer,
        scheduled=True,
        note=note,
    )
