"""The service's Prometheus metrics, registered on an injected ``CollectorRegistry``.

Names follow Prometheus conventions: base units (``_watts``, ``_seconds``), ``_ratio`` for 0–1,
``_total`` for counters. Refreshed at the end of every control-loop cycle; transitions are counted
where they happen.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

from suanwang.collectors.snapshot import Snapshot
from suanwang.solvers.problem import Plan, State
from suanwang.topology.model import Topology


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.cards = Gauge(
            "suanwang_site_cards",
            "Accelerator cards by site, model and state (total, allocated, free).",
            ["site", "model", "state"],
            registry=registry,
        )
        self.utilisation = Gauge(
            "suanwang_site_utilisation_ratio",
            "Mean accelerator utilisation, 0–1.",
            ["site", "model"],
            registry=registry,
        )
        self.power = Gauge(
            "suanwang_site_power_watts", "Power drawn by the site's cards at PUE.", ["site"], registry=registry
        )
        self.power_cap = Gauge("suanwang_site_power_cap_watts", "The site's power cap.", ["site"], registry=registry)
        self.carbon = Gauge(
            "suanwang_site_carbon_intensity_kg_per_kwh",
            "Grid carbon intensity at the site net of its green share.",
            ["site"],
            registry=registry,
        )
        self.stale = Gauge(
            "suanwang_site_stale", "1 when the site's state is stale, else 0.", ["site"], registry=registry
        )
        self.drained = Gauge("suanwang_site_drained", "1 when operators drained the site.", ["site"], registry=registry)
        self.queue = Gauge(
            "suanwang_queue_jobs",
            "Jobs waiting to be placed, by tenant and priority.",
            ["tenant", "priority"],
            registry=registry,
        )
        self.jobs = Gauge("suanwang_jobs", "Jobs by state.", ["state"], registry=registry)
        self.transitions = PromCounter(
            "suanwang_job_transitions_total", "Job state transitions.", ["to"], registry=registry
        )
        self.cycle = Histogram(
            "suanwang_cycle_duration_seconds",
            "Control-loop cycle duration.",
            registry=registry,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.leader = Gauge(
            "suanwang_leader", "1 on the replica that runs the control loop, 0 on the others.", registry=registry
        )
        self.loop_errors = PromCounter(
            "suanwang_loop_errors_total",
            "Control-loop stages that failed (the loop goes on), by stage.",
            ["stage"],
            registry=registry,
        )
        self.solve = Gauge("suanwang_solve_seconds", "Solver time of the latest plan.", registry=registry)
        self.objective = Gauge(
            "suanwang_plan_objective", "Placed priority-weighted PFLOPS of the latest plan.", registry=registry
        )
        self.gap = Gauge("suanwang_plan_gap_ratio", "Gap of the latest plan to the LP bound, 0–1.", registry=registry)
        self.unplaced = Gauge("suanwang_plan_unplaced_jobs", "Jobs the latest plan could not place.", registry=registry)
        self.scheduled = Gauge(
            "suanwang_plan_scheduled_jobs", "Jobs the latest plan starts in a later slot.", registry=registry
        )
        self.due_waiting = Gauge(
            "suanwang_plan_due_waiting_jobs",
            "Jobs whose scheduled start has come that the latest plan could not start (no room yet).",
            registry=registry,
        )
        self.feed_used = Gauge(
            "suanwang_carbon_feed_used",
            "1 when the latest cycle took the zone's carbon feed (kind: forecast, or measured hours), 0 when "
            "the file was missing, unreadable or stale and the zone's own forecast or series was taken.",
            ["zone", "kind"],
            registry=registry,
        )
        self.feed_age = Gauge(
            "suanwang_carbon_feed_age_seconds",
            "How long before the latest cycle the zone's carbon feed (kind: forecast or measured) was written.",
            ["zone", "kind"],
            registry=registry,
        )
        self.grid_cap = Gauge("suanwang_grid_event_cap_watts", "A grid event's cap.", ["event"], registry=registry)
        self.grid_draw = Gauge(
            "suanwang_grid_event_draw_watts",
            "Draw of a grid event's sites at the last cycle.",
            ["event"],
            registry=registry,
        )
        self.grid_shed = Gauge(
            "suanwang_grid_event_shed_watts",
            "Draw of the work suspended for a grid event.",
            ["event"],
            registry=registry,
        )
        self.grid_met = Gauge(
            "suanwang_grid_event_met",
            "1 while a grid event's cap is met (or not yet due); 0 when unmet or not verified by a fresh reading.",
            ["event"],
            registry=registry,
        )
        self.suspended = PromCounter(
            "suanwang_grid_suspended_jobs_total", "Running jobs suspended for grid events.", registry=registry
        )
        self.preemptions = PromCounter(
            "suanwang_preemptions_total", "Running jobs evicted for higher-priority work or reclaimed quota, by site.",
            ["site"], registry=registry,
        )  # fmt: skip
        self.preempted_lost = PromCounter(
            "suanwang_preempted_lost_card_seconds_total",
            "Card-seconds of work lost since the last checkpoint by evicted jobs, by site.",
            ["site"],
            registry=registry,
        )
        self.energy = PromCounter(
            "suanwang_energy_joules_total", "Energy of what ran, at PUE, by site and tenant.", ["site", "tenant"],
            registry=registry,
        )  # fmt: skip
        self.carbon_total = PromCounter(
            "suanwang_carbon_grams_total",
            "CO2 of what ran, by site, tenant and basis (location: the zone's intensity; market: after the site's "
            "green share).",
            ["site", "tenant", "basis"],
            registry=registry,
        )
        self.carbon_revised = PromCounter(
            "suanwang_carbon_revised_grams_total",
            "Changes to accrued CO2 when a zone's measured hours settle the estimate it was accrued at, by site, "
            "tenant, basis and direction (up, down): the accounts hold suanwang_carbon_grams_total + up - down.",
            ["site", "tenant", "basis", "direction"],
            registry=registry,
        )
        self.energy_cost = PromCounter(
            "suanwang_energy_cost_yuan_total", "Electricity cost of what ran, by site and tenant.", ["site", "tenant"],
            registry=registry,
        )  # fmt: skip

    def refresh_sites(
        self,
        topology: Topology,
        state: State | None,
        allocated: Counter,
        drained: set[str],
        snapshot: Snapshot | None,
        now,
    ) -> None:
        observed = snapshot.sites if snapshot is not None else {}
        for site in topology.sites:
            zone = topology.grid_zones[site.grid_zone]
            self.carbon.labels(site.id).set(zone.carbon_at(now) * (1.0 - site.green_share))
            self.power_cap.labels(site.id).set(site.power_cap_kw * 1000.0)
            self.drained.labels(site.id).set(1 if site.id in drained else 0)
            seen = observed.get(site.id)
            self.stale.labels(site.id).set(1 if seen is not None and seen.stale else 0)
            kw = seen.power_draw_kw if seen is not None else 0.0
            self.power.labels(site.id).set(1000.0 * (kw or (state.power_draw_kw.get(site.id, 0.0) if state else 0.0)))
            for model in dict.fromkeys(p.accelerator for p in site.pools):
                total = sum(p.cards for p in site.pools if p.accelerator == model)
                ps = state.pools.get((site.id, model)) if state else None
                free = sum(f for _, f in ps.free_per_node) if ps else max(0, total - allocated[(site.id, model)])
                self.cards.labels(site.id, model, "total").set(total)
                self.cards.labels(site.id, model, "free").set(free)
                self.cards.labels(site.id, model, "allocated").set(max(0, total - free))
                pool = seen.pools.get(model) if seen is not None else None
                util = pool.utilisation if pool is not None else None
                self.utilisation.labels(site.id, model).set(
                    util if util is not None else (total - free) / total if total else 0.0
                )

    def refresh_queue(self, by_state: dict[str, int], waiting: dict[tuple[str, int], int]) -> None:
        """Jobs by state, and pending jobs by (tenant, priority)."""
        self.queue.clear()
        self.jobs.clear()
        for state, n in by_state.items():
            self.jobs.labels(state).set(n)
        for (tenant, prio), n in waiting.items():
            self.queue.labels(tenant, str(prio)).set(n)

    def refresh_grid(self, events) -> None:
        for g in (self.grid_cap, self.grid_draw, self.grid_shed, self.grid_met):
            g.clear()
        for e in events:
            if e.resolved_cap_kw is not None:
                self.grid_cap.labels(e.id).set(1000.0 * e.resolved_cap_kw)
            self.grid_draw.labels(e.id).set(1000.0 * (e.draw_kw or 0.0))
            self.grid_shed.labels(e.id).set(1000.0 * (e.shed_kw or 0.0))
            self.grid_met.labels(e.id).set(0 if e.status in ("unmet", "unverified") else 1)

    def observe_accrual(self, accrued) -> None:
        for (tenant, site), (kwh, loc, mkt, cny) in accrued.by.items():
            self.energy.labels(site, tenant).inc(kwh * 3.6e6)
            self.carbon_total.labels(site, tenant, "location").inc(loc * 1000.0)
            self.carbon_total.labels(site, tenant, "market").inc(mkt * 1000.0)
            self.energy_cost.labels(site, tenant).inc(cny)
        for (tenant, site), changes in accrued.revised.items():
            for basis, kg in zip(("location", "market"), changes, strict=True):
                if kg:
                    self.carbon_revised.labels(site, tenant, basis, "up" if kg > 0 else "down").inc(abs(kg) * 1000.0)

    def observe_feeds(self, readings, kind: str) -> None:
        """Each zone's carbon feed of ``kind`` as the latest cycle found it (:mod:`..collectors.carbon_feed`)."""
        for zone, r in readings.items():
            self.feed_used.labels(zone, kind).set(1 if r.used else 0)
            self.feed_age.labels(zone, kind).set(r.age_h * 3600.0 if r.age_h is not None else float("nan"))

    def observe_plan(self, plan: Plan, due: frozenset[str] = frozenset()) -> None:
        self.scheduled.set(sum(1 for p in plan.placements if p.scheduled))
        self.due_waiting.set(sum(1 for u in plan.unplaced if u.job in due))
        self.solve.set(plan.solve_seconds)
        self.objective.set(plan.objective)
        self.gap.set(plan.gap or 0.0)
        self.unplaced.set(len(plan.unplaced))
