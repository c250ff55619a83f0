"""Placement and planning solvers: pure functions ``problem -> result``.

Will hold the CP-SAT placement model, the LP relaxation bound, PuLP capacity planning and the
baseline policies (greedy first-fit, best-fit, Karmada-like). No I/O, no printing, no mutation
of inputs; depends only on :mod:`topology`.
"""

from __future__ import annotations

import dataclasses

from suanwang.solvers.problem import Plan, Problem

SOLVERS = ("cpsat", "greedy", "bestfit", "karmada")


def solve(problem: Problem, solver: str = "cpsat", *, with_bound: bool = True) -> Plan:
    """Place ``problem``'s jobs with the named solver; attach the LP relaxation bound and gap."""
    from suanwang.errors import InputError
    from suanwang.solvers.aggregate import aggregate
    from suanwang.solvers.baselines import solve_baseline
    from suanwang.solvers.cpsat import solve_cpsat
    from suanwang.solvers.instance import build_instance
    from suanwang.solvers.lp_bound import solve_lp

    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    instance = build_instance(problem)
    plan = solve_cpsat(problem, instance) if solver == "cpsat" else solve_baseline(problem, solver, instance)
    if not with_bound:
        return plan
    bound = solve_lp(aggregate(instance)).bound
    gap = max(0.0, (bound - plan.objective) / bound) if bound > 0 else 0.0
    return dataclasses.replace(plan, bound=bound, gap=gap, solve_seconds=plan.solve_seconds)
