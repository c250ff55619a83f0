"""Node-granular capacity bookkeeping: free cards per node, site power headroom, link bandwidth.

A *pool* here is every node of one accelerator model in one site, keyed ``(site, model)``.
Nodes are kept in stacks by free-card level so that taking ``u`` nodes with at least ``k`` free
cards (best fit: the fullest node that still fits) costs O(levels).

Node-granular capacity in the aggregate models (CP-SAT, LP) uses *blocks*: a per-node demand ``k``
is rounded up to the next power of two ``2^a`` and each node's free cards are split into their
binary blocks (7 → 4 + 2 + 1). For power-of-two item sizes, a set of items fits into the nodes if
and only if, for every level ``a``, the cards asked by items of size ≥ ``2^a`` do not exceed the
cards held in blocks of size ≥ ``2^a`` (largest-first filling is exact for divisible sizes).

Node policies (which nodes of a pool a job takes):
    bestfit        the fullest nodes that still fit
    fragmentation  the nodes whose use lowers the pool's expected fragmentation most, after the
                   FGD paper (Weng et al., ATC 2023) for whole cards: with p_k the share of the
                   pending demand that asks k cards per node, a node with f free cards strands
                   F(f) = f · Σ_{k > f} p_k of them; a job taking k cards per node takes, node by
                   node, the one with the largest F(f) − F(f − k), the fullest among equals
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from suanwang.solvers.problem import PoolState, State, count_bits
from suanwang.topology.model import Topology

PoolKey = tuple[str, str]  # (site id, accelerator model)


def node_name(site: str, model: str, index: int) -> str:
    """The name of a pool's ``index``-th node when no collector names it: ``nj-hub/H800-0003``."""
    return f"{site}/{model}-{index:04d}"


_NONE: dict[int, list[str]] = {}


class Demand(NamedTuple):
    """What one job takes: ``nodes`` nodes with ``per_node`` free cards, power at PUE, and
    ``bandwidth_gbps`` on each of ``links`` (deterministic jobs)."""

    per_node: int
    nodes: int
    power_kw: float
    links: tuple[str, ...] = ()
    bandwidth_gbps: float = 0.0
    quota_rows: tuple[int, ...] = ()  # quota rows (25)–(27) the job's cards count in
    cards: int = 0
    owner: tuple[str, str, str] | None = None  # (tenant, model, site) when a quota governs it


def pool_nodes(topology: Topology, state: State | None) -> dict[PoolKey, PoolState]:
    """Every pool's nodes: the state's snapshot where given, else all cards free.

    Node names without a state are ``<site>/<model>-<n>``, counted across the site's pools of
    that model.
    """
    given = state.pools if state is not None else {}
    out: dict[PoolKey, PoolState] = {}
    fresh: dict[PoolKey, list[tuple[str, int]]] = {}
    for site in topology.sites:
        for pool in site.pools:
            key = (site.id, pool.accelerator)
            if key in given:
                out[key] = given[key]
                continue
            nodes = fresh.setdefault(key, [])
            start = len(nodes)
            nodes.extend((node_name(site.id, pool.accelerator, start + i), pool.per_node) for i in range(pool.nodes))
    out.update((key, PoolState(tuple(nodes))) for key, nodes in fresh.items())
    return out


def ceil_pow2_level(k: int) -> int:
    """Smallest ``a`` with ``2^a ≥ k``."""
    return max(0, (k - 1).bit_length())


def bit_counts(free: Iterable[int]) -> dict[int, int]:
    """Bit ``b`` → how many of the nodes with these free cards hold a binary block of ``2^b``."""
    return count_bits((max(0, f), 1) for f in free)


def block_capacity(bits: dict[int, int], levels: Iterable[int]) -> dict[int, int]:
    """Cards held in binary blocks of size ≥ ``2^a``, per ``a``, from :func:`bit_counts`."""
    return {a: sum((1 << b) * n for b, n in bits.items() if b >= a) for a in levels}


def _stranded(per_node_share: Mapping[int, float]):
    """F(f): the free cards of a node with ``f`` free that the pending demand's per-node sizes
    cannot use, weighted by each size's share."""
    sizes = sorted(per_node_share)
    total = sum(per_node_share.values()) or 1.0

    def stranded(f: int) -> float:
        return f * sum(per_node_share[k] for k in sizes if k > f) / total

    return stranded


class Ledger:
    """Mutable remaining capacity while a plan is built. It reads the problem's pool snapshots and
    copies a pool only when a placement first changes it; it never touches the :class:`Problem`."""

    def __init__(
        self,
        pools: Mapping[PoolKey, PoolState],
        power_headroom_kw: dict[str, float],
        link_headroom_gbps: dict[str, float],
        quota_room: dict[int, int] | None = None,
        per_node_share: Mapping[int, float] | None = None,
    ) -> None:
        self._pools = pools
        self._stranded = _stranded(per_node_share) if per_node_share else None  # fragmentation policy
        self.levels: dict[PoolKey, dict[int, list[str]]] = {}  # stacks of the pools changed so far
        self._view: dict[PoolKey, Mapping[int, Sequence[str]]] = {k: ps.stacks for k, ps in pools.items()}
        self.free: dict[PoolKey, dict[str, int]] = {}
        self.total: dict[PoolKey, int] = {k: ps.free_cards for k, ps in pools.items()}
        self.power = dict(power_headroom_kw)
        self.links = dict(link_headroom_gbps)
        self.quota = dict(quota_room or {})  # quota row → cards left
        self.quota_used: dict[tuple[str, str, str], int] = {}  # (tenant, model, site) → cards placed by this plan

    def _own(self, pool: PoolKey) -> dict[int, list[str]]:
        own = self.levels.get(pool)
        if own is None:
            ps = self._pools[pool]
            own = self.levels[pool] = self._view[pool] = {f: list(names) for f, names in ps.stacks.items()}
            self.free[pool] = dict(ps.free)
        return own

    def snapshot(self) -> dict[PoolKey, PoolState]:
        """Every pool as it is now: unchanged pools as given, changed ones as new snapshots."""
        return {k: PoolState(tuple(self.free[k].items())) if k in self.free else ps for k, ps in self._pools.items()}

    # -- queries ------------------------------------------------------------------------------
    def nodes_with(self, pool: PoolKey, k: int) -> int:
        """Number of nodes in ``pool`` with at least ``k`` free cards."""
        return sum(len(v) for f, v in self._view.get(pool, _NONE).items() if f >= k)

    def free_cards(self, pool: PoolKey) -> int:
        return self.total.get(pool, 0)

    def fits(self, pool: PoolKey, d: Demand) -> bool:
        if self.power.get(pool[0], 0.0) < d.power_kw - 1e-9:
            return False
        if d.bandwidth_gbps and any(self.links.get(lk, 0.0) < d.bandwidth_gbps - 1e-9 for lk in d.links):
            return False
        if any(self.quota.get(r, 0) < d.cards for r in d.quota_rows):
            return False
        return self.nodes_with(pool, d.per_node) >= d.nodes

    def copies_that_fit(self, pool: PoolKey, d: Demand) -> int:
        """How many more identical jobs fit (a Karmada-style "available replicas")."""
        per_node, nodes, power_kw, links, bandwidth_gbps = d[:5]
        stacks = self._view.get(pool, _NONE)
        slots = sum((f // per_node) * len(v) for f, v in stacks.items() if f >= per_node)
        n = slots // nodes
        if power_kw > 0:
            n = min(n, int(self.power.get(pool[0], 0.0) // power_kw + 1e-9))
        if bandwidth_gbps > 0:
            for lk in links:
                n = min(n, int(self.links.get(lk, 0.0) // bandwidth_gbps + 1e-9))
        for r in d.quota_rows:
            n = min(n, self.quota.get(r, 0) // max(1, d.cards))
        return max(0, n)

    # -- updates ------------------------------------------------------------------------------
    def take(self, pool: PoolKey, d: Demand) -> tuple[str, ...] | None:
        """Reserve ``d.nodes`` distinct nodes with ``d.per_node`` free cards each (best fit), power and
        bandwidth; return the node names, or ``None`` (and change nothing) if it does not fit."""
        if not self.fits(pool, d):
            return None
        per_node, nodes, power_kw, links, bandwidth_gbps, quota_rows, cards, owner = d
        stacks = self._own(pool)
        chosen: list[tuple[str, int]] = []
        if self._stranded is None:
            for f in sorted(x for x in stacks if x >= per_node):
                stack = stacks[f]
                while stack and len(chosen) < nodes:
                    chosen.append((stack.pop(), f))
                if len(chosen) == nodes:
                    break
        else:
            stranded = self._stranded
            while len(chosen) < nodes:
                f = max(
                    (x for x, v in stacks.items() if x >= per_node and v),
                    key=lambda x: (stranded(x) - stranded(x - per_node), -x),
                )
                chosen.append((stacks[f].pop(), f))
        for name, f in chosen:
            rest = f - per_node
            stacks.setdefault(rest, []).append(name)
            self.free[pool][name] = rest
        self.total[pool] -= per_node * nodes
        self.power[pool[0]] = self.power.get(pool[0], 0.0) - power_kw
        for lk in links:
            self.links[lk] = self.links.get(lk, 0.0) - bandwidth_gbps
        for r in quota_rows:
            self.quota[r] -= cards
        if owner is not None:
            self.quota_used[owner] = self.quota_used.get(owner, 0) + cards
        return tuple(name for name, _ in chosen)
