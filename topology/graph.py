"""The network as a networkx multigraph, and the queries placement and planning ask of it.

Nodes are ``city:<name>`` and ``site:<id>``; every site hangs off its city by a metro edge.
Edges carry ``kind``, one-way ``latency_ms`` (measured or derived), ``jitter_us`` (``None`` where
a link gives no bound: only CENI links are deterministic), and ``bandwidth_gbps``.

Queries: lowest-latency path and RTT; the best deterministic path (CENI edges only, least
summed jitter, ties broken by latency) and whether it meets a jitter bound; bottleneck bandwidth;
which sites a city reaches within an RTT budget.
"""

from __future__ import annotations

import difflib
import weakref
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from suanwang.errors import InputError
from suanwang.topology.constants import HOP_DELAY_MS, METRO_HOP_DELAY_MS
from suanwang.topology.geo import derived_ceni_jitter_us, derived_latency_ms, great_circle_km
from suanwang.topology.model import Link, LinkKind, Site, Topology

_EPS_PER_MS = 1e-6  # tie-break weight of latency when choosing a deterministic path by jitter


@dataclass(frozen=True)
class Hop:
    """One traversed edge, in travel direction."""

    a: str
    b: str
    kind: LinkKind
    latency_ms: float
    jitter_us: float | None
    bandwidth_gbps: float
    link_id: str


@dataclass(frozen=True)
class Route:
    """A path between two endpoints (city names or site ids)."""

    src: str
    dst: str
    hops: tuple[Hop, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.src,) + tuple(h.b for h in self.hops)

    @cached_property
    def latency_ms(self) -> float:
        """One-way latency, the sum over hops."""
        return sum(h.latency_ms for h in self.hops)

    @cached_property
    def rtt_ms(self) -> float:
        return 2.0 * self.latency_ms

    @cached_property
    def jitter_us(self) -> float | None:
        """Summed jitter; ``None`` when some hop has no jitter bound (not deterministic)."""
        if any(h.jitter_us is None for h in self.hops):
            return None
        return sum(h.jitter_us for h in self.hops)  # type: ignore[misc]

    @cached_property
    def bottleneck_gbps(self) -> float:
        """Smallest bandwidth along the path (infinite for an empty path)."""
        return min((h.bandwidth_gbps for h in self.hops), default=float("inf"))

    @property
    def deterministic(self) -> bool:
        return all(h.kind == "ceni" for h in self.hops) and self.jitter_us is not None

    def meets_jitter(self, max_jitter_us: float) -> bool:
        j = self.jitter_us
        return self.deterministic and j is not None and j <= max_jitter_us

    def to_dict(self) -> dict[str, object]:
        return {
            "from": self.src,
            "to": self.dst,
            "nodes": list(self.nodes),
            "kinds": [h.kind for h in self.hops],
            "latency_ms": round(self.latency_ms, 4),
            "rtt_ms": round(self.rtt_ms, 4),
            "jitter_us": None if self.jitter_us is None else round(self.jitter_us, 3),
            "bottleneck_gbps": self.bottleneck_gbps,
            "deterministic": self.deterministic,
        }


def link_id(index: int, link: Link) -> str:
    """The id of the topology's ``index``-th link, as routes and reservations name it."""
    return f"{link.kind}:{link.a}-{link.b}#{index}"


def node_name(node: str) -> str:
    return node.split(":", 1)[1]


class NetworkGraph:
    """Queries over a :class:`Topology`. Build once per topology; results are cached."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._routes_cache: dict[str, dict[str, Route]] = {}
        self._det_cache: dict[str, dict[str, Route]] = {}
        self._bandwidth: dict[str, float] | None = None
        self.g = nx.MultiGraph()
        for c in topology.cities.values():
            self.g.add_node(f"city:{c.name}", kind="city", lat=c.lat, lon=c.lon)
        for s in topology.sites:
            lat, lon = topology.site_coordinates(s)
            self.g.add_node(f"site:{s.id}", kind="site", lat=lat, lon=lon, tier=s.tier)
            self._add_metro(s)
        for i, link in enumerate(topology.links):
            self._add_link(i, link)

    # -- construction -----------------------------------------------------------------------
    def _coords(self, node: str) -> tuple[float, float]:
        d = self.g.nodes[node]
        return d["lat"], d["lon"]

    def _add_metro(self, s: Site) -> None:
        m = s.metro
        self._add_edge(
            f"site:{s.id}",
            f"city:{s.city}",
            m.kind,
            m.bandwidth_gbps,
            m.latency_ms,
            m.jitter_us,
            f"metro:{s.id}",
            METRO_HOP_DELAY_MS,
        )

    def _add_link(self, i: int, link: Link) -> None:
        self._add_edge(
            self.node(link.a),
            self.node(link.b),
            link.kind,
            link.bandwidth_gbps,
            link.latency_ms,
            link.jitter_us,
            link_id(i, link),
            HOP_DELAY_MS,
        )

    def _add_edge(
        self,
        a: str,
        b: str,
        kind: LinkKind,
        bandwidth_gbps: float,
        latency_ms: float | None,
        jitter_us: float | None,
        link_id: str,
        hop_delay_ms: float,
    ) -> None:
        """An edge with its latency and (for CENI) jitter derived from geography where not given."""
        km = great_circle_km(*self._coords(a), *self._coords(b))
        if latency_ms is None:
            latency_ms = derived_latency_ms(km, 1, hop_delay_ms)
        if jitter_us is None and kind == "ceni":
            jitter_us = derived_ceni_jitter_us(km)
        self.g.add_edge(
            a,
            b,
            kind=kind,
            latency_ms=latency_ms,
            jitter_us=jitter_us,
            bandwidth_gbps=bandwidth_gbps,
            link_id=link_id,
            km=km,
        )

    # -- naming -----------------------------------------------------------------------------
    def node(self, name: str) -> str:
        """Graph node of a city name or site id; a clear error with a suggestion otherwise."""
        if name in self.topology.cities:
            return f"city:{name}"
        if f"site:{name}" in self.g:
            return f"site:{name}"
        known = list(self.topology.cities) + [s.id for s in self.topology.sites]
        near = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(near)}?" if near else "run `suanwang topology show` for the names"
        raise InputError(f"unknown city or site {name!r} in topology {self.topology.name}; {hint}")

    # -- paths ------------------------------------------------------------------------------
    @staticmethod
    def _min_latency(_u: str, _v: str, edges: dict) -> float:
        return min(d["latency_ms"] for d in edges.values())

    @staticmethod
    def _ceni_weight(_u: str, _v: str, edges: dict) -> float | None:
        w = [
            d["jitter_us"] + _EPS_PER_MS * d["latency_ms"]
            for d in edges.values()
            if d["kind"] == "ceni" and d["jitter_us"] is not None
        ]
        return min(w) if w else None

    @staticmethod
    def _ceni_pick(d: dict) -> tuple:
        return (d["kind"] != "ceni" or d["jitter_us"] is None, d["jitter_us"] or 0.0, d["latency_ms"])

    def _route(self, nodes: list[str], pick) -> Route:
        hops = []
        for u, v in zip(nodes, nodes[1:], strict=False):
            d = min(self.g.get_edge_data(u, v).values(), key=pick)
            hops.append(
                Hop(
                    node_name(u),
                    node_name(v),
                    d["kind"],
                    d["latency_ms"],
                    d["jitter_us"],
                    d["bandwidth_gbps"],
                    d["link_id"],
                )
            )
        return Route(node_name(nodes[0]), node_name(nodes[-1]), tuple(hops))

    def path(self, src: str, dst: str) -> Route:
        """Lowest-latency path between two endpoints over any link kind."""
        a, b = self.node(src), self.node(dst)
        nodes = nx.dijkstra_path(self.g, a, b, weight=self._min_latency)
        return self._route(nodes, lambda d: d["latency_ms"])

    def routes_from(self, src: str) -> dict[str, Route]:
        """Lowest-latency routes from ``src`` to every site (one Dijkstra; cached)."""
        if src not in self._routes_cache:
            a = self.node(src)
            _, paths = nx.single_source_dijkstra(self.g, a, weight=self._min_latency)
            self._routes_cache[src] = {
                node_name(n): self._route(p, lambda d: d["latency_ms"]) if len(p) > 1 else Route(src, src, ())
                for n, p in paths.items()
                if n.startswith("site:")
            }
        return self._routes_cache[src]

    def deterministic_routes_from(self, src: str) -> dict[str, Route]:
        """Least-jitter CENI-only routes from ``src`` to every site that has one (cached)."""
        if src not in self._det_cache:
            a = self.node(src)
            _, paths = nx.single_source_dijkstra(self.g, a, weight=self._ceni_weight)
            self._det_cache[src] = {
                node_name(n): self._route(p, self._ceni_pick) if len(p) > 1 else Route(src, src, ())
                for n, p in paths.items()
                if n.startswith("site:")
            }
        return self._det_cache[src]

    def rtt_ms(self, src: str, dst: str) -> float:
        return self.path(src, dst).rtt_ms

    def deterministic_path(self, src: str, dst: str) -> Route | None:
        """Least-jitter path over CENI edges only (ties: lower latency); ``None`` if none exists."""
        a, b = self.node(src), self.node(dst)
        try:
            nodes = nx.dijkstra_path(self.g, a, b, weight=self._ceni_weight)
        except nx.NetworkXNoPath:
            return None
        if len(nodes) == 1:
            return Route(src, dst, ())
        return self._route(nodes, self._ceni_pick)

    def reach(self, city: str, rtt_budget_ms: float) -> list[tuple[str, float]]:
        """Sites whose lowest-latency RTT from ``city`` is within the budget, nearest first."""
        if city not in self.topology.cities:
            self.node(city)  # raises with a suggestion
            raise InputError(f"{city!r} is a site, not a city; give a city name as the origin")
        out = [(sid, r.rtt_ms) for sid, r in self.routes_from(city).items() if r.rtt_ms <= rtt_budget_ms + 1e-12]
        return sorted(out, key=lambda t: (t[1], t[0]))

    def link_bandwidth_gbps(self) -> dict[str, float]:
        """Link id → bandwidth (metro edges included), computed once per graph."""
        if self._bandwidth is None:
            self._bandwidth = {d["link_id"]: d["bandwidth_gbps"] for _, _, d in self.g.edges(data=True)}
        return self._bandwidth

    def edges(self) -> list[dict]:
        """Every edge with its endpoints' names and attributes (metro edges included)."""
        return [{"a": node_name(u), "b": node_name(v), **d} for u, v, d in self.g.edges(data=True)]


_GRAPHS: dict[int, tuple[weakref.ref, NetworkGraph]] = {}


def graph_for(topology: Topology) -> NetworkGraph:
    """The graph of ``topology``, built once per topology object (its queries are cached too)."""
    hit = _GRAPHS.get(id(topology))
    if hit is not None and hit[0]() is topology:
        return hit[1]
    graph = NetworkGraph(topology)
    _GRAPHS[id(topology)] = (weakref.ref(topology), graph)
    weakref.finalize(topology, _GRAPHS.pop, id(topology), None)
    return graph
