"""A sweep that outgrows one machine, as a Kubernetes Indexed Job: one scenario per completion
index. The scenario files go into a ConfigMap mounted at ``/scenarios``; pod ``i`` runs
``suanwang simulate -f /scenarios/scenario-i.yaml`` and writes its report to ``/reports/i`` (an
emptyDir by default; mount a shared volume there to keep the reports)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kubernetes import client as k
from kubernetes.client import ApiClient


def indexed_job(
    scenarios: list[Path],
    name: str,
    image: str,
    namespace: str = "suanwang",
    parallelism: int = 10,
    cpu: str = "2",
    memory: str = "4Gi",
) -> list[dict[str, Any]]:
    """[ConfigMap, Job] as plain manifests, ready for ``kubectl apply -f``."""
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:50] or "sweep"
    data = {f"scenario-{i}.yaml": p.read_text(encoding="utf-8") for i, p in enumerate(scenarios)}
    labels = {"app.kubernetes.io/managed-by": "suanwang", "suanwang.io/sweep": name}
    cm = k.V1ConfigMap(
        api_version="v1",
        kind="ConfigMap",
        data=data,
        metadata=k.V1ObjectMeta(name=f"{name}-scenarios", namespace=namespace, labels=labels),
    )
    run = (
        "suanwang simulate -f /scenarios/scenario-${JOB_COMPLETION_INDEX}.yaml "
        "--report-dir /reports/${JOB_COMPLETION_INDEX} -o json"
    )
    container = k.V1Container(
        name="simulate",
        image=image,
        command=["sh", "-c", run],
        resources=k.V1ResourceRequirements(requests={"cpu": cpu, "memory": memory}, limits={"memory": memory}),
        volume_mounts=[
            k.V1VolumeMount(name="scenarios", mount_path="/scenarios", read_only=True),
            k.V1VolumeMount(name="reports", mount_path="/reports"),
        ],
    )
    pod = k.V1PodSpec(
        restart_policy="Never",
        containers=[container],
        volumes=[
            k.V1Volume(name="scenarios", config_map=k.V1ConfigMapVolumeSource(name=f"{name}-scenarios")),
            k.V1Volume(name="reports", empty_dir=k.V1EmptyDirVolumeSource()),
        ],
    )
    job = k.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=k.V1JobSpec(
            completion_mode="Indexed",
            completions=len(scenarios),
            parallelism=min(parallelism, len(scenarios)),
            backoff_limit=len(scenarios),
            ttl_seconds_after_finished=86400,
            template=k.V1PodTemplateSpec(metadata=k.V1ObjectMeta(labels=labels), spec=pod),
        ),
    )
    api = ApiClient()
    return [api.sanitize_for_serialization(cm), api.sanitize_for_serialization(job)]
