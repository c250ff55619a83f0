"""Manifests from the official client's models, every kind validated against the official
Kubernetes schemas (kubernetes-validate, offline), and the dry-run folders of ``suanwang submit``."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import jsonschema
import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from suanwang.scheduler.cli import app
from suanwang.scheduler.k8s.manifests import build, resource_name, to_dict
from suanwang.solvers.problem import Container, Placement
from tests.crds import validate_custom
from tests.solvers.helpers import NOW, job

K8S_VERSIONS = ("1.30.0", "1.37.0")


def validate(doc: dict) -> None:
    for v in K8S_VERSIONS:
        kubernetes_validate.validate(doc, v, strict=True)


def place(j, site="nj-hub", model="H800"):
    return Placement(j.id, site, model, j.accelerators.nodes, j.accelerators.count, (), NOW, (site,), None, 1, 1, 1)


def docs(jiangsu, j, site="nj-hub", model="H800", **kube):
    s = jiangsu.site(site)
    if kube:
        s = dataclasses.replace(s, kube=dataclasses.replace(s.kube, **kube))
    return [to_dict(o) for o in build(j, place(j, site, model), s, jiangsu.accelerators[model], "plan-x", NOW)]


def test_single_node_training_job(jiangsu):
    c = Container("reg.example/train:1", ("python", "train.py"), ("--lr", "3e-4"), (("EPOCHS", "3"),), "16", "128Gi")
    (d,) = docs(jiangsu, job("ft-1", 8, 8, ("H800",), container=c, deadline=NOW + timedelta(hours=10)))
    validate(d)
    assert d["kind"] == "Job" and d["spec"]["completionMode"] == "NonIndexed"
    assert d["spec"]["activeDeadlineSeconds"] == 36000 and d["spec"]["backoffLimit"] >= 0
    assert d["spec"]["ttlSecondsAfterFinished"] > 0
    pod = d["spec"]["template"]["spec"]
    main = pod["containers"][0]
    assert main["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    assert main["resources"]["requests"]["cpu"] == "16" and main["image"] == "reg.example/train:1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H800"}
    assert {"name": "EPOCHS", "value": "3"} in main["env"]
    assert d["metadata"]["annotations"]["suanwang.io/job-id"] == "ft-1"
    assert d["metadata"]["annotations"]["suanwang.io/plan-id"] == "plan-x"


def test_multi_node_indexed_job_with_headless_service(jiangsu):
    jd, svc = docs(jiangsu, job("pretrain", 32, 8, ("Ascend910B",)), model="Ascend910B")
    validate(jd)
    validate(svc)
    assert jd["spec"]["completionMode"] == "Indexed" and jd["spec"]["parallelism"] == jd["spec"]["completions"] == 4
    assert svc["spec"]["clusterIP"] == "None" and jd["spec"]["template"]["spec"]["subdomain"] == svc["metadata"]["name"]
    env = {e["name"]: e for e in jd["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WORLD_SIZE"]["value"] == "4" and env["MASTER_ADDR"]["value"].startswith("pretrain-0.pretrain.")
    assert "job-completion-index" in env["RANK"]["valueFrom"]["fieldRef"]["fieldPath"]
    limits = jd["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"huawei.com/Ascend910": "8"}


def test_inference_deployment_and_service(jiangsu):
    dep, svc = docs(jiangsu, job("chat", 16, 8, ("H20",), origin="Nanjing", slo=5.0), site="nj-edge", model="H20")
    validate(dep)
    validate(svc)
    assert dep["kind"] == "Deployment" and dep["spec"]["replicas"] == 2
    assert svc["spec"]["ports"][0]["port"] == 8000


def test_kueue_and_volcano(jiangsu):
    (kq,) = docs(jiangsu, job("q", 8, 8, ("H800",)), queue="team-a")
    validate(kq)
    assert kq["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a" and kq["spec"]["suspend"] is True
    pg, vj, _svc = docs(jiangsu, job("v", 16, 8, ("H800",)), scheduler="volcano")
    validate(vj)
    assert pg["kind"] == "PodGroup" and pg["spec"]["minMember"] == 2
    validate_custom(pg, "volcano/scheduling.volcano.sh_podgroups.yaml")  # the real CRD's schema
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(
            {**pg, "spec": {**pg["spec"], "minMember": "two"}}, "volcano/scheduling.volcano.sh_podgroups.yaml"
        )
    assert vj["spec"]["template"]["spec"]["schedulerName"] == "volcano"
    assert vj["spec"]["template"]["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == pg["metadata"]["name"]


def test_invalid_manifest_is_rejected_by_schema():
    bad = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "main"}], "restartPolicy": "Never"}},
            "parallelism": "two",
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)


def test_names_are_deterministic_dns_labels():
    assert resource_name("chat") == "chat"
    a, b = resource_name("LLM_pretrain/01"), resource_name("llm-pretrain-01")
    assert a != b and a == resource_name("LLM_pretrain/01")
    assert all(len(resource_name(x * 30)) <= 40 for x in ("a", "Zz_"))


def test_dry_run_folders_apply_cleanly(tmp_path):
    out = tmp_path / "m"
    r = CliRunner().invoke(
        app,
        [
            "submit",
            "-f",
            "scheduler/data/demo_jobs.yaml",
            "--dry-run",
            "--manifests-dir",
            str(out),
            "--time-limit",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "kubectl --context js-nj-hub apply -f" in r.output
    files = sorted(out.rglob("*.yaml"))
    kinds = set()
    for f in files:
        for d in yaml.safe_load_all(f.read_text()):
            kinds.add(d["kind"])
            if d["kind"] != "PodGroup":
                kubernetes_validate.validate(d, K8S_VERSIONS[0], strict=True)
            if d["kind"] != "Namespace":
                assert d["metadata"]["namespace"] == "suanwang"
    assert {"Namespace", "Job", "Service", "Deployment"} <= kinds
    assert all((f.parent / "00-namespace.yaml").exists() for f in files)


def test_submit_without_kubeconfig_says_what_to_do(tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "submit",
            "-f",
            "scheduler/data/demo_jobs.yaml",
            "--time-limit",
            "0.5",
            "--kubeconfig",
            str(tmp_path / "none"),
        ],
    )
    assert r.exit_code == 3 and "--kubeconfig" in r.output
