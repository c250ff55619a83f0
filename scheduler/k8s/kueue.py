"""MultiKueue wiring for sites whose ``kube.backend`` is ``multikueue``: the objects an operator
applies once on the Kueue manager cluster so that a Job sent to the site's LocalQueue runs on
exactly the worker cluster suanwang chose (Kueue's MultiKueue dispatches to any cluster its
MultiKueueConfig lists, so each worker gets a ClusterQueue whose config lists only that worker).

Per site: a MultiKueueCluster (the worker, its kubeconfig in a Secret of Kueue's namespace), a
MultiKueueConfig listing only it, an AdmissionCheck for the MultiKueue controller, a ResourceFlavor
per accelerator model, a ClusterQueue with the site's cards as nominal quota, and the LocalQueue
in the site's namespace that suanwang labels its Jobs with. Kueue API ``v1beta2``.
"""

from __future__ import annotations

from typing import Any

from suanwang.topology.model import Site, Topology

API = "kueue.x-k8s.io/v1beta2"


def _obj(kind: str, name: str, spec: dict, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "suanwang"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": spec}


def site_objects(topology: Topology, site: Site, kubeconfig_secret: str = "{cluster}-kubeconfig") -> list[dict]:
    """The manager-cluster objects that pin ``site``'s LocalQueue to its worker cluster."""
    cluster = site.kube.cluster or site.id
    queue = site.kube.queue or site.id
    base = f"suanwang-{site.id}"
    flavors: dict[str, tuple[str, int]] = {}
    for pool in site.pools:
        name, cards = flavors.get(pool.accelerator, (f"{base}-{pool.accelerator.lower()}", 0))
        flavors[pool.accelerator] = (name, cards + pool.cards)
    resources = sorted({topology.accelerators[m].resource for m in flavors})
    out = [
        _obj(
            "MultiKueueCluster",
            cluster,
            {
                "clusterSource": {
                    "kubeConfig": {"locationType": "Secret", "location": kubeconfig_secret.format(cluster=cluster)}
                }
            },
        ),
        _obj("MultiKueueConfig", base, {"clusters": [cluster]}),
        _obj(
            "AdmissionCheck",
            base,
            {
                "controllerName": "kueue.x-k8s.io/multikueue",
                "parameters": {"apiGroup": "kueue.x-k8s.io", "kind": "MultiKueueConfig", "name": base},
            },
        ),
    ]
    out += [_obj("ResourceFlavor", name, {}) for name, _ in flavors.values()]
    out.append(
        _obj(
            "ClusterQueue",
            base,
            {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": resources,
                        "flavors": [
                            {
                                "name": name,
                                "resources": [
                                    {"name": r, "nominalQuota": cards if topology.accelerators[m].resource == r else 0}
                                    for r in resources
                                ],
                            }
                            for m, (name, cards) in sorted(flavors.items())
                        ],
                    }
                ],
                "admissionChecksStrategy": {"admissionChecks": [{"name": base}]},
            },
        )
    )
    out.append(_obj("LocalQueue", queue, {"clusterQueue": base}, namespace=site.kube.namespace))
    return out


def setup_objects(topology: Topology) -> list[dict]:
    """Every multikueue site's objects, in the order to apply them."""
    return [o for s in topology.sites if s.kube.backend == "multikueue" for o in site_objects(topology, s)]
