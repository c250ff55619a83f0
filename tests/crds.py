"""Offline checks of custom objects against the real CRDs in shared/data/crds (the notes in its
SOURCE.md): the served version the object's apiVersion names, group and kind checked, the
openAPIV3Schema with jsonschema's Draft 4 validator, Go-style ``^(?i)`` patterns rewritten for
Python's ``re``, and unknown fields refused (Kubernetes would prune or reject them) except where
the schema preserves them and under ``metadata``."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import jsonschema
import yaml

CRDS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crds"


def _strict(node: object, under_metadata: bool = False) -> None:
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and "(?i)" in pattern and not pattern.startswith("(?i)"):
            node["pattern"] = "(?i)" + pattern.replace("(?i)", "")
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
            and not under_metadata
        ):
            node["additionalProperties"] = False
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    _strict(sub, under_metadata=name == "metadata")
            else:
                _strict(value, under_metadata)
    elif isinstance(node, list):
        for item in node:
            _strict(item, under_metadata)


@cache
def _crd(path: str) -> dict:
    return yaml.safe_load((CRDS / path).read_text())


def crd_schema(path: str, version: str) -> dict:
    (found,) = [v for v in _crd(path)["spec"]["versions"] if v["name"] == version and v.get("served")]
    schema = copy.deepcopy(found["schema"]["openAPIV3Schema"])
    _strict(schema)
    return schema


def validate_custom(obj: dict, path: str) -> None:
    """Raise :class:`jsonschema.ValidationError` unless ``obj`` fits the CRD at ``path``."""
    crd = _crd(path)
    group, _, version = obj["apiVersion"].rpartition("/")
    if group != crd["spec"]["group"] or obj["kind"] != crd["spec"]["names"]["kind"]:
        raise jsonschema.ValidationError(f"{obj['apiVersion']} {obj['kind']} is not what {path} defines")
    jsonschema.Draft4Validator(crd_schema(path, version)).validate(obj)
