"""Tenants in the what-if engine: quotas held while jobs arrive and end, preemption that evicts
lower-priority batch work for an urgent job (counted, with the card-hours lost) but never what
another tenant runs within its nominal quota, Jain's index of weighted allocations, and scenario
files that declare tenants and ``policy.preempt``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from suanwang.simulations.engine import Simulation
from suanwang.simulations.events import Policy
from suanwang.simulations.runner import run_scenario
from suanwang.simulations.scenario import load_scenario
from suanwang.simulations.workload import Arrival
from suanwang.solvers.quota import Quota
from tests.solvers.helpers import job

START = datetime(2026, 11, 25, 0, 0)


def arrive(at_h, j):
    at = START + timedelta(hours=at_h)
    return Arrival(at, replace(j, submitted_at=at))


class Watch(Simulation):
    """The engine, recording the most H800 cards each tenant ran at once."""

    peak: dict

    def _sample(self, at):
        super()._sample(at)
        self.peak = getattr(self, "peak", {})
        use: dict[str, int] = {}
        for r in self.running.values():
            use[r.job.tenant] = use.get(r.job.tenant, 0) + r.job.accelerators.count
        for t, n in use.items():
            self.peak[t] = max(self.peak.get(t, 0), n)


def test_quotas_hold_through_a_replay_and_preemption_makes_room(mini):
    batch = [arrive(0.1 * i, replace(job(f"b{i}", 8, 8, ("H800",), duration_h=10, preemptible=True), tenant="a"))
             for i in range(4)]  # fmt: skip
    urgent = arrive(2.5, replace(job("p9", 16, 8, ("H800",), priority=9, duration_h=2), tenant="a"))
    quotas = (Quota("a", "H800", 24),)  # a may hold 3 of the 4 nodes
    weights = (("a", 1.0), ("b", 1.0))
    policy = Policy("cpsat", 30, 1.0, quotas=quotas, preempt=True, tenant_weights=weights)
    sim = Watch(mini, [*batch, urgent], START, 6, policy)
    out = sim.run()
    assert sim.peak["a"] <= 24  # the quota held all along
    # a's own urgent job needs 16 of its 24: two of its batch jobs go, those that started last
    # (b1 and b2 at 00:30, 2 h of work lost each; b0 at 00:00 would lose 2.5 h)
    assert out.evicted == 2 and out.evicted_lost_card_h == pytest.approx(2 * 8 * 2.0)
    assert out.waits_high_h == [0.0]  # placed in the tick it came
    calm = Simulation(mini, [*batch, urgent], START, 6, replace(policy, preempt=False)).run()
    assert calm.evicted == 0 and calm.waits_high_h != [0.0]


def test_another_tenants_urgent_job_waits_for_what_runs_within_a_quota(mini):
    batch = [arrive(0.1 * i, replace(job(f"b{i}", 8, 8, ("H800",), duration_h=10, preemptible=True), tenant="a"))
             for i in range(4)]  # fmt: skip
    urgent = arrive(2.5, replace(job("p9", 16, 8, ("H800",), priority=9, duration_h=2), tenant="b"))
    quotas = (Quota("a", "H800", 24),)
    policy = Policy("cpsat", 30, 1.0, quotas=quotas, preempt=True, tenant_weights=(("a", 1.0), ("b", 1.0)))
    out = Simulation(mini, [*batch, urgent], START, 6, policy).run()
    assert out.evicted == 0  # a's 24 cards are its guarantee: b's job waits for them to end
    assert min(out.series_jain) == pytest.approx(0.5)  # b waiting with nothing: 1/2
    # without a quota a's preemptible batch work gives way to b's priority 9
    free = Simulation(mini, [*batch, urgent], START, 6, replace(policy, quotas=())).run()
    assert free.evicted >= 1 and free.waits_high_h == [0.0]


def test_a_scenario_declares_tenants_and_preemption(tmp_path, mini_file):
    f = tmp_path / "tenants.yaml"
    f.write_text(
        f"name: t\ntopology: {mini_file}\nhours: 12\ndemand: {{synthetic: {{jobs_per_hour: 20}}}}\n"
        "policy: {solver: greedy, preempt: true}\n"
        "tenants:\n  - {name: nju-ai-lab, cohort: unis, weight: 2, quotas: [{accelerator: H800, nominal: 8}]}\n"
        "  - {name: seu-vision, cohort: unis, quotas: [{accelerator: H800, nominal: 8, lending_limit: 4}]}\n"
    )
    sc = load_scenario(f)
    assert sc.policy.preempt and len(sc.policy.quotas) == 2 and dict(sc.policy.tenant_weights)["nju-ai-lab"] == 2
    m, _ = run_scenario(sc)
    assert m["jain_mean"] is not None and 0 < m["jain_min"] <= m["jain_mean"] <= 1
    f.write_text(f.read_text().replace("accelerator: H800, nominal: 8}", "accelerator: Z9, nominal: 8}", 1))
    with pytest.raises(Exception, match="tenants\\[0\\].quotas\\[0\\].accelerator"):
        load_scenario(f)
