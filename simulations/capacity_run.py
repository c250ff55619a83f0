"""One capacity-planning run, as the CLI and the API do it: solve, optionally compare with the
hand-made rules and validate by simulation, and return the plan's document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from suanwang.simulations.capacity_check import queue_greedy, validate
from suanwang.simulations.capacity_load import Planning
from suanwang.simulations.capacity_report import plan_document
from suanwang.solvers.capacity import plan_capacity
from suanwang.solvers.capacity_baselines import BASELINES, baseline
from suanwang.solvers.capacity_problem import CapacityPlan

RULES = (*BASELINES, "queue")


def run_planning(
    planning: Planning,
    *,
    with_validation: bool = False,
    rules: tuple[str, ...] = (),
    say: Callable[[str], None] | None = None,
) -> tuple[CapacityPlan, dict[str, Any]]:
    """The plan and its document; ``rules`` names baselines to compare (of :data:`RULES`)."""
    say = say or (lambda _m: None)
    if with_validation:
        planning.check_replay()
    plan = plan_capacity(planning.problem, progress=say)
    compared: dict[str, CapacityPlan] = {}
    for rule in rules:
        say(f"baseline {rule}")
        compared[rule] = queue_greedy(planning, say)[0] if rule == "queue" else baseline(planning.problem, rule)[0]
    checks = None
    if with_validation and plan.status in ("optimal", "feasible"):
        checks = validate(planning, plan, say)
    return plan, plan_document(planning, plan, compared or None, checks)
