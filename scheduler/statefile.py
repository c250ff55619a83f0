"""Load a state file: current usage per site and pool, and power draw (JSON).

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

from pathlib import Path
from typing import Any

from suanwang.solvers.ledger import node_name
from suanwang.solvers.problem import PoolState, State
from suanwang.timeutil import parse_time
from suanwang.topology.model import Topology
from suanwang.yamldoc import Checked, join, read_document


def load_state(source: str | Path, topology: Topology, text: str | None = None) -> State:
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
                    else [f"{site.id}/{pl.accelerator}-{k:04d}" for k in range(pl.nodes)]
                )
                pools[(site.id, pl.accelerator)] = PoolState(tuple((n, 0) for n in names))
    return State(pools, base.power_draw_kw, base.observed_at, base.links, tuple(set(base.unusable) | set(sites)))
