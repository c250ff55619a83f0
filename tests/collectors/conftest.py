"""Fixtures that start real services on loopback: the Debian ``prometheus`` server and
``prometheus-node-exporter``, scraping the test exporters of :mod:`tests.collectors.exporters`."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.collectors.exporters import FakeNode, serve
from tests.ports import free_port

NJ = [
    FakeNode("gpu-nj-1", "NVIDIA-H800", requested=3, util=[90, 80, 70, 60, 0, 0, 0, 0], power_w=[650] * 4 + [80] * 4),
    FakeNode("gpu-nj-2", "NVIDIA-H800", requested=8, util=[95] * 8, power_w=[690] * 8),
    FakeNode("gpu-nj-3", "NVIDIA-H800", util=[0] * 7 + [float("nan")], power_w=[70] * 8),
    FakeNode("npu-nj-1", "Ascend910B", requested=4, util=[50] * 8, power_w=[300] * 8, npu=True),
    FakeNode("gpu-nj-x", "NVIDIA-B200", util=[10] * 8, power_w=[100] * 8),  # no such model in the topology
]
SZ = [
    FakeNode("gpu-sz-1", "NVIDIA-H20", requested=2, util=[40] * 8, power_w=[250] * 8),
    FakeNode("gpu-sz-2", "NVIDIA-H800", util=[0] * 8, power_w=[60] * 8),
]
PROBES = {("Nanjing", "Suzhou"): 0.0031}


def _wait(url: str, timeout_s: float = 30.0, check=None) -> None:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                body = r.read()
                if check is None or check(body):
                    return
        except OSError as e:
            last = e
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready in {timeout_s} s ({last})")


@pytest.fixture(scope="module")
def exporters():
    port_nj, srv_nj = serve(NJ, PROBES, duplicate="gpu-nj-2")
    port_sz, srv_sz = serve(SZ)
    node_port = free_port()
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if binary is None:
        pytest.fail("prometheus-node-exporter is not installed; run `bash .ci/run`, which installs it")
    node = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{node_port}",
            "--collector.disable-defaults",
            "--collector.uname",
            "--collector.loadavg",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(f"http://127.0.0.1:{node_port}/metrics")
    yield {"nj-hub": port_nj, "sz-hub": port_sz, "node": node_port}
    node.terminate()
    node.wait(10)
    srv_nj.shutdown()
    srv_sz.shutdown()


def start_prometheus(tmp: Path, targets: dict) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed; run `bash .ci/run`, which installs it")
    port = free_port()
    cfg = tmp / "prometheus.yml"
    cfg.write_text(
        json.dumps(
            {  # JSON is valid YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "accelerators",
                        "static_configs": [
                            {"targets": [f"127.0.0.1:{targets['nj-hub']}"], "labels": {"site": "nj-hub"}},
                            {"targets": [f"127.0.0.1:{targets['sz-hub']}"], "labels": {"site": "sz-hub"}},
                        ],
                    },
                    {
                        "job_name": "node",
                        "static_configs": [{"targets": [f"127.0.0.1:{targets['node']}"], "labels": {"site": "nj-hub"}}],
                    },
                ],
            }
        )
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/-/ready")

    def scraped(body: bytes) -> bool:
        res = json.loads(body)["data"]["result"]
        return bool(res) and float(res[0]["value"][1]) >= 3

    # three scrapes of every target, so that range queries over the probe window have samples
    _wait(f"{url}/api/v1/query?query=min(count_over_time(up[1m]))", check=scraped)
    return proc, url


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def prometheus(exporters, tmp_path_factory):
    """One Prometheus shared by tests that only read from it."""
    proc, url = start_prometheus(tmp_path_factory.mktemp("prom"), exporters)
    yield proc, url
    _stop(proc)


@pytest.fixture()
def own_prometheus(exporters, tmp_path):
    """A Prometheus of the test's own, which it may stop."""
    proc, url = start_prometheus(tmp_path, exporters)
    yield proc, url
    _stop(proc)
