"""Federation backends, every object checked against the real CRDs in shared/data/crds: a Karmada
site gets its workloads plus a PropagationPolicy pinning them to the chosen member cluster
(created through the official client's CustomObjectsApi against the API server test double, and
written by dry runs); a MultiKueue site gets Jobs labelled for its LocalQueue and suspended, and
`topology kueue-setup` prints the Kueue objects that pin that queue to one worker cluster."""

from __future__ import annotations

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from suanwang.errors import InputError
from suanwang.scheduler.cli import app
from suanwang.scheduler.k8s.client import site_apis
from suanwang.scheduler.k8s.dryrun import manifests_by_site
from suanwang.scheduler.k8s.kueue import setup_objects
from suanwang.scheduler.lifecycle import Lifecycle
from suanwang.scheduler.store import JsonStore
from suanwang.solvers import solve
from suanwang.topology.loader import load_topology
from tests.conftest import MINI
from tests.crds import validate_custom
from tests.scheduler.k8s.apiserver_double import ApiServerDouble
from tests.scheduler.k8s.test_lifecycle import kubeconfig
from tests.solvers.helpers import NOW, job, problem

KUEUE = {
    "MultiKueueCluster": "kueue/kueue.x-k8s.io_multikueueclusters.yaml",
    "MultiKueueConfig": "kueue/kueue.x-k8s.io_multikueueconfigs.yaml",
    "AdmissionCheck": "kueue/kueue.x-k8s.io_admissionchecks.yaml",
    "ResourceFlavor": "kueue/kueue.x-k8s.io_resourceflavors.yaml",
    "ClusterQueue": "kueue/kueue.x-k8s.io_clusterqueues.yaml",
    "LocalQueue": "kueue/kueue.x-k8s.io_localqueues.yaml",
}


def federated(tmp_path, nj: str, sz: str):
    text = MINI.replace(
        "    pools: [{accelerator: H800, nodes: 4, per_node: 8}]\n",
        f"    pools: [{{accelerator: H800, nodes: 4, per_node: 8}}]\n    kube: {nj}\n",
        1,
    ).replace(
        "    pools: [{accelerator: Ascend910B, nodes: 10, per_node: 8}]\n",
        f"    pools: [{{accelerator: Ascend910B, nodes: 10, per_node: 8}}]\n    kube: {sz}\n",
        1,
    )
    p = tmp_path / "fed.yaml"
    p.write_text(text)
    return load_topology(p), p


def test_karmada_site_gets_a_propagation_policy(tmp_path):
    topo, _ = federated(tmp_path, "{backend: karmada, cluster: member-nj, context: karmada}", "{}")
    prob = problem(topo, [job("kt", 16, 8, ("H800",))])
    docs = manifests_by_site(prob, solve(prob, "greedy"))["nj-hub"]
    (pp,) = [d for d in docs if d["kind"] == "PropagationPolicy"]
    validate_custom(pp, "karmada/policy.karmada.io_propagationpolicies.yaml")
    assert pp["spec"]["placement"]["clusterAffinity"]["clusterNames"] == ["member-nj"]
    selected = {(s["kind"], s["name"]) for s in pp["spec"]["resourceSelectors"]}
    assert selected == {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "PropagationPolicy"}
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(
            {**pp, "spec": {**pp["spec"], "preemption": "Sometimes"}},
            "karmada/policy.karmada.io_propagationpolicies.yaml",
        )


def test_karmada_submission_through_the_client(tmp_path):
    topo, _ = federated(tmp_path, "{backend: karmada, cluster: member-nj}", "{}")
    with ApiServerDouble() as api:
        apis = site_apis(topo, kubeconfig(tmp_path, topo, api.url), retries=0, timeout_s=2)
        life = Lifecycle(JsonStore(tmp_path / "s.json"), apis)
        prob = problem(topo, [job("kt", 8, 8, ("H800",))])
        out = life.submit(prob, solve(prob, "greedy"), NOW)
        assert "created PropagationPolicy kt" in out.jobs["kt"]
        assert api.names("propagationpolicies") == {"kt"} and api.names("jobs") == {"kt"}
        life.reconcile(NOW)
        assert life.store.get("kt").state == "submitted"  # not bound yet: no ResourceBinding
        binding = {
            "apiVersion": "work.karmada.io/v1alpha2",
            "kind": "ResourceBinding",
            "metadata": {"name": "kt-job", "namespace": "suanwang"},
            "spec": {"resource": {"apiVersion": "batch/v1", "kind": "Job", "name": "kt", "namespace": "suanwang"}},
            "status": {"aggregatedStatus": [{"clusterName": "member-nj", "applied": True, "status": {"active": 1}}]},
        }
        validate_custom(binding, "karmada/work.karmada.io_resourcebindings.yaml")
        api.objects[("resourcebindings", "suanwang", "kt-job")] = binding  # what Karmada writes
        life.reconcile(NOW)
        rec = life.store.get("kt")
        assert rec.state == "running" and "1 pods active" in rec.history[-1].reason
        assert life.cancel("kt", NOW) == "cancelled"
        assert set(api.objects) == {("resourcebindings", "suanwang", "kt-job")}  # the policy went with the job;
        # the binding is Karmada's own, removed by Karmada


def test_multikueue_site_and_its_setup(tmp_path):
    topo, path = federated(tmp_path, "{}", "{backend: multikueue, cluster: worker-sz, queue: sz-jobs}")
    prob = problem(topo, [job("mk", 16, 8, ("Ascend910B",))])
    (jd, *_) = manifests_by_site(prob, solve(prob, "greedy"))["sz-hub"]
    assert jd["kind"] == "Job" and jd["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "sz-jobs"
    assert jd["spec"]["suspend"] is True
    docs = setup_objects(topo)
    assert [d["kind"] for d in docs] == [
        "MultiKueueCluster", "MultiKueueConfig", "AdmissionCheck", "ResourceFlavor", "ClusterQueue", "LocalQueue",
    ]  # fmt: skip
    for d in docs:
        validate_custom(d, KUEUE[d["kind"]])
    by = {d["kind"]: d for d in docs}
    assert by["MultiKueueConfig"]["spec"]["clusters"] == ["worker-sz"]  # pinned to the one worker
    assert (
        by["LocalQueue"]["metadata"]["name"] == "sz-jobs"
        and by["LocalQueue"]["spec"]["clusterQueue"] == by["ClusterQueue"]["metadata"]["name"]
    )
    quota = by["ClusterQueue"]["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]
    assert quota == {"name": "huawei.com/Ascend910", "nominalQuota": 80}
    printed = CliRunner().invoke(app, ["topology", "kueue-setup", "-t", str(path)])
    assert printed.exit_code == 0 and [d["kind"] for d in yaml.safe_load_all(printed.stdout)] == [
        d["kind"] for d in docs
    ]


def test_federation_fields_are_checked(tmp_path):
    with pytest.raises(InputError, match="needs `queue:`"):
        federated(tmp_path, "{backend: multikueue}", "{}")
    with pytest.raises(InputError, match="only a federation uses"):
        federated(tmp_path, "{cluster: member-x}", "{}")
