"""Where each row of demand may be served, and over which links: the candidate routes of the
capacity model (its rows (1)–(3) at planning scale).

The network considered is the starting one with every candidate site attached to its city and
every candidate new link laid. For each origin and site the lowest-latency route is taken twice:
with the new links and without them; when they differ, both are candidates, and the first needs
its new links built. Deterministic rows use the least-jitter CENI-only routes the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from suanwang.solvers.capacity_problem import CapacityProblem, Demand
from suanwang.topology.graph import NetworkGraph, Route, link_id
from suanwang.topology.model import Link, Topology


@dataclass(frozen=True)
class CandidateRoute:
    site: str
    links: tuple[str, ...]  # link ids as the network graph names them (metro links included)
    needs: tuple[str, ...]  # ids of the new-link upgrades it uses
    rtt_ms: float


@dataclass(frozen=True)
class Network:
    """The starting topology grown by every candidate; link bandwidths and upgrade ids by link."""

    topology: Topology
    bandwidth_gbps: dict[str, float]  # link id → bandwidth today (0 for a new link)
    upgrades_of: dict[str, list[str]]  # link id → upgrade ids that add to it
    new_links: dict[str, str]  # link id of a new link → its upgrade id
    with_new: NetworkGraph
    without_new: NetworkGraph


def network(problem: CapacityProblem) -> Network:
    topo = problem.topology
    sites = topo.sites + tuple(replace(c.site, pools=()) for c in problem.candidates)
    base = replace(topo, sites=sites)
    new = [u for u in problem.upgrades if u.new]
    links = list(base.links) + [Link(u.a, u.b, u.kind, u.add_gbps, u.latency_ms, u.jitter_us) for u in new]  # type: ignore[arg-type]
    full = replace(base, links=tuple(links))
    with_new = NetworkGraph(full)
    bandwidth = dict(with_new.link_bandwidth_gbps())
    upgrades_of: dict[str, list[str]] = {}
    new_links: dict[str, str] = {}
    n0 = len(base.links)
    for j, u in enumerate(new):
        lid = link_id(n0 + j, links[n0 + j])
        bandwidth[lid] = 0.0
        upgrades_of[lid] = [u.id]
        new_links[lid] = u.id
    for u in problem.upgrades:
        if not u.new:
            for i, link in enumerate(base.links):
                if {link.a, link.b} == {u.a, u.b}:
                    upgrades_of.setdefault(link_id(i, link), []).append(u.id)
                    break
    return Network(full, bandwidth, upgrades_of, new_links, with_new, NetworkGraph(base))


def routes_for(net: Network, d: Demand) -> list[CandidateRoute]:
    """The candidate routes of row ``d``: every site reachable within its RTT SLO (and jitter)."""
    if d.origin is None:  # no place of its own: any site, no traffic to route
        return [CandidateRoute(s.id, (), (), 0.0) for s in net.topology.sites]
    det = d.klass == "deterministic"
    out: list[CandidateRoute] = []
    for graph in (net.with_new, net.without_new):
        table = graph.deterministic_routes_from(d.origin) if det else graph.routes_from(d.origin)
        for site, r in table.items():
            if not _allowed(r, d):
                continue
            links = tuple(h.link_id for h in r.hops)
            needs = tuple(sorted({net.new_links[x] for x in links if x in net.new_links}))
            cand = CandidateRoute(site, links, needs, r.rtt_ms)
            if all(c.site != site or c.links != links for c in out):
                out.append(cand)
    return out


def _allowed(r: Route, d: Demand) -> bool:
    if d.rtt_slo_ms is not None and r.rtt_ms > d.rtt_slo_ms + 1e-9:
        return False
    if d.max_jitter_us is not None:
        return r.meets_jitter(d.max_jitter_us)
    return True
