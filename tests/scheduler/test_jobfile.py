"""Job files: round trip, every fault with field path and fix, jobs no site could ever host."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from suanwang.errors import InputError
from suanwang.scheduler.jobfile import jobs_to_dict, load_jobs
from suanwang.timeutil import parse_time

GOOD = textwrap.dedent("""\
    plan_time: 2026-11-25T09:00:00+08:00
    jobs:
      - id: pretrain
        kind: training
        tenant: nju
        priority: 3
        accelerators: {count: 16, per_node: 8, models: [H800], min_memory_gb: 80}
        duration_h: 24
        data: {location: Nanjing, size_tb: 10}
        window: {earliest: 2026-11-25T08:00:00+08:00, deadline: 2026-11-27T08:00:00+08:00}
      - id: chat
        kind: inference
        tenant: city
        priority: 5
        accelerators: {count: 8, models: any}
        origin: Xuzhou
        latency_slo_ms: 5
        deterministic: {max_jitter_us: 40, bandwidth_gbps: 5}
        container: {image: "reg.example/chat:2", args: [--model, qwen], env: {TP: "8"}, cpu: "8", memory: 64Gi,
                    port: 9000}
      - id: running
        kind: batch
        tenant: x
        priority: 1
        accelerators: {count: 8, per_node: 8}
        duration_h: 2
        running: {site: nj-hub, accelerator: H800}
    """)


def load(text, topo, tmp_path):
    p = tmp_path / "jobs.yaml"
    p.write_text(text)
    return load_jobs(p, topo)


def faults(text, topo, tmp_path):
    with pytest.raises(InputError) as e:
        load(text, topo, tmp_path)
    return list(e.value.faults)


def test_loads_and_round_trips(jiangsu, tmp_path):
    jobs, plan_time = load(GOOD, jiangsu, tmp_path)
    assert plan_time == parse_time("2026-11-25T09:00:00+08:00")
    by = {j.id: j for j in jobs}
    assert by["pretrain"].accelerators.nodes == 2 and by["pretrain"].data.size_tb == 10
    assert by["chat"].accelerators.per_node == 8 and by["chat"].deterministic.bandwidth_gbps == 5
    c = by["chat"].container
    assert c.image == "reg.example/chat:2" and c.args == ("--model", "qwen") and c.env == (("TP", "8"),)
    assert c.port == 9000 and by["pretrain"].container is None
    assert by["running"].running.site == "nj-hub"
    again, _ = load(yaml.safe_dump(jobs_to_dict(jobs, plan_time)), jiangsu, tmp_path)
    assert again == jobs


def mutate(fn):
    doc = yaml.safe_load(GOOD)
    fn(doc["jobs"])
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(
    "change, path, message",
    [
        (lambda j: j[0].update(kind="train"), "jobs[0].kind", "allowed values"),
        (lambda j: j[1].update(id="pretrain"), "jobs[1].id", "duplicate job id"),
        (lambda j: j[0]["accelerators"].update(count=12), "jobs[0].accelerators.per_node", "does not divide"),
        (
            lambda j: j[0]["accelerators"].update(models=["H900"]),
            "jobs[0].accelerators.models[0]",
            "unknown accelerator",
        ),
        (lambda j: j[0].pop("duration_h"), "jobs[0].duration_h", "is required"),
        (lambda j: j[0]["data"].update(location="Shanghai"), "jobs[0].data.location", "unknown city or site"),
        (lambda j: j[0]["window"].update(deadline="2026-11-24T08:00:00+08:00"), "jobs[0].window.deadline", "not after"),
        (lambda j: j[1].pop("origin"), "jobs[1].origin", "required for inference"),
        (lambda j: j[0].update(origin="Nanjing"), "jobs[0].origin", "inference only"),
        (lambda j: j[1].update(latency_slo_ms=0.1), "jobs[1].latency_slo_ms", "below the RTT"),
        (
            lambda j: j[1]["deterministic"].update(max_jitter_us=0.5),
            "jobs[1].deterministic.max_jitter_us",
            "least jitter",
        ),
        (lambda j: j[1].update(origin="Lianyungang"), "jobs[1].deterministic", "CENI path"),
        (lambda j: j[0]["accelerators"].update(count=4096), "jobs[0].accelerators", "no pool has"),
        (lambda j: j[0]["accelerators"].update(min_memory_gb=200), "jobs[0].accelerators", "no site has"),
        (lambda j: j[0].update(duration_h=100), "jobs[0].window.deadline", "less than duration_h"),
        (lambda j: j[2]["running"].update(accelerator="H20"), "jobs[2].running.accelerator", "no H20 pool"),
        (lambda j: j[0].update(priorty=3), "jobs[0].priorty", "unknown field"),
        (lambda j: j[1]["container"].update(memory="lots"), "jobs[1].container.memory", "quantity"),
        (lambda j: j[1]["container"].pop("image"), "jobs[1].container.image", "is required"),
    ],
)
def test_each_fault(jiangsu, tmp_path, change, path, message):
    found = faults(mutate(change), jiangsu, tmp_path)
    hit = [f for f in found if f.path == path and message in f.message]
    assert hit, [str(f) for f in found]
    assert hit[0].fix and hit[0].line


def test_all_faults_at_once(jiangsu, tmp_path):
    def many(j):
        j[0].update(kind="train")
        j[1].update(latency_slo_ms=-1)
        j[2]["accelerators"].update(count=0)

    found = faults(mutate(many), jiangsu, tmp_path)
    assert {"jobs[0].kind", "jobs[1].latency_slo_ms", "jobs[2].accelerators.count"} <= {f.path for f in found}
