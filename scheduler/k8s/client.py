"""Per-site Kubernetes clients and the calls suanwang makes: idempotent create, status, delete.

Each site's kube context (from the topology) is resolved in a kubeconfig file; one API client per
site. Creation is idempotent: names are deterministic, and on 409 the existing object is adopted
when its ``suanwang.io/job-id`` annotation is ours, or reported as a conflict when it is not.
Server errors (5xx, 429) and transport faults are retried with backoff, then raised as
:class:`TemporaryError`; nothing is created twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k
from kubernetes import config as kube_config
from kubernetes.client.rest import ApiException

from suanwang.errors import InputError, PermanentError, TemporaryError
from suanwang.topology.model import Topology

# custom resources suanwang creates: kind -> (group, version, plural)
CUSTOM = {
    "PodGroup": ("scheduling.volcano.sh", "v1beta1", "podgroups"),
    "PropagationPolicy": ("policy.karmada.io", "v1alpha1", "propagationpolicies"),
    "ResourceBinding": ("work.karmada.io", "v1alpha2", "resourcebindings"),
}


@dataclass(frozen=True)
class Outcome:
    kind: str
    name: str
    action: str  # "created" | "adopted"


def site_clients(
    topology: Topology, kubeconfig: str | Path, sites: Iterable[str] | None = None
) -> dict[str, k.ApiClient]:
    """One API client per site, from the site's context in ``kubeconfig``: for ``sites`` (each must
    have its context), or for every site whose context the kubeconfig has."""
    wanted = None if sites is None else set(sites)
    out = {}
    for site in topology.sites:
        if wanted is not None and site.id not in wanted:
            continue
        cfg = k.Configuration()
        try:
            kube_config.load_kube_config(
                config_file=str(kubeconfig), context=site.kube.context, client_configuration=cfg, persist_config=False
            )
        except (kube_config.ConfigException, FileNotFoundError) as e:
            if wanted is None and not isinstance(e, FileNotFoundError):
                continue  # a site this kubeconfig does not reach: no client, nothing submitted there
            raise InputError(
                f"{kubeconfig}: no usable context {site.kube.context!r} for site {site.id} ({e}); "
                "add the context or fix kube.context in the topology"
            ) from e
        cfg.retries = False  # retries are ours, with backoff
        out[site.id] = k.ApiClient(cfg)
    return out


def site_apis(topology: Topology, kubeconfig: str | Path, **kw: Any) -> dict[str, SiteApi]:
    """A :class:`SiteApi` per site the kubeconfig reaches, aware of each site's backend."""
    sites = {s.id: s for s in topology.sites}
    return {
        sid: SiteApi(
            c,
            sid,
            karmada_cluster=(sites[sid].kube.cluster or sid) if sites[sid].kube.backend == "karmada" else None,
            **kw,
        )
        for sid, c in site_clients(topology, kubeconfig).items()
    }


class SiteApi:
    """The calls made against one site's API server."""

    def __init__(
        self,
        api: k.ApiClient,
        site: str,
        retries: int = 3,
        backoff_s: float = 0.2,
        timeout_s: float = 5.0,
        karmada_cluster: str | None = None,
    ) -> None:
        self.site, self.retries, self.backoff_s, self.timeout_s = site, retries, backoff_s, timeout_s
        self.karmada_cluster = karmada_cluster  # set: this API server is Karmada's, the work runs there
        self.batch, self.apps, self.core = k.BatchV1Api(api), k.AppsV1Api(api), k.CoreV1Api(api)
        self.custom = k.CustomObjectsApi(api)
        self._namespaces: set[str] = set()

    def _call(self, what: str, fn, *args, **kw) -> Any:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return fn(*args, _request_timeout=self.timeout_s, **kw)
            except ApiException as e:
                if e.status and (e.status >= 500 or e.status == 429):
                    last = e
                    continue
                raise
            except (urllib3.exceptions.HTTPError, OSError) as e:
                last = e
        raise TemporaryError(
            f"site {self.site}: API server did not answer {what} after {self.retries + 1} tries "
            f"({last}); the submission is retried later",
            retry_after_s=10,
        ) from last

    def _ops(self, kind: str, ns: str):
        return {
            "Job": (self.batch.create_namespaced_job, self.batch.read_namespaced_job, self.batch.delete_namespaced_job),
            "Deployment": (
                self.apps.create_namespaced_deployment,
                self.apps.read_namespaced_deployment,
                self.apps.delete_namespaced_deployment,
            ),
            "Service": (
                self.core.create_namespaced_service,
                self.core.read_namespaced_service,
                self.core.delete_namespaced_service,
            ),
        }.get(kind)

    def ensure_namespace(self, ns: str) -> None:
        """Create the namespace if the site does not have it yet (once per client)."""
        if ns in self._namespaces:
            return
        try:
            self._call(f"read Namespace {ns}", self.core.read_namespace, ns)
        except ApiException as e:
            if e.status != 404:
                raise PermanentError(f"site {self.site}: cannot read namespace {ns}: {e.status} {e.reason}") from e
            body = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "suanwang"}},
            }
            try:
                self._call(f"create Namespace {ns}", self.core.create_namespace, body)
            except ApiException as e2:
                if e2.status != 409:
                    raise PermanentError(
                        f"site {self.site} refused namespace {ns}: {e2.status} {e2.reason}; "
                        "create it, or give suanwang's account the right to"
                    ) from e2
        self._namespaces.add(ns)

    def create(self, obj: dict, job_id: str) -> Outcome:
        kind, name, ns = obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"]
        try:
            if kind in CUSTOM:
                group, version, plural = CUSTOM[kind]
                self._call(
                    f"create {kind} {name}",
                    self.custom.create_namespaced_custom_object,
                    group,
                    version,
                    ns,
                    plural,
                    obj,
                )
            else:
                self._call(f"create {kind} {name}", self._ops(kind, ns)[0], ns, obj)
            return Outcome(kind, name, "created")
        except ApiException as e:
            if e.status != 409:
                raise PermanentError(
                    f"site {self.site} refused {kind} {name}: {e.status} {e.reason}: "
                    f"{(e.body or '')[:300]}; fix the job or the site's admission rules"
                ) from e
        existing = self.read(kind, ns, name)
        annotations = (existing or {}).get("metadata", {}).get("annotations") or {}
        if annotations.get("suanwang.io/job-id") != job_id:
            raise PermanentError(
                f"site {self.site}: {kind} {ns}/{name} already exists and is not suanwang's job "
                f"{job_id}; rename the job or remove the other object"
            )
        return Outcome(kind, name, "adopted")

    def read(self, kind: str, ns: str, name: str) -> dict | None:
        try:
            if kind in CUSTOM:
                group, version, plural = CUSTOM[kind]
                return self._call(
                    f"read {kind} {name}", self.custom.get_namespaced_custom_object, group, version, ns, plural, name
                )
            obj = self._call(f"read {kind} {name}", self._ops(kind, ns)[1], name, ns)
            return k.ApiClient().sanitize_for_serialization(obj)
        except ApiException as e:
            if e.status == 404:
                return None
            raise PermanentError(f"site {self.site}: reading {kind} {name} failed: {e.status} {e.reason}") from e

    def observe(self, kind: str, ns: str, name: str) -> dict | None:
        """The workload as its status should be judged: the object itself, or, through Karmada, the
        object with the status its ResourceBinding aggregated from the member cluster."""
        obj = self.read(kind, ns, name)
        if obj is None or self.karmada_cluster is None:
            return obj
        binding = self.read("ResourceBinding", ns, f"{name}-{kind.lower()}")
        member = next(
            (
                a
                for a in ((binding or {}).get("status") or {}).get("aggregatedStatus") or []
                if a.get("clusterName") == self.karmada_cluster
            ),
            None,
        )
        return {**obj, "status": (member or {}).get("status") or {}}

    def delete(self, kind: str, ns: str, name: str) -> bool:
        """Delete with foreground propagation; ``False`` if it was already gone."""
        body = k.V1DeleteOptions(propagation_policy="Foreground")
        try:
            if kind in CUSTOM:
                group, version, plural = CUSTOM[kind]
                self._call(
                    f"delete {kind} {name}",
                    self.custom.delete_namespaced_custom_object,
                    group,
                    version,
                    ns,
                    plural,
                    name,
                    body=body,
                )
            else:
                self._call(f"delete {kind} {name}", self._ops(kind, ns)[2], name, ns, body=body)
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise PermanentError(f"site {self.site}: deleting {kind} {name} failed: {e.status} {e.reason}") from e


def workload_phase(kind: str, obj: dict | None) -> tuple[str, str]:
    """(phase, reason) from a Job's conditions or a Deployment's availability."""
    if obj is None:
        return "missing", "the workload is not in the cluster"
    st = obj.get("status") or {}
    if kind == "Job":
        for c in st.get("conditions") or []:
            if c.get("status") == "True" and c.get("type") in ("Complete", "SuccessCriteriaMet"):
                return "succeeded", c.get("reason") or "the Job completed"
            if c.get("status") == "True" and c.get("type") in ("Failed", "FailureTarget"):
                return "failed", f"{c.get('reason')}: {c.get('message')}"
        if (st.get("active") or 0) > 0 or (st.get("ready") or 0) > 0:
            return "running", f"{st.get('active') or st.get('ready')} pods active"
        return "submitted", "waiting for pods to start"
    want = (obj.get("spec") or {}).get("replicas") or 1
    have = st.get("availableReplicas") or 0
    if have >= want:
        return "running", f"{have}/{want} replicas available"
    return "submitted", f"{have}/{want} replicas available"
