"""Read a capacity-planning file (or an API body) into a :class:`Planning`: the problem for the
solver, plus what the validation replays. Every fault at once, with its line and field path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from suanwang.contract import Refs, validate
from suanwang.errors import Fault, InputError
from suanwang.simulations.capacity_demand import MAX_REPLAY_JOBS, Use, expected_jobs, uses_from_arrivals
from suanwang.simulations.capacity_file import CLASS_DEFAULTS, PlanningFile
from suanwang.simulations.scenario import demand_arrivals
from suanwang.simulations.workload import Arrival
from suanwang.solvers.capacity_problem import (
    HOURS_PER_YEAR,
    CandidateSite,
    CapacityProblem,
    ClassSpec,
    Demand,
    LinkUpgrade,
    Pack,
    Targets,
)
from suanwang.topology.loader import load_topology, topology_refs
from suanwang.topology.model import AcceleratorModel, CityName, KubeTarget, Metro, Site, SiteId, Topology
from suanwang.yamldoc import Checked, read_document

MAX_SIMULATED_ARRIVALS = 1_000_000


@dataclass(frozen=True)
class Planning:
    name: str
    problem: CapacityProblem
    spec: PlanningFile
    uses: dict[int, tuple[Use, ...]]  # year → average use by origin and class (what is replayed)
    base_arrivals: tuple[Arrival, ...] = ()  # demand.simulation's arrivals, when given
    start: datetime = datetime(2026, 1, 1)

    def check_replay(self) -> None:
        """Raise :class:`InputError` if validating would replay more jobs than the simulator takes."""
        models = {k: c.models for k, c in self.problem.classes.items()}
        for y, uses in self.uses.items():
            n = expected_jobs(list(uses), self.problem.topology, models, self.spec.validate_.hours)
            if n > MAX_REPLAY_JOBS:
                raise InputError(
                    f"validate: replaying {y} for {self.spec.validate_.hours:g} h would make ≈ {n:,.0f} jobs, "
                    f"more than {MAX_REPLAY_JOBS:,}; lower validate.hours",
                    [Fault("plan", "validate.hours", "too many jobs to replay", "lower validate.hours", None)],
                )


def load_planning(source: str | Path, text: str | None = None) -> Planning:
    """A planning file (paths in it relative to its folder)."""
    doc = read_document(source, text)
    return _planning(doc, Path(source).parent, files=True)


def planning_from_body(data: Any, source: str = "request body", default_network: Topology | None = None) -> Planning:
    """An API body: the same contract, but it may name no file on the server (inline the network);
    without ``network`` it plans from ``default_network`` (the service's)."""
    return _planning(Checked(data, {}, source, []), Path("."), files=False, default_network=default_network)


def _planning(doc: Checked, base: Path, *, files: bool, default_network: Topology | None = None) -> Planning:
    raw = doc.data if isinstance(doc.data, dict) else {}
    if "network" not in raw and default_network is not None:
        topo: Topology | None = default_network
    else:
        topo = _network(doc, raw.get("network", "jiangsu"), base, files)
    if topo is None:
        doc.raise_if_faulty("planning file")
    assert topo is not None
    spec = validate(PlanningFile, doc, doc.data, _refs(topo, raw))
    if spec is not None and not files and spec.demand.simulation is not None:
        sim = spec.demand.simulation
        if sim.pai or sim.azure or sim.openb:
            doc.fault("demand.simulation", "names a trace file on the server", "use `synthetic:` or give `rows:`")
    doc.raise_if_faulty("planning file")
    assert spec is not None
    start = datetime(spec.years[0], 1, 1)
    arrivals: list[Arrival] = []
    if spec.demand.simulation is not None:
        s = spec.demand.simulation
        if s.synthetic is not None and s.synthetic.jobs_per_hour * s.hours * s.growth > MAX_SIMULATED_ARRIVALS:
            doc.fault(
                "demand.simulation",
                f"would simulate ≈ {s.synthetic.jobs_per_hour * s.hours * s.growth:,.0f} arrivals, "
                f"more than {MAX_SIMULATED_ARRIVALS:,}",
                "lower jobs_per_hour, hours or growth (the rows scale to a year by themselves)",
            )
            doc.raise_if_faulty("planning file")
        arrivals = demand_arrivals(doc, s, topo, start, s.hours, s.seed, base, "demand.simulation")
        doc.raise_if_faulty("planning file")
    problem, uses = _problem(spec, topo, arrivals)
    name = spec.name or Path(doc.file).stem.replace(" ", "-")[:63] or "plan"
    return Planning(name, problem, spec, uses, tuple(arrivals), start)


def _network(doc: Checked, value: Any, base: Path, files: bool) -> Topology | None:
    try:
        if isinstance(value, dict):
            text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
            return load_topology(f"{doc.file} (network)", text=text, files=files)
        name = str(value)
        if name == "jiangsu":
            return load_topology(None)
        if not files:
            doc.fault("network", "names a file on the server", "inline the topology under `network:` or use jiangsu")
            return None
        return load_topology(Path(name) if Path(name).is_absolute() else base / name)
    except InputError as e:
        for f in e.faults or ():
            doc.fault("network", f"{f.path}: {f.message}" if f.path else f.message, f.fix, f.value)
        if not e.faults:
            doc.fault("network", e.summary, "give the built-in jiangsu or a topology file")
        return None


def _refs(topo: Topology, raw: dict[str, Any]) -> Refs:
    r = topology_refs(topo)
    new = raw.get("new_sites") if isinstance(raw.get("new_sites"), list) else []
    new_ids = [str(x["id"]) for x in new if isinstance(x, dict) and x.get("id") is not None]
    existing = [s.id for s in topo.sites]
    links = {frozenset((lk.a, lk.b)) for lk in topo.links}
    return Refs(r, sites=existing + new_ids, existing=existing, endpoints=r["endpoints"] + new_ids, links=links)


def mean_price(topo: Topology, zone: str, year: int) -> float:
    """A zone's energy price averaged over every hour of a year (¥/kWh)."""
    z = topo.grid_zones[zone]
    hours = [datetime(year, m, 15, h) for m in range(1, 13) for h in range(24)]
    return sum(z.price_at(t) for t in hours) / len(hours)


def _problem(spec: PlanningFile, topo: Topology, arrivals: list[Arrival]) -> tuple[CapacityProblem, dict]:
    y0 = spec.years[0]
    classes = {}
    for k, defaults in CLASS_DEFAULTS.items():
        given = spec.classes.get(k)
        vals = {f: getattr(given, f) if given and getattr(given, f) is not None else d for f, d in defaults.items()}
        classes[k] = ClassSpec(tuple(AcceleratorModel(m) for m in (given.models if given else [])), **vals)
    new_sites = {n.id: n for n in spec.new_sites}
    candidates = tuple(
        CandidateSite(
            Site(
                SiteId(n.id),
                CityName(n.city),
                n.tier,
                n.pue,
                n.power_cap_kw,
                n.grid_zone,  # type: ignore[arg-type]
                n.green_share,
                (),
                KubeTarget(context=n.id, namespace="suanwang"),
                Metro(**n.metro.model_dump()) if n.metro else Metro(),
            ),
            n.fixed_cost_cny,
            n.earliest_year or y0,
        )
        for n in spec.new_sites
    )
    packs = tuple(
        Pack(
            SiteId(p.site),
            AcceleratorModel(p.accelerator),
            p.per_node,
            p.capex_cny_per_node,
            p.kw_per_node
            if p.kw_per_node is not None
            else p.per_node * topo.accelerators[p.accelerator].power_w / 1000,
            max(p.earliest_year or y0, (new_sites[p.site].earliest_year or y0) if p.site in new_sites else y0),
            p.lead_years,
            p.max_nodes,
            p.opex_cny_per_node_year,
        )
        for p in spec.packs
    )
    upgrades = tuple(
        LinkUpgrade(
            u.id, u.from_, u.to, u.add_gbps, u.cost_cny, u.earliest_year or y0, u.new, u.kind, u.latency_ms, u.jitter_us
        )
        for u in spec.network_upgrades
    )
    ring_scale = 1.0 if spec.rings_are == "rtt" else 2.0
    uses: dict[int, list[Use]] = {y: [] for y in spec.years}
    for r in spec.demand.rows:
        load = r.pflops if r.pflops is not None else (r.pflops_h or 0.0) / HOURS_PER_YEAR
        rtt = (
            r.rtt_slo_ms
            if r.rtt_slo_ms is not None
            else (getattr(spec.rings_ms, r.ring) * ring_scale if r.ring else None)
        )
        uses[r.year].append(Use(r.origin, r.class_, load, rtt, r.max_jitter_us))
    if arrivals:
        uses[y0] += uses_from_arrivals(arrivals, topo, spec.demand.simulation.hours)  # type: ignore[union-attr]
    base = list(uses[y0])
    for y, factor in spec.demand.growth.items():
        uses[y] += [Use(u.origin, u.klass, u.pflops * factor, u.rtt_slo_ms, u.max_jitter_us) for u in base]
    demand = tuple(
        Demand(u.origin, u.klass, y, u.pflops / classes[u.klass].target_utilisation, u.rtt_slo_ms, u.max_jitter_us)  # type: ignore[arg-type]
        for y in spec.years
        for u in uses[y]
        if u.pflops > 0
    )
    prices = {z: spec.prices_cny_per_kwh.get(z, mean_price(topo, z, y0)) for z in topo.grid_zones}
    t = spec.targets
    problem = CapacityProblem(
        topology=topo,
        years=tuple(spec.years),
        packs=packs,
        candidates=candidates,
        upgrades=upgrades,
        classes=classes,
        demand=demand,
        budgets_cny=dict(spec.budgets_cny),
        price_cny_per_kwh=prices,
        carbon_cny_per_t=spec.carbon_price_cny_per_t,
        discount_rate=spec.discount_rate,
        targets=Targets(
            dict(t.province_pflops), dict(t.city_centres), dict(t.pue_cap), dict(t.min_green_share), t.coverage
        ),
        objective=spec.objective,
        solver=spec.solver,
        gap=spec.gap,
        time_limit_s=spec.time_limit_s,
    )
    return problem, {y: tuple(u) for y, u in uses.items()}
