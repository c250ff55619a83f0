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

from suanwang.topology.model import Topology
from suanwang.yamldoc import join, read_document

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


def load_collector_config(path: str | Path, topology: Topology) -> CollectorConfig:
    doc = read_document(path)
    root = doc.mapping(doc.data, "")
    doc.keys(
        root,
        "",
        (
            "prometheus",
            "sites",
            "site_label",
            "queries",
            "labels",
            "model_labels",
            "model_aliases",
            "probe_window_s",
            "max_stale_s",
        ),
    )

    def source(raw, p) -> Source | None:
        spec = doc.mapping(raw, p)
        doc.keys(spec, p, ("url", "timeout_s", "retries"))
        url = doc.string(spec, "url", p)
        if url is not None and not url.startswith(("http://", "https://")):
            doc.fault(join(p, "url"), "must be an http(s) URL", "write e.g. http://127.0.0.1:9090", url)
            return None
        t = doc.number(spec, "timeout_s", p, default=5.0, positive=True)
        r = doc.number(spec, "retries", p, default=2, integer=True, minimum=0)
        return Source(url, t, r) if None not in (url, t, r) else None

    central = source(root["prometheus"], "prometheus") if root.get("prometheus") is not None else None
    sites = {}
    known = {s.id for s in topology.sites}
    for sid, raw in doc.mapping(root.get("sites"), "sites", required=False).items():
        if sid not in known:
            doc.fault(join("sites", sid), "unknown site", "use a site id of the topology", sid)
            continue
        src = source(raw, join("sites", sid))
        if src:
            sites[sid] = src
    if central is None and not sites and not doc.faults:
        doc.fault("prometheus", "no Prometheus configured", "add `prometheus: {url: ...}` or per-site `sites:`")
    queries = dict(DEFAULT_QUERIES)
    for key, q in doc.mapping(root.get("queries"), "queries", required=False).items():
        if key not in DEFAULT_QUERIES:
            doc.fault(join("queries", key), "unknown query name", f"use one of: {', '.join(DEFAULT_QUERIES)}", key)
        elif not isinstance(q, str) or not q.strip():
            doc.fault(join("queries", key), "must be PromQL text", "write the query as a string", q)
        else:
            queries[key] = q
    labels = dict(DEFAULT_LABELS)
    for key, v in doc.mapping(root.get("labels"), "labels", required=False).items():
        if key not in DEFAULT_LABELS:
            doc.fault(join("labels", key), "unknown label role", f"use one of: {', '.join(DEFAULT_LABELS)}", key)
        else:
            labels[key] = str(v)
    aliases = {}
    for k, v in doc.mapping(root.get("model_aliases"), "model_aliases", required=False).items():
        if str(v) not in topology.accelerators:
            doc.fault(
                join("model_aliases", k),
                "maps to an unknown model",
                f"use one of: {', '.join(topology.accelerators)}",
                v,
            )
        else:
            aliases[str(k)] = str(v)
    model_labels = (
        tuple(str(x) for x in doc.sequence(root.get("model_labels"), "model_labels", required=False))
        or DEFAULT_MODEL_LABELS
    )
    window = doc.number(root, "probe_window_s", "", default=300.0, positive=True)
    max_stale = doc.number(root, "max_stale_s", "", default=900.0, positive=True)
    doc.raise_if_faulty("collector config")
    return CollectorConfig(
        central, sites, str(root.get("site_label") or "site"), queries, labels, model_labels, aliases, window, max_stale
    )
