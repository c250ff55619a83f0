"""Collector configuration: where each site's metrics live, the PromQL for each source, the
labels that name nodes and models, and when a stale site stops being used for planning.

```yaml
prometheus: {url: http://127.0.0.1:9090, timeout_s: 5, retries: 2}   # central store (site label)
site_label: site
sites:                                  # a centre with its own Prometheus
  xz-city: {url: http://10.1.0.9:9090}
queries: {gpu_util: 'DCGM_FI_DEV_GPU_UTIL{job="dcgm"}'}              # override any default PromQL
model_aliases: {NVIDIA-H800: H800}
max_stale_s: 900                        # planning stops using a site whose data is older
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from suanwang.contract import Contract, Name, Number, Refs, Text, fault, known, validate, whole
from suanwang.topology.model import Topology
from suanwang.yamldoc import read_document

# Default PromQL per source. Resource names follow kube-state-metrics' sanitising of extended
# resources (nvidia.com/gpu → nvidia_com_gpu); DCGM and npu-exporter names are those the exporters
# publish (NVIDIA dcgm-exporter default counters; Huawei ascend-npu-exporter collector).
DEFAULT_QUERIES: dict[str, str] = {
    "allocatable": 'kube_node_status_allocatable{resource=~"nvidia_com_gpu|huawei_com_Ascend910.*"}',
    "requested": "sum by (site, node, resource) "
    '(kube_pod_container_resource_requests{resource=~"nvidia_com_gpu|huawei_com_Ascend910.*"})',
    "node_labels": "kube_node_labels",
    "gpu_util": "DCGM_FI_DEV_GPU_UTIL",  # percent, labels gpu, Hostname, modelName
    "gpu_power": "DCGM_FI_DEV_POWER_USAGE",  # watts
    "gpu_mem_used": "DCGM_FI_DEV_FB_USED",  # MiB
    "npu_util": "npu_chip_info_utilization",  # percent, labels id, model_name
    "npu_power": "npu_chip_info_power",  # watts
    "npu_mem_used": "npu_chip_info_hbm_used_memory",  # MB
    "node_up": 'up{job="node"} * on (instance) group_left (nodename) node_uname_info',
    "probe_rtt": 'probe_icmp_duration_seconds{phase="rtt"}',  # blackbox exporter, range-queried
}
DEFAULT_LABELS: dict[str, str] = {
    "node": "node",  # kube-state-metrics
    "gpu_node": "Hostname",  # dcgm-exporter
    "npu_node": "node",  # npu-exporter after Kubernetes service discovery relabelling
    "health_node": "nodename",  # node_exporter's node_uname_info
    "probe_from": "src_city",  # blackbox targets relabelled with the two cities
    "probe_to": "dst_city",
}
# kube_node_labels labels that carry the accelerator model, first match wins.
DEFAULT_MODEL_LABELS = ("label_nvidia_com_gpu_product", "label_accelerator", "label_huawei_com_npu_model")


@dataclass(frozen=True)
class Source:
    url: str
    timeout_s: float = 5.0
    retries: int = 2


@dataclass(frozen=True)
class CollectorConfig:
    central: Source | None = None
    sites: dict[str, Source] = field(default_factory=dict)
    site_label: str = "site"
    queries: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUERIES))
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    model_labels: tuple[str, ...] = DEFAULT_MODEL_LABELS
    model_aliases: dict[str, str] = field(default_factory=dict)
    probe_window_s: float = 300.0
    max_stale_s: float = 900.0

    def sources(self, topology: Topology) -> list[tuple[Source, tuple[str, ...] | None]]:
        """(source, sites it serves); ``None`` for the central store (sites by label)."""
        own = [(src, (sid,)) for sid, src in self.sites.items()]
        if self.central is not None:
            return [(self.central, None)] + own
        return own


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise fault("must be an http(s) URL", "write e.g. http://127.0.0.1:9090")
    return value


QueryName = Literal[tuple(DEFAULT_QUERIES)]  # type: ignore[valid-type]
LabelRole = Literal[tuple(DEFAULT_LABELS)]  # type: ignore[valid-type]
PromQL = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class SourceSpec(Contract):
    url: Annotated[str, StringConstraints(max_length=2048), AfterValidator(_url)]
    timeout_s: Annotated[Number, Field(gt=0, le=300)] = 5.0
    retries: whole(ge=0, le=10) = 2


class CollectorConfigFile(Contract):
    """The collector config file (format in this module's docstring)."""

    prometheus: SourceSpec | None = None
    sites: Annotated[
        dict[Annotated[str, known("sites", "site", "use a site id of the topology")], SourceSpec],
        Field(max_length=10_000),
    ] = {}
    site_label: Name = "site"
    queries: dict[QueryName, PromQL] = {}
    labels: dict[LabelRole, Name] = {}
    model_labels: Annotated[list[Name], Field(max_length=64)] = []
    model_aliases: Annotated[dict[Text, Annotated[Text, known("accelerators", "model")]], Field(max_length=1000)] = {}
    probe_window_s: Annotated[Number, Field(gt=0, le=86_400)] = 300.0
    max_stale_s: Annotated[Number, Field(gt=0, le=7 * 86_400)] = 900.0


def load_collector_config(path: str | Path, topology: Topology) -> CollectorConfig:
    """The collector config at ``path``; raises InputError listing every fault."""
    doc = read_document(path)
    context = Refs(sites=[s.id for s in topology.sites], accelerators=list(topology.accelerators))
    spec = validate(CollectorConfigFile, doc, doc.data, context)
    if spec is not None and spec.prometheus is None and not spec.sites:
        doc.fault("prometheus", "no Prometheus configured", "add `prometheus: {url: ...}` or per-site `sites:`")
    doc.raise_if_faulty("collector config")
    assert spec is not None

    def source(s: SourceSpec) -> Source:
        return Source(s.url, s.timeout_s, s.retries)

    return CollectorConfig(
        source(spec.prometheus) if spec.prometheus else None,
        {sid: source(s) for sid, s in spec.sites.items()},
        spec.site_label,
        {**DEFAULT_QUERIES, **spec.queries},
        {**DEFAULT_LABELS, **spec.labels},
        tuple(spec.model_labels) or DEFAULT_MODEL_LABELS,
        dict(spec.model_aliases),
        spec.probe_window_s,
        spec.max_stale_s,
    )
