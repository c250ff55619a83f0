"""Plan capacity: solve the MILP of :mod:`.capacity_model` with CBC or HiGHS, read the plan, its
gap and the LP relaxation's dual prices, and say which targets make a problem infeasible.

The reported bound is the better of the solver's own best bound and the LP relaxation's optimum;
both are lower bounds on the objective of any plan, so the gap is never understated.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import pulp

from suanwang.highs import silence_banner
from suanwang.solvers.capacity_model import Model, build
from suanwang.solvers.capacity_problem import Addition, CapacityPlan, CapacityProblem, SiteYear

Progress = Callable[[str], None]


def plan_capacity(
    problem: CapacityProblem,
    *,
    fixed: dict[tuple[int, int], int] | None = None,
    progress: Progress | None = None,
    duals: bool = True,
) -> CapacityPlan:
    """The cheapest plan (NPV) that meets the targets; ``fixed`` evaluates a given build instead."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    say("building the model")
    m = build(problem, fixed=fixed)
    say(f"solving: {m.prob.numVariables():,} variables, {m.prob.numConstraints():,} rows ({problem.solver})")
    remaining = max(1.0, problem.time_limit_s - (time.perf_counter() - t0))
    if problem.objective == "lexicographic":
        status, solver_bound = _lexicographic(m, problem, remaining)
    else:
        status, solver_bound = _solve(m, problem, remaining, mip=True)
    if status == "infeasible":
        say("infeasible: finding the targets that bind")
        reasons = diagnose(problem, fixed=fixed)
        return CapacityPlan(
            "infeasible",
            problem.solver,
            None,
            None,
            None,
            time.perf_counter() - t0,
            reasons=tuple(reasons),
            variables=m.prob.numVariables(),
            rows=m.prob.numConstraints(),
        )
    if status == "not solved":
        return CapacityPlan(
            "not solved",
            problem.solver,
            None,
            None,
            None,
            time.perf_counter() - t0,
            reasons=(
                f"no plan found within {problem.time_limit_s:g} s; raise time_limit_s or simplify the candidates",
            ),
        )
    plan = _extract(m, problem, status, time.perf_counter() - t0)
    values: dict = {}
    lp_bound = None
    if duals and problem.objective == "npv":
        say("LP relaxation: bound and dual prices")
        lp_bound, values = relaxation(problem, fixed=fixed)
    bound = max((b for b in (solver_bound, lp_bound) if b is not None), default=None)
    obj = pulp.value(m.prob.objective)  # lexicographic: the money, with Σ z held at its minimum
    gap = None
    if bound is not None and obj is not None:
        bound = min(bound, obj)
        gap = (obj - bound) / max(abs(obj), 1e-9)
    say(f"done: {plan.status}, gap {gap:.2%}" if gap is not None else f"done: {plan.status}")
    return replace(
        plan,
        bound_cny=bound,
        gap=gap,
        objective_cny=obj,
        power_value_cny_per_kw=values.get("power", {}),
        budget_value_cny_per_cny=values.get("budget", {}),
        solve_seconds=time.perf_counter() - t0,
    )


def capital_spent(problem: CapacityProblem, plan: CapacityPlan, year: int) -> float:
    """Capital paid in ``year``, not discounted: packs ordered, sites opened, links laid (19)."""
    out = sum(a.capex_cny for a in plan.additions if a.order_year == year)
    out += sum(c.fixed_cost_cny for c in problem.candidates if plan.openings.get(c.site.id) == year)
    return out + sum(u.cost_cny for u in problem.upgrades if plan.upgrades.get(u.id) == year)


# -- solve ---------------------------------------------------------------------------------------
def _solve(m: Model, problem: CapacityProblem, time_limit_s: float, *, mip: bool) -> tuple[str, float | None]:
    """Status (optimal | feasible | infeasible | not solved) and the solver's best bound."""
    if problem.solver == "highs":
        silence_banner()  # PuLP's HiGHS solvers print nothing once the process has made a quiet one
        solver = pulp.HiGHS(mip=mip, msg=False, gapRel=problem.gap, timeLimit=time_limit_s, threads=1)
        m.prob.solve(solver)
        bound = None
        if mip and m.prob.solverModel is not None:
            info = m.prob.solverModel.getInfo()
            b = getattr(info, "mip_dual_bound", None)
            bound = b if b is not None and abs(b) < 1e30 else None
        return _status(m.prob), bound
    with warnings.catch_warnings():  # the bundled CBC, as PuLP 3 ships it
        warnings.simplefilter("ignore", DeprecationWarning)
        solver = pulp.PULP_CBC_CMD(mip=mip, msg=False, gapRel=problem.gap, timeLimit=time_limit_s)
        m.prob.solve(solver)
    status = _status(m.prob)
    return status, _cbc_bound(status, pulp.value(m.prob.objective), problem.gap) if mip else None


def _cbc_bound(status: str, objective: float | None, gap: float) -> float | None:
    """A bound CBC has proven: when it reports an optimum it is within its relative gap, so
    obj − gap·|obj| bounds every plan; stopped early, it reports none (the LP relaxation's is used)."""
    if status == "optimal" and objective is not None:
        return objective - gap * abs(objective)
    return None


def _status(prob: pulp.LpProblem) -> str:
    if prob.status == pulp.LpStatusInfeasible:
        return "infeasible"
    if prob.sol_status == pulp.LpSolutionOptimal:
        return "optimal"
    if prob.sol_status == pulp.LpSolutionIntegerFeasible or (
        prob.status == pulp.LpStatusOptimal and pulp.value(prob.objective) is not None
    ):
        return "feasible"
    if prob.status == pulp.LpStatusUnbounded:
        return "infeasible"
    return "not solved"


def _lexicographic(m: Model, problem: CapacityProblem, time_limit_s: float) -> tuple[str, float | None]:
    """Serve the most (min Σ z), then the cheapest with Σ z held at that minimum."""
    z = pulp.lpSum(m.z.values())
    money = pulp.lpSum(v for k, v in m.money.items() if k[0] != "unserved")
    m.prob.setObjective(z)
    status, _ = _solve(m, problem, time_limit_s / 2, mip=True)
    if status in ("infeasible", "not solved"):
        return status, None
    best = pulp.value(z) or 0.0
    m.prob += z <= best + 1e-6 * max(1.0, best) + 1e-6, "lexicographic_served"
    m.prob.setObjective(money)
    return _solve(m, problem, time_limit_s / 2, mip=True)


# -- relaxation and duals ------------------------------------------------------------------------
def relaxation(problem: CapacityProblem, *, fixed=None) -> tuple[float | None, dict]:
    """The LP relaxation's optimum (a lower bound on any plan's objective) and its dual prices:
    ¥ of NPV one more kW of power cap saves at a site in a year, and one more ¥ of budget."""
    m = build(problem, relax=True, fixed=fixed)
    status, _ = _solve(m, problem, max(10.0, problem.time_limit_s), mip=False)
    if status not in ("optimal", "feasible"):
        return None, {}
    power = {}
    for name, key in m.power_rows.items():
        c = m.prob.get_constraint_by_name(name)
        if c is not None and c.pi is not None:
            power[key] = -c.pi if abs(c.pi) > 1e-9 else 0.0  # the row is in facility kW
    budget = {}
    for name, y in m.budget_rows.items():
        c = m.prob.get_constraint_by_name(name)
        if c is not None and c.pi is not None:
            budget[y] = -c.pi if abs(c.pi) > 1e-12 else 0.0
    return pulp.value(m.prob.objective), {"power": power, "budget": budget}


# -- diagnosis -------------------------------------------------------------------------------------
def diagnose(problem: CapacityProblem, *, fixed=None) -> list[str]:
    """Why no plan meets the targets: the targets left short when their shortfall is minimised,
    within the budgets and, where that is what binds, also without them."""
    reasons = _shortfalls(problem, fixed, budgets=True)
    if not reasons:
        return ["the model has no plan, yet every target can be met alone; check the pack and site years"]
    if problem.budgets_cny and fixed is None:
        free = _shortfalls(problem, fixed, budgets=False)
        years = ", ".join(str(y) for y in sorted(problem.budgets_cny))
        if not free:
            reasons.append(f"the budgets of {years} bind: raise them or lower the targets above")
        else:
            reasons.append(
                "even without budget limits the targets above are short: add candidates (sites, packs, "
                "floor space, power) or lower the targets"
            )
    return reasons


def _shortfalls(problem: CapacityProblem, fixed, *, budgets: bool) -> list[str]:
    m = build(problem, elastic=True, budgets=budgets, fixed=fixed)
    status, _ = _solve(m, problem, problem.time_limit_s, mip=True)
    if status not in ("optimal", "feasible"):
        return ["no plan meets even the hard limits (power caps, floor space, budgets) with every target relaxed"]
    out = []
    for _name, (var, label, rhs) in m.slack.items():
        short = var.value() or 0.0
        if short > 1e-6 * max(1.0, abs(rhs)):
            reach = rhs - short
            out.append(f"{label} — at most {reach:,.4g} reachable, {short:,.4g} short")
    return out


# -- extraction ----------------------------------------------------------------------------------
def _extract(m: Model, problem: CapacityProblem, status: str, seconds: float) -> CapacityPlan:
    acc = problem.topology.accelerators
    years = list(m.disc)
    additions = []
    kw_added: dict[tuple[str, int], float] = defaultdict(float)  # IT kW entering service
    for (i, y), var in sorted(m.x.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n = int(round(var.value() or 0))
        if n > 0:
            p = problem.packs[i]
            kw_added[p.site, y] += n * p.kw_per_node
            additions.append(
                Addition(
                    p.site,
                    p.accelerator,
                    y,
                    n,
                    n * p.per_node,
                    n * p.per_node * acc[p.accelerator].pflops,
                    n * p.capex_cny_per_node,
                    y - p.lead_years,
                )
            )
    openings = {}
    for (sid, y), var in sorted(m.v.items(), key=lambda kv: kv[0][1]):
        if (var.value() or 0) > 0.5 and sid not in openings:
            openings[sid] = y
    upgrades = {}
    for (uid, y), var in sorted(m.g.items(), key=lambda kv: kv[0][1]):
        if (var.value() or 0) > 0.5 and uid not in upgrades:
            upgrades[uid] = y
    served, unserved, demand = defaultdict(float), defaultdict(float), defaultdict(float)
    for j, d in enumerate(problem.demand):
        key = (d.origin, d.klass, d.year)
        z = m.z[j].value() or 0.0
        demand[key] += d.capacity_pflops
        unserved[key] += z
        served[key] += d.capacity_pflops - z
    used = defaultdict(float)
    for (sid, _mod, _k, y), var in m.a.items():
        used[sid, y] += var.value() or 0.0
    start_pf, start_kw = defaultdict(float), defaultdict(float)
    for s in problem.topology.sites:
        for pool in s.pools:
            start_pf[s.id] += pool.cards * acc[pool.accelerator].pflops
            start_kw[s.id] += pool.cards * acc[pool.accelerator].power_w / 1000.0
    site_years, province = [], {}
    for y in years:
        total = 0.0
        for sid, s in m.sites.items():
            added = [a for a in additions if a.site == sid and a.year <= y]
            pf = start_pf[sid] + sum(a.pflops for a in added)
            kw = s.pue * (start_kw[sid] + sum(v for (k, yy), v in kw_added.items() if k == sid and yy <= y))
            is_open = sid not in m.candidate or (sid in openings and openings[sid] <= y)
            total += pf
            if is_open:
                site_years.append(SiteYear(sid, y, True, pf, used[sid, y], kw, s.power_cap_kw))
        province[y] = total
    costs = {y: defaultdict(float) for y in years}
    for (part, y), expr in m.money.items():
        costs[y][part] += pulp.value(expr) or 0.0
    npv = sum(v for y in years for k, v in costs[y].items() if k != "unserved")
    return CapacityPlan(
        status,
        problem.solver,
        npv,
        None,
        None,
        seconds,
        additions=tuple(additions),
        openings=openings,
        upgrades=upgrades,
        sites=tuple(site_years),
        served=dict(served),
        unserved={k: v for k, v in unserved.items() if v > 1e-5},  # below: solver tolerance
        demand=dict(demand),
        costs_cny={y: dict(c) for y, c in costs.items()},
        province_pflops=province,
        reasons=tuple(m.excluded),
        variables=m.prob.numVariables(),
        rows=m.prob.numConstraints(),
    )
