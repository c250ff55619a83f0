"""Placement and planning solvers: pure functions ``problem -> result``.

The CP-SAT placement model (:mod:`.cpsat` over :mod:`.aggregate`), its LP relaxation bound
(:mod:`.lp_bound`), the baseline policies (greedy first-fit, best-fit, Karmada-like,
:mod:`.baselines`), an independent checker (:mod:`.checker`) and plain-word reasons
(:mod:`.explain`); start-time decisions (:mod:`.shift`); the capacity planner, a PuLP MILP over
years (:mod:`.capacity`, :mod:`.capacity_model`) with hand-made baselines
(:mod:`.capacity_baselines`); the LP bound on what start times could save (:mod:`.start_bound`).
No I/O, no printing, no mutation of inputs; depends only on :mod:`suanwang.topology`.

Constraints — one numbering across instance, aggregate, cpsat, checker and explain
    (1) model and memory: the pool's accelerator is allowed and has the memory asked for
    (2) latency: the round trip from the job's origin to the site is within its SLO
    (3) deterministic path: a CENI path from the origin within the jitter bound
    (4) data and deadline: moving the data plus the run ends before the deadline
    (5) each job placed at most once, all its nodes in one site (gang, all or nothing)
    (6) node-granular capacity: every node keeps its free cards
    (7) deterministic bandwidth: reservations stay within each link's bandwidth
    (8) site power: draw at PUE stays under the site's power cap
    (9)–(11) (6), (8) and (7) in every slot of the horizon, for jobs started or scheduled
    (12) grid events: the draw of the event's sites stays under its cap in its window
    (9') instead of (9), for a relaxation: nodes with ≥ k free cards and free cards, per slot
    (13)–(24) capacity planning (:mod:`.capacity_model`, PuLP): demand served or not, classes on
            their models, installed capacity, power at full load, floor space and cumulative
            purchases, link bandwidth, budgets, the province target, ring coverage, PUE caps,
            green share, city-level centres
    (25)–(27) tenants' quotas: nominal plus borrowing, the cohort's pool, guarantees (:mod:`.quota`)
    (28)–(29) the start-time bound (:mod:`.start_bound`): one start a job, cards per pool and hour
(1)–(4) decide which (job class, pool) candidates exist (:mod:`.instance`); (5)–(8) are the rows
of the model (:mod:`.aggregate`); with start-time decisions (:mod:`.shift`) (5) and (9)–(12).
"""

from __future__ import annotations

import dataclasses
import math
import time

from suanwang.gcpause import collector_paused
from suanwang.solvers.problem import Plan, Problem, Shift

SOLVERS = ("cpsat", "greedy", "bestfit", "karmada")


def solve(problem: Problem, solver: str = "cpsat", *, with_bound: bool = True) -> Plan:
    """Place ``problem``'s jobs with the named solver (one of :data:`SOLVERS`).

    With ``problem.shift`` and CP-SAT (or with grid events in ``problem.limits``, whatever the
    solver) the time-indexed model decides start slots too, and the plan carries its score bound. Otherwise,
    with ``with_bound``, the plan carries the LP relaxation's bound and the gap to it. Raises
    :class:`~suanwang.errors.InputError` for an unknown solver name.
    """
    from suanwang.errors import InputError

    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    with collector_paused():  # the plan's structures are acyclic; the collector's passes only cost
        return _solve(problem, solver, with_bound, time.perf_counter())


def _solve(problem: Problem, solver: str, with_bound: bool, called: float) -> Plan:
    from suanwang.solvers.aggregate import relaxation
    from suanwang.solvers.baselines import solve_baseline
    from suanwang.solvers.cpsat import solve_cpsat
    from suanwang.solvers.instance import build_instance
    from suanwang.solvers.lp_bound import solve_lp_later

    if problem.limits and problem.shift is None:  # grid events: look ahead to their end
        ahead_h = max((lim.end - problem.now).total_seconds() / 3600.0 for lim in problem.limits)
        problem = dataclasses.replace(problem, shift=Shift(horizon_h=min(168.0, max(1.0, math.ceil(ahead_h)))))
    instance = build_instance(problem)
    if problem.limits or (problem.shift is not None and solver == "cpsat"):
        from suanwang.solvers.shift import solve_shift

        plan = solve_shift(problem, instance, with_bound=with_bound, called=called)
        return _with_preemptions(problem, instance, plan)
    started: list = []

    def start_bound() -> None:  # on the LP thread (the other core), after the search's own LP
        if with_bound and not started:
            started.append(solve_lp_later(lambda: relaxation(instance)))

    if solver == "cpsat":
        plan = solve_cpsat(problem, instance, after_lp=start_bound)
    else:
        start_bound()
        plan = solve_baseline(problem, solver, instance)
    plan = _with_preemptions(problem, instance, plan)
    if not with_bound:
        return plan
    start_bound()  # CP-SAT's plan came before its LP was needed
    bound = started[0].result().bound
    gap = (bound - plan.objective) / bound if bound > 0 else 0.0
    return dataclasses.replace(plan, bound=bound, gap=gap, solve_seconds=plan.solve_seconds)


def _with_preemptions(problem: Problem, instance, plan: Plan) -> Plan:
    """With ``problem.preempt``: the evictions that make room for what the plan leaves out."""
    if not problem.preempt or not plan.unplaced:
        return plan
    from suanwang.solvers.preempt import preemptions

    evictions, unplaced = preemptions(problem, instance, plan)
    return dataclasses.replace(plan, evictions=evictions, unplaced=unplaced)
