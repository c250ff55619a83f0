"""The nominal-quota measure of the tenants benchmark: a job within its tenant's unused nominal
quota that waited two planning intervals is short when some site's nodes, free or held by work on
borrowed quota, could hold it — not when others run within their own quotas, nor when no one site
could hold the gang, nor before it has waited."""

from __future__ import annotations

from datetime import datetime, timedelta

from suanwang.simulations.events import Run
from suanwang.simulations.nominal import short_of_nominal
from tests.solvers.helpers import job

AT = datetime(2026, 11, 25, 6, 0)
PATIENCE = timedelta(hours=1)


def run(jid, tenant, nodes, started_h_ago=1.0, site="nj-hub"):
    j = job(jid, 8 * len(nodes), 8, ("H800",))
    j = j.__class__(**{**j.__dict__, "tenant": tenant})
    start = AT - timedelta(hours=started_h_ago)
    return Run(j, site, "H800", tuple(nodes), 10.0, (), start, start + timedelta(hours=10))


def waiting(count=16, tenant="a", waited_h=2.0):
    j = job("w", count, 8, ("H800",))
    return [(AT - timedelta(hours=waited_h), j.__class__(**{**j.__dict__, "tenant": tenant}))]


def short(runs, wait, nominal, free=None):
    free = free or {("nj-hub", "H800"): {f"n{i}": 0 for i in range(4)}}
    return short_of_nominal(AT, runs, wait, free, nominal, PATIENCE, lambda j: j.accelerators.models)


def test_borrowed_nodes_that_could_hold_the_job_make_it_short():
    # b holds all four nodes with a nominal quota of 16: its two latest jobs borrow
    runs = [
        run("b0", "b", ["n0"], 3),
        run("b1", "b", ["n1"], 2),
        run("b2", "b", ["n2"], 1),
        run("b3", "b", ["n3"], 0.5),
    ]
    assert short(runs, waiting(), {("a", "H800"): 16, ("b", "H800"): 16})


def test_work_within_its_own_quota_does_not_make_it_short():
    runs = [run(f"b{i}", "b" if i < 2 else "c", [f"n{i}"]) for i in range(4)]  # b and c within theirs
    assert not short(runs, waiting(), {("a", "H800"): 16, ("b", "H800"): 16, ("c", "H800"): 16})


def test_a_gang_no_site_could_hold_and_a_short_wait_are_not_counted():
    runs = [run("b0", "b", ["n0", "n1"], 2), run("b1", "b", ["n2", "n3"], 1)]
    nominal = {("a", "H800"): 64, ("b", "H800"): 8}
    assert not short(runs, waiting(count=40), nominal)  # 5 nodes: the site has 4
    assert short(runs, waiting(count=16), nominal)
    assert not short(runs, waiting(count=16, waited_h=0.5), nominal)  # not yet two intervals
    assert not short(runs, waiting(count=16, tenant="z"), nominal)  # no quota: nothing promised
