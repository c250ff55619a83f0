"""The plan checker catches violations; node blocks and the ledger agree on what fits; the counting
ledger and bulk placement make the choices of the named ledger placing one job at a time."""

from __future__ import annotations

import dataclasses
import itertools
import random

from suanwang.solvers import solve
from suanwang.solvers.checker import check_plan
from suanwang.solvers.ledger import CountLedger, Demand, Ledger, bit_counts, block_capacity, ceil_pow2_level
from suanwang.solvers.problem import PoolState
from tests.solvers.helpers import job, problem


def test_checker_flags_broken_plans(mini):
    prob = problem(mini, [job("a", 8, 8, ("H800",)), job("b", models=("Ascend910B",), origin="Xuzhou", slo=1.0)])
    plan = solve(prob, "greedy")
    assert check_plan(prob, plan) == []
    a = next(p for p in plan.placements if p.job == "a")
    b = next(p for p in plan.placements if p.job == "b")
    broken = [
        dataclasses.replace(plan, placements=(a, a, b)),  # placed twice
        dataclasses.replace(plan, placements=(dataclasses.replace(a, accelerator="Ascend910B"), b)),
        dataclasses.replace(plan, placements=(a, dataclasses.replace(b, site="sz-hub"))),  # RTT, nodes
        dataclasses.replace(plan, placements=(dataclasses.replace(a, node_names=("nowhere-0",)), b)),
        dataclasses.replace(plan, placements=(b,)),  # a is lost
    ]
    for bad in broken:
        assert check_plan(prob, bad), bad


def test_checker_flags_overfull_node_and_power(mini):
    prob = problem(mini, [job("a", 8, 8, ("H800",)), job("b", 8, 8, ("H800",))])
    plan = solve(prob, "greedy")
    a, b = plan.placements
    same = dataclasses.replace(b, node_names=a.node_names)
    assert any("cards placed" in v for v in check_plan(prob, dataclasses.replace(plan, placements=(a, same))))
    tight = dataclasses.replace(
        prob,
        topology=dataclasses.replace(
            mini, sites=tuple(dataclasses.replace(s, power_cap_kw=10.0) if s.id == "nj-hub" else s for s in mini.sites)
        ),
    )
    assert any("power cap" in v for v in check_plan(tight, plan))


def test_block_capacity():
    caps = block_capacity(bit_counts([7, 8, 3]), [0, 1, 2, 3])
    assert caps == {0: 18, 1: 16, 2: 12, 3: 8}
    assert ceil_pow2_level(1) == 0 and ceil_pow2_level(6) == 3 and ceil_pow2_level(8) == 3


def test_blocks_match_ledger_packing():
    """For power-of-two demands, the block inequalities hold iff best-fit-decreasing packs them."""
    rng = random.Random(3)
    for _ in range(300):
        free = [rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8]) for _ in range(rng.randint(1, 4))]
        items = sorted((rng.choice([1, 2, 4, 8]) for _ in range(rng.randint(1, 5))), reverse=True)
        levels = sorted({ceil_pow2_level(k) for k in items})
        caps = block_capacity(bit_counts(free), levels)
        blocks_ok = all(sum(k for k in items if ceil_pow2_level(k) >= a) <= caps[a] for a in levels)
        ledger = Ledger({("s", "m"): PoolState(tuple((f"n{i}", f) for i, f in enumerate(free)))}, {"s": 1e9}, {})
        packed = all(ledger.take(("s", "m"), Demand(k, 1, 0.0)) is not None for k in items)
        assert blocks_ok == packed, (free, items)


def test_ledger_take_is_atomic():
    pools = {("s", "m"): PoolState((("a", 8), ("b", 4)))}
    ledger = Ledger(pools, {"s": 100.0}, {"l": 10.0})
    assert ledger.take(("s", "m"), Demand(8, 2, 1.0)) is None
    assert ledger.free_cards(("s", "m")) == 12 and ledger.power["s"] == 100.0
    assert ledger.take(("s", "m"), Demand(4, 2, 1.0, ("l",), 6.0)) is not None
    assert ledger.free_cards(("s", "m")) == 4 and ledger.links["l"] == 4.0
    assert ledger.take(("s", "m"), Demand(4, 1, 1.0, ("l",), 6.0)) is None  # link full
    assert list(itertools.chain(ledger.levels[("s", "m")].values()))
    assert pools[("s", "m")].free == {"a": 8, "b": 4}  # the snapshot it read is unchanged
    assert ledger.snapshot()[("s", "m")].free == {"a": 4, "b": 0}


def test_pool_state_views():
    ps = PoolState((("n2", 3), ("n1", 8), ("n3", -2), ("n0", 3)))
    assert list(ps.free) == ["n0", "n1", "n2", "n3"] and ps.free["n3"] == 0
    assert ps.free_ascending == (0, 3, 3, 8) and ps.free_cards == 14
    assert ps.stacks[3] == ("n2", "n0")  # popped from the end: n0 first
    assert ps.bit_counts == bit_counts([3, 8, 0, 3]) == {0: 2, 1: 2, 3: 1}


def test_fragmentation_policy_keeps_room_for_the_sizes_that_wait():
    pools = {("s", "m"): PoolState((("six", 6), ("four", 4)))}
    best = Ledger(pools, {"s": 1e9}, {})
    assert best.take(("s", "m"), Demand(2, 1, 0.0)) == ("four",)  # the fullest node: leaves 6 and 2
    assert best.take(("s", "m"), Demand(4, 1, 0.0)) is not None and best.take(("s", "m"), Demand(4, 1, 0.0)) is None
    frag = Ledger(pools, {"s": 1e9}, {}, per_node_share={4: 1.0})  # what waits asks 4 cards per node
    assert frag.take(("s", "m"), Demand(2, 1, 0.0)) == ("six",)  # leaves 4 and 4
    assert all(frag.take(("s", "m"), Demand(4, 1, 0.0)) is not None for _ in range(2))


def test_fragmentation_policy_reaches_every_solver(mini):
    jobs = [job("small", 2, 2, ("H800",)), job("wide", 8, 8, ("H800",))]
    for name in ("cpsat", "greedy", "bestfit", "karmada"):
        plan = solve(dataclasses.replace(problem(mini, jobs), node_policy="fragmentation"), name)
        assert check_plan(problem(mini, jobs), plan) == [] and len(plan.placements) == 2, name


def _levels(ledger: Ledger, pool) -> dict[int, int]:
    view = ledger._view[pool]
    return {f: n for f, v in view.items() if (n := v if isinstance(v, int) else len(v))}


def test_bulk_and_counting_ledgers_choose_as_one_job_at_a_time():
    rng = random.Random(11)
    pool = ("s", "m")
    for trial in range(400):
        free = [rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 16]) for _ in range(rng.randint(1, 8))]
        pools = {pool: PoolState(tuple((f"n{i}", f) for i, f in enumerate(free)))}
        share = {2: 0.5, 4: 0.3, 8: 0.2} if trial % 3 == 0 else None  # every third: the fragmentation policy
        args = (pools, {"s": rng.choice([5.0, 1e9])}, {"l": rng.choice([3.0, 1e9])}, {0: rng.choice([6, 10**6])})
        one, bulk, count = (cls(*args, per_node_share=share) for cls in (Ledger, Ledger, CountLedger))
        for _ in range(rng.randint(1, 6)):
            k, nodes, n = rng.choice([1, 2, 3, 4, 8]), rng.choice([1, 1, 2, 3]), rng.randint(1, 6)
            d = Demand(k, nodes, rng.choice([0.0, 1.0]), ("l",), rng.choice([0.0, 1.0]), (0,), k * nodes)
            singles = []
            for _ in range(n):
                got = one.take(pool, d)
                if got is None:
                    break
                singles.append(got)
            assert bulk.take_many(pool, d, n) == singles, (free, d, n)
            assert len(count.take_many(pool, d, n)) == len(singles), (free, d, n)
            assert _levels(count, pool) == _levels(one, pool) or not one.levels, (free, d)
            assert count.total == one.total and count.power == one.power and count.quota == one.quota
            assert count.copies_that_fit(pool, d) == one.copies_that_fit(pool, d)
