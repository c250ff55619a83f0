"""One collection: query every configured Prometheus, build the state snapshot, keep last-known
values for what could not be read.

Free cards per node = kube-state-metrics allocatable − requested for the node's accelerator
resource; a node that node_exporter reports down offers none. A node's model comes from its
Kubernetes labels (``model_labels``, then DCGM's ``modelName`` or npu-exporter's ``model_name``),
mapped to the topology's models through ``model_aliases`` or by name. Site power draw is the
cards' reported board power × the site's PUE. Link RTT and jitter are the mean and standard
deviation of blackbox ICMP probes between cities over ``probe_window_s`` (a range query).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from suanwang.collectors.config import CollectorConfig
from suanwang.collectors.promapi import PromClient, Result
from suanwang.collectors.snapshot import LinkMeasure, PoolSnapshot, SiteSnapshot, Snapshot
from suanwang.errors import SuanwangError, TemporaryError
from suanwang.timeutil import CST, now_local
from suanwang.topology.model import Topology

ClientFactory = Callable[[str, float, int], PromClient]
_INSTANT = (
    "allocatable",
    "requested",
    "node_labels",
    "gpu_util",
    "gpu_power",
    "gpu_mem_used",
    "npu_util",
    "npu_power",
    "npu_mem_used",
    "node_up",
)


def resource_label(resource: str) -> str:
    """kube-state-metrics' form of an extended resource name (``nvidia.com/gpu`` → ``nvidia_com_gpu``)."""
    return "".join(c if c.isalnum() else "_" for c in resource)


def collect(
    topology: Topology,
    config: CollectorConfig,
    previous: Snapshot | None = None,
    now: datetime | None = None,
    client_factory: ClientFactory = PromClient,
) -> Snapshot:
    now = now or now_local()
    snap = Snapshot(now, config.max_stale_s)
    own = set(config.sites)
    link_done = False
    for source, served in config.sources(topology):
        scope = list(served) if served else [s.id for s in topology.sites if s.id not in own]
        client = client_factory(source.url, source.timeout_s, source.retries)
        try:
            results = {name: client.query(config.queries[name], _utc(now)) for name in _INSTANT}
            fresh = _Ingest(topology, config, snap, served, results).run(scope)
        except SuanwangError as e:  # down, slow, refusing the PromQL, or answering nonsense
            for sid in scope:
                snap.sites.pop(sid, None)
            snap.keep_stale(scope, previous, str(e))
            continue
        except Exception as e:  # noqa: BLE001 — an answer the ingest could not read: the same
            for sid in scope:
                snap.sites.pop(sid, None)
            snap.keep_stale(scope, previous, f"unreadable answer from {source.url}: {type(e).__name__}: {e}")
            continue
        silent = [sid for sid in scope if sid not in fresh and sid in {s.id for s in topology.sites}]
        if silent:
            snap.keep_stale(silent, previous, f"{source.url} reported no accelerator nodes for it")
        if not link_done:
            try:
                window = timedelta(seconds=config.probe_window_s)
                probes = client.query_range(
                    config.queries["probe_rtt"], _utc(now - window), _utc(now), max(1.0, config.probe_window_s / 30)
                )
                snap.links = _links(topology, config, probes, snap)
                link_done = True
            except TemporaryError as e:
                snap.anomalies.append(f"link probes not read from {source.url}: {e}")
    if not link_done and previous is not None:
        snap.links = list(previous.links)
    return snap


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=CST)


class _Ingest:
    """Turns one source's query results into site snapshots."""

    def __init__(self, topology: Topology, config: CollectorConfig, snap: Snapshot, served, results) -> None:
        self.topo, self.cfg, self.snap, self.served, self.r = topology, config, snap, served, results
        self.sites = {s.id: s for s in topology.sites}

    def site_label(self, labels: dict[str, str]) -> str | None:
        """The series' site: its site label, else the site whose own Prometheus answered."""
        return labels.get(self.cfg.site_label) or (self.served[0] if self.served else None)

    def site_of(self, labels: dict[str, str], what: str) -> str | None:
        sid = self.site_label(labels)
        if sid is None:
            self.snap.anomalies.append(
                f"{what}: series without a `{self.cfg.site_label}` label {labels}; "
                "add it by relabelling or give the site its own Prometheus"
            )
            return None
        if sid not in self.sites:
            self.snap.unmatched.append(f"{what}: site {sid!r} is not in the topology")
            return None
        return sid

    def per_node(self, result: Result, node_label: str, what: str, extra: str | None = None, keep=max) -> dict:
        """{(site, node[, extra]): value}, reporting NaN, missing labels and duplicates; of duplicated
        series ``keep`` picks the conservative value (least capacity, most use)."""
        out: dict = {}
        for w in result.warnings:
            self.snap.anomalies.append(f"{what}: Prometheus warned: {w}")
        for smp in result.samples:
            node = smp.labels.get(node_label)
            if not node:
                self.snap.anomalies.append(f"{what}: series without `{node_label}` label {smp.labels}; skipped")
                continue
            if math.isnan(smp.value) or math.isinf(smp.value):
                self.snap.anomalies.append(f"{what}: {smp.value} for {node}; skipped")
                continue
            sid = self.site_of(smp.labels, what)
            if sid is None:
                continue
            key = (sid, node) if extra is None else (sid, node, smp.labels.get(extra, ""))
            if key in out:
                out[key] = keep(out[key], smp.value)
                self.snap.anomalies.append(f"{what}: duplicate series for {key[1:]} at {sid}; kept {out[key]:g}")
                continue
            out[key] = smp.value
        return out

    def model_of(self, text: str) -> str | None:
        if text in self.cfg.model_aliases:
            return self.cfg.model_aliases[text]
        flat = text.lower().replace("-", "").replace(" ", "").replace("_", "")
        for m in sorted(self.topo.accelerators, key=len, reverse=True):
            if m.lower() in flat:
                return m
        return None

    def run(self, scope: list[str]) -> set[str]:
        """Ingest the answers; the sites read fresh."""
        lab = self.cfg.labels
        alloc = self.per_node(self.r["allocatable"], lab["node"], "allocatable", extra="resource", keep=min)
        req = self.per_node(self.r["requested"], lab["node"], "requested", extra="resource")
        gpu_util = self.per_node(self.r["gpu_util"], lab["gpu_node"], "gpu_util", extra="gpu")
        gpu_power = self.per_node(self.r["gpu_power"], lab["gpu_node"], "gpu_power", extra="gpu")
        npu_util = self.per_node(self.r["npu_util"], lab["npu_node"], "npu_util", extra="id")
        npu_power = self.per_node(self.r["npu_power"], lab["npu_node"], "npu_power", extra="id")
        mem_mib = {
            **self.per_node(self.r["gpu_mem_used"], lab["gpu_node"], "gpu_mem_used", extra="gpu"),
            **self.per_node(self.r["npu_mem_used"], lab["npu_node"], "npu_mem_used", extra="id"),
        }
        up = self.per_node(self.r["node_up"], lab["health_node"], "node_up", keep=min)
        models: dict[tuple[str, str], str] = {}
        for res, name_label in ((self.r["gpu_util"], "modelName"), (self.r["npu_util"], "model_name")):
            node_label = lab["gpu_node"] if name_label == "modelName" else lab["npu_node"]
            for smp in res.samples:
                sid = self.site_label(smp.labels)
                if smp.labels.get(node_label) and smp.labels.get(name_label):
                    models.setdefault((sid, smp.labels[node_label]), smp.labels[name_label])
        for smp in self.r["node_labels"].samples:
            node = smp.labels.get(lab["node"])
            sid = self.site_label(smp.labels)
            for ml in self.cfg.model_labels:
                if node and smp.labels.get(ml):
                    models[(sid, node)] = smp.labels[ml]
                    break
        resources = {m: resource_label(a.resource) for m, a in self.topo.accelerators.items()}
        seen: set[str] = set()
        for (sid, node, resource), cards in sorted(alloc.items()):
            text = models.get((sid, node))
            model = self.model_of(text) if text else None
            if model is None:
                self.snap.unmatched.append(
                    f"node {node} at {sid}: model {text!r} matches no accelerator of the "
                    "topology; add it to model_aliases"
                )
                continue
            if resources[model] != resource:
                self.snap.anomalies.append(f"node {node} at {sid}: {model} but allocatable resource {resource}")
            if all(p.accelerator != model for p in self.sites[sid].pools):
                self.snap.unmatched.append(f"node {node} at {sid}: {model}, and the site has no {model} pool")
                continue
            used = req.get((sid, node, resource), 0.0)
            free = int(cards - used)
            if free < 0:
                self.snap.anomalies.append(f"node {node} at {sid}: {used:g} requested > {cards:g} allocatable")
                free = 0
            site = self.snap.sites.setdefault(sid, SiteSnapshot(observed_at=self.snap.observed_at))
            pool = site.pools.setdefault(model, PoolSnapshot())
            if up.get((sid, node)) == 0:
                pool.unhealthy.append(node)
                free = 0
            pool.free_per_node[node] = free
            seen.add(sid)
        # utilisation and power per pool and site, from per-card series grouped by node once
        util_by_node = _by_node({**gpu_util, **npu_util})
        power_by_node = _by_node({**gpu_power, **npu_power})
        mem_by_node = _by_node(mem_mib)
        for sid, site in self.snap.sites.items():
            if sid not in seen:
                continue
            utils, watts = [], 0.0
            for pool in site.pools.values():
                nodes = [(sid, n) for n in pool.free_per_node]
                u = [v for k in nodes for v in util_by_node.get(k, ())]
                pool.utilisation = statistics.fmean(u) / 100.0 if u else None
                utils += u
                watts += sum(v for k in nodes for v in power_by_node.get(k, ()))
                mem = [v for k in nodes for v in mem_by_node.get(k, ())]
                pool.memory_used_gb = sum(mem) / 1024.0 if mem else None
            site.utilisation = statistics.fmean(utils) / 100.0 if utils else None
            site.power_draw_kw = watts / 1000.0 * self.sites[sid].pue
        for sid in scope:
            if sid not in seen and sid in self.sites:
                self.snap.anomalies.append(f"site {sid}: no accelerator nodes reported")
        return seen


def _by_node(per_card: dict) -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (site, node, _card), value in per_card.items():
        out[(site, node)].append(value)
    return out


def _links(topology: Topology, config: CollectorConfig, probes: Result, snap: Snapshot) -> list[LinkMeasure]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for w in probes.warnings:
        snap.anomalies.append(f"probe_rtt: Prometheus warned: {w}")
    for series in probes.samples:
        a, b = series.labels.get(config.labels["probe_from"]), series.labels.get(config.labels["probe_to"])
        if not a or not b:
            snap.anomalies.append(f"probe_rtt: series without source or target city {series.labels}; skipped")
            continue
        if a not in topology.cities or b not in topology.cities:
            snap.unmatched.append(f"probe {a} → {b}: not two cities of the topology")
            continue
        vals = [v for _, v in series.points if not (math.isnan(v) or math.isinf(v))]
        if len(vals) < len(series.points):
            snap.anomalies.append(f"probe {a} → {b}: {len(series.points) - len(vals)} NaN samples skipped")
        groups[(a, b)].extend(vals)
    out = []
    for (a, b), vals in sorted(groups.items()):
        if not vals:
            continue
        jitter = statistics.pstdev(vals) * 1e6 if len(vals) > 1 else None
        out.append(LinkMeasure(a, b, statistics.fmean(vals) * 1000.0, jitter, len(vals), snap.observed_at))
    return out
