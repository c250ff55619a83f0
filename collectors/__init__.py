"""Collectors: the only code that reads Prometheus and other live feeds.

Will turn dcgm-exporter, npu-exporter, kube-state-metrics, node_exporter and blackbox probes into
a state snapshot (free cards per node, power draw, measured link RTT and jitter) merged into the
topology graph.
"""
