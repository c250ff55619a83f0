"""The perfect-foresight oracle of a time-shifting scenario.

It knows every arrival of the run and the actual hourly series, and solves the time-indexed model
(:mod:`suanwang.solvers.shift`) once over the whole run, from an empty network: each job may start
from the slot it arrives in (or its window opens), deferrable ones until their deadline allows.
Its node rows are the relaxation every node-level plan meets (9'), not the exact block rows, so
no packing detail makes it worse than a policy that places node by node; and work with no slack
may wait for room as in the replay (``Shift.grace_slots``: never for a price, each slot costs a
tenth of its value), or it would have to take capacity the deferrable work needs.
Its starts are then metered on the actual series, as the replay's are, so the saving of an online
policy can be set against the most any plan could save on the same work.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

from suanwang.simulations.events import Outcome
from suanwang.simulations.meter import Meter
from suanwang.simulations.scenario import Scenario
from suanwang.solvers import solve
from suanwang.solvers.forecast import outlook
from suanwang.solvers.problem import Problem, Shift
from suanwang.solvers.shift import deferrable
from suanwang.topology.model import facility_kw

GRACE = 3  # slots work with no slack may wait for room (a replay's p95 wait at full load is about one)


def run_oracle(sc: Scenario, time_limit_s: float = 30.0) -> Outcome:
    """The oracle's outcome for ``sc`` (whose policy has ``shift``)."""
    shift = sc.policy.shift or Shift()
    arrive_until = sc.start + timedelta(hours=sc.hours)
    end = arrive_until + timedelta(hours=sc.drain_h)
    arrivals = [a for a in sc.arrivals if a.at < arrive_until]
    jobs = tuple(
        replace(a.job, earliest=max(a.at, a.job.earliest) if a.job.earliest else a.at, submitted_at=a.at)
        for a in arrivals
    )
    slots = max(1, math.ceil((sc.hours + sc.drain_h) / shift.slot_h))
    whole = Shift(horizon_h=slots * shift.slot_h, slot_min=shift.slot_min, exact_nodes=False, grace_slots=GRACE,
                  hold_share=None)  # fmt: skip
    longest = max((j.duration_h for j in jobs), default=1.0)
    look = outlook(sc.topology, sc.start, int(whole.horizon_h + longest) + 2, "oracle")
    problem = Problem(
        sc.topology, jobs, sc.start, None, sc.policy.weights, time_limit_s=time_limit_s, shift=whole, outlook=look
    )
    plan = solve(problem, "cpsat", with_bound=True)
    out = Outcome(arrivals=len(arrivals))
    meter = Meter(sc.topology, sc.start, end)
    sites = {s.id: s for s in sc.topology.sites}
    by_id = {j.id: (a, j) for a, j in zip(arrivals, jobs, strict=True)}
    for a, j in by_id.values():
        if deferrable(j, a.at, 1.0):
            out.deferrable_arrivals += 1
    for p in plan.placements:
        a, job = by_id[p.job]
        kw = facility_kw(job.accelerators.count, sc.topology.accelerators[p.accelerator], sites[p.site].pue)
        finish = p.start + timedelta(hours=job.duration_h)
        kwh, kg, cny = meter.add(p.site, kw, p.start, finish)
        out.placed += 1
        out.placed_value += job.priority * job.accelerators.count * sc.topology.accelerators[p.accelerator].pflops
        begin = p.start - timedelta(hours=p.transfer_h)
        out.waits_h.append(max(0.0, (begin - a.at).total_seconds() / 3600))
        if finish <= end:
            out.completed += 1
            out.completion_h.append((finish - a.at).total_seconds() / 3600)
        else:
            out.still_running += 1
        if deferrable(job, a.at, 1.0):
            out.deferrable_delay_h.append(max(0.0, (begin - job.earliest).total_seconds() / 3600))
            out.deferrable_energy_kwh += kwh
            out.deferrable_carbon_kg += kg
            out.deferrable_cost_cny += cny
            if job.deadline is not None and finish > job.deadline:
                out.deadline_misses += 1
    for u in plan.unplaced:
        a, job = by_id[u.job]
        out.still_queued += 1
        out.waits_h.append((end - a.at).total_seconds() / 3600)
        if deferrable(job, a.at, 1.0):
            out.deadline_misses += 1
    out.energy_kwh, out.carbon_kg, out.cost_cny = meter.energy_kwh, meter.carbon_kg, meter.cost_cny
    out.energy_by_site_kwh.update(meter.energy_by_site_kwh)
    out.carbon_by_hour.update(meter.carbon_by_hour())
    out.hours, out.power_by_hour_kw = list(meter.hours), list(meter.energy_hour_kwh)
    out.plans[plan.status] += 1
    out.solve_seconds = plan.solve_seconds
    return out
