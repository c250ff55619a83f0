"""A capacity plan as the CLI, the API and the report folder give it: one JSON-able document,
the table rows, and the summary markdown. Money is NPV in ¥ at the plan's discount rate unless a
field says otherwise; PFLOPS are dense FP16."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suanwang.simulations.capacity_check import YearCheck
from suanwang.simulations.capacity_load import Planning
from suanwang.solvers.capacity import capital_spent
from suanwang.solvers.capacity_problem import CapacityPlan

PARTS = ("capex", "opex", "sites", "network", "energy", "carbon", "unserved")


def plan_document(
    planning: Planning,
    plan: CapacityPlan,
    baselines: dict[str, CapacityPlan] | None = None,
    checks: list[YearCheck] | None = None,
) -> dict[str, Any]:
    p = planning.problem
    city = {s.id: s.city for s in p.topology.sites} | {c.site.id: c.site.city for c in p.candidates}
    by_year = []
    for y in p.years:
        demand = sum(v for (o, k, yy), v in plan.demand.items() if yy == y)
        served = sum(v for (o, k, yy), v in plan.served.items() if yy == y)
        costs = plan.costs_cny.get(y, {})
        by_year.append(
            {
                "year": y,
                "installed_pflops": plan.province_pflops.get(y),
                "demand_pflops": demand,
                "served_pflops": served,
                "unserved_pflops": demand - served,
                "target_pflops": p.targets.province_pflops.get(y),
                "budget_cny": p.budgets_cny.get(y),
                "spent_cny": capital_spent(p, plan, y),
                "npv_cny": {k: costs.get(k, 0.0) for k in PARTS},
            }
        )
    doc: dict[str, Any] = {
        "name": planning.name,
        "status": plan.status,
        "solver": plan.solver,
        "objective": p.objective,
        "npv_cny": plan.npv_cny,
        "objective_cny": plan.objective_cny,
        "bound_cny": plan.bound_cny,
        "gap": plan.gap,
        "solve_seconds": plan.solve_seconds,
        "variables": plan.variables,
        "rows": plan.rows,
        "discount_rate": p.discount_rate,
        "years": list(p.years),
        "reasons": list(plan.reasons),
        "additions": [
            {
                "site": a.site,
                "city": city.get(a.site),
                "accelerator": a.accelerator,
                "year": a.year,
                "order_year": a.order_year,
                "nodes": a.nodes,
                "cards": a.cards,
                "pflops": a.pflops,
                "capex_cny": a.capex_cny,
            }
            for a in plan.additions
        ],
        "openings": dict(plan.openings),
        "upgrades": dict(plan.upgrades),
        "by_year": by_year,
        "sites": [
            {
                "site": s.site,
                "year": s.year,
                "installed_pflops": s.installed_pflops,
                "used_pflops": s.used_pflops,
                "utilisation": s.utilisation,
                "power_kw": s.power_kw,
                "power_cap_kw": s.power_cap_kw,
            }
            for s in plan.sites
        ],
        "unserved": [
            {"origin": o, "class": k, "year": y, "pflops": v} for (o, k, y), v in sorted(plan.unserved.items(), key=str)
        ],
        "marginal_values": {
            "power_cny_per_kw": [
                {"site": s, "year": y, "value": v} for (s, y), v in sorted(plan.power_value_cny_per_kw.items()) if v
            ],
            "budget_cny_per_cny": {str(y): v for y, v in sorted(plan.budget_value_cny_per_cny.items())},
        },
    }
    if baselines:
        doc["baselines"] = {name: _baseline(plan, b) for name, b in baselines.items()}
    if checks is not None:
        doc["validation"] = {
            "tolerance": planning.spec.validate_.tolerance,
            "hours": planning.spec.validate_.hours,
            "confirmed": not any(c.flagged for c in checks),
            "years": [c.__dict__ for c in checks],
        }
    return doc


def _baseline(plan: CapacityPlan, b: CapacityPlan) -> dict[str, Any]:
    ok = b.status in ("optimal", "feasible") and b.npv_cny
    return {
        "status": b.status,
        "npv_cny": b.npv_cny,
        "served_share": b.served_share if ok else None,
        "installed_pflops": b.province_pflops,
        "plan_saving": (1 - plan.npv_cny / b.npv_cny) if ok and plan.npv_cny is not None else None,
        # the most any plan serving the same demand within the targets could save: one at the proven bound
        "saving_bound": (1 - plan.bound_cny / b.npv_cny) if ok and plan.bound_cny is not None else None,
        "reasons": list(b.reasons),
    }


def table_rows(doc: dict[str, Any], wide: bool = False) -> list[list[Any]]:
    """Additions by year and site (wide: with order year, cards and capex)."""
    rows = []
    for a in doc["additions"]:
        row = [str(a["year"]), a["site"], a["city"], a["accelerator"], a["nodes"], f"{a['pflops']:,.1f}"]
        if wide:
            row += [str(a["order_year"]), a["cards"], f"{a['capex_cny'] / 1e6:,.1f}"]
        rows.append(row)
    return rows


def _money(v: float | None) -> str:
    return "—" if v is None else f"¥{v / 1e6:,.1f} M"


def summary_markdown(doc: dict[str, Any]) -> str:
    lines = [
        f"# Capacity plan {doc['name']}",
        "",
        f"Status **{doc['status']}** ({doc['solver']}), NPV {_money(doc['npv_cny'])} at a {doc['discount_rate']:.0%} "
        f"discount rate; lower bound {_money(doc['bound_cny'])}, gap "
        f"{'—' if doc['gap'] is None else format(doc['gap'], '.2%')}; solved in {doc['solve_seconds']:.1f} s "
        f"({doc['variables']:,} variables, {doc['rows']:,} rows).",
        "",
    ]
    if doc["reasons"]:
        lines += ["## Notes", "", *[f"- {r}" for r in doc["reasons"]], ""]
    lines += [
        "## By year",
        "",
        "| year | installed PFLOPS | target | demand (capacity PFLOPS) | served "
        "| spent (¥ M, not discounted) | budget (¥ M) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["by_year"]:
        share = r["served_pflops"] / r["demand_pflops"] if r["demand_pflops"] else 1.0
        target = "—" if r["target_pflops"] is None else f"{r['target_pflops']:,.0f}"
        budget = "—" if r["budget_cny"] is None else f"{r['budget_cny'] / 1e6:,.1f}"
        installed = r["installed_pflops"] or 0.0
        lines.append(
            f"| {r['year']} | {installed:,.0f} | {target} | {r['demand_pflops']:,.0f} | {share:.1%} | "
            f"{r['spent_cny'] / 1e6:,.1f} | {budget} |"
        )
    lines += ["", "## Additions", "", "| in service | site | city | accelerator | nodes | PFLOPS | capex ¥ M |"]
    lines += ["|---|---|---|---|---:|---:|---:|"]
    for a in doc["additions"]:
        lines.append(
            f"| {a['year']} | {a['site']} | {a['city']} | {a['accelerator']} | {a['nodes']} | {a['pflops']:,.1f} | "
            f"{a['capex_cny'] / 1e6:,.1f} |"
        )
    if doc["openings"]:
        lines += ["", "Sites opened: " + ", ".join(f"{s} ({y})" for s, y in doc["openings"].items()) + "."]
    if doc["upgrades"]:
        lines += ["", "Links upgraded: " + ", ".join(f"{u} ({y})" for u, y in doc["upgrades"].items()) + "."]
    mv = doc["marginal_values"]
    if mv["power_cny_per_kw"] or any(mv["budget_cny_per_cny"].values()):
        lines += ["", "## Marginal values (LP relaxation)", ""]
        lines += [
            f"- one more kW of power cap at {m['site']} in {m['year']}: ¥{m['value']:,.0f}"
            for m in mv["power_cny_per_kw"]
        ]
        lines += [f"- one more ¥ of budget in {y}: ¥{v:,.3f}" for y, v in mv["budget_cny_per_cny"].items() if v]
    if "baselines" in doc:
        lines += ["", "## Against hand-made plans", ""]
        lines += ["| plan | status | NPV | served | the MILP's NPV is lower by | no plan's by more than |"]
        lines += ["|---|---|---:|---:|---:|---:|", f"| MILP | {doc['status']} | {_money(doc['npv_cny'])} | — | — | — |"]
        for name, b in doc["baselines"].items():
            served = "—" if b["served_share"] is None else f"{b['served_share']:.1%}"
            cells = ["—" if b[k] is None else f"{b[k]:.1%}" for k in ("plan_saving", "saving_bound")]
            lines.append(f"| {name} | {b['status']} | {_money(b['npv_cny'])} | {served} | {' | '.join(cells)} |")
        for name, b in doc["baselines"].items():
            lines += [f"- {name}: {r}" for r in b["reasons"]]
    if "validation" in doc:
        v = doc["validation"]
        verdict = "confirmed" if v["confirmed"] else "NOT confirmed"
        lines += [
            "",
            f"## Validation by simulation ({verdict}; tolerance {v['tolerance']:.0%}, {v['hours']:g} h a year)",
            "",
        ]
        lines += [
            "| year | served promised | served measured | busy promised (PFLOPS) | busy measured (cards) "
            "| wait p95 h | jobs | flag |"
        ]
        lines += ["|---|---:|---:|---:|---:|---:|---:|---|"]
        for c in v["years"]:
            p95 = "—" if c["wait_p95_h"] is None else f"{c['wait_p95_h']:.2f}"
            lines.append(
                f"| {c['year']} | {c['promised_served']:.1%} | {c['measured_served']:.1%} | {c['promised_busy']:.1%} | "
                f"{c['measured_busy']:.1%} | {p95} | {c['jobs']:,} | {c['why'] or 'ok'} |"
            )
    return "\n".join(lines) + "\n"


def write_report(folder: Path, doc: dict[str, Any]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "summary.md", folder / "plan.json"
    md.write_text(summary_markdown(doc), encoding="utf-8")
    js.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    return [md, js]
