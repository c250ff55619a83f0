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
from typing import Any

from suanwang.collectors.snapshot import LinkMeasure, PoolSnapshot, SiteSnapshot, Snapshot
from suanwang.solvers.ledger import node_name
from suanwang.solvers.problem import PoolState, State
from suanwang.timeutil import parse_time
from suanwang.topology.model import Topology
from suanwang.yamldoc import Checked, join, read_document


def load_state(source: str | Path, topology: Topology, text: str | None = None) -> State:
    """A state file as the planner's :class:`State`; raises InputError listing every fault."""
    doc = read_document(source, text)
    state = parse_state(doc, doc.data, topology)
    doc.raise_if_faulty("state file")
    return state


def parse_state(doc: Checked, raw: Any, topo: Topology) -> State:
    root = doc.mapping(raw, "")
    doc.keys(root, "", ("observed_at", "sites", "policy", "links", "unmatched", "anomalies"))
    observed = None
    if root.get("observed_at") is not None:
        observed = parse_time(root["observed_at"])
        if observed is None:
            doc.fault("observed_at", "is not a date-time", "write ISO 8601", root["observed_at"])
    sites = {s.id: s for s in topo.sites}
    pools: dict[tuple[str, str], PoolState] = {}
    draw: dict[str, float] = {}
    unusable: list[str] = []
    for sid, spec in doc.mapping(root.get("sites"), "sites").items():
        sp = join("sites", sid)
        if sid not in sites:
            doc.fault(sp, "unknown site", "use a site id of the topology", sid)
            continue
        spec = doc.mapping(spec, sp)
        doc.keys(
            spec, sp, ("power_draw_kw", "pools", "utilisation", "observed_at", "stale", "age_s", "cause", "usable")
        )
        if spec.get("usable") is False:
            unusable.append(sid)
        kw = doc.number(spec, "power_draw_kw", sp, default=0.0, minimum=0.0, unit="kW")
        if kw:
            draw[sid] = kw
        site = sites[sid]
        for model, ps in doc.mapping(spec.get("pools"), join(sp, "pools"), required=False).items():
            pp = join(join(sp, "pools"), model)
            own = [pl for pl in site.pools if pl.accelerator == model]
            if not own:
                doc.fault(
                    pp,
                    f"site {sid} has no {model} pool",
                    f"use one of: {', '.join(pl.accelerator for pl in site.pools)}",
                    model,
                )
                continue
            size = max(pl.per_node for pl in own)
            total = sum(pl.nodes for pl in own)
            ps = doc.mapping(ps, pp)
            doc.keys(ps, pp, ("free_per_node", "free_histogram", "utilisation", "unhealthy", "memory_used_gb"))
            nodes: list[tuple[str, int]] = []
            if "free_per_node" in ps:
                for name, free in doc.mapping(ps["free_per_node"], join(pp, "free_per_node")).items():
                    f = doc.number({name: free}, name, join(pp, "free_per_node"), integer=True, minimum=0, maximum=size)
                    if f is not None:
                        nodes.append((str(name), f))
            elif "free_histogram" in ps:
                hp = join(pp, "free_histogram")
                for free, count in doc.mapping(ps["free_histogram"], hp).items():
                    try:
                        f = int(free)
                    except ValueError:
                        f = -1
                    if not 0 <= f <= size:
                        doc.fault(
                            join(hp, free),
                            f"free cards must be a whole number 0–{size}",
                            "key the histogram by free cards per node",
                            free,
                        )
                        continue
                    n = doc.number({free: count}, free, hp, integer=True, minimum=0)
                    if n:
                        nodes.extend((node_name(sid, model, len(nodes) + k), f) for k in range(n))
            else:
                doc.fault(pp, "gives no nodes", "add `free_per_node` or `free_histogram`")
                continue
            if len(nodes) > total:
                doc.fault(
                    pp,
                    f"lists {len(nodes)} nodes but the topology has {total}",
                    "list each node once, or update the topology",
                    len(nodes),
                )
                continue
            pools[(sid, model)] = PoolState(tuple(nodes))
    links = {}
    for i, lk in enumerate(doc.sequence(root.get("links"), "links", required=False)):
        lp = join("links", i)
        lk = doc.mapping(lk, lp)
        a, b = doc.string(lk, "from", lp), doc.string(lk, "to", lp)
        for k, end in (("from", a), ("to", b)):
            if end is not None and end not in topo.cities:
                doc.fault(join(lp, k), "unknown city", "name a city of the topology", end)
        rtt = doc.number(lk, "rtt_ms", lp, positive=True)
        jit = doc.number(lk, "jitter_us", lp, default=None, minimum=0.0)
        if a in topo.cities and b in topo.cities and rtt is not None:
            links[(a, b)] = (rtt, jit)
    # a site too stale to plan on offers nothing
    return without_sites(State(pools, draw, observed, links), topo, unusable)


def without_sites(state: State | None, topo: Topology, sites: list[str]) -> State | None:
    """``state`` with the given sites offering no cards (e.g. their API server is unreachable)."""
    if not sites:
        return state
    base = state or State()
    pools = dict(base.pools)
    for site in topo.sites:
        if site.id in sites:
            for pl in site.pools:
                old = pools.get((site.id, pl.accelerator))
                names = (
                    [n for n, _ in old.free_per_node]
                    if old
                    else [node_name(site.id, pl.accelerator, k) for k in range(pl.nodes)]
                )
                pools[(site.id, pl.accelerator)] = PoolState(tuple((n, 0) for n in names))
    return State(pools, base.power_draw_kw, base.observed_at, base.links, tuple(set(base.unusable) | set(sites)))


def snapshot_state(snap: Snapshot, topology: Topology) -> State:
    """The planner's :class:`State` from a collected snapshot, with no text in between.

    The same as writing the snapshot with :func:`snapshot_to_dict` and reading it back with
    :func:`load_state` (a test holds the two equal): sites too stale to plan on offer nothing.
    """
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for site in topology.sites:
        for p in site.pools:
            per_node, nodes = sizes.get((site.id, p.accelerator), (0, 0))
            sizes[(site.id, p.accelerator)] = (max(per_node, p.per_node), nodes + p.nodes)
    known = {site.id for site in topology.sites}
    pools: dict[tuple[str, str], PoolState] = {}
    draw: dict[str, float] = {}
    unusable: list[str] = []
    for sid, s in snap.sites.items():
        if sid not in known:
            continue
        if not s.usable:
            unusable.append(sid)
        if s.power_draw_kw:
            draw[sid] = s.power_draw_kw
        for model, p in s.pools.items():
            size = sizes.get((sid, model))
            if size is None:
                continue
            nodes = tuple((name, max(0, min(size[0], free))) for name, free in sorted(p.free_per_node.items()))
            pools[(sid, model)] = PoolState(nodes[: size[1]])
    links = {
        (lk.a, lk.b): (lk.rtt_ms, lk.jitter_us)
        for lk in snap.links
        if lk.a in topology.cities and lk.b in topology.cities
    }
    return without_sites(State(pools, draw, snap.observed_at, links), topology, unusable) or State()


_OFFSET = "+08:00"


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds") + _OFFSET


def snapshot_to_dict(snap: Snapshot) -> dict[str, Any]:
    """A snapshot in the state-file format (what ``suanwang collect -o json`` prints)."""
    sites = {}
    for sid, s in sorted(snap.sites.items()):
        sites[sid] = {
            "power_draw_kw": round(s.power_draw_kw, 3),
            "utilisation": None if s.utilisation is None else round(s.utilisation, 4),
            "observed_at": _iso(s.observed_at),
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
        "observed_at": _iso(snap.observed_at),
        "policy": {"max_stale_s": snap.max_stale_s},
        "sites": sites,
        "links": [
            {
                "from": lk.a,
                "to": lk.b,
                "rtt_ms": round(lk.rtt_ms, 4),
                "jitter_us": None if lk.jitter_us is None else round(lk.jitter_us, 2),
                "samples": lk.samples,
                "observed_at": _iso(lk.observed_at),
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
