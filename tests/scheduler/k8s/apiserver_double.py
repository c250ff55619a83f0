"""A test double of the Kubernetes API server: a small local HTTP server that answers the few
endpoints suanwang uses (create, read, delete Jobs, Deployments, Services and Volcano PodGroups in a
namespace). It is not a cluster: it stores objects in memory, validates created objects against
the official schemas (kubernetes-validate), and answers like an API server does — 404 for an
unknown resource or object, 422 for an invalid object, 409 for a duplicate name. Tests can set a
Job's status and take the server "down" (503) to exercise failover."""

from __future__ import annotations

import json
import re
import threading
import time

import jsonschema
import kubernetes_validate

from tests.crds import validate_custom
from tests.jsonhttp import serve_json

RESOURCES = {  # (group/version path, plural) -> kind
    ("apis/batch/v1", "jobs"): "Job",
    ("apis/apps/v1", "deployments"): "Deployment",
    ("api/v1", "services"): "Service",
    ("apis/scheduling.volcano.sh/v1beta1", "podgroups"): "PodGroup",
    ("apis/policy.karmada.io/v1alpha1", "propagationpolicies"): "PropagationPolicy",
    ("apis/work.karmada.io/v1alpha2", "resourcebindings"): "ResourceBinding",
}
CRD_FILES = {  # custom kinds, checked against their real CRDs
    "PodGroup": "volcano/scheduling.volcano.sh_podgroups.yaml",
    "PropagationPolicy": "karmada/policy.karmada.io_propagationpolicies.yaml",
    "ResourceBinding": "karmada/work.karmada.io_resourcebindings.yaml",
}
_PATH = re.compile(
    r"^/(?P<gv>api/v1|apis/[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[a-z]+)(?:/(?P<name>[^/?]+))?"
)
K8S_VERSION = "1.30.0"


def status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class ApiServerDouble:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}  # (plural, namespace, name) -> object
        self.calls: list[tuple[str, str]] = []
        self.down = False
        self.fail_next: list[int] = []  # status codes to answer before behaving normally
        self.deleted: list[tuple[tuple[str, str, str], str | None]] = []
        self.created: list[tuple[str, str, str]] = []  # every object a POST created (201)
        self.post_delay_s = 0.0  # slows creation down, to stop a client half-way
        self.namespaces: set[str] = {"default", "kube-system"}
        self.require_namespaces = False  # as a real server: creating in a missing namespace is 404
        self._lock = threading.Lock()

    # -- control ----------------------------------------------------------------------------------
    def set_job_status(self, ns: str, name: str, **status_fields) -> None:
        with self._lock:
            self.objects[("jobs", ns, name)]["status"] = status_fields

    def set_deployment_available(self, ns: str, name: str, available: int) -> None:
        with self._lock:
            self.objects[("deployments", ns, name)]["status"] = {"availableReplicas": available}

    def names(self, plural: str) -> set[str]:
        return {n for (p, _, n) in self.objects if p == plural}

    # -- HTTP ---------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        self.calls.append((method, path))
        if self.down:
            return 503, status(503, "ServiceUnavailable", "the server is down")
        if self.fail_next:
            code = self.fail_next.pop(0)
            return code, status(code, "InternalError", "injected failure")
        if method == "POST" and self.post_delay_s:
            time.sleep(self.post_delay_s)
        ns_path = re.fullmatch(r"/api/v1/namespaces(?:/(?P<name>[^/]+))?", path)
        if ns_path:
            return self._namespace(method, ns_path["name"], body)
        m = _PATH.match(path)
        if not m or (m["gv"], m["plural"]) not in RESOURCES:
            return 404, status(404, "NotFound", f"the server could not find the requested resource {path}")
        kind = RESOURCES[(m["gv"], m["plural"])]
        key = (m["plural"], m["ns"], m["name"])
        with self._lock:
            if method == "POST" and m["name"] is None:
                obj = json.loads(body or b"{}")
                if obj.get("kind") != kind:
                    return 400, status(400, "BadRequest", f"kind {obj.get('kind')!r} does not match {kind}")
                try:
                    if kind in CRD_FILES:
                        validate_custom(obj, CRD_FILES[kind])
                    else:
                        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
                except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as e:
                    return 422, status(422, "Invalid", f"{kind} is invalid: {e.message}")
                name = obj.get("metadata", {}).get("name")
                if not name:
                    return 422, status(422, "Invalid", "metadata.name: Required value")
                key = (m["plural"], m["ns"], name)
                if self.require_namespaces and m["ns"] not in self.namespaces:
                    return 404, status(404, "NotFound", f'namespaces "{m["ns"]}" not found')
                if key in self.objects:
                    return 409, status(409, "AlreadyExists", f'{m["plural"]} "{name}" already exists')
                obj["metadata"]["namespace"] = m["ns"]
                obj["metadata"]["uid"] = f"uid-{len(self.calls)}"
                self.objects[key] = obj
                self.created.append(key)
                return 201, obj
            if m["name"] is None:
                return 405, status(405, "MethodNotAllowed", "list is not served by this double")
            if key not in self.objects:
                return 404, status(404, "NotFound", f'{m["plural"]} "{m["name"]}" not found')
            if method == "GET":
                return 200, self.objects[key]
            if method == "DELETE":
                opts = json.loads(body or b"{}")
                obj = self.objects.pop(key)
                self.deleted.append((key, opts.get("propagationPolicy")))
                if m["plural"] == "services":  # the API answers a Service delete with the Service
                    return 200, obj
                return 200, status(200, "Success", "deleted") | {"status": "Success"}
        return 405, status(405, "MethodNotAllowed", method)

    def _namespace(self, method: str, name: str | None, body: bytes) -> tuple[int, dict]:
        with self._lock:
            if method == "GET" and name:
                if name not in self.namespaces:
                    return 404, status(404, "NotFound", f'namespaces "{name}" not found')
                return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            if method == "POST" and name is None:
                obj = json.loads(body or b"{}")
                try:
                    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
                except kubernetes_validate.ValidationError as e:
                    return 422, status(422, "Invalid", f"Namespace is invalid: {e.message}")
                new = obj["metadata"]["name"]
                if new in self.namespaces:
                    return 409, status(409, "AlreadyExists", f'namespaces "{new}" already exists')
                self.namespaces.add(new)
                return 201, obj
        return 405, status(405, "MethodNotAllowed", method)

    def __enter__(self) -> ApiServerDouble:
        def answer(method: str, path: str, body: bytes):
            code, reply = self.handle(method, path.split("?")[0], body)
            return code, reply, 0.0

        self.server, self.url = serve_json(answer)
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
