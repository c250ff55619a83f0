"""The state file format, read and written in this one module, and the typed :class:`State` the
planner gets — from a file, or straight from a collected :class:`Snapshot` within a process.

Current usage per site and pool, and power draw (JSON):

```json
{"observed_at": "2026-11-25T09:00:00+08:00",
 "sites": {"nj-hub": {"power_draw_kw": 1200.0,
                      "pools": {"H800": {"free_per_node": {"nj-gpu-001": 8, "nj-gpu-002": 3}},
                                "Ascend910B": {"free_histogram": {"8": 150, "0": 50}}}}}}
```

``free_per_node`` names each node; ``free_histogram`` counts nodes by free cards (nodes named
``<site>/<model>-<n>``). Pools not listed are empty; sites without ``power_draw_kw`` draw nothing.
A collected state (``suanwang collect``) adds per site ``usable`` (false: too stale to plan on,
so the site offers no cards), staleness and utilisation, and ``links`` with measured RTT and
jitter between cities, which replace the derived latency of the links they measure.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from suanwang.collectors.snapshot import LinkMeasure, PoolSnapshot, SiteSnapshot, Snapshot
from suanwang.contract import Contract, Number, Refs, Text, Time, known, validate, whole
from suanwang.solvers.ledger import node_name
from suanwang.solvers.problem import PoolState, State
from suanwang.timeutil import iso, parse_time
from suanwang.topology.model import Topology
from suanwang.yamldoc import Checked, join, read_document


class PoolStateSpec(Contract):
    free_per_node: Annotated[dict[Text, whole(ge=0, le=64)], Field(max_length=1_000_000)] | None = None
    free_histogram: (
        Annotated[dict[Annotated[str, Field(pattern=r"^[0-9]{1,2}$")], whole(ge=0, le=1_000_000)], Field(max_length=65)]
        | None
    ) = None
    utilisation: Annotated[Number, Field(ge=0, le=1)] | None = None
    unhealthy: Annotated[list[Text], Field(max_length=1_000_000)] = []
    memory_used_gb: Annotated[Number, Field(ge=0, le=1e9)] | None = None


class SiteStateSpec(Contract):
    power_draw_kw: Annotated[Number, Field(ge=0, le=1e7)] = 0.0
    pools: Annotated[dict[Text, PoolStateSpec], Field(max_length=64)] = {}
    utilisation: Annotated[Number, Field(ge=0, le=1)] | None = None
    observed_at: Time | None = None
    stale: Annotated[bool, Field(strict=True)] = False
    age_s: Annotated[Number, Field(ge=0, le=1e9)] = 0.0
    cause: Text | None = None
    usable: Annotated[bool, Field(strict=True)] = True


class LinkMeasureSpec(Contract):
    from_: Annotated[Text, Field(alias="from"), known("cities", "city", "name a city of the topology")]
    to: Annotated[Text, known("cities", "city", "name a city of the topology")]
    rtt_ms: Annotated[Number, Field(gt=0, le=10_000)]
    jitter_us: Annotated[Number, Field(ge=0, le=1e6)] | None = None
    samples: whole(ge=0, le=10**9) = 0
    observed_at: Time | None = None


class PolicySpec(Contract):
    max_stale_s: Annotated[Number, Field(gt=0, le=7 * 86_400)] = 900.0


class StateFile(Contract):
    """A state file (format in this module's docstring)."""

    observed_at: Time | None = None
    policy: PolicySpec = PolicySpec()
    sites: Annotated[
        dict[Annotated[Text, known("sites", "site", "use a site id of the topology")], SiteStateSpec],
        Field(max_length=10_000),
    ] = {}
    links: Annotated[list[LinkMeasureSpec], Field(max_length=100_000)] = []
    unmatched: Annotated[list[Text], Field(max_length=100_000)] = []
    anomalies: Annotated[list[Text], Field(max_length=100_000)] = []


def load_state(source: str | Path, topology: Topology, text: str | None = None) -> State:
    """A state file as the planner's :class:`State`; raises InputError listing every fault."""
    doc = read_document(source, text)
    state = parse_state(doc, doc.data, topology)
    doc.raise_if_faulty("state file")
    return state


def parse_state(doc: Checked, raw: Any, topo: Topology) -> State | None:
    """The state in ``raw`` (faults recorded in ``doc``): the contract, then the pools against
    the topology's (models each site has, at most as many nodes and cards per node)."""
    context = Refs(sites=[s.id for s in topo.sites], cities=list(topo.cities))
    spec = validate(StateFile, doc, raw, context)
    _check_pools(doc, raw, topo)
    if spec is None or doc.faults:
        return None
    pools: dict[tuple[str, str], PoolState] = {}
    for sid, site in spec.sites.items():
        for model, ps in site.pools.items():
            if ps.free_per_node is not None:
                nodes = [(name, free) for name, free in ps.free_per_node.items()]
            else:
                nodes = []
                for free, count in (ps.free_histogram or {}).items():
                    nodes.extend((node_name(sid, model, len(nodes) + k), int(free)) for k in range(count))
            pools[(sid, model)] = PoolState(tuple(nodes))
    draw = {sid: s.power_draw_kw for sid, s in spec.sites.items() if s.power_draw_kw}
    known = {sid: set(s.pools) for sid, s in spec.sites.items()}
    _close_pools(pools, topo, known)
    why = unknown_sites(topo, known)
    for sid, s in spec.sites.items():
        if not s.usable:  # a site too stale to plan on offers nothing
            why[sid] = f"state {s.age_s:.0f} s old" + (f" ({s.cause})" if s.cause else "")
    links = {(lk.from_, lk.to): (lk.rtt_ms, lk.jitter_us) for lk in spec.links}
    return without_sites(State(pools, draw, spec.observed_at, links), topo, why)


def _check_pools(doc: Checked, raw: Any, topo: Topology) -> None:
    sites = raw.get("sites") if isinstance(raw, dict) else None
    for site in topo.sites:
        spec = sites.get(site.id) if isinstance(sites, dict) else None
        pools = spec.get("pools") if isinstance(spec, dict) else None
        for model, ps in pools.items() if isinstance(pools, dict) else ():
            pp = join(join(join("sites", site.id), "pools"), model)
            own = [pl for pl in site.pools if pl.accelerator == model]
            if not own:
                doc.fault(
                    pp,
                    f"site {site.id} has no {model} pool",
                    f"use one of: {', '.join(pl.accelerator for pl in site.pools)}",
                    model,
                )
                continue
            if not isinstance(ps, dict):
                continue
            size, total = max(pl.per_node for pl in own), sum(pl.nodes for pl in own)
            listed = 0
            if isinstance(ps.get("free_per_node"), dict):
                for name, free in ps["free_per_node"].items():
                    if isinstance(free, int) and free > size:
                        doc.fault(
                            join(join(pp, "free_per_node"), name),
                            f"must be at most {size}",
                            f"a {model} node here has {size} cards",
                            free,
                        )
                listed = len(ps["free_per_node"])
            elif isinstance(ps.get("free_histogram"), dict):
                for free, count in ps["free_histogram"].items():
                    if not (str(free).isdigit() and 0 <= int(free) <= size):
                        doc.fault(
                            join(join(pp, "free_histogram"), free),
                            f"free cards must be a whole number 0–{size}",
                            "key the histogram by free cards per node",
                            free,
                        )
                    elif isinstance(count, int):
                        listed += count
            else:
                doc.fault(pp, "gives no nodes", "add `free_per_node` or `free_histogram`")
                continue
            if listed > total:
                doc.fault(
                    pp,
                    f"lists {listed} nodes but the topology has {total}",
                    "list each node once, or update the topology",
                    listed,
                )


def without_sites(state: State | None, topo: Topology, sites: list[str] | dict[str, str]) -> State | None:
    """``state`` with the given sites offering no cards (drained, their API server unreachable, or
    nothing fresh known of them); ``sites`` may map each to why."""
    if not sites:
        return state
    why = dict(sites) if isinstance(sites, dict) else {sid: "left out" for sid in sites}
    base = state or State()
    pools = dict(base.pools)
    for site in topo.sites:
        if site.id in why:
            for pl in site.pools:
                old = pools.get((site.id, pl.accelerator))
                names = (
                    [n for n, _ in old.free_per_node]
                    if old
                    else [node_name(site.id, pl.accelerator, k) for k in range(pl.nodes)]
                )
                pools[(site.id, pl.accelerator)] = PoolState(tuple((n, 0) for n in names))
    merged = {**{s: why.get(s, "left out") for s in base.unusable}, **base.why}
    for sid, reason in why.items():
        merged.setdefault(sid, reason)
    return State(
        pools, base.power_draw_kw, base.observed_at, base.links, tuple(dict.fromkeys([*base.unusable, *why])), merged
    )


def unknown_sites(topo: Topology, known: dict[str, set[str]]) -> dict[str, str]:
    """Fail closed: sites the state says nothing about, and pools it leaves out, offer nothing.
    ``known`` maps each site the state covers to the models it gives nodes for."""
    out = {}
    for site in topo.sites:
        if site.id not in known:
            out[site.id] = "no state for it"
    return out


def _close_pools(pools: dict[tuple[str, str], PoolState], topo: Topology, known: dict[str, set[str]]) -> None:
    """Pools of a covered site that the state leaves out: unknown capacity, so nothing free."""
    for site in topo.sites:
        if site.id in known:
            for pl in site.pools:
                if pl.accelerator not in known[site.id] and (site.id, pl.accelerator) not in pools:
                    pools[(site.id, pl.accelerator)] = PoolState(
                        tuple((node_name(site.id, pl.accelerator, k), 0) for k in range(pl.nodes))
                    )


def state_note(state: State | None, topo: Topology) -> dict[str, Any]:
    """What a plan was made on, for its output: live state (with the sites that got nothing new
    and why) or the what-if of an empty network."""
    if state is None:
        return {
            "mode": "what-if",
            "note": "no live state: every site is assumed empty (a what-if, not the network today)",
        }
    return {
        "mode": "live",
        "observed_at": iso(state.observed_at, "seconds"),
        "sites_without_fresh_state": {sid: state.why.get(sid, "left out") for sid in state.unusable},
    }


def snapshot_state(snap: Snapshot, topology: Topology) -> State:
    """The planner's :class:`State` from a collected snapshot, with no text in between.

    The same as writing the snapshot with :func:`snapshot_to_dict` and reading it back with
    :func:`load_state` (a test holds the two equal): sites never read, or too stale to plan on,
    and pools no node was reported for offer nothing.
    """
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for site in topology.sites:
        for p in site.pools:
            per_node, nodes = sizes.get((site.id, p.accelerator), (0, 0))
            sizes[(site.id, p.accelerator)] = (max(per_node, p.per_node), nodes + p.nodes)
    pools: dict[tuple[str, str], PoolState] = {}
    draw: dict[str, float] = {}
    known: dict[str, set[str]] = {}
    why: dict[str, str] = {}
    for sid, s in snap.sites.items():
        if sid not in {site.id for site in topology.sites}:
            continue
        known[sid] = set(s.pools)
        if not s.usable:
            why[sid] = f"state {s.age_s:.0f} s old" + (f" ({s.cause})" if s.cause else "")
        if s.power_draw_kw:
            draw[sid] = s.power_draw_kw
        for model, p in s.pools.items():
            size = sizes.get((sid, model))
            if size is None:
                continue
            nodes = tuple((name, max(0, min(size[0], free))) for name, free in sorted(p.free_per_node.items()))
            pools[(sid, model)] = PoolState(nodes[: size[1]])
    _close_pools(pools, topology, known)
    why = {**unknown_sites(topology, known), **why}
    links = {
        (lk.a, lk.b): (lk.rtt_ms, lk.jitter_us)
        for lk in snap.links
        if lk.a in topology.cities and lk.b in topology.cities
    }
    return without_sites(State(pools, draw, snap.observed_at, links), topology, why) or State()


def snapshot_to_dict(snap: Snapshot) -> dict[str, Any]:
    """A snapshot in the state-file format (what ``suanwang collect -o json`` prints)."""
    sites = {}
    for sid, s in sorted(snap.sites.items()):
        sites[sid] = {
            "power_draw_kw": round(s.power_draw_kw, 3),
            "utilisation": None if s.utilisation is None else round(s.utilisation, 4),
            "observed_at": iso(s.observed_at, "seconds"),
            "stale": s.stale,
            "age_s": round(s.age_s, 1),
            "cause": s.cause,
            "usable": s.usable,
            "pools": {
                m: {
                    "free_per_node": dict(sorted(p.free_per_node.items())),
                    "utilisation": None if p.utilisation is None else round(p.utilisation, 4),
                    "unhealthy": sorted(p.unhealthy),
                    "memory_used_gb": None if p.memory_used_gb is None else round(p.memory_used_gb, 3),
                }
                for m, p in sorted(s.pools.items())
            },
        }
    return {
        "observed_at": iso(snap.observed_at, "seconds"),
        "policy": {"max_stale_s": snap.max_stale_s},
        "sites": sites,
        "links": [
            {
                "from": lk.a,
                "to": lk.b,
                "rtt_ms": round(lk.rtt_ms, 4),
                "jitter_us": None if lk.jitter_us is None else round(lk.jitter_us, 2),
                "samples": lk.samples,
                "observed_at": iso(lk.observed_at, "seconds"),
            }
            for lk in snap.links
        ],
        "unmatched": list(snap.unmatched),
        "anomalies": list(snap.anomalies),
    }


def snapshot_from_dict(d: dict[str, Any]) -> Snapshot:
    """Read back a snapshot written by :meth:`Snapshot.to_dict` (the previous collection)."""
    snap = Snapshot(
        parse_time(d.get("observed_at")) or datetime.min, float((d.get("policy") or {}).get("max_stale_s", 900.0))
    )
    for sid, s in (d.get("sites") or {}).items():
        pools = {
            m: PoolSnapshot(
                {str(k): int(v) for k, v in (p.get("free_per_node") or {}).items()},
                p.get("utilisation"),
                list(p.get("unhealthy") or []),
                p.get("memory_used_gb"),
            )
            for m, p in (s.get("pools") or {}).items()
        }
        snap.sites[sid] = SiteSnapshot(
            pools,
            float(s.get("power_draw_kw") or 0.0),
            s.get("utilisation"),
            parse_time(s.get("observed_at")),
            bool(s.get("stale")),
            float(s.get("age_s") or 0.0),
            s.get("cause"),
            bool(s.get("usable", True)),
        )
    for lk in d.get("links") or []:
        snap.links.append(
            LinkMeasure(
                lk["from"],
                lk["to"],
                float(lk["rtt_ms"]),
                lk.get("jitter_us"),
                int(lk.get("samples", 0)),
                parse_time(lk.get("observed_at")),
            )
        )
    return snap
