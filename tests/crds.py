"""Offline checks of custom objects against the real CRDs in shared/data/crds: the version the
object's apiVersion names, its openAPIV3Schema, with jsonschema (Kubernetes' x- keywords ignored)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

CRDS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crds"


def crd_schema(path: str, version: str) -> dict:
    crd = yaml.safe_load((CRDS / path).read_text())
    (found,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return found["schema"]["openAPIV3Schema"]


def validate_custom(obj: dict, path: str) -> None:
    """Raise :class:`jsonschema.ValidationError` unless ``obj`` fits the CRD at ``path``."""
    jsonschema.validate(obj, crd_schema(path, obj["apiVersion"].split("/")[-1]))
