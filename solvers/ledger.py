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

from collections import Counter
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
    return count_bits((f, n) for f, n in Counter(free).items() if f > 0)


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
    copies a pool only when a placement first changes it; it never touches the :class:`Problem`.

    Nodes are named: every placement learns which nodes it holds. :class:`CountLedger` keeps the
    same books by free-card level alone, for plans that only need to know what fits."""

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
        self.levels: dict[PoolKey, dict] = {}  # stacks (or counts) of the pools changed so far
        self._view: dict[PoolKey, Mapping] = {k: self._initial(ps) for k, ps in pools.items()}
        self.free: dict[PoolKey, dict[str, int]] = {}
        self.total: dict[PoolKey, int] = {k: ps.free_cards for k, ps in pools.items()}
        self.power = dict(power_headroom_kw)
        self.links = dict(link_headroom_gbps)
        self.quota = dict(quota_room or {})  # quota row → cards left
        self.quota_used: dict[tuple[str, str, str], int] = {}  # (tenant, model, site) → cards placed by this plan
        self._slots: dict[PoolKey, dict[int, int]] = {}  # pool → per-node size → copies its nodes hold

    @staticmethod
    def _initial(ps: PoolState) -> Mapping[int, Sequence[str]]:
        return ps.stacks

    @staticmethod
    def _size(stack) -> int:
        return len(stack)

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
        size = self._size
        return sum(size(v) for f, v in self._view.get(pool, _NONE).items() if f >= k)

    def free_cards(self, pool: PoolKey) -> int:
        return self.total.get(pool, 0)

    def fits(self, pool: PoolKey, d: Demand) -> bool:
        return self._room(pool, d, 1) == 1 and self.nodes_with(pool, d.per_node) >= d.nodes

    def _room(self, pool: PoolKey, d: Demand, n: int) -> int:
        """How many of ``n`` copies of ``d`` the site's power, the links and the quotas allow."""
        if d.power_kw > 0:
            n = min(n, int((self.power.get(pool[0], 0.0) + 1e-9) // d.power_kw))
        elif self.power.get(pool[0], 0.0) < d.power_kw - 1e-9:
            return 0
        if d.bandwidth_gbps > 0:
            for lk in d.links:
                n = min(n, int((self.links.get(lk, 0.0) + 1e-9) // d.bandwidth_gbps))
        for r in d.quota_rows:
            left = self.quota.get(r, 0)
            n = min(n, left // d.cards if d.cards > 0 else (n if left >= 0 else 0))
        return max(0, n)

    def copies_that_fit(self, pool: PoolKey, d: Demand) -> int:
        """How many more identical jobs fit (a Karmada-style "available replicas")."""
        per_node = d.per_node
        known = self._slots.setdefault(pool, {})
        slots = known.get(per_node)
        if slots is None:  # worked out once per pool and size until the pool changes
            size = self._size
            slots = known[per_node] = sum(
                (f // per_node) * size(v) for f, v in self._view.get(pool, _NONE).items() if f >= per_node
            )
        return self._room(pool, d, slots // d.nodes)

    # -- updates ------------------------------------------------------------------------------
    def take(self, pool: PoolKey, d: Demand) -> tuple[str, ...] | None:
        """Reserve ``d.nodes`` distinct nodes with ``d.per_node`` free cards each (best fit), power and
        bandwidth; return the node names, or ``None`` (and change nothing) if it does not fit."""
        got = self.take_many(pool, d, 1)
        return got[0] if got else None

    def take_many(self, pool: PoolKey, d: Demand, n: int) -> list[tuple[str, ...]]:
        """Reserve up to ``n`` copies of ``d``, one after the other as :meth:`take` would, until one
        does not fit; return each copy's node names."""
        m = self._room(pool, d, n)
        if m <= 0 or self.nodes_with(pool, d.per_node) < d.nodes:
            return []
        got = self._take_nodes(pool, d.per_node, d.nodes, m)
        k = len(got)
        if k:
            self._slots.pop(pool, None)
            self.total[pool] -= d.per_node * d.nodes * k
            self.power[pool[0]] = self.power.get(pool[0], 0.0) - d.power_kw * k
            for lk in d.links:
                self.links[lk] = self.links.get(lk, 0.0) - d.bandwidth_gbps * k
            for r in d.quota_rows:
                self.quota[r] -= d.cards * k
            if d.owner is not None:
                self.quota_used[d.owner] = self.quota_used.get(d.owner, 0) + d.cards * k
        return got

    def _next_level(self, stacks: Mapping, per_node: int, taken: Mapping[int, int]) -> int | None:
        """The free level the next node of a job comes from: the fullest that fits (best fit), or
        the one whose use strands least under the fragmentation policy."""
        size = self._size
        open_ = [x for x, v in stacks.items() if x >= per_node and size(v) > taken.get(x, 0)]
        if not open_:
            return None
        if self._stranded is None:
            return min(open_)
        stranded = self._stranded
        return max(open_, key=lambda x: (stranded(x) - stranded(x - per_node), -x))

    def _take_nodes(self, pool: PoolKey, per_node: int, nodes: int, m: int) -> list[tuple[str, ...]]:
        stacks = self._own(pool)
        free = self.free[pool]
        out: list[tuple[str, ...]] = []
        while len(out) < m:
            chosen: list[tuple[str, int]] = []
            if self._stranded is None:
                for f in sorted(x for x in stacks if x >= per_node):
                    stack = stacks[f]
                    while stack and len(chosen) < nodes:
                        chosen.append((stack.pop(), f))
                    if len(chosen) == nodes:
                        break
            else:
                while len(chosen) < nodes:
                    f = self._next_level(stacks, per_node, {})
                    if f is None:
                        break
                    chosen.append((stacks[f].pop(), f))
            if len(chosen) < nodes:  # not enough nodes: put back what this copy took
                for name, f in reversed(chosen):
                    stacks[f].append(name)
                break
            for name, f in chosen:
                rest = f - per_node
                stacks.setdefault(rest, []).append(name)
                free[name] = rest
            out.append(tuple(name for name, _ in chosen))
        return out


class CountLedger(Ledger):
    """A :class:`Ledger` that counts nodes per free-card level instead of naming them: it makes the
    same choices (best fit or the fragmentation policy) and says how many copies fit, and its
    placements hold no node names. Plans compared by their counts run on it; only the one kept
    is placed again on a named ledger."""

    @staticmethod
    def _initial(ps: PoolState) -> Mapping[int, int]:
        return ps.level_counts

    @staticmethod
    def _size(count) -> int:
        return count

    def _own(self, pool: PoolKey) -> dict[int, int]:
        own = self.levels.get(pool)
        if own is None:
            own = self.levels[pool] = self._view[pool] = dict(self._pools[pool].level_counts)
        return own

    def snapshot(self) -> dict[PoolKey, PoolState]:
        raise TypeError("a CountLedger knows free cards per level, not per node; take a snapshot of a Ledger")

    def _take_nodes(self, pool: PoolKey, per_node: int, nodes: int, m: int) -> list[tuple[str, ...]]:
        stacks = self._own(pool)
        if nodes == 1 and self._stranded is None:  # each node fills until it no longer fits
            left = m
            for f in sorted(x for x in stacks if x >= per_node):
                c = stacks[f]
                if not c:
                    continue
                q = f // per_node
                full = min(c, left // q)
                partial = 1 if full < c and left - full * q > 0 else 0
                stacks[f] = c - full - partial
                stacks[f % per_node] = stacks.get(f % per_node, 0) + full
                left -= full * q
                if partial:
                    rest = f - left * per_node
                    stacks[rest] = stacks.get(rest, 0) + 1
                    left = 0
                if left == 0:
                    break
            return [()] * (m - left)
        done = 0
        while done < m:
            taken: dict[int, int] = {}
            for _ in range(nodes):
                f = self._next_level(stacks, per_node, taken)
                if f is None:
                    return [()] * done
                taken[f] = taken.get(f, 0) + 1
            for f, c in taken.items():
                stacks[f] -= c
                stacks[f - per_node] = stacks.get(f - per_node, 0) + c
            done += 1
        return [()] * done
