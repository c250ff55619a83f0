"""Manifests for a placed job, built with the official ``kubernetes`` client's models.

* training and batch on one node → ``batch/v1`` Job;
* on several nodes → an Indexed Job (``completionMode: Indexed``, parallelism = completions =
  nodes) and a headless Service for rendezvous; each pod gets ``RANK`` (its completion index),
  ``WORLD_SIZE``, ``MASTER_ADDR`` (pod 0's DNS name) and ``MASTER_PORT``;
* inference → ``apps/v1`` Deployment (one replica per node's worth of cards) and a Service.

Accelerators are limits under the model's resource name, with a nodeSelector for the model.
Labels and annotations carry job id, tenant, priority and plan id. Per site, optionally, the Kueue
``kueue.x-k8s.io/queue-name`` label (the Job is created suspended for Kueue to admit), or
``schedulerName: volcano`` with a PodGroup for gang start. ``activeDeadlineSeconds`` comes from
the deadline, with ``backoffLimit`` and ``ttlSecondsAfterFinished``. Names are deterministic.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from kubernetes import client as k
from kubernetes.client import ApiClient

from suanwang.solvers.problem import Container, Job, Placement
from suanwang.topology.model import Accelerator, Site

MASTER_PORT = 29500
BACKOFF_LIMIT = 3
TTL_AFTER_FINISHED_S = 86400
DEFAULT_CONTAINER = Container(image="busybox:1.36", command=("sh", "-c", "echo no container given; sleep 60"))
_SERIALIZER = ApiClient()


def resource_name(job_id: str, limit: int = 40) -> str:
    """A DNS-1123 label for a job id; ids that had to change get a short hash so names stay unique."""
    base = re.sub(r"[^a-z0-9-]+", "-", job_id.lower()).strip("-") or "job"
    if base == job_id and len(base) <= limit:
        return base
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:6]
    return f"{base[: limit - 7].rstrip('-')}-{digest}"


def label_value(text: str) -> str:
    v = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("-_.")
    return v or "none"


def node_selector(acc: Accelerator) -> dict[str, str]:
    """The node label that names the model: NVIDIA GPU feature discovery's product label, or the
    Ascend device plugin's accelerator label."""
    if acc.resource.startswith("nvidia.com/"):
        return {"nvidia.com/gpu.product": f"NVIDIA-{acc.model}"}
    return {"accelerator": f"huawei-{acc.model}"}


def to_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else _SERIALIZER.sanitize_for_serialization(obj)


def build(job: Job, placement: Placement, site: Site, acc: Accelerator, plan_id: str, now: datetime) -> list[Any]:
    """The objects to create for ``job`` at ``placement`` (models, and a dict for a Volcano PodGroup)."""
    name = resource_name(job.id)
    ns = site.kube.namespace
    labels = {
        "app.kubernetes.io/managed-by": "suanwang",
        "suanwang.io/job": name,
        "suanwang.io/tenant": label_value(job.tenant),
        "suanwang.io/priority": str(job.priority),
    }
    annotations = {
        "suanwang.io/job-id": job.id,
        "suanwang.io/tenant": job.tenant,
        "suanwang.io/priority": str(job.priority),
        "suanwang.io/plan-id": plan_id,
        "suanwang.io/site": site.id,
        "suanwang.io/accelerator": acc.model,
    }
    if site.kube.queue:
        labels["kueue.x-k8s.io/queue-name"] = site.kube.queue
    nodes = job.accelerators.nodes
    c = job.container or DEFAULT_CONTAINER
    env = [k.V1EnvVar(name=n, value=v) for n, v in c.env]
    env.append(k.V1EnvVar(name="SUANWANG_JOB_ID", value=job.id))
    pod_annotations = dict(annotations)
    objects: list[Any] = []
    if site.kube.scheduler == "volcano":
        pod_annotations["scheduling.k8s.io/group-name"] = name
        objects.append(
            {
                "apiVersion": "scheduling.volcano.sh/v1beta1",
                "kind": "PodGroup",
                "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
                "spec": {"minMember": nodes},
            }
        )
    meta = k.V1ObjectMeta(name=name, namespace=ns, labels=labels, annotations=annotations)

    def template(pod: k.V1PodSpec) -> k.V1PodTemplateSpec:
        return k.V1PodTemplateSpec(metadata=k.V1ObjectMeta(labels=labels, annotations=pod_annotations), spec=pod)

    if job.kind == "inference":
        container = _container(c, acc, job.accelerators.per_node, env, ports=[k.V1ContainerPort(container_port=c.port)])
        pod = _pod_spec(container, acc, site, restart="Always")
        objects.append(
            k.V1Deployment(
                api_version="apps/v1",
                kind="Deployment",
                metadata=meta,
                spec=k.V1DeploymentSpec(
                    replicas=nodes,
                    selector=k.V1LabelSelector(match_labels={"suanwang.io/job": name}),
                    template=template(pod),
                ),
            )
        )
        objects.append(_service(meta, name, c.port))
        return objects
    indexed = nodes > 1
    if indexed:
        env += [
            k.V1EnvVar(
                name="RANK",
                value_from=k.V1EnvVarSource(
                    field_ref=k.V1ObjectFieldSelector(
                        field_path="metadata.annotations['batch.kubernetes.io/job-completion-index']"
                    )
                ),
            ),
            k.V1EnvVar(name="WORLD_SIZE", value=str(nodes)),
            k.V1EnvVar(name="NPROC_PER_NODE", value=str(job.accelerators.per_node)),
            k.V1EnvVar(name="MASTER_ADDR", value=f"{name}-0.{name}.{ns}.svc"),
            k.V1EnvVar(name="MASTER_PORT", value=str(MASTER_PORT)),
        ]
    container = _container(
        c,
        acc,
        job.accelerators.per_node,
        env,
        ports=[k.V1ContainerPort(container_port=MASTER_PORT)] if indexed else None,
    )
    pod = _pod_spec(container, acc, site, restart="Never", subdomain=name if indexed else None)
    deadline_s = None
    if job.deadline is not None:
        deadline_s = max(1, int((job.deadline - max(now, placement.start)).total_seconds()))
    spec = k.V1JobSpec(
        parallelism=nodes,
        completions=nodes,
        completion_mode="Indexed" if indexed else "NonIndexed",
        backoff_limit=BACKOFF_LIMIT,
        ttl_seconds_after_finished=TTL_AFTER_FINISHED_S,
        active_deadline_seconds=deadline_s,
        suspend=True if site.kube.queue else None,
        template=template(pod),
    )
    objects.append(k.V1Job(api_version="batch/v1", kind="Job", metadata=meta, spec=spec))
    if indexed:
        objects.append(_service(meta, name, MASTER_PORT, headless=True))
    return objects


def propagation_policy(objects: list[dict], site: Site) -> dict:
    """Karmada: send the job's objects (on the Karmada API server) to the one member cluster
    suanwang chose for it."""
    first = objects[0]["metadata"]
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {
            "name": first["name"],
            "namespace": first["namespace"],
            "labels": dict(first.get("labels") or {}),
            "annotations": dict(first.get("annotations") or {}),
        },
        "spec": {
            "resourceSelectors": [
                {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"]} for o in objects
            ],
            "placement": {"clusterAffinity": {"clusterNames": [site.kube.cluster or site.id]}},
            "preemption": "Never",
        },
    }


def _service(meta: k.V1ObjectMeta, name: str, port: int, headless: bool = False) -> k.V1Service:
    """A Service for the job's pods; headless (per-pod DNS, not-ready pods published) for rendezvous."""
    return k.V1Service(
        api_version="v1",
        kind="Service",
        metadata=meta,
        spec=k.V1ServiceSpec(
            cluster_ip="None" if headless else None,
            selector={"suanwang.io/job": name},
            publish_not_ready_addresses=True if headless else None,
            ports=[k.V1ServicePort(name="rendezvous" if headless else "serve", port=port, target_port=port)],
        ),
    )


def _container(c: Container, acc: Accelerator, per_node: int, env: list, ports=None) -> k.V1Container:
    return k.V1Container(
        name="main",
        image=c.image,
        command=list(c.command) or None,
        args=list(c.args) or None,
        env=env,
        ports=ports,
        resources=k.V1ResourceRequirements(
            requests={"cpu": c.cpu, "memory": c.memory, acc.resource: str(per_node)},
            limits={acc.resource: str(per_node)},
        ),
    )


def _pod_spec(
    container: k.V1Container, acc: Accelerator, site: Site, restart: str, subdomain: str | None = None
) -> k.V1PodSpec:
    return k.V1PodSpec(
        containers=[container],
        node_selector=node_selector(acc),
        restart_policy=restart,
        subdomain=subdomain,
        scheduler_name="volcano" if site.kube.scheduler == "volcano" else None,
    )
