"""Small exporters for tests, built with prometheus-client, that publish the metric names and
labels of NVIDIA dcgm-exporter, kube-state-metrics, Huawei npu-exporter and blackbox ICMP probes
for a handful of synthetic nodes. They stand in for the real exporters, which need GPUs and a
cluster; the Prometheus that scrapes them is real."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge, start_http_server


@dataclass
class FakeNode:
    name: str
    product: str  # kube node label value, e.g. NVIDIA-H800
    cards: int = 8
    requested: int = 0
    util: list[float] = field(default_factory=list)  # percent per card
    power_w: list[float] = field(default_factory=list)  # watts per card
    npu: bool = False


def _resource(node: FakeNode) -> str:
    return "huawei_com_Ascend910" if node.npu else "nvidia_com_gpu"


def serve(nodes: list[FakeNode], probes: dict[tuple[str, str], float] | None = None, duplicate: str | None = None):
    """Start an exporter on a free loopback port; returns (port, server)."""
    reg = CollectorRegistry()
    alloc = Gauge("kube_node_status_allocatable", "allocatable", ["node", "resource", "unit"], registry=reg)
    req = Gauge(
        "kube_pod_container_resource_requests",
        "requests",
        ["node", "resource", "unit", "namespace", "pod", "container"],
        registry=reg,
    )
    labels = Gauge(
        "kube_node_labels", "node labels", ["node", "label_nvidia_com_gpu_product", "label_accelerator"], registry=reg
    )
    util = Gauge(
        "DCGM_FI_DEV_GPU_UTIL",
        "GPU utilization (in %).",
        ["gpu", "UUID", "device", "modelName", "Hostname"],
        registry=reg,
    )
    power = Gauge(
        "DCGM_FI_DEV_POWER_USAGE",
        "Power draw (in W).",
        ["gpu", "UUID", "device", "modelName", "Hostname"],
        registry=reg,
    )
    fb = Gauge(
        "DCGM_FI_DEV_FB_USED",
        "Framebuffer memory used (in MiB).",
        ["gpu", "UUID", "device", "modelName", "Hostname"],
        registry=reg,
    )
    npu_util = Gauge("npu_chip_info_utilization", "the ai core utilization", ["id", "model_name", "node"], registry=reg)
    npu_power = Gauge("npu_chip_info_power", "the npu power", ["id", "model_name", "node"], registry=reg)
    probe = Gauge("probe_icmp_duration_seconds", "ICMP phases", ["phase", "src_city", "dst_city"], registry=reg)
    for n in nodes:
        res = _resource(n)
        alloc.labels(n.name, res, "integer").set(n.cards)
        if n.requested:
            req.labels(n.name, res, "integer", "team", f"pod-{n.name}", "main").set(n.requested)
        if n.npu:
            labels.labels(n.name, "", n.product).set(1)
        else:
            labels.labels(n.name, n.product, "").set(1)
        for i, (u, w) in enumerate(zip(n.util, n.power_w, strict=True)):
            if n.npu:
                npu_util.labels(str(i), n.product, n.name).set(u)
                npu_power.labels(str(i), n.product, n.name).set(w)
            else:
                model = n.product.replace("-", " ")
                util.labels(str(i), f"GPU-{n.name}-{i}", f"nvidia{i}", model, n.name).set(u)
                power.labels(str(i), f"GPU-{n.name}-{i}", f"nvidia{i}", model, n.name).set(w)
                fb.labels(str(i), f"GPU-{n.name}-{i}", f"nvidia{i}", model, n.name).set(1024 if u else 0)
    if duplicate:  # the same GPU exported twice under another UUID
        util.labels("0", "GPU-dup", "nvidia0", "NVIDIA H800", duplicate).set(50)
    for (a, b), seconds in (probes or {}).items():
        probe.labels("rtt", a, b).set(seconds)
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=reg)
    return server.server_port, server


def expected_free(nodes: list[FakeNode]) -> dict[str, int]:
    return {n.name: n.cards - n.requested for n in nodes}


def mean_util(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return sum(vals) / len(vals) / 100.0
