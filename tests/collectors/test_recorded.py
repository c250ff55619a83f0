"""Prometheus API edge cases from recorded responses, served by a small loopback HTTP server that
replays them (a test double of the Prometheus API, not a Prometheus): retries on 5xx, rejected
PromQL, timeouts, NaN values, missing and unknown labels, down nodes, over-requested nodes,
warnings (partial data), per-site Prometheus without a site label; and collector config faults."""

from __future__ import annotations

import urllib.parse

import pytest

from suanwang.collectors.collect import collect
from suanwang.collectors.config import DEFAULT_QUERIES, CollectorConfig, Source, load_collector_config
from suanwang.collectors.promapi import PromClient
from suanwang.errors import InputError, TemporaryError
from tests.jsonhttp import serve_json


def vector(*series, warnings=()):
    body = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": m, "value": [1764000000, v]} for m, v in series]},
    }
    if warnings:
        body["warnings"] = list(warnings)
    return body


class Replay:
    """Maps a PromQL string to a list of (status, body, delay_s) answers, consumed in order."""

    def __init__(self):
        self.answers: dict[str, list] = {}
        self.calls: list[str] = []

    def __enter__(self):
        def answer(method: str, path: str, body: bytes):
            q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query).get("query", [""])[0]
            self.calls.append(q)
            empty = {
                "status": "success",
                "data": {"resultType": "matrix" if "query_range" in path else "vector", "result": []},
            }
            queue = self.answers.get(q) or [(200, empty, 0)]
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.server, self.url = serve_json(answer)
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    def on(self, name: str, *answers):
        self.answers[DEFAULT_QUERIES.get(name, name)] = [a if isinstance(a, tuple) else (200, a, 0) for a in answers]


def test_retries_5xx_then_succeeds():
    with Replay() as r:
        r.on("up", (503, {"status": "error"}, 0), vector(({"job": "x"}, "1")))
        res = PromClient(r.url, retries=2, backoff_s=0.01).query("up")
        assert [s.value for s in res.samples] == [1.0] and r.calls.count("up") == 2


def test_rejected_promql_is_input_error():
    with Replay() as r:
        r.on("bad(", (400, {"status": "error", "errorType": "bad_data", "error": "parse error"}, 0))
        with pytest.raises(InputError, match="parse error"):
            PromClient(r.url, retries=2, backoff_s=0.01).query("bad(")
        assert r.calls.count("bad(") == 1  # not retried


def test_timeout_is_temporary():
    with Replay() as r:
        r.on("slow", (200, vector(), 1.0))
        with pytest.raises(TemporaryError, match="did not answer"):
            PromClient(r.url, timeout_s=0.2, retries=1, backoff_s=0.01).query("slow")


def test_nan_and_warnings_pass_through():
    with Replay() as r:
        r.on("x", vector(({"a": "1"}, "NaN"), warnings=["partial response: store down"]))
        res = PromClient(r.url).query("x")
        assert res.samples[0].value != res.samples[0].value and res.warnings


def _node(sid, node, product="NVIDIA-H800"):
    return {"site": sid, "node": node, "label_nvidia_com_gpu_product": product}


def test_edge_cases_in_a_collection(jiangsu):
    with Replay() as r:
        r.on(
            "allocatable",
            vector(
                ({"site": "nj-hub", "node": "a", "resource": "nvidia_com_gpu"}, "8"),
                ({"site": "nj-hub", "node": "b", "resource": "nvidia_com_gpu"}, "8"),
                ({"site": "nj-hub", "node": "c", "resource": "nvidia_com_gpu"}, "8"),
                ({"site": "nj-hub", "resource": "nvidia_com_gpu"}, "8"),  # no node label
                ({"node": "d", "resource": "nvidia_com_gpu"}, "8"),  # no site label
                ({"site": "mars-hub", "node": "e", "resource": "nvidia_com_gpu"}, "8"),  # unknown site
                warnings=["partial response"],
            ),
        )
        r.on("requested", vector(({"site": "nj-hub", "node": "b", "resource": "nvidia_com_gpu"}, "12")))
        r.on("node_labels", vector(*[({**_node("nj-hub", n)}, "1") for n in "abc"]))
        r.on("node_up", vector(({"site": "nj-hub", "nodename": "c"}, "0")))
        snap = collect(jiangsu, CollectorConfig(central=Source(r.url, timeout_s=2, retries=0)))
    pool = snap.sites["nj-hub"].pools["H800"]
    assert pool.free_per_node == {"a": 8, "b": 0, "c": 0}
    assert pool.unhealthy == ["c"]
    text = " | ".join(snap.anomalies + snap.unmatched)
    for needle in (
        "without `node` label",
        "without a `site` label",
        "mars-hub",
        "12 requested > 8",
        "partial response",
    ):
        assert needle in text, needle


def test_per_site_prometheus_needs_no_site_label(jiangsu):
    with Replay() as r:
        r.on("allocatable", vector(({"node": "x1", "resource": "huawei_com_Ascend910"}, "8")))
        r.on("node_labels", vector(({"node": "x1", "label_accelerator": "Ascend910B"}, "1")))
        cfg = CollectorConfig(sites={"xz-city": Source(r.url, retries=0)})
        snap = collect(jiangsu, cfg)
    assert snap.sites["xz-city"].pools["Ascend910B"].free_per_node == {"x1": 8}
    assert set(snap.sites) == {"xz-city"}


def test_config_file_and_faults(jiangsu, tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text(
        "prometheus: {url: http://127.0.0.1:9090}\nsites: {xz-city: {url: http://127.0.0.1:9091}}\n"
        "queries: {gpu_util: 'DCGM_FI_DEV_GPU_UTIL{job=\"dcgm\"}'}\nmodel_aliases: {NVIDIA-H800-PCIe: H800}\n"
    )
    cfg = load_collector_config(good, jiangsu)
    assert cfg.queries["gpu_util"].endswith('{job="dcgm"}') and cfg.sites["xz-city"].url.endswith("9091")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "prometheus: {url: ftp://x}\nsites: {mars: {url: http://x}}\nqueries: {gpu_utl: up}\nmodel_aliases: {X: B300}\n"
    )
    with pytest.raises(InputError) as e:
        load_collector_config(bad, jiangsu)
    assert {f.path for f in e.value.faults} == {"prometheus.url", "sites.mars", "queries.gpu_utl", "model_aliases.X"}
